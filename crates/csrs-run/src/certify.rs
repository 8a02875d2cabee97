//! Certifying every example of a run: n0 draws choose each prediction and
//! n fresh draws bound it (Cohen's CERTIFY, or Certify-CS with a cost
//! matrix), or draws in doubling rounds until a stop rule is answered, the
//! rounds of a group of inputs sharing forward passes.

use std::time::Instant;

use csrs_cost::CostMatrix;
use csrs_data::Dataset;
use csrs_records::{CertifyRow, Decision, Settings};
use csrs_sampling::{BLOCK, ClassCounter, InRounds, NoiseStream, Rounds, Smoothed, StopRule};

use crate::examples::{Observer, run_example_groups, seconds_since, to_the_millisecond};
use crate::settings::{DrawCount, RunSettings};

/// What certification needs beyond the run's settings.
#[derive(Debug, Clone, Copy)]
pub struct Certify<'a> {
    /// Selection draws that choose the prediction.
    pub n0: DrawCount,
    /// The cost matrix of Certify-CS; without it, Cohen's certificate.
    pub cost: Option<&'a CostMatrix>,
    /// Draw in rounds until this is answered (at most n draws), instead
    /// of n draws.
    pub rule: Option<StopRule>,
}

/// Certifies each example of `dataset` that `run` selects and its records
/// do not hold yet with `smoothed`, appending a record per example to
/// `run.out` as soon as it is made; `settings` (what the run was given, as
/// the records' `.config.toml`) are saved beside them, and checked against
/// the earlier ones when resuming, before anything is changed. With a stop
/// rule, each record says whether its input was decided or ran out of
/// draws. Returns every record, by index.
///
/// Example i's noise depends only on the seed and i, so neither the batch,
/// nor the shard, nor a resumption changes a certificate.
///
/// # Errors
/// What opening, resuming and writing the records say; a class count or
/// input shape that is not the model's; an example that cannot be read.
pub fn certify<C: ClassCounter>(
    run: &RunSettings,
    settings: &Settings,
    smoothed: &mut Smoothed<C>,
    dataset: &Dataset,
    certify: Certify<'_>,
    observer: &mut dyn Observer,
) -> anyhow::Result<Vec<CertifyRow>> {
    let Certify { n0, cost, rule } = certify;
    let (n0, n) = (n0.get(), run.n.get());
    let cost_row = |index: usize| cost.map(|matrix| matrix.row(dataset.label(index)));
    let Some(rule) = rule else {
        let samples = |_: &CertifyRow| n0 + n;
        return run_example_groups(run, settings, dataset, 1, samples, observer, |indices| {
            let index = indices[0];
            let start = Instant::now();
            let image = dataset.image(index)?;
            let stream = NoiseStream::new(run.seed, index as u64);
            let certified = smoothed.certify(&image, cost_row(index).as_ref(), run.alpha, n0, n, stream)?;
            let base_predicted = smoothed.base_class(&image)?;
            let seconds = seconds_since(start);
            let label = dataset.label(index);
            Ok(vec![CertifyRow::new(
                index,
                label,
                base_predicted,
                certified.certificate,
                &certified.estimation,
                seconds,
            )])
        });
    };
    // Rounds start at one block; the inputs of a group share batches, so
    // that their small first rounds fill them.
    let rounds = Rounds { rule, first: BLOCK, max_n: n };
    let group_size = (run.batch as u64).div_ceil(rounds.first) as usize;
    let samples = |row: &CertifyRow| n0 + row.draws().unwrap_or(0);
    run_example_groups(run, settings, dataset, group_size, samples, observer, |indices| {
        let start = Instant::now();
        let images = indices.iter().map(|&index| dataset.image(index)).collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<_> = indices.iter().map(|&index| cost_row(index)).collect();
        let inputs: Vec<InRounds<'_>> = indices
            .iter()
            .zip(&images)
            .zip(&rows)
            .map(|((&index, image), row)| InRounds {
                input: image,
                cost_row: row.as_ref(),
                stream: NoiseStream::new(run.seed, index as u64),
            })
            .collect();
        let certified = smoothed.certify_each_in_rounds(&inputs, run.alpha, n0, rounds)?;
        let base_classes = images.iter().map(|image| smoothed.base_class(image)).collect::<Result<Vec<_>, _>>()?;
        // The group's time, shared out by the draws each input made.
        let seconds = start.elapsed().as_secs_f64();
        let all_draws: u64 = certified.iter().map(|one| n0 + one.certified.estimation.total()).sum();
        Ok(indices
            .iter()
            .zip(certified)
            .zip(base_classes)
            .map(|((&index, one), base_predicted)| {
                let estimation = &one.certified.estimation;
                let share = (n0 + estimation.total()) as f64 / all_draws as f64;
                let seconds = to_the_millisecond(seconds * share);
                let label = dataset.label(index);
                let decision = if one.answered { Decision::Decided } else { Decision::OutOfDraws };
                CertifyRow::new(index, label, base_predicted, one.certified.certificate, estimation, seconds)
                    .decided(decision)
            })
            .collect())
    })
}
