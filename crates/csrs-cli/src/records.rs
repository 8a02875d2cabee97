//! Per-example output records: TSV with a header, or JSONL, chosen by the
//! file extension; appended and flushed one example at a time.
//!
//! A run can be killed at any moment: every finished example is on disk as a
//! whole line. `--resume` drops a trailing partial line, reads back what is
//! there and continues with the examples that are missing.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use csrs_artifacts::CertificationFiles;
use csrs_data::DatasetName;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::fields::{self, field_names};
use crate::options::Options;

/// One output line.
pub(crate) trait Row: Sized {
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
pub(crate) fn check_class(what: &str, class: usize, classes: usize) -> anyhow::Result<()> {
    if class >= classes {
        bail!("{what}: class {class}, expected one of the dataset's {classes} classes (0 to {})", classes.max(1) - 1);
    }
    Ok(())
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

    pub(crate) fn header<R: Row>(self) -> Option<String> {
        (self == Format::Tsv).then(|| field_names::<R::Record>().join("\t"))
    }

    pub(crate) fn line<R: Row>(self, row: &R) -> anyhow::Result<String> {
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
    pub(crate) fn parse<R: Row>(self, line: &str, columns: &[&str]) -> anyhow::Result<R> {
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
        let mut line = self.format.line(row)?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).with_context(|| format!("cannot write {}", self.path.display()))?;
        self.file.flush().with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// The complete rows of an existing file; a partial last line (the run was
/// killed while writing it) is cut off the file. A TSV file in the columns
/// of an earlier csrs is refused before anything changes: appending this
/// version's rows would mix two layouts.
fn read_back<R: Row>(path: &Path, format: Format) -> anyhow::Result<Vec<R>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Some(header) = format.header::<R>()
        && let Some(first) = bytes.split(|&b| b == b'\n').next()
        && first.strip_suffix(b"\r").unwrap_or(first) != header.as_bytes()
    {
        bail!(
            "{}: its columns are not those of this version of csrs (expected {header:?}): \
             it can be analysed, but not resumed; choose another --out",
            path.display()
        );
    }
    let complete = complete_len(&bytes);
    if complete < bytes.len() {
        let file =
            OpenOptions::new().write(true).open(path).with_context(|| format!("cannot open {}", path.display()))?;
        file.set_len(complete as u64).with_context(|| format!("cannot truncate {}", path.display()))?;
    }
    parse_rows(path, format, &bytes[..complete])
}

/// What reading for reading's sake does with a last line that has no
/// newline yet (a run still writing, or killed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartialLine {
    /// Leave it out (and in the file): a running job can be analysed.
    LeaveOut,
    /// Refuse the file: its records are not all there.
    Refuse,
}

/// The complete rows of a record file, for reading only: the file is left
/// as it is.
pub(crate) fn read_rows<R: Row>(path: &Path, partial: PartialLine) -> anyhow::Result<Vec<R>> {
    let format = Format::of(path)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let complete = complete_len(&bytes);
    if complete < bytes.len() && partial == PartialLine::Refuse {
        bail!("{}: the last line is incomplete (a run still writing, or killed): resume it first", path.display());
    }
    parse_rows(path, format, &bytes[..complete])
}

/// The length of the whole lines at the start of `bytes`.
fn complete_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

/// The resolved settings of the run that wrote the records at `records`,
/// when they are beside them.
pub(crate) fn settings_of_run(records: &Path) -> anyhow::Result<Option<Options>> {
    let config = CertificationFiles::new(records).resolved_config();
    if !config.exists() {
        return Ok(None);
    }
    Options { config: Some(config), ..Options::default() }.with_config_file().map(Some)
}

/// The number of classes of the dataset the records at `records` were made
/// on, from their resolved settings: `None` without them, for a dataset
/// whose classes are its folders, or when the settings cannot be read (the
/// records are still good; a warning says why their classes go unchecked).
fn classes_of_run(records: &Path) -> Option<usize> {
    let dataset = settings_of_run(records).and_then(|options| match options.and_then(|o| o.dataset) {
        Some(name) => name.parse::<DatasetName>().map(Some).context("dataset"),
        None => Ok(None),
    });
    match dataset {
        Ok(dataset) => dataset.and_then(|d| d.class_names()).map(|names| names.len()),
        Err(err) => {
            eprintln!("csrs: warning: {err:#}; the classes of {} are not checked", records.display());
            None
        }
    }
}

fn parse_rows<R: Row>(path: &Path, format: Format, bytes: &[u8]) -> anyhow::Result<Vec<R>> {
    let classes = classes_of_run(path);
    let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
    let mut lines = text.lines().enumerate();
    let mut columns = field_names::<R::Record>().to_vec();
    if let Some(header) = format.header::<R>()
        && let Some((_, found)) = lines.next()
    {
        columns = columns_of::<R>(found).ok_or_else(|| {
            anyhow!("{}: line 1 is not the header of these records, expected {header:?}", path.display())
        })?;
    }
    // An example twice (two runs given one --out) would count twice.
    let mut line_of = std::collections::HashMap::new();
    lines
        .map(|(i, line)| {
            let row = format
                .parse::<R>(line, &columns)
                .and_then(|row| classes.map_or(Ok(()), |classes| row.check_classes(classes)).map(|()| row))
                .with_context(|| format!("{}:{}", path.display(), i + 1))?;
            if let Some(earlier) = line_of.insert(row.index(), i + 1) {
                bail!("{}: line {} repeats example {} of line {earlier}", path.display(), i + 1, row.index());
            }
            Ok(row)
        })
        .collect()
}

/// The columns of `header` when it is this version's header, possibly
/// without some of [`Row::LATER_COLUMNS`] (records of an earlier csrs).
fn columns_of<R: Row>(header: &str) -> Option<Vec<&'static str>> {
    let found: Vec<&str> = header.split('\t').collect();
    let columns: Vec<&'static str> = field_names::<R::Record>()
        .iter()
        .copied()
        .filter(|column| found.contains(column) || !R::LATER_COLUMNS.contains(column))
        .collect();
    (columns == found).then_some(columns)
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
                let mut text = field_names::<R::Record>().join("\t") + "\n";
                rows.iter().for_each(|row| text += &(row.join("\t") + "\n"));
                text
            }
            Format::Jsonl => rows
                .iter()
                .map(|row| {
                    let cells: Vec<String> = field_names::<R::Record>()
                        .iter()
                        .zip(row)
                        .map(|(name, value)| format!("{name:?}:{value}"))
                        .collect();
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
        fn certify_records_never_panic(rows in lines(field_names::<<CertifyRow as Row>::Record>().len())) {
            check::<CertifyRow>(Format::Tsv, &rows)?;
            check::<CertifyRow>(Format::Jsonl, &rows)?;
        }

        #[test]
        fn predict_records_never_panic(rows in lines(field_names::<<PredictRow as Row>::Record>().len())) {
            check::<PredictRow>(Format::Tsv, &rows)?;
            check::<PredictRow>(Format::Jsonl, &rows)?;
        }
    }
}
