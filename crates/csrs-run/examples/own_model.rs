//! Certifying a network of your own through the library: a small burn
//! module (not one of csrs's architectures) trained for a few seconds on
//! the embedded digits with Gaussian noise, then 20 test images certified
//! against a cost matrix, written as records, and summarised as
//! `csrs analyze` does.
//!
//! `cargo run --release -p csrs-run --example own_model [OUT.tsv]`

use std::path::PathBuf;
use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use csrs_artifacts::{CertificationFiles, Keys};
use csrs_cost::CostMatrix;
use csrs_data::{Dataset, DatasetName, Split};
use csrs_records::{RunIdentity, Settings, Unfinished};
use csrs_report::{Run, TableFormat, table};
use csrs_run::{Certify, DrawCount, RunSettings, certify};
use csrs_sampling::{BurnCounter, Forward, Noise, Smoothed};
use csrs_stats::{Alpha, Sigma};

/// The noise the network is trained with and certified at.
const SIGMA: f64 = 0.25;

/// A network of its own: a 3×3 convolution with 16 channels, ReLU, and a
/// linear layer on the flattened 8×8 maps.
#[derive(Module, Debug)]
struct SmallNet<B: Backend> {
    conv: Conv2d<B>,
    relu: Relu,
    head: Linear<B>,
}

impl<B: Backend> SmallNet<B> {
    fn new(device: &B::Device) -> Self {
        SmallNet {
            conv: Conv2dConfig::new([1, 16], [3, 3]).with_padding(PaddingConfig2d::Same).init(device),
            relu: Relu::new(),
            head: LinearConfig::new(16 * 8 * 8, 10).init(device),
        }
    }
}

/// What smoothing needs of the network: images (N, 1, 8, 8) in [0, 1]
/// to logits (N, 10).
impl<B: Backend> Forward<B> for SmallNet<B> {
    fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.head.forward(self.relu.forward(self.conv.forward(images)).flatten(1, 3))
    }
}

/// Images and labels of some examples, as tensors.
fn batch<B: Backend>(dataset: &Dataset, indices: &[usize], device: &B::Device) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
    let mut pixels = Vec::with_capacity(indices.len() * 64);
    for &index in indices {
        pixels.extend_from_slice(&dataset.image(index).expect("embedded images read"));
    }
    let labels: Vec<i64> = indices.iter().map(|&index| dataset.label(index) as i64).collect();
    let images = Tensor::from_data(TensorData::new(pixels, [indices.len(), 1, 8, 8]), device);
    (images, Tensor::from_data(TensorData::new(labels, [indices.len()]), device))
}

/// Gaussian noise augmentation: each step, a batch with noise N(0, σ²).
fn train(dataset: &Dataset, steps: usize) -> SmallNet<Flex> {
    type B = Autodiff<Flex>;
    let device = Default::default();
    B::seed(&device, 0);
    let mut model = SmallNet::<B>::new(&device);
    let mut optim = AdamConfig::new().init::<B, SmallNet<B>>();
    let loss = CrossEntropyLossConfig::new().init(&device);
    let order: Vec<usize> = (0..dataset.len()).collect();
    for (step, indices) in order.chunks(64).cycle().take(steps).enumerate() {
        let (images, labels) = batch::<B>(dataset, indices, &device);
        let noisy = images.clone() + images.random_like(Distribution::Normal(0.0, SIGMA));
        let loss = loss.forward(model.forward(noisy), labels);
        if step % 100 == 0 {
            println!("step {step}: loss {:.3}", loss.clone().into_scalar());
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    model.valid()
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::args().nth(1).map_or_else(|| std::env::temp_dir().join("csrs-own-model.tsv"), PathBuf::from);
    let start = Instant::now();
    let model = train(&csrs_data::load(DatasetName::Digits, Split::Train, None)?, 600);
    println!("trained in {:.1} s", start.elapsed().as_secs_f64());

    let test = csrs_data::load(DatasetName::Digits, Split::Test, None)?;
    let cost_file = "configs/costs/digits-3-to-8.toml";
    let cost = CostMatrix::load(root.join(cost_file), Some(test.n_classes()))?;
    let counter = BurnCounter::new(model, Default::default(), [1, 8, 8], 10, 1000);
    let mut smoothed = Smoothed::new(counter, Noise::Gaussian(Sigma::new(SIGMA)?));
    let (n0, n, alpha) = (100, 10_000, 0.001);
    let settings = Settings::for_identity(&RunIdentity {
        model: Some("SmallNet".into()),
        dataset: Some("digits".into()),
        cost: Some(cost_file.into()),
        sigma: Some(SIGMA),
        n0: Some(n0),
        n: Some(n),
        alpha: Some(alpha),
        ..RunIdentity::default()
    })?;
    // A fresh file each time: a finished one would need `resume: true`.
    for stale in CertificationFiles::new(&out).outputs() {
        csrs_artifacts::remove_if_present(&stale)?;
    }
    let run = RunSettings { max: Some(20), ..RunSettings::new(out.clone(), Alpha::new(alpha)?, DrawCount::new(n)?) };
    let start = Instant::now();
    let rows = certify(
        &run,
        &settings,
        &mut smoothed,
        &test,
        Certify { n0: DrawCount::new(n0)?, cost: Some(&cost), rule: None },
        &mut (),
    )?;
    println!("certified {} images in {:.1} s into {}", rows.len(), start.elapsed().as_secs_f64(), out.display());

    let records = Run::read(&out, "SmallNet, σ = 0.25".into(), Unfinished::Refuse)?;
    print!("{}", table(&[records], &[0.0, 0.25, 0.5], TableFormat::Markdown, true, &Keys)?);
    Ok(())
}
