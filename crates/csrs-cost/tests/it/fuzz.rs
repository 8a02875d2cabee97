//! The cost-file readers on arbitrary and mutated input: never a panic,
//! and every refusal is one line.

use std::path::PathBuf;

use csrs_cost::CostMatrix;
use proptest::prelude::*;

fn shipped(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/costs").join(name);
    std::fs::read_to_string(path).unwrap()
}

/// Edits applied to a valid file: (position as a fraction of its length,
/// what happens there).
fn edits() -> impl Strategy<Value = Vec<(f64, Edit)>> {
    prop::collection::vec((0.0..1.0f64, edit()), 1..6)
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Insert(String),
    Duplicate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (1..20usize).prop_map(Edit::Delete),
        "[\\[\\]{}\",=#\n\t 0-9a-z.\\-+eE]{1,8}".prop_map(Edit::Insert),
        (1..40usize).prop_map(Edit::Duplicate),
    ]
}

fn mutate(text: &str, edits: &[(f64, Edit)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (at, edit) in edits {
        let at = ((bytes.len() as f64) * at) as usize;
        match edit {
            Edit::Delete(n) => {
                bytes.drain(at..(at + n).min(bytes.len()));
            }
            Edit::Insert(s) => {
                bytes.splice(at..at, s.bytes());
            }
            Edit::Duplicate(n) => {
                let copy = bytes[at..(at + n).min(bytes.len())].to_vec();
                bytes.splice(at..at, copy);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn one_line_or_ok(result: csrs_cost::Result<CostMatrix>) -> Result<(), TestCaseError> {
    if let Err(err) = result {
        let message = err.to_string();
        prop_assert!(!message.is_empty() && !message.contains('\n'), "{message:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}", classes in prop::option::of(0..12usize)) {
        one_line_or_ok(CostMatrix::from_toml_str(&text, classes))?;
        one_line_or_ok(CostMatrix::from_csv_str(&text, classes))?;
    }

    #[test]
    fn mutated_shipped_files_never_panic(edits in edits(), which in 0..4usize, classes in prop::option::of(0..12usize)) {
        let toml = ["digits-3-to-8.toml", "digits-seed-3.toml", "cifar10-cat-to-animals.toml", "ham10000-medical.toml"];
        one_line_or_ok(CostMatrix::from_toml_str(&mutate(&shipped(toml[which]), &edits), classes))?;
        one_line_or_ok(CostMatrix::from_csv_str(&mutate(&shipped("breast-cancer.csv"), &edits), classes))?;
    }
}
