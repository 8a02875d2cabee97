//! The native counter: counts depend on (seed, example) alone, whatever the
//! batch size or threads, and follow the same distribution as burn's.

use burn::backend::Flex;
use burn::prelude::*;
use csrs_engine::Engine;
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::{BurnCounter, ClassCounter, NativeCounter, NoiseStream, Phase, SamplingError};
use csrs_stats::Sigma;

use super::assert_same_distribution;
use super::burn_counter::BACKEND_RNG;

type B = Flex;

fn spec() -> ModelSpec {
    ModelSpec {
        architecture: Architecture::DigitsCnn,
        n_classes: 10,
        input_shape: [1, 8, 8],
        mean: vec![0.3],
        std: vec![0.4],
        graph: None,
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
    assert_same_distribution(&ours, &theirs);
}

#[test]
fn native_and_burn_counters_draw_the_same_noise() {
    // The same stream: the same noisy inputs, classified by two
    // implementations of one network (their logits differ in the last
    // places, which could move a draw lying on a decision boundary).
    let model = {
        let _rng = BACKEND_RNG.lock().unwrap();
        model()
    };
    let sigma = Sigma::new(1.0).unwrap();
    let stream = NoiseStream::new(1, 0);
    let n = 20_000;
    let ours = native(&model, 1000, 2).count(&input(), &sigma.into(), n, stream, Phase::Estimation).unwrap();
    let mut burn = BurnCounter::new(model, Default::default(), [1, 8, 8], 10, 700);
    let theirs = burn.count(&input(), &sigma.into(), n, stream, Phase::Estimation).unwrap();
    assert!(ours.iter().filter(|&&c| c > n / 100).count() >= 2, "noise should change some predictions: {ours:?}");
    let moved: u64 = ours.iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).sum();
    assert!(moved <= 4, "{ours:?} against {theirs:?}");
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

#[test]
fn inputs_counted_together_get_the_counts_they_get_alone() {
    use csrs_sampling::{Draws, InRounds, Noise, Rounds, Smoothed, StopRule};
    use csrs_stats::{Alpha, GridGaussian};
    let model = {
        let _rng = BACKEND_RNG.lock().unwrap();
        model()
    };
    let inputs: Vec<Vec<f32>> =
        (0..4).map(|k| input().iter().map(|x| (x + 0.1 * k as f32).min(1.0)).collect()).collect();
    let sigma = Sigma::new(0.5).unwrap();
    for noise in [Noise::Gaussian(sigma), Noise::Sound(GridGaussian::new(sigma))] {
        // Blocks of several inputs share the batches of 300; sizes that are
        // not whole blocks too.
        let draws: Vec<Draws<'_>> = inputs
            .iter()
            .zip([150, 30, 1000, 1])
            .enumerate()
            .map(|(k, (input, n))| Draws { input, n, stream: NoiseStream::new(9, k as u64), phase: Phase::Round(2) })
            .collect();
        let together = native(&model, 300, 2).count_each(&noise, &draws).unwrap();
        for (d, counts) in draws.iter().zip(&together) {
            let alone = native(&model, 1000, 1).count(d.input, &noise, d.n, d.stream, d.phase).unwrap();
            assert_eq!(*counts, alone);
        }
        let wrong = [Draws { input: &inputs[0][..10], ..draws[0] }];
        assert!(matches!(native(&model, 300, 2).count_each(&noise, &wrong), Err(SamplingError::InputSize { .. })));

        // Certification in rounds, together and alone.
        let rounds = Rounds { rule: StopRule::AtRadius(0.3), first: 100, max_n: 3200 };
        let alpha = Alpha::new(0.01).unwrap();
        let each: Vec<InRounds<'_>> = inputs
            .iter()
            .enumerate()
            .map(|(k, input)| InRounds { input, cost_row: None, stream: NoiseStream::new(3, k as u64) })
            .collect();
        let mut smoothed = Smoothed::new(native(&model, 400, 2), noise.clone());
        let together = smoothed.certify_each_in_rounds(&each, alpha, 50, rounds).unwrap();
        let totals: Vec<u64> = together.iter().map(|c| c.certified.estimation.total()).collect();
        assert!(totals.iter().any(|&t| t != totals[0]) || totals[0] < 3200, "rounds ended together: {totals:?}");
        for (one, certified) in each.iter().zip(together) {
            let alone = smoothed.certify_in_rounds(one.input, None, alpha, 50, rounds, one.stream).unwrap();
            assert_eq!(certified, alone);
        }
    }
}
