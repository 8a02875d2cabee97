//! The options of `certify` and `predict`: from the command line, from a
//! TOML file (`--config`), or both (the command line wins).

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use csrs_artifacts::{CertificationFiles, Existing, OutputError};
use csrs_data::DatasetName;
use csrs_models::Architecture;
use csrs_records::{RunIdentity, Settings, deserialize};
use csrs_run::{Counting, DeviceChoice, DrawCount, Import, Precision, Shard, Source, check_batch};
use csrs_sampling::NoiseKind;
use csrs_stats::{Alpha, Sigma};
use serde::{Deserialize, Serialize};

/// How to read a foreign weights file, for the commands that take one
/// without the other options (`model import`, `model logits`, `plan`).
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ImportOptions {
    /// Architecture of a PyTorch or safetensors --model (default: the file's `arch` entry, when it has one)
    #[arg(long, value_name = "NAME")]
    arch: Option<Architecture>,
    /// Per-channel mean of the model's input normalisation, e.g. 0.4914,0.4822,0.4465 (default: the dataset's; none for an ONNX model, whose graph normalises)
    #[arg(long, value_name = "M,M,M", value_delimiter = ',')]
    mean: Option<Vec<f32>>,
    /// Per-channel standard deviation of the normalisation, e.g. 0.2023,0.1994,0.2010 (default: the dataset's)
    #[arg(long, value_name = "S,S,S", value_delimiter = ',')]
    std: Option<Vec<f32>>,
}

impl ImportOptions {
    pub(crate) fn get(&self) -> Import {
        Import { arch: self.arch, mean: self.mean.clone(), std: self.std.clone() }
    }
}

/// Every option; `None` means "not given here".
#[derive(Debug, Default, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// TOML file setting any option below by its long name (e.g. `sigma = 0.25`); flags given on the command line win. Paths in it are relative to the working directory, as on the command line (not to the file's folder)
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub(crate) config: Option<PathBuf>,
    /// Checkpoint (path with or without .json/.mpk), or a PyTorch checkpoint (.pth, .pth.tar, .pt), .safetensors or .onnx file, imported on the fly
    #[arg(long, value_name = "PATH")]
    pub(crate) model: Option<PathBuf>,
    /// Denoiser put in front of --model (denoised smoothing): the base classifier is the model applied to the denoiser's output, f(D(x + noise)); a denoiser checkpoint (`model init --arch dncnn`, `train` with a denoiser objective), an ONNX file whose output is an image of its input's shape, or a PyTorch DnCNN (.pth)
    #[arg(long, value_name = "PATH")]
    pub(crate) denoiser: Option<PathBuf>,
    /// Architecture of a PyTorch or safetensors --model (default: the file's `arch` entry, when it has one)
    #[arg(long, value_name = "NAME")]
    pub(crate) arch: Option<Architecture>,
    /// Input normalisation mean of a PyTorch --model, per channel (default: the dataset's; none for an ONNX model, whose graph normalises)
    #[arg(long, value_name = "M,M,M", value_delimiter = ',')]
    pub(crate) mean: Option<Vec<f32>>,
    /// Input normalisation std of a PyTorch --model, per channel (default: the dataset's; none for an ONNX model)
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
    /// The network's arithmetic on a GPU: f32; tf32, which is the same program (burn's CUDA kernels take f32 products on TF32 tensor cores wherever their autotuner picks a tensor-core kernel, and cannot be told not to); bf16 or f16 (the noisy input rounded to that type, then the network in it, its weights converted once; a fixed function of the noisy input, so certificates keep their meaning); the CPU computes in f32 only [default: f32]
    #[arg(long, value_name = "f32|tf32|bf16|f16")]
    pub(crate) precision: Option<Precision>,
    /// How the CPU runs the model: native (the compiled engine), burn, or auto (native on the CPU, burn on a GPU); both draw the same noise, so their counts agree but for draws on a decision boundary [default: auto]
    #[arg(long, value_name = "auto|native|burn")]
    pub(crate) engine: Option<EngineChoice>,
    /// Continue an interrupted run: keep the records in --out and add the missing examples (refused, changing nothing, when the settings differ from those in <out>.config.toml, or when that file is missing)
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

impl Options {
    /// The settings of a run with these options, as its records keep them.
    ///
    /// # Errors
    /// As [`Settings::new`].
    pub(crate) fn settings(&self) -> anyhow::Result<Settings> {
        Settings::new(&self.identity(), self)
    }

    /// The options that decide what the run's records certify.
    fn identity(&self) -> RunIdentity {
        let text = |path: &Option<PathBuf>| path.as_ref().map(|path| path.to_string_lossy().into_owned());
        RunIdentity {
            model: text(&self.model),
            denoiser: text(&self.denoiser),
            arch: self.arch.map(|arch| arch.to_string()),
            mean: self.mean.clone(),
            std: self.std.clone(),
            dataset: self.dataset.clone(),
            cost: text(&self.cost).map(toml::Value::String),
            sigma: self.sigma,
            noise: self.noise.unwrap_or_default().to_string(),
            precision: self.precision.unwrap_or_default().to_string(),
            n0: self.n0,
            n: self.n,
            target_radius: self.target_radius,
            radius_tolerance: self.radius_tolerance,
            alpha: self.alpha,
            seed: self.seed,
            shard: self.shard.clone(),
            inputs: None,
        }
    }

    /// The command-line options completed by the `--config` file, if any,
    /// which they keep as `config` ([`Self::check_config_is_kept`]).
    pub(crate) fn with_config_file(self) -> anyhow::Result<Self> {
        let Some(path) = self.config.clone() else { return Ok(self) };
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let table: toml::Table =
            text.parse().map_err(|err: toml::de::Error| anyhow!("{}: {}", path.display(), err.message().trim()))?;
        let mut file: Options = deserialize(toml::Value::Table(table)).with_context(|| path.display().to_string())?;
        // The two stop rules are one setting: either given on the command
        // line replaces the file's rule, whichever it is.
        if self.target_radius.is_some() || self.radius_tolerance.is_some() {
            (file.target_radius, file.radius_tolerance) = (None, None);
        }
        let merged = prefer_first!(self, file; model, denoiser, arch, mean, std, dataset, data_dir, cost, sigma, noise, n0, n, target_radius, radius_tolerance, alpha, batch, out, skip, max, shard, seed, device, precision, engine);
        Ok(Options { config: Some(path), ..merged })
    }

    /// Refuses a run that would write onto its `--config` file. A resolved
    /// config is a `--config`, so a run may be given its own (`--config
    /// out.tsv.config.toml --out out.tsv --resume`): that is accepted when
    /// the run's `settings` (with the `note` of their file) are the ones
    /// the file holds, which the run then leaves as they are.
    pub(crate) fn check_config_is_kept(&self, settings: &Settings, note: Option<&str>) -> anyhow::Result<()> {
        let (Some(config), Some(out)) = (&self.config, &self.out) else { return Ok(()) };
        let files = CertificationFiles::new(out);
        let unchanged = settings.are_saved_beside(out, note);
        for output in files.outputs() {
            let is_settings = output == files.resolved_config();
            if is_settings && unchanged {
                continue;
            }
            match csrs_artifacts::check_output(&output, &[config], Existing::Replace) {
                Err(OutputError::IsInput { .. }) if is_settings => {
                    let saved = Settings::of_run(out).ok().flatten();
                    let what = saved.and_then(|saved| settings.first_difference(&saved));
                    bail!(
                        "--config {} is the settings file of --out {}, and this run would change {}: resume with \
                         them as they are, or choose another --out",
                        config.display(),
                        out.display(),
                        what.map_or_else(|| "it".to_owned(), |key| format!("its {key}"))
                    );
                }
                checked => checked?,
            }
        }
        Ok(())
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
            None => (Shard::ALL, None),
            Some("auto") => {
                let (shard, source) = crate::shard::from_environment(self.shards, |name| std::env::var(name).ok())?;
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
        let draws = |name: &str, draws: u64| DrawCount::new(draws).map_err(|err| anyhow!("--{name} {err}"));
        let n = draws("n", self.n.unwrap_or(100_000))?;
        let n0 = draws("n0", self.n0.unwrap_or(100))?;
        let shard_note = shard_source.map(|source| format!("shard {shard} from {source}"));
        Ok(RunSettings {
            run: csrs_run::RunSettings {
                out: self.out.clone().ok_or_else(|| required("out"))?,
                alpha: Alpha::new(self.alpha.unwrap_or(0.001)).context("--alpha")?,
                n,
                batch,
                seed: self.seed.unwrap_or(0),
                skip,
                max: self.max,
                shard,
                resume: self.resume,
                adopt_settings: self.adopt_settings,
                note: shard_note,
            },
            n0,
            model: self.model.clone().ok_or_else(|| required("model"))?,
            denoiser: self.denoiser.clone(),
            import: Import { arch: self.arch, mean: self.mean.clone(), std: self.std.clone() },
            dataset,
            data_dir: self.data_dir.clone(),
            sigma: Sigma::new(self.sigma.ok_or_else(|| required("sigma"))?).context("--sigma")?,
            noise: self.noise.unwrap_or_default(),
            device,
            precision: self.precision.unwrap_or_default(),
            engine: self.engine.unwrap_or_default(),
        })
    }
}

/// The validated settings of a sampling run: the library's, and how to
/// make its smoothed classifier.
#[derive(Debug, Clone)]
pub(crate) struct RunSettings {
    pub(crate) run: csrs_run::RunSettings,
    /// Selection draws, for certification (100 unless given).
    pub(crate) n0: DrawCount,
    pub(crate) model: PathBuf,
    pub(crate) denoiser: Option<PathBuf>,
    pub(crate) import: Import,
    pub(crate) dataset: DatasetName,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) sigma: Sigma,
    pub(crate) noise: NoiseKind,
    pub(crate) device: DeviceChoice,
    pub(crate) precision: Precision,
    pub(crate) engine: EngineChoice,
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
    /// burn's forward pass on the chosen device.
    Burn,
}

impl EngineChoice {
    /// How this choice counts on `device` in `precision` (auto: the
    /// compiled engine on the CPU, burn on a GPU).
    ///
    /// # Errors
    /// `native` with a GPU; a precision other than f32 on the CPU.
    pub(crate) fn counting_on(self, device: DeviceChoice, precision: Precision) -> anyhow::Result<Counting> {
        precision.check_on(device)?;
        match (self, device) {
            (EngineChoice::Native, DeviceChoice::Cuda(_)) => {
                bail!("--engine native runs on the CPU; use --device cpu, or --engine burn (or auto) on the GPU")
            }
            (EngineChoice::Native | EngineChoice::Auto, DeviceChoice::Cpu) => Ok(Counting::Native),
            (EngineChoice::Burn, _) | (EngineChoice::Auto, DeviceChoice::Cuda(_)) => Ok(Counting::Burn(precision)),
        }
    }
}

impl RunSettings {
    /// Where the run's smoothed classifier comes from.
    pub(crate) fn source(&self) -> anyhow::Result<Source<'_>> {
        Ok(Source {
            model: &self.model,
            import: &self.import,
            denoiser: self.denoiser.as_deref(),
            dataset: self.dataset,
            data_dir: self.data_dir.as_deref(),
            sigma: self.sigma,
            noise: self.noise,
            counting: self.engine.counting_on(self.device, self.precision)?,
            batch: self.run.batch,
        })
    }

    /// These settings as options, every default filled in: what
    /// `<out>.config.toml` holds, and what `--config` reads back to run
    /// them again (with another `--out`).
    pub(crate) fn as_options(&self) -> Options {
        let run = &self.run;
        Options {
            config: None,
            model: Some(self.model.clone()),
            denoiser: self.denoiser.clone(),
            arch: self.import.arch,
            mean: self.import.mean.clone(),
            std: self.import.std.clone(),
            dataset: Some(self.dataset.as_str().to_owned()),
            data_dir: self.data_dir.clone(),
            cost: None,
            sigma: Some(self.sigma.get()),
            noise: Some(self.noise),
            n0: None,
            n: Some(run.n.get()),
            target_radius: None,
            radius_tolerance: None,
            alpha: Some(run.alpha.get()),
            batch: Some(run.batch),
            out: None,
            skip: Some(run.skip),
            max: run.max,
            shard: Some(run.shard.to_string()),
            shards: None,
            seed: Some(run.seed),
            device: Some(self.device.to_string()),
            precision: Some(self.precision),
            engine: Some(self.engine),
            resume: false,
            adopt_settings: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The resolved options read back as `--config` give the same options,
    /// whatever characters the paths hold.
    #[test]
    fn resolved_options_round_trip_through_config() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("records.tsv");
        let odd = |name: &str| PathBuf::from(format!(r#"runs/"quoted" back\slash 'single' naïve 模型 {name}"#));
        let written = Options {
            model: Some(odd("model")),
            denoiser: Some(odd("denoiser")),
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
            precision: Some(Precision::Bf16),
            engine: Some(EngineChoice::Burn),
            ..Options::default()
        };
        written.settings().unwrap().save_beside(&out, None).unwrap();
        let config = CertificationFiles::new(&out).resolved_config();
        let read = Options { config: Some(config.clone()), ..Options::default() }.with_config_file().unwrap();
        assert_eq!(read.config, Some(config.clone()));
        assert_eq!(format!("{:?}", Options { config: None, ..read }), format!("{written:?}"));

        // The two stop rules are one setting: the command line's replaces the file's.
        Options { target_radius: Some(0.5), ..written }.settings().unwrap().save_beside(&out, None).unwrap();
        let given = Options { config: Some(config), radius_tolerance: Some(0.1), ..Options::default() };
        let read = given.with_config_file().unwrap();
        assert_eq!((read.target_radius, read.radius_tolerance), (None, Some(0.1)));
    }
}

/// `--config` files mutated from the shipped ones: never a panic, and every
/// refusal is one line.
#[cfg(test)]
mod fuzz {
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;
    use crate::toml_fuzz::{mutated, value};

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
    use csrs_run::{MAX_BATCH, MAX_BATCH_BYTES, MAX_DRAWS};
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
        assert_eq!((settings.run.n.get(), settings.n0.get(), settings.run.batch), (MAX_DRAWS, MAX_DRAWS, MAX_BATCH));
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

/// Every option a run saves in `<out>.config.toml` reads back, as the
/// `--config` of the same run, as it was written; what a settings file
/// cannot hold is refused by name before anything is written.
#[cfg(test)]
mod settings_round_trip {
    use csrs_records::MAX_INTEGER;
    use proptest::option::of;
    use proptest::prelude::*;

    use super::*;

    /// Paths and names of any characters TOML must quote or escape.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["\\PC{0,16}", "[ -~\t\n\r\\\\\"'#=\\[\\]]{0,16}"]
    }

    /// Numbers with the edge cases TOML spells apart.
    fn real() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NAN),
            Just(f64::MIN_POSITIVE / 3.0),
            (-1000i32..1000).prop_map(f64::from),
            (0.0..1.0f64),
        ]
    }

    /// Counts and seeds, from 0 to beyond what TOML holds.
    fn count() -> impl Strategy<Value = u64> {
        prop_oneof![Just(0), Just(MAX_INTEGER), Just(MAX_INTEGER + 1), Just(u64::MAX), any::<u64>(), 0..1000u64]
    }

    fn channels() -> impl Strategy<Value = Vec<f32>> {
        prop::collection::vec(prop_oneof![any::<f32>(), (0.0..1.0f32), Just(-0.0f32)], 0..4)
    }

    fn options() -> impl Strategy<Value = Options> {
        let arch = prop_oneof![
            Just(Architecture::Mlp),
            Just(Architecture::DigitsCnn),
            Just(Architecture::CifarResnet110),
            Just(Architecture::Resnet50)
        ];
        let noise = prop_oneof![Just(NoiseKind::Gaussian), Just(NoiseKind::Sound)];
        let precision = prop_oneof![Just(Precision::F32), Just(Precision::Tf32), Just(Precision::Bf16)];
        let engine = prop_oneof![Just(EngineChoice::Auto), Just(EngineChoice::Native), Just(EngineChoice::Burn)];
        let size = || count().prop_map(|c| usize::try_from(c).unwrap());
        (
            (of(text()), of(arch), of(channels()), of(channels()), of(text()), of(text()), of(text())),
            (of(real()), of(noise), of(count()), of(count()), of(real()), of(real()), of(real())),
            (of(size()), of(text()), of(size()), of(size()), of(text()), of(count()), of(text())),
            (of(precision), of(engine)),
        )
            .prop_map(|(paths, draws, selection, device)| {
                let (model, arch, mean, std, dataset, data_dir, cost) = paths;
                let (sigma, noise, n0, n, target_radius, radius_tolerance, alpha) = draws;
                let (batch, out, skip, max, shard, seed, device_name) = selection;
                let (precision, engine) = device;
                Options {
                    model: model.map(PathBuf::from),
                    arch,
                    mean,
                    std,
                    dataset,
                    data_dir: data_dir.map(PathBuf::from),
                    cost: cost.map(PathBuf::from),
                    sigma,
                    noise,
                    n0,
                    n,
                    target_radius,
                    radius_tolerance,
                    alpha,
                    batch,
                    out: out.map(PathBuf::from),
                    skip,
                    max,
                    shard,
                    seed,
                    device: device_name,
                    precision,
                    engine,
                    ..Options::default()
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn saved_options_read_back_as_written(written in options()) {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("records.tsv");
            let config = CertificationFiles::new(&out).resolved_config();
            match written.settings() {
                Ok(settings) => {
                    settings.save_beside(&out, None).unwrap();
                    let read = Options { config: Some(config), ..Options::default() }.with_config_file().unwrap();
                    let read = Options { config: None, ..read };
                    // Debug shows NaN as NaN, and -0.0 apart from 0.0.
                    prop_assert_eq!(format!("{read:?}"), format!("{written:?}"));
                    // A run given them as --config writes them unchanged.
                    prop_assert!(read.settings().unwrap().are_saved_beside(&out, None));
                }
                Err(err) => {
                    let message = err.to_string();
                    let limit = format!(", expected at most {MAX_INTEGER}: the largest integer a settings file");
                    prop_assert!(message.contains(&limit) && !message.contains('\n'), "{}", message);
                    prop_assert!(!config.exists());
                }
            }
        }
    }
}
