//! Denoisers: DnCNN's layers as Salman et al.'s PyTorch names them, their
//! checkpoints, and a classifier behind a denoiser computing f(D(x)).

use burn::prelude::Backend;
use csrs_models::graph::{Graph, Storage};
use csrs_models::{
    Architecture, Checkpoint, CheckpointMeta, Classifier, Denoiser, DenoiserCheckpoint, DenoiserMeta, DenoiserNet,
    DenoiserSpec, ModelSpec, denoised, denoised_spec,
};

use super::{B, batch, saved, spec};

fn dncnn(input_shape: [usize; 3], depth: usize, width: usize) -> DenoiserSpec {
    DenoiserSpec { input_shape, network: DenoiserNet::Dncnn { depth, width } }
}

#[test]
fn dncnn_has_salman_et_als_tensors_and_keeps_the_image_shape() {
    let spec = dncnn([3, 32, 32], 17, 64);
    let parameters = spec.parameters();
    let named: Vec<(&str, &[usize])> = parameters.iter().map(|p| (p.torch.as_str(), p.shape.as_slice())).collect();
    assert_eq!(named[..2], [("dncnn.0.weight", &[64, 3, 3, 3][..]), ("dncnn.0.bias", &[64][..])]);
    assert_eq!(named[2], ("dncnn.2.weight", &[64, 64, 3, 3][..]));
    assert_eq!(
        named[3..7].iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        ["dncnn.3.weight", "dncnn.3.bias", "dncnn.3.running_mean", "dncnn.3.running_var"]
    );
    assert_eq!(*named.last().unwrap(), ("dncnn.47.weight", &[3, 64, 3, 3][..]));
    assert_eq!(parameters.len(), 2 + 15 * 5 + 1);
    assert!(parameters.iter().all(|p| p.storage == Storage::Flat));
    assert_eq!(spec.graph().nodes.last().unwrap().shape, [3, 32, 32]);

    let device = Default::default();
    let denoised = Denoiser::<B>::init(&dncnn([1, 8, 8], 4, 8), &device).unwrap().forward(batch([1, 8, 8], 3));
    assert_eq!(denoised.dims(), [3, 1, 8, 8]);
}

#[test]
fn denoiser_specs_are_checked() {
    let err = |spec: DenoiserSpec| Denoiser::<B>::init(&spec, &Default::default()).unwrap_err().to_string();
    assert_eq!(err(dncnn([1, 8, 8], 1, 8)), "a denoiser: dncnn depth 1, expected 2 to 1000 convolutions");
    assert_eq!(err(dncnn([1, 8, 8], 3, 0)), "a denoiser: dncnn width 0, expected 1 to 4096 channels");
    assert_eq!(err(dncnn([1, 0, 8], 3, 8)), "a denoiser: input shape [1, 0, 8], expected 1 to 4194304 values");
    // A classifier's graph is not a denoiser's.
    let logits = Graph::of(&spec(Architecture::DigitsCnn, [1, 8, 8], 10));
    let imported = DenoiserSpec { input_shape: [1, 8, 8], network: DenoiserNet::Imported { graph: logits } };
    assert!(err(imported).contains("expected an image of the input's shape [1, 8, 8]"));
}

#[test]
fn denoiser_checkpoints_round_trip_and_are_told_from_classifiers() {
    let dir = tempfile::tempdir().unwrap();
    let device = Default::default();
    let spec = dncnn([1, 8, 8], 4, 8);
    let original = DenoiserCheckpoint {
        meta: DenoiserMeta::new(spec.clone(), "digits"),
        model: Denoiser::<B>::init(&spec, &device).unwrap(),
    };
    let stem = dir.path().join("denoiser");
    original.save(&stem).unwrap();
    let loaded = DenoiserCheckpoint::<B>::load(&stem, &device).unwrap();
    assert_eq!(DenoiserMeta { checksum: String::new(), ..loaded.meta.clone() }, original.meta);
    let (a, b) = (original.model.forward(batch([1, 8, 8], 2)), loaded.model.forward(batch([1, 8, 8], 2)));
    assert_eq!(a.into_data(), b.into_data());

    let err = Checkpoint::<B>::load(&stem, None, &device).unwrap_err().to_string();
    assert!(err.ends_with("denoiser.json: a denoiser's checkpoint (give it as the denoiser)"), "{err}");
    saved(dir.path(), Architecture::DigitsCnn, [1, 8, 8]);
    let err = DenoiserCheckpoint::<B>::load(&dir.path().join("model"), &device).unwrap_err().to_string();
    assert!(err.ends_with("model.json: a classifier's checkpoint, not a denoiser's"), "{err}");
    assert!(CheckpointMeta::read(&dir.path().join("model")).is_ok());
}

fn assert_close(a: Vec<f32>, b: Vec<f32>, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs() / y.abs().max(1.0)).fold(0.0, f32::max);
    assert!(worst < 1e-5, "{what}: differs by {worst}");
}

/// The joined network computes f(D(x)), for a classifier of csrs's own
/// (with a normalisation) and one read as a graph (without).
#[test]
fn a_denoised_classifier_is_the_classifier_of_the_denoisers_output() {
    let device = Default::default();
    B::seed(&device, 3);
    let denoiser_spec = dncnn([1, 8, 8], 4, 8);
    let denoiser = Denoiser::<B>::init(&denoiser_spec, &device).unwrap();
    let own = spec(Architecture::DigitsCnn, [1, 8, 8], 10);
    let graph = ModelSpec {
        architecture: Architecture::Imported,
        mean: vec![0.0],
        std: vec![1.0],
        graph: Some(Graph::of(&own)),
        ..own.clone()
    };
    for classifier_spec in [own, graph] {
        let classifier = Classifier::<B>::init(&classifier_spec, &device).unwrap();
        let (spec, joined) = denoised((&denoiser, &denoiser_spec), (&classifier, &classifier_spec), &device).unwrap();
        assert_eq!(spec.n_classes, 10);
        let x = batch([1, 8, 8], 5);
        let expected = classifier.forward(denoiser.forward(x.clone())).into_data().to_vec::<f32>().unwrap();
        let found = joined.forward(x).into_data().to_vec::<f32>().unwrap();
        assert_close(found, expected, classifier_spec.architecture.as_str());
    }
}

#[test]
fn a_denoiser_must_make_the_classifiers_input() {
    let classifier = spec(Architecture::DigitsCnn, [1, 8, 8], 10);
    let err = denoised_spec(&dncnn([3, 8, 8], 3, 4), &classifier).unwrap_err().to_string();
    assert_eq!(err, "the denoiser makes [3, 8, 8] images, the classifier takes [1, 8, 8]");
}

/// Salman et al.'s DnCNN as their training script saves it (a PyTorch zip
/// checkpoint, `state_dict` beside `arch` and `optimizer`): csrs reads its
/// depth and width off the tensors and makes PyTorch's images of four
/// inputs, batch norm's statistics included.
#[test]
fn a_pytorch_dncnn_gives_pytorchs_images() {
    use csrs_models::interop::{StateDict, import_denoiser};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pytorch");
    let state = StateDict::read(&dir.join("dncnn_salman_format.pth.tar")).unwrap();
    let (spec, denoiser) = import_denoiser::<B>(&state, [1, 8, 8], &Default::default()).unwrap();
    assert_eq!(spec.network, DenoiserNet::Dncnn { depth: 4, width: 8 });
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("dncnn_expected.json")).unwrap()).unwrap();
    let floats = |key: &str| -> Vec<f32> {
        expected[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
    };
    let inputs = burn::tensor::Tensor::<B, 1>::from_floats(floats("inputs").as_slice(), &Default::default());
    let found = denoiser.forward(inputs.reshape([4, 1, 8, 8])).into_data().to_vec::<f32>().unwrap();
    assert_close(found, floats("outputs"), "the PyTorch DnCNN");

    // A classifier's state dict is not a DnCNN.
    let resnet = StateDict::read(&dir.join("cifar_resnet20_macer_format.pth")).unwrap();
    let err = import_denoiser::<B>(&resnet, [3, 32, 32], &Default::default()).unwrap_err().to_string();
    assert!(err.contains("unknown layout: no tensor dncnn.0.weight"), "{err}");
}
