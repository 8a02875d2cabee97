//! Loading cost files: the shipped examples, and every way a file can be wrong.

mod fuzz;

use std::path::PathBuf;

use csrs_cost::{CostError, CostMatrix};

fn configs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/costs")
}

fn load_example(name: &str) -> CostMatrix {
    CostMatrix::load(configs_dir().join(name), None).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The error message of a TOML text that must be rejected.
fn toml_error(text: &str, expected_classes: Option<usize>) -> String {
    CostMatrix::from_toml_str(text, expected_classes).expect_err("should be rejected").to_string()
}

#[test]
fn every_shipped_cost_file_loads() {
    let mut count = 0;
    for entry in std::fs::read_dir(configs_dir()).unwrap() {
        let path = entry.unwrap().path();
        let matrix = CostMatrix::load(&path, None).unwrap_or_else(|err| panic!("{err}"));
        assert!(!matrix.seeds().is_empty(), "{} has no seed class", path.display());
        count += 1;
    }
    assert!(count >= 6, "expected the example cost files, found {count}");
}

#[test]
fn examples_mean_what_their_names_say() {
    let cat = load_example("cifar10-seed-cat.toml");
    assert_eq!(cat.seeds(), vec![3]);
    assert_eq!(cat.class_label(3), "cat");
    assert_eq!(cat.sensitive_set(3), vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);

    assert_eq!(
        load_example("cifar10-cat-to-dog.toml"),
        CostMatrix::pairwise(10, &[(3, 5)]).unwrap().with_names(cat.names().unwrap().to_vec()).unwrap()
    );
    let animals = load_example("cifar10-cat-to-animals.toml");
    assert_eq!(animals, CostMatrix::pairwise(10, &[(3, 2), (3, 4), (3, 5)]).unwrap());

    let digits = load_example("digits-3-to-8.toml");
    assert_eq!(digits.seeds(), vec![3, 8]);
    assert_eq!(digits.sensitive_set(8), vec![3]);
    assert_eq!(load_example("digits-standard.toml"), CostMatrix::standard(10).unwrap());

    let ham = load_example("ham10000-medical.toml");
    assert!(!ham.is_binary());
    let mel = ham.class_index("mel").unwrap();
    assert_eq!(ham.cost_levels(mel), vec![1.0, 5.0]);
    assert_eq!(ham.sensitive_set_above(mel, 1.0), vec![2, 3, 5, 6]);

    let breast = load_example("breast-cancer.csv");
    assert_eq!(breast.names().unwrap(), ["malignant", "benign"]);
    assert_eq!(breast.get(0, 1), 10.0);
}

#[test]
fn csv_without_names_and_with_row_labels_only() {
    let plain = CostMatrix::from_csv_str("0,1,2\n1,0,0\n\n# comment\n0,0,0\n", None).unwrap();
    assert_eq!(plain.names(), None);
    assert_eq!(plain.cost_levels(0), vec![1.0, 2.0]);
    let labelled = CostMatrix::from_csv_str("a,0,1\nb,3,0\n", None).unwrap();
    assert_eq!(labelled.names().unwrap(), ["a", "b"]);
    assert_eq!(labelled.get(1, 0), 3.0);
    let header_only = CostMatrix::from_csv_str("a,b\n0,1\n3,0\n", Some(2)).unwrap();
    assert_eq!(header_only, labelled);
}

#[test]
fn csv_errors_name_the_line() {
    let cases = [
        ("0,1\n1,x\n", None, "line 2: column 2 is \"x\", expected a number"),
        ("0,1,0\n1,0\n0,0,0\n", None, "row 1 has 2 entries, expected 3"),
        ("0,-1\n1,0\n", None, "entry [0][1] is -1, expected a cost >= 0"),
        ("1,1\n1,0\n", None, "diagonal entry [0][0] is 1, expected 0"),
        ("0,1\n1,0\n", Some(10), "the file describes 2 classes, expected 10"),
        ("a,0,1\n1,0\n", None, "line 2: has no class name"),
        (",a,b\na,0,1\nc,1,0\n", None, "line 3: row name \"c\" differs from the header's \"b\""),
        ("0,1\n1,NaN\n", None, "entry [1][1] is NaN"),
    ];
    for (text, expected, message) in cases {
        let err = CostMatrix::from_csv_str(text, expected).unwrap_err().to_string();
        assert!(err.contains(message), "{text:?}: {err:?} should contain {message:?}");
    }
}

#[test]
fn toml_errors_name_the_key() {
    let cases = [
        ("kind = \"seedwise\"\nseeds = [3]", None, "the number of classes is unknown"),
        ("kind = \"seedwise\"\nn_classes = 10\nseeds = [10]", None, "key `seeds[0]`: class 10 is out of range"),
        ("kind = \"seedwise\"\nn_classes = 10\nseeds = [-1]", None, "key `seeds[0]`: expected a class index >= 0"),
        (
            "kind = \"seedwise\"\nclasses = [\"a\", \"b\"]\nseeds = [\"c\"]",
            None,
            "key `seeds[0]`: unknown class \"c\", expected one of a, b",
        ),
        ("kind = \"seedwise\"\nn_classes = 3\nseeds = [\"c\"]", None, "no class names are given"),
        ("kind = \"pairwise\"\nn_classes = 3\npairs = [[1, 1]]", None, "key `pairs`: pair 1 -> 1 is on the diagonal"),
        ("kind = \"pairwise\"\nn_classes = 3\npairs = [[1, 2, 0]]", None, "key `pairs[0]`: expected a pair [from, to]"),
        ("kind = \"matrix\"\nrows = [[0, 1], [1]]", None, "key `rows`: row 1 has 1 entries, expected 2"),
        ("kind = \"matrix\"\nrows = [[0, 1], [\"x\", 0]]", None, "key `rows[1][0]`: expected a number"),
        ("kind = \"matrix\"\nrows = [[0, 1], [1, 0]]", Some(3), "key `rows`: the file describes 2 classes, expected 3"),
        ("kind = \"matrix\"\nrows = [[0, 1], [1, 0.5]]", None, "diagonal entry [1][1] is 0.5"),
        (
            "kind = \"standard\"\nclasses = [\"a\", \"b\"]\nn_classes = 3",
            None,
            "key `n_classes`: the file describes 2 classes, expected 3",
        ),
        ("kind = \"standard\"\nn_classes = 4", Some(10), "the file describes 4 classes, expected 10"),
        ("kind = \"standard\"\nclasses = [\"a\", \"a\"]", None, "key `classes`: class name \"a\" appears twice"),
        ("kind = \"standard\"\nn_classes = 1", None, "at least 2 classes"),
        ("kind = \"diagonal\"\nn_classes = 2", None, "key `kind`: unknown kind \"diagonal\""),
        ("n_classes = 2", None, "key `kind`: missing"),
        ("kind = \"standard\"\nn_classes = 2\nseed = [1]", None, "key `seed`: unknown key"),
        ("kind = \"standard\"\nn_classes = = 2", None, "line 2: invalid TOML"),
    ];
    for (text, expected, message) in cases {
        let err = toml_error(text, expected);
        assert!(err.contains(message), "{text:?}: {err:?} should contain {message:?}");
        assert!(!err.contains('\n'), "error should be one line: {err:?}");
    }
}

#[test]
fn the_caller_can_supply_the_class_count() {
    let matrix = CostMatrix::from_toml_str("kind = \"seedwise\"\nseeds = [3]", Some(10)).unwrap();
    assert_eq!(matrix, CostMatrix::seedwise(10, &[3]).unwrap());
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "kind = \"seedwise\"\nn_classes = 2\nseeds = [5]\n").unwrap();
    let err = CostMatrix::load(&bad, None).unwrap_err();
    assert!(matches!(err, CostError::File { .. }));
    assert!(err.to_string().starts_with(&format!("{}: key `seeds[0]`", bad.display())), "{err}");

    let missing = CostMatrix::load(dir.path().join("missing.toml"), None).unwrap_err().to_string();
    assert!(missing.contains("missing.toml: cannot read the file"), "{missing}");

    let other = dir.path().join("costs.json");
    std::fs::write(&other, "{}").unwrap();
    let unknown = CostMatrix::load(&other, None).unwrap_err().to_string();
    assert!(unknown.ends_with("unknown file type, expected a .toml or .csv file"), "{unknown}");
}

/// Spreadsheets save CSV with a UTF-8 byte-order mark, and some editors
/// TOML too.
#[test]
fn a_byte_order_mark_is_accepted() {
    let csv = "\u{feff},malignant,benign\nmalignant,0,10\nbenign,1,0\n";
    let matrix = CostMatrix::from_csv_str(csv, Some(2)).unwrap();
    assert_eq!(matrix.names().unwrap(), ["malignant", "benign"]);
    assert_eq!(matrix.get(0, 1), 10.0);
    // Without a corner cell, the mark would otherwise be part of a name
    // or of a number.
    let named = CostMatrix::from_csv_str("\u{feff}malignant,benign\n0,10\n1,0\n", None).unwrap();
    assert_eq!(named.names().unwrap(), ["malignant", "benign"]);
    let bare = CostMatrix::from_csv_str("\u{feff}0,10\n1,0\n", None).unwrap();
    assert_eq!((bare.get(0, 1), bare.names()), (10.0, None));
    let toml = "\u{feff}kind = \"seedwise\"\nn_classes = 3\nseeds = [1]\n";
    assert_eq!(CostMatrix::from_toml_str(toml, None).unwrap().seeds(), vec![1]);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bom.csv");
    std::fs::write(&path, "\u{feff}0,10\n1,0\n").unwrap();
    assert_eq!(CostMatrix::load(&path, None).unwrap().get(0, 1), 10.0);
}

#[test]
fn class_counts_beyond_the_limit_are_refused_by_name() {
    let limit = csrs_cost::MAX_CLASSES;
    let err = toml_error(&format!("kind = \"standard\"\nn_classes = {}\n", limit + 1), None);
    assert_eq!(
        err,
        format!("key `n_classes`: {} classes, expected at most {limit} (the limit of a cost matrix)", limit + 1)
    );
    assert!(CostMatrix::seedwise(1000, &[3]).is_ok(), "ImageNet's 1000 classes");

    let names: Vec<String> = (0..=limit).map(|k| format!("\"c{k}\"")).collect();
    let err = toml_error(&format!("kind = \"standard\"\nclasses = [{}]\n", names.join(", ")), None);
    assert_eq!(
        err,
        format!("key `classes`: {} classes, expected at most {limit} (the limit of a cost matrix)", limit + 1)
    );
    let rows = "0,1\n".repeat(limit + 1);
    let err = CostMatrix::from_csv_str(&rows, None).unwrap_err().to_string();
    assert_eq!(err, format!("line {}: more than {limit} rows, the limit of a cost matrix's classes", limit + 1));
}
