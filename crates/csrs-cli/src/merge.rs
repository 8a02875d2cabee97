//! `csrs merge`: join the outputs of sharded runs into one file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::certify::CertifyRow;
use crate::predict::PredictRow;
use crate::records::{Format, Row, read_rows};

/// Join the record files of a sharded run (--shard i/k) into one file,
/// ordered by example index: the same records as one unsharded run.
///
/// All inputs must have the same format and header; an example present in
/// two inputs is an error.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  csrs merge --out results/all.tsv results/shard-0.tsv results/shard-1.tsv")]
pub(crate) struct Args {
    /// The merged file (.tsv or .jsonl, like the inputs); must not exist
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The shard outputs
    #[arg(value_name = "FILE", required = true)]
    inputs: Vec<PathBuf>,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let format = Format::of(&self.out)?;
        if self.out.exists() {
            bail!("{} already exists, expected a new file", self.out.display());
        }
        for path in &self.inputs {
            if Format::of(path)? != format {
                bail!("{}: another format than {}", path.display(), self.out.display());
            }
        }
        let (text, count) = if is_predict_records(&self.inputs[0], format)? {
            self.merged::<PredictRow>(format)?
        } else {
            self.merged::<CertifyRow>(format)?
        };
        let mut file =
            std::fs::File::create(&self.out).with_context(|| format!("cannot create {}", self.out.display()))?;
        file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", self.out.display()))?;
        eprintln!("merged {count} records from {} files into {}", self.inputs.len(), self.out.display());
        Ok(())
    }

    /// The inputs' rows, each read and checked, as one file's text ordered
    /// by example index, with the number of rows.
    fn merged<R: Row>(&self, format: Format) -> anyhow::Result<(String, usize)> {
        let mut rows: Vec<(R, usize)> = Vec::new();
        for (input, path) in self.inputs.iter().enumerate() {
            rows.extend(read_rows::<R>(path)?.into_iter().map(|row| (row, input)));
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
/// ones, from its first line.
fn is_predict_records(path: &Path, format: Format) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let first = text.lines().next().unwrap_or_default();
    Ok(match format {
        Format::Tsv => Some(first) == format.header::<PredictRow>().as_deref(),
        Format::Jsonl => format.parse::<PredictRow>(first).is_ok(),
    })
}
