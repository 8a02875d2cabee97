//! Every row of the SciPy/statsmodels oracle files (see `tests/data/README.md`).

use csrs_cost::CostRow;
use csrs_stats::{
    Alpha, BinomialSample, ClassCounts, HarmRadius, Smoothing, binomial_test_half, certify, mcnemar_exact, normal_ppf,
};
use serde_json::Value;

use crate::tolerance::assert_close;

fn data(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The rows of a CSV file with a header, as numbers.
fn csv_rows(name: &str, columns: usize) -> Vec<Vec<f64>> {
    let rows: Vec<Vec<f64>> = data(name)
        .lines()
        .skip(1)
        .map(|line| line.split(',').map(|cell| cell.parse().unwrap()).collect::<Vec<f64>>())
        .collect();
    assert!(rows.len() > 20 && rows.iter().all(|row| row.len() == columns), "{name} is not as expected");
    rows
}

#[test]
fn clopper_pearson_bounds() {
    for row in csv_rows("clopper_pearson.csv", 5) {
        let [k, n, alpha, lower, upper] = row[..] else { unreachable!() };
        let sample = BinomialSample::new(k as u64, n as u64).unwrap();
        let alpha = Alpha::new(alpha).unwrap();
        assert_close(sample.lower(alpha), lower, &format!("lower({k}, {n}, {alpha:?})"));
        assert_close(sample.upper(alpha), upper, &format!("upper({k}, {n}, {alpha:?})"));
    }
}

#[test]
fn two_sided_clopper_pearson_intervals() {
    for row in csv_rows("clopper_pearson_two_sided.csv", 5) {
        let [k, n, alpha, low, high] = row[..] else { unreachable!() };
        let (lower, upper) = BinomialSample::new(k as u64, n as u64).unwrap().interval(Alpha::new(alpha).unwrap());
        assert_close(lower, low, &format!("low({k}, {n}, {alpha})"));
        assert_close(upper, high, &format!("high({k}, {n}, {alpha})"));
    }
}

#[test]
fn anytime_valid_bounds() {
    for row in csv_rows("sequential_bounds.csv", 5) {
        let [k, n, alpha, lower, upper] = row[..] else { unreachable!() };
        let sample = BinomialSample::new(k as u64, n as u64).unwrap();
        let alpha = Alpha::new(alpha).unwrap();
        let (ours_lower, ours_upper) = (sample.sequential_lower(alpha), sample.sequential_upper(alpha));
        assert_close(ours_lower, lower, &format!("sequential lower({k}, {n}, {alpha:?})"));
        assert_close(ours_upper, upper, &format!("sequential upper({k}, {n}, {alpha:?})"));
        // Rounding may only widen them.
        assert!(ours_lower <= lower && ours_upper >= upper, "({k}, {n}, {alpha:?}) narrower than the oracle");
    }
}

#[test]
fn normal_quantiles() {
    for row in csv_rows("normal_ppf.csv", 2) {
        assert_close(normal_ppf(row[0]), row[1], &format!("ppf({})", row[0]));
    }
}

#[test]
fn two_sided_binomial_test() {
    for row in csv_rows("binomial_test.csv", 3) {
        let p_value = binomial_test_half(row[0] as u64, row[1] as u64).unwrap();
        assert_close(p_value, row[2], &format!("binomtest({}, {})", row[0], row[1]));
    }
}

#[test]
fn mcnemar_exact_test() {
    for row in csv_rows("mcnemar.csv", 3) {
        let p_value = mcnemar_exact(row[0] as u64, row[1] as u64);
        assert_close(p_value, row[2], &format!("mcnemar({}, {})", row[0], row[1]));
    }
}

fn counts(case: &Value, key: &str) -> ClassCounts {
    let counts = case[key].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
    ClassCounts::new(counts).unwrap()
}

/// An expected radius: `null` (none), `"inf"`, or a number.
fn assert_radius(actual: HarmRadius, expected: &Value, what: &str) {
    match (actual, expected) {
        (HarmRadius::NotCertified, Value::Null) | (HarmRadius::Infinite, Value::String(_)) => {}
        (HarmRadius::Certified(radius), Value::Number(r)) => assert_close(radius.get(), r.as_f64().unwrap(), what),
        _ => panic!("{what}: got {actual:?}, expected {expected}"),
    }
}

#[test]
fn certify_cases() {
    let text = data("certify_cases.jsonl");
    let mut kinds = std::collections::BTreeSet::new();
    for (line, case) in text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()).enumerate() {
        let what = |field: &str| format!("case {}: {field}", line + 1);
        kinds.insert(case["kind"].as_str().unwrap().to_owned());
        let costs: Vec<f64> = case["cost_row"].as_array().unwrap().iter().map(|c| c.as_f64().unwrap()).collect();
        let row = CostRow::new(&costs, case["label"].as_u64().unwrap() as usize).unwrap();
        let cert = certify(
            &counts(&case, "selection_counts"),
            &counts(&case, "estimation_counts"),
            Some(&row),
            Smoothing::gaussian(case["sigma"].as_f64().unwrap()).unwrap(),
            Alpha::new(case["alpha"].as_f64().unwrap()).unwrap(),
        )
        .unwrap();

        let expected = &case["expected"];
        assert_eq!(cert.predicted as u64, expected["predicted"].as_u64().unwrap(), "{}", what("predicted"));
        assert_eq!(cert.abstains(), expected["abstain"].as_bool().unwrap(), "{}", what("abstain"));
        assert_close(cert.p_lower, expected["p_lower"].as_f64().unwrap(), &what("p_lower"));
        let radius_std = cert.standard.radius().map_or(HarmRadius::NotCertified, HarmRadius::Certified);
        assert_radius(radius_std, &expected["radius_std"], &what("radius_std"));
        match (&cert.cost_sensitive, &expected["certified_cost"]) {
            (None, Value::Null) => assert!(expected["radius_cs"].is_null(), "{}", what("radius_cs")),
            (Some(cs), Value::Array(curve)) => {
                let radius_cs = cs.radius();
                assert_radius(radius_cs, &expected["radius_cs"], &what("radius_cs"));
                assert_eq!(cs.levels().len(), curve.len(), "{}", what("levels"));
                for (level, point) in cs.levels().iter().zip(curve) {
                    assert_eq!(level.level, point[0].as_f64().unwrap(), "{}", what("level"));
                    assert_radius(level.radius, &point[1], &what(&format!("r({})", level.level)));
                }
            }
            (actual, expected) => panic!("{}: got {actual:?}, expected {expected}", what("certified_cost")),
        }
    }
    let all_kinds = ["multi", "pair", "real", "seed", "standard"];
    assert_eq!(kinds.iter().map(String::as_str).collect::<Vec<_>>(), all_kinds);
}
