//! `csrs merge`: join the outputs of sharded runs into one file.

use std::path::PathBuf;

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
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  csrs merge --out results/all.tsv results/shard-0.tsv results/shard-1.tsv")]
pub(crate) struct Args {
    /// The merged file (.tsv or .jsonl, like the inputs); an existing one is refused unless --force, and an input always
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace an existing merged file (once the new one is whole)
    #[arg(long)]
    force: bool,
    /// The shard outputs
    #[arg(value_name = "FILE", required = true)]
    inputs: Vec<PathBuf>,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let count = csrs_records::merge(&self.inputs, &self.out, self.force)?;
        eprintln!("merged {count} records from {} files into {}", self.inputs.len(), self.out.display());
        Ok(())
    }
}
