//! Record files: appended and flushed one example at a time under the
//! file's lock, marked whole at their run's end, and read back.
//!
//! A run can be killed at any moment: every finished example is on disk as a
//! whole line. `--resume` reads back what is there, drops a trailing
//! partial line when it adds its first record (a resume refused before
//! then changes nothing) and continues with the examples that are missing.
//!
//! Readers tell whole records from records that are not (yet): a file
//! still being written is locked by its writer, and a run that has made
//! every record it was asked for leaves an end mark beside them
//! (`<records>.end`, with their count and length), which a file cut short
//! afterwards no longer matches.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use csrs_artifacts::{CertificationFiles, Setting, Spelling, Worded, is_open_at, remove_if_present, write_atomically};
use serde::Serialize;

use crate::fields::field_names;
use crate::row::{Format, Row};
use crate::settings::{Settings, classes_of_run};

/// An output file being appended to.
pub struct RecordFile {
    path: PathBuf,
    format: Format,
    file: File,
    /// The records in the file.
    records: usize,
    /// Whether this run made the file (and so has nothing of an earlier
    /// run's to keep).
    created: bool,
    /// What the first write does first, once the run's checks have passed:
    /// until then the file and its end mark are as the run found them.
    pending: Pending,
}

/// What a resumed run changes before it adds to its records: its end mark,
/// its partial last line and its settings.
#[derive(Debug)]
struct Pending {
    /// The length of the records' whole lines, when a partial last line
    /// (a run killed while writing it) follows them.
    cut_to: Option<u64>,
    /// Whether the end mark may still be beside the file.
    marked: bool,
    /// The run's settings, with the note of their file
    /// ([`RecordFile::save_settings`]).
    settings: Option<(Settings, Option<String>)>,
}

impl RecordFile {
    /// Opens `path` for a run: a new file (refusing to overwrite unless
    /// resuming), or, with `resume`, the existing one with its rows read
    /// back, unchanged: whatever the caller then refuses, it leaves the
    /// records, their settings and their end mark as they were.
    ///
    /// The file stays locked (an advisory lock, which the system releases
    /// when the process ends, killed or not) while the run writes it: a
    /// second run given the same output, or a merge into it, stops at once
    /// instead of writing its records among the first one's. Before the
    /// first record is added (or the records are marked whole), the end
    /// mark of a finished file is removed and a partial last line cut off.
    pub fn open<R: Row>(path: &Path, resume: bool) -> anyhow::Result<(Self, Vec<R>)> {
        let format = Format::of(path)?;
        let (mut file, exists) = claim(path)?;
        if exists && !resume {
            let path = path.display().to_string();
            return Err(Worded::new(move |s| {
                format!(
                    "{path} already exists: pass {} to continue it, or choose another {}",
                    s.on(Setting::Resume),
                    s.name(Setting::Out)
                )
            })
            .into());
        }
        let (rows, cut_to) = if exists { read_back::<R>(path, format)? } else { (Vec::new(), None) };
        if !exists && let Some(header) = format.header::<R>() {
            writeln!(file, "{header}").with_context(|| format!("cannot write {}", path.display()))?;
        }
        let pending = Pending { cut_to, marked: exists, settings: None };
        let records = rows.len();
        Ok((RecordFile { path: path.to_owned(), format, file, records, created: !exists, pending }, rows))
    }

    /// Saves `settings` beside the records (`<records>.config.toml`, with
    /// `note`): at once beside records this run made, so that a new run
    /// that fails before its first record can still be resumed, and at the
    /// first write beside an earlier run's, so that a resumed run that
    /// passed the settings check with another batch, say, and then fails
    /// before its first record leaves the settings of the run that made
    /// the records.
    pub fn save_settings(&mut self, settings: &Settings, note: Option<&str>) -> anyhow::Result<()> {
        if self.created {
            return settings.save_beside(&self.path, note);
        }
        self.pending.settings = Some((settings.clone(), note.map(str::to_owned)));
        Ok(())
    }

    /// Makes the changes a run defers to its first write: its settings
    /// first, so that failing to write them changes nothing else; then the
    /// end mark, so that no mark ever describes records being changed;
    /// then the partial last line.
    fn start_writing(&mut self) -> anyhow::Result<()> {
        if let Some((settings, note)) = self.pending.settings.take() {
            settings.save_beside(&self.path, note.as_deref())?;
        }
        if self.pending.marked {
            let mark = CertificationFiles::new(&self.path).end_mark();
            remove_if_present(&mark).with_context(|| format!("cannot remove {}", mark.display()))?;
            self.pending.marked = false;
        }
        if let Some(len) = self.pending.cut_to.take() {
            self.file.set_len(len).with_context(|| format!("cannot truncate {}", self.path.display()))?;
        }
        Ok(())
    }

    /// Appends one row as a whole line and flushes it to the system.
    pub fn append<R: Row>(&mut self, row: &R) -> anyhow::Result<()> {
        self.start_writing()?;
        let mut line = self.format.line(row)?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).with_context(|| format!("cannot write {}", self.path.display()))?;
        self.file.flush().with_context(|| format!("cannot write {}", self.path.display()))?;
        self.records += 1;
        Ok(())
    }

    /// Marks the records as whole: the run made every record it was asked
    /// for. They are synced to the disk first, so the mark never describes
    /// records that a crash could still lose.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.start_writing()?;
        let cannot = || format!("cannot write {}", self.path.display());
        self.file.sync_all().with_context(cannot)?;
        let bytes = self.file.metadata().with_context(cannot)?.len();
        EndMark { records: self.records, bytes }.write(&self.path)
    }
}

/// Opens (creating it empty if needed) and locks the records file at
/// `path` for writing, and says whether it holds anything: an empty file
/// is one a writer created and stopped before its first line.
///
/// Every writer of records (a run, a merge) claims its file this way, so
/// two of them never write one file.
pub fn claim(path: &Path) -> anyhow::Result<(File, bool)> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // A reader checking whether the file is being written holds a shared
    // lock for an instant: a few tries tell it from a writer.
    let mut locked = file.try_lock();
    for _ in 0..5 {
        if !matches!(locked, Err(TryLockError::WouldBlock)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        locked = file.try_lock();
    }
    match locked {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let path = path.display().to_string();
            return Err(Worded::new(move |s| {
                format!(
                    "{path} is being written by another csrs run (it holds the file's lock): wait for it to end, \
                     or choose another {}",
                    s.name(Setting::Out)
                )
            })
            .into());
        }
        Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
    // A merge renames its finished file over the one it locked: a file
    // opened just before that rename is not the records any more.
    if !is_open_at(&file, path) {
        let path = path.display().to_string();
        let text = move |s: &dyn Spelling| {
            format!(
                "{path} was replaced by another csrs run while being opened: choose another {}",
                s.name(Setting::Out)
            )
        };
        return Err(Worded::new(text).into());
    }
    let exists = file.metadata().with_context(|| format!("cannot read {}", path.display()))?.len() > 0;
    Ok((file, exists))
}

/// What `<records>.end` holds: the records' count and length when their
/// run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndMark {
    pub records: usize,
    pub bytes: u64,
}

impl EndMark {
    /// Writes the end mark of the records at `records`.
    pub fn write(self, records: &Path) -> anyhow::Result<()> {
        let path = CertificationFiles::new(records).end_mark();
        let text = serde_json::to_string(&self)? + "\n";
        write_atomically(&path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
    }

    /// The end mark of the records at `records`, if they have one.
    fn read(records: &Path) -> anyhow::Result<Option<Self>> {
        let path = CertificationFiles::new(records).end_mark();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        let mark = serde_json::from_str(&text)
            .map_err(|err| anyhow!("{}: {err}, expected {{\"records\": N, \"bytes\": N}}", path.display()))?;
        Ok(Some(mark))
    }
}

/// The complete rows of an existing file, and the length of its whole
/// lines when a partial last line (the run was killed while writing it)
/// follows them; the file is not changed. A TSV file in the columns of an
/// earlier csrs is refused: appending this version's rows would mix two
/// layouts.
fn read_back<R: Row>(path: &Path, format: Format) -> anyhow::Result<(Vec<R>, Option<u64>)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Some(header) = format.header::<R>()
        && let Some(first) = bytes.split(|&b| b == b'\n').next()
        && first.strip_suffix(b"\r").unwrap_or(first) != header.as_bytes()
    {
        let path = path.display().to_string();
        return Err(Worded::new(move |s| {
            format!(
                "{path}: its columns are not those of this version of csrs (expected {header:?}): \
                 it can be analysed, but not resumed; choose another {}",
                s.name(Setting::Out)
            )
        })
        .into());
    }
    let complete = complete_len(&bytes);
    let rows = parse_rows(path, format, &bytes[..complete])?;
    Ok((rows, (complete < bytes.len()).then_some(complete as u64)))
}

/// What reading for reading's sake accepts of records that are not whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// Read their complete lines, saying so: a running job can be analysed.
    Read,
    /// Refuse them: their records are not all there.
    Refuse,
}

/// The complete rows of a record file, for reading only: the file is left
/// as it is. Records that are not whole are refused, or read with a note,
/// as `unfinished` says; records whose end mark they no longer match (cut
/// short or changed after their run ended) are refused.
///
/// What refuses a file is checked before its rows are read: its header
/// (a file that is not these records), its lock, its end mark and its
/// length, so that refusing a large file costs no more than a small one.
pub fn read_rows<R: Row>(path: &Path, unfinished: Unfinished) -> anyhow::Result<Vec<R>> {
    let format = Format::of(path)?;
    check_header::<R>(path, format)?;
    // The end mark of whole records, or why they are not whole.
    let whole = match EndMark::read(path)? {
        _ if is_locked(path)? => Err("is still being written by a csrs run (it holds the file's lock)"),
        None => Err("has no end mark: its run has not finished (stopped, or still going elsewhere), or was made \
                     by an earlier csrs"),
        Some(mark) => Ok(mark),
    };
    if let (Err(why), Unfinished::Refuse) = (whole, unfinished) {
        bail!("{} {why}: resume the run, or wait for it to end", path.display());
    }
    let cut_short = |mark: EndMark, found: String| {
        anyhow!(
            "{}: {found}, but its end mark {} says {} records in {} bytes: it was cut short or changed after its \
             run ended",
            path.display(),
            CertificationFiles::new(path).end_mark().display(),
            mark.records,
            mark.bytes
        )
    };
    let len = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    if let Ok(mark) = whole
        && mark.bytes != len
    {
        return Err(cut_short(mark, format!("{len} bytes")));
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let rows = parse_rows(path, format, &bytes[..complete_len(&bytes)])?;
    match whole {
        Ok(mark) if mark == (EndMark { records: rows.len(), bytes: bytes.len() as u64 }) => Ok(rows),
        Ok(mark) => Err(cut_short(mark, format!("{} records in {} bytes", rows.len(), bytes.len()))),
        Err(why) => {
            eprintln!("csrs: note: {} {why}; reading its {} complete records", path.display(), rows.len());
            Ok(rows)
        }
    }
}

/// Fails unless the first line of a TSV file at `path` is the header of
/// these records (possibly of an earlier csrs), reading that line only.
fn check_header<R: Row>(path: &Path, format: Format) -> anyhow::Result<()> {
    let Some(header) = format.header::<R>() else { return Ok(()) };
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    // A header is a few hundred bytes; what is longer is not one.
    let mut first = Vec::new();
    std::io::BufReader::new(file)
        .take(64 * 1024)
        .read_until(b'\n', &mut first)
        .with_context(|| format!("cannot read {}", path.display()))?;
    // An empty file, or a header still being written, holds no records.
    let Some(first) = first.strip_suffix(b"\n") else { return Ok(()) };
    let first = String::from_utf8_lossy(first.strip_suffix(b"\r").unwrap_or(first));
    header_columns::<R>(path, &first, &header).map(drop)
}

/// Whether a writer holds the lock of the records at `path`.
fn is_locked(path: &Path) -> anyhow::Result<bool> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    match file.try_lock_shared() {
        Ok(()) => Ok(false),
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// The length of the whole lines at the start of `bytes`.
fn complete_len(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

fn parse_rows<R: Row>(path: &Path, format: Format, bytes: &[u8]) -> anyhow::Result<Vec<R>> {
    let classes = classes_of_run(path);
    let text = std::str::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
    let mut lines = text.lines().enumerate();
    let mut columns = field_names::<R::Record>().to_vec();
    if let Some(header) = format.header::<R>()
        && let Some((_, found)) = lines.next()
    {
        columns = header_columns::<R>(path, found, &header)?;
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

/// The columns of the first line `found` of the TSV records at `path` when
/// it is this version's `header`, possibly without some of
/// [`Row::LATER_COLUMNS`] (records of an earlier csrs).
fn header_columns<R: Row>(path: &Path, found: &str, header: &str) -> anyhow::Result<Vec<&'static str>> {
    let found: Vec<&str> = found.split('\t').collect();
    let columns: Vec<&'static str> = field_names::<R::Record>()
        .iter()
        .copied()
        .filter(|column| found.contains(column) || !R::LATER_COLUMNS.contains(column))
        .collect();
    if columns != found {
        bail!("{}: line 1 is not the header of these records, expected {header:?}", path.display());
    }
    Ok(columns)
}

/// The record readers on arbitrary lines in both formats, cells drawn from
/// what records hold and what hand edits put there: never a panic, and every
/// refusal is one line.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::{CertifyRow, PredictRow};

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
