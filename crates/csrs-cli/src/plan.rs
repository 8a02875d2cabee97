//! `csrs plan`: what a certification run can certify, before it runs.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use burn::prelude::Backend;
use csrs_cost::CostMatrix;
use csrs_data::DatasetName;
use csrs_report::radius_text;
use csrs_run::{Counting, DeviceChoice, OnBackend, Precision, check_batch, class_counter, load_denoised, on_backend};
use csrs_sampling::BLOCK;
use csrs_stats::plan::{MAX_DRAWS, Mode, draws_needed, max_radius, top_draws_needed};
use csrs_stats::{Alpha, Sigma, Smoothing};

use crate::bench::throughput;
use crate::options::{EngineChoice, ImportOptions};

/// Plan a certification before spending GPU hours: the largest radius any
/// input can reach with these n, alpha and sigma (every draw for the
/// predicted class); with --target-radius, the draws that radius needs and
/// the share of the n draws the predicted class needs for it; with
/// --samples-per-second (or a quick timing run of --model), the time per
/// input and, with --examples, for a whole test set.
///
/// Without --cost, for Cohen's certificate. With --cost, also for Certify-CS
/// (the predicted class bounded at alpha/2, each of a row's L cost levels at
/// alpha/(2L), no draw for a harmful class), once per number L of distinct
/// positive costs among the matrix's rows.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  csrs plan --sigma 0.25 --alpha 0.001 --n 100000 --target-radius 0.5
  csrs plan --sigma 0.5 --alpha 0.001 --cost configs/costs/digits-3-to-8.toml \\
      --samples-per-second 20000 --examples 500
  csrs plan --sigma 0.25 --alpha 0.001 --model models/digits-gaussian-025 --examples 500")]
pub(crate) struct Args {
    /// Noise level sigma, in pixel units (pixels in [0, 1])
    #[arg(long)]
    sigma: f64,
    /// Failure probability of each certificate
    #[arg(long)]
    alpha: f64,
    /// Estimation draws per input
    #[arg(long, default_value_t = 100_000)]
    n: u64,
    /// Selection draws per input (they count in the time only)
    #[arg(long, default_value_t = 100)]
    n0: u64,
    /// A radius to certify: the draws it needs, and the share of them the predicted class needs
    #[arg(long, value_name = "R")]
    target_radius: Option<f64>,
    /// Cost matrix (.toml or .csv): plan Certify-CS too
    #[arg(long, value_name = "FILE")]
    cost: Option<PathBuf>,
    /// Noisy copies the model classifies per second (`csrs bench` measures it)
    #[arg(long, value_name = "X", conflicts_with = "model")]
    samples_per_second: Option<f64>,
    /// A model to time instead: a quick run (2 seconds after one batch of warm-up) of noisy copies of one input, as certify would draw them
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// A denoiser put in front of --model, timed with it (denoised smoothing; as certify's --denoiser)
    #[arg(long, value_name = "PATH", requires = "model")]
    denoiser: Option<PathBuf>,
    /// Dataset of a PyTorch, safetensors or ONNX --model (its input shape and normalisation)
    #[arg(long, value_name = "NAME", requires = "model")]
    dataset: Option<DatasetName>,
    #[command(flatten)]
    import: ImportOptions,
    /// Where --model runs: cpu, or cuda[:N] when built with the cuda feature
    #[arg(long, default_value = "cpu", requires = "model")]
    device: DeviceChoice,
    /// Engine of --model: native (the compiled CPU engine), burn, or auto (native on the CPU, burn on a GPU)
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto, requires = "model")]
    engine: EngineChoice,
    /// Arithmetic of --model on a GPU: f32, tf32, bf16 or f16 (as certify's --precision); f32 only on the CPU
    #[arg(long, value_name = "f32|tf32|bf16|f16", default_value_t = Precision::F32, requires = "model")]
    precision: Precision,
    /// Noisy copies per forward pass of --model
    #[arg(long, default_value_t = 1000, requires = "model")]
    batch: usize,
    /// Inputs to certify, for the total time
    #[arg(long, value_name = "M")]
    examples: Option<u64>,
}

impl Args {
    pub(crate) fn run(mut self) -> anyhow::Result<()> {
        if let Some(model) = &self.model {
            let timing = Timing {
                model: model.clone(),
                denoiser: self.denoiser.clone(),
                dataset: self.dataset,
                import: std::mem::take(&mut self.import),
                sigma: Sigma::new(self.sigma).context("--sigma")?,
                counting: self.engine.counting_on(self.device, self.precision)?,
                batch: self.batch,
            };
            let rate = on_backend(self.device, timing)?;
            eprintln!("{}: {rate:.0} samples/s on {} (batch {})", model.display(), self.device, self.batch);
            self.samples_per_second = Some(rate);
        }
        print!("{}", self.report()?);
        Ok(())
    }

    /// The whole answer, as text.
    fn report(&self) -> anyhow::Result<String> {
        let smoothing = Smoothing::gaussian(self.sigma).context("--sigma")?;
        let alpha = Alpha::new(self.alpha).context("--alpha")?;
        if self.n == 0 || self.n > MAX_DRAWS {
            bail!("--n {}, expected 1 to {MAX_DRAWS} draws", self.n);
        }
        if self.n0 > MAX_DRAWS {
            bail!("--n0 {}, expected at most {MAX_DRAWS} draws", self.n0);
        }
        if let Some(examples) = self.examples.filter(|&m| m > MAX_EXAMPLES) {
            bail!("--examples {examples}, expected at most {MAX_EXAMPLES} inputs");
        }
        if let Some(r) = self.target_radius.filter(|r| !(r.is_finite() && *r > 0.0)) {
            bail!("--target-radius {r}, expected a finite radius > 0");
        }
        if let Some(x) = self.samples_per_second.filter(|x| !(x.is_finite() && *x > 0.0)) {
            bail!("--samples-per-second {x}, expected a finite number > 0");
        }
        let mut modes = vec![(Mode::Standard, "standard".to_owned())];
        if let Some(path) = &self.cost {
            let matrix = CostMatrix::load(path, None)?;
            let mut levels: Vec<usize> = matrix.rows().map(|row| row.levels().len()).filter(|&l| l > 0).collect();
            levels.sort_unstable();
            levels.dedup();
            if levels.is_empty() {
                bail!("{}: no row has a positive cost, so nothing is certified cost-sensitively", path.display());
            }
            modes.extend(levels.into_iter().map(|levels| {
                let rows = if levels == 1 { "1 cost level".to_owned() } else { format!("{levels} cost levels") };
                (Mode::CostSensitive { levels }, format!("cost-sensitive, rows with {rows}"))
            }));
        }

        let mut out = String::new();
        let _ = writeln!(out, "sigma {}, alpha {}, n {}:", self.sigma, self.alpha, self.n);
        for (mode, name) in &modes {
            let largest =
                max_radius(*mode, self.n, alpha, smoothing).map_or("none".to_owned(), |r| radius_text(r.get()));
            let _ = writeln!(out, "  {name}: largest radius {largest} (every draw for the predicted class)");
        }
        if let Some(target) = self.target_radius {
            let _ = writeln!(out, "target radius {target}:");
            for (mode, name) in &modes {
                let needed = draws_needed(*mode, target, alpha, smoothing)
                    .map_or(format!("more than {MAX_DRAWS} draws"), |n| format!("n >= {n}"));
                let share = match top_draws_needed(*mode, target, self.n, alpha, smoothing) {
                    Some(top) => format!("{top} of the {} draws ({:.2}%)", self.n, 100.0 * top as f64 / self.n as f64),
                    None => format!("more than the {} draws", self.n),
                };
                let _ =
                    writeln!(out, "  {name}: needs {needed}; with n = {}, the predicted class needs {share}", self.n);
            }
        }
        if let Some(rate) = self.samples_per_second {
            let draws = self.n0 + self.n;
            let per_input = draws as f64 / rate;
            let _ =
                write!(out, "time: {draws} draws per input at {rate:.0} samples/s: {} per input", duration(per_input));
            if let Some(examples) = self.examples {
                let _ = write!(out, "; {examples} inputs: {}", duration(per_input * examples as f64));
            }
            out.push('\n');
        }
        Ok(out)
    }
}

/// The most inputs --examples takes: 2³², far more than any test set
/// (ImageNet-21k holds about 1.4 × 10⁷ images); a larger count is a typo,
/// not a plan.
const MAX_EXAMPLES: u64 = 1 << 32;

/// A quick timing run of a model, drawing as `certify` would.
struct Timing {
    model: PathBuf,
    denoiser: Option<PathBuf>,
    dataset: Option<DatasetName>,
    import: ImportOptions,
    sigma: Sigma,
    counting: Counting,
    batch: usize,
}

/// How long the timing run draws, after its warm-up batch.
const TIMING_SECONDS: f64 = 2.0;

impl OnBackend for Timing {
    /// Samples per second.
    type Output = f64;

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<f64> {
        if self.batch < BLOCK as usize {
            bail!("--batch {}, expected at least {BLOCK} (one block of draws)", self.batch);
        }
        let checkpoint =
            load_denoised::<B>(&self.model, self.denoiser.as_deref(), self.dataset, &self.import.get(), None, &device)?;
        let spec = &checkpoint.meta.spec;
        check_batch("--batch", self.batch, spec.input_shape.iter().product())?;
        let mut counter = class_counter(checkpoint.model, spec, self.counting, device, self.batch)?;
        let batch = self.batch as u64 / BLOCK * BLOCK;
        let (drawn, seconds) = throughput(counter.as_mut(), &self.sigma.into(), batch, |drawn, seconds| {
            drawn == 0 || seconds < TIMING_SECONDS
        })?;
        Ok(drawn as f64 / seconds)
    }
}

/// Seconds as a person reads them.
fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.3} s"),
        s if s < 7200.0 => format!("{:.1} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(sigma: f64, alpha: f64) -> Args {
        Args {
            sigma,
            alpha,
            n: 100_000,
            n0: 100,
            target_radius: None,
            cost: None,
            samples_per_second: None,
            model: None,
            denoiser: None,
            dataset: None,
            import: ImportOptions::default(),
            device: DeviceChoice::Cpu,
            engine: EngineChoice::Auto,
            precision: Precision::F32,
            batch: 1000,
            examples: None,
        }
    }

    /// Against values computed by hand (docs: `csrs_stats::plan`'s tests).
    #[test]
    fn a_plan_reports_radii_draws_and_time() {
        let cost = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/costs/digits-3-to-8.toml");
        let plan = Args {
            target_radius: Some(0.5),
            cost: Some(cost),
            samples_per_second: Some(20_000.0),
            examples: Some(500),
            ..args(0.25, 0.001)
        };
        let text = plan.report().unwrap();
        let expected = [
            "sigma 0.25, alpha 0.001, n 100000:",
            // σ Φ⁻¹(0.001^{1/100000}) = 0.95286, rounded toward zero.
            "  standard: largest radius 0.9528 (every draw for the predicted class)",
            "  cost-sensitive, rows with 1 cost level: largest radius 0.9469 (every draw for the predicted class)",
            "target radius 0.5:",
            "  standard: needs n >= 301; with n = 100000, the predicted class needs",
            "  cost-sensitive, rows with 1 cost level: needs n >= 331; with n = 100000, the predicted class needs",
            // 100 100 draws / 20 000 per s = 5.005 s; × 500 = 2 502.5 s.
            "time: 100100 draws per input at 20000 samples/s: 5.005 s per input; 500 inputs: 41.7 min",
        ];
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), expected.len(), "{text}");
        for (line, start) in lines.iter().zip(expected) {
            assert!(line.starts_with(start), "{line:?} should start with {start:?}");
        }
    }

    #[test]
    fn impossible_plans_are_refused_by_name() {
        for (plan, message) in [
            (args(-1.0, 0.001), "--sigma"),
            (args(0.25, 1.5), "--alpha"),
            (Args { n: 0, ..args(0.25, 0.001) }, "--n 0, expected 1 to"),
            (Args { n: u64::MAX, ..args(0.25, 0.001) }, "--n 18446744073709551615, expected 1 to 1073741824"),
            (Args { n0: u64::MAX, ..args(0.25, 0.001) }, "--n0 18446744073709551615, expected at most 1073741824"),
            (Args { examples: Some(u64::MAX), ..args(0.25, 0.001) }, "--examples 18446744073709551615"),
            (Args { target_radius: Some(-0.5), ..args(0.25, 0.001) }, "--target-radius -0.5"),
            (Args { samples_per_second: Some(0.0), ..args(0.25, 0.001) }, "--samples-per-second 0"),
        ] {
            let err = format!("{:#}", plan.report().unwrap_err());
            assert!(err.starts_with(message) && !err.contains('\n'), "{err}");
        }
    }
}
