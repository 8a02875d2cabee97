//! The native counter: counts depend on (seed, example) alone, whatever the
//! batch size or threads, and follow the same distribution as burn's.

use burn::backend::Flex;
use burn::prelude::*;
use csrs_engine::Engine;
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::{BurnCounter, ClassCounter, NativeCounter, NoiseStream, Phase, SamplingError};
use csrs_stats::Sigma;

use super::burn_counter::BACKEND_RNG;

type B = Flex;

fn spec() -> ModelSpec {
    ModelSpec {
        architecture: Architecture::DigitsCnn,
        n_classes: 10,
        input_shape: [1, 8, 8],
        mean: vec![0.3],
        std: vec![0.4],
    }
}

fn model() -> Classifier<B> {
    let device = Default::default();
    B::seed(&device, 3);
    Classifier::<B>::init(&spec(), &device).unwrap()
}

fn native(model: &Classifier<B>, batch_size: usize, threads: usize) -> NativeCounter {
    NativeCounter::new(Engine::from_classifier(model, &spec()).unwrap(), batch_size, threads)
}

fn input() -> Vec<f32> {
    (0..64).map(|i| ((i * 7) % 16) as f32 / 16.0).collect()
}

#[test]
fn counts_do_not_depend_on_batch_size_or_threads() {
    let model = {
        let _rng = BACKEND_RNG.lock().unwrap();
        model()
    };
    let sigma = Sigma::new(0.5).unwrap();
    let stream = NoiseStream::new(42, 7);
    let reference = native(&model, 100, 1).count(&input(), &sigma.into(), 1050, stream, Phase::Estimation).unwrap();
    assert_eq!(reference.iter().sum::<u64>(), 1050);
    assert!(reference.iter().filter(|&&c| c > 0).count() >= 2, "noise should change some predictions: {reference:?}");
    for (batch_size, threads) in [(1, 2), (250, 3), (400, 2), (5000, 4)] {
        let counts = native(&model, batch_size, threads)
            .count(&input(), &sigma.into(), 1050, stream, Phase::Estimation)
            .unwrap();
        assert_eq!(counts, reference, "batch size {batch_size}, {threads} threads");
    }
    let mut counter = native(&model, 400, 2);
    let other = counter.count(&input(), &sigma.into(), 1050, NoiseStream::new(42, 8), Phase::Estimation).unwrap();
    assert_ne!(other, reference);
    let other_phase = counter.count(&input(), &sigma.into(), 1050, stream, Phase::Selection).unwrap();
    assert_ne!(other_phase, reference);
    let err = counter.count(&input()[..10], &sigma.into(), 10, stream, Phase::Estimation).unwrap_err();
    assert!(matches!(err, SamplingError::InputSize { got: 10, expected: 64 }));
}

#[test]
fn native_and_burn_counts_follow_the_same_distribution() {
    // Other noise, same model and sigma: the class frequencies agree within
    // sampling error (a chi-square statistic far below its 0.001 quantile).
    let _rng = BACKEND_RNG.lock().unwrap();
    let model = model();
    let sigma = Sigma::new(0.5).unwrap();
    let n = 20_000;
    let ours =
        native(&model, 1000, 2).count(&input(), &sigma.into(), n, NoiseStream::new(1, 0), Phase::Estimation).unwrap();
    let device = Default::default();
    let mut burn = BurnCounter::new(model, device, [1, 8, 8], 10, 1000);
    let theirs = burn.count(&input(), &sigma.into(), n, NoiseStream::new(2, 0), Phase::Estimation).unwrap();
    let mut chi_square = 0.0;
    let mut cells = 0;
    for (&a, &b) in ours.iter().zip(&theirs) {
        if a + b >= 20 {
            let expected = (a + b) as f64 / 2.0;
            chi_square += ((a as f64 - expected).powi(2) + (b as f64 - expected).powi(2)) / expected;
            cells += 1;
        }
    }
    assert!(cells >= 2, "ours {ours:?}, burn {theirs:?}");
    // The 0.001 quantile of chi-square with 9 degrees of freedom is 27.9.
    assert!(chi_square < 27.9, "chi-square {chi_square} over {cells} classes: ours {ours:?}, burn {theirs:?}");
}

#[test]
fn both_counters_give_the_base_class_of_the_clean_input() {
    // Building the model seeds the backend's one generator.
    let _rng = BACKEND_RNG.lock().unwrap();
    let model = model();
    let device = Default::default();
    // Large, varied inputs, so that an untrained model answers more than
    // one class.
    let inputs: Vec<Vec<f32>> = (0..24)
        .map(|k| (0..64).map(|i| (((i * (k + 3) + k) % 17) as f32 - 8.0) * (k as f32 - 11.5)).collect())
        .collect();
    let mut native = native(&model, 100, 1);
    let mut burn = BurnCounter::new(model.clone(), device, [1, 8, 8], 10, 100);
    let mut classes = Vec::new();
    for input in &inputs {
        let logits = model.forward(Tensor::<B, 1>::from_floats(&input[..], &device).reshape([1, 1, 8, 8]));
        let expected = logits.argmax(1).into_data().iter::<i64>().next().unwrap() as usize;
        assert_eq!(native.base_class(input).unwrap(), Some(expected));
        assert_eq!(burn.base_class(input).unwrap(), Some(expected));
        classes.push(expected);
    }
    classes.sort_unstable();
    classes.dedup();
    assert!(classes.len() > 1, "the inputs reach more than one class: {classes:?}");
    let err = native.base_class(&inputs[0][..10]).unwrap_err();
    assert!(matches!(err, SamplingError::InputSize { got: 10, expected: 64 }));
}
