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
