//! Training throughput (examples/s) of each method on the digits CNN: one
//! whole epoch over the 1 297 training images, with its noisy test accuracy
//! and checkpoint, as `csrs train` runs it.

use burn::backend::{Autodiff, Flex};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use csrs_cost::CostMatrix;
use csrs_data::{DatasetName, Split, load};
use csrs_models::{Architecture, ModelSpec};
use csrs_train::{
    EpochLog, MacerSensitive, Objective, Observer, OptimizerConfig, Reweighting, Schedule, TrainConfig, TrainRun, train,
};

/// The allocator of the `csrs` binary, so that the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Quiet;

impl Observer for Quiet {
    fn epoch_done(&mut self, _: &EpochLog) -> csrs_train::Result<()> {
        Ok(())
    }
}

/// The settings of `configs/train/digits-*.toml` for `objective`, one epoch.
fn config(objective: Objective) -> TrainConfig {
    TrainConfig {
        sigma: 0.25,
        noise: Default::default(),
        epochs: 1,
        batch_size: 64,
        optimizer: OptimizerConfig::Sgd { lr: 0.01, momentum: 0.9, weight_decay: 5e-4 },
        schedule: Schedule::Cosine,
        objective,
        augment: None,
        seed: 0,
        replicas: 1,
        freeze_batch_norm: false,
    }
}

/// The cost-sensitive objectives, as the digits configurations set them.
fn objectives() -> [Objective; 4] {
    let cost_sensitive = Some(Reweighting { weight: 2.0 });
    [
        Objective::Gaussian { cost_sensitive },
        Objective::Macer {
            noise_copies: 16,
            beta: 16.0,
            lambda: 3.0,
            gamma: 4.0,
            cost_sensitive: Some(MacerSensitive { gamma_sensitive: 16.0 }),
        },
        Objective::SmoothAdv { noise_copies: 2, epsilon: 0.5, attack_steps: 4, warmup_epochs: None, cost_sensitive },
        Objective::SmoothMix {
            noise_copies: 2,
            attack_steps: 4,
            attack_step_size: 0.25,
            mix_weight: 1.0,
            warmup_epochs: None,
            cost_sensitive,
        },
    ]
}

fn epoch(c: &mut Criterion) {
    let train_set = load(DatasetName::Digits, Split::Train, None).unwrap();
    let test_set = load(DatasetName::Digits, Split::Test, None).unwrap();
    let costs = CostMatrix::seedwise(10, &[3]).unwrap();
    let spec = ModelSpec::for_dataset(Architecture::DigitsCnn, DatasetName::Digits, 10);
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("train_epoch_digits");
    group.sample_size(10);
    group.throughput(Throughput::Elements(train_set.len() as u64));
    for objective in objectives() {
        let method = objective.method_name();
        let config = config(objective).checked().unwrap();
        let out = dir.path().join(&method);
        group.bench_function(&method, |b| {
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
                    denoiser: None,
                };
                train::<Autodiff<Flex>>(run, None, &Default::default(), &mut Quiet).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, epoch);
criterion_main!(benches);
