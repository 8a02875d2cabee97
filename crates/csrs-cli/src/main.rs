//! `csrs`: cost-sensitive certified robustness by randomized smoothing.
//!
//! Only this crate knows about the command line, terminals and exit codes:
//! it parses arguments, resolves options, shows progress and prints; the
//! libraries below it (`csrs-run`, `csrs-records`, `csrs-report` and those
//! they build on) do the work.

// The doc comments of the arguments are the command's `--help`, written
// for a terminal (`cuda[:N]`, `<out>.config.toml`), not rustdoc markup.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod analyze;
mod bench;
mod certify;
mod certify_counts;
mod cost;
mod flags;
mod io;
mod merge;
mod model;
mod options;
mod plan;
mod predict;
mod progress;
mod shard;
#[cfg(test)]
mod toml_fuzz;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sampling allocates and frees large tensors for every batch; the system
/// allocator hands that memory back to the kernel and faults it in again
/// each time (about a third of the run time on the digits CNN).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Cost-sensitive certified robustness by randomized smoothing.
///
/// A cost matrix says which mistakes of a classifier are harmful. csrs
/// certifies, for each input, a radius within which no l2 perturbation can
/// make the smoothed classifier output a harmful class, with failure
/// probability at most alpha.
#[derive(Debug, Parser)]
#[command(name = "csrs", version, about, long_about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Train(train::Args),
    Certify(certify::Args),
    Predict(predict::Args),
    CertifyCounts(certify_counts::Args),
    Merge(merge::Args),
    Model(model::Args),
    Cost(cost::Args),
    Analyze(analyze::Args),
    Bench(bench::Args),
    Plan(plan::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => args.run(),
        Command::Certify(args) => args.run(),
        Command::Predict(args) => args.run(),
        Command::CertifyCounts(args) => args.run(),
        Command::Merge(args) => args.run(),
        Command::Model(args) => args.run(),
        Command::Cost(args) => args.run(),
        Command::Analyze(args) => args.run(),
        Command::Bench(args) => args.run(),
        Command::Plan(args) => args.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`csrs ... | head`) is the reader's choice, not a failure.
        Err(err) if io::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("csrs: error: {}", flags::error_line(&err));
            ExitCode::from(2)
        }
    }
}
