//! Class counts from a burn model, computed on its device.

use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use csrs_models::Classifier;

use crate::noise::Base;
use crate::philox::{draw_blocks, draws_in};
use crate::{BLOCK, ClassCounter, Noise, NoiseStream, Phase, Result, SamplingError};

/// Runs a [`Classifier`] on batches of noisy copies of one input.
///
/// Gaussian noise is drawn on the device, the batch is classified there,
/// and the arg-max predictions are one-hot summed there too: per batch,
/// nothing comes back to the host, and per example only the m counts do.
/// Sound noise ([`Noise::Sound`]) is drawn from integers on the host, by
/// the generator of [`NativeCounter`](crate::NativeCounter), and the batch
/// is sent to the device: the two counters then classify the same images.
///
/// Each block of noise is drawn right after seeding the backend with the
/// block's seed. Backends such as flex keep one generator per process, so
/// counts are reproducible as long as nothing else in the process draws
/// random numbers from the same backend at the same time.
#[derive(Debug)]
pub struct BurnCounter<B: Backend> {
    model: Classifier<B>,
    device: B::Device,
    input_shape: [usize; 3],
    n_classes: usize,
    blocks_per_batch: u64,
    /// The input's grid indices, for sound noise.
    grid: Vec<u8>,
}

impl<B: Backend> BurnCounter<B> {
    /// A counter that classifies up to `batch_size` draws at a time (rounded
    /// down to whole blocks of [`BLOCK`], and at least one block).
    pub fn new(
        model: Classifier<B>,
        device: B::Device,
        input_shape: [usize; 3],
        n_classes: usize,
        batch_size: usize,
    ) -> Self {
        let blocks_per_batch = (batch_size as u64 / BLOCK).max(1);
        BurnCounter { model, device, input_shape, n_classes, blocks_per_batch, grid: Vec::new() }
    }

    /// Draws per forward pass.
    pub fn batch_size(&self) -> u64 {
        self.blocks_per_batch * BLOCK
    }
}

impl<B: Backend> ClassCounter for BurnCounter<B> {
    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    fn count(&mut self, input: &[f32], noise: &Noise, n: u64, stream: NoiseStream, phase: Phase) -> Result<Vec<u64>> {
        let x = self.input(input)?;
        let [_, c, h, w] = x.dims();
        let base = noise.base(input, &mut self.grid);
        let mut counts = Tensor::<B, 1, Int>::zeros([self.n_classes], &self.device);
        let blocks = n.div_ceil(BLOCK);
        let mut first = 0;
        while first < blocks {
            let last = (first + self.blocks_per_batch).min(blocks);
            let batch = match base {
                Base::Values { scale, .. } => {
                    let noise = Distribution::Normal(0.0, f64::from(scale));
                    let deltas: Vec<Tensor<B, 4>> = (first..last)
                        .map(|block| {
                            let size = BLOCK.min(n - block * BLOCK) as usize;
                            B::seed(&self.device, stream.block_seed(phase, block));
                            Tensor::random([size, c, h, w], noise, &self.device)
                        })
                        .collect();
                    Tensor::cat(deltas, 0) + x.clone()
                }
                Base::Grid { .. } => {
                    let draws = draws_in(n, &(first..last));
                    let mut images = vec![0.0; draws * base.len()];
                    draw_blocks(base, n, (stream, phase), first..last, &mut images);
                    Tensor::from_data(TensorData::new(images, [draws, c, h, w]), &self.device)
                }
            };
            let predictions = self.model.forward(batch).argmax(1).flatten::<1>(0, 1);
            counts = counts + predictions.one_hot::<2>(self.n_classes).sum_dim(0).flatten::<1>(0, 1);
            first = last;
        }
        Ok(counts.into_data().iter::<i64>().map(|count| count as u64).collect())
    }

    fn base_class(&mut self, input: &[f32]) -> Result<Option<usize>> {
        let x = self.input(input)?;
        let class = self.model.forward(x).argmax(1).into_data().iter::<i64>().next().expect("one input, one class");
        Ok(Some(class as usize))
    }
}

impl<B: Backend> BurnCounter<B> {
    /// `input` as a batch of one on the device.
    fn input(&self, input: &[f32]) -> Result<Tensor<B, 4>> {
        if input.len() != self.input_len() {
            return Err(SamplingError::InputSize { got: input.len(), expected: self.input_len() });
        }
        let [c, h, w] = self.input_shape;
        Ok(Tensor::<B, 1>::from_floats(input, &self.device).reshape([1, c, h, w]))
    }
}
