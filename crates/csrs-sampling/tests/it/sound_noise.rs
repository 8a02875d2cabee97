//! Sound noise: the same images from both counters, the same smoothing as
//! Gaussian noise up to rounding, and bounds widened by the draws' slack.

use burn::backend::Flex;
use burn::prelude::*;
use csrs_engine::Engine;
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::{BurnCounter, ClassCounter, KnownProbabilities, NativeCounter, Noise, NoiseStream, Phase};
use csrs_sampling::{SamplingError, Smoothed};
use csrs_stats::{Alpha, BinomialSample, GridGaussian, Sigma, grid_value};

use super::assert_same_distribution;
use super::burn_counter::BACKEND_RNG;

type B = Flex;

/// A random network that normalises its input by (x − mean)/std.
fn spec(mean: f32, std: f32) -> ModelSpec {
    ModelSpec {
        architecture: Architecture::DigitsCnn,
        n_classes: 10,
        input_shape: [1, 8, 8],
        mean: vec![mean],
        std: vec![std],
        graph: None,
    }
}

fn model(spec: &ModelSpec) -> Classifier<B> {
    let device = Default::default();
    B::seed(&device, 3);
    Classifier::<B>::init(spec, &device).unwrap()
}

/// An 8-bit input (levels k/15 = 17k/255): on the grid, so rounding it
/// changes nothing.
fn input() -> Vec<f32> {
    (0..64).map(|i| grid_value(((i * 7) % 16 * 17) as u8)).collect()
}

fn sound(sigma: f64) -> Noise {
    Noise::Sound(GridGaussian::new(Sigma::new(sigma).unwrap()))
}

#[test]
fn both_counters_classify_the_same_noisy_images() {
    let _rng = BACKEND_RNG.lock().unwrap();
    let spec = spec(0.3, 0.4);
    let model = model(&spec);
    let noise = sound(1.0);
    let stream = NoiseStream::new(5, 3);
    let engine = || Engine::from_classifier(&model, &spec).unwrap();
    let native = NativeCounter::new(engine(), 300, 2).count(&input(), &noise, 1050, stream, Phase::Estimation).unwrap();
    assert!(native.iter().filter(|&&c| c > 0).count() >= 2, "noise should change some predictions: {native:?}");
    let one_thread = NativeCounter::new(engine(), 100, 1).count(&input(), &noise, 1050, stream, Phase::Estimation);
    assert_eq!(one_thread.unwrap(), native);
    let mut burn = BurnCounter::new(model, Default::default(), [1, 8, 8], 10, 500);
    assert_eq!(burn.count(&input(), &noise, 1050, stream, Phase::Estimation).unwrap(), native);
}

#[test]
fn sound_and_gaussian_noise_smooth_alike_away_from_the_ends_of_the_range() {
    // Same model and σ, other noise, an 8-bit input of mid-grey pixels that
    // σ = 0.1 takes past 0 or 1 about twice in a million pixel draws: the
    // class frequencies agree within sampling error, since rounding moves
    // each pixel by at most 1/510. (Near 0 and 1 they differ: sound noise
    // clips to the range, as the base classifier it smooths is
    // f ∘ clip ∘ Round.)
    // A narrow normalisation, so that small noise changes predictions.
    let spec = spec(0.5, 0.05);
    let model = {
        let _rng = BACKEND_RNG.lock().unwrap();
        model(&spec)
    };
    let input: Vec<f32> = (0..64).map(|i| grid_value((118 + (i * 7) % 20) as u8)).collect();
    let n = 20_000;
    let mut counter = NativeCounter::new(Engine::from_classifier(&model, &spec).unwrap(), 1000, 2);
    let sigma = Sigma::new(0.1).unwrap();
    let gaussian = counter.count(&input, &sigma.into(), n, NoiseStream::new(1, 0), Phase::Estimation).unwrap();
    let sound = counter.count(&input, &sound(0.1), n, NoiseStream::new(2, 0), Phase::Estimation).unwrap();
    assert_same_distribution(&gaussian, &sound);
}

/// A three-class simulation whose input is its probability vector (stored
/// as f32, renormalised).
fn known() -> KnownProbabilities<impl Fn(&[f32]) -> Vec<f64>> {
    KnownProbabilities::new(3, 3, |input: &[f32]| {
        let total: f64 = input.iter().map(|&p| f64::from(p)).sum();
        input.iter().map(|&p| f64::from(p) / total).collect()
    })
}

#[test]
fn certificates_of_sound_noise_give_up_the_slack_and_predict_refuses_too_many_draws() {
    let noise = sound(0.25);
    let slack = noise.slack(3);
    assert!(slack > 0.0 && slack < 1e-11, "{slack}");
    let alpha = Alpha::new(0.001).unwrap();
    let input = [0.8, 0.15, 0.05];
    let stream = NoiseStream::new(0, 0);
    let mut smoothed = Smoothed::new(known(), noise);
    let certified = smoothed.certify(&input, None, alpha, 100, 10_000, stream).unwrap();
    let top = certified.estimation.sample(certified.certificate.predicted);
    assert_eq!(certified.certificate.p_lower, top.lower(alpha) - slack);
    // The same counts with Gaussian noise: the bound itself.
    let mut gaussian = Smoothed::new(known(), Sigma::new(0.25).unwrap());
    let exact = gaussian.certify(&input, None, alpha, 100, 10_000, stream).unwrap();
    assert_eq!(exact.estimation, certified.estimation);
    assert_eq!(exact.certificate.p_lower, BinomialSample::lower(top, alpha));

    // PREDICT's α, less n × slack, must stay positive.
    let tiny = Alpha::new(1e-12).unwrap();
    let err = smoothed.predict(&input, tiny, 1_000, stream).unwrap_err();
    assert!(matches!(err, SamplingError::SlackExceedsAlpha { n: 1_000, .. }), "{err}");
    assert!(smoothed.predict(&input, alpha, 1_000, stream).is_ok());
}
