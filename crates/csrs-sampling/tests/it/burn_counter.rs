//! The burn counter: counts are complete, and independent of the batch size.

use burn::backend::Flex;
use burn::prelude::*;
use csrs_cost::CostMatrix;
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::{BurnCounter, ClassCounter, NoiseStream, Phase, SamplingError, Smoothed};
use csrs_stats::{Alpha, Sigma};

type B = Flex;

/// The flex backend has one random generator per process: tests that seed
/// it must not run at the same time.
pub(crate) static BACKEND_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn counter(batch_size: usize) -> BurnCounter<B> {
    let device = Default::default();
    B::seed(&device, 3);
    let spec = ModelSpec {
        architecture: Architecture::DigitsCnn,
        n_classes: 10,
        input_shape: [1, 8, 8],
        mean: vec![0.3],
        std: vec![0.4],
    };
    let model = Classifier::<B>::init(&spec, &device).unwrap();
    BurnCounter::new(model, device, [1, 8, 8], 10, batch_size)
}

fn input() -> Vec<f32> {
    (0..64).map(|i| ((i * 7) % 16) as f32 / 16.0).collect()
}

#[test]
fn counts_do_not_depend_on_the_batch_size() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let sigma = Sigma::new(0.5).unwrap();
    let stream = NoiseStream::new(42, 7);
    let reference = counter(100).count(&input(), &sigma.into(), 1050, stream, Phase::Estimation).unwrap();
    assert_eq!(reference.iter().sum::<u64>(), 1050);
    assert!(reference.iter().filter(|&&c| c > 0).count() >= 2, "noise should change some predictions: {reference:?}");
    for batch_size in [1, 250, 400, 5000] {
        let counts = counter(batch_size).count(&input(), &sigma.into(), 1050, stream, Phase::Estimation).unwrap();
        assert_eq!(counts, reference, "batch size {batch_size}");
    }
    let other_example =
        counter(400).count(&input(), &sigma.into(), 1050, NoiseStream::new(42, 8), Phase::Estimation).unwrap();
    assert_ne!(other_example, reference);
}

#[test]
fn inputs_counted_together_get_the_counts_they_get_alone() {
    use csrs_sampling::{Draws, Noise};
    use csrs_stats::GridGaussian;
    let _rng = BACKEND_RNG.lock().unwrap();
    let inputs: Vec<Vec<f32>> =
        (0..3).map(|k| input().iter().map(|x| (x + 0.2 * k as f32).min(1.0)).collect()).collect();
    let sigma = Sigma::new(1.0).unwrap();
    for noise in [Noise::Gaussian(sigma), Noise::Sound(GridGaussian::new(sigma))] {
        let draws: Vec<Draws<'_>> = inputs
            .iter()
            .zip([150, 30, 420])
            .enumerate()
            .map(|(k, (input, n))| Draws { input, n, stream: NoiseStream::new(4, k as u64), phase: Phase::Estimation })
            .collect();
        let together = counter(300).count_each(&noise, &draws).unwrap();
        for (d, counts) in draws.iter().zip(&together) {
            assert_eq!(*counts, counter(1000).count(d.input, &noise, d.n, d.stream, d.phase).unwrap());
        }
        assert!(together.iter().any(|counts| counts.iter().filter(|&&c| c > 0).count() >= 2), "{together:?}");
    }
}

#[test]
fn certify_through_a_model() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let matrix = CostMatrix::seedwise(10, &[3]).unwrap();
    let mut smoothed = Smoothed::new(counter(500), Sigma::new(0.25).unwrap());
    let alpha = Alpha::new(0.001).unwrap();
    let certified = smoothed.certify(&input(), Some(&matrix.row(3)), alpha, 100, 1000, NoiseStream::new(0, 0)).unwrap();
    assert_eq!(certified.selection.total(), 100);
    assert_eq!(certified.estimation.total(), 1000);
    assert!(certified.certificate.cost_sensitive.is_some());

    let err = smoothed.certify(&input()[..10], None, alpha, 100, 1000, NoiseStream::new(0, 0)).unwrap_err();
    assert!(matches!(err, SamplingError::InputSize { got: 10, expected: 64 }));
    let err = smoothed.certify(&input(), None, alpha, 0, 1000, NoiseStream::new(0, 0)).unwrap_err();
    assert_eq!(err.to_string(), "n0 is 0, expected at least one draw");
    let small = CostMatrix::seedwise(3, &[1]).unwrap();
    let err = smoothed.certify(&input(), Some(&small.row(1)), alpha, 100, 100, NoiseStream::new(0, 0)).unwrap_err();
    assert_eq!(err.to_string(), "cost row has 3 classes, expected 10 (the model's classes)");
    let predicted = smoothed.predict(&input(), alpha, 300, NoiseStream::new(0, 0)).unwrap();
    assert_eq!(predicted.counts.total(), 300);
}
