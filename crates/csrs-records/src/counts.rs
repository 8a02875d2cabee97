//! `certify-counts` lines: certificates from class counts made by any
//! framework, one JSON object per line in (the counts) and out (the same
//! object with its `result`).

use std::io::{self, BufRead, Write};

use anyhow::{Context, anyhow, bail};
use csrs_cost::CostRow;
use csrs_stats::{Alpha, Certificate, ClassCounts, Smoothing, certify};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::fields::deserialize;
use crate::json::CertificateJson;

/// Certifies every line of `input` (named `name` in errors, with the line
/// number) into `output`, a line each, blank lines skipped.
///
/// # Errors
/// The first line that is too long, not UTF-8, not a counts object or not
/// certifiable, with its place; and what reading and writing say.
pub fn certify_counts(input: &mut dyn BufRead, name: &str, output: &mut dyn Write) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    for number in 1.. {
        let place = format!("{name}:{number}");
        let read = read_line_bounded(input, MAX_LINE_BYTES, &mut bytes);
        match read.with_context(|| format!("{place}: cannot read"))? {
            BoundedLine::End => break,
            BoundedLine::TooLong => bail!("{place}: longer than {MAX_LINE_BYTES} bytes, the limit of a counts line"),
            BoundedLine::Line => {}
        }
        let line = std::str::from_utf8(&bytes).map_err(|err| anyhow!("{place}: not UTF-8 text ({err})"))?;
        if line.trim().is_empty() {
            continue;
        }
        let certified = certify_line(line).with_context(|| place.clone())?;
        serde_json::to_writer(&mut *output, &certified)?;
        output.write_all(b"\n")?;
    }
    Ok(())
}

/// The longest input line read, in bytes: 16 MiB. A line holds one
/// example's cost row and two count vectors, at most
/// [`csrs_cost::MAX_CLASSES`] numbers each, about 1.6 MB written out in
/// full at the class limit, with room for the other keys a line keeps; a
/// longer line (a file without newlines, or not counts at all) is refused
/// before it is held in memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;

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
    let cert = certify_case(&CountsCase {
        label: input.label,
        cost_row: Some(&input.cost_row),
        sigma: input.sigma,
        alpha: input.alpha,
        selection_counts: &input.selection_counts,
        estimation_counts: &input.estimation_counts,
    })?;
    case.insert("result".to_owned(), serde_json::to_value(CertificateJson::from(&cert))?);
    Ok(case)
}

/// One example's counts and what they are certified with: a `certify-counts`
/// line, or the same from another caller (the Python package).
#[derive(Debug, Clone, Copy)]
pub struct CountsCase<'a> {
    /// The true class.
    pub label: usize,
    /// Row `label` of the cost matrix; without it, Cohen's certificate.
    pub cost_row: Option<&'a [f64]>,
    pub sigma: f64,
    pub alpha: f64,
    /// The n0 draws that pick the prediction, per class.
    pub selection_counts: &'a [u64],
    /// The n draws that bound its probability, per class.
    pub estimation_counts: &'a [u64],
}

/// Certify-CS on `case`, checked as `certify-counts` checks a line: as many
/// classes in each count as in the cost row (or the selection counts), a
/// label among them, at most [`csrs_cost::MAX_CLASSES`], a valid row, σ
/// and α.
///
/// # Errors
/// The first of those that fails, naming the key.
pub fn certify_case(case: &CountsCase<'_>) -> anyhow::Result<Certificate> {
    let (classes, source) = match case.cost_row {
        Some(row) => (row.len(), "cost_row"),
        None => (case.selection_counts.len(), "selection_counts"),
    };
    if classes > csrs_cost::MAX_CLASSES {
        bail!("{source} has {classes} entries, expected at most {} classes", csrs_cost::MAX_CLASSES);
    }
    if case.label >= classes {
        bail!("label {} is out of range, expected a class index below {classes} (the length of {source})", case.label);
    }
    let row = case.cost_row.map(|row| CostRow::new(row, case.label).context("cost_row")).transpose()?;
    let counts = |counts: &[u64], key: &str| {
        if counts.len() != classes {
            bail!("{key} has {} entries, expected {classes} (the length of {source})", counts.len());
        }
        ClassCounts::new(counts.to_vec()).with_context(|| key.to_owned())
    };
    let selection = counts(case.selection_counts, "selection_counts")?;
    let estimation = counts(case.estimation_counts, "estimation_counts")?;
    Ok(certify(&selection, &estimation, row.as_ref(), Smoothing::gaussian(case.sigma)?, Alpha::new(case.alpha)?)?)
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

/// What [`read_line_bounded`] found.
#[derive(Debug, PartialEq, Eq)]
enum BoundedLine {
    /// A line, in the buffer without its `\n` or `\r\n`.
    Line,
    /// The end of the input.
    End,
    /// A line of more than the limit's bytes; the buffer holds its start.
    TooLong,
}

/// Reads the next line of `reader` into `line`, holding at most `limit`
/// bytes of it (and its line ending): a line without a newline is never
/// read whole into memory, whatever its length.
///
/// # Errors
/// What reading said.
fn read_line_bounded(reader: &mut dyn BufRead, limit: usize, line: &mut Vec<u8>) -> io::Result<BoundedLine> {
    line.clear();
    // The line's bytes, "\r\n", and one byte more to tell a longer line.
    let read = io::Read::take(reader, (limit as u64).saturating_add(2)).read_until(b'\n', line)?;
    if read == 0 {
        return Ok(BoundedLine::End);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    Ok(if line.len() > limit { BoundedLine::TooLong } else { BoundedLine::Line })
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

#[cfg(test)]
mod bounded_lines {
    use super::*;

    /// Every line of `text` read with `limit`, until the end or a line too long.
    fn lines(text: &[u8], limit: usize) -> Vec<(BoundedLine, Vec<u8>)> {
        let mut reader = io::Cursor::new(text);
        let mut found = Vec::new();
        loop {
            let mut line = Vec::new();
            let kind = read_line_bounded(&mut reader, limit, &mut line).unwrap();
            let last = kind != BoundedLine::Line;
            found.push((kind, line));
            if last {
                return found;
            }
        }
    }

    #[test]
    fn lines_up_to_the_limit_are_read_as_lines_does() {
        let read = lines(b"abcd\r\nab\n\nabc", 4);
        let expected: Vec<(BoundedLine, Vec<u8>)> = vec![
            (BoundedLine::Line, b"abcd".to_vec()),
            (BoundedLine::Line, b"ab".to_vec()),
            (BoundedLine::Line, Vec::new()),
            (BoundedLine::Line, b"abc".to_vec()),
            (BoundedLine::End, Vec::new()),
        ];
        assert_eq!(read, expected);
    }

    #[test]
    fn a_longer_line_is_refused_holding_no_more_than_the_limit() {
        for text in [&b"ab\nabcde\nab\n"[..], b"ab\nabcde", b"ab\nabcd\rx\n", b"ab\nabcdefghijklmnop"] {
            let read = lines(text, 4);
            assert_eq!(read.len(), 2, "{text:?}");
            assert_eq!(read[1].0, BoundedLine::TooLong, "{text:?}");
            assert!(read[1].1.len() <= 4 + 2, "{text:?}");
        }
        // An endless line without a newline, from a generator: refused
        // after limit + 2 bytes.
        let mut endless = io::BufReader::new(io::repeat(b'x'));
        let mut line = Vec::new();
        assert_eq!(read_line_bounded(&mut endless, 1 << 20, &mut line).unwrap(), BoundedLine::TooLong);
        assert_eq!(line.len(), (1 << 20) + 2);
    }
}
