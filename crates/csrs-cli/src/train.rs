//! `csrs train`: train a base classifier for (cost-sensitive) certified
//! robustness.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use burn::backend::Autodiff;
use burn::prelude::Backend;
use csrs_cost::CostMatrix;
use csrs_data::{DatasetName, Split};
use csrs_models::Architecture;
use csrs_models::checkpoint::fingerprint;
use csrs_train::{EpochLog, Observer, TrainConfig, TrainRun, train};

use crate::device::{DeviceChoice, OnBackend, on_backend};
use crate::model::spec_for;
use crate::progress::Progress;

/// Train a model with one of the methods of the paper and its baselines:
/// gaussian, gaussian-cs, macer, macer-cs, smoothadv, smoothadv-cs,
/// smoothmix, smoothmix-cs.
///
/// Everything comes from a TOML file (see configs/train/): the dataset, the
/// architecture, the cost matrix (for the -cs methods), where to write the
/// checkpoint, and the hyperparameters. A checkpoint is written after every
/// epoch, with the optimiser's state, and one CSV line is appended to
/// <out>.log.csv; --resume continues from the last checkpoint.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  csrs train --config configs/train/digits-gaussian.toml")]
pub(crate) struct Args {
    /// The training configuration (TOML)
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Continue from the checkpoint at the configuration's `out`
    #[arg(long)]
    resume: bool,
    /// cpu, or cuda[:N] when built with the cuda feature
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// The parts of the configuration file that are not hyperparameters.
struct Setup {
    dataset: DatasetName,
    data_dir: Option<PathBuf>,
    architecture: Architecture,
    cost: Option<PathBuf>,
    out: PathBuf,
    config: TrainConfig,
    hash: String,
    resume: bool,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let device: DeviceChoice = self.device.parse().map_err(|err: String| anyhow!("--device: {err}"))?;
        let text =
            std::fs::read_to_string(&self.config).with_context(|| format!("cannot read {}", self.config.display()))?;
        let setup = parse(&text, self.resume).with_context(|| self.config.display().to_string())?;
        on_backend(device, setup)
    }
}

fn parse(text: &str, resume: bool) -> anyhow::Result<Setup> {
    let mut table: toml::Table = text.parse().map_err(|err: toml::de::Error| anyhow!("{}", err.message().trim()))?;
    let mut take = |key: &str| table.remove(key);
    let string = |value: Option<toml::Value>, key: &str| -> anyhow::Result<Option<String>> {
        match value {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(other) => bail!("`{key}` is {other}, expected a string"),
        }
    };
    let required = |value: Option<String>, key: &str| value.ok_or_else(|| anyhow!("`{key}` is missing"));
    let dataset: DatasetName = required(string(take("dataset"), "dataset")?, "dataset")?.parse()?;
    let architecture: Architecture =
        required(string(take("architecture"), "architecture")?, "architecture")?.parse()?;
    let out = PathBuf::from(required(string(take("out"), "out")?, "out")?);
    let cost = string(take("cost"), "cost")?.map(PathBuf::from);
    let data_dir = string(take("data_dir"), "data_dir")?.map(PathBuf::from);
    let _ = take("description");
    let config: TrainConfig =
        toml::Value::Table(table).try_into().map_err(|err: toml::de::Error| anyhow!("{}", err.message().trim()))?;
    config.check().map_err(|message| anyhow!(message))?;
    let hash = fingerprint(text.as_bytes());
    Ok(Setup { dataset, data_dir, architecture, cost, out, config, hash, resume })
}

impl OnBackend for Setup {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        let train_set = csrs_data::load(self.dataset, Split::Train, self.data_dir.as_deref())?;
        let test_set = csrs_data::load(self.dataset, Split::Test, self.data_dir.as_deref())?;
        let costs = match &self.cost {
            Some(path) => Some(CostMatrix::load(path, Some(train_set.n_classes()))?),
            None => None,
        };
        let spec = spec_for(self.architecture, self.dataset, train_set.n_classes());

        spec.check()?;
        if self.config.method.is_cost_sensitive() && costs.is_none() {
            bail!("method {} needs a cost matrix (`cost` in the configuration)", self.config.method.as_str());
        }
        let mut log_name = self.out.as_os_str().to_owned();
        log_name.push(".log.csv");
        let log_path = PathBuf::from(log_name);
        if !self.resume && csrs_models::checkpoint::files(&self.out).0.exists() {
            bail!("{} exists: pass --resume to continue it, or choose another `out`", self.out.display());
        }
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

        let run = TrainRun {
            config: &self.config,
            costs: costs.as_ref(),
            spec,
            dataset: self.dataset.as_str().to_owned(),
            class_names: train_set.class_names().to_vec(),
            train: &train_set,
            test: &test_set,
            out: &self.out,
            resume: self.resume,
            config_hash: self.hash.clone(),
        };
        eprintln!(
            "training {} with {} on {} ({} examples), sigma = {}, {} epochs",
            self.architecture,
            self.config.method.as_str(),
            self.dataset,
            train_set.len(),
            self.config.sigma,
            self.config.epochs
        );
        let mut observer = Reporter { log, log_path, epochs: self.config.epochs, progress: None };
        train::<Autodiff<B>>(run, &device, &mut observer)?;
        eprintln!("wrote {}.json and {}.mpk", self.out.display(), self.out.display());
        Ok(())
    }
}

/// Shows each epoch's batches as a progress bar, and writes its line to the
/// CSV log and to the terminal.
struct Reporter {
    log: std::fs::File,
    log_path: PathBuf,
    epochs: usize,
    progress: Option<Progress>,
}

impl Observer for Reporter {
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
