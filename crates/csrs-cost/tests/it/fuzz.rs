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

/// Class counts far beyond memory: powers of two around the limit and the
/// largest integers a file can write.
fn huge_count() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(u64::MAX),
        Just(i64::MAX as u64),
        Just(usize::MAX as u64),
        Just(1 << 32),
        Just(1_000_000),
        (17..64u32).prop_map(|bits| 1u64 << bits),
        (17..64u32).prop_map(|bits| (1u64 << bits) - 1),
        (csrs_cost::MAX_CLASSES as u64 + 1)..(csrs_cost::MAX_CLASSES as u64 * 4),
    ]
}

/// A refusal that names the class limit, on one line.
fn refused_by_the_limit(result: csrs_cost::Result<CostMatrix>) -> Result<(), TestCaseError> {
    let message = result.expect_err("more classes than the limit must be refused").to_string();
    prop_assert!(!message.contains('\n'), "{message:?}");
    prop_assert!(message.contains(&csrs_cost::MAX_CLASSES.to_string()), "{message:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        rng_seed: proptest::test_runner::RngSeed::Fixed(7),
        ..ProptestConfig::default()
    })]

    /// Every TOML kind, with the count in the file or from the caller, is
    /// refused before its matrix is allocated.
    #[test]
    fn huge_class_counts_are_refused_before_allocation(count in huge_count(), kind in 0..4usize) {
        let in_file = i64::try_from(count).ok().map(|n| format!("n_classes = {n}\n")).unwrap_or_default();
        let body = [
            "kind = \"standard\"",
            "kind = \"seedwise\"\nseeds = [0]",
            "kind = \"pairwise\"\npairs = [[0, 1]]",
            "kind = \"matrix\"\nrows = [[0, 1], [1, 0]]",
        ][kind];
        if !in_file.is_empty() {
            refused_by_the_limit(CostMatrix::from_toml_str(&format!("{body}\n{in_file}"), None))?;
        }
        if let Ok(count) = usize::try_from(count) {
            refused_by_the_limit(CostMatrix::from_toml_str(body, Some(count)))?;
            refused_by_the_limit(CostMatrix::standard(count))?;
            refused_by_the_limit(CostMatrix::seedwise(count, &[0]))?;
            refused_by_the_limit(CostMatrix::pairwise(count, &[(0, 1)]))?;
        }
    }

    /// A CSV header (with or without its corner cell) or a row wider than
    /// the limit is refused, whatever the caller expects.
    #[test]
    fn csv_wider_than_the_limit_is_refused(
        extra in 2..64usize,
        labelled in any::<bool>(),
        classes in prop::option::of(2..4usize),
    ) {
        let width = csrs_cost::MAX_CLASSES + extra;
        let header: Vec<String> = (0..width).map(|k| format!("c{k}")).collect();
        let corner = if labelled { "," } else { "" };
        let text = format!("{corner}{}\n0,1\n1,0\n", header.join(","));
        refused_by_the_limit(CostMatrix::from_csv_str(&text, classes))?;
        let row = vec!["0"; width].join(",");
        refused_by_the_limit(CostMatrix::from_csv_str(&format!("{row}\n"), classes))?;
    }
}
