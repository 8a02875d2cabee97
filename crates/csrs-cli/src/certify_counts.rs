//! `csrs certify-counts`: certificates from class counts, one JSON object per
//! line in and out.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use csrs_cost::CostRow;
use csrs_records::{CertificateJson, deserialize};
use csrs_stats::{Alpha, ClassCounts, Sigma, certify};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::io::{BoundedLine, Input, Output, read_line_bounded};

/// Certify from class counts produced by any framework (JSONL in, JSONL out).
///
/// Each input line is a JSON object with `label` (the true class),
/// `cost_row` (row `label` of the cost matrix; all zeros for standard
/// certification), `sigma`, `alpha`, `selection_counts` (n0 draws that pick
/// the prediction) and `estimation_counts` (n independent draws that bound its
/// probability). Other keys are kept as they are.
///
/// Each output line is the input object plus `result`: `predicted`,
/// `abstain`, `p_lower`, `radius_std`, `radius_cs` and `certified_cost` (the
/// `[level, radius]` curve). `null` means abstain or not certified, "inf" an
/// infinite radius.
///
/// A malformed line stops the run with an error naming the line. Written to
/// standard output, every line before it has been printed; written to a
/// file (--output), the certificates appear only once every line is
/// certified, and an error leaves no file behind.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  csrs certify-counts --input examples/counts.jsonl")]
pub(crate) struct Args {
    /// JSONL file of counts [default: standard input]
    #[arg(long, short, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Where to write the certificates [default: standard output]; an existing file is refused unless --force, and the input never
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace an existing --output file (once every line is certified)
    #[arg(long)]
    force: bool,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let inputs: Vec<&std::path::Path> = self.input.as_deref().into_iter().collect();
        let mut output = Output::create(self.output.as_deref(), &inputs, self.force)?;
        let mut input = Input::open(self.input.as_deref())?;
        let mut bytes = Vec::new();
        for number in 1.. {
            let place = format!("{}:{number}", input.name);
            let read = read_line_bounded(&mut *input.reader, MAX_LINE_BYTES, &mut bytes);
            match read.with_context(|| format!("{place}: cannot read"))? {
                BoundedLine::End => break,
                BoundedLine::TooLong => {
                    bail!("{place}: longer than {MAX_LINE_BYTES} bytes, the limit of a counts line")
                }
                BoundedLine::Line => {}
            }
            let line = std::str::from_utf8(&bytes).map_err(|err| anyhow!("{place}: not UTF-8 text ({err})"))?;
            if line.trim().is_empty() {
                continue;
            }
            let certified = certify_line(line).with_context(|| place.clone())?;
            serde_json::to_writer(&mut output, &certified)?;
            output.write_all(b"\n")?;
        }
        output.finish()
    }
}

/// The longest input line read, in bytes: 16 MiB. A line holds one
/// example's cost row and two count vectors, at most
/// [`csrs_cost::MAX_CLASSES`] numbers each, about 1.6 MB written out in
/// full at the class limit, with room for the other keys a line keeps; a
/// longer line (a file without newlines, or not counts at all) is refused
/// before it is held in memory.
pub(crate) const MAX_LINE_BYTES: usize = 16 << 20;

/// What `certify-counts` reads from a line; other keys are kept as they are.
#[derive(Debug, Deserialize)]
struct CountsLine {
    /// The true class.
    label: usize,
    /// Row `label` of the cost matrix.
    cost_row: Vec<f64>,
    sigma: f64,
    alpha: f64,
    /// The n0 draws that pick the prediction, per class.
    selection_counts: Vec<u64>,
    /// The n draws that bound its probability, per class.
    estimation_counts: Vec<u64>,
}

/// The input object with its `result` added.
fn certify_line(line: &str) -> anyhow::Result<Map<String, Value>> {
    let mut case = match serde_json::from_str(line).map_err(|err| anyhow!("invalid JSON: {err}"))? {
        Value::Object(case) => case,
        other => bail!("expected a JSON object, got {}", kind_of(&other)),
    };
    let input: CountsLine = deserialize(Value::Object(case.clone()))?;
    let classes = input.cost_row.len();
    if classes > csrs_cost::MAX_CLASSES {
        bail!("cost_row has {classes} entries, expected at most {} classes", csrs_cost::MAX_CLASSES);
    }
    if input.label >= classes {
        bail!("label {} is out of range, expected a class index below {classes} (the length of cost_row)", input.label);
    }
    let row = CostRow::new(&input.cost_row, input.label).context("cost_row")?;
    let counts = |counts: Vec<u64>, key: &str| {
        if counts.len() != classes {
            bail!("{key} has {} entries, expected {classes} (the length of cost_row)", counts.len());
        }
        ClassCounts::new(counts).with_context(|| key.to_owned())
    };
    let selection = counts(input.selection_counts, "selection_counts")?;
    let estimation = counts(input.estimation_counts, "estimation_counts")?;
    let cert = certify(&selection, &estimation, Some(&row), Sigma::new(input.sigma)?, Alpha::new(input.alpha)?)?;
    case.insert("result".to_owned(), serde_json::to_value(CertificateJson::from(&cert))?);
    Ok(case)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `certify-counts` lines drawn from valid and broken fields: never a
/// panic, and every refusal is one line.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::certify_line;

    fn counts(classes: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop_oneof![(0..100_000u64).prop_map(|c| c.to_string()), Just("-1".to_owned())], classes)
            .prop_map(|c| format!("[{}]", c.join(",")))
    }

    fn line() -> impl Strategy<Value = String> {
        (2..5usize, 0..6usize).prop_flat_map(|(classes, label)| {
            (
                prop::collection::vec(prop_oneof![Just(0.0), Just(1.0), Just(2.5), Just(-1.0)], classes..=classes),
                counts(classes),
                counts(classes + usize::from(label == 5)),
                prop_oneof![Just(0.25), Just(0.0), Just(-1.0), Just(1e308)],
                prop_oneof![Just(0.001), Just(0.0), Just(1.0), Just(0.5)],
                Just(label),
            )
                .prop_map(|(costs, selection, estimation, sigma, alpha, label)| {
                    let costs: Vec<String> = costs.iter().map(f64::to_string).collect();
                    format!(
                        "{{\"label\": {label}, \"cost_row\": [{}], \"sigma\": {sigma}, \"alpha\": {alpha}, \
                         \"selection_counts\": {selection}, \"estimation_counts\": {estimation}}}",
                        costs.join(",")
                    )
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn lines_never_panic(line in line(), cut in 0.0..1.5f64) {
            // Whole lines, and lines cut short (a truncated file).
            let end = ((line.len() as f64 * cut) as usize).min(line.len());
            for text in [&line[..], &line[..end]] {
                if let Err(err) = certify_line(text) {
                    let message = format!("{err:#}");
                    prop_assert!(!message.contains('\n'), "{message:?}");
                }
            }
        }
    }
}
