//! `cargo xtask experiment FILE`: a grid of training methods × cost matrices
//! × noise levels on one or more datasets, trained, certified and compared in
//! one report with a figure per table (SPEC §7).
//!
//! Every step is a `csrs` command, run in the project root, whose inputs are
//! written next to its outputs (`train.toml`, the certify command line in
//! `<records>.key`). A step whose key matches and that finished (`.done`) is
//! skipped; one that started with the same key resumes; one whose key changed
//! starts again, and so do the certifications of a model trained again. A grid
//! can thus be stopped and restarted at any time, and edited; the paths in
//! keys are relative to the project root, so a moved checkout keeps its
//! finished steps. `--dry-run` says which of the three each step would do,
//! changing nothing.
//!
//! Runs are independent, and a run's certifications need only its model, so
//! `--jobs N` runs up to N `csrs` processes at once, each writing its output
//! to a `.log` beside its key; `--devices cuda:0,cuda:1` gives each process
//! a device of its own (one process per device unless `--jobs` says more).
//! Which GPU ran a step is not part of its key: the GPUs of one machine give
//! the same results.
//!
//! This module reads the command line; the grid file is read in [`grid`],
//! turned into steps in [`steps`], run by [`execute`](mod@execute) and summed up by
//! [`report`](mod@report).

mod execute;
mod grid;
mod report;
mod steps;

use std::fs;
use std::num::{IntErrorKind, NonZeroUsize, ParseIntError};
use std::path::Path;

use anyhow::{Context, anyhow, bail};

use crate::{asks_for_help, cargo, project_root};
use execute::{Output, execute, schedule_on};
use grid::{parse, runs};
use report::{FIGURES, analyze, report};
use steps::{chains, plan};

const USAGE: &str = "usage: cargo xtask experiment configs/experiments/NAME.toml [--device cpu|cuda[:N] | --devices cuda:0,cuda:1,...] [--jobs N] [--dry-run]";

/// The command line of `cargo xtask experiment`.
#[derive(Debug)]
struct Options {
    file: String,
    device: Option<String>,
    /// The devices steps run on at once, each on one.
    devices: Option<Vec<String>>,
    /// How many `csrs` processes may run at once (by default one per
    /// device).
    jobs: Option<NonZeroUsize>,
    dry_run: bool,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut file = None;
    let mut device = None;
    let mut devices = None;
    let mut jobs = None;
    let mut dry_run = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "--device" => device = Some(value()?.clone()),
            "--devices" => devices = Some(parse_devices(value()?)?),
            "--jobs" => jobs = Some(parse_jobs(value()?)?),
            other if other.starts_with("--") => bail!("unknown option {other}\n{USAGE}"),
            other if file.is_none() => file = Some(other.to_owned()),
            _ => bail!("{USAGE}"),
        }
    }
    let file = file.ok_or_else(|| anyhow!("{USAGE}"))?;
    if device.is_some() && devices.is_some() {
        bail!("--device and --devices both given: --devices lists every device, --device names one");
    }
    Ok(Options { file, device, devices, jobs, dry_run })
}

/// `cuda:0,cuda:1`: devices of one kind (results differ between the CPU
/// and a GPU), each named once.
fn parse_devices(value: &str) -> anyhow::Result<Vec<String>> {
    let devices: Vec<String> = value.split(',').map(|d| d.trim().to_owned()).collect();
    for device in &devices {
        check_device(device).with_context(|| format!("--devices {value}"))?;
    }
    if devices.iter().any(|d| device_kind(d) != device_kind(&devices[0])) {
        bail!("--devices {value}: the CPU and GPUs give different results; list GPUs only, or use --jobs on the CPU");
    }
    if let Some(twice) = devices.iter().enumerate().find(|(i, d)| devices[..*i].contains(d)).map(|(_, d)| d) {
        bail!("--devices {value}: {twice} is listed twice; --jobs runs more than one process per device");
    }
    Ok(devices)
}

fn check_device(device: &str) -> anyhow::Result<()> {
    let index = device.strip_prefix("cuda").map(|rest| rest.strip_prefix(':').map(str::parse::<usize>));
    match (device, index) {
        ("cpu", _) | (_, Some(None | Some(Ok(_)))) => Ok(()),
        _ => bail!("device {device:?}, expected \"cpu\" or \"cuda[:N]\""),
    }
}

/// What a device is as far as results go: `cpu` or `cuda`.
fn device_kind(device: &str) -> &str {
    if device == "cpu" { "cpu" } else { "cuda" }
}

fn parse_jobs(value: &str) -> anyhow::Result<NonZeroUsize> {
    value.parse().map_err(|err: ParseIntError| match err.kind() {
        IntErrorKind::Zero => anyhow!("--jobs must be at least 1 (the number of csrs processes run at once), got 0"),
        _ => anyhow!("--jobs needs a whole number of processes, got {value:?}"),
    })
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if asks_for_help(args) {
        println!("{USAGE}");
        return Ok(());
    }
    let options = options(args)?;
    let root = project_root();
    let path = root.join(&options.file);
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut grid = parse(&text, &path).with_context(|| path.display().to_string())?;
    if let Some(device) = options.device {
        check_device(&device).context("--device")?;
        grid.device = device;
    }
    let devices = options.devices.unwrap_or_else(|| vec![grid.device.clone()]);
    grid.device.clone_from(&devices[0]);
    let jobs = options.jobs.or(NonZeroUsize::new(devices.len())).expect("one device at least");
    let out = Path::new("results").join(&grid.name);
    let runs = runs(&grid, &out);
    let chains = chains(&grid, &runs);
    if options.dry_run {
        println!("# on {}, {jobs} at once", devices.join(", "));
        let device = if devices.len() == 1 { &devices[0] } else { device_kind(&devices[0]) };
        for line in plan(&root, &chains, device) {
            println!("{line}");
        }
        return Ok(());
    }

    if grid.device.starts_with("cuda") {
        cargo(&["build", "--release", "--package", "csrs-cli", "--features", "cuda"])?;
    } else {
        cargo(&["build", "--release", "--package", "csrs-cli"])?;
    }
    let csrs = root.join("target/release/csrs");
    let output = if jobs == NonZeroUsize::MIN { Output::Inherited } else { Output::LogFile };
    schedule_on(&chains, &devices, jobs, |step, device| execute(&csrs, &root, step, device, output))?;
    let figures = root.join(&out).join(FIGURES);
    fs::create_dir_all(&figures).with_context(|| format!("cannot create {}", figures.display()))?;
    let report = report(&root, &grid, &runs, &out, &options.file, |args| analyze(&csrs, &root, args))?;
    let report_path = root.join(&out).join("report.md");
    write(&report_path, &report)?;
    eprintln!("wrote {}", report_path.display());
    Ok(())
}

/// Writes a file whole or not at all, creating its folder: a key, a mark
/// or a report is never half there.
pub(crate) fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    csrs_artifacts::write_atomically(path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_is_a_positive_number_of_processes() {
        let options = |line: &str| options(&line.split_whitespace().map(String::from).collect::<Vec<_>>());
        assert_eq!(options("grid.toml").unwrap().jobs, None);
        let given = options("grid.toml --jobs 3 --dry-run").unwrap();
        assert!(given.jobs.map(NonZeroUsize::get) == Some(3) && given.dry_run && given.file == "grid.toml");
        let given = options("grid.toml --devices cuda:0,cuda:1,cuda").unwrap();
        assert_eq!(given.devices.unwrap(), ["cuda:0", "cuda:1", "cuda"]);
        for (line, message) in [
            ("grid.toml --jobs 0", "--jobs must be at least 1"),
            ("grid.toml --jobs two", "--jobs needs a whole number of processes, got \"two\""),
            ("grid.toml --jobs", "--jobs needs a value"),
            ("grid.toml --devices cuda:0,cpu", "list GPUs only"),
            ("grid.toml --devices cuda:0,cuda:0", "cuda:0 is listed twice"),
            ("grid.toml --devices cuda:x", "device \"cuda:x\", expected \"cpu\" or \"cuda[:N]\""),
            ("grid.toml --devices cuda:0 --device cuda:1", "--device and --devices both given"),
        ] {
            let err = format!("{:#}", options(line).unwrap_err());
            assert!(err.contains(message), "{line}: {err}");
        }
    }

    /// Asking for help is not an error, and reads no grid.
    #[test]
    fn help_is_printed_not_refused() {
        for line in ["--help", "-h", "configs/experiments/missing.toml --dry-run --help"] {
            run(&line.split_whitespace().map(String::from).collect::<Vec<_>>())
                .unwrap_or_else(|err| panic!("{line}: {err:#}"));
        }
    }
}
