//! The one thing randomized smoothing needs from a model.

use crate::{Noise, NoiseStream, Phase, Result};

/// One input's share of [`ClassCounter::count_each`]: `n` noisy copies of
/// `input`, from the blocks of `phase` in `stream`.
#[derive(Debug, Clone, Copy)]
pub struct Draws<'a> {
    /// The input.
    pub input: &'a [f32],
    /// How many copies.
    pub n: u64,
    /// Its noise stream.
    pub stream: NoiseStream,
    /// Which of the stream's phases.
    pub phase: Phase,
}

/// Counts the base classifier's predictions on noisy copies of an input.
pub trait ClassCounter {
    /// The number of classes m.
    fn n_classes(&self) -> usize;

    /// The number of values in one input (C·H·W).
    fn input_len(&self) -> usize;

    /// How often each class is predicted for `n` noisy copies of the input
    /// (x + δ, δ ~ N(0, σ²I), formed as `noise` says), using the blocks of
    /// `phase` in `stream`: [`count_each`](Self::count_each) of one input.
    ///
    /// # Errors
    /// An input of the wrong size, or a failure of the underlying model.
    fn count(&mut self, input: &[f32], noise: &Noise, n: u64, stream: NoiseStream, phase: Phase) -> Result<Vec<u64>> {
        let mut counts = self.count_each(noise, &[Draws { input, n, stream, phase }])?;
        Ok(counts.pop().expect("one input, one count"))
    }

    /// The counts of each of several inputs' draws, as [`count`](Self::count)
    /// gives them one by one. A counter may classify the draws of several
    /// inputs in one batch, so that inputs with few draws each still fill
    /// its batches; the counts do not change.
    ///
    /// # Errors
    /// As [`count`](Self::count).
    fn count_each(&mut self, noise: &Noise, draws: &[Draws<'_>]) -> Result<Vec<Vec<u64>>>;

    /// The base classifier's class for the input itself, without noise:
    /// how the model the certificate smooths does on clean data. `None`
    /// when there is no base classifier to ask (a simulation).
    ///
    /// # Errors
    /// An input of the wrong size, or a failure of the underlying model.
    fn base_class(&mut self, input: &[f32]) -> Result<Option<usize>>;
}

/// A counter chosen at run time (`--engine`).
impl<C: ClassCounter + ?Sized> ClassCounter for Box<C> {
    fn n_classes(&self) -> usize {
        (**self).n_classes()
    }

    fn input_len(&self) -> usize {
        (**self).input_len()
    }

    fn count_each(&mut self, noise: &Noise, draws: &[Draws<'_>]) -> Result<Vec<Vec<u64>>> {
        (**self).count_each(noise, draws)
    }

    fn base_class(&mut self, input: &[f32]) -> Result<Option<usize>> {
        (**self).base_class(input)
    }
}
