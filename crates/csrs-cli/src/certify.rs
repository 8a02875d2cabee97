//! `csrs certify`: a certificate per test example, from a checkpoint.

use std::time::Instant;

use anyhow::{anyhow, bail};
use burn::prelude::Backend;
use csrs_cost::CostMatrix;
use csrs_sampling::{BLOCK, Certified, InRounds, NoiseStream, Rounds, StopRule};
use csrs_stats::metrics::{CertifiedExample, summarize};
use csrs_stats::{Certificate, CostSensitiveCertificate, Radius, StandardCertificate};
use serde::{Deserialize, Serialize};

use crate::certificate_json::{Curve, RadiusCell, cost_sensitive_radius, standard_radius};
use crate::device::{OnBackend, on_backend};
use crate::options::{Options, RunSettings};
use crate::records::{Row, check_class};
use crate::sampling_run::{prepare, run_example_groups, run_examples, seconds_since, to_the_millisecond};

/// Radii at which the summary reports certified accuracy and robustness.
const SUMMARY_RADII: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// Certify each test example of a dataset with a trained model.
///
/// For each example, n0 noisy draws choose the prediction and n fresh draws
/// bound its probability; with --cost, Certify-CS also bounds the harmful
/// classes of the cost matrix, so the certificate says how far the input can
/// move before a harmful class could be output. Every certificate holds with
/// probability at least 1 - alpha.
///
/// Records go to --out (.tsv or .jsonl), one line per example, written as
/// soon as the example is done; --resume continues a run that was stopped.
/// A summary line (certified accuracy and cost-sensitive robustness at a few
/// radii) goes to standard output at the end.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  csrs certify --config configs/certify/digits.toml
  csrs certify --model models/digits-cnn --dataset digits --cost configs/costs/digits-3-to-8.toml \\
      --sigma 0.25 --n 10000 --out results/digits.tsv")]
pub(crate) struct Args {
    #[command(flatten)]
    options: Options,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let options = self.options.with_config_file()?;
        let settings = options.resolve_run()?;
        let n0 = options.n0.unwrap_or(100);
        if n0 == 0 {
            anyhow::bail!("--n0 is 0, expected at least one draw");
        }
        let rule = stop_rule(&options)?;
        let task = CertifyTask { settings, cost: options.cost.clone(), n0, rule };
        let rows = on_backend(task.settings.device, task)?;
        println!("{}", summary_line(&rows, rule.is_some()));
        Ok(())
    }
}

/// The rule of `--target-radius` or `--radius-tolerance`, if one was given.
fn stop_rule(options: &Options) -> anyhow::Result<Option<StopRule>> {
    let positive = |name: &str, value: f64| {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            bail!("--{name} {value}, expected a finite number > 0")
        }
    };
    Ok(match (options.target_radius, options.radius_tolerance) {
        (Some(radius), _) => Some(StopRule::AtRadius(positive("target-radius", radius)?)),
        (None, Some(tolerance)) => Some(StopRule::Within(positive("radius-tolerance", tolerance)?)),
        (None, None) => None,
    })
}

struct CertifyTask {
    settings: RunSettings,
    cost: Option<std::path::PathBuf>,
    n0: u64,
    /// Draw in rounds until this is answered, instead of n draws.
    rule: Option<StopRule>,
}

impl OnBackend for CertifyTask {
    type Output = Vec<CertifyRow>;

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Vec<CertifyRow>> {
        let settings = &self.settings;
        let mut prepared = prepare::<B>(settings, device)?;
        let cost = match &self.cost {
            Some(path) => Some(CostMatrix::load(path, Some(prepared.smoothed.n_classes()))?),
            None => None,
        };
        let (target_radius, radius_tolerance) = match self.rule {
            Some(StopRule::AtRadius(radius)) => (Some(radius), None),
            Some(StopRule::Within(tolerance)) => (None, Some(tolerance)),
            None => (None, None),
        };
        let resolved = Options {
            n0: Some(self.n0),
            cost: self.cost.clone(),
            target_radius,
            radius_tolerance,
            ..settings.as_options()
        };
        let dataset = &prepared.dataset;
        let smoothed = &mut prepared.smoothed;
        let cost_row = |index: usize| cost.as_ref().map(|matrix| matrix.row(dataset.label(index)));
        let Some(rule) = self.rule else {
            return run_examples(settings, &resolved, dataset, self.n0 + settings.n, |index| {
                let start = Instant::now();
                let image = dataset.image(index)?;
                let stream = NoiseStream::new(settings.seed, index as u64);
                let certified =
                    smoothed.certify(&image, cost_row(index).as_ref(), settings.alpha, self.n0, settings.n, stream)?;
                let base_predicted = smoothed.base_class(&image)?;
                Ok(CertifyRow::new(index, dataset.label(index), base_predicted, certified, seconds_since(start)))
            });
        };
        // Rounds start at one block; the inputs of a group share batches, so
        // that their small first rounds fill them.
        let rounds = Rounds { rule, first: BLOCK, max_n: settings.n };
        let group_size = (settings.batch as u64).div_ceil(rounds.first) as usize;
        let samples = |row: &CertifyRow| self.n0 + row.draws.unwrap_or(0);
        run_example_groups(settings, &resolved, dataset, group_size, samples, |indices| {
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
                    stream: NoiseStream::new(settings.seed, index as u64),
                })
                .collect();
            let certified = smoothed.certify_each_in_rounds(&inputs, settings.alpha, self.n0, rounds)?;
            let base_classes = images.iter().map(|image| smoothed.base_class(image)).collect::<Result<Vec<_>, _>>()?;
            // The group's time, shared out by the draws each input made.
            let seconds = start.elapsed().as_secs_f64();
            let all_draws: u64 = certified.iter().map(|one| self.n0 + one.certified.estimation.total()).sum();
            Ok(indices
                .iter()
                .zip(certified)
                .zip(base_classes)
                .map(|((&index, one), base_predicted)| {
                    let share = (self.n0 + one.certified.estimation.total()) as f64 / all_draws as f64;
                    let seconds = to_the_millisecond(seconds * share);
                    CertifyRow::new(index, dataset.label(index), base_predicted, one.certified, seconds)
                })
                .collect())
        })
    }
}

/// One certified example (SPEC §7).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CertifyRow {
    index: usize,
    label: usize,
    /// The base model's class for the clean input (no noise).
    base_predicted: Option<usize>,
    certificate: Certificate,
    /// Estimation draws classified as the prediction.
    count_predicted: u64,
    /// Estimation draws classified as the strongest harmful class.
    count_harmful: Option<u64>,
    /// Estimation draws made: n, or fewer when drawn in rounds.
    draws: Option<u64>,
    seconds: f64,
}

impl CertifyRow {
    /// The row of example `index` (of class `label`) from its certificate
    /// and counts.
    fn new(index: usize, label: usize, base_predicted: Option<usize>, certified: Certified, seconds: f64) -> Self {
        let Certified { certificate, estimation, .. } = certified;
        let count_predicted = estimation.count(certificate.predicted);
        let count_harmful = certificate.cost_sensitive.as_ref().map(|cs| estimation.count(cs.strongest_harmful()));
        let draws = Some(estimation.total());
        CertifyRow { index, label, base_predicted, certificate, count_predicted, count_harmful, draws, seconds }
    }

    /// The example as the metrics see it.
    pub(crate) fn example(&self) -> CertifiedExample {
        CertifiedExample {
            label: self.label,
            certificate: self.certificate.clone(),
            base_predicted: self.base_predicted,
        }
    }
}

/// A line of certify records (SPEC §7), in column order.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CertifyRecord {
    index: usize,
    label: usize,
    base_predicted: Option<usize>,
    predicted: usize,
    abstain: bool,
    p_lower: f64,
    radius_std: Option<f64>,
    radius_cs: RadiusCell,
    certified_cost: Option<Curve>,
    count_predicted: u64,
    harmful_class: Option<usize>,
    count_harmful: Option<u64>,
    draws: Option<u64>,
    seconds: f64,
}

impl Row for CertifyRow {
    type Record = CertifyRecord;

    /// Records from before csrs recorded the base model's prediction.
    const LATER_COLUMNS: &'static [&'static str] = &["base_predicted", "draws"];

    fn check_classes(&self, classes: usize) -> anyhow::Result<()> {
        check_class("label", self.label, classes)?;
        if let Some(base) = self.base_predicted {
            check_class("base_predicted", base, classes)?;
        }
        check_class("predicted", self.certificate.predicted, classes)?;
        match &self.certificate.cost_sensitive {
            Some(cs) => check_class("harmful_class", cs.strongest_harmful(), classes),
            None => Ok(()),
        }
    }

    fn index(&self) -> usize {
        self.index
    }

    fn to_record(&self) -> CertifyRecord {
        let cert = &self.certificate;
        let cost_sensitive = cert.cost_sensitive.as_ref();
        CertifyRecord {
            index: self.index,
            label: self.label,
            base_predicted: self.base_predicted,
            predicted: cert.predicted,
            abstain: cert.abstains(),
            p_lower: cert.p_lower,
            radius_std: standard_radius(cert),
            radius_cs: cost_sensitive_radius(cert),
            certified_cost: cost_sensitive.map(Curve::of),
            count_predicted: self.count_predicted,
            harmful_class: cost_sensitive.map(CostSensitiveCertificate::strongest_harmful),
            count_harmful: self.count_harmful,
            draws: self.draws,
            seconds: self.seconds,
        }
    }

    fn from_record(record: CertifyRecord) -> anyhow::Result<Self> {
        if !(0.0..=1.0).contains(&record.p_lower) {
            bail!("p_lower: {}, expected a probability in [0, 1]", record.p_lower);
        }
        if record.harmful_class.is_none() && record.count_harmful.is_some() {
            bail!("count_harmful: given, but harmful_class is null");
        }
        let standard = match record.radius_std {
            None => StandardCertificate::Abstain,
            Some(r) => StandardCertificate::Certified(
                Radius::new(r).ok_or_else(|| anyhow!("radius_std: {r}, expected a positive number or null"))?,
            ),
        };
        if record.abstain != (standard == StandardCertificate::Abstain) {
            bail!("abstain: {}, but radius_std is {:?}", record.abstain, record.radius_std);
        }
        let cost_sensitive = match (&record.certified_cost, record.harmful_class) {
            (None, None) => None,
            (Some(curve), Some(harmful)) => Some(curve.certificate(harmful)),
            (Some(_), None) => bail!("harmful_class: null, but certified_cost has a curve"),
            (None, Some(_)) => bail!("harmful_class: given, but certified_cost is null"),
        };
        let certificate =
            Certificate { predicted: record.predicted, p_lower: record.p_lower, standard, cost_sensitive };
        if record.radius_cs != cost_sensitive_radius(&certificate) {
            bail!("radius_cs: {:?}, but certified_cost gives another radius", record.radius_cs.0);
        }
        Ok(CertifyRow {
            index: record.index,
            label: record.label,
            base_predicted: record.base_predicted,
            certificate,
            count_predicted: record.count_predicted,
            count_harmful: record.count_harmful,
            draws: record.draws,
            seconds: record.seconds,
        })
    }
}

/// The estimation draws per row on average, when every row records them.
pub(crate) fn mean_draws(rows: &[CertifyRow]) -> Option<f64> {
    let draws: Option<u64> = rows.iter().map(|row| row.draws).sum();
    draws.filter(|_| !rows.is_empty()).map(|draws| draws as f64 / rows.len() as f64)
}

/// Certified accuracy and cost-sensitive robustness of all rows at a few
/// radii, on one line.
fn summary_line(rows: &[CertifyRow], in_rounds: bool) -> String {
    let examples: Vec<CertifiedExample> = rows.iter().map(CertifyRow::example).collect();
    let summary = summarize(&examples, &SUMMARY_RADII);
    let radii = SUMMARY_RADII.map(|r| r.to_string()).join(", ");
    let accuracy: Vec<String> =
        summary.at_radius.iter().map(|m| format!("{:.3}", m.certified_accuracy.value())).collect();
    let mut line = format!(
        "summary: {} examples; certified accuracy at radius {radii}: {}",
        summary.n_examples,
        accuracy.join(", ")
    );
    if summary.n_sensitive > 0 {
        let robust: Vec<String> = summary
            .at_radius
            .iter()
            .filter_map(|m| m.certified_cs_robustness.map(|r| format!("{:.3}", r.value())))
            .collect();
        line.push_str(&format!(
            "; certified cost-sensitive robustness ({} sensitive examples): {}",
            summary.n_sensitive,
            robust.join(", ")
        ));
    }
    if let Some(draws) = mean_draws(rows).filter(|_| in_rounds) {
        line.push_str(&format!("; {draws:.0} estimation draws per input on average"));
    }
    if let Some(base) = summary.base_accuracy {
        line.push_str(&format!("; base model's accuracy on clean inputs: {:.3}", base.value()));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate_json::CertificateJson;
    use crate::fields::field_names;

    /// Records carry the certificate under the keys `certify-counts` gives
    /// it, in the same order (two types, one schema).
    #[test]
    fn records_hold_the_certificate_keys_of_certify_counts() {
        let radius = Radius::new(0.5).unwrap();
        let cert = Certificate {
            predicted: 1,
            p_lower: 0.9,
            standard: StandardCertificate::Certified(radius),
            cost_sensitive: None,
        };
        let json = serde_json::to_value(CertificateJson::from(&cert)).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let columns = field_names::<CertifyRecord>();
        let start = columns.iter().position(|c| *c == keys[0]).unwrap();
        assert_eq!(&columns[start..start + keys.len()], keys);
    }
}
