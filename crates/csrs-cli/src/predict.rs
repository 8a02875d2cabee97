//! `csrs predict`: the smoothed classifier's prediction per test example.

use burn::prelude::Backend;
use csrs_records::{PredictRow, Settings};
use csrs_run::{OnBackend, on_backend, predict, prepare};
use csrs_stats::Prediction;

use crate::options::{Options, RunSettings};
use crate::progress::Shown;

/// Predict each test example with the smoothed classifier (Cohen et al.'s
/// PREDICT): the top class of n noisy draws, or abstain when the top two are
/// not distinguishable at level alpha. Options as for `certify`, without
/// --cost and --n0.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("cost", |arg| arg.hide(true)),
    mut_arg("n0", |arg| arg.hide(true)),
    mut_arg("target_radius", |arg| arg.hide(true)),
    mut_arg("radius_tolerance", |arg| arg.hide(true))
)]
#[command(after_help = "Example:
  csrs predict --model models/digits-cnn --dataset digits --sigma 0.25 --n 1000 --out results/predict.tsv")]
pub(crate) struct Args {
    #[command(flatten)]
    options: Options,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let options = self.options.with_config_file()?;
        options.reject(
            "predict",
            &[
                ("cost", options.cost.is_some()),
                ("n0", options.n0.is_some()),
                ("target-radius", options.target_radius.is_some()),
                ("radius-tolerance", options.radius_tolerance.is_some()),
            ],
        )?;
        let settings = options.resolve_run()?;
        // The records' settings, checked before anything is loaded.
        let resolved = settings.as_options().settings()?;
        options.check_config_is_kept(&resolved, settings.run.note.as_deref())?;
        let rows = on_backend(settings.device, PredictTask { settings, resolved })?;
        let correct = rows.iter().filter(|row| row.prediction() == Prediction::Class(row.label())).count();
        let abstained = rows.iter().filter(|row| row.prediction() == Prediction::Abstain).count();
        let fraction = |k: usize| k as f64 / rows.len().max(1) as f64;
        println!(
            "summary: {} examples; smoothed accuracy {:.3} (abstains count as wrong); abstained {:.3}",
            rows.len(),
            fraction(correct),
            fraction(abstained)
        );
        Ok(())
    }
}

struct PredictTask {
    settings: RunSettings,
    /// What the records' `.config.toml` holds.
    resolved: Settings,
}

impl OnBackend for PredictTask {
    type Output = Vec<PredictRow>;

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Vec<PredictRow>> {
        let settings = &self.settings;
        let mut prepared = prepare::<B>(&settings.source()?, &settings.run, device, &mut Shown::default())?;
        predict(&settings.run, &self.resolved, &mut prepared.smoothed, &prepared.dataset, &mut Shown::default())
    }
}
