//! A `--target-radius` run's metrics away from its radius are bounds:
//! marked in markdown, left out of TSV and JSON and of comparisons, with
//! the inputs that ran out of draws counted.

use csrs_artifacts::Keys;
use csrs_records::{CertifyRow, Decision};
use csrs_report::{Run, TableFormat, compare, comparison_table, table};
use csrs_stats::{Certificate, ClassCounts, Radius, StandardCertificate};

/// Ten examples of class 0, certified to radius 0.6, the last three out of
/// draws when `target_radius` is given.
fn run(name: &str, target_radius: Option<f64>) -> Run {
    let counts = ClassCounts::new(vec![90, 10]).unwrap();
    let rows = (0..10)
        .map(|i| {
            let standard = StandardCertificate::Certified(Radius::new(0.6).unwrap());
            let certificate = Certificate { predicted: 0, p_lower: 0.9, standard, cost_sensitive: None };
            let row = CertifyRow::new(i, 0, None, certificate, &counts, 0.0);
            match target_radius {
                Some(_) if i >= 7 => row.decided(Decision::OutOfDraws),
                Some(_) => row.decided(Decision::Decided),
                None => row,
            }
        })
        .collect();
    Run { records: format!("{name}.tsv"), label: name.to_owned(), rows, target_radius }
}

/// The cells of the one run of a TSV table, by column.
fn cells(tsv: &str) -> std::collections::HashMap<String, String> {
    let mut lines = tsv.lines();
    let header = lines.next().unwrap().split('\t').map(str::to_owned);
    header.zip(lines.next().unwrap().split('\t').map(str::to_owned)).collect()
}

#[test]
fn metrics_away_from_the_target_radius_are_not_given_as_metrics() {
    let target = run("t", Some(0.5));
    let tsv = cells(&table(std::slice::from_ref(&target), &[0.25, 0.5], TableFormat::Tsv, false, &Keys).unwrap());
    assert_eq!(tsv["certified_accuracy@0.5"], "1.0000");
    for column in ["certified_accuracy@0.25", "certified_accuracy@0.25_low", "clean_accuracy", "acr"] {
        assert_eq!(tsv[column], "", "{column}");
    }
    assert_eq!((tsv["target_radius"].as_str(), tsv["out_of_draws"].as_str()), ("0.5", "3"));
    let json: serde_json::Value = serde_json::from_str(
        &table(std::slice::from_ref(&target), &[0.25, 0.5], TableFormat::Jsonl, false, &Keys).unwrap(),
    )
    .unwrap();
    assert_eq!(json["certified_accuracy@0.25"], serde_json::Value::Null);
    assert_eq!(json["certified_accuracy@0.5"], 1.0);
    assert_eq!((json["target_radius"].as_f64(), json["out_of_draws"].as_u64()), (Some(0.5), Some(3)));

    let fixed = run("f", None);
    let markdown = table(&[fixed.clone(), target.clone()], &[0.25, 0.5], TableFormat::Markdown, false, &Keys).unwrap();
    let target_line = markdown.lines().find(|line| line.starts_with("| t.tsv |")).unwrap();
    assert!(target_line.contains("| ≥1.0000 [0.69, 1.00] |") && target_line.contains("| 3 |"), "{target_line}");
    assert!(markdown.contains("≥: a lower bound, not the metric: a target_radius run (t.tsv at radius 0.5)"));
    assert!(markdown.contains("out_of_draws: inputs whose n draws ran out"), "{markdown}");
    let fixed_line = markdown.lines().find(|line| line.starts_with("| f.tsv |")).unwrap();
    assert!(!fixed_line.contains('≥') && fixed_line.ends_with("| – |"), "{fixed_line}");
    // A run without a target radius has no such columns or notes.
    let plain = table(std::slice::from_ref(&fixed), &[0.5], TableFormat::Markdown, false, &Keys).unwrap();
    assert!(!plain.contains('≥') && !plain.contains("out_of_draws"), "{plain}");
    let plain = cells(&table(&[fixed], &[0.5], TableFormat::Tsv, false, &Keys).unwrap());
    assert_eq!((plain["target_radius"].as_str(), plain["out_of_draws"].as_str()), ("", ""));
}

#[test]
fn comparisons_leave_out_the_radii_of_bounds() {
    let (fixed, target) = (run("f", None), run("t", Some(0.5)));
    let compared = compare(&fixed, &target, &[0.0, 0.5, 1.0]).unwrap();
    assert_eq!(compared.iter().map(|paired| paired.radius).collect::<Vec<_>>(), [0.5]);
    let err = compare(&fixed, &target, &[0.25]).unwrap_err().to_string();
    assert!(err.contains("f.tsv and t.tsv: no radius of radii where both runs' metrics are exact"), "{err}");
    assert!(err.contains("(t.tsv at 0.5)"), "{err}");
    let runs = [fixed, target];
    let markdown = comparison_table(&runs, &[0.0, 0.5], TableFormat::Markdown, &Keys).unwrap();
    assert_eq!(markdown.lines().filter(|line| line.starts_with("| f |")).count(), 1, "{markdown}");
    assert!(markdown.contains("Left out: the radii") && markdown.contains("(t.tsv at 0.5)"), "{markdown}");
    // At the target radius alone nothing is left out, and no note says so.
    let markdown = comparison_table(&runs, &[0.5], TableFormat::Markdown, &Keys).unwrap();
    assert!(markdown.contains("| f | t | certified_accuracy | 0.5 |") && !markdown.contains("Left out"), "{markdown}");
}
