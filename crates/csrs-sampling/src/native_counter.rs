//! Counting on the CPU with the compiled engine: noise drawn by each worker
//! thread straight into its part of the batch, the engine's forward pass,
//! arg-max and counting, with no allocation after the first batch.

use csrs_engine::{Engine, Workspace};

use crate::noise::Base;
use crate::philox::{Block, Part, draw_batch};
use crate::{BLOCK, ClassCounter, Draws, Noise, Result, SamplingError};

/// A [`ClassCounter`] running a compiled [`Engine`] on the CPU threads.
///
/// Draw j of block b of a phase is Philox noise keyed by the block's seed
/// ([`NoiseStream::block_seed`]) at index j: the counts depend on
/// (seed, example) alone, whatever the batch size or the number of threads.
/// [`BurnCounter`](crate::BurnCounter) draws the same noise, so the two
/// counters classify the same noisy inputs.
#[derive(Debug)]
pub struct NativeCounter {
    engine: Engine,
    blocks_per_batch: u64,
    workers: Vec<Worker>,
    /// Each input's grid indices, for sound noise.
    grids: Vec<Vec<u8>>,
}

/// One thread's buffers.
#[derive(Debug, Default)]
struct Worker {
    workspace: Workspace,
    images: Vec<f32>,
    logits: Vec<f32>,
    counts: Vec<u64>,
}

impl NativeCounter {
    /// A counter classifying up to `batch_size` draws at a time (whole
    /// blocks of [`BLOCK`], at least one) on `threads` threads.
    pub fn new(engine: Engine, batch_size: usize, threads: usize) -> Self {
        let workers = (0..threads.max(1)).map(|_| Worker::default()).collect();
        NativeCounter { engine, blocks_per_batch: (batch_size as u64 / BLOCK).max(1), workers, grids: Vec::new() }
    }

    /// Draws per batch.
    pub fn batch_size(&self) -> u64 {
        self.blocks_per_batch * BLOCK
    }
}

impl ClassCounter for NativeCounter {
    fn n_classes(&self) -> usize {
        self.engine.n_classes()
    }

    fn input_len(&self) -> usize {
        self.engine.input_len()
    }

    /// The blocks of every input, in order, cut into batches: the last
    /// blocks of one input share a batch with the first of the next.
    fn count_each(&mut self, noise: &Noise, draws: &[Draws<'_>]) -> Result<Vec<Vec<u64>>> {
        let (len, m) = (self.input_len(), self.n_classes());
        let bases = noise.bases(draws, len, &mut self.grids)?;
        let blocks = Block::all(draws);
        for worker in &mut self.workers {
            worker.counts.clear();
            worker.counts.resize(m * draws.len(), 0);
        }
        let engine = &self.engine;
        let inputs = Inputs { bases: &bases, draws };
        for batch in blocks.chunks(self.blocks_per_batch as usize) {
            let shares = Part::shares(batch, draws, self.workers.len());
            std::thread::scope(|scope| {
                let mut work = shares.iter().zip(&mut self.workers).filter(|(share, _)| !share.is_empty()).peekable();
                while let Some((share, worker)) = work.next() {
                    let mut count = move || worker.count_parts(engine, inputs, share);
                    if work.peek().is_none() {
                        count();
                    } else {
                        scope.spawn(count);
                    }
                }
            });
        }
        let mut counts = vec![vec![0; m]; draws.len()];
        for worker in &self.workers {
            for (total, part) in counts.iter_mut().zip(worker.counts.chunks_exact(m)) {
                total.iter_mut().zip(part).for_each(|(total, c)| *total += c);
            }
        }
        Ok(counts)
    }

    fn base_class(&mut self, input: &[f32]) -> Result<Option<usize>> {
        if input.len() != self.input_len() {
            return Err(SamplingError::InputSize { got: input.len(), expected: self.input_len() });
        }
        let worker = &mut self.workers[0];
        worker.logits.resize(self.engine.n_classes(), 0.0);
        self.engine.run(&mut worker.workspace, input, 1, &mut worker.logits);
        Ok(Some(arg_max(&worker.logits)))
    }
}

/// The class with the largest logit (ties: the smaller index, as burn's
/// arg-max).
fn arg_max(logits: &[f32]) -> usize {
    let mut best = 0;
    for (class, &value) in logits.iter().enumerate().skip(1) {
        if value > logits[best] {
            best = class;
        }
    }
    best
}

/// The inputs of one [`ClassCounter::count_each`], ready to draw from.
#[derive(Debug, Clone, Copy)]
struct Inputs<'a> {
    bases: &'a [Base<'a>],
    draws: &'a [Draws<'a>],
}

impl Worker {
    /// Draws, classifies and counts `parts`, into the counts of their
    /// inputs.
    fn count_parts(&mut self, engine: &Engine, inputs: Inputs<'_>, parts: &[Part]) {
        let m = engine.n_classes();
        let total: usize = parts.iter().map(|part| part.len).sum();
        self.images.resize(total * engine.input_len(), 0.0);
        self.logits.resize(total * m, 0.0);
        draw_batch(inputs.bases, inputs.draws, parts, &mut self.images);
        engine.run(&mut self.workspace, &self.images, total, &mut self.logits);
        let mut logits = self.logits.chunks_exact(m);
        for part in parts {
            let counts = &mut self.counts[part.block.input * m..][..m];
            for logits in logits.by_ref().take(part.len) {
                counts[arg_max(logits)] += 1;
            }
        }
    }
}
