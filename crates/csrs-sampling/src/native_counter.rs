//! Counting on the CPU with the compiled engine: noise drawn by each worker
//! thread straight into its part of the batch, the engine's forward pass,
//! arg-max and counting, with no allocation after the first batch.

use csrs_engine::{Engine, Workspace};

use crate::noise::Base;
use crate::philox::{draw_blocks, draws_in, split};
use crate::{BLOCK, ClassCounter, Noise, NoiseStream, Phase, Result, SamplingError};

/// A [`ClassCounter`] running a compiled [`Engine`] on the CPU threads.
///
/// Draw j of block b of a phase is Philox noise keyed by the block's seed
/// ([`NoiseStream::block_seed`]) at index j: the counts depend on
/// (seed, example) alone, whatever the batch size or the number of threads.
/// The noise differs from [`BurnCounter`](crate::BurnCounter)'s (another
/// generator), so the two give different, equally valid, counts.
#[derive(Debug)]
pub struct NativeCounter {
    engine: Engine,
    blocks_per_batch: u64,
    workers: Vec<Worker>,
    /// The input's grid indices, for sound noise.
    grid: Vec<u8>,
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
        NativeCounter { engine, blocks_per_batch: (batch_size as u64 / BLOCK).max(1), workers, grid: Vec::new() }
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

    fn count(&mut self, input: &[f32], noise: &Noise, n: u64, stream: NoiseStream, phase: Phase) -> Result<Vec<u64>> {
        let len = self.input_len();
        if input.len() != len {
            return Err(SamplingError::InputSize { got: input.len(), expected: len });
        }
        let m = self.n_classes();
        let base = noise.base(input, &mut self.grid);
        let engine = &self.engine;
        let blocks = n.div_ceil(BLOCK);
        for worker in &mut self.workers {
            worker.counts.clear();
            worker.counts.resize(m, 0);
        }
        let mut first = 0;
        while first < blocks {
            let last = (first + self.blocks_per_batch).min(blocks);
            std::thread::scope(|scope| {
                let mut parts = split(first..last, self.workers.len()).zip(&mut self.workers).peekable();
                while let Some((part, worker)) = parts.next() {
                    let work = move || worker.count_blocks(engine, base, n, (stream, phase), part);
                    if parts.peek().is_none() {
                        work();
                    } else {
                        scope.spawn(work);
                    }
                }
            });
            first = last;
        }
        let mut counts = vec![0; m];
        for worker in &self.workers {
            counts.iter_mut().zip(&worker.counts).for_each(|(total, c)| *total += c);
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

impl Worker {
    /// Draws, classifies and counts blocks `blocks` of `n` draws.
    fn count_blocks(
        &mut self,
        engine: &Engine,
        base: Base<'_>,
        n: u64,
        noise: (NoiseStream, Phase),
        blocks: std::ops::Range<u64>,
    ) {
        let m = engine.n_classes();
        let draws = draws_in(n, &blocks);
        self.images.resize(draws * base.len(), 0.0);
        self.logits.resize(draws * m, 0.0);
        draw_blocks(base, n, noise, blocks, &mut self.images);
        engine.run(&mut self.workspace, &self.images, draws, &mut self.logits);
        for logits in self.logits.chunks_exact(m) {
            self.counts[arg_max(logits)] += 1;
        }
    }
}
