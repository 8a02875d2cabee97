//! `cargo xtask bench-vs-torch`: csrs's sampler against PyTorch on the same
//! architectures, alternating in one run on one machine, so that the ratios
//! compare like with like (never absolute times from different runs).
//!
//! csrs: `csrs bench` (release build). PyTorch: `scripts/torch_sampling.py`,
//! the reference implementation's loop ("eager") and TorchScript frozen for
//! inference ("tuned"). Both draw, classify and count batches of noisy
//! copies of one input with untrained weights.

use std::process::Command;

use anyhow::{Context, anyhow, bail};

use crate::{asks_for_help, cargo, project_root};

const USAGE: &str = "usage: cargo xtask bench-vs-torch [--models lenet5,cifar-resnet20,cifar-resnet110] \
[--batch 400] [--rounds 2] [--device cpu|cuda] [--python python3]";

/// csrs's name, PyTorch script's name, and draws per measurement on a CPU.
const MODELS: [(&str, &str, u64); 5] = [
    ("lenet5", "lenet", 20_000),
    ("cifar-resnet20", "resnet20", 2_000),
    ("cifar-resnet56", "resnet56", 800),
    ("cifar-resnet110", "resnet110", 400),
    ("resnet50", "resnet50", 100),
];

struct Options {
    models: Vec<String>,
    batch: u64,
    rounds: usize,
    device: String,
    python: String,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        models: vec!["lenet5".into(), "cifar-resnet20".into(), "cifar-resnet110".into()],
        batch: 400,
        rounds: 2,
        device: "cpu".into(),
        python: std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().cloned().ok_or_else(|| anyhow!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--models" => options.models = value()?.split(',').map(str::to_owned).collect(),
            "--batch" => options.batch = value()?.parse().context("--batch")?,
            "--rounds" => options.rounds = value()?.parse().context("--rounds")?,
            "--device" => options.device = value()?,
            "--python" => options.python = value()?,
            _ => bail!("unknown argument {flag}\n{USAGE}"),
        }
    }
    if let Some(model) = options.models.iter().find(|m| !MODELS.iter().any(|(name, ..)| name == m)) {
        let known: Vec<&str> = MODELS.iter().map(|(name, ..)| *name).collect();
        bail!("unknown model {model}, expected some of {}", known.join(","));
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
    let probe = Command::new(&options.python).args(["-c", "import torch; print(torch.__version__)"]).output();
    let torch = match probe {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        _ => bail!(
            "PyTorch is not importable with {python}: make a virtual environment with it \
             (python3 -m venv .venv && .venv/bin/pip install torch torchvision) and pass \
             --python .venv/bin/python (or set PYTHON); this comparison is not part of CI",
            python = options.python
        ),
    };
    let cuda = options.device.starts_with("cuda");
    let mut build = vec!["build", "--release", "--package", "csrs-cli"];
    if cuda {
        build.extend(["--features", "cuda"]);
    }
    cargo(&build)?;
    let root = project_root();
    let csrs = root.join("target/release/csrs");
    let script = root.join("scripts/torch_sampling.py");
    let torch_device = if cuda { "cuda" } else { "cpu" };
    eprintln!(
        "csrs vs PyTorch {torch} on {}, batch {}, best of {} rounds",
        options.device, options.batch, options.rounds
    );

    println!("| model | csrs samples/s (GFLOP/s) | PyTorch eager | PyTorch tuned | csrs / eager | csrs / tuned |");
    println!("|---|---|---|---|---|---|");
    for model in &options.models {
        let &(name, torch_name, draws) = MODELS.iter().find(|(n, ..)| n == model).expect("checked");
        let draws = if cuda { draws * 20 } else { draws }.max(options.batch).to_string();
        let batch = options.batch.to_string();
        let (mut ours, mut eager, mut tuned) = (Rate::default(), Rate::default(), Rate::default());
        for _ in 0..options.rounds {
            let bench = ["bench", "--arch", name, "--batch", &batch, "--samples", &draws, "--device", &options.device];
            ours = ours.max(csrs_rate(Command::new(&csrs).args(bench))?);
            for (mode, best) in [("eager", &mut eager), ("tuned", &mut tuned)] {
                let args = [torch_name, &draws, &batch, mode, torch_device];
                *best = best.max(torch_rate(Command::new(&options.python).arg(&script).args(args))?);
            }
        }
        println!(
            "| {name} | {:.0} ({:.1}) | {:.0} ({:.1}) | {:.0} ({:.1}) | {:.2}x | {:.2}x |",
            ours.samples,
            ours.gflops,
            eager.samples,
            eager.gflops,
            tuned.samples,
            tuned.gflops,
            ours.samples / eager.samples,
            ours.samples / tuned.samples
        );
    }
    Ok(())
}

/// Samples and GFLOP per second of one measurement.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Rate {
    pub(crate) samples: f64,
    gflops: f64,
}

impl Rate {
    fn max(self, other: Rate) -> Rate {
        if other.samples > self.samples { other } else { self }
    }
}

pub(crate) fn output_of(command: &mut Command) -> anyhow::Result<String> {
    let shown = format!("{command:?}").replace('"', "");
    let output = command.output().with_context(|| format!("cannot run {shown}"))?;
    if !output.status.success() {
        bail!("{shown} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The rate in `csrs bench`'s table (its `samples_per_s` and `gflop_per_s`
/// columns).
pub(crate) fn csrs_rate(command: &mut Command) -> anyhow::Result<Rate> {
    let text = output_of(command)?;
    parse_csrs(&text).ok_or_else(|| anyhow!("csrs bench printed no rate:\n{text}"))
}

fn parse_csrs(text: &str) -> Option<Rate> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split('\t').collect();
    let row: Vec<&str> = lines.next()?.split('\t').collect();
    let column = |name: &str| -> Option<f64> { row.get(header.iter().position(|h| *h == name)?)?.parse().ok() };
    Some(Rate { samples: column("samples_per_s")?, gflops: column("gflop_per_s")? })
}

/// The rate in the PyTorch script's line (`samples/s=… GFLOP/s=…`).
fn torch_rate(command: &mut Command) -> anyhow::Result<Rate> {
    let text = output_of(command)?;
    parse_torch(&text).ok_or_else(|| anyhow!("the PyTorch script printed no rate:\n{text}"))
}

fn parse_torch(text: &str) -> Option<Rate> {
    Some(Rate { samples: script_value(text, "samples/s=")?, gflops: script_value(text, "GFLOP/s=")? })
}

/// The number after `key` in a script's `key=value` fields.
pub(crate) fn script_value(text: &str, key: &str) -> Option<f64> {
    text.split_whitespace().find_map(|field| field.strip_prefix(key)).and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_outputs_parse() {
        let csrs = "arch\tinput\tdevice\tengine\tbatch\tsamples\tseconds\tsamples_per_s\tgflop_per_s\tseconds_per_certificate\n\
                    lenet5\t1x28x28\tcpu\tnative\t400\t2000\t0.556\t3597\t3.0\t27.83\n";
        let rate = parse_csrs(csrs).unwrap();
        assert_eq!((rate.samples, rate.gflops), (3597.0, 3.0));
        let torch = "resnet110 eager cuda torch2.11.0+cu130 threads=16 batch=400 N=8000 samples/s=33378 \
                     MFLOP/sample=506.30 GFLOP/s=16899.5\n";
        let rate = parse_torch(torch).unwrap();
        assert_eq!((rate.samples, rate.gflops), (33378.0, 16899.5));
        assert!(parse_torch("Traceback ...").is_none());
    }

    #[test]
    fn options_are_checked() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let parsed = options(&args(&["--models", "lenet5,resnet50", "--rounds", "3"])).unwrap();
        assert_eq!((parsed.models.len(), parsed.rounds, parsed.batch), (2, 3, 400));
        let err = options(&args(&["--models", "vgg16"])).err().unwrap().to_string();
        assert!(err.starts_with("unknown model vgg16"), "{err}");
        assert!(options(&args(&["--batch"])).is_err());
    }

    /// Asking for help is not an error, and neither builds nor probes.
    #[test]
    fn help_is_printed_not_refused() {
        for line in [&["--help"][..], &["-h"], &["--models", "lenet5", "--help"]] {
            let line: Vec<String> = line.iter().map(|s| (*s).to_owned()).collect();
            run(&line).unwrap_or_else(|err| panic!("{line:?}: {err:#}"));
        }
    }
}
