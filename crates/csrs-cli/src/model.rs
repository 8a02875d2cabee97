//! `csrs model`: create and describe checkpoints.

use std::path::PathBuf;

use anyhow::Context;
use burn::prelude::Backend;
use csrs_data::DatasetName;
use csrs_models::{Architecture, Checkpoint, CheckpointMeta, Classifier};
use csrs_train::model_spec;

use crate::device::{DeviceChoice, OnBackend, on_backend};

/// Create or inspect model checkpoints.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    Init(InitArgs),
    Show(ShowArgs),
}

/// Create a randomly initialised checkpoint (<OUT>.json and <OUT>.mpk) for a
/// dataset, so certification can run end to end before any training.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  csrs model init --arch digits-cnn --dataset digits --out models/digits-cnn")]
struct InitArgs {
    /// Architecture: mlp, lenet5, digits-cnn, cifar-resnet20, cifar-resnet56, cifar-resnet110, resnet18
    #[arg(long, value_name = "NAME")]
    arch: Architecture,
    /// Dataset the model is for (sets the input shape, classes and normalisation)
    #[arg(long, value_name = "NAME")]
    dataset: DatasetName,
    /// Checkpoint path without extension
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Seed of the random weights
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Print what a checkpoint is: architecture, dataset, classes, training.
#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// Checkpoint path (with or without .json/.mpk)
    #[arg(value_name = "PATH")]
    checkpoint: PathBuf,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Init(args) => on_backend(DeviceChoice::Cpu, args),
            Command::Show(args) => on_backend(DeviceChoice::Cpu, args),
        }
    }
}

impl OnBackend for InitArgs {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        let Some(class_names) = self.dataset.class_names() else {
            anyhow::bail!(
                "{}: class names come from the data folder; `model init` needs a dataset with fixed classes",
                self.dataset
            )
        };
        let spec = model_spec(self.arch, self.dataset, class_names.len());
        B::seed(&device, self.seed);
        let model = Classifier::<B>::init(&spec, &device)?;
        let checkpoint = Checkpoint { meta: CheckpointMeta::new(spec, self.dataset.as_str(), class_names), model };
        checkpoint.save(&self.out).with_context(|| format!("saving {}", self.out.display()))?;
        eprintln!(
            "wrote {}.json and {}.mpk ({} for {}, untrained)",
            self.out.display(),
            self.out.display(),
            self.arch,
            self.dataset
        );
        Ok(())
    }
}

impl OnBackend for ShowArgs {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        let checkpoint = Checkpoint::<B>::load(&self.checkpoint, None, &device)?;
        let meta = &checkpoint.meta;
        println!("{}", serde_json::to_string_pretty(meta)?);
        Ok(())
    }
}
