//! Counters over models csrs does not run: one that classifies batches of
//! noise csrs draws, and one that draws its own noise from each block's
//! seed. Both give counts that depend on (seed, example) alone.

use std::sync::{Arc, Mutex};

use burn::backend::Flex;
use burn::prelude::*;
use csrs_engine::{Engine, Workspace};
use csrs_models::{Architecture, Classifier, ModelSpec};
use csrs_sampling::{
    BLOCK, ClassCounter, ClassifyCounter, CountSeeded, Draws, NativeCounter, Noise, NoiseStream, Phase, Result,
    SamplingError, SeededBatch, SeededCounter,
};
use csrs_stats::{GridGaussian, Sigma};
use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use super::burn_counter::BACKEND_RNG;

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

fn engine() -> Engine {
    let _rng = BACKEND_RNG.lock().unwrap();
    let device = Default::default();
    Flex::seed(&device, 3);
    Engine::from_classifier(&Classifier::<Flex>::init(&spec(), &device).unwrap(), &spec()).unwrap()
}

fn input(shift: usize) -> Vec<f32> {
    (0..64).map(|i| ((i * 7 + shift) % 16) as f32 / 16.0).collect()
}

/// The engine as a model of another framework: inputs in, classes out;
/// every batch's size is recorded.
fn classify(engine: Engine, sizes: Arc<Mutex<Vec<usize>>>) -> impl FnMut(Vec<f32>, usize) -> Result<Vec<usize>> {
    let mut workspace = Workspace::default();
    move |inputs, count| {
        sizes.lock().unwrap().push(count);
        let mut logits = vec![0.0; count * 10];
        engine.run(&mut workspace, &inputs, count, &mut logits);
        Ok(logits
            .chunks_exact(10)
            .map(|row| (0..10).fold(0, |best, class| if row[class] > row[best] { class } else { best }))
            .collect())
    }
}

#[test]
fn csrs_noise_classified_elsewhere_counts_as_the_native_counter() {
    let engine = engine();
    let sigma = Sigma::new(0.5).unwrap();
    let (a, b) = (input(0), input(5));
    let draws = [
        Draws { input: &a, n: 250, stream: NoiseStream::new(9, 3), phase: Phase::Estimation },
        Draws { input: &b, n: 130, stream: NoiseStream::new(9, 4), phase: Phase::Round(2) },
    ];
    for noise in [Noise::Gaussian(sigma), Noise::Sound(GridGaussian::new(sigma))] {
        let reference = NativeCounter::new(engine.clone(), 400, 2).count_each(&noise, &draws).unwrap();
        if let Noise::Gaussian(_) = noise {
            assert!(reference[0].iter().filter(|&&c| c > 0).count() >= 2, "noise should change classes: {reference:?}");
        }
        for batch in [1, 300, 1000] {
            let sizes = Arc::new(Mutex::new(Vec::new()));
            let mut counter = ClassifyCounter::new(classify(engine.clone(), sizes.clone()), 10, 64, batch);
            assert_eq!(counter.count_each(&noise, &draws).unwrap(), reference, "{noise:?}, batch {batch}");
            // Whole blocks per batch, the last blocks of one input sharing
            // a batch with the first of the next.
            let expected: &[usize] = match batch {
                1 => &[100, 100, 50, 100, 30],
                300 => &[250, 130],
                _ => &[380],
            };
            assert_eq!(*sizes.lock().unwrap(), expected);
        }
    }
    let mut counter = ClassifyCounter::new(classify(engine.clone(), Arc::default()), 10, 64, 100);
    let mut native = NativeCounter::new(engine, 100, 1);
    assert_eq!(counter.base_class(&a).unwrap(), native.base_class(&a).unwrap());
}

#[test]
fn a_model_answering_wrongly_is_refused() {
    let noise = Noise::Gaussian(Sigma::new(0.25).unwrap());
    let stream = NoiseStream::new(0, 0);
    let mut short = ClassifyCounter::new(|_: Vec<f32>, count: usize| Ok(vec![0; count - 1]), 3, 2, 100);
    let err = short.count(&[0.0, 0.0], &noise, 150, stream, Phase::Selection).unwrap_err();
    assert!(matches!(err, SamplingError::Classes { got: 99, expected: 100 }), "{err}");
    let mut beyond = ClassifyCounter::new(|_: Vec<f32>, count: usize| Ok(vec![3; count]), 3, 2, 100);
    let err = beyond.count(&[0.0, 0.0], &noise, 10, stream, Phase::Selection).unwrap_err();
    assert_eq!(err.to_string(), "the model returned class 3, expected a class below 3");
    let err = beyond.count(&[0.0], &noise, 10, stream, Phase::Selection).unwrap_err();
    assert!(matches!(err, SamplingError::InputSize { got: 1, expected: 2 }), "{err}");
    let mut failing =
        ClassifyCounter::new(|_: Vec<f32>, _: usize| Err(SamplingError::Model("out of memory".into())), 3, 2, 100);
    let err = failing.count(&[0.0, 0.0], &noise, 10, stream, Phase::Selection).unwrap_err();
    assert_eq!(err.to_string(), "out of memory");
}

/// How a [`Threshold`] breaks its rows of counts.
type Breaking = fn(&mut Vec<Vec<u64>>);

/// A model of one value that draws its own noise: class 1 where
/// x + σ·z > 0, z a standard normal from a generator seeded per block.
/// `bad` breaks its answer for the error tests.
#[derive(Default)]
struct Threshold {
    batches: Arc<Mutex<Vec<Vec<u64>>>>,
    bad: Option<Breaking>,
}

impl CountSeeded for Threshold {
    fn count_blocks(&mut self, batch: &SeededBatch<'_>) -> Result<Vec<Vec<u64>>> {
        self.batches.lock().unwrap().push(batch.blocks.iter().map(|block| block.size as u64).collect());
        let mut rows: Vec<Vec<u64>> = batch
            .blocks
            .iter()
            .map(|block| {
                let x = f64::from(batch.inputs[block.input][0]);
                let mut rng = SplitMix64::seed_from_u64(block.seed);
                let ones = (0..block.size)
                    .filter(|_| {
                        // Box–Muller from two uniforms.
                        let u = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
                        let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                        let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                        x + batch.sigma.get() * z > 0.0
                    })
                    .count() as u64;
                vec![block.size as u64 - ones, ones]
            })
            .collect();
        if let Some(bad) = self.bad {
            bad(&mut rows);
        }
        Ok(rows)
    }

    fn base_class(&mut self, input: &[f32]) -> Result<usize> {
        Ok(usize::from(input[0] > 0.0))
    }
}

#[test]
fn a_model_drawing_its_own_noise_gets_counts_of_the_seeds_alone() {
    let noise = Noise::Gaussian(Sigma::new(1.0).unwrap());
    let (a, b) = ([0.3_f32], [-0.5_f32]);
    let draws = [
        Draws { input: &a, n: 250, stream: NoiseStream::new(5, 0), phase: Phase::Estimation },
        Draws { input: &b, n: 2 * BLOCK, stream: NoiseStream::new(5, 1), phase: Phase::Estimation },
    ];
    let counts = |batch: usize| {
        let model = Threshold::default();
        let batches = model.batches.clone();
        let mut counter = SeededCounter::new(model, 2, 1, batch);
        let counts = counter.count_each(&noise, &draws).unwrap();
        let batches = batches.lock().unwrap().clone();
        (counts, batches, counter)
    };
    let (reference, _, _) = counts(100);
    assert_eq!(reference.iter().map(|c| c.iter().sum::<u64>()).collect::<Vec<_>>(), [250, 200]);
    // P(class 1) is Φ(0.3) ≈ 0.62 for a and Φ(-0.5) ≈ 0.31 for b.
    assert!((120..190).contains(&reference[0][1]) && (35..90).contains(&reference[1][1]), "{reference:?}");
    for batch in [300, 1000] {
        let (counts, batches, _) = counts(batch);
        assert_eq!(counts, reference, "batch {batch}");
        let expected: &[&[u64]] =
            if batch == 300 { &[&[100, 100, 50], &[100, 100]] } else { &[&[100, 100, 50, 100, 100]] };
        assert_eq!(batches, expected);
    }
    let (_, _, mut counter) = counts(100);
    assert_eq!(counter.base_class(&b).unwrap(), Some(0));
    // Another example's stream, another count.
    let other = counter.count(&a, &noise, 250, NoiseStream::new(5, 2), Phase::Estimation).unwrap();
    assert_ne!(other, reference[0]);
}

#[test]
fn counts_that_are_not_the_blocks_draws_are_refused() {
    let noise = Noise::Gaussian(Sigma::new(1.0).unwrap());
    let stream = NoiseStream::new(0, 0);
    let answers: [(Breaking, &str); 4] = [
        (
            |rows| rows[0][0] += 1,
            "the model returned 2 counts totalling 101 for a block of 100 draws, expected 2 counts totalling 100",
        ),
        (|rows| rows[0].push(0), "the model returned 3 counts totalling 100 for a block of 100 draws"),
        (
            |rows| {
                rows.pop();
            },
            "the model returned counts of 1 blocks, expected 2 (the blocks of the batch)",
        ),
        // Counts that would wrap around to the right total.
        (|rows| rows[0] = vec![u64::MAX, 101], "the model returned 2 counts totalling 18446744073709551615"),
    ];
    for (bad, message) in answers {
        let mut counter = SeededCounter::new(Threshold { bad: Some(bad), ..Threshold::default() }, 2, 1, 200);
        let err = counter.count(&[0.0], &noise, 200, stream, Phase::Selection).unwrap_err().to_string();
        assert!(err.starts_with(message), "{err}");
    }
    let mut counter = SeededCounter::new(Threshold::default(), 2, 1, 200);
    let sound = Noise::Sound(GridGaussian::new(Sigma::new(0.25).unwrap()));
    let err = counter.count(&[0.0], &sound, 10, stream, Phase::Selection).unwrap_err();
    assert!(matches!(err, SamplingError::OwnNoise), "{err}");
}
