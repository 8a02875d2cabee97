//! `csrs analyze`: metrics tables from certification records (SPEC §8).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::bail;
use csrs_stats::metrics::{CertifiedExample, Summary, summarize};

use crate::certify::CertifyRow;
use crate::records::{PartialLine, read_rows};

/// Summarise the records of one or more `csrs certify` runs, one row per
/// file: clean accuracy of the smoothed classifier, certified accuracy and
/// certified cost-sensitive robustness (over sensitive examples) at each
/// radius, and the average certified radius, standard and cost-sensitive.
///
/// Abstains are never counted as correct or robust. Files are only read: a
/// run still writing can be analysed while it goes on.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  csrs analyze results/digits-certify.tsv
  csrs analyze --radii 0,0.5,1 --format tsv results/*.tsv > table.tsv")]
pub(crate) struct Args {
    /// Radii at which to report the certified metrics, comma-separated
    #[arg(long, value_name = "R,...", value_delimiter = ',', default_value = "0,0.25,0.5,0.75,1")]
    radii: Vec<f64>,
    /// markdown (a table to read or paste), tsv or jsonl (to load elsewhere)
    #[arg(long, value_enum, default_value_t = TableFormat::Markdown)]
    format: TableFormat,
    /// Records written by `csrs certify` (.tsv or .jsonl)
    #[arg(value_name = "FILE", required = true)]
    records: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TableFormat {
    Markdown,
    Tsv,
    Jsonl,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        if let Some(bad) = self.radii.iter().find(|r| !(r.is_finite() && **r >= 0.0)) {
            bail!("--radii: {bad} is not a radius, expected finite numbers >= 0");
        }
        let mut summaries = Vec::with_capacity(self.records.len());
        for path in &self.records {
            let examples: Vec<CertifiedExample> =
                read_rows::<CertifyRow>(path, PartialLine::LeaveOut)?.iter().map(CertifyRow::example).collect();
            if examples.is_empty() {
                bail!("{}: no certified examples", path.display());
            }
            summaries.push((path.display().to_string(), summarize(&examples, &self.radii)));
        }
        print!("{}", table(&summaries, &self.radii, self.format));
        Ok(())
    }
}

/// One cell of the table.
enum Cell {
    Text(String),
    Count(usize),
    Fraction(f64),
    /// A radius: printed rounded toward zero, like every radius csrs prints.
    Radius(f64),
    Missing,
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Count(count) => count.to_string(),
            Cell::Fraction(x) => format!("{x:.4}"),
            Cell::Radius(x) => radius_text(*x),
            Cell::Missing => String::new(),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Cell::Text(text) => serde_json::json!(text),
            Cell::Count(count) => serde_json::json!(count),
            Cell::Fraction(x) | Cell::Radius(x) if x.is_finite() => serde_json::json!(x),
            Cell::Radius(_) => serde_json::json!("inf"),
            Cell::Fraction(_) | Cell::Missing => serde_json::Value::Null,
        }
    }
}

/// Column names, and the cells of each summary.
fn columns(summaries: &[(String, Summary)], radii: &[f64]) -> (Vec<String>, Vec<Vec<Cell>>) {
    let mut names: Vec<String> = ["records", "examples", "sensitive", "clean_accuracy"].map(String::from).to_vec();
    names.extend(radii.iter().map(|r| format!("certified_accuracy@{r}")));
    names.extend(radii.iter().map(|r| format!("cs_robustness@{r}")));
    names.extend(["acr", "acr_cs"].map(String::from));
    let optional = |x: Option<f64>, cell: fn(f64) -> Cell| x.map_or(Cell::Missing, cell);
    let rows = summaries
        .iter()
        .map(|(name, s)| {
            let mut cells = vec![Cell::Text(name.clone()), Cell::Count(s.n_examples), Cell::Count(s.n_sensitive)];
            cells.push(Cell::Fraction(s.clean_accuracy));
            cells.extend(s.at_radius.iter().map(|m| Cell::Fraction(m.certified_accuracy)));
            cells.extend(s.at_radius.iter().map(|m| optional(m.certified_cs_robustness, Cell::Fraction)));
            cells.push(Cell::Radius(s.average_certified_radius));
            cells.push(optional(s.average_cs_radius, Cell::Radius));
            cells
        })
        .collect();
    (names, rows)
}

fn table(summaries: &[(String, Summary)], radii: &[f64], format: TableFormat) -> String {
    let (names, rows) = columns(summaries, radii);
    let texts = |row: &[Cell]| row.iter().map(Cell::text).collect::<Vec<_>>();
    let mut out = String::new();
    match format {
        TableFormat::Tsv => {
            let _ = writeln!(out, "{}", names.join("\t"));
            for row in &rows {
                let _ = writeln!(out, "{}", texts(row).join("\t"));
            }
        }
        TableFormat::Jsonl => {
            for row in &rows {
                let object: serde_json::Map<String, serde_json::Value> =
                    names.iter().cloned().zip(row.iter().map(Cell::json)).collect();
                let _ = writeln!(out, "{}", serde_json::Value::Object(object));
            }
        }
        TableFormat::Markdown => {
            let _ = writeln!(out, "| {} |", names.join(" | "));
            let _ = writeln!(out, "|{}", "---|".repeat(names.len()));
            for row in &rows {
                let cells: Vec<String> =
                    texts(row).into_iter().map(|c| if c.is_empty() { "–".to_owned() } else { c }).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
    }
    out
}

/// A radius as csrs prints it: four decimals, rounded toward zero (never
/// up), `inf` when infinite.
pub(crate) fn radius_text(radius: f64) -> String {
    if radius.is_infinite() { "inf".to_owned() } else { format!("{:.4}", (radius * 1e4).floor() / 1e4) }
}
