//! Class counts from a burn model, computed on its device.

use burn::prelude::*;
use burn::tensor::TensorData;
use csrs_models::Classifier;

use crate::device_noise;
use crate::philox::{Block, Part, draw_batch};
use crate::{BLOCK, ClassCounter, Draws, Forward, Noise, Result, SamplingError, SeededBlock};

/// Runs a network on batches of noisy copies of one input.
///
/// The network is a [`Classifier`] by default, or any `M` that implements
/// [`Forward`]: a network of one's own, or a closure around one.
///
/// The noise is that of [`NativeCounter`](crate::NativeCounter): draw j of
/// a block is Philox noise keyed by the block's seed at index j, so the
/// two counters classify the same noisy inputs (Gaussian draws within a
/// few units in the last place where a device computes them), whatever the
/// batch size. On burn's CUDA backend (and its wgpu backend) Gaussian noise
/// is drawn on the device by a kernel ([`crate::device_noise`]), the batch
/// is classified there, and the arg-max predictions are one-hot summed
/// there too: per batch, only the blocks' seeds go to the device and
/// nothing comes back, and per example only the m counts do. On other
/// backends (flex on the CPU, whose memory is the host's), and for sound
/// noise, the batch is drawn on the host and sent to the device.
#[derive(Debug)]
pub struct BurnCounter<B: Backend, M = Classifier<B>> {
    model: M,
    device: B::Device,
    input_shape: [usize; 3],
    n_classes: usize,
    blocks_per_batch: u64,
    /// Each input's grid indices, for sound noise.
    grids: Vec<Vec<u8>>,
}

impl<B: Backend, M: Forward<B>> BurnCounter<B, M> {
    /// A counter that classifies up to `batch_size` draws at a time (rounded
    /// down to whole blocks of [`BLOCK`], and at least one block), with
    /// `model`, whose inputs are `input_shape` (C, H, W) and whose logits
    /// are over `n_classes` classes (counting fails if they are not).
    pub fn new(model: M, device: B::Device, input_shape: [usize; 3], n_classes: usize, batch_size: usize) -> Self {
        let blocks_per_batch = (batch_size as u64 / BLOCK).max(1);
        BurnCounter { model, device, input_shape, n_classes, blocks_per_batch, grids: Vec::new() }
    }

    /// Draws per forward pass.
    pub fn batch_size(&self) -> u64 {
        self.blocks_per_batch * BLOCK
    }
}

impl<B: Backend, M: Forward<B>> ClassCounter for BurnCounter<B, M> {
    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// The blocks of every input, in order, cut into batches: the last
    /// blocks of one input share a batch with the first of the next, and
    /// each input's rows of a batch are summed into its counts on the
    /// device.
    fn count_each(&mut self, noise: &Noise, draws: &[Draws<'_>]) -> Result<Vec<Vec<u64>>> {
        let (m, len, [c, h, w]) = (self.n_classes, self.input_len(), self.input_shape);
        let bases = noise.bases(draws, len, &mut self.grids)?;
        let on_device = match noise {
            Noise::Gaussian(sigma) => device_noise::kernel_for::<B>().map(|kernel| {
                let values: Vec<f32> = draws.iter().flat_map(|d| d.input.iter().copied()).collect();
                let inputs = Tensor::<B, 2>::from_data(TensorData::new(values, [draws.len(), len]), &self.device);
                (kernel, inputs, sigma.get() as f32)
            }),
            Noise::Sound(_) => None,
        };
        let blocks = Block::all(draws);
        let size = |block: &Block| block.size(draws);
        let mut counts: Vec<Tensor<B, 1, Int>> = draws.iter().map(|_| Tensor::zeros([m], &self.device)).collect();
        for batch in blocks.chunks(self.blocks_per_batch as usize) {
            let total: usize = batch.iter().map(size).sum();
            let images = match &on_device {
                Some((kernel, inputs, sigma)) => {
                    let seeded: Vec<SeededBlock> = batch
                        .iter()
                        .map(|block| {
                            let d = &draws[block.input];
                            let seed = d.stream.block_seed(d.phase, block.index);
                            SeededBlock { input: block.input, seed, size: size(block) }
                        })
                        .collect();
                    kernel(inputs.clone(), &seeded, *sigma).reshape([total, c, h, w])
                }
                None => {
                    let mut images = vec![0.0; total * len];
                    draw_batch(&bases, draws, &Part::whole(batch, draws), &mut images);
                    Tensor::from_data(TensorData::new(images, [total, c, h, w]), &self.device)
                }
            };
            let one_hot = logits(&self.model, images, m)?.argmax(1).flatten::<1>(0, 1).one_hot::<2>(m);
            let mut row = 0;
            for segment in batch.chunk_by(|a, b| a.input == b.input) {
                let rows: usize = segment.iter().map(size).sum();
                let input = segment[0].input;
                let segment_counts = one_hot.clone().narrow(0, row, rows).sum_dim(0).flatten::<1>(0, 1);
                counts[input] = counts[input].clone() + segment_counts;
                row += rows;
            }
        }
        Ok(counts.into_iter().map(|c| c.into_data().iter::<i64>().map(|count| count as u64).collect()).collect())
    }

    fn base_class(&mut self, input: &[f32]) -> Result<Option<usize>> {
        let x = self.input(input)?;
        let class = logits(&self.model, x, self.n_classes)?
            .argmax(1)
            .into_data()
            .iter::<i64>()
            .next()
            .expect("one input, one class");
        Ok(Some(class as usize))
    }
}

impl<B: Backend, M: Forward<B>> BurnCounter<B, M> {
    /// `input` as a batch of one on the device.
    fn input(&self, input: &[f32]) -> Result<Tensor<B, 4>> {
        if input.len() != self.input_len() {
            return Err(SamplingError::InputSize { got: input.len(), expected: self.input_len() });
        }
        let [c, h, w] = self.input_shape;
        Ok(Tensor::<B, 1>::from_floats(input, &self.device).reshape([1, c, h, w]))
    }
}

/// `model`'s logits for `images`, `[batch, n_classes]`.
fn logits<B: Backend, M: Forward<B>>(model: &M, images: Tensor<B, 4>, n_classes: usize) -> Result<Tensor<B, 2>> {
    let logits = model.forward(images);
    match logits.dims()[1] {
        classes if classes == n_classes => Ok(logits),
        got => Err(SamplingError::Logits { got, expected: n_classes }),
    }
}
