//! `csrs merge`: join the outputs of sharded runs into one file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::records::{Format, RawRecords, read_lines};

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
        let mut header: Option<Option<String>> = None;
        let mut rows: Vec<(usize, String, usize)> = Vec::new();
        for (input_idx, path) in self.inputs.iter().enumerate() {
            if Format::of(path)? != format {
                bail!("{}: another format than {}", path.display(), self.out.display());
            }
            let RawRecords { header: this_header, lines } = read_lines(path)?;
            match &header {
                Some(first) if *first != this_header => {
                    bail!("{}: header differs from {}", path.display(), self.inputs[0].display())
                }
                Some(_) => {}
                None => header = Some(this_header),
            }
            rows.extend(lines.into_iter().map(|(index, line)| (index, line, input_idx)));
        }
        rows.sort_by_key(|(index, _, _)| *index);
        if let Some(pair) = rows.windows(2).find(|w| w[0].0 == w[1].0) {
            let (a, b) = (&self.inputs[pair[0].2], &self.inputs[pair[1].2]);
            bail!("example {} is in both {} and {}", pair[0].0, a.display(), b.display());
        }
        let mut text = String::new();
        if let Some(Some(header)) = header {
            text.push_str(&header);
            text.push('\n');
        }
        for (_, line, _) in &rows {
            text.push_str(line);
            text.push('\n');
        }
        let mut file =
            std::fs::File::create(&self.out).with_context(|| format!("cannot create {}", self.out.display()))?;
        file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", self.out.display()))?;
        eprintln!("merged {} records from {} files into {}", rows.len(), self.inputs.len(), self.out.display());
        Ok(())
    }
}
