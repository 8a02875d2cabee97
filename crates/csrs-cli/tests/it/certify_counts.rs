//! `csrs certify-counts`: oracle agreement through the binary, and bad input.

use serde_json::Value;

use crate::util::{csrs, repo_root};

/// Oracle agreement required, as in the statistics crate's tests.
const ORACLE_RELATIVE: f64 = 1e-9;

fn same(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(e)) => {
            let (a, e) = (a.as_f64().unwrap(), e.as_f64().unwrap());
            (a - e).abs() <= ORACLE_RELATIVE * e.abs()
        }
        (Value::Array(a), Value::Array(e)) => a.len() == e.len() && a.iter().zip(e).all(|(a, e)| same(a, e)),
        (Value::Object(a), Value::Object(e)) => {
            a.len() == e.len() && a.iter().all(|(key, a)| e.get(key).is_some_and(|e| same(a, e)))
        }
        _ => actual == expected,
    }
}

#[test]
fn the_binary_reproduces_the_oracle() {
    // The oracle lives with the statistics crate's tests.
    let cases = repo_root().join("crates/csrs-stats/tests/data/certify_cases.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let run = csrs(dir.path(), &["certify-counts", "--input", cases.to_str().unwrap(), "-o", "out.jsonl"], "");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "results go to the --output file");
    let written = std::fs::read_to_string(out).unwrap();
    let mut n = 0;
    for (line, input) in written.lines().zip(std::fs::read_to_string(&cases).unwrap().lines()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let input: Value = serde_json::from_str(input).unwrap();
        assert!(same(&case["result"], &case["expected"]), "line {}: {} vs {}", n + 1, case["result"], case["expected"]);
        // Every input field is kept, in order.
        let keys: Vec<&String> = case.as_object().unwrap().keys().collect();
        let mut input_keys: Vec<&String> = input.as_object().unwrap().keys().collect();
        input_keys.push(keys.last().unwrap());
        assert_eq!(keys, input_keys);
        n += 1;
    }
    assert_eq!(n, 60);
}

#[test]
fn the_readme_example_runs_from_stdin_to_stdout() {
    let example = std::fs::read_to_string(repo_root().join("examples/counts.jsonl")).unwrap();
    let run = csrs(&repo_root(), &["certify-counts"], &example);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let results: Vec<Value> = run.stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(results.len(), example.lines().count());
    let by_id = |id: &str| &results.iter().find(|r| r["id"] == id).unwrap()["result"];
    // Abstains in the standard sense, yet certified never to become a dog.
    let uncertain = by_id("cat-uncertain-dog-rare");
    assert_eq!(uncertain["abstain"], true);
    assert!(uncertain["radius_cs"].as_f64().unwrap() > 0.4);
    // A class that is not a seed is certified in the standard way.
    assert_eq!(by_id("dog-not-a-seed")["certified_cost"], Value::Null);
    // A harmful prediction is never cost-sensitively certified.
    assert_eq!(by_id("cat-read-as-dog")["radius_cs"], Value::Null);
}

const GOOD: &str = r#"{"label": 0, "cost_row": [0, 1, 0], "sigma": 0.5, "alpha": 0.001, "selection_counts": [90, 5, 5], "estimation_counts": [900, 50, 50]}"#;

/// A good line, then `bad`: the error must name line 2, exit with 2, and
/// only the good line must have been written.
fn assert_rejected(bad: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let run = csrs(dir.path(), &["certify-counts"], &format!("{GOOD}\n{bad}\n{GOOD}\n"));
    assert_eq!(run.code, Some(2), "{bad}: {}", run.stderr);
    let expected = format!("csrs: error: <stdin>:2: {message}");
    assert!(run.stderr.starts_with(&expected), "{bad}:\n  got      {:?}\n  expected {expected:?}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {:?}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
    assert_eq!(run.stdout.lines().count(), 1, "only the first line is certified: {}", run.stdout);
    assert!(run.stdout.ends_with('\n'));
}

/// `GOOD` with one key replaced by `value`.
fn with(key: &str, value: &str) -> String {
    let mut case: serde_json::Map<String, Value> = serde_json::from_str(GOOD).unwrap();
    case.insert(key.to_owned(), serde_json::from_str(value).unwrap());
    serde_json::to_string(&case).unwrap()
}

#[test]
fn bad_lines_are_reported_by_number() {
    let cases = [
        (r#"{"label": 0, "#.to_owned(), "invalid JSON: EOF while parsing"),
        ("[1, 2]".to_owned(), "expected a JSON object, got an array"),
        (GOOD.replace(r#""sigma": 0.5, "#, ""), "missing field `sigma`"),
        (
            with("estimation_counts", "[900, 50]"),
            "estimation_counts has 2 entries, expected 3 (the length of cost_row)",
        ),
        (with("selection_counts", "[90, -5, 5]"), "selection_counts[1]: invalid value: integer `-5`, expected u64"),
        (
            with("selection_counts", "[90, 5.5, 5]"),
            "selection_counts[1]: invalid type: floating point `5.5`, expected u64",
        ),
        (with("estimation_counts", "[0, 0, 0]"), "estimation_counts: no samples, expected at least one"),
        (with("sigma", "0"), "sigma is 0, expected a finite number > 0"),
        (with("sigma", "-0.25"), "sigma is -0.25, expected a finite number > 0"),
        (with("sigma", r#""NaN""#), r#"sigma: invalid type: string "NaN", expected f64"#),
        (with("alpha", "1"), "alpha is 1, expected a number in (0, 1)"),
        (with("alpha", "0"), "alpha is 0, expected a number in (0, 1)"),
        (with("label", "3"), "label 3 is out of range, expected a class index below 3"),
        (with("label", "-1"), "label: invalid value: integer `-1`, expected usize"),
        (with("cost_row", "[1, 1, 0]"), "cost_row: diagonal entry [0][0] is 1, expected 0"),
        (with("cost_row", "[0, -1, 0]"), "cost_row: entry [0][1] is -1, expected a cost >= 0"),
        (with("cost_row", r#"[0, "x", 0]"#), r#"cost_row[1]: invalid type: string "x", expected f64"#),
        (with("cost_row", "{}"), "cost_row: invalid type: map, expected a sequence"),
    ];
    for (bad, message) in cases {
        assert_rejected(&bad, message);
    }
}

#[test]
fn a_missing_input_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = csrs(dir.path(), &["certify-counts", "--input", "nowhere.jsonl"], "");
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.starts_with("csrs: error: cannot open nowhere.jsonl: "), "{}", run.stderr);
}

#[test]
fn blank_lines_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let run = csrs(dir.path(), &["certify-counts"], &format!("\n{GOOD}\n\n{}\n", with("alpha", "2")));
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.starts_with("csrs: error: <stdin>:4: alpha is 2"), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1);
}

#[test]
fn refuses_to_overwrite_its_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cases.jsonl"), format!("{GOOD}\n")).unwrap();
    let run = csrs(dir.path(), &["certify-counts", "-i", "cases.jsonl", "-o", "./cases.jsonl"], "");
    assert_eq!(run.code, Some(2));
    assert_eq!(
        run.stderr,
        "csrs: error: the output ./cases.jsonl is the input cases.jsonl (the same file): choose another output\n"
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("cases.jsonl")).unwrap(), format!("{GOOD}\n"));
}

/// A line longer than the 16 MiB limit (here a file without a newline after
/// a good line) is refused by number without being read whole, and the
/// good line is still certified.
#[test]
fn a_line_longer_than_the_limit_is_refused() {
    const LIMIT: usize = 16 << 20;
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("{GOOD}\n").into_bytes();
    text.resize(text.len() + LIMIT + 1, b'x');
    std::fs::write(dir.path().join("long.jsonl"), &text).unwrap();
    let run = csrs(dir.path(), &["certify-counts", "--input", "long.jsonl"], "");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(
        run.stderr,
        format!("csrs: error: long.jsonl:2: longer than {LIMIT} bytes, the limit of a counts line\n")
    );
    assert_eq!(run.stdout.lines().count(), 1);

    // A line of exactly the limit is read (and refused for what it holds).
    text.truncate(text.len() - 1);
    std::fs::write(dir.path().join("long.jsonl"), &text).unwrap();
    let run = csrs(dir.path(), &["certify-counts", "--input", "long.jsonl"], "");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.starts_with("csrs: error: long.jsonl:2: invalid JSON"), "{}", run.stderr);
}

/// More classes than a cost matrix may have is refused by name.
#[test]
fn more_classes_than_the_limit_are_refused() {
    let classes = 25_001;
    let zeros = vec!["0"; classes].join(",");
    let line = format!(
        r#"{{"label": 0, "cost_row": [{zeros}], "sigma": 0.5, "alpha": 0.001, "selection_counts": [{zeros}], "estimation_counts": [{zeros}]}}"#
    );
    assert_rejected(&line, "cost_row has 25001 entries, expected at most 25000 classes");
}
