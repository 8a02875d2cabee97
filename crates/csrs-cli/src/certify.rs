//! `csrs certify`: a certificate per test example, from a checkpoint.

use burn::prelude::Backend;
use csrs_cost::CostMatrix;
use csrs_records::{CertifyRow, Settings, mean_draws, out_of_draws};
use csrs_run::{Certify, DrawCount, OnBackend, certify, on_backend, prepare};
use csrs_sampling::StopRule;
use csrs_stats::metrics::{CertifiedExample, summarize};

use crate::options::{Options, RunSettings};
use crate::progress::Shown;

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
        let n0 = settings.n0;
        let rule = stop_rule(&options)?;
        let (target_radius, radius_tolerance) = match rule {
            Some(StopRule::AtRadius(radius)) => (Some(radius), None),
            Some(StopRule::Within(tolerance)) => (None, Some(tolerance)),
            None => (None, None),
        };
        // The records' settings, checked before anything is loaded.
        let resolved = Options {
            n0: Some(n0.get()),
            cost: options.cost.clone(),
            target_radius,
            radius_tolerance,
            ..settings.as_options()
        }
        .settings()?;
        options.check_config_is_kept(&resolved, settings.run.note.as_deref())?;
        let task = CertifyTask { settings, resolved, cost: options.cost.clone(), n0, rule };
        let rows = on_backend(task.settings.device, task)?;
        println!("{}", summary_line(&rows, rule));
        Ok(())
    }
}

/// The rule of `--target-radius` or `--radius-tolerance`, if one was given.
fn stop_rule(options: &Options) -> anyhow::Result<Option<StopRule>> {
    Ok(StopRule::of_settings(options.target_radius, options.radius_tolerance)?)
}

struct CertifyTask {
    settings: RunSettings,
    /// What the records' `.config.toml` holds.
    resolved: Settings,
    cost: Option<std::path::PathBuf>,
    n0: DrawCount,
    /// Draw in rounds until this is answered, instead of n draws.
    rule: Option<StopRule>,
}

impl OnBackend for CertifyTask {
    type Output = Vec<CertifyRow>;

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<Vec<CertifyRow>> {
        let settings = &self.settings;
        let mut prepared = prepare::<B>(&settings.source()?, &settings.run, device, &mut Shown::default())?;
        let cost = match &self.cost {
            Some(path) => Some(CostMatrix::load(path, Some(prepared.smoothed.n_classes()))?),
            None => None,
        };
        let how = Certify { n0: self.n0, cost: cost.as_ref(), rule: self.rule };
        let (smoothed, dataset) = (&mut prepared.smoothed, &prepared.dataset);
        certify(&settings.run, &self.resolved, smoothed, dataset, how, &mut Shown::default())
    }
}

/// Certified accuracy and cost-sensitive robustness of all rows at a few
/// radii, on one line. A `--target-radius` run's are exact at its radius
/// (added to the few) and lower bounds elsewhere, marked `≥`.
fn summary_line(rows: &[CertifyRow], rule: Option<StopRule>) -> String {
    let target = match rule {
        Some(StopRule::AtRadius(radius)) => Some(radius),
        _ => None,
    };
    let mut radii = SUMMARY_RADII.to_vec();
    radii.extend(target.filter(|radius| !SUMMARY_RADII.contains(radius)));
    radii.sort_by(f64::total_cmp);
    let examples: Vec<CertifiedExample> = rows.iter().map(CertifyRow::example).collect();
    let summary = summarize(&examples, &radii);
    let shown = |radius: f64, value: f64| {
        let bound = if target.is_some_and(|target| target != radius) { "≥" } else { "" };
        format!("{bound}{value:.3}")
    };
    let accuracy: Vec<String> =
        radii.iter().zip(&summary.at_radius).map(|(&r, m)| shown(r, m.certified_accuracy.value())).collect();
    let radii_text = radii.iter().map(f64::to_string).collect::<Vec<_>>().join(", ");
    let mut line = format!(
        "summary: {} examples; certified accuracy at radius {radii_text}: {}",
        summary.n_examples,
        accuracy.join(", ")
    );
    if summary.n_sensitive > 0 {
        let robust: Vec<String> = radii
            .iter()
            .zip(&summary.at_radius)
            .filter_map(|(&r, m)| m.certified_cs_robustness.map(|p| shown(r, p.value())))
            .collect();
        line.push_str(&format!(
            "; certified cost-sensitive robustness ({} sensitive examples): {}",
            summary.n_sensitive,
            robust.join(", ")
        ));
    }
    if let Some(radius) = target {
        line.push_str(&format!(
            " (≥: a lower bound, not the metric: each input stopped drawing once its answer at radius {radius} \
             was known)"
        ));
    }
    if let Some(draws) = mean_draws(rows).filter(|_| rule.is_some()) {
        line.push_str(&format!("; {draws:.0} estimation draws per input on average"));
    }
    if let Some(count) = out_of_draws(rows) {
        line.push_str(&format!("; {count} of {} inputs ran out of draws before their answer", rows.len()));
    }
    if let Some(base) = summary.base_accuracy {
        line.push_str(&format!("; base model's accuracy on clean inputs: {:.3}", base.value()));
    }
    line
}
