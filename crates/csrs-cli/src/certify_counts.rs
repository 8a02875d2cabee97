//! `csrs certify-counts`: certificates from class counts, one JSON object per
//! line in and out.

use std::path::PathBuf;

use csrs_records::certify_counts;

use crate::io::{Input, Output};

/// Certify from class counts produced by any framework (JSONL in, JSONL out).
///
/// Each input line is a JSON object with `label` (the true class),
/// `cost_row` (row `label` of the cost matrix; all zeros for standard
/// certification), `sigma`, `alpha`, `selection_counts` (n0 draws that pick
/// the prediction) and `estimation_counts` (n independent draws that bound its
/// probability). Other keys are kept as they are.
///
/// Each output line is the input object plus `result`: `predicted`,
/// `abstain`, `p_lower`, `radius_std`, `radius_cs` and `certified_cost` (the
/// `[level, radius]` curve). `null` means abstain or not certified, "inf" an
/// infinite radius.
///
/// A malformed line stops the run with an error naming the line. Written to
/// standard output, every line before it has been printed; written to a
/// file (--output), the certificates appear only once every line is
/// certified, and an error leaves no file behind.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  csrs certify-counts --input examples/counts.jsonl")]
pub(crate) struct Args {
    /// JSONL file of counts [default: standard input]
    #[arg(long, short, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Where to write the certificates [default: standard output]; an existing file is refused unless --force, and the input never
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace an existing --output file (once every line is certified)
    #[arg(long)]
    force: bool,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let inputs: Vec<&std::path::Path> = self.input.as_deref().into_iter().collect();
        let mut output = Output::create(self.output.as_deref(), &inputs, self.force)?;
        let mut input = Input::open(self.input.as_deref())?;
        certify_counts(&mut *input.reader, &input.name, &mut output)?;
        output.finish()
    }
}
