//! `csrs cost`: validate a cost matrix file and show what it means.

use std::io::Write;
use std::path::PathBuf;

use csrs_cost::CostMatrix;

/// Validate a cost matrix (.toml or .csv) and print it with its seed classes,
/// sensitive sets and cost levels.
///
/// TOML files have `kind = "standard" | "seedwise" | "pairwise" | "matrix"`
/// and may name classes by index or by name; see configs/costs/ for
/// examples. An invalid file gives an error naming the key or line.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  csrs cost configs/costs/cifar10-seed-cat.toml")]
pub(crate) struct Args {
    /// The cost file
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The number of classes the matrix must have (e.g. the model's); also
    /// supplies it to files that name classes only by index
    #[arg(long, value_name = "N")]
    classes: Option<usize>,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let matrix = CostMatrix::load(&self.file, self.classes)?;
        let mut out = std::io::stdout().lock();
        let kind = if matrix.is_binary() { "binary" } else { "real-valued" };
        writeln!(out, "{}: {} classes, {kind} costs\n", self.file.display(), matrix.n_classes())?;
        writeln!(out, "{matrix}\n")?;
        let seeds = matrix.seeds();
        writeln!(out, "seed classes ({} of {}):", seeds.len(), matrix.n_classes())?;
        for seed in seeds {
            let row = matrix.row(seed);
            let harmful: Vec<String> =
                row.sensitive_set().map(|k| format!("{} ({})", matrix.class_label(k), row.cost(k))).collect();
            let levels: Vec<String> = row.levels().iter().map(f64::to_string).collect();
            writeln!(
                out,
                "  {}: harmful {}; cost levels {}",
                matrix.class_label(seed),
                harmful.join(", "),
                levels.join(", ")
            )?;
        }
        Ok(())
    }
}
