//! Counting with a model csrs does not run: csrs draws the noisy copies
//! (its Philox streams, as [`NativeCounter`](crate::NativeCounter) does)
//! and the model only classifies them, a batch at a time.

use crate::philox::{Block, Part, draw_batch};
use crate::{BLOCK, ClassCounter, Draws, Noise, Result, SamplingError};

/// A base classifier of another framework, called on a batch of inputs.
pub trait Classify {
    /// The classes of `count` inputs laid out one after the other in
    /// `inputs` (each the counter's input length), one per input.
    ///
    /// # Errors
    /// Whatever the model reports ([`SamplingError::Model`]).
    fn classify(&mut self, inputs: Vec<f32>, count: usize) -> Result<Vec<usize>>;
}

impl<F: FnMut(Vec<f32>, usize) -> Result<Vec<usize>>> Classify for F {
    fn classify(&mut self, inputs: Vec<f32>, count: usize) -> Result<Vec<usize>> {
        self(inputs, count)
    }
}

/// A [`ClassCounter`] over any [`Classify`]: the noisy copies are drawn by
/// csrs, block by block from each example's stream, so the counts depend on
/// (seed, example) alone, whatever the batch size, and are those a
/// [`NativeCounter`](crate::NativeCounter) running the same network gets.
///
/// The inputs handed to the model are owned (`Vec<f32>`), so a binding can
/// pass them on to its framework without copying them again.
#[derive(Debug)]
pub struct ClassifyCounter<F> {
    classify: F,
    n_classes: usize,
    input_len: usize,
    blocks_per_batch: u64,
    /// Each input's grid indices, for sound noise.
    grids: Vec<Vec<u8>>,
}

impl<F: Classify> ClassifyCounter<F> {
    /// A counter over `n_classes` classes for inputs of `input_len` values,
    /// classifying up to `batch_size` draws at a time (whole blocks of
    /// [`BLOCK`], at least one).
    pub fn new(classify: F, n_classes: usize, input_len: usize, batch_size: usize) -> Self {
        let blocks_per_batch = (batch_size as u64 / BLOCK).max(1);
        ClassifyCounter { classify, n_classes, input_len, blocks_per_batch, grids: Vec::new() }
    }
}

impl<F: Classify> ClassCounter for ClassifyCounter<F> {
    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn input_len(&self) -> usize {
        self.input_len
    }

    /// The blocks of every input, in order, cut into batches: the last
    /// blocks of one input share a batch with the first of the next.
    fn count_each(&mut self, noise: &Noise, draws: &[Draws<'_>]) -> Result<Vec<Vec<u64>>> {
        let bases = noise.bases(draws, self.input_len, &mut self.grids)?;
        let mut counts = vec![vec![0; self.n_classes]; draws.len()];
        for batch in Block::all(draws).chunks(self.blocks_per_batch as usize) {
            let total: usize = batch.iter().map(|block| block.size(draws)).sum();
            let mut images = vec![0.0; total * self.input_len];
            draw_batch(&bases, draws, &Part::whole(batch, draws), &mut images);
            let mut classes = classes(&mut self.classify, self.n_classes, images, total)?.into_iter();
            for block in batch {
                for class in classes.by_ref().take(block.size(draws)) {
                    counts[block.input][class] += 1;
                }
            }
        }
        Ok(counts)
    }

    fn base_class(&mut self, input: &[f32]) -> Result<Option<usize>> {
        if input.len() != self.input_len {
            return Err(SamplingError::InputSize { got: input.len(), expected: self.input_len });
        }
        Ok(classes(&mut self.classify, self.n_classes, input.to_vec(), 1)?.first().copied())
    }
}

/// `classify`'s classes for `count` inputs, checked: one per input, each
/// below `n_classes`.
fn classes(classify: &mut impl Classify, n_classes: usize, inputs: Vec<f32>, count: usize) -> Result<Vec<usize>> {
    let classes = classify.classify(inputs, count)?;
    if classes.len() != count {
        return Err(SamplingError::Classes { got: classes.len(), expected: count });
    }
    if let Some(&class) = classes.iter().find(|&&class| class >= n_classes) {
        return Err(SamplingError::Class { class, n_classes });
    }
    Ok(classes)
}
