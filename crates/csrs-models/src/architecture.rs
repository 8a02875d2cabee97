//! Which network, for which input: everything needed to rebuild a model.

use std::fmt;
use std::str::FromStr;

use csrs_data::DatasetName;
use serde::{Deserialize, Serialize};

use crate::graph::{Graph, Parameter};
use crate::{ModelError, Result};

/// The most values one input may have (channels × height × width): 2²²,
/// 4 194 304, e.g. 3×1182×1182. Certification holds at least one block of
/// 100 noisy copies of an input at once, 1.6 GiB at this limit; ImageNet's
/// 3×224×224 is 150 528.
pub const MAX_INPUT_ELEMENTS: u64 = 1 << 22;

/// The most parameters (with batch-norm statistics) a network may have:
/// 2²⁸, 268 435 456, 1 GiB of `f32`. Ten times ResNet-50 (25.6 million); it
/// admits ResNet-50 with a head for 100 000 classes (228 million). Checked
/// from the spec, before the network is built, so that a checkpoint's
/// metadata cannot declare a network larger than memory.
pub const MAX_PARAMETERS: u64 = 1 << 28;

/// The most activation values one input may produce, summed over every
/// layer's output: 2²⁸, 1 GiB of `f32` per input (training keeps them all
/// for the backward pass). ResNet-50 on a 3×224×224 input produces 37.6
/// million, so its inputs fit up to about 600×600 pixels.
pub const MAX_ACTIVATIONS: u64 = 1 << 28;

/// The values of tensors of these shapes, all together; `None` beyond a
/// `u64`.
pub(crate) fn total_values<'a>(shapes: impl Iterator<Item = &'a [usize]>) -> Option<u64> {
    let mut total = 0u64;
    for shape in shapes {
        let values = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64))?;
        total = total.checked_add(values)?;
    }
    Some(total)
}

/// The networks csrs can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// Two hidden layers of 256 units, any input.
    Mlp,
    /// LeNet-5, for 28×28 or 32×32 inputs.
    Lenet5,
    /// Two 3×3 convolutions and a small head, for 8×8 digits.
    DigitsCnn,
    /// CIFAR ResNet-20 (He et al., depth 6n + 2 with n = 3).
    CifarResnet20,
    /// CIFAR ResNet-32 (n = 5).
    CifarResnet32,
    /// CIFAR ResNet-44 (n = 7).
    CifarResnet44,
    /// CIFAR ResNet-56 (n = 9).
    CifarResnet56,
    /// CIFAR ResNet-110 (n = 18).
    CifarResnet110,
    /// ResNet-18 (torchvision's layout), for 224×224 inputs.
    Resnet18,
    /// ResNet-50 (torchvision's layout, bottleneck blocks), for 224×224 inputs.
    Resnet50,
    /// A network read from a file (ONNX): its layers are in the spec's
    /// [`ModelSpec::graph`], not in csrs. Not among the names users type.
    Imported,
}

impl Architecture {
    /// Every architecture, in the order `--help` lists them.
    pub const ALL: [Architecture; 10] = [
        Architecture::Mlp,
        Architecture::Lenet5,
        Architecture::DigitsCnn,
        Architecture::CifarResnet20,
        Architecture::CifarResnet32,
        Architecture::CifarResnet44,
        Architecture::CifarResnet56,
        Architecture::CifarResnet110,
        Architecture::Resnet18,
        Architecture::Resnet50,
    ];

    /// The names users type.
    pub const NAMES: [&str; 10] = [
        "mlp",
        "lenet5",
        "digits-cnn",
        "cifar-resnet20",
        "cifar-resnet32",
        "cifar-resnet44",
        "cifar-resnet56",
        "cifar-resnet110",
        "resnet18",
        "resnet50",
    ];

    /// The name users type (`imported` for a network read from a file).
    pub fn as_str(self) -> &'static str {
        match Self::ALL.iter().position(|&a| a == self) {
            Some(i) => Self::NAMES[i],
            None => "imported",
        }
    }

    /// The kind of network and its size: what the burn modules and the
    /// graph description are built from.
    pub fn family(self) -> Family {
        let cifar = |depth: usize| Family::CifarResnet { blocks_per_stage: (depth - 2) / 6 };
        match self {
            Architecture::Mlp => Family::Mlp,
            Architecture::Lenet5 => Family::Lenet5,
            Architecture::DigitsCnn => Family::DigitsCnn,
            Architecture::CifarResnet20 => cifar(20),
            Architecture::CifarResnet32 => cifar(32),
            Architecture::CifarResnet44 => cifar(44),
            Architecture::CifarResnet56 => cifar(56),
            Architecture::CifarResnet110 => cifar(110),
            Architecture::Resnet18 => Family::ImagenetResnet { blocks: [2, 2, 2, 2], bottleneck: false },
            Architecture::Resnet50 => Family::ImagenetResnet { blocks: [3, 4, 6, 3], bottleneck: true },
            Architecture::Imported => Family::Imported,
        }
    }

    /// Checks that the architecture can take `[channels, height, width]`.
    ///
    /// # Errors
    /// [`ModelError::InputShape`] naming what it accepts.
    pub fn check_input(self, [channels, height, width]: [usize; 3]) -> Result<()> {
        let expected = match self.family() {
            Family::Mlp => return Ok(()),
            Family::Lenet5 if height == width && (height == 28 || height == 32) => return Ok(()),
            Family::Lenet5 => "28x28 or 32x32",
            Family::DigitsCnn if height == 8 && width == 8 => return Ok(()),
            Family::DigitsCnn => "8x8",
            Family::CifarResnet { .. } if height == 32 && width == 32 => return Ok(()),
            Family::CifarResnet { .. } => "32x32",
            Family::ImagenetResnet { .. } if height >= 32 && width >= 32 => return Ok(()),
            Family::ImagenetResnet { .. } => "at least 32x32 (224x224 intended)",
            // Its graph's input, which ModelSpec::check compares.
            Family::Imported => return Ok(()),
        };
        Err(ModelError::InputShape { architecture: self.as_str(), expected, channels, height, width })
    }
}

/// The kinds of network, with what sizes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Two hidden layers of 256 units.
    Mlp,
    /// LeNet-5.
    Lenet5,
    /// The small CNN for 8×8 digits.
    DigitsCnn,
    /// He et al.'s CIFAR ResNet of depth 6n + 2: n basic blocks per stage.
    CifarResnet {
        /// n.
        blocks_per_stage: usize,
    },
    /// torchvision's ResNet for 224-pixel images.
    ImagenetResnet {
        /// Blocks in each of the four stages.
        blocks: [usize; 4],
        /// Bottleneck blocks (ResNet-50) rather than basic ones (ResNet-18).
        bottleneck: bool,
    },
    /// A network read from a file, described by its graph.
    Imported,
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Architecture {
    type Err = ModelError;

    fn from_str(name: &str) -> Result<Self> {
        Self::NAMES
            .iter()
            .position(|&n| n == name)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| ModelError::UnknownArchitecture(name.to_owned()))
    }
}

/// Everything that determines a model's structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The network.
    pub architecture: Architecture,
    /// The number of classes m (outputs).
    pub n_classes: usize,
    /// The input shape `[channels, height, width]`, pixels in [0, 1].
    pub input_shape: [usize; 3],
    /// Per-channel mean subtracted by the normalisation layer.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation divided by the normalisation layer.
    pub std: Vec<f32>,
    /// The layers of an [`Architecture::Imported`] network (absent for
    /// csrs's own, which are rebuilt from their name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<Graph>,
}

impl ModelSpec {
    /// The spec of `architecture` for images of `dataset`: its input shape
    /// and usual normalisation, and `n_classes` outputs.
    pub fn for_dataset(architecture: Architecture, dataset: DatasetName, n_classes: usize) -> Self {
        let shape = dataset.shape();
        let normalization = dataset.normalization();
        ModelSpec {
            architecture,
            n_classes,
            input_shape: [shape.channels, shape.height, shape.width],
            mean: normalization.mean,
            std: normalization.std,
            graph: None,
        }
    }

    /// Checks the spec: the architecture takes the input, at least two
    /// classes, one positive finite mean/std per channel, and the network is
    /// within [`MAX_INPUT_ELEMENTS`], [`MAX_PARAMETERS`] and
    /// [`MAX_ACTIVATIONS`] (computed from the spec with checked arithmetic,
    /// before anything is allocated).
    ///
    /// # Errors
    /// [`ModelError::InputShape`], [`ModelError::TooLarge`] or
    /// [`ModelError::Spec`].
    pub fn check(&self) -> Result<()> {
        let [channels, height, width] = self.input_shape;
        if self.input_shape.contains(&0) {
            let architecture = self.architecture.as_str();
            let expected = "at least 1x1x1";
            return Err(ModelError::InputShape { architecture, expected, channels, height, width });
        }
        let values = channels.checked_mul(height).and_then(|n| n.checked_mul(width));
        if values.is_none_or(|n| n as u64 > MAX_INPUT_ELEMENTS) {
            return Err(self.too_large("input values", MAX_INPUT_ELEMENTS));
        }
        self.architecture.check_input(self.input_shape)?;
        if self.n_classes < 2 {
            return Err(ModelError::Spec(format!("a classifier needs at least 2 classes, got {}", self.n_classes)));
        }
        if self.mean.len() != channels || self.std.len() != channels {
            let message = format!(
                "normalisation has {} means and {} stds, expected {channels} (one per channel)",
                self.mean.len(),
                self.std.len()
            );
            return Err(ModelError::Spec(message));
        }
        if let Some(s) = self.std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(ModelError::Spec(format!("normalisation std {s}, expected a finite number > 0")));
        }
        if let Some(m) = self.mean.iter().find(|m| !m.is_finite()) {
            return Err(ModelError::Spec(format!("normalisation mean {m}, expected a finite number")));
        }
        self.check_graph()?;
        // The input is within its limit, so every layer's shape is computed
        // without overflow; only the counts below can exceed a u64.
        let graph = Graph::of(self);
        let parameters = self.parameters();
        if total_values(parameters.iter().map(|p| p.shape.as_slice())).is_none_or(|n| n > MAX_PARAMETERS) {
            return Err(self.too_large("parameters", MAX_PARAMETERS));
        }
        if total_values(graph.nodes.iter().map(|node| node.shape.as_slice())).is_none_or(|n| n > MAX_ACTIVATIONS) {
            return Err(self.too_large("activation values per input", MAX_ACTIVATIONS));
        }
        Ok(())
    }

    /// Every tensor of the network's state, as its burn module stores them
    /// ([`Graph::parameters_stored`]: flat rows for an imported network).
    pub fn parameters(&self) -> Vec<Parameter> {
        Graph::of(self).parameters_stored(self.architecture == Architecture::Imported)
    }

    /// An imported network has a graph that fits its input and classes;
    /// csrs's own have none.
    fn check_graph(&self) -> Result<()> {
        let imported = self.architecture == Architecture::Imported;
        match &self.graph {
            None if imported => Err(ModelError::Spec("an imported network without its graph".into())),
            None => Ok(()),
            Some(_) if !imported => {
                Err(ModelError::Spec(format!("{} is built by csrs; its spec holds no graph", self.architecture)))
            }
            Some(graph) => {
                graph.check().map_err(|err| ModelError::Spec(format!("the network's graph: {err}")))?;
                if graph.input != self.input_shape {
                    let message =
                        format!("the graph takes {:?} inputs, the spec says {:?}", graph.input, self.input_shape);
                    return Err(ModelError::Spec(message));
                }
                if graph.outputs() != self.n_classes {
                    let message =
                        format!("the graph makes {} logits, the spec says {} classes", graph.outputs(), self.n_classes);
                    return Err(ModelError::Spec(message));
                }
                Ok(())
            }
        }
    }

    fn too_large(&self, what: &'static str, limit: u64) -> ModelError {
        let [channels, height, width] = self.input_shape;
        let (architecture, n_classes) = (self.architecture.as_str(), self.n_classes);
        ModelError::TooLarge { architecture, channels, height, width, n_classes, what, limit }
    }
}
