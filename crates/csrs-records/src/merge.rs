//! Merging the records of sharded runs (`--shard i/k`) into one file: the
//! same records as one unsharded run.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use csrs_artifacts::{AtomicFile, CertificationFiles, Existing, OutputError, check_output, remove_if_present};

use crate::fields::field_names;
use crate::file::{EndMark, Unfinished, claim, read_rows};
use crate::predict::PredictRecord;
use crate::row::{Format, Row};
use crate::settings::Settings;
use crate::{CertifyRow, PredictRow};

/// Join the record files of a sharded run (--shard i/k) into one file,
/// ordered by example index: the same records as one unsharded run.
///
/// All inputs must have the same format and header, and be whole: each
/// shard's run ended (its end mark is beside it) and none is being written.
/// An example present in two inputs is an error.
///
/// The merged file is claimed with the records' lock (a second merge, or a
/// run, on the same --out stops at once), written under a temporary name
/// and renamed into place with its end mark and settings: a merge that is
/// killed or runs out of disk leaves no merged file, and running it again
/// starts afresh.
///
/// Returns the number of records merged.
///
/// # Errors
/// Inputs of another format than `out`, not whole, with an example in two
/// of them, or made with other settings; an `out` that exists (unless
/// `force`) or is one of the inputs; and what reading and writing say.
pub fn merge(inputs: &[PathBuf], out: &Path, force: bool) -> anyhow::Result<usize> {
    Merge { inputs, out, force }.run()
}

/// The inputs and output of a merge.
struct Merge<'a> {
    inputs: &'a [PathBuf],
    out: &'a Path,
    force: bool,
}

impl Merge<'_> {
    fn run(&self) -> anyhow::Result<usize> {
        let format = Format::of(self.out)?;
        if self.inputs.is_empty() {
            bail!("no records to merge into {}", self.out.display());
        }
        for path in self.inputs {
            if Format::of(path)? != format {
                bail!("{}: another format than {}", path.display(), self.out.display());
            }
        }
        let files = CertificationFiles::new(self.out);
        for output in files.outputs() {
            check_output(&output, self.inputs, Existing::Replace)?;
        }
        // Checked before the inputs are read, and again once the file is
        // claimed: another merge may have made it meanwhile. An empty file
        // is the claim of a merge that stopped before its end.
        let holds_records = || std::fs::metadata(self.out).is_ok_and(|m| m.len() > 0);
        if holds_records() && !self.force {
            return Err(OutputError::Exists { path: self.out.to_owned() }.into());
        }
        let settings = self.shared_settings()?;
        let (text, count) = if is_predict_records(&self.inputs[0], format)? {
            self.merged::<PredictRow>(format)?
        } else {
            self.merged::<CertifyRow>(format)?
        };
        let created = !self.out.exists();
        let (_lock, exists) = claim(self.out)?;
        if exists && !self.force {
            return Err(OutputError::Exists { path: self.out.to_owned() }.into());
        }
        let written = write_merged(&files, settings, &text, count);
        if written.is_err() && created && !holds_records() {
            // Leave nothing behind: the claim holds no records.
            let _ = std::fs::remove_file(self.out);
        }
        written?;
        Ok(count)
    }

    /// The settings the shards ran with, without the shard: the merged
    /// records' settings (the first shard's batch size, which changes no
    /// count). Shards run with other settings (another model, σ, seed, ...)
    /// are refused; without the settings of every shard there are none.
    fn shared_settings(&self) -> anyhow::Result<Option<Settings>> {
        let mut shared: Option<(Settings, &PathBuf)> = None;
        for path in self.inputs {
            let Some(settings) = Settings::of_run(path)? else { return Ok(None) };
            // The merged records are those of the unsharded run, which can
            // be resumed as such.
            let settings = settings.with("shard", "0/1");
            match &shared {
                None => shared = Some((settings, path)),
                Some((first, first_path)) => {
                    let same_batch = match first.get("batch") {
                        Some(batch) => settings.with("batch", batch.clone()),
                        None => settings,
                    };
                    if same_batch != *first {
                        bail!(
                            "{} and {} were made with other settings (see their .config.toml): they are not shards of one run",
                            first_path.display(),
                            path.display()
                        );
                    }
                }
            }
        }
        Ok(shared.map(|(settings, _)| settings))
    }

    /// The inputs' rows, each read and checked, as one file's text ordered
    /// by example index, with the number of rows.
    fn merged<R: Row>(&self, format: Format) -> anyhow::Result<(String, usize)> {
        let mut rows: Vec<(R, usize)> = Vec::new();
        for (input, path) in self.inputs.iter().enumerate() {
            rows.extend(read_rows::<R>(path, Unfinished::Refuse)?.into_iter().map(|row| (row, input)));
        }
        rows.sort_by_key(|(row, _)| row.index());
        if let Some(pair) = rows.windows(2).find(|w| w[0].0.index() == w[1].0.index()) {
            let (a, b) = (&self.inputs[pair[0].1], &self.inputs[pair[1].1]);
            bail!("example {} is in both {} and {}", pair[0].0.index(), a.display(), b.display());
        }
        let mut text = format.header::<R>().map(|header| header + "\n").unwrap_or_default();
        for (row, _) in &rows {
            text += &format.line(row)?;
            text.push('\n');
        }
        Ok((text, rows.len()))
    }
}

/// Whether a record file holds `predict` records rather than `certify`
/// ones, from its first line: the TSV header, or the JSONL keys.
fn is_predict_records(path: &Path, format: Format) -> anyhow::Result<bool> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut first = String::new();
    std::io::BufReader::new(file).read_line(&mut first).with_context(|| format!("cannot read {}", path.display()))?;
    let first = first.trim_end_matches('\n');
    Ok(match format {
        Format::Tsv => Some(first) == format.header::<PredictRow>().as_deref(),
        Format::Jsonl => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first)
            .is_ok_and(|keys| keys.keys().eq(field_names::<PredictRecord>())),
    })
}

/// Writes the merged records `text` (`count` of them) with their settings
/// and end mark. The records go to a temporary file first, synced, so a
/// full disk stops the merge before anything beside them changes; then the
/// end mark of what they replace goes, they are renamed into place, and
/// their settings and end mark follow. A merge stopped in between leaves
/// records without an end mark, which every reader refuses as unfinished.
fn write_merged(
    files: &CertificationFiles,
    settings: Option<Settings>,
    text: &str,
    count: usize,
) -> anyhow::Result<()> {
    let out = files.records();
    let cannot = || format!("cannot write {}", out.display());
    let mut records = AtomicFile::create(out).with_context(cannot)?;
    records.write_all(text.as_bytes()).with_context(cannot)?;
    records.sync().with_context(cannot)?;
    let remove = |path: PathBuf| remove_if_present(&path).with_context(|| format!("cannot remove {}", path.display()));
    remove(files.end_mark())?;
    records.commit().with_context(cannot)?;
    match settings {
        Some(settings) => settings.save_beside(out, None)?,
        // Settings of a merged file this merge replaced would not be its own.
        None => remove(files.resolved_config())?,
    }
    EndMark { records: count, bytes: text.len() as u64 }.write(out)
}
