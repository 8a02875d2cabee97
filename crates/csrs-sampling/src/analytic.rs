//! A counter whose smoothed class probabilities are known exactly.

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use crate::{ClassCounter, Draws, Noise, NoiseStream, Phase, Result, SamplingError};

/// Draws class counts from probabilities given as a function of the input:
/// `probabilities(x)[k]` is p_k(x) = P(f(x + δ) = k) of the smoothed
/// classifier at the σ in use.
///
/// Because the truth is known, the true certified radius is known too, and
/// a certificate can be checked against it (the soundness test).
pub struct KnownProbabilities<F> {
    n_classes: usize,
    input_len: usize,
    probabilities: F,
}

impl<F: Fn(&[f32]) -> Vec<f64>> KnownProbabilities<F> {
    /// A counter over `n_classes` classes for inputs of `input_len` values.
    pub fn new(n_classes: usize, input_len: usize, probabilities: F) -> Self {
        KnownProbabilities { n_classes, input_len, probabilities }
    }
}

impl<F: Fn(&[f32]) -> Vec<f64>> ClassCounter for KnownProbabilities<F> {
    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn input_len(&self) -> usize {
        self.input_len
    }

    /// A simulation has smoothed probabilities but no base classifier.
    fn base_class(&mut self, input: &[f32]) -> Result<Option<usize>> {
        if input.len() != self.input_len {
            return Err(SamplingError::InputSize { got: input.len(), expected: self.input_len });
        }
        Ok(None)
    }

    /// Each input's draws from its probabilities, one after another.
    fn count_each(&mut self, _noise: &Noise, draws: &[Draws<'_>]) -> Result<Vec<Vec<u64>>> {
        draws.iter().map(|&Draws { input, n, stream, phase }| self.draw(input, n, stream, phase)).collect()
    }
}

impl<F: Fn(&[f32]) -> Vec<f64>> KnownProbabilities<F> {
    /// `n` classes drawn from the probabilities of `input`, with the
    /// stream's first block of `phase` as seed.
    fn draw(&self, input: &[f32], n: u64, stream: NoiseStream, phase: Phase) -> Result<Vec<u64>> {
        if input.len() != self.input_len {
            return Err(SamplingError::InputSize { got: input.len(), expected: self.input_len });
        }
        let probabilities = (self.probabilities)(input);
        let total: f64 = probabilities.iter().sum();
        if probabilities.len() != self.n_classes
            || probabilities.iter().any(|p| !(0.0..=1.0).contains(p))
            || (total - 1.0).abs() > 1e-9
        {
            return Err(SamplingError::Probabilities(probabilities));
        }
        let cumulative: Vec<f64> = probabilities
            .iter()
            .scan(0.0, |sum, p| {
                *sum += p;
                Some(*sum)
            })
            .collect();
        let mut rng = SplitMix64::seed_from_u64(stream.block_seed(phase, 0));
        let mut counts = vec![0; self.n_classes];
        for _ in 0..n {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let class_idx = cumulative.partition_point(|&c| c <= u).min(self.n_classes - 1);
            counts[class_idx] += 1;
        }
        Ok(counts)
    }
}
