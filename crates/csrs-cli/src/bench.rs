//! `csrs bench`: how fast this machine draws noisy samples.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::prelude::Backend;
use csrs_data::DatasetName;
use csrs_models::graph::Graph;
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::{BLOCK, ClassCounter, Noise, NoiseKind, NoiseStream, Phase};
use csrs_stats::Smoothing;

use csrs_run::{
    Counting, DeviceChoice, Import, MAX_DRAWS, OnBackend, Precision, check_batch, class_counter, load_denoised,
    on_backend,
};

use crate::options::EngineChoice;

/// Measure sampling throughput: how many noisy copies per second this
/// machine classifies and counts, the work a certificate is made of.
///
/// For each architecture, an untrained model (weights do not change the
/// speed) classifies --samples noisy copies of one input (rounded up to
/// whole batches), --batch at a time,
/// after one batch of warm-up; with --model, that model instead (a csrs
/// checkpoint, or a PyTorch, safetensors or ONNX file for --dataset). Prints one tab-separated line per
/// architecture: samples/s, GFLOP/s (2 × the network's multiply-adds) and
/// the seconds one certificate of --n-certify draws would take.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  csrs bench --arch lenet5,cifar-resnet110 --batch 400 --device cuda\n  csrs bench --model wrn.onnx --dataset cifar10"
)]
pub(crate) struct Args {
    /// Architectures, comma-separated
    #[arg(long, value_name = "NAMES", value_delimiter = ',', default_value = "lenet5,cifar-resnet20,cifar-resnet110")]
    arch: Vec<Architecture>,
    /// A model to time instead of the architectures: a csrs checkpoint, or a PyTorch, safetensors or ONNX file (then --dataset is needed)
    #[arg(long, value_name = "PATH", conflicts_with = "arch")]
    model: Option<PathBuf>,
    /// A denoiser put in front of --model, timed with it (denoised smoothing; as certify's --denoiser)
    #[arg(long, value_name = "PATH", requires = "model")]
    denoiser: Option<PathBuf>,
    /// Dataset of a foreign --model (input shape, classes); no data is read
    #[arg(long, value_name = "NAME", requires = "model")]
    dataset: Option<DatasetName>,
    /// Noisy copies per forward pass (whole blocks of 100)
    #[arg(long, default_value_t = 400)]
    batch: usize,
    /// Noisy copies timed per architecture
    #[arg(long, default_value_t = 4000)]
    samples: u64,
    /// Draws of one certificate (n0 + n), for the seconds-per-certificate column
    #[arg(long, default_value_t = 100_100)]
    n_certify: u64,
    /// cpu, or cuda[:N] when built with the cuda feature
    #[arg(long, default_value = "cpu")]
    device: DeviceChoice,
    /// native (the compiled CPU engine), burn, or auto (native on the CPU, burn on a GPU)
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    engine: EngineChoice,
    /// The network's arithmetic on a GPU: f32 (tf32 is the same program: burn's CUDA kernels take f32 products on TF32 tensor cores where they can), bf16 or f16 (the noisy input rounded to that type, then the network in it); f32 only on the CPU
    #[arg(long, value_name = "f32|tf32|bf16|f16", default_value_t = Precision::F32)]
    precision: Precision,
    /// Noise of the draws: gaussian, or sound (on the 1/255 grid, drawn from integers), at sigma 0.25
    #[arg(long, value_name = "gaussian|sound", default_value_t = NoiseKind::Gaussian)]
    noise: NoiseKind,
}

impl Args {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        if self.batch < 100 {
            bail!("--batch {}, expected at least 100 (one block of draws)", self.batch);
        }
        if self.samples == 0 {
            bail!("--samples is 0, expected at least 1");
        }
        if self.samples > MAX_DRAWS {
            bail!("--samples {}, expected at most {MAX_DRAWS} noisy copies per architecture", self.samples);
        }
        if self.n_certify > 2 * MAX_DRAWS {
            bail!(
                "--n-certify {}, expected at most {} draws (n0 + n, each at most {MAX_DRAWS})",
                self.n_certify,
                2 * MAX_DRAWS
            );
        }
        check_batch("--batch", self.batch, 1)?;
        // Before a model is built or loaded: a precision the device does
        // not take is refused at once.
        self.engine.counting_on(self.device, self.precision)?;
        if self.model.is_some() {
            return on_backend(self.device, self);
        }
        for &architecture in &self.arch {
            let ([c, h, w], _) = workload(architecture);
            check_batch("--batch", self.batch, c * h * w).with_context(|| format!("{architecture}"))?;
        }
        on_backend(self.device, self)
    }
}

/// The input shape and classes an architecture is usually run with.
fn workload(architecture: Architecture) -> ([usize; 3], usize) {
    match architecture {
        Architecture::Mlp | Architecture::Lenet5 => ([1, 28, 28], 10),
        Architecture::DigitsCnn => ([1, 8, 8], 10),
        Architecture::Resnet18 | Architecture::Resnet50 => ([3, 224, 224], 1000),
        _ => ([3, 32, 32], 10),
    }
}

/// Times `counter` on a fixed input: one batch of `batch` draws to warm up
/// (caches, compiled kernels), then batches until `more(drawn, seconds)`
/// says stop. Returns the draws timed and their seconds.
pub(crate) fn throughput(
    counter: &mut dyn ClassCounter,
    noise: &Noise,
    batch: u64,
    mut more: impl FnMut(u64, f64) -> bool,
) -> anyhow::Result<(u64, f64)> {
    let input: Vec<f32> = (0..counter.input_len()).map(|i| (i % 29) as f32 / 29.0).collect();
    counter.count(&input, noise, batch, NoiseStream::new(0, 0), Phase::Selection)?;
    let start = Instant::now();
    let mut drawn = 0;
    while more(drawn, start.elapsed().as_secs_f64()) {
        counter.count(&input, noise, batch, NoiseStream::new(0, 1 + drawn / batch), Phase::Estimation)?;
        drawn += batch;
    }
    Ok((drawn, start.elapsed().as_secs_f64()))
}

impl OnBackend for Args {
    type Output = ();

    fn run<B: Backend>(self, device: B::Device) -> anyhow::Result<()> {
        let mut stdout = std::io::stdout();
        writeln!(
            stdout,
            "arch\tinput\tdevice\tengine\tprecision\tnoise\tbatch\tsamples\tseconds\tsamples_per_s\tgflop_per_s\tseconds_per_certificate"
        )?;
        let noise = self.noise.for_smoothing(Smoothing::gaussian(0.25)?);
        let models: Vec<(String, Classifier<B>, ModelSpec)> = match &self.model {
            Some(path) => {
                let checkpoint = load_denoised::<B>(
                    path,
                    self.denoiser.as_deref(),
                    self.dataset,
                    &Import::default(),
                    None,
                    &device,
                )?;
                let [c, h, w] = checkpoint.meta.spec.input_shape;
                check_batch("--batch", self.batch, c * h * w)?;
                vec![(path.display().to_string(), checkpoint.model, checkpoint.meta.spec)]
            }
            None => {
                let mut models = Vec::new();
                for &architecture in &self.arch {
                    let (input_shape, n_classes) = workload(architecture);
                    let channels = input_shape[0];
                    let spec = ModelSpec {
                        architecture,
                        n_classes,
                        input_shape,
                        mean: vec![0.5; channels],
                        std: vec![0.25; channels],
                        graph: None,
                    };
                    B::seed(&device, 0);
                    models.push((architecture.to_string(), Classifier::<B>::init(&spec, &device)?, spec));
                }
                models
            }
        };
        let counting = self.engine.counting_on(self.device, self.precision)?;
        for (name, model, spec) in models {
            let mut counter = class_counter(model, &spec, counting, device.clone(), self.batch)?;
            let batch = (self.batch as u64 / BLOCK).max(1) * BLOCK;
            let (drawn, seconds) = throughput(counter.as_mut(), &noise, batch, |drawn, _| drawn < self.samples)?;
            let rate = drawn as f64 / seconds;
            let flops = 2.0 * Graph::of(&spec).multiply_adds() as f64;
            let [c, h, w] = spec.input_shape;
            writeln!(
                stdout,
                "{name}\t{c}x{h}x{w}\t{}\t{}\t{}\t{}\t{batch}\t{}\t{seconds:.3}\t{rate:.0}\t{:.1}\t{:.2}",
                self.device,
                if counting == Counting::Native { "native" } else { "burn" },
                self.precision,
                self.noise,
                drawn,
                rate * flops / 1e9,
                self.n_certify as f64 / rate
            )?;
        }
        Ok(())
    }
}
