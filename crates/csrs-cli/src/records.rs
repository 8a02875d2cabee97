//! Per-example output records: TSV with a header, or JSONL, chosen by the
//! file extension; appended and flushed one example at a time.
//!
//! A run can be killed at any moment: every finished example is on disk as a
//! whole line. `--resume` drops a trailing partial line, reads back what is
//! there and continues with the examples that are missing.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use serde_json::{Map, Value};

/// One output line.
pub(crate) trait Row: Sized {
    /// TSV column names, in order; JSONL uses them as keys.
    const COLUMNS: &'static [&'static str];

    /// The example's index in the dataset split.
    fn index(&self) -> usize;

    /// The cells, in `COLUMNS` order, as JSON values.
    fn cells(&self) -> Vec<Value>;

    /// Rebuilds a row from its cells (as read back from either format).
    fn from_cells(cells: &Map<String, Value>) -> anyhow::Result<Self>;
}

/// The two output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Tsv,
    Jsonl,
}

impl Format {
    pub(crate) fn of(path: &Path) -> anyhow::Result<Self> {
        match path.extension().and_then(|ext| ext.to_str()) {
            Some("tsv") => Ok(Format::Tsv),
            Some("jsonl") => Ok(Format::Jsonl),
            _ => bail!("{}: unknown output format, expected a .tsv or .jsonl file", path.display()),
        }
    }

    fn header<R: Row>(self) -> Option<String> {
        (self == Format::Tsv).then(|| R::COLUMNS.join("\t"))
    }

    fn line<R: Row>(self, row: &R) -> String {
        let cells = row.cells();
        match self {
            Format::Tsv => cells.iter().map(tsv_cell).collect::<Vec<_>>().join("\t"),
            Format::Jsonl => {
                let object: Map<String, Value> = R::COLUMNS.iter().map(|c| (*c).to_owned()).zip(cells).collect();
                Value::Object(object).to_string()
            }
        }
    }

    /// The cells of one line, by column name.
    fn parse<R: Row>(self, line: &str) -> anyhow::Result<Map<String, Value>> {
        match self {
            Format::Jsonl => match serde_json::from_str(line)? {
                Value::Object(cells) => Ok(cells),
                _ => bail!("expected a JSON object"),
            },
            Format::Tsv => {
                let cells: Vec<&str> = line.split('\t').collect();
                if cells.len() != R::COLUMNS.len() {
                    bail!("{} columns, expected {}", cells.len(), R::COLUMNS.len());
                }
                Ok(R::COLUMNS
                    .iter()
                    .zip(cells)
                    .map(|(column, cell)| ((*column).to_owned(), parse_tsv_cell(cell)))
                    .collect())
            }
        }
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

/// An output file being appended to.
pub(crate) struct RecordFile {
    path: PathBuf,
    format: Format,
    file: File,
}

impl RecordFile {
    /// Opens `path` for a run: a new file (refusing to overwrite unless
    /// resuming), or, with `resume`, the existing one with its rows read back.
    ///
    /// The file stays locked (an advisory lock, which the system releases
    /// when the process ends, killed or not) while the run writes it: a
    /// second run given the same output stops at once instead of writing
    /// its records among the first one's.
    pub(crate) fn open<R: Row>(path: &Path, resume: bool) -> anyhow::Result<(Self, Vec<R>)> {
        let format = Format::of(path)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => bail!(
                "{} is being written by another csrs run (it holds the file's lock): wait for it to end, \
                 or choose another --out",
                path.display()
            ),
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
        let exists = file.metadata().with_context(|| format!("cannot read {}", path.display()))?.len() > 0;
        if exists && !resume {
            bail!("{} already exists: pass --resume to continue it, or choose another --out", path.display());
        }
        let rows = if exists { read_back::<R>(path, format)? } else { Vec::new() };
        if !exists && let Some(header) = format.header::<R>() {
            writeln!(file, "{header}").with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok((RecordFile { path: path.to_owned(), format, file }, rows))
    }

    /// Appends one row as a whole line and flushes it to the system.
    pub(crate) fn append<R: Row>(&mut self, row: &R) -> anyhow::Result<()> {
        let mut line = self.format.line(row);
        line.push('\n');
        self.file.write_all(line.as_bytes()).with_context(|| format!("cannot write {}", self.path.display()))?;
        self.file.flush().with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// The complete rows of an existing file; a partial last line (the run was
/// killed while writing it) is cut off the file.
fn read_back<R: Row>(path: &Path, format: Format) -> anyhow::Result<Vec<R>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let complete = complete_len(&bytes);
    if complete < bytes.len() {
        let file =
            OpenOptions::new().write(true).open(path).with_context(|| format!("cannot open {}", path.display()))?;
        file.set_len(complete as u64).with_context(|| format!("cannot truncate {}", path.display()))?;
    }
    parse_rows(path, format, &bytes[..complete])
}

/// The complete rows of a record file, for reading only: a partial last
/// line (a run still writing, or killed) is left out and left alone.
pub(crate) fn read_rows<R: Row>(path: &Path) -> anyhow::Result<Vec<R>> {
    let format = Format::of(path)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_rows(path, format, &bytes[..complete_len(&bytes)])
}

/// The length of the whole lines at the start of `bytes`.
fn complete_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

fn parse_rows<R: Row>(path: &Path, format: Format, bytes: &[u8]) -> anyhow::Result<Vec<R>> {
    let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
    let mut lines = text.lines().enumerate();
    if let Some(header) = format.header::<R>() {
        match lines.next() {
            Some((_, found)) if found == header => {}
            Some(_) => bail!("{}: line 1 is not the header of these records, expected {header:?}", path.display()),
            None => {}
        }
    }
    // An example twice (two runs given one --out) would count twice.
    let mut line_of = std::collections::HashMap::new();
    lines
        .map(|(i, line)| {
            let row = format
                .parse::<R>(line)
                .and_then(|cells| R::from_cells(&cells))
                .with_context(|| format!("{}:{}", path.display(), i + 1))?;
            if let Some(earlier) = line_of.insert(row.index(), i + 1) {
                bail!("{}: line {} repeats example {} of line {earlier}", path.display(), i + 1, row.index());
            }
            Ok(row)
        })
        .collect()
}

/// The lines of a record file, for merging.
pub(crate) struct RawRecords {
    /// The TSV header (`None` for JSONL).
    pub(crate) header: Option<String>,
    /// Each line with its example index.
    pub(crate) lines: Vec<(usize, String)>,
}

/// Reads a record file line by line for merging, without interpreting the
/// cells other than the example index.
pub(crate) fn read_lines(path: &Path) -> anyhow::Result<RawRecords> {
    let format = Format::of(path)?;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut lines = BufReader::new(file).lines().enumerate();
    let header = match format {
        Format::Tsv => Some(lines.next().map(|(_, l)| l).transpose()?.unwrap_or_default()),
        Format::Jsonl => None,
    };
    let index_column = header.as_deref().map(|h| h.split('\t').position(|c| c == "index"));
    let mut rows = Vec::new();
    for (i, line) in lines {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let place = || format!("{}:{}", path.display(), i + 1);
        let index = match (format, index_column) {
            (Format::Tsv, Some(Some(column))) => line.split('\t').nth(column).and_then(|c| c.parse().ok()),
            (Format::Tsv, _) => bail!("{}: the header has no `index` column", place()),
            (Format::Jsonl, _) => {
                serde_json::from_str::<Value>(&line).ok().and_then(|v| v["index"].as_u64()).map(|i| i as usize)
            }
        };
        let index = index.ok_or_else(|| anyhow!("{}: no example index", place()))?;
        rows.push((index, line));
    }
    Ok(RawRecords { header, lines: rows })
}

/// A cell as a non-negative integer.
pub(crate) fn unsigned(cells: &Map<String, Value>, key: &str) -> anyhow::Result<u64> {
    cells.get(key).and_then(Value::as_u64).ok_or_else(|| anyhow!("`{key}` is missing or not a non-negative integer"))
}

/// A cell as a number, or `None` when empty/null.
pub(crate) fn optional_number(cells: &Map<String, Value>, key: &str) -> anyhow::Result<Option<f64>> {
    match cells.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_f64().map(Some).ok_or_else(|| anyhow!("`{key}` is {value}, expected a number")),
    }
}

/// The record readers on arbitrary lines in both formats, cells drawn from
/// what records hold and what hand edits put there: never a panic, and every
/// refusal is one line.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::certify::CertifyRow;
    use crate::predict::PredictRow;

    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            prop_oneof![Just("inf"), Just("null"), Just("true"), Just("false"), Just(""), Just("-1"), Just("NaN")]
                .prop_map(str::to_owned),
            (0..200u64).prop_map(|n| n.to_string()),
            (-2.0..2.0f64).prop_map(|x| x.to_string()),
            Just(u64::MAX.to_string() + "0"),
            prop::collection::vec(
                (
                    0.0..6.0f64,
                    prop_oneof![
                        Just("\"inf\"".to_owned()),
                        Just("null".to_owned()),
                        (0.0..3.0f64).prop_map(|r| r.to_string())
                    ]
                ),
                0..4
            )
            .prop_map(|curve| {
                let points: Vec<String> = curve.iter().map(|(l, r)| format!("[{l},{r}]")).collect();
                format!("[{}]", points.join(","))
            }),
            "\\PC{0,12}",
        ]
    }

    fn lines(columns: usize) -> impl Strategy<Value = Vec<Vec<String>>> {
        prop::collection::vec(prop::collection::vec(cell(), columns.saturating_sub(1)..=columns + 1), 0..5)
    }

    fn check<R: Row>(format: Format, rows: &[Vec<String>]) -> Result<(), TestCaseError> {
        let text = match format {
            Format::Tsv => {
                let mut text = R::COLUMNS.join("\t") + "\n";
                rows.iter().for_each(|row| text += &(row.join("\t") + "\n"));
                text
            }
            Format::Jsonl => rows
                .iter()
                .map(|row| {
                    let cells: Vec<String> =
                        R::COLUMNS.iter().zip(row).map(|(name, value)| format!("{name:?}:{value}")).collect();
                    format!("{{{}}}\n", cells.join(","))
                })
                .collect(),
        };
        if let Err(err) = parse_rows::<R>(Path::new("r"), format, text.as_bytes()) {
            let message = format!("{err:#}");
            prop_assert!(!message.contains('\n'), "{message:?}");
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn certify_records_never_panic(rows in lines(CertifyRow::COLUMNS.len())) {
            check::<CertifyRow>(Format::Tsv, &rows)?;
            check::<CertifyRow>(Format::Jsonl, &rows)?;
        }

        #[test]
        fn predict_records_never_panic(rows in lines(PredictRow::COLUMNS.len())) {
            check::<PredictRow>(Format::Tsv, &rows)?;
            check::<PredictRow>(Format::Jsonl, &rows)?;
        }
    }
}
