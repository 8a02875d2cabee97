//! Predicting every example of a run with the smoothed classifier (Cohen
//! et al.'s PREDICT): the top class of n noisy draws, or abstain when the
//! top two are not distinguishable at level α.

use std::time::Instant;

use csrs_data::Dataset;
use csrs_records::{PredictRow, Settings};
use csrs_sampling::{ClassCounter, NoiseStream, Smoothed};

use crate::examples::{Observer, run_example_groups, seconds_since};
use crate::settings::RunSettings;

/// Predicts each example of `dataset` that `run` selects and its records
/// do not hold yet, as [`certify`](crate::certify) certifies them.
///
/// # Errors
/// As [`certify`](crate::certify).
pub fn predict<C: ClassCounter>(
    run: &RunSettings,
    settings: &Settings,
    smoothed: &mut Smoothed<C>,
    dataset: &Dataset,
    observer: &mut dyn Observer,
) -> anyhow::Result<Vec<PredictRow>> {
    run_example_groups(
        run,
        settings,
        dataset,
        1,
        |_| run.n.get(),
        observer,
        |indices| {
            let index = indices[0];
            let start = Instant::now();
            let image = dataset.image(index)?;
            let predicted =
                smoothed.predict(&image, run.alpha, run.n.get(), NoiseStream::new(run.seed, index as u64))?;
            let seconds = seconds_since(start);
            Ok(vec![PredictRow::new(index, dataset.label(index), predicted.prediction, &predicted.counts, seconds)])
        },
    )
}
