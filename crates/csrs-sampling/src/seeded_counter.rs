//! Counting with a model that draws its own noise where it runs (a GPU):
//! csrs cuts the draws into blocks and batches and gives each block its
//! seed; the model seeds its generator with it, draws, classifies and
//! counts there, and only the counts come back.

use csrs_stats::Sigma;

use crate::philox::Block;
use crate::{BLOCK, ClassCounter, Draws, Noise, Result, SamplingError};

/// One block of a [`SeededBatch`]: `size` noisy copies of one input, drawn
/// from a generator seeded with `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeededBlock {
    /// Which of the batch's inputs.
    pub input: usize,
    /// The block's seed ([`NoiseStream::block_seed`]): a function of the
    /// run's seed, the example, the phase and the block alone.
    pub seed: u64,
    /// Copies in the block: [`BLOCK`], or fewer for a phase's last.
    pub size: usize,
}

/// One forward pass of a [`CountSeeded`] model.
#[derive(Debug, Clone)]
pub struct SeededBatch<'a> {
    /// σ of the Gaussian noise.
    pub sigma: Sigma,
    /// The inputs the blocks are copies of.
    pub inputs: Vec<&'a [f32]>,
    /// The blocks, in the order of the batch.
    pub blocks: Vec<SeededBlock>,
}

/// A model that draws Gaussian noise itself, from the seed of each block.
pub trait CountSeeded {
    /// For each block of `batch`, how often the model predicts each class
    /// on the block's noisy copies x + σ·z of its input, z drawn from a
    /// generator seeded with the block's seed: one row of m counts per
    /// block, totalling its size.
    ///
    /// # Errors
    /// Whatever the model reports ([`SamplingError::Model`]).
    fn count_blocks(&mut self, batch: &SeededBatch<'_>) -> Result<Vec<Vec<u64>>>;

    /// The model's class for the clean input.
    ///
    /// # Errors
    /// Whatever the model reports.
    fn base_class(&mut self, input: &[f32]) -> Result<usize>;
}

/// A [`ClassCounter`] over a [`CountSeeded`] model: the noise of block b of
/// example i's phase comes from the block's seed, as with every csrs
/// counter, so the counts depend on (seed, example) alone, whatever the
/// batch size. The generator is the model's (torch's, say), so the counts
/// differ from those of csrs's Philox noise; both are sound.
///
/// Gaussian noise only: sound noise is formed on the 8-bit grid from
/// integers, which csrs draws itself ([`ClassifyCounter`](crate::ClassifyCounter)).
#[derive(Debug)]
pub struct SeededCounter<M> {
    model: M,
    n_classes: usize,
    input_len: usize,
    blocks_per_batch: u64,
}

impl<M: CountSeeded> SeededCounter<M> {
    /// A counter over `n_classes` classes for inputs of `input_len` values,
    /// up to `batch_size` draws per forward pass (whole blocks of
    /// [`BLOCK`], at least one).
    pub fn new(model: M, n_classes: usize, input_len: usize, batch_size: usize) -> Self {
        let blocks_per_batch = (batch_size as u64 / BLOCK).max(1);
        SeededCounter { model, n_classes, input_len, blocks_per_batch }
    }
}

impl<M: CountSeeded> ClassCounter for SeededCounter<M> {
    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn input_len(&self) -> usize {
        self.input_len
    }

    /// The blocks of every input, in order, cut into batches: the last
    /// blocks of one input share a batch with the first of the next; each
    /// batch holds the inputs its blocks are copies of.
    fn count_each(&mut self, noise: &Noise, draws: &[Draws<'_>]) -> Result<Vec<Vec<u64>>> {
        let Noise::Gaussian(sigma) = *noise else {
            return Err(SamplingError::OwnNoise);
        };
        if let Some(wrong) = draws.iter().find(|d| d.input.len() != self.input_len) {
            return Err(SamplingError::InputSize { got: wrong.input.len(), expected: self.input_len });
        }
        let m = self.n_classes;
        let mut counts = vec![vec![0; m]; draws.len()];
        for batch in Block::all(draws).chunks(self.blocks_per_batch as usize) {
            // The batch's inputs, each once, in order.
            let mut owners: Vec<usize> = batch.iter().map(|block| block.input).collect();
            owners.dedup();
            let blocks = batch
                .iter()
                .map(|block| {
                    let d = &draws[block.input];
                    SeededBlock {
                        input: owners.partition_point(|&owner| owner < block.input),
                        seed: d.stream.block_seed(d.phase, block.index),
                        size: block.size(draws),
                    }
                })
                .collect();
            let seeded = SeededBatch { sigma, inputs: owners.iter().map(|&i| draws[i].input).collect(), blocks };
            let rows = self.model.count_blocks(&seeded)?;
            if rows.len() != batch.len() {
                return Err(SamplingError::BlockCounts { got: rows.len(), expected: batch.len() });
            }
            for ((block, seeded), row) in batch.iter().zip(&seeded.blocks).zip(rows) {
                // Summed without wrapping around: counts that overflow into
                // the right total are refused too.
                let size = seeded.size as u64;
                let total = row.iter().fold(0u64, |total, &count| total.saturating_add(count));
                if row.len() != m || total != size {
                    return Err(SamplingError::BlockTotal {
                        classes: row.len(),
                        total,
                        n_classes: m,
                        size: seeded.size,
                    });
                }
                counts[block.input].iter_mut().zip(row).for_each(|(count, more)| *count += more);
            }
        }
        Ok(counts)
    }

    fn base_class(&mut self, input: &[f32]) -> Result<Option<usize>> {
        if input.len() != self.input_len {
            return Err(SamplingError::InputSize { got: input.len(), expected: self.input_len });
        }
        match self.model.base_class(input)? {
            class if class < self.n_classes => Ok(Some(class)),
            class => Err(SamplingError::Class { class, n_classes: self.n_classes }),
        }
    }
}
