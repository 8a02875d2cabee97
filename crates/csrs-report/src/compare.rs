//! Paired comparisons of two runs on the same examples: McNemar's exact
//! test per metric and radius.
//!
//! Two fractions measured on the same test examples are not independent:
//! their intervals can overlap while one run is better on nearly every
//! example where the two differ. The paired test looks at those examples
//! only (right by one run alone), so it resolves what overlapping
//! intervals hide.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::bail;
use csrs_artifacts::{Setting, Spelling, Worded};
use csrs_records::Row;
use csrs_stats::mcnemar_exact;
use csrs_stats::metrics::CertifiedExample;
use serde_json::json;

use crate::table::{Run, TableFormat, check_radii};

/// Whether an example is a hit of a fraction at a radius (`None`: the
/// fraction does not count it).
type Holds = fn(&CertifiedExample, f64) -> Option<bool>;

/// The fractions compared, by the names of their table columns.
const METRICS: [(&str, Holds); 3] = [
    ("certified_accuracy", |example, radius| Some(example.certified_correct(radius))),
    ("cs_robustness", CertifiedExample::certified_cost_robust),
    ("cs_robustness_standard", CertifiedExample::standard_cost_robust),
];

/// One metric at one radius, on the examples both runs count.
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    /// The metric, as the table names its column.
    pub metric: &'static str,
    pub radius: f64,
    /// The examples both runs count for this metric.
    pub examples: usize,
    /// Hits of the first run and of the second, among them.
    pub first: usize,
    pub second: usize,
    /// Examples that are hits of the first run only, and of the second only.
    pub only_first: usize,
    pub only_second: usize,
    /// McNemar's exact p-value: how likely discordant examples at least as
    /// one-sided are if both runs were equally good.
    pub p_value: f64,
}

/// `first` against `second` on the examples both hold, for each metric at
/// each of `radii`; metrics neither run counts (no sensitive examples) are
/// left out, and so are radii where a run's metrics are only bounds (a
/// `--target-radius` run away from its radius): a test on bounds would
/// compare how the runs drew, not what they certify.
///
/// # Errors
/// A bad radius, runs without a common example, an example whose label
/// differs between the two (not the same examples), or no radius where
/// both runs' metrics are exact.
pub fn compare(first: &Run, second: &Run, radii: &[f64]) -> anyhow::Result<Vec<Paired>> {
    check_radii(radii)?;
    let exact: Vec<f64> =
        radii.iter().copied().filter(|&r| !first.bounds_only_at(r) && !second.bounds_only_at(r)).collect();
    if exact.is_empty() {
        let targets: Vec<String> = [first, second]
            .iter()
            .filter_map(|run| run.target_radius.map(|radius| format!("{} at {radius}", run.records)))
            .collect();
        let (first, second) = (first.records.clone(), second.records.clone());
        return Err(Worded::new(move |s| {
            format!(
                "{first} and {second}: no radius of {} where both runs' metrics are exact: a {} run's are exact at \
                 its target radius only ({})",
                s.name(Setting::Radii),
                s.name(Setting::TargetRadius),
                targets.join(", ")
            )
        })
        .into());
    }
    let by_index: BTreeMap<usize, CertifiedExample> =
        second.rows.iter().map(|row| (row.index(), row.example())).collect();
    let mut pairs = Vec::new();
    for row in &first.rows {
        let Some(other) = by_index.get(&row.index()) else { continue };
        let example = row.example();
        if example.label != other.label {
            bail!(
                "example {}: label {} in {}, {} in {}: compare runs on the same examples",
                row.index(),
                example.label,
                first.records,
                other.label,
                second.records
            );
        }
        pairs.push((example, other));
    }
    if pairs.is_empty() {
        bail!("{} and {} have no example in common", first.records, second.records);
    }
    let mut compared = Vec::new();
    for (metric, holds) in METRICS {
        for &radius in &exact {
            let outcomes: Vec<(bool, bool)> =
                pairs.iter().filter_map(|(a, b)| Some((holds(a, radius)?, holds(b, radius)?))).collect();
            if outcomes.is_empty() {
                continue;
            }
            let count = |test: fn(&(bool, bool)) -> bool| outcomes.iter().filter(|o| test(o)).count();
            let (only_first, only_second) = (count(|o| o.0 && !o.1), count(|o| !o.0 && o.1));
            compared.push(Paired {
                metric,
                radius,
                examples: outcomes.len(),
                first: count(|o| o.0),
                second: count(|o| o.1),
                only_first,
                only_second,
                p_value: mcnemar_exact(only_first as u64, only_second as u64),
            });
        }
    }
    Ok(compared)
}

/// The comparisons of every run with the first one (`runs[0]`, the
/// baseline), as a table in `format`: a line per run, metric and radius;
/// its notes name settings as `spelling` spells them.
///
/// # Errors
/// As [`compare`], and fewer than two runs.
pub fn comparison_table(
    runs: &[Run],
    radii: &[f64],
    format: TableFormat,
    spelling: &dyn Spelling,
) -> anyhow::Result<String> {
    let too_few = |got: &'static str| {
        Worded::new(move |s| format!("{} needs two records files or more{got}", s.name(Setting::Compare)))
    };
    let [baseline, others @ ..] = runs else { return Err(too_few("").into()) };
    if others.is_empty() {
        return Err(too_few(", got one").into());
    }
    let mut out = String::new();
    if format == TableFormat::Markdown {
        let _ = writeln!(
            out,
            "| baseline | run | metric | radius | examples | baseline hits | run hits | only baseline | only run | p |"
        );
        let _ = writeln!(out, "|{}", "---|".repeat(10));
    } else if format == TableFormat::Tsv {
        let _ = writeln!(
            out,
            "baseline\trun\tmetric\tradius\texamples\tbaseline_hits\trun_hits\tonly_baseline\tonly_run\tp_value"
        );
    }
    for other in others {
        for paired in compare(baseline, other, radii)? {
            let Paired { metric, radius, examples, first, second, only_first, only_second, p_value } = paired;
            let _ = match format {
                TableFormat::Markdown => writeln!(
                    out,
                    "| {} | {} | {metric} | {radius} | {examples} | {first} | {second} | {only_first} | {only_second} | {} |",
                    baseline.label,
                    other.label,
                    p_text(p_value)
                ),
                TableFormat::Tsv => writeln!(
                    out,
                    "{}\t{}\t{metric}\t{radius}\t{examples}\t{first}\t{second}\t{only_first}\t{only_second}\t{p_value}",
                    baseline.label, other.label
                ),
                TableFormat::Jsonl => writeln!(
                    out,
                    "{}",
                    json!({
                        "baseline": baseline.label, "run": other.label, "metric": metric, "radius": radius,
                        "examples": examples, "baseline_hits": first, "run_hits": second,
                        "only_baseline": only_first, "only_run": only_second, "p_value": p_value,
                    })
                ),
            };
        }
    }
    // The runs with a radius of `radii` left out: none when every radius
    // asked for is where each run's metrics are exact.
    let left_out: Vec<String> = runs
        .iter()
        .filter(|run| radii.iter().any(|&radius| run.bounds_only_at(radius)))
        .filter_map(|run| run.target_radius.map(|radius| format!("{} at {radius}", run.records)))
        .collect();
    if format == TableFormat::Markdown {
        if !left_out.is_empty() {
            let _ = writeln!(
                out,
                "\nLeft out: the radii where a {} run's metrics are only lower bounds; they are exact at its target \
                 radius ({}).",
                spelling.name(Setting::TargetRadius),
                left_out.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "\np: McNemar's exact test on the examples right by one run only (two-sided binomial test at ½); \
             a small p says the runs differ on these examples even where their intervals overlap."
        );
    }
    Ok(out)
}

/// A p-value to read: four significant digits.
fn p_text(p: f64) -> String {
    if p >= 0.001 { format!("{p:.4}") } else { format!("{p:.3e}") }
}
