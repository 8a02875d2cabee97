//! One record per line: the [`Row`] a record type is, and the two
//! [`Format`]s a line is written in (TSV with a header, or JSONL), chosen
//! by the file's extension.

use std::path::Path;

use anyhow::bail;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::fields::{self, field_names};

/// One output line.
pub trait Row: Sized {
    /// The line as written: a serde struct whose fields, in order, are the
    /// columns (TSV) or keys (JSONL). It is the one place that names them.
    type Record: Serialize + DeserializeOwned;

    /// The example's index in the dataset split.
    fn index(&self) -> usize;

    /// The line of this row.
    fn to_record(&self) -> Self::Record;

    /// Rebuilds a row from a line read back, checking what serde cannot.
    fn from_record(record: Self::Record) -> anyhow::Result<Self>;

    /// Fails when the row names a class at or above `classes`.
    fn check_classes(&self, classes: usize) -> anyhow::Result<()>;

    /// Columns that records written by earlier versions of csrs lack; such
    /// files are still read (the missing cells are empty), but not resumed.
    const LATER_COLUMNS: &'static [&'static str] = &[];
}

/// Fails naming `what` when `class` is not one of `classes`.
pub fn check_class(what: &str, class: usize, classes: usize) -> anyhow::Result<()> {
    if class >= classes {
        bail!("{what}: class {class}, expected one of the dataset's {classes} classes (0 to {})", classes.max(1) - 1);
    }
    Ok(())
}

/// The two output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tsv,
    Jsonl,
}

impl Format {
    pub fn of(path: &Path) -> anyhow::Result<Self> {
        match path.extension().and_then(|ext| ext.to_str()) {
            Some("tsv") => Ok(Format::Tsv),
            Some("jsonl") => Ok(Format::Jsonl),
            _ => bail!("{}: unknown output format, expected a .tsv or .jsonl file", path.display()),
        }
    }

    pub fn header<R: Row>(self) -> Option<String> {
        (self == Format::Tsv).then(|| field_names::<R::Record>().join("\t"))
    }

    pub fn line<R: Row>(self, row: &R) -> anyhow::Result<String> {
        let record = serde_json::to_value(row.to_record())?;
        Ok(match self {
            Format::Tsv => {
                field_names::<R::Record>().iter().map(|column| tsv_cell(&record[column])).collect::<Vec<_>>().join("\t")
            }
            Format::Jsonl => record.to_string(),
        })
    }

    /// The row of one line, in a TSV file with these `columns`; errors name
    /// the field.
    pub fn parse<R: Row>(self, line: &str, columns: &[&str]) -> anyhow::Result<R> {
        let cells = match self {
            Format::Jsonl => serde_json::from_str(line)?,
            Format::Tsv => {
                let cells: Vec<&str> = line.split('\t').collect();
                if cells.len() != columns.len() {
                    bail!("{} columns, expected {}", cells.len(), columns.len());
                }
                let cells: Map<String, Value> = columns
                    .iter()
                    .zip(cells)
                    .map(|(column, cell)| ((*column).to_owned(), parse_tsv_cell(cell)))
                    .collect();
                Value::Object(cells)
            }
        };
        R::from_record(fields::deserialize(cells)?)
    }
}

/// TSV cells: numbers exactly as JSON writes them (every digit, never
/// rounded), `null` as an empty cell, strings and arrays as JSON text.
fn tsv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn parse_tsv_cell(cell: &str) -> Value {
    if cell.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(cell).unwrap_or_else(|_| Value::String(cell.to_owned()))
    }
}
