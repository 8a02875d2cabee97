//! `csrs predict`: the smoothed classifier's prediction per test example.

use std::time::Instant;

use burn::prelude::Backend;
use csrs_sampling::NoiseStream;
use csrs_stats::Prediction;
use serde::{Deserialize, Serialize};

use crate::device::{OnBackend, on_backend};
use crate::options::{Options, RunSettings};
use crate::records::{Row, check_class};
use crate::sampling_run::{prepare, run_examples, seconds_since};

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
        let rows = on_backend(settings.device, PredictTask { settings })?;
        let correct = rows.iter().filter(|row| row.prediction == Prediction::Class(row.label)).count();
        let abstained = rows.iter().filter(|row| row.prediction == Prediction::Abstain).count();
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
}

impl OnBackend for PredictTask {
    type Output = Vec<PredictRow>;

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Vec<PredictRow>> {
        let settings = &self.settings;
        let mut prepared = prepare::<B>(settings, device)?;
        let dataset = &prepared.dataset;
        let smoothed = &mut prepared.smoothed;
        run_examples(settings, &settings.as_options(), dataset, settings.n, |index| {
            let start = Instant::now();
            let image = dataset.image(index)?;
            let predicted =
                smoothed.predict(&image, settings.alpha, settings.n, NoiseStream::new(settings.seed, index as u64))?;
            let (first, second) = predicted.counts.top_two();
            Ok(PredictRow {
                index,
                label: dataset.label(index),
                prediction: predicted.prediction,
                count_top: predicted.counts.count(first),
                count_second: predicted.counts.count(second),
                seconds: seconds_since(start),
            })
        })
    }
}

/// One predicted example.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PredictRow {
    index: usize,
    label: usize,
    prediction: Prediction,
    count_top: u64,
    count_second: u64,
    seconds: f64,
}

/// A line of predict records, in column order.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PredictRecord {
    index: usize,
    label: usize,
    /// `None` on abstain.
    predicted: Option<usize>,
    abstain: bool,
    count_top: u64,
    count_second: u64,
    seconds: f64,
}

impl Row for PredictRow {
    type Record = PredictRecord;

    fn check_classes(&self, classes: usize) -> anyhow::Result<()> {
        check_class("label", self.label, classes)?;
        match self.prediction {
            Prediction::Class(k) => check_class("predicted", k, classes),
            Prediction::Abstain => Ok(()),
        }
    }

    fn index(&self) -> usize {
        self.index
    }

    fn to_record(&self) -> PredictRecord {
        let predicted = match self.prediction {
            Prediction::Class(k) => Some(k),
            Prediction::Abstain => None,
        };
        PredictRecord {
            index: self.index,
            label: self.label,
            predicted,
            abstain: predicted.is_none(),
            count_top: self.count_top,
            count_second: self.count_second,
            seconds: self.seconds,
        }
    }

    fn from_record(record: PredictRecord) -> anyhow::Result<Self> {
        if record.abstain != record.predicted.is_none() {
            anyhow::bail!("abstain: {}, but predicted is {:?}", record.abstain, record.predicted);
        }
        Ok(PredictRow {
            index: record.index,
            label: record.label,
            prediction: record.predicted.map_or(Prediction::Abstain, Prediction::Class),
            count_top: record.count_top,
            count_second: record.count_second,
            seconds: record.seconds,
        })
    }
}
