//! Building every architecture, and checkpoint round trips and failures.

mod denoiser;
mod fuzz;
mod graph;
mod interop;
mod precision;
mod training;

use std::path::Path;

use burn::backend::Flex;
use burn::prelude::*;
use csrs_artifacts::TrainingFiles;
use csrs_models::{Architecture, Checkpoint, CheckpointMeta, Classifier, ModelError, ModelSpec};

pub(crate) type B = Flex;

fn spec(architecture: Architecture, input_shape: [usize; 3], n_classes: usize) -> ModelSpec {
    let channels = input_shape[0];
    ModelSpec {
        architecture,
        n_classes,
        input_shape,
        mean: vec![0.5; channels],
        std: vec![0.25; channels],
        graph: None,
    }
}

fn batch(shape: [usize; 3], n: usize) -> Tensor<B, 4> {
    let [c, h, w] = shape;
    let values: Vec<f32> = (0..n * c * h * w).map(|i| (i % 17) as f32 / 17.0).collect();
    Tensor::<B, 1>::from_floats(values.as_slice(), &Default::default()).reshape([n, c, h, w])
}

#[test]
fn every_architecture_maps_its_input_to_logits() {
    let cases = [
        (Architecture::Mlp, [1, 8, 8], 10),
        (Architecture::Lenet5, [1, 28, 28], 10),
        (Architecture::Lenet5, [3, 32, 32], 4),
        (Architecture::DigitsCnn, [1, 8, 8], 10),
        (Architecture::CifarResnet20, [3, 32, 32], 10),
        (Architecture::CifarResnet32, [3, 32, 32], 10),
        (Architecture::CifarResnet44, [3, 32, 32], 10),
        (Architecture::CifarResnet56, [3, 32, 32], 10),
        (Architecture::CifarResnet110, [3, 32, 32], 10),
        (Architecture::Resnet18, [3, 224, 224], 7),
        (Architecture::Resnet50, [3, 224, 224], 5),
    ];
    let device = Default::default();
    for (architecture, shape, m) in cases {
        let model = Classifier::<B>::init(&spec(architecture, shape, m), &device).unwrap();
        let logits = model.forward(batch(shape, 2));
        assert_eq!(logits.dims(), [2, m], "{architecture}");
        let values = logits.into_data().to_vec::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{architecture}");
    }
}

#[test]
fn specs_are_checked() {
    let device = Default::default();
    let err = |spec: ModelSpec| Classifier::<B>::init(&spec, &device).unwrap_err().to_string();
    assert_eq!(err(spec(Architecture::DigitsCnn, [1, 28, 28], 10)), "digits-cnn takes 8x8 inputs, got 1x28x28");
    assert_eq!(err(spec(Architecture::Lenet5, [1, 8, 8], 10)), "lenet5 takes 28x28 or 32x32 inputs, got 1x8x8");
    assert_eq!(err(spec(Architecture::Mlp, [1, 8, 8], 1)), "a classifier needs at least 2 classes, got 1");
    let mut bad_std = spec(Architecture::Mlp, [3, 4, 4], 2);
    bad_std.std[1] = 0.0;
    assert_eq!(err(bad_std), "normalisation std 0, expected a finite number > 0");
    let mut short_mean = spec(Architecture::Mlp, [3, 4, 4], 2);
    short_mean.mean.pop();
    assert!(err(short_mean).starts_with("normalisation has 2 means and 3 stds, expected 3"));
    assert!("resnet9000".parse::<Architecture>().unwrap_err().to_string().starts_with("unknown architecture"));
    for name in Architecture::NAMES {
        assert_eq!(name.parse::<Architecture>().unwrap().as_str(), name);
    }
}

pub(crate) fn saved(dir: &Path, architecture: Architecture, shape: [usize; 3]) -> Checkpoint<B> {
    let device = Default::default();
    B::seed(&device, 7);
    let model = Classifier::<B>::init(&spec(architecture, shape, 10), &device).unwrap();
    let names = (0..10).map(|k| k.to_string()).collect();
    let checkpoint = Checkpoint { meta: CheckpointMeta::new(spec(architecture, shape, 10), "digits", names), model };
    checkpoint.save(&dir.join("model")).unwrap();
    checkpoint
}

#[test]
fn checkpoints_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for (architecture, shape) in [(Architecture::DigitsCnn, [1, 8, 8]), (Architecture::CifarResnet20, [3, 32, 32])] {
        let original = saved(dir.path(), architecture, shape);
        for path in ["model", "model.json", "model.mpk"] {
            let loaded = Checkpoint::<B>::load(&dir.path().join(path), Some(10), &Default::default()).unwrap();
            assert_eq!(CheckpointMeta { checksum: String::new(), ..loaded.meta.clone() }, original.meta);
            let (a, b) = (original.model.forward(batch(shape, 3)), loaded.model.forward(batch(shape, 3)));
            assert_eq!(a.into_data(), b.into_data(), "{architecture}");
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "only model.json and model.mpk: {leftovers:?}");
}

fn load_error(path: &Path, expected_classes: Option<usize>) -> String {
    Checkpoint::<B>::load(path, expected_classes, &Default::default()).unwrap_err().to_string()
}

#[test]
fn bad_checkpoints_are_rejected_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("model");
    let files = TrainingFiles::new(&stem);
    let (meta_path, weights_path) = (files.metadata(), files.weights());
    saved(dir.path(), Architecture::DigitsCnn, [1, 8, 8]);
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    let weights = std::fs::read(&weights_path).unwrap();

    let err = load_error(&stem, Some(7));
    assert!(err.ends_with("model.json has 10 classes, expected 7"), "{err}");

    std::fs::write(&weights_path, &weights[..weights.len() / 2]).unwrap();
    let err = load_error(&stem, None);
    assert!(err.contains("model.mpk: does not match"), "{err}");
    assert!(err.ends_with("(truncated, from another checkpoint, or the metadata was edited)"), "{err}");

    // Metadata naming another architecture, or another class count: burn
    // would panic loading these weights; the checksum stops it first.
    std::fs::write(&weights_path, &weights).unwrap();
    for edited in [meta.replace("\"digits-cnn\"", "\"mlp\""), meta.replace("\"n_classes\": 10", "\"n_classes\": 3")] {
        assert_ne!(edited, meta);
        std::fs::write(&meta_path, &edited).unwrap();
        let err = load_error(&stem, None);
        assert!(err.contains("does not match") || err.contains("class names"), "{err}");
    }

    // Weights of another checkpoint.
    let other = tempfile::tempdir().unwrap();
    saved(other.path(), Architecture::Mlp, [1, 8, 8]);
    std::fs::write(&meta_path, &meta).unwrap();
    std::fs::copy(TrainingFiles::new(&other.path().join("model")).weights(), &weights_path).unwrap();
    assert!(load_error(&stem, None).contains("model.mpk: does not match"));

    std::fs::write(&meta_path, "{\"format\": 1}").unwrap();
    let err = load_error(&stem, None);
    assert!(err.starts_with("checkpoint metadata ") && err.contains("missing field"), "{err}");

    std::fs::remove_file(&meta_path).unwrap();
    assert!(matches!(Checkpoint::<B>::load(&stem, None, &Default::default()), Err(ModelError::Io { .. })));
}
