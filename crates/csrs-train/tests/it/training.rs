//! Training the small digits model: it learns, and a resumed run ends where
//! an uninterrupted one does.

use burn::backend::{Autodiff, Flex};
use burn::prelude::*;
use csrs_cost::CostMatrix;
use csrs_data::{DatasetName, Split, load};
use csrs_models::{Architecture, Checkpoint, ModelSpec};
use csrs_sampling::NoiseKind;
use csrs_train::{EpochLog, Objective, Observer, OptimizerConfig, Reweighting, Schedule, TrainConfig, TrainRun, train};

type B = Autodiff<Flex>;

use crate::BACKEND_RNG;

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        sigma: 0.25,
        noise: NoiseKind::Gaussian,
        epochs,
        batch_size: 64,
        optimizer: OptimizerConfig::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 5e-4 },
        schedule: Schedule::Multistep { milestones: vec![2], gamma: 0.1 },
        objective: Objective::Gaussian { cost_sensitive: None },
        augment: None,
        seed: 1,
        replicas: 1,
        freeze_batch_norm: false,
    }
}

fn run_training(config: &TrainConfig, out: &std::path::Path, resume: bool) -> Vec<EpochLog> {
    run_training_for(config, None, out, resume)
}

fn run_training_for(
    config: &TrainConfig,
    costs: Option<&CostMatrix>,
    out: &std::path::Path,
    resume: bool,
) -> Vec<EpochLog> {
    let train_set = load(DatasetName::Digits, Split::Train, None).unwrap();
    let test_set = load(DatasetName::Digits, Split::Test, None).unwrap();
    let spec = ModelSpec::for_dataset(Architecture::DigitsCnn, DatasetName::Digits, 10);
    let config = config.clone().checked().unwrap();
    let run = TrainRun {
        config: &config,
        costs,
        spec,
        dataset: "digits".into(),
        class_names: test_set.class_names().to_vec(),
        train: &train_set,
        test: &test_set,
        out,
        resume,
        config_hash: "test".into(),
        denoiser: None,
    };
    let mut logs = Logs(Vec::new());
    train::<B>(run, None, &Default::default(), &mut logs).unwrap();
    logs.0
}

/// Keeps each epoch's log.
struct Logs(Vec<EpochLog>);

impl Observer for Logs {
    fn epoch_done(&mut self, log: &EpochLog) -> csrs_train::Result<()> {
        self.0.push(log.clone());
        Ok(())
    }
}

#[test]
fn gaussian_training_learns_digits_and_resumes_exactly() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let whole = run_training(&config(3), &dir.path().join("whole"), false);
    assert_eq!(whole.len(), 3);
    let last = whole.last().unwrap();
    assert!(
        last.noisy_test_accuracy > 0.6,
        "noisy accuracy {} should clearly beat chance (0.1)",
        last.noisy_test_accuracy
    );
    assert!(whole[2].lr < whole[0].lr, "the schedule drops the rate at epoch 2");

    // Two epochs, then a resumed run to three: the same model as three at once.
    let first = run_training(&config(2), &dir.path().join("split"), false);
    assert_eq!(first.len(), 2);
    let rest = run_training(&config(3), &dir.path().join("split"), true);
    assert_eq!(rest.len(), 1, "only the missing epoch runs");
    assert_eq!(rest[0].epoch, 3);
    assert_eq!(rest[0].noisy_test_accuracy, last.noisy_test_accuracy);
    // Records hold random parameter ids: compare what the models compute.
    let logits = |stem: &str| {
        let checkpoint = Checkpoint::<Flex>::load(&dir.path().join(stem), Some(10), &Default::default()).unwrap();
        let images: Vec<f32> = (0..5 * 64).map(|i| (i % 17) as f32 / 17.0).collect();
        let input = Tensor::<Flex, 1>::from_floats(images.as_slice(), &Default::default()).reshape([5, 1, 8, 8]);
        checkpoint.model.forward(input).into_data().to_vec::<f32>().unwrap()
    };
    assert!(logits("split") == logits("whole"), "the resumed model differs from the uninterrupted one");
}

#[test]
fn attack_methods_train_for_a_cost_matrix() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let costs = CostMatrix::seedwise(10, &[3]).unwrap();
    let cost_sensitive = Some(Reweighting { weight: 1.0 });
    let objectives = [
        Objective::SmoothAdv {
            noise_copies: 2,
            epsilon: 0.25,
            attack_steps: 2,
            warmup_epochs: Some(2),
            cost_sensitive,
        },
        Objective::SmoothMix {
            noise_copies: 2,
            attack_steps: 2,
            attack_step_size: 0.25,
            mix_weight: 1.0,
            warmup_epochs: Some(2),
            cost_sensitive,
        },
    ];
    for objective in objectives {
        let method = objective.method_name();
        let config = TrainConfig { objective, ..config(2) };
        let logs = run_training_for(&config, Some(&costs), &dir.path().join(&method), false);
        let last = logs.last().unwrap();
        assert!(last.robustness_sensitive > 0.0, "{method}: the threes' extra weight is missing");
        assert!(last.noisy_test_accuracy > 0.3, "{method}: noisy accuracy {}", last.noisy_test_accuracy);
        assert!(last.noisy_test_accuracy_sensitive.is_some());
    }
}

/// Three replicas on the CPU, each on a third of the batch (432, 432 and
/// 433 of 1297 examples), take the steps one device takes on whole batches:
/// with noise too small to matter, the two models compute the same logits.
/// (Over many steps, rounding differences grow as in any two runs that sum
/// in another order.)
#[test]
fn replicas_train_the_model_one_device_trains() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = |replicas| TrainConfig { sigma: 1e-6, augment: Some(false), batch_size: 1297, replicas, ..config(3) };
    let alone = run_training(&config(1), &dir.path().join("alone"), false);
    let shared = run_training(&config(3), &dir.path().join("shared"), false);
    assert!(alone[2].classification < alone[0].classification, "the steps lower the loss: {alone:?}");
    for (alone, shared) in alone.iter().zip(&shared) {
        assert!((alone.classification - shared.classification).abs() < 1e-5, "{alone:?}\n{shared:?}");
        assert_eq!(alone.train_accuracy, shared.train_accuracy);
    }
    let logits = |stem: &str| {
        let checkpoint = Checkpoint::<Flex>::load(&dir.path().join(stem), Some(10), &Default::default()).unwrap();
        let images: Vec<f32> = (0..5 * 64).map(|i| (i % 13) as f32 / 13.0).collect();
        let input = Tensor::<Flex, 1>::from_floats(images.as_slice(), &Default::default()).reshape([5, 1, 8, 8]);
        checkpoint.model.forward(input).into_data().to_vec::<f32>().unwrap()
    };
    let (alone, shared) = (logits("alone"), logits("shared"));
    let largest = alone.iter().zip(&shared).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(largest < 1e-4, "the logits differ by {largest}: {alone:?} vs {shared:?}");
}
