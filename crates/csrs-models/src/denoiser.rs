//! Denoisers: networks from images to images of the same shape, put in
//! front of a classifier that never saw noise (denoised smoothing, Salman
//! et al. 2020): the base classifier becomes f(D(x + δ)).
//!
//! A denoiser reads and writes pixels in [0, 1], as the noisy copies are
//! formed: it has no normalisation of its own, and the classifier's comes
//! after it ([`crate::denoised`]). It is described by a [`Graph`] and run by
//! the same interpreter as an imported network, so the engine, burn's
//! backends, training and the ONNX writer take it as they take any graph.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::architecture::total_values;
use crate::graph::{Graph, Parameter};
use crate::graph_net::GraphNet;
use crate::{MAX_ACTIVATIONS, MAX_INPUT_ELEMENTS, MAX_PARAMETERS, ModelError, Result};

/// The most layers of a DnCNN: far beyond the 17 and 20 of the literature.
pub const MAX_DNCNN_DEPTH: usize = 1000;

/// The most channels of a DnCNN's hidden layers (64 in the literature).
pub const MAX_DNCNN_WIDTH: usize = 4096;

/// The denoising networks csrs builds or reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DenoiserNet {
    /// DnCNN ([`Graph::dncnn`]): `depth` convolutions (at least 2), hidden
    /// layers of `width` channels.
    Dncnn {
        /// Convolutions, the first and last included (17 in Salman et
        /// al.'s).
        depth: usize,
        /// Channels of the hidden layers (64 in Salman et al.'s).
        width: usize,
    },
    /// A network read from a file (ONNX), its layers in its graph.
    Imported {
        /// The layers, from images to images of the same shape.
        graph: Graph,
    },
}

impl DenoiserNet {
    /// DnCNN as Salman et al. train it: 17 convolutions of 64 channels.
    pub const DNCNN_DEPTH: usize = 17;

    /// The channels of Salman et al.'s DnCNN's hidden layers.
    pub const DNCNN_WIDTH: usize = 64;

    /// The name users type (`imported` for a network read from a file).
    pub fn name(&self) -> &'static str {
        match self {
            DenoiserNet::Dncnn { .. } => "dncnn",
            DenoiserNet::Imported { .. } => "imported",
        }
    }
}

/// Everything that determines a denoiser's structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenoiserSpec {
    /// The shape of the images it reads and writes, `[channels, height,
    /// width]`.
    pub input_shape: [usize; 3],
    /// The network.
    pub network: DenoiserNet,
}

impl DenoiserSpec {
    /// Checks the spec: a DnCNN of at least 2 and at most
    /// [`MAX_DNCNN_DEPTH`] layers and 1 to [`MAX_DNCNN_WIDTH`] channels, an
    /// imported graph that makes images of its input's shape, and the
    /// size limits of every model ([`MAX_INPUT_ELEMENTS`],
    /// [`MAX_PARAMETERS`], [`MAX_ACTIVATIONS`]).
    ///
    /// # Errors
    /// [`ModelError::Spec`] saying what is wrong.
    pub fn check(&self) -> Result<()> {
        let bad = |message: String| Err(ModelError::Spec(format!("a denoiser: {message}")));
        let shape = self.input_shape;
        let values = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if shape.contains(&0) || values.is_none_or(|n| n as u64 > MAX_INPUT_ELEMENTS) {
            return bad(format!("input shape {shape:?}, expected 1 to {MAX_INPUT_ELEMENTS} values"));
        }
        match &self.network {
            &DenoiserNet::Dncnn { depth, width } => {
                if !(2..=MAX_DNCNN_DEPTH).contains(&depth) {
                    return bad(format!("dncnn depth {depth}, expected 2 to {MAX_DNCNN_DEPTH} convolutions"));
                }
                if !(1..=MAX_DNCNN_WIDTH).contains(&width) {
                    return bad(format!("dncnn width {width}, expected 1 to {MAX_DNCNN_WIDTH} channels"));
                }
            }
            DenoiserNet::Imported { graph } => {
                if let Err(err) = graph.check_denoiser() {
                    return bad(format!("its graph: {err}"));
                }
                if graph.input != shape {
                    return bad(format!("its graph takes {:?} inputs, the spec says {shape:?}", graph.input));
                }
            }
        }
        let graph = self.graph();
        if total_values(self.parameters().iter().map(|p| p.shape.as_slice())).is_none_or(|n| n > MAX_PARAMETERS) {
            return bad(format!("more than {MAX_PARAMETERS} parameters, the limit of a model"));
        }
        if total_values(graph.nodes.iter().map(|node| node.shape.as_slice())).is_none_or(|n| n > MAX_ACTIVATIONS) {
            return bad(format!("more than {MAX_ACTIVATIONS} activation values per input, the limit of a model"));
        }
        Ok(())
    }

    /// The denoiser's layers. The spec should have passed
    /// [`DenoiserSpec::check`].
    pub fn graph(&self) -> Graph {
        match &self.network {
            &DenoiserNet::Dncnn { depth, width } => Graph::dncnn(self.input_shape, depth, width),
            DenoiserNet::Imported { graph } => graph.clone(),
        }
    }

    /// Every tensor of the denoiser, in the order [`Denoiser`] holds them
    /// (flat rows, PyTorch's names and layout).
    pub fn parameters(&self) -> Vec<Parameter> {
        self.graph().parameters_stored(true)
    }
}

/// A denoiser D: images in [0, 1] → images of the same shape.
#[derive(Module, Debug)]
pub struct Denoiser<B: Backend> {
    net: GraphNet<B>,
}

impl<B: Backend> Denoiser<B> {
    /// A denoiser initialised to be trained (He's initialisation, from the
    /// backend's seed).
    ///
    /// # Errors
    /// When [`DenoiserSpec::check`] rejects the spec.
    pub fn init(spec: &DenoiserSpec, device: &B::Device) -> Result<Self> {
        spec.check()?;
        Ok(Denoiser { net: GraphNet::init(&spec.graph(), device) })
    }

    /// A denoiser holding `tensors`, PyTorch's tensors by PyTorch name
    /// (as an ONNX file or a state dict gives them).
    ///
    /// # Errors
    /// [`ModelError::Spec`] naming a tensor that is missing, of another size
    /// or not finite.
    pub fn from_tensors(
        spec: &DenoiserSpec,
        tensors: &std::collections::HashMap<String, Vec<f32>>,
        device: &B::Device,
    ) -> Result<Self> {
        spec.check()?;
        let mut values = Vec::new();
        for parameter in spec.parameters() {
            let bad = |what: String| ModelError::Spec(format!("the denoiser's tensor {}: {what}", parameter.torch));
            let found = tensors.get(&parameter.torch).ok_or_else(|| bad("missing".into()))?;
            if found.len() != parameter.len() {
                return Err(bad(format!("{} values, expected {:?}", found.len(), parameter.shape)));
            }
            if let Some(value) = found.iter().find(|v| !v.is_finite()) {
                return Err(bad(format!("holds {value}, expected finite numbers")));
            }
            values.push(found.clone());
        }
        Ok(Denoiser { net: GraphNet::holding(&spec.graph(), values, device) })
    }

    /// Its tensors in PyTorch's names and layout, in
    /// [`DenoiserSpec::parameters`] order.
    pub fn torch_tensors(&self, spec: &DenoiserSpec) -> Vec<(Parameter, Vec<f32>)> {
        spec.parameters().into_iter().zip(self.net.values()).collect()
    }

    /// Denoised images: `[batch, c, h, w]` → `[batch, c, h, w]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        self.net.forward_image(images)
    }

    /// The number of tensors it holds: what a record read from a file must
    /// hold too.
    pub(crate) fn record_fits(record: &DenoiserRecord<B>, spec: &DenoiserSpec) -> Result<(), String> {
        let expected = spec.parameters().len();
        match record.net.tensors.len() {
            n if n == expected => Ok(()),
            n => Err(format!("{n} tensors, where the denoiser has {expected}")),
        }
    }
}
