//! Base classifiers for randomized smoothing, and their checkpoints.
//!
//! Every model is a [`Classifier`]: a normalisation layer (mean/std, no
//! parameters) followed by a network.
//! Noise is added before the normalisation, in pixel space, so σ means the
//! same thing for every dataset (SPEC §2).
//! [`Architecture`] names the networks: an MLP, LeNet-5, a small CNN for 8×8
//! digits, CIFAR ResNet-20/56/110 and ResNet-18 for 224-pixel images.
//!
//! A checkpoint ([`checkpoint`]) is a burn record of the weights plus a JSON
//! metadata file (architecture, input shape, normalisation, class names, and
//! how it was trained), so a model can be rebuilt without knowing its type.
//! [`graph::Graph`] describes each network once, in terms PyTorch shares
//! (layers, parameter names and shapes); [`interop`] reads PyTorch
//! checkpoints and writes safetensors through it.
//! Models are generic over the burn backend; concrete backends are chosen by
//! the binary.
//!
//! ```
//! use burn::backend::Flex;
//! use burn::tensor::Tensor;
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
//! let device = Default::default();
//! let model = Classifier::<Flex>::init(&spec, &device)?;
//! let logits = model.forward(Tensor::zeros([4, 1, 8, 8], &device));
//! assert_eq!(logits.dims(), [4, 10]);
//! # Ok::<(), csrs_models::ModelError>(())
//! ```
#![deny(missing_docs)]

mod architecture;
pub mod checkpoint;
mod classifier;
mod denoised;
mod denoiser;
pub mod device;
mod error;
pub mod graph;
mod graph_net;
pub mod interop;
mod nets;
mod stored;

pub use architecture::{Architecture, Family, MAX_ACTIVATIONS, MAX_INPUT_ELEMENTS, MAX_PARAMETERS, ModelSpec};
pub use checkpoint::{Checkpoint, CheckpointMeta, DenoiserCheckpoint, DenoiserMeta, TrainingInfo};
pub use classifier::Classifier;
pub use denoised::{denoised, denoised_spec};
pub use denoiser::{Denoiser, DenoiserNet, DenoiserSpec, MAX_DNCNN_DEPTH, MAX_DNCNN_WIDTH};
pub use error::{ModelError, Result};
