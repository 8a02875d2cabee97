//! `cargo xtask bench-vs-onnx`: csrs's engine against ONNX Runtime's CPU
//! session on the same ONNX file, and PyTorch eager on the module it was
//! exported from, alternating in one run on one machine, 2 threads each
//! (csrs takes the machine's cores; run it on a 2-core machine, or read the
//! ratio with that in mind).
//!
//! csrs: `csrs bench --model FILE.onnx` (release build). ONNX Runtime and
//! PyTorch: `scripts/onnx_sampling.py`, the same workload (one input
//! repeated, Gaussian noise, forward, arg-max, counts).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, anyhow, bail};

use crate::bench_vs_torch::{csrs_rate, output_of, script_value};
use crate::{asks_for_help, cargo, project_root};

const USAGE: &str = "usage: cargo xtask bench-vs-onnx [--networks wrn16_4,lenet5,resnet20,resnet110,vgg11,resnet18] \
[--onnx FILE --dataset NAME] [--batch 400] [--rounds 2] [--python python3]";

/// The script's name of a network, the dataset whose images it takes,
/// draws per measurement (at least two seconds of csrs's: shorter runs of
/// the small networks measured a third slower in some processes), and the
/// largest batch it is timed with (ResNet-18 on 224×224 images: 100,
/// csrs's smallest, one block of draws).
const NETWORKS: [(&str, &str, u64, u64); 6] = [
    ("wrn16_4", "digits", 200_000, u64::MAX),
    ("lenet5", "mnist", 200_000, u64::MAX),
    ("resnet20", "cifar10", 2_000, u64::MAX),
    ("resnet110", "cifar10", 400, u64::MAX),
    ("vgg11", "cifar10", 2_000, u64::MAX),
    ("resnet18", "imagenet", 600, 100),
];

struct Options {
    networks: Vec<String>,
    /// Another file, with the dataset of its inputs (no PyTorch module).
    file: Option<(PathBuf, String)>,
    batch: u64,
    rounds: usize,
    python: String,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        networks: NETWORKS.iter().map(|(name, ..)| (*name).to_owned()).collect(),
        file: None,
        batch: 400,
        rounds: 2,
        python: std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()),
    };
    let (mut file, mut dataset) = (None, None);
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().cloned().ok_or_else(|| anyhow!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--networks" => options.networks = value()?.split(',').map(str::to_owned).collect(),
            "--onnx" => file = Some(PathBuf::from(value()?)),
            "--dataset" => dataset = Some(value()?),
            "--batch" => options.batch = value()?.parse().context("--batch")?,
            "--rounds" => options.rounds = value()?.parse().context("--rounds")?,
            "--python" => options.python = value()?,
            _ => bail!("unknown argument {flag}\n{USAGE}"),
        }
    }
    options.file = match (file, dataset) {
        (Some(file), Some(dataset)) => {
            options.networks.clear();
            Some((file, dataset))
        }
        (None, None) => None,
        _ => bail!("--onnx and --dataset go together\n{USAGE}"),
    };
    if let Some(network) = options.networks.iter().find(|m| !NETWORKS.iter().any(|(name, ..)| name == m)) {
        let known: Vec<&str> = NETWORKS.iter().map(|(name, ..)| *name).collect();
        bail!("unknown network {network}, expected some of {}", known.join(","));
    }
    if options.rounds == 0 || options.batch < 100 {
        bail!("--rounds must be at least 1 and --batch at least 100");
    }
    Ok(options)
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if asks_for_help(args) {
        println!("{USAGE}");
        return Ok(());
    }
    let options = options(args)?;
    let probe = ["-c", "import onnxruntime, torch; print(onnxruntime.__version__, torch.__version__)"];
    let versions = match Command::new(&options.python).args(probe).output() {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        _ => bail!(
            "onnxruntime and PyTorch are not importable with {python}: make a virtual environment with them \
             (python3 -m venv .venv && .venv/bin/pip install onnxruntime onnx torch) and pass --python \
             .venv/bin/python (or set PYTHON); this comparison is not part of CI",
            python = options.python
        ),
    };
    cargo(&["build", "--release", "--package", "csrs-cli"])?;
    let root = project_root();
    let csrs = root.join("target/release/csrs");
    let script = root.join("scripts/onnx_sampling.py");
    let exports = root.join("target/bench-onnx");
    std::fs::create_dir_all(&exports).with_context(|| format!("cannot create {}", exports.display()))?;
    eprintln!(
        "csrs vs onnxruntime and torch ({versions}) on the CPU, batch {}, best of {} rounds",
        options.batch, options.rounds
    );

    let mut runs: Vec<Run> = Vec::new();
    for network in &options.networks {
        let &(name, dataset, draws, batch) = NETWORKS.iter().find(|(n, ..)| n == network).expect("checked");
        let file = if name == "wrn16_4" {
            root.join("crates/csrs-onnx/tests/data/wrn16_4.onnx")
        } else {
            let file = exports.join(format!("{name}.onnx"));
            output_of(Command::new(&options.python).arg(&script).args(["export", name]).arg(&file))?;
            file
        };
        let (label, dataset, batch) = (name.to_owned(), dataset.to_owned(), batch.min(options.batch));
        runs.push(Run { label, file, dataset, draws, batch, module: Some(name) });
    }
    if let Some((file, dataset)) = &options.file {
        let (label, dataset) = (file.display().to_string(), dataset.clone());
        runs.push(Run { label, file: file.clone(), dataset, draws: 2_000, batch: options.batch, module: None });
    }

    println!("| network | batch | csrs samples/s | onnxruntime | PyTorch eager | csrs / onnxruntime | csrs / eager |");
    println!("|---|---|---|---|---|---|---|");
    for Run { label, file, dataset, draws, batch, module } in runs {
        let draws = draws.max(batch).to_string();
        let batch = batch.to_string();
        let (mut ours, mut ort, mut eager) = (0.0f64, 0.0f64, 0.0f64);
        for _ in 0..options.rounds {
            let file_arg = file.display().to_string();
            let bench = ["bench", "--model", &file_arg, "--dataset", &dataset, "--batch", &batch, "--samples", &draws];
            ours = ours.max(csrs_rate(Command::new(&csrs).args(bench))?.samples);
            let text = output_of(Command::new(&options.python).arg(&script).args(["ort", &file_arg, &draws, &batch]))?;
            ort = ort.max(samples_per_s(&text)?);
            if let Some(module) = module {
                let args = ["eager", module, &draws, &batch];
                eager = eager.max(samples_per_s(&output_of(Command::new(&options.python).arg(&script).args(args))?)?);
            }
        }
        let (eager_rate, eager_ratio) = if module.is_some() {
            (format!("{eager:.0}"), format!("{:.2}x", ours / eager))
        } else {
            ("-".to_owned(), "-".to_owned())
        };
        println!("| {label} | {batch} | {ours:.0} | {ort:.0} | {eager_rate} | {:.2}x | {eager_ratio} |", ours / ort);
    }
    Ok(())
}

/// One network to time: its label, file, the dataset of its inputs, draws
/// per measurement, batch, and the PyTorch module it was exported from.
struct Run {
    label: String,
    file: PathBuf,
    dataset: String,
    draws: u64,
    batch: u64,
    module: Option<&'static str>,
}

/// The `samples/s=` field of a script's line.
fn samples_per_s(text: &str) -> anyhow::Result<f64> {
    script_value(text, "samples/s=").ok_or_else(|| anyhow!("the script printed no rate:\n{text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let parsed = options(&args(&["--networks", "resnet110", "--rounds", "3"])).unwrap();
        assert_eq!((parsed.networks.len(), parsed.rounds, parsed.batch), (1, 3, 400));
        let parsed = options(&args(&["--onnx", "net.onnx", "--dataset", "cifar10"])).unwrap();
        assert!(parsed.networks.is_empty() && parsed.file.is_some());
        let err = options(&args(&["--onnx", "net.onnx"])).err().unwrap().to_string();
        assert!(err.starts_with("--onnx and --dataset go together"), "{err}");
        let err = options(&args(&["--networks", "vgg16"])).err().unwrap().to_string();
        assert!(err.starts_with("unknown network vgg16"), "{err}");
        assert_eq!(options(&[]).unwrap().networks, ["wrn16_4", "lenet5", "resnet20", "resnet110", "vgg11", "resnet18"]);
    }

    #[test]
    fn the_scripts_rate_parses() {
        let line = "onnxruntime1.32.0 threads=2 batch=400 N=4000 samples/s=48461\n";
        assert_eq!(samples_per_s(line).unwrap(), 48461.0);
        assert!(samples_per_s("Traceback ...").is_err());
    }

    /// Asking for help is not an error, and neither builds nor probes.
    #[test]
    fn help_is_printed_not_refused() {
        run(&["--help".to_owned()]).unwrap();
    }
}
