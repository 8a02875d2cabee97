//! McNemar's exact test between two runs of known outcomes, against SciPy.

use csrs_artifacts::Keys;
use csrs_records::CertifyRow;
use csrs_report::{Run, TableFormat, compare, comparison_table};
use csrs_stats::{Certificate, ClassCounts, Radius, StandardCertificate};

/// A run of 40 examples of class 0, right at radius `radius(i)` where it
/// gives one, wrong elsewhere.
fn run(name: &str, radius: impl Fn(usize) -> Option<f64>) -> Run {
    let counts = ClassCounts::new(vec![90, 10]).unwrap();
    let rows = (0..40)
        .map(|i| {
            let (predicted, standard) = match radius(i) {
                Some(r) => (0, StandardCertificate::Certified(Radius::new(r).unwrap())),
                None => (1, StandardCertificate::Abstain),
            };
            let certificate = Certificate { predicted, p_lower: 0.9, standard, cost_sensitive: None };
            CertifyRow::new(i, 0, None, certificate, &counts, 0.0)
        })
        .collect();
    Run { records: format!("{name}.tsv"), label: name.to_owned(), rows, target_radius: None }
}

/// p-values of `scipy.stats.binomtest(k, n, 0.5)`.
const SCIPY: [(usize, usize, f64); 4] =
    [(10, 10, 1.0), (7, 10, 0.629058837890625), (0, 15, 6.103515625e-05), (0, 0, 1.0)];

#[test]
fn discordant_examples_decide_the_p_value() {
    // A: right on 0..30, certified to 0.205 + 0.02 i; B: right on 10..40 to 0.6.
    let a = run("a", |i| (i < 30).then_some(0.205 + 0.02 * i as f64));
    let b = run("b", |i| (i >= 10).then_some(0.6));
    let compared = compare(&a, &b, &[0.0, 0.25, 0.5, 1.0]).unwrap();
    // No sensitive examples: only certified accuracy is compared.
    assert_eq!(compared.len(), 4);
    for (paired, (only_a, only_b, p)) in compared.iter().zip(SCIPY) {
        assert_eq!((paired.metric, paired.examples), ("certified_accuracy", 40));
        assert_eq!((paired.only_first, paired.only_second), (only_a, only_b), "at {}", paired.radius);
        assert!((paired.p_value - p).abs() <= 1e-12 * p, "at {}: {} against {p}", paired.radius, paired.p_value);
    }
    assert_eq!((compared[2].first, compared[2].second), (15, 30));

    let tsv = comparison_table(&[a.clone(), b], &[0.5], TableFormat::Tsv, &Keys).unwrap();
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(
        lines[0],
        "baseline\trun\tmetric\tradius\texamples\tbaseline_hits\trun_hits\tonly_baseline\tonly_run\tp_value"
    );
    let (cells, p) = lines[1].rsplit_once('\t').unwrap();
    assert_eq!(cells, "a\tb\tcertified_accuracy\t0.5\t40\t15\t30\t0\t15");
    assert!((p.parse::<f64>().unwrap() / 6.103515625e-05 - 1.0).abs() < 1e-12, "{p}");
    let one = comparison_table(&[a], &[0.5], TableFormat::Markdown, &Keys).unwrap_err();
    assert_eq!(one.to_string(), "compare needs two records files or more, got one");
}

#[test]
fn runs_on_other_examples_are_not_compared() {
    let a = run("a", |_| Some(0.5));
    let mut other = run("b", |_| Some(0.5));
    other.rows = other
        .rows
        .into_iter()
        .map(|row| {
            CertifyRow::new(1000, 0, None, row.certificate().clone(), &ClassCounts::new(vec![90, 10]).unwrap(), 0.0)
        })
        .take(1)
        .collect();
    let err = compare(&a, &other, &[0.0]).unwrap_err().to_string();
    assert_eq!(err, "a.tsv and b.tsv have no example in common");
}
