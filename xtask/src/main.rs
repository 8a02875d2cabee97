//! Project automation, run as `cargo xtask <task>`.
//!
//! xtask links one csrs crate, `csrs-artifacts` (the names of a run's files
//! and atomic writes, without dependencies); everything else it runs through
//! cargo and the `csrs` binary, so automation stays quick to build.

mod bench_vs_onnx;
mod bench_vs_torch;
mod ci;
mod experiment;
mod slurm;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci                what CI runs: cargo fmt --check, clippy with -D warnings,
                    the tests, and a check that the CUDA build compiles
  experiment FILE [--device cpu|cuda[:N] | --devices cuda:0,cuda:1,...] [--jobs N]
                 [--dry-run]
                    a grid (configs/experiments/*.toml): train each method for
                    each cost matrix and sigma, certify, and write
                    results/NAME/report.md with a figure per table; finished
                    steps are skipped, stopped ones resume; --jobs runs up to N
                    csrs processes at once, each logging beside its outputs;
                    --devices runs one step per GPU at once (or --jobs spread
                    over them); --dry-run lists the commands, each marked
                    done, resume or run, and changes nothing
  slurm certify --config FILE --shards K [--gpus-per-task 0|1] [--cpus-per-task C]
                [--sbatch OPTION]... [--submit]
                    a certification (configs/certify/*.toml) as a Slurm job
                    array of K shards and a merge job after it, written to
                    <out>.shards/ with a submit.sh; running it again puts only
                    the unfinished shards in the array; --sbatch adds an
                    #SBATCH line (e.g. --partition=gpu) to both jobs
  bench-vs-torch [--models lenet5,cifar-resnet20,cifar-resnet110] [--batch 400]
                 [--rounds 2] [--device cpu|cuda] [--python PYTHON]
                    csrs's sampling throughput against PyTorch's (eager and
                    TorchScript-tuned) on the same models, alternating in one
                    run; needs PyTorch (not part of CI)
  bench-vs-onnx [--networks wrn16_4,lenet5,resnet20,resnet110,vgg11,resnet18] [--onnx FILE --dataset NAME]
                [--batch 400] [--rounds 2] [--python PYTHON]
                    csrs's engine against ONNX Runtime's CPU session on the
                    same ONNX file (and PyTorch eager on the module exported
                    to it), 2 threads each, alternating in one run; needs
                    onnxruntime and PyTorch (not part of CI)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("experiment") => experiment::run(&args[1..]),
        Some("slurm") => slurm::run(&args[1..]),
        Some("bench-vs-torch") => bench_vs_torch::run(&args[1..]),
        Some("bench-vs-onnx") => bench_vs_onnx::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown task {other:?}\n\n{USAGE}")),
        None => Err(anyhow::anyhow!("no task given\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether a task's arguments ask for its usage: `-h` or `--help` anywhere,
/// so that asking never starts the task's work. No task takes either as a
/// value, so reading them wherever they stand loses nothing.
fn asks_for_help(args: &[String]) -> bool {
    args.iter().any(|arg| arg == "-h" || arg == "--help")
}

/// The workspace root, found from this crate's manifest, not the current
/// directory.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_owned()
}

/// Runs `cargo <args>` in the workspace root, echoing the command.
fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run_in_root(Command::new(cargo), "cargo", args)
}

/// Runs `program <args>` (`command`, named `program`) in the workspace
/// root, echoing it; fails unless it succeeds.
fn run_in_root(mut command: Command, program: &str, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = command
        .args(args)
        .current_dir(project_root())
        .status()
        .with_context(|| format!("cannot run {program} {}", args.join(" ")))?;
    if !status.success() {
        bail!("{program} {} failed ({status})", args.join(" "));
    }
    Ok(())
}
