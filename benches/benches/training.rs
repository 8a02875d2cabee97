//! Training throughput (examples/s) of each method on the digits CNN: one
//! whole epoch over the 1 297 training images, with its noisy test accuracy
//! and checkpoint, as `csrs train` runs it.

use burn::backend::{Autodiff, Flex};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use csrs_cost::CostMatrix;
use csrs_data::{DatasetName, Split, load};
use csrs_models::Architecture;
use csrs_train::{EpochLog, Method, Observer, OptimizerKind, Schedule, TrainConfig, TrainRun, model_spec, train};

/// The allocator of the `csrs` binary, so that the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Quiet;

impl Observer for Quiet {
    fn epoch_done(&mut self, _: &EpochLog) -> csrs_train::Result<()> {
        Ok(())
    }
}

/// The settings of `configs/train/digits-*.toml` for `method`, one epoch.
fn config(method: Method) -> TrainConfig {
    TrainConfig {
        method,
        sigma: 0.25,
        epochs: 1,
        batch_size: 64,
        optimizer: OptimizerKind::Sgd,
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        schedule: Schedule::Cosine,
        noise_copies: if matches!(method, Method::MacerCs) { 16 } else { 2 },
        beta: 16.0,
        lambda: 3.0,
        gamma: 4.0,
        gamma_sensitive: 16.0,
        cs_weight: 2.0,
        epsilon: 0.5,
        attack_steps: 4,
        attack_step_size: 0.25,
        mix_weight: 1.0,
        warmup_epochs: 0,
        augment: None,
        seed: 0,
    }
}

fn epoch(c: &mut Criterion) {
    let train_set = load(DatasetName::Digits, Split::Train, None).unwrap();
    let test_set = load(DatasetName::Digits, Split::Test, None).unwrap();
    let costs = CostMatrix::seedwise(10, &[3]).unwrap();
    let spec = model_spec(Architecture::DigitsCnn, DatasetName::Digits, 10);
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("train_epoch_digits");
    group.sample_size(10);
    group.throughput(Throughput::Elements(train_set.len() as u64));
    for method in [Method::GaussianCs, Method::MacerCs, Method::SmoothAdvCs, Method::SmoothMixCs] {
        let config = config(method);
        let out = dir.path().join(method.as_str());
        group.bench_function(method.as_str(), |b| {
            b.iter(|| {
                let run = TrainRun {
                    config: &config,
                    costs: Some(&costs),
                    spec: spec.clone(),
                    dataset: "digits".into(),
                    class_names: test_set.class_names().to_vec(),
                    train: &train_set,
                    test: &test_set,
                    out: &out,
                    resume: false,
                    config_hash: "bench".into(),
                };
                train::<Autodiff<Flex>>(run, &Default::default(), &mut Quiet).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, epoch);
criterion_main!(benches);
