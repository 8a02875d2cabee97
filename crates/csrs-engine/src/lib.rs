//! A CPU inference engine for the sampling hot loop.
//!
//! Certification classifies hundreds of thousands of noisy copies of one
//! input with fixed weights: the work is inference only, on batches of one
//! shape, millions of times. [`Engine::compile`] reads a network's
//! [`Graph`] and weights once and turns them into a list of steps:
//!
//! - batch norm folded into the preceding convolution's weights and bias;
//! - the bias, the ReLU and a residual add fused into the convolution's
//!   output (the matrix product stores bias + residual + its sums, through
//!   the ReLU);
//! - activations kept NHWC, so a convolution is a matrix product (of the
//!   windows of the padded input, of im2col rows of (ky, kx, channel), of
//!   the activation itself for a 1×1 convolution, one per output pixel for
//!   a small output, or Winograd's), and a flatten needs no copy (the
//!   following linear layer's columns are permuted at compile time);
//! - values whose lives do not overlap share one buffer (a ResNet needs
//!   three or four), each sized once per [`Workspace`] for a group of
//!   examples that fits in the cache; [`Engine::run`] takes a batch through
//!   the network a group at a time and allocates nothing after its first
//!   batch.
//!
//! [`reference`](mod@reference) is a plain NCHW interpreter of the
//! unrewritten graph, the oracle of the tests.
//!
//! ```
//! use burn::backend::Flex;
//! use csrs_engine::{Engine, Workspace};
//! use csrs_models::{Architecture, Classifier, ModelSpec};
//!
//! let spec = ModelSpec {
//!     architecture: Architecture::DigitsCnn,
//!     n_classes: 10,
//!     input_shape: [1, 8, 8],
//!     mean: vec![0.5],
//!     std: vec![0.25],
//!     graph: None,
//! };
//! let model = Classifier::<Flex>::init(&spec, &Default::default())?;
//! let engine = Engine::from_classifier(&model, &spec)?;
//! let mut workspace = Workspace::default();
//! let images = vec![0.5; 3 * engine.input_len()];
//! let mut logits = vec![0.0; 3 * engine.n_classes()];
//! engine.run(&mut workspace, &images, 3, &mut logits);
//! assert_eq!(logits.len(), 30);
//! assert!(logits.iter().all(|v| v.is_finite()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compile;
mod gemm;
mod kernels;
mod pixelwise;
pub mod reference;
mod winograd;

use std::collections::HashMap;

use burn::prelude::Backend;
use csrs_models::graph::Graph;
use csrs_models::interop::torch_tensors;
use csrs_models::{Classifier, ModelSpec};

pub use compile::{CompileError, PLAIN_PATH};

/// A compiled network: the steps, their weights, and the input
/// normalisation.
#[derive(Debug, Clone)]
pub struct Engine {
    steps: Vec<compile::Step>,
    /// Values per example of each buffer.
    slot_sizes: Vec<usize>,
    /// The buffer that holds the logits.
    output: usize,
    input_shape: [usize; 3],
    n_classes: usize,
    mean: Vec<f32>,
    std: Vec<f32>,
    /// The largest im2col matrix of one image.
    col_size: usize,
    /// Examples that go through the whole network together, a group after
    /// another ([`compile::group`]).
    group: usize,
}

/// The buffers of one thread: every slot for up to `capacity` examples,
/// and the im2col matrix of one image.
#[derive(Debug, Default)]
pub struct Workspace {
    capacity: usize,
    slots: Vec<Vec<f32>>,
    col: Vec<f32>,
}

impl Engine {
    /// Compiles the network `spec` describes with `weights`, PyTorch's
    /// tensors by PyTorch name (as [`csrs_models::interop::torch_tensors`]
    /// gives them).
    ///
    /// # Errors
    /// [`CompileError`]: a spec that [`ModelSpec::check`] refuses, a missing
    /// tensor or one of the wrong size.
    pub fn compile(spec: &ModelSpec, weights: &HashMap<String, Vec<f32>>) -> Result<Self, CompileError> {
        spec.check().map_err(|err| CompileError::Spec(err.to_string()))?;
        compile::compile(spec, &Graph::of(spec), weights)
    }

    /// Compiles a burn classifier, its weights read through the graph's
    /// PyTorch names.
    ///
    /// # Errors
    /// [`CompileError`] when the model does not hold the tensors its graph
    /// describes.
    pub fn from_classifier<B: Backend>(model: &Classifier<B>, spec: &ModelSpec) -> Result<Self, CompileError> {
        let tensors = torch_tensors(model, spec).map_err(CompileError::Weights)?;
        let weights = tensors.into_iter().map(|(parameter, values)| (parameter.torch, values)).collect();
        Self::compile(spec, &weights)
    }

    /// The number of classes (logits per example).
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Values a [`Workspace`] holds for batches of `batch` examples: its
    /// buffers for one group of examples (see `Engine::group`) and the
    /// im2col matrix (4 bytes each).
    pub fn workspace_len(&self, batch: usize) -> usize {
        self.slot_sizes.iter().sum::<usize>() * batch.min(self.group) + self.col_size
    }

    /// Values per input image, C·H·W.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Logits of `batch` images in [0, 1], NCHW, as in PyTorch: the input
    /// normalisation, then the network. `logits` receives `batch × m`
    /// values.
    ///
    /// # Panics
    /// When `images` or `logits` does not hold `batch` examples.
    pub fn run(&self, workspace: &mut Workspace, images: &[f32], batch: usize, logits: &mut [f32]) {
        let len = self.input_len();
        assert_eq!(images.len(), batch * len, "images of {batch} examples");
        assert_eq!(logits.len(), batch * self.n_classes, "logits of {batch} examples");
        let group = self.group.min(batch).max(1);
        self.prepare(workspace, group);
        for (images, logits) in images.chunks(group * len).zip(logits.chunks_mut(group * self.n_classes)) {
            let batch = logits.len() / self.n_classes;
            pulp::Arch::new().dispatch(Forward { engine: self, workspace: &mut *workspace, images, batch });
            logits.copy_from_slice(&workspace.slots[self.output][..batch * self.n_classes]);
        }
    }

    /// Sizes the workspace's buffers for groups of `batch` examples: once for a
    /// workspace that stays with this engine, again if it was last used by
    /// another one.
    fn prepare(&self, workspace: &mut Workspace, batch: usize) {
        let fits = workspace.capacity >= batch
            && workspace.slots.len() == self.slot_sizes.len()
            && workspace
                .slots
                .iter()
                .zip(&self.slot_sizes)
                .all(|(slot, &size)| slot.len() == size * workspace.capacity)
            && workspace.col.len() >= self.col_size;
        if fits {
            return;
        }
        workspace.capacity = batch;
        workspace.slots = self.slot_sizes.iter().map(|&size| vec![0.0; size * batch]).collect();
        workspace.col = vec![0.0; self.col_size];
    }

    /// NCHW pixels → normalised NHWC.
    #[inline(always)]
    fn normalize_into(&self, out: &mut [f32], images: &[f32], batch: usize) {
        let [c, h, w] = self.input_shape;
        let plane = h * w;
        for image in 0..batch {
            let src = &images[image * c * plane..(image + 1) * c * plane];
            let dst = &mut out[image * c * plane..(image + 1) * c * plane];
            for channel in 0..c {
                let (mean, scale) = (self.mean[channel], 1.0 / self.std[channel]);
                for (p, &value) in src[channel * plane..(channel + 1) * plane].iter().enumerate() {
                    dst[p * c + channel] = (value - mean) * scale;
                }
            }
        }
    }
}

/// One forward pass, run under [`pulp::Arch::dispatch`] so that the
/// kernels, inlined into it, are compiled for the processor's widest vector
/// instructions. (A closure would be compiled apart, for the baseline.)
struct Forward<'a> {
    engine: &'a Engine,
    workspace: &'a mut Workspace,
    images: &'a [f32],
    batch: usize,
}

impl pulp::WithSimd for Forward<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Forward { engine, workspace, images, batch } = self;
        engine.normalize_into(&mut workspace.slots[0], images, batch);
        for step in &engine.steps {
            kernels::run(simd, step, &mut workspace.slots, &mut workspace.col, batch);
        }
    }
}
