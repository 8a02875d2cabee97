//! The options of `certify` and `predict`: from the command line, from a
//! TOML file (`--config`), or both (the command line wins).

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use csrs_artifacts::CertificationFiles;
use csrs_data::DatasetName;
use csrs_models::Architecture;
use csrs_sampling::NoiseKind;
use csrs_stats::{Alpha, Sigma};
use serde::{Deserialize, Serialize};

use crate::device::DeviceChoice;
use crate::fields;
use crate::import::ImportOptions;

/// Every option; `None` means "not given here".
#[derive(Debug, Default, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// TOML file setting any option below by its long name (e.g. `sigma = 0.25`); flags given on the command line win. Paths in it are relative to the working directory, as on the command line (not to the file's folder)
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub(crate) config: Option<PathBuf>,
    /// Checkpoint (path with or without .json/.mpk), or a PyTorch checkpoint (.pth, .pth.tar, .pt) or .safetensors file, imported on the fly
    #[arg(long, value_name = "PATH")]
    pub(crate) model: Option<PathBuf>,
    /// Architecture of a PyTorch or safetensors --model (default: the file's `arch` entry, when it has one)
    #[arg(long, value_name = "NAME")]
    pub(crate) arch: Option<Architecture>,
    /// Input normalisation mean of a PyTorch --model, per channel (default: the dataset's)
    #[arg(long, value_name = "M,M,M", value_delimiter = ',')]
    pub(crate) mean: Option<Vec<f32>>,
    /// Input normalisation std of a PyTorch --model, per channel (default: the dataset's)
    #[arg(long, value_name = "S,S,S", value_delimiter = ',')]
    pub(crate) std: Option<Vec<f32>>,
    /// Dataset: digits, mnist-5k, mnist, cifar10, cifar100, imagenette, imagenet, ham10000 (its test split is used)
    #[arg(long, value_name = "NAME")]
    pub(crate) dataset: Option<String>,
    /// Folder of a dataset that is not embedded
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Cost matrix (.toml or .csv); without it, certification is Cohen's (standard)
    #[arg(long, value_name = "FILE")]
    pub(crate) cost: Option<PathBuf>,
    /// Noise level sigma, in pixel units (pixels in [0, 1])
    #[arg(long)]
    pub(crate) sigma: Option<f64>,
    /// Noise: gaussian (x + delta in floating point, as in the literature) or sound (the input rounded to the 1/255 grid, and the noise drawn on that grid from integers, so that certificates hold in floating-point arithmetic; the certificate is then of the rounded input) [default: gaussian]
    #[arg(long, value_name = "gaussian|sound")]
    pub(crate) noise: Option<NoiseKind>,
    /// Selection draws that choose the prediction [default: 100]
    #[arg(long)]
    pub(crate) n0: Option<u64>,
    /// Estimation draws that bound its probability; with --target-radius or --radius-tolerance, the most drawn per input [default: 100000]
    #[arg(long)]
    pub(crate) n: Option<u64>,
    /// Draw in rounds (the first of 100 draws, each next one doubling the total; the rounds of up to --batch/100 inputs share each forward pass) and stop as soon as it is known whether the input is certified at radius R, by the standard and by the cost-sensitive certificate: certified, or out of reach of more draws. The bounds are anytime-valid, so every certificate still holds with probability 1 - alpha
    #[arg(long, value_name = "R", conflicts_with = "radius_tolerance")]
    pub(crate) target_radius: Option<f64>,
    /// Draw in rounds, as --target-radius, and stop once each certified radius is within T of the largest radius more draws could reach
    #[arg(long, value_name = "T")]
    pub(crate) radius_tolerance: Option<f64>,
    /// Failure probability of each certificate [default: 0.001]
    #[arg(long)]
    pub(crate) alpha: Option<f64>,
    /// Noisy copies per forward pass, in whole blocks of 100 [default: 1000]
    #[arg(long)]
    pub(crate) batch: Option<usize>,
    /// Output file: .tsv (with a header) or .jsonl, one record per example, appended as each is made; an existing file is refused unless --resume, and <out>.end marks the records whole once the run ends
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Certify every K-th example (index divisible by K) [default: 1]
    #[arg(long, value_name = "K")]
    pub(crate) skip: Option<usize>,
    /// Stop before example index M
    #[arg(long, value_name = "M")]
    pub(crate) max: Option<usize>,
    /// Only examples with index % k == i (0 <= i < k), to split a run over machines; auto: i and k from the scheduler's environment (a Slurm job array's SLURM_ARRAY_TASK_ID, _MIN and _COUNT, or with --shards K its SLURM_ARRAY_TASK_ID; a Kubernetes Indexed Job's JOB_COMPLETION_INDEX with --shards K)
    #[arg(long, value_name = "i/k|auto")]
    pub(crate) shard: Option<String>,
    /// The number of shards of --shard auto: needed with Kubernetes; with Slurm, the array's task ids are then the shard indices, so an array of some ids reruns those shards
    #[arg(long, value_name = "K")]
    #[serde(skip)]
    pub(crate) shards: Option<usize>,
    /// Seed of the noise; example i always gets the same noise for a seed [default: 0]
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// cpu, or cuda[:N] when built with the cuda feature [default: cpu]
    #[arg(long)]
    pub(crate) device: Option<String>,
    /// How the CPU runs the model: native (the compiled engine), burn, or auto (native on the CPU, burn on a GPU); Gaussian noise, and so the counts, differ between the two (sound noise is the same) [default: auto]
    #[arg(long, value_name = "auto|native|burn")]
    pub(crate) engine: Option<EngineChoice>,
    /// Continue an interrupted run: keep the records in --out and add the missing examples (refused when the settings differ from those in <out>.config.toml, or when that file is missing)
    #[arg(long)]
    #[serde(default, skip_serializing)]
    pub(crate) resume: bool,
    /// With --resume, continue records whose <out>.config.toml is missing, taking this run's settings as theirs (nothing can check that they were made with the same model, sigma and cost)
    #[arg(long, requires = "resume")]
    #[serde(skip)]
    pub(crate) adopt_settings: bool,
}

macro_rules! prefer_first {
    ($first:expr, $second:expr; $($field:ident),*) => {
        Options {
            config: None,
            resume: $first.resume || $second.resume,
            adopt_settings: $first.adopt_settings,
            shards: $first.shards,
            $($field: $first.$field.or($second.$field)),*
        }
    };
}

/// The most draws per input that --n and --n0 take each: 2³⁰, about 10⁹,
/// the most `csrs plan` considers ([`csrs_stats::plan::MAX_DRAWS`]). That is
/// ten thousand times a paper-scale certificate (10⁵ draws), some fifteen
/// hours per input at 20 000 samples/s, and n0 + n stays far from
/// overflowing the counters.
pub(crate) const MAX_DRAWS: u64 = csrs_stats::plan::MAX_DRAWS;

/// The most noisy copies per forward pass (--batch): 2²⁰. The per-copy
/// buffers (noise, logits, predicted classes) grow with it, whatever the
/// input's size.
pub(crate) const MAX_BATCH: usize = 1 << 20;

/// The most bytes of noisy inputs one forward pass holds: --batch × the
/// input's values × 4 bytes (f32) at most 4 GiB, e.g. 7 133 copies of a
/// 3×224×224 image or 349 525 of a 3×32×32 one. The network's activations
/// come on top, so a device may hold fewer; this bounds what a mistyped
/// batch asks for before anything is allocated.
pub(crate) const MAX_BATCH_BYTES: u64 = 1 << 32;

/// Refuses a batch (`flag` names it in the message) above [`MAX_BATCH`]
/// copies, or above [`MAX_BATCH_BYTES`] of noisy copies of `input_len`
/// values each.
pub(crate) fn check_batch(flag: &str, batch: usize, input_len: usize) -> anyhow::Result<()> {
    if batch > MAX_BATCH {
        bail!("{flag} {batch}, expected at most {MAX_BATCH} noisy copies per forward pass");
    }
    let bytes = (batch as u64).saturating_mul(input_len as u64).saturating_mul(4);
    if bytes > MAX_BATCH_BYTES {
        bail!(
            "{flag} {batch} of {input_len}-value inputs needs {bytes} bytes of noisy copies, expected at most {MAX_BATCH_BYTES} ({flag} {} or fewer)",
            MAX_BATCH_BYTES / 4 / (input_len as u64).max(1)
        );
    }
    Ok(())
}

impl Options {
    /// The command-line options completed by the `--config` file, if any.
    pub(crate) fn with_config_file(self) -> anyhow::Result<Self> {
        let Some(path) = &self.config else { return Ok(self) };
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let table: toml::Table =
            text.parse().map_err(|err: toml::de::Error| anyhow!("{}: {}", path.display(), err.message().trim()))?;
        let file: Options =
            fields::deserialize(toml::Value::Table(table)).with_context(|| path.display().to_string())?;
        let merged = prefer_first!(self, file; model, arch, mean, std, dataset, data_dir, cost, sigma, noise, n0, n, target_radius, radius_tolerance, alpha, batch, out, skip, max, shard, seed, device, engine);
        // A resolved config is a --config: a run given its own must not
        // write over it.
        if let Some(out) = &merged.out {
            for output in CertificationFiles::new(out).outputs() {
                csrs_artifacts::check_output(&output, &[path], csrs_artifacts::Existing::Replace)?;
            }
        }
        Ok(merged)
    }

    /// Fails when an option the command does not use was given.
    pub(crate) fn reject(&self, command: &str, unused: &[(&str, bool)]) -> anyhow::Result<()> {
        match unused.iter().find(|(_, given)| *given) {
            Some((name, _)) => bail!("--{name} is not an option of {command}"),
            None => Ok(()),
        }
    }

    /// The settings shared by every sampling run.
    pub(crate) fn resolve_run(&self) -> anyhow::Result<RunSettings> {
        let required = |name: &str| anyhow!("--{name} is required (on the command line or in --config)");
        let dataset: DatasetName = self.dataset.as_deref().ok_or_else(|| required("dataset"))?.parse()?;
        let (shard, shard_source) = match self.shard.as_deref() {
            None => (Shard { index: 0, count: 1 }, None),
            Some("auto") => {
                let (shard, source) = Shard::from_environment(self.shards, |name| std::env::var(name).ok())?;
                (shard, Some(source))
            }
            Some(text) => (text.parse()?, None),
        };
        if self.shards.is_some() && self.shard.as_deref() != Some("auto") {
            bail!("--shards is for --shard auto");
        }
        let device = match &self.device {
            None => DeviceChoice::Cpu,
            Some(text) => text.parse().map_err(|err: String| anyhow!("--device: {err}"))?,
        };
        let skip = self.skip.unwrap_or(1);
        if skip == 0 {
            bail!("--skip is 0, expected at least 1");
        }
        let batch = self.batch.unwrap_or(1000);
        if batch == 0 {
            bail!("--batch is 0, expected at least 1");
        }
        check_batch("--batch", batch, dataset.shape().len())?;
        let n = self.n.unwrap_or(100_000);
        if n == 0 {
            bail!("--n is 0, expected at least one draw");
        }
        for (name, draws) in [("n", Some(n)), ("n0", self.n0)] {
            if let Some(draws) = draws.filter(|&draws| draws > MAX_DRAWS) {
                bail!("--{name} {draws}, expected at most {MAX_DRAWS} draws per input");
            }
        }
        Ok(RunSettings {
            model: self.model.clone().ok_or_else(|| required("model"))?,
            import: ImportOptions { arch: self.arch, mean: self.mean.clone(), std: self.std.clone() },
            dataset,
            data_dir: self.data_dir.clone(),
            sigma: Sigma::new(self.sigma.ok_or_else(|| required("sigma"))?).context("--sigma")?,
            noise: self.noise.unwrap_or_default(),
            alpha: Alpha::new(self.alpha.unwrap_or(0.001)).context("--alpha")?,
            n,
            batch,
            out: self.out.clone().ok_or_else(|| required("out"))?,
            skip,
            max: self.max,
            shard,
            shard_source,
            seed: self.seed.unwrap_or(0),
            device,
            engine: self.engine.unwrap_or_default(),
            resume: self.resume,
            adopt_settings: self.adopt_settings,
        })
    }
}

/// One k-th of the examples: those with index % count == index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) index: usize,
    pub(crate) count: usize,
}

impl Shard {
    /// The shard a scheduler gives this process, and a line saying where it
    /// came from. A Slurm job array's task is shard `SLURM_ARRAY_TASK_ID`
    /// of `shards` when that is given, so that an array of some indices
    /// (`--array=1,3`) reruns just those shards; without it, the array is
    /// the whole run: its task counted from the first
    /// (`SLURM_ARRAY_TASK_MIN`) of `SLURM_ARRAY_TASK_COUNT`. A Kubernetes
    /// Indexed Job's completion index is shard `JOB_COMPLETION_INDEX` of
    /// `shards`.
    fn from_environment(
        shards: Option<usize>,
        var: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<(Shard, String)> {
        let number = |name: &str| -> anyhow::Result<Option<usize>> {
            var(name)
                .map(|text| {
                    text.trim().parse().map_err(|_| anyhow!("--shard auto: {name} is {text:?}, expected a number"))
                })
                .transpose()
        };
        let required = |name: &str| number(name)?.ok_or_else(|| anyhow!("--shard auto: {name} is not set"));
        let (index, count, source) = match (number("SLURM_ARRAY_TASK_ID")?, shards) {
            (Some(task), Some(count)) => (task, count, format!("SLURM_ARRAY_TASK_ID {task} of --shards {count}")),
            (Some(task), None) => {
                let first = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                let count = required("SLURM_ARRAY_TASK_COUNT")?;
                let index = task.checked_sub(first).ok_or_else(|| {
                    anyhow!("--shard auto: SLURM_ARRAY_TASK_ID {task} is below SLURM_ARRAY_TASK_MIN {first}")
                })?;
                (index, count, format!("SLURM_ARRAY_TASK_ID {task} of {count} from {first}"))
            }
            (None, _) => match number("JOB_COMPLETION_INDEX")? {
                Some(index) => {
                    let count =
                        shards.ok_or_else(|| anyhow!("--shard auto with JOB_COMPLETION_INDEX needs --shards K"))?;
                    (index, count, format!("JOB_COMPLETION_INDEX {index} of --shards {count}"))
                }
                None => bail!(
                    "--shard auto: no shard in the environment (SLURM_ARRAY_TASK_ID of a Slurm job array, or JOB_COMPLETION_INDEX of a Kubernetes Indexed Job with --shards K)"
                ),
            },
        };
        if index >= count {
            bail!("--shard auto: shard {index} of {count} ({source}), expected fewer than {count}");
        }
        Ok((Shard { index, count }, source))
    }
}

impl std::str::FromStr for Shard {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        let parsed = text.split_once('/').and_then(|(i, k)| Some((i.parse().ok()?, k.parse().ok()?)));
        match parsed {
            Some((index, count)) if index < count => Ok(Shard { index, count }),
            _ => bail!("--shard {text:?}, expected i/k with 0 <= i < k, e.g. 0/4"),
        }
    }
}

/// The validated settings of a sampling run.
#[derive(Debug, Clone)]
pub(crate) struct RunSettings {
    pub(crate) model: PathBuf,
    pub(crate) import: ImportOptions,
    pub(crate) dataset: DatasetName,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) sigma: Sigma,
    pub(crate) noise: NoiseKind,
    pub(crate) alpha: Alpha,
    pub(crate) n: u64,
    pub(crate) batch: usize,
    pub(crate) out: PathBuf,
    pub(crate) skip: usize,
    pub(crate) max: Option<usize>,
    pub(crate) shard: Shard,
    /// Where `--shard auto` found the shard, for the resolved settings.
    pub(crate) shard_source: Option<String>,
    pub(crate) seed: u64,
    pub(crate) device: DeviceChoice,
    pub(crate) engine: EngineChoice,
    pub(crate) resume: bool,
    /// Resume records without resolved settings, adopting these.
    pub(crate) adopt_settings: bool,
}

/// Which implementation classifies the noisy copies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum EngineChoice {
    /// The compiled engine on the CPU, burn on a GPU.
    #[default]
    Auto,
    /// The compiled CPU engine (csrs-engine), with Philox noise.
    Native,
    /// burn's forward pass on the chosen device, with burn's noise.
    Burn,
}

impl EngineChoice {
    /// Whether this choice runs the compiled CPU engine on `device` (auto:
    /// on the CPU only).
    ///
    /// # Errors
    /// `native` with a GPU.
    pub(crate) fn is_native_on(self, device: DeviceChoice) -> anyhow::Result<bool> {
        match (self, device) {
            (EngineChoice::Native, DeviceChoice::Cuda(_)) => {
                bail!("--engine native runs on the CPU; use --device cpu, or --engine burn (or auto) on the GPU")
            }
            (EngineChoice::Native | EngineChoice::Auto, DeviceChoice::Cpu) => Ok(true),
            (EngineChoice::Burn, _) | (EngineChoice::Auto, DeviceChoice::Cuda(_)) => Ok(false),
        }
    }
}

impl RunSettings {
    /// The example indices of this run, in order, out of `len`.
    pub(crate) fn examples(&self, len: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.max.map_or(len, |max| max.min(len)))
            .filter(|i| i % self.skip == 0)
            .filter(|i| i % self.shard.count == self.shard.index)
    }

    /// These settings as options, every default filled in: what
    /// `<out>.config.toml` holds, and what `--config` reads back to run
    /// them again (with another `--out`).
    pub(crate) fn as_options(&self) -> Options {
        Options {
            config: None,
            model: Some(self.model.clone()),
            arch: self.import.arch,
            mean: self.import.mean.clone(),
            std: self.import.std.clone(),
            dataset: Some(self.dataset.as_str().to_owned()),
            data_dir: self.data_dir.clone(),
            cost: None,
            sigma: Some(self.sigma.get()),
            noise: Some(self.noise),
            n0: None,
            n: Some(self.n),
            target_radius: None,
            radius_tolerance: None,
            alpha: Some(self.alpha.get()),
            batch: Some(self.batch),
            out: None,
            skip: Some(self.skip),
            max: self.max,
            shard: Some(format!("{}/{}", self.shard.index, self.shard.count)),
            shards: None,
            seed: Some(self.seed),
            device: Some(self.device.to_string()),
            engine: Some(self.engine),
            resume: false,
            adopt_settings: false,
        }
    }
}

/// The settings that decide what a record certifies: a resumed run must
/// keep them, or one file would hold certificates of different smoothed
/// classifiers, draws or tests.
const DECISIVE: &[&str] = &[
    "model",
    "arch",
    "mean",
    "std",
    "dataset",
    "cost",
    "sigma",
    "noise",
    "n0",
    "n",
    "target_radius",
    "radius_tolerance",
    "alpha",
    "seed",
    // Another shard's examples in one file would be merged twice.
    "shard",
];

impl Options {
    /// Fails, naming the first setting that differs, unless these resolved
    /// options continue the run that `earlier` (its saved settings)
    /// started. Settings saved before `noise` existed were Gaussian.
    pub(crate) fn check_continues(&self, earlier: Options) -> anyhow::Result<()> {
        let earlier = Options { noise: Some(earlier.noise.unwrap_or_default()), ..earlier };
        let table = |options: &Options| toml::Table::try_from(options).context("cannot compare the settings");
        let (then, now) = (table(&earlier)?, table(self)?);
        let shown = |value: Option<&toml::Value>| value.map_or_else(|| "unset".to_owned(), ToString::to_string);
        match DECISIVE.iter().find(|key| then.get(**key) != now.get(**key)) {
            Some(key) => bail!(
                "--resume: the records were made with {key} {}, this run has {}; resume with the same settings, or choose another --out",
                shown(then.get(*key)),
                shown(now.get(*key))
            ),
            None => Ok(()),
        }
    }

    /// Writes these options beside the run's records, as
    /// `<out>.config.toml`, with `note` as a comment under its first line.
    pub(crate) fn save_beside(&self, out: &Path, note: Option<&str>) -> anyhow::Result<()> {
        let path = CertificationFiles::new(out).resolved_config();
        let text = toml::to_string(self).with_context(|| format!("cannot write {}", path.display()))?;
        let note = note.map_or_else(String::new, |note| format!("# {note}\n"));
        let text = format!("# Settings of the run that wrote the records beside this file.\n{note}{text}");
        csrs_artifacts::write_atomically(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--shard auto` under a fake environment.
    fn shard_from(shards: Option<usize>, vars: &[(&str, &str)]) -> anyhow::Result<(Shard, String)> {
        Shard::from_environment(shards, |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn shards_come_from_the_schedulers_environment() {
        // A Slurm array 1-4: task 3 is the third shard (index 2) of 4.
        let slurm = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")];
        let (shard, source) = shard_from(None, &slurm).unwrap();
        assert_eq!(shard, Shard { index: 2, count: 4 });
        assert_eq!(source, "SLURM_ARRAY_TASK_ID 3 of 4 from 1");
        // With --shards, the task id is the shard: an array of some
        // indices reruns those shards.
        let rerun = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "2")];
        let (shard, source) = shard_from(Some(4), &rerun).unwrap();
        assert_eq!(shard, Shard { index: 3, count: 4 });
        assert_eq!(source, "SLURM_ARRAY_TASK_ID 3 of --shards 4");
        // Kubernetes gives the index only.
        let (shard, _) = shard_from(Some(5), &[("JOB_COMPLETION_INDEX", "4")]).unwrap();
        assert_eq!(shard, Shard { index: 4, count: 5 });

        for (shards, vars, message) in [
            (None, &[][..], "--shard auto: no shard in the environment"),
            (None, &[("JOB_COMPLETION_INDEX", "0")][..], "needs --shards K"),
            (Some(2), &[("JOB_COMPLETION_INDEX", "2")][..], "shard 2 of 2 (JOB_COMPLETION_INDEX 2 of --shards 2)"),
            (None, &[("SLURM_ARRAY_TASK_ID", "1")][..], "SLURM_ARRAY_TASK_COUNT is not set"),
            (Some(3), &[("SLURM_ARRAY_TASK_ID", "3")][..], "shard 3 of 3 (SLURM_ARRAY_TASK_ID 3 of --shards 3)"),
            (None, &[("SLURM_ARRAY_TASK_ID", "x")][..], "SLURM_ARRAY_TASK_ID is \"x\", expected a number"),
            (
                None,
                &[("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "2")][..],
                "SLURM_ARRAY_TASK_ID 0 is below SLURM_ARRAY_TASK_MIN 1",
            ),
        ] {
            let err = format!("{:#}", shard_from(shards, vars).unwrap_err());
            assert!(err.contains(message), "{err}");
        }
    }

    /// The resolved options read back as `--config` give the same options,
    /// whatever characters the paths hold.
    #[test]
    fn resolved_options_round_trip_through_config() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("records.tsv");
        let odd = |name: &str| PathBuf::from(format!(r#"runs/"quoted" back\slash 'single' naïve 模型 {name}"#));
        let written = Options {
            model: Some(odd("model")),
            arch: Some(Architecture::CifarResnet20),
            mean: Some(vec![0.4914, 0.4822, 0.4465]),
            std: Some(vec![0.2023, 0.1994, 0.201]),
            dataset: Some("cifar10".into()),
            data_dir: Some(odd("data")),
            cost: Some(odd("cost.toml")),
            sigma: Some(0.25),
            noise: Some(NoiseKind::Sound),
            n0: Some(100),
            n: Some(100_000),
            alpha: Some(0.001),
            batch: Some(400),
            skip: Some(20),
            max: Some(500),
            shard: Some("1/4".into()),
            seed: Some(7),
            device: Some("cuda:1".into()),
            engine: Some(EngineChoice::Burn),
            ..Options::default()
        };
        written.save_beside(&out, None).unwrap();
        let config = CertificationFiles::new(&out).resolved_config();
        let read = Options { config: Some(config), ..Options::default() }.with_config_file().unwrap();
        assert_eq!(format!("{read:?}"), format!("{written:?}"));
    }
}

/// `--config` files mutated from the shipped ones: never a panic, and every
/// refusal is one line.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fields::toml_fuzz::{mutated, value};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn mutated_configs_never_panic(which in 0..10usize, line in 0..40usize, value in value(), cut in 0.0..1.2f64) {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/certify");
            let mut shipped: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
            shipped.sort();
            let text = std::fs::read_to_string(&shipped[which % shipped.len()]).unwrap();
            let scratch = tempfile::tempdir().unwrap();
            let path = scratch.path().join("c.toml");
            for candidate in mutated(&text, line, &value, cut) {
                std::fs::write(&path, candidate).unwrap();
                let options = Options { config: Some(path.clone()), ..Options::default() };
                if let Err(err) = options.with_config_file().and_then(|options| options.resolve_run()) {
                    let message = format!("{err:#}");
                    prop_assert!(!message.contains('\n') && !message.is_empty(), "{message:?}");
                }
            }
        }
    }
}

/// The sizes a run takes from flags, up to 2⁶⁴: refused by name, on one
/// line, beyond their limits, before anything is allocated.
#[cfg(test)]
mod limits {
    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    use super::*;

    fn options(dataset: &str, n: Option<u64>, n0: Option<u64>, batch: Option<usize>) -> Options {
        Options {
            model: Some("m".into()),
            dataset: Some(dataset.into()),
            sigma: Some(0.25),
            out: Some("out.tsv".into()),
            n,
            n0,
            batch,
            ..Options::default()
        }
    }

    /// Sizes far beyond the limits: the largest integers and powers of two.
    fn huge() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(u64::MAX),
            Just(usize::MAX as u64),
            Just(i64::MAX as u64),
            (31..64u32).prop_map(|bits| 1u64 << bits),
            (31..64u32).prop_map(|bits| (1u64 << bits) + 1),
            (MAX_DRAWS + 1)..(MAX_DRAWS * 3),
        ]
    }

    fn refusal(options: &Options) -> String {
        let message = format!("{:#}", options.resolve_run().expect_err("should be refused"));
        assert!(!message.contains('\n'), "{message:?}");
        message
    }

    #[test]
    fn the_limits_themselves_are_accepted() {
        let settings = options("digits", Some(MAX_DRAWS), Some(MAX_DRAWS), Some(MAX_BATCH)).resolve_run().unwrap();
        assert_eq!((settings.n, settings.batch), (MAX_DRAWS, MAX_BATCH));
        // 7 133 copies of 3×224×224 fit in 4 GiB, 7 134 do not.
        assert!(options("imagenet", None, None, Some(7133)).resolve_run().is_ok());
        let message = refusal(&options("imagenet", None, None, Some(7134)));
        assert!(message.contains(&format!("expected at most {MAX_BATCH_BYTES}")), "{message}");
        assert!(message.contains("--batch 7133 or fewer"), "{message}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, rng_seed: RngSeed::Fixed(3), ..ProptestConfig::default() })]

        #[test]
        fn huge_sizes_are_refused_by_name(size in huge(), dataset in 0..3usize) {
            let dataset = ["digits", "cifar10", "imagenet"][dataset];
            let message = refusal(&options(dataset, Some(size), None, None));
            prop_assert!(message.starts_with(&format!("--n {size}, expected at most {MAX_DRAWS}")), "{message}");
            let message = refusal(&options(dataset, None, Some(size), None));
            prop_assert!(message.starts_with(&format!("--n0 {size}, expected at most {MAX_DRAWS}")), "{message}");
            let batch = usize::try_from(size).unwrap();
            let message = refusal(&options(dataset, None, None, Some(batch)));
            prop_assert!(message.starts_with(&format!("--batch {batch}")), "{message}");
            let names_a_limit =
                message.contains(&MAX_BATCH.to_string()) || message.contains(&MAX_BATCH_BYTES.to_string());
            prop_assert!(names_a_limit, "{message}");
        }
    }
}
