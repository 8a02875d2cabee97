//! Where the noise of each example comes from.
//!
//! The noise of example i is a function of (seed, i) alone: each phase
//! (selection, estimation, prediction) draws fixed blocks of [`BLOCK`]
//! samples, and block b is generated from its own seed. A batch is made of
//! whole blocks, so neither the batch size nor the order in which examples
//! are processed (shards, resumed runs) changes any count.

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// Noise draws per block: batches are whole numbers of blocks.
pub const BLOCK: u64 = 100;

/// The draws of one certification, each from independent noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The n₀ draws that choose the prediction ĉ.
    Selection,
    /// The n draws that bound the class probabilities.
    Estimation,
    /// The n draws of PREDICT.
    Prediction,
    /// Round r of the estimation draws of certification in rounds: each
    /// round draws fresh noise.
    Round(u32),
}

impl Phase {
    /// The phase's word in a block seed (the first three as they always
    /// were, so that their counts do not change).
    fn code(self) -> u64 {
        match self {
            Phase::Selection => 0,
            Phase::Estimation => 1,
            Phase::Prediction => 2,
            Phase::Round(round) => 3 + u64::from(round),
        }
    }
}

/// The noise stream of one example: a run seed and the example's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoiseStream {
    seed: u64,
    example: u64,
}

impl NoiseStream {
    /// The stream of example `example` in a run seeded with `seed`.
    pub fn new(seed: u64, example: u64) -> Self {
        NoiseStream { seed, example }
    }

    /// The seed of block `block` of `phase`: splitmix64 over the run seed,
    /// the example, the phase and the block, so nearby indices give
    /// unrelated seeds.
    pub fn block_seed(self, phase: Phase, block: u64) -> u64 {
        [self.example, phase.code(), block].iter().fold(mix(self.seed), |state, &word| mix(state ^ word))
    }
}

fn mix(word: u64) -> u64 {
    SplitMix64::seed_from_u64(word).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_seeds_differ_by_every_component() {
        let base = NoiseStream::new(0, 0).block_seed(Phase::Selection, 0);
        let others = [
            NoiseStream::new(1, 0).block_seed(Phase::Selection, 0),
            NoiseStream::new(0, 1).block_seed(Phase::Selection, 0),
            NoiseStream::new(0, 0).block_seed(Phase::Estimation, 0),
            NoiseStream::new(0, 0).block_seed(Phase::Selection, 1),
            NoiseStream::new(0, 0).block_seed(Phase::Round(0), 0),
            NoiseStream::new(0, 0).block_seed(Phase::Round(1), 0),
        ];
        assert!(others.iter().all(|&seed| seed != base));
        assert_eq!(NoiseStream::new(0, 0).block_seed(Phase::Selection, 0), base);
    }
}
