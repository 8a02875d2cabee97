//! Checkpoint metadata edited by hand or cut short: loading never panics,
//! never allocates for a network the weights do not hold, and every refusal
//! is one line naming the file.

use csrs_artifacts::TrainingFiles;
use csrs_models::{Architecture, Checkpoint};
use proptest::prelude::*;

use crate::{B, saved};

/// A JSON value that could stand where any other stands.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("1e300".to_owned()),
        Just("4000000000".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("null".to_owned()),
        Just("\"mlp\"".to_owned()),
        Just("\"\"".to_owned()),
        Just("[]".to_owned()),
        Just("[3, 100000, 100000]".to_owned()),
        Just("{}".to_owned()),
        (0..20u32).prop_map(|n| n.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn edited_metadata_never_panics(line in 0..60usize, value in value(), cut in 0.0..1.2f64) {
        let dir = tempfile::tempdir().unwrap();
        saved(dir.path(), Architecture::Mlp, [1, 8, 8]);
        let meta_path = TrainingFiles::new(&dir.path().join("model")).metadata();
        let text = std::fs::read_to_string(&meta_path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let target = line % lines.len();
        let replaced: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| match l.split_once(": ") {
                Some((key, rest)) if i == target => {
                    format!("{key}: {value}{}", if rest.ends_with(',') { "," } else { "" })
                }
                _ => (*l).to_owned(),
            })
            .collect();
        let end = ((text.len() as f64 * cut) as usize).min(text.len());
        for candidate in [replaced.join("\n"), text[..end].to_owned()] {
            std::fs::write(&meta_path, &candidate).unwrap();
            if let Err(err) = Checkpoint::<B>::load(&dir.path().join("model"), None, &Default::default()) {
                let message = err.to_string();
                prop_assert!(!message.contains('\n') && message.contains("model."), "{message:?}");
            }
        }
    }
}

/// Metadata that describes an enormous network (an edited input shape or
/// class count): refused by the checksum before any weight is allocated.
#[test]
fn an_enormous_network_in_the_metadata_is_refused_before_it_is_built() {
    let dir = tempfile::tempdir().unwrap();
    saved(dir.path(), Architecture::Mlp, [1, 8, 8]);
    let meta_path = TrainingFiles::new(&dir.path().join("model")).metadata();
    let text = std::fs::read_to_string(&meta_path).unwrap();
    for (key, value) in
        [("input_shape", serde_json::json!([1, 100_000, 100_000])), ("n_classes", 4_000_000_000u64.into())]
    {
        let mut meta: serde_json::Value = serde_json::from_str(&text).unwrap();
        meta["spec"][key] = value;
        if key == "n_classes" {
            meta["class_names"] = serde_json::json!([]);
        }
        std::fs::write(&meta_path, meta.to_string()).unwrap();
        let err = Checkpoint::<B>::load(&dir.path().join("model"), None, &Default::default()).unwrap_err().to_string();
        assert!(err.contains("model."), "{key}: {err}");
    }
}

/// Sizes that could stand in a spec: tiny ones, and ones far beyond any
/// limit (the largest integers, powers of two around the limits).
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        2 => 0..4usize,
        1 => Just(usize::MAX),
        1 => Just(1usize << 63),
        1 => (20..64u32).prop_map(|bits| 1usize << bits),
        1 => (20..64u32).prop_map(|bits| (1usize << bits) + 1),
        1 => Just(csrs_models::MAX_INPUT_ELEMENTS as usize + 1),
        1 => Just(csrs_models::MAX_PARAMETERS as usize),
    ]
}

/// Architectures cheap enough to build in a test when their spec is valid.
fn light_architecture() -> impl Strategy<Value = Architecture> {
    prop_oneof![
        Just(Architecture::Mlp),
        Just(Architecture::Lenet5),
        Just(Architecture::DigitsCnn),
        Just(Architecture::CifarResnet20),
        Just(Architecture::Resnet18),
    ]
}

/// Writes metadata for `spec` beside the saved MLP's weights, with a
/// checksum that matches them: only the spec's own checks stand between it
/// and the network it declares.
fn forge(stem: &std::path::Path, spec: &csrs_models::ModelSpec) {
    let files = TrainingFiles::new(stem);
    let weights = std::fs::read(files.weights()).unwrap();
    let spec_json = serde_json::to_vec(spec).unwrap();
    let checksum = csrs_models::checkpoint::fingerprint(spec_json.iter().chain(&weights));
    let names: Vec<String> = (0..spec.n_classes.min(16)).map(|k| k.to_string()).collect();
    let meta = serde_json::json!({
        "format": 1, "spec": spec, "dataset": "digits", "class_names": names, "training": null, "checksum": checksum,
    });
    std::fs::write(files.metadata(), meta.to_string()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        rng_seed: proptest::test_runner::RngSeed::Fixed(11),
        ..ProptestConfig::default()
    })]

    /// Input shapes and class counts up to 2⁶⁴ − 1, with an intact
    /// checksum: refused with one line, never a panic or an allocation for
    /// the declared network.
    #[test]
    fn forged_sizes_with_a_valid_checksum_are_refused(
        architecture in light_architecture(),
        shape in [size(), size(), size()],
        n_classes in size(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        saved(dir.path(), Architecture::Mlp, [1, 8, 8]);
        let stem = dir.path().join("model");
        let spec = csrs_models::ModelSpec {
            architecture,
            n_classes,
            input_shape: shape,
            mean: vec![0.5; shape[0].min(4)],
            std: vec![0.25; shape[0].min(4)],
            graph: None,
        };
        forge(&stem, &spec);
        let message = Checkpoint::<B>::load(&stem, None, &Default::default()).unwrap_err().to_string();
        prop_assert!(!message.contains('\n') && message.contains("model."), "{message:?}");
        let values = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        if values.is_none_or(|n| n > csrs_models::MAX_INPUT_ELEMENTS) && !shape.contains(&0) {
            prop_assert!(message.contains("the limit of a model"), "{message:?}");
        }
    }
}

/// A checkpoint whose metadata names another network than its weights
/// hold, checksum intact: refused by name instead of panicking in burn.
#[test]
fn weights_of_another_architecture_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (Architecture::Mlp, [1, 8, 8], Architecture::CifarResnet20, [3, 32, 32], "are of mlp, not of cifar-resnet20"),
        (
            Architecture::CifarResnet20,
            [3, 32, 32],
            Architecture::CifarResnet32,
            [3, 32, 32],
            "of cifar-resnet20, not of",
        ),
        (Architecture::DigitsCnn, [1, 8, 8], Architecture::Mlp, [1, 8, 8], "are of digits-cnn, not of mlp"),
    ];
    for (written, written_shape, claimed, claimed_shape, message) in cases {
        saved(dir.path(), written, written_shape);
        let stem = dir.path().join("model");
        let channels = claimed_shape[0];
        let spec = csrs_models::ModelSpec {
            architecture: claimed,
            n_classes: 10,
            input_shape: claimed_shape,
            mean: vec![0.5; channels],
            std: vec![0.25; channels],
            graph: None,
        };
        forge(&stem, &spec);
        let meta_path = TrainingFiles::new(&stem).metadata();
        let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
        meta["class_names"] = serde_json::json!((0..10).map(|k| k.to_string()).collect::<Vec<_>>());
        std::fs::write(&meta_path, meta.to_string()).unwrap();
        let err = Checkpoint::<B>::load(&stem, None, &Default::default()).unwrap_err().to_string();
        assert!(err.contains(message) && err.contains("model.mpk") && !err.contains('\n'), "{err}");
    }
}

/// Each limit of a spec, named in its one-line refusal; the sizes of
/// ImageNet's networks stay within them.
#[test]
fn each_size_limit_of_a_spec_is_named() {
    let spec = |architecture, input_shape: [usize; 3], n_classes| csrs_models::ModelSpec {
        architecture,
        n_classes,
        input_shape,
        mean: vec![0.5; input_shape[0]],
        std: vec![0.25; input_shape[0]],
        graph: None,
    };
    let cases = [
        (spec(Architecture::Mlp, [1, 0, 8], 10), "mlp takes at least 1x1x1 inputs, got 1x0x8"),
        (
            spec(Architecture::Mlp, [1, 1 << 32, 1 << 32], 10),
            "mlp with 1x4294967296x4294967296 inputs and 10 classes has more than 4194304 input values, the limit of a model",
        ),
        (
            spec(Architecture::Mlp, [1, 1, usize::MAX], 10),
            "mlp with 1x1x18446744073709551615 inputs and 10 classes has more than 4194304 input values",
        ),
        (
            spec(Architecture::Mlp, [1, 2048, 2048], 10),
            "mlp with 1x2048x2048 inputs and 10 classes has more than 268435456 parameters, the limit of a model",
        ),
        (
            spec(Architecture::Resnet50, [3, 224, 224], usize::MAX),
            "resnet50 with 3x224x224 inputs and 18446744073709551615 classes has more than 268435456 parameters",
        ),
        (
            spec(Architecture::Resnet50, [3, 1024, 1024], 1000),
            "resnet50 with 3x1024x1024 inputs and 1000 classes has more than 268435456 activation values per input",
        ),
    ];
    for (spec, message) in cases {
        let err = spec.check().unwrap_err().to_string();
        assert!(err.starts_with(message), "{err}");
    }
    spec(Architecture::Resnet50, [3, 224, 224], 21_843).check().unwrap();
    spec(Architecture::Resnet50, [3, 512, 512], 1000).check().unwrap();
}
