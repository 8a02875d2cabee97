//! `csrs train`: train a base classifier for (cost-sensitive) certified
//! robustness.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use burn::backend::Autodiff;
use burn::prelude::Backend;
use csrs_artifacts::{TrainingFiles, write_atomically};
use csrs_cost::CostMatrix;
use csrs_data::{DataError, DatasetName, Split};
use csrs_models::checkpoint::fingerprint;
use csrs_models::{Architecture, Checkpoint, CheckpointMeta, Denoiser, DenoiserNet, DenoiserSpec, ModelSpec};
use csrs_records::{deserialize, field_names};
use csrs_train::{CheckedConfig, Denoised, EpochLog, Observer, TrainConfig, TrainRun, Trainee, train};
use serde::{Deserialize, Serialize};

use crate::io::check_outputs;
use crate::model::checkpoint_files;
use crate::progress::Progress;
use csrs_run::{DeviceChoice, Import, OnBackend, is_foreign, is_onnx, load_model, on_backend};

/// Train a model with one of the objectives of the paper and its
/// baselines: gaussian, macer, smoothadv or smoothmix, each with an optional
/// cost-sensitive part (gaussian-cs, the paper's macer-cs, ...); or a
/// denoiser in front of a frozen classifier (`classifier` and `denoiser`
/// in place of the network): denoiser-mse, denoiser-stab or denoiser-macer,
/// the last two with an optional cost-sensitive part.
///
/// Everything comes from a TOML file (see configs/train/ and
/// docs/training.md): the dataset, the network (a built-in `architecture`,
/// or `model`: an ONNX file or a csrs checkpoint to fine-tune), the cost
/// matrix (with a cost-sensitive objective), where to write the checkpoint,
/// and the hyperparameters, under [objective] those of the method. A checkpoint is
/// written after every epoch, with the optimiser's state, and one CSV line
/// is appended to <out>.log.csv; <out>.config.toml holds the configuration
/// as read; --resume continues from the last checkpoint. An existing run at
/// `out` is refused unless --resume or --force (which starts it over), and
/// `out` may never be one of the run's inputs.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  csrs train --config configs/train/digits-gaussian.toml")]
pub(crate) struct Args {
    /// The training configuration (TOML)
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Continue from the checkpoint at the configuration's `out`
    #[arg(long)]
    resume: bool,
    /// Start over, replacing the files of an earlier run at the configuration's `out`
    #[arg(long, conflicts_with = "resume")]
    force: bool,
    /// cpu, or cuda[:N] when built with the cuda feature
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Start from this network instead of the configuration's `architecture`
    /// or `model`: an ONNX file (.onnx) or a csrs checkpoint (its stem, as
    /// `out` names one); written into <out>.config.toml as `model`
    #[arg(long, value_name = "MODEL")]
    from: Option<PathBuf>,
}

/// The parts of the configuration file that are not hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunSetup {
    /// What the run is for, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// The dataset, by name.
    dataset: String,
    /// Folder of a dataset that is not embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// A built-in network, trained from burn's initialisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    architecture: Option<Architecture>,
    /// A network to start from: an ONNX file or a csrs checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<PathBuf>,
    /// The frozen classifier a denoiser is trained in front of (a csrs
    /// checkpoint, or an ONNX, PyTorch or safetensors file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    classifier: Option<PathBuf>,
    /// The denoiser a denoiser objective trains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    denoiser: Option<DenoiserArch>,
    /// The cost matrix of a cost-sensitive objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost: Option<PathBuf>,
    /// The checkpoint's stem; the run's other files are named after it.
    out: PathBuf,
}

/// The denoiser of a denoiser run, by architecture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case", deny_unknown_fields)]
enum DenoiserArch {
    /// DnCNN (Salman et al.'s denoiser).
    Dncnn {
        /// Convolutions, the first and last included.
        #[serde(default = "dncnn_depth")]
        depth: usize,
        /// Channels of the hidden layers.
        #[serde(default = "dncnn_width")]
        width: usize,
    },
}

fn dncnn_depth() -> usize {
    DenoiserNet::DNCNN_DEPTH
}

fn dncnn_width() -> usize {
    DenoiserNet::DNCNN_WIDTH
}

impl DenoiserArch {
    /// The denoiser for images of `dataset`.
    fn spec(self, dataset: DatasetName) -> DenoiserSpec {
        let shape = dataset.shape();
        let DenoiserArch::Dncnn { depth, width } = self;
        DenoiserSpec {
            input_shape: [shape.channels, shape.height, shape.width],
            network: DenoiserNet::Dncnn { depth, width },
        }
    }
}

/// A configuration file read and checked.
struct Setup {
    run: RunSetup,
    dataset: DatasetName,
    config: CheckedConfig,
    hash: String,
    resume: bool,
    /// Where the (first) replica trains.
    device: DeviceChoice,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let device: DeviceChoice = self.device.parse().map_err(|err: String| anyhow!("--device: {err}"))?;
        let text =
            std::fs::read_to_string(&self.config).with_context(|| format!("cannot read {}", self.config.display()))?;
        let setup = parse(&text, self.from.as_deref(), self.resume, device)
            .with_context(|| self.config.display().to_string())?;
        // Before any data is loaded: the run must not overwrite what is
        // there, nor its own configuration, cost matrix or starting network.
        let start: Vec<PathBuf> = match setup.run.model.as_ref().or(setup.run.classifier.as_ref()) {
            Some(model) if is_foreign(model) => vec![model.clone()],
            Some(model) => {
                let files = TrainingFiles::new(model);
                vec![files.metadata(), files.weights()]
            }
            None => Vec::new(),
        };
        let inputs: Vec<&Path> = [Some(self.config.as_path()), setup.run.cost.as_deref()]
            .into_iter()
            .flatten()
            .chain(start.iter().map(PathBuf::as_path))
            .collect();
        let replace = self.force || self.resume;
        check_outputs(&TrainingFiles::new(&setup.run.out).outputs(), &inputs, replace).map_err(|err| {
            if replace { err } else { anyhow!("{} (or --resume to continue that run)", crate::flags::error_line(&err)) }
        })?;
        on_backend(device, setup)
    }
}

/// Reads a configuration: the run's setup and the hyperparameters, from one
/// table, each key checked by the type that owns it; `from` (`--from`) in
/// place of its network.
fn parse(text: &str, from: Option<&Path>, resume: bool, device: DeviceChoice) -> anyhow::Result<Setup> {
    let mut table: toml::Table = text.parse().map_err(|err: toml::de::Error| anyhow!("{}", err.message().trim()))?;
    if let Some(from) = from {
        let path = from.to_str().ok_or_else(|| anyhow!("--from {}: expected a UTF-8 path", from.display()))?;
        table.remove("architecture");
        table.insert("model".into(), toml::Value::String(path.into()));
    }
    let setup_keys = field_names::<RunSetup>();
    let (setup, hyperparameters): (toml::Table, toml::Table) =
        table.into_iter().partition(|(key, _)| setup_keys.contains(&key.as_str()));
    let run: RunSetup = deserialize(toml::Value::Table(setup))?;
    let config = deserialize::<TrainConfig, _>(toml::Value::Table(hyperparameters))?.checked()?;
    let method = config.objective.method_name();
    if config.objective.trains_denoiser() || run.classifier.is_some() || run.denoiser.is_some() {
        check_denoiser_run(&run, &config)?;
    } else {
        check_network(&run)?;
    }
    match (config.objective.is_cost_sensitive(), &run.cost) {
        (true, None) => bail!("method {method} needs a cost matrix: set `cost`"),
        (false, Some(_)) => {
            bail!(
                "`cost` is set, but method {method} does not use a cost matrix (its objective has no cost_sensitive part)"
            )
        }
        _ => {}
    }
    let dataset = run.dataset.parse()?;
    // The hash of what decides the run: the text, and the network --from
    // put in its place.
    let hash = match from {
        Some(from) => fingerprint(format!("{text}\n--from {}", from.display()).as_bytes()),
        None => fingerprint(text.as_bytes()),
    };
    Ok(Setup { run, dataset, config, hash, resume, device })
}

/// A denoiser's run: a denoiser objective, `classifier` and `denoiser`,
/// and no network of a classifier's run.
fn check_denoiser_run(run: &RunSetup, config: &TrainConfig) -> anyhow::Result<()> {
    let method = config.objective.method_name();
    if !config.objective.trains_denoiser() {
        bail!(
            "`classifier` and `denoiser` set up a denoiser's run, but method {method} trains a classifier \
             (a denoiser trains with denoiser-mse, denoiser-stab or denoiser-macer)"
        );
    }
    if run.classifier.is_none() || run.denoiser.is_none() {
        bail!(
            "method {method} trains a denoiser in front of a frozen classifier: set `classifier` (its file) and \
             `denoiser` (e.g. {{ arch = \"dncnn\", depth = 17, width = 64 }})"
        );
    }
    if run.architecture.is_some() || run.model.is_some() || config.freeze_batch_norm {
        bail!(
            "a denoiser's run trains its `denoiser` only: `architecture`, `model` and `freeze_batch_norm` \
             belong to a classifier's run"
        );
    }
    Ok(())
}

/// A classifier's run starts from one network: a built-in `architecture`,
/// or `model`, an ONNX file or a checkpoint.
fn check_network(run: &RunSetup) -> anyhow::Result<()> {
    match (&run.architecture, &run.model) {
        (Some(_), Some(_)) => bail!("both `architecture` and `model` are set; a run starts from one network"),
        (None, None) => bail!("missing `architecture` (a built-in network) or `model` (an ONNX file or a checkpoint)"),
        (None, Some(model)) if is_foreign(model) && !is_onnx(model) => bail!(
            "model {}: a PyTorch or safetensors file holds weights, not the network; import it first \
             (csrs model import) and train from the checkpoint",
            model.display()
        ),
        _ => Ok(()),
    }
}

impl Setup {
    /// The configuration as read, every default filled in: written beside
    /// the checkpoint, and a configuration that trains the same again.
    fn resolved(&self) -> anyhow::Result<String> {
        let mut table = toml::Table::try_from(&self.run)?;
        table.extend(toml::Table::try_from(&*self.config)?);
        Ok(format!(
            "# Configuration of the run that wrote the checkpoint beside this file.\n{}",
            toml::to_string(&table)?
        ))
    }
}

impl OnBackend for Setup {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        let data_dir = self.run.data_dir.as_deref();
        // A training run's folder is a key of its configuration, not a flag.
        let load = |split| {
            csrs_data::load(self.dataset, split, data_dir).map_err(|err| match err {
                DataError::NoDataDir { dataset } => {
                    anyhow!("dataset {dataset} is read from a folder: set `data_dir` in the configuration")
                }
                err => err.into(),
            })
        };
        let (train_set, test_set) = (load(Split::Train)?, load(Split::Test)?);
        let costs = match &self.run.cost {
            Some(path) => Some(CostMatrix::load(path, Some(train_set.n_classes()))?),
            None => None,
        };
        let n_classes = train_set.n_classes();
        let out = &self.run.out;
        let files = TrainingFiles::new(out);
        // The starting network is read before anything is written: a
        // network that does not fit the data leaves no files behind. A
        // resumed run goes on from its own checkpoint, whatever became of
        // the file it started from.
        let resuming = self.resume && files.metadata().exists();
        let data_shape = {
            let shape = train_set.shape();
            [shape.channels, shape.height, shape.width]
        };
        let load = |path: &Path| -> anyhow::Result<Checkpoint<Autodiff<B>>> {
            let checkpoint =
                load_model::<Autodiff<B>>(path, Some(self.dataset), &Import::default(), Some(n_classes), &device)?;
            let [c, h, w] = checkpoint.meta.spec.input_shape;
            if [c, h, w] != data_shape {
                let [dc, dh, dw] = data_shape;
                bail!(
                    "{}: the model takes {c}x{h}x{w} inputs, but {} images are {dc}x{dh}x{dw}",
                    path.display(),
                    self.dataset
                );
            }
            Ok(checkpoint)
        };
        let (spec, start, network, denoiser) =
            match (&self.run.model, self.run.architecture, &self.run.classifier, self.run.denoiser) {
                (_, _, Some(path), Some(arch)) => {
                    let classifier = load(path)?;
                    let denoiser = arch.spec(self.dataset);
                    denoiser.check()?;
                    let frozen = classifier.model.frozen(&classifier.meta.spec)?;
                    Autodiff::<B>::seed(&device, self.config.seed);
                    let model = Denoiser::init(&denoiser, &device)?;
                    let start = Trainee::Denoiser(Denoised { denoiser: model, classifier: frozen });
                    let network = format!("a {} denoiser in front of {}", denoiser.network.name(), path.display());
                    (classifier.meta.spec, Some(start), network, Some(denoiser))
                }
                (Some(path), ..) if resuming => {
                    (CheckpointMeta::read(out)?.spec, None, path.display().to_string(), None)
                }
                (Some(path), ..) => {
                    let checkpoint = load(path)?;
                    (
                        checkpoint.meta.spec,
                        Some(Trainee::Classifier(checkpoint.model)),
                        path.display().to_string(),
                        None,
                    )
                }
                (None, Some(architecture), ..) => (
                    ModelSpec::for_dataset(architecture, self.dataset, n_classes),
                    None,
                    architecture.to_string(),
                    None,
                ),
                _ => unreachable!("parse: a run names its network"),
            };
        spec.check()?;
        if self.config.freeze_batch_norm && spec.graph.is_none() {
            bail!(
                "freeze_batch_norm applies to imported networks (`model`); {} trains batch norm on batch statistics",
                spec.architecture
            );
        }
        let log_path = files.log();
        if let Some(parent) = log_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let new_log = !log_path.exists() || !self.resume;
        let mut log = OpenOptions::new()
            .create(true)
            .append(self.resume)
            .write(true)
            .truncate(!self.resume)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        if new_log {
            writeln!(log, "{}", EpochLog::CSV_HEADER)?;
        }
        let resolved = files.resolved_config();
        write_atomically(&resolved, self.resolved()?.as_bytes())
            .with_context(|| format!("cannot write {}", resolved.display()))?;

        let run = TrainRun {
            config: &self.config,
            costs: costs.as_ref(),
            spec,
            dataset: self.dataset.as_str().to_owned(),
            class_names: train_set.class_names().to_vec(),
            train: &train_set,
            test: &test_set,
            out,
            resume: self.resume,
            config_hash: self.hash.clone(),
            denoiser,
        };
        let replicas = match (self.config.replicas, self.device) {
            (1, _) => String::new(),
            (k, DeviceChoice::Cpu) => format!(", {k} replicas on the cpu"),
            (k, DeviceChoice::Cuda(first)) => format!(", {k} replicas on cuda:{first} to cuda:{}", first + k - 1),
        };
        eprintln!(
            "training {network} with {} on {} ({} examples), sigma = {} ({} noise), {} epochs{replicas}",
            self.config.objective.method_name(),
            self.dataset,
            train_set.len(),
            self.config.sigma,
            self.config.noise,
            self.config.epochs
        );
        let mut observer = Reporter { log, log_path, epochs: self.config.epochs, progress: None };
        train::<Autodiff<B>>(run, start, &device, &mut observer)?;
        eprintln!("wrote {}", checkpoint_files(out));
        Ok(())
    }
}

/// Shows each epoch's batches as a progress bar, and writes its line to the
/// CSV log (flushed at once) and to the terminal.
struct Reporter {
    log: std::fs::File,
    log_path: PathBuf,
    epochs: usize,
    progress: Option<Progress>,
}

impl Observer for Reporter {
    /// Keeps the header and the complete lines of the epochs the checkpoint
    /// holds: a run killed after an epoch's line but before its checkpoint
    /// does that epoch again.
    fn resuming(&mut self, epochs_done: usize) -> csrs_train::Result<()> {
        let io_error = |error| csrs_train::TrainError::Io { path: self.log_path.clone(), error };
        let text = std::fs::read_to_string(&self.log_path).map_err(io_error)?;
        let complete = text.rfind('\n').map_or("", |end| &text[..=end]);
        let kept: String = complete
            .split_inclusive('\n')
            .enumerate()
            .filter(|(i, line)| {
                *i == 0
                    || line.split(',').next().and_then(|e| e.parse::<usize>().ok()).is_some_and(|e| e <= epochs_done)
            })
            .map(|(_, line)| line)
            .collect();
        if kept != text && text.starts_with(&kept) {
            // Cut in place: the log's lines are in epoch order, so what is
            // kept comes first, and nothing of it is ever rewritten.
            self.log.set_len(kept.len() as u64).map_err(io_error)?;
        } else if kept != text {
            std::fs::write(&self.log_path, kept).map_err(io_error)?;
        }
        Ok(())
    }

    fn batch_done(&mut self, epoch: usize, done: usize, total: usize, samples: usize) {
        let epochs = self.epochs;
        let progress = self
            .progress
            .get_or_insert_with(|| Progress::of(total as u64, "batches", format!("epoch {epoch}/{epochs}: ")));
        progress.item_done(samples as u64);
        if done == total
            && let Some(progress) = self.progress.take()
        {
            progress.finish();
        }
    }

    fn epoch_done(&mut self, epoch: &EpochLog) -> csrs_train::Result<()> {
        writeln!(self.log, "{}", epoch.csv_row())
            .and_then(|()| self.log.flush())
            .map_err(|error| csrs_train::TrainError::Io { path: self.log_path.clone(), error })?;
        let sensitive = epoch.noisy_test_accuracy_sensitive.map_or(String::new(), |a| format!(", sensitive {a:.3}"));
        eprintln!(
            "epoch {}/{}: loss {:.4} (+{:.4} sensitive, +{:.4} normal), train accuracy {:.3}, noisy test accuracy {:.3}{sensitive}, {:.1} s",
            epoch.epoch,
            self.epochs,
            epoch.classification,
            epoch.robustness_sensitive,
            epoch.robustness_normal,
            epoch.train_accuracy,
            epoch.noisy_test_accuracy,
            epoch.seconds
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn shipped(name: &str) -> String {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/train").join(name)).unwrap()
    }

    /// Every configuration shipped in configs/train parses, names a cost
    /// matrix that loads when it has one, and reads back the same from its
    /// resolved form.
    #[test]
    fn shipped_configs_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut seen = 0;
        for entry in std::fs::read_dir(root.join("configs/train")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let setup = parse(&text, None, false, DeviceChoice::Cpu)
                .unwrap_or_else(|err| panic!("{}: {err:#}", path.display()));
            let classes = setup.dataset.class_names().map(|names| names.len());
            if let Some(cost) = &setup.run.cost {
                CostMatrix::load(root.join(cost), classes).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            }
            let again = parse(&setup.resolved().unwrap(), None, false, DeviceChoice::Cpu).unwrap();
            assert_eq!((again.run, again.config), (setup.run, setup.config), "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 10, "only {seen} configurations found");
    }

    /// Each mistake is named: the key, and why.
    #[test]
    fn configs_that_cannot_be_used_are_refused_naming_the_key() {
        let smoothadv = shipped("digits-smoothadv-cs.toml");
        let gaussian = shipped("digits-gaussian.toml");
        let without =
            |text: &str, key: &str| text.lines().filter(|line| !line.starts_with(key)).collect::<Vec<_>>().join("\n");
        for (text, message) in [
            (without(&smoothadv, "epsilon"), "objective: missing field `epsilon`"),
            (
                gaussian.replace("method = \"gaussian\"", "method = \"gaussian\"\nbeta = 16.0"),
                "objective: unknown field `beta`, expected `cost_sensitive`",
            ),
            (
                smoothadv.replace("epsilon = 0.5", "epsilon = -0.5"),
                "objective.epsilon is -0.5, expected a finite number > 0",
            ),
            // Clean training is gaussian's alone.
            (smoothadv.replace("sigma = 0.25", "sigma = 0.0"), "sigma is 0, expected a finite number > 0"),
            (without(&smoothadv, "cost ="), "method smoothadv-cs needs a cost matrix: set `cost`"),
            (
                format!("cost = \"configs/costs/digits-3-to-8.toml\"\n{gaussian}"),
                "`cost` is set, but method gaussian does not use a cost matrix",
            ),
            (gaussian.replace("kind = \"sgd\"", "kind = \"adam\""), "optimizer: unknown field `momentum`"),
            (format!("nosie = 0.25\n{gaussian}"), "unknown field `nosie`"),
            (format!("noise = \"loud\"\n{gaussian}"), "noise: unknown noise \"loud\", expected gaussian or sound"),
        ] {
            let err = match parse(&text, None, false, DeviceChoice::Cpu) {
                Ok(_) => panic!("accepted:\n{text}"),
                Err(err) => format!("{err:#}"),
            };
            assert!(err.contains(message), "{err}\n{text}");
            assert!(!err.contains('\n'), "{err:?}");
        }
    }

    #[test]
    fn resuming_drops_log_lines_the_checkpoint_does_not_hold() {
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("d.log.csv");
        std::fs::write(&log_path, "epoch,lr\n1,0.1\n2,0.1\n3,0.1\n4,0.").unwrap();
        let log = OpenOptions::new().append(true).open(&log_path).unwrap();
        let mut reporter = Reporter { log, log_path: log_path.clone(), epochs: 5, progress: None };
        reporter.resuming(2).unwrap();
        assert_eq!(std::fs::read_to_string(&log_path).unwrap(), "epoch,lr\n1,0.1\n2,0.1\n");
        reporter.epoch_done(&EpochLog { epoch: 3, ..example_log() }).unwrap();
        let text = std::fs::read_to_string(&log_path).unwrap();
        assert_eq!(text.lines().nth(3).unwrap().split(',').next(), Some("3"), "{text}");
    }

    fn example_log() -> EpochLog {
        EpochLog {
            epoch: 1,
            lr: 0.1,
            classification: 0.5,
            robustness_sensitive: 0.0,
            robustness_normal: 0.0,
            train_accuracy: 0.9,
            noisy_test_accuracy: 0.8,
            noisy_test_accuracy_sensitive: None,
            seconds: 1.0,
        }
    }
}

/// Training configurations mutated from the shipped ones, and arbitrary
/// text: never a panic, and every refusal is one line.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::{DeviceChoice, parse};
    use crate::toml_fuzz::{mutated, value};

    fn shipped() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/train");
        let mut texts: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .collect();
        texts.sort();
        texts
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn mutated_configs_never_panic(
            which in 0..100usize,
            line in 0..40usize,
            value in value(),
            cut in 0.0..1.2f64,
        ) {
            let texts = shipped();
            for candidate in mutated(&texts[which % texts.len()], line, &value, cut) {
                if let Err(err) = parse(&candidate, None, false, DeviceChoice::Cpu) {
                    let message = format!("{err:#}");
                    prop_assert!(!message.contains('\n') && !message.is_empty(), "{message:?}");
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            if let Err(err) = parse(&text, None, false, DeviceChoice::Cpu) {
                let message = format!("{err:#}");
                prop_assert!(!message.contains('\n'), "{message:?}");
            }
        }
    }
}
