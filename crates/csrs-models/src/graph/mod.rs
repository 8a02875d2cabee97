//! One description of each network: its layers in the order they compute,
//! with their names and shapes.
//!
//! The burn modules in `nets` compute; this description says what they
//! compute in terms any framework shares (convolution, batch norm,
//! activations, pooling, linear, elementwise arithmetic, concatenation),
//! with each parameter's PyTorch name and shape beside the path burn gives
//! it. Import and export of PyTorch weights map keys through it, an
//! inference engine compiles it, and a network read from an ONNX file is
//! one: one description, read by every tool that needs to know a network's
//! layers.
//!
//! The description starts after the input normalisation, which has no
//! parameters and lives in the [`ModelSpec`](crate::ModelSpec) (mean and
//! std per channel).
//!
//! Shapes are those of one example: `[c, h, w]` for images, `[features]`
//! for flat values; the batch is never part of them.

mod builtin;
mod shape;

use serde::{Deserialize, Serialize};

pub use shape::{GraphBuilder, GraphError};

/// A value flowing through the network: the normalised input
/// ([`ValueId::INPUT`]) or the output of node `i` (`ValueId(i + 1)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValueId(pub usize);

impl ValueId {
    /// The network's input, after normalisation.
    pub const INPUT: ValueId = ValueId(0);
}

/// A layer's names: PyTorch's module path and burn's.
///
/// They differ where the two frameworks name things differently, e.g. a
/// shortcut's `downsample.0` (PyTorch's `Sequential`) is burn's
/// `downsample.conv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerName {
    /// The module path in a PyTorch state dict, e.g. `layer1.0.conv1`.
    pub torch: String,
    /// The module path in the burn model, e.g. `layer1.0.conv1`.
    pub burn: String,
}

impl LayerName {
    /// The PyTorch key of the layer's tensor `key` (`weight`, `bias`,
    /// `running_mean`, …), e.g. `layer1.0.bn1.weight`: spelled here once,
    /// since a state dict, the engine's and the ONNX reader's weights and
    /// an exported file all name tensors so.
    pub fn tensor(&self, key: &str) -> String {
        format!("{}.{key}", self.torch)
    }
}

/// A 2-d convolution with zero padding, possibly grouped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv2d {
    /// Where its weights live.
    pub name: LayerName,
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride down and across.
    pub stride: [usize; 2],
    /// Zero padding: top, left, bottom, right.
    pub padding: [usize; 4],
    /// Spacing of the kernel's taps down and across (1: adjacent).
    pub dilation: [usize; 2],
    /// Channel groups: each output channel reads `channels_in / groups`
    /// input channels (`groups == channels_in`: a depthwise convolution).
    pub groups: usize,
    /// Whether it adds a bias.
    pub bias: bool,
}

impl Conv2d {
    /// A square convolution with one stride and the same padding on every
    /// side, ungrouped: the shape of every built-in network's.
    pub fn square(
        name: LayerName,
        [channels_in, channels_out]: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
    ) -> Self {
        Conv2d {
            name,
            channels_in,
            channels_out,
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: [padding; 4],
            dilation: [1, 1],
            groups: 1,
            bias,
        }
    }

    /// PyTorch's weight shape: `[channels_out, channels_in / groups, kh, kw]`.
    pub fn weight_shape(&self) -> Vec<usize> {
        vec![self.channels_out, self.channels_in / self.groups, self.kernel[0], self.kernel[1]]
    }
}

/// Batch normalisation in inference mode: per channel,
/// `gamma · (x − running_mean) / sqrt(running_var + epsilon) + beta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm {
    /// Where its parameters live.
    pub name: LayerName,
    /// Channels.
    pub channels: usize,
    /// Added to the variance (PyTorch's and burn's default, 1e-5).
    pub epsilon: f64,
}

/// A fully connected layer `x · Wᵀ + b` (PyTorch's `[outputs, inputs]`
/// weight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Linear {
    /// Where its parameters live.
    pub name: LayerName,
    /// Input features.
    pub inputs: usize,
    /// Output features.
    pub outputs: usize,
}

/// `x · scale + shift` with constants: how arithmetic with a constant
/// (a normalisation's subtraction and division, a scaling) is described.
///
/// `scale` is the parameter `{name}.weight`, `shift` is `{name}.bias`, each
/// of [`Affine::len`] values broadcast over the input: one for every value,
/// one per channel (the first dimension), or one per value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affine {
    /// Where its constants live.
    pub name: LayerName,
    /// Values of `scale` and of `shift`: 1, the input's channels, or all
    /// its values.
    pub len: usize,
}

/// A pooling window: its size, stride and padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Stride down and across.
    pub stride: [usize; 2],
    /// Padding: top, left, bottom, right.
    pub padding: [usize; 4],
}

impl Window {
    /// A square window with one stride and the same padding on every side.
    pub fn square(kernel: usize, stride: usize, padding: usize) -> Self {
        Window { kernel: [kernel, kernel], stride: [stride, stride], padding: [padding; 4] }
    }
}

/// An elementwise function.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `x` where positive, `slope · x` elsewhere.
    LeakyRelu {
        /// The slope below 0 (PyTorch's default, 0.01).
        slope: f32,
    },
    /// `1 / (1 + e^−x)`.
    Sigmoid,
}

impl Activation {
    /// The function at `x`.
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { slope } => {
                if x > 0.0 {
                    x
                } else {
                    slope * x
                }
            }
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        }
    }
}

/// Arithmetic of two values of one shape, elementwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Binary {
    /// `a + b` (a residual connection).
    Add,
    /// `a − b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b`.
    Div,
}

impl Binary {
    /// The operation on `a` and `b`.
    #[inline(always)]
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
        }
    }
}

/// What a node computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A convolution of its one input.
    Conv2d(Conv2d),
    /// Batch normalisation of its one input.
    BatchNorm(BatchNorm),
    /// `x · scale + shift` with constants.
    Affine(Affine),
    /// An elementwise function.
    Activation(Activation),
    /// Max pooling (padding never wins).
    MaxPool2d(Window),
    /// Average pooling.
    AvgPool2d {
        /// The window.
        window: Window,
        /// Whether padded positions count in the divisor (PyTorch's
        /// `count_include_pad`); if not, each window divides by the values
        /// it covers inside the image.
        count_padding: bool,
    },
    /// The mean over height and width: `[c, h, w]` → `[c]`.
    GlobalAvgPool,
    /// `[c, h, w]` → `[c · h · w]`, channel-major as in PyTorch.
    Flatten,
    /// Dropout: in training each value is zeroed with probability
    /// `ratio` and the others scaled by 1 / (1 − ratio); at inference
    /// (certification included) nothing.
    Dropout {
        /// The probability of zeroing a value, in [0, 1).
        ratio: f64,
    },
    /// A fully connected layer on a flat input.
    Linear(Linear),
    /// Elementwise arithmetic of its two inputs, of one shape.
    Binary(Binary),
    /// Its inputs stacked along the channels (the first dimension): same
    /// height and width, channels summed.
    Concat,
}

impl Op {
    /// The names of the layer whose tensors it reads, if it reads any.
    pub fn name_mut(&mut self) -> Option<&mut LayerName> {
        match self {
            Op::Conv2d(Conv2d { name, .. })
            | Op::BatchNorm(BatchNorm { name, .. })
            | Op::Affine(Affine { name, .. })
            | Op::Linear(Linear { name, .. }) => Some(name),
            Op::Activation(_)
            | Op::MaxPool2d(_)
            | Op::AvgPool2d { .. }
            | Op::GlobalAvgPool
            | Op::Flatten
            | Op::Dropout { .. }
            | Op::Binary(_)
            | Op::Concat => None,
        }
    }
}

/// One step of the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// What it reads: one value, two for [`Op::Binary`], two or more for
    /// [`Op::Concat`].
    pub inputs: Vec<ValueId>,
    /// The shape of its output for one example: `[c, h, w]` or `[features]`.
    pub shape: Vec<usize>,
}

/// How PyTorch's tensor is stored in burn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// The same values in the same shape.
    Same,
    /// Transposed: burn's `Linear` holds `[inputs, outputs]`.
    Transposed,
    /// The same values as one flat row: a network read from a file holds
    /// each tensor so.
    Flat,
    /// A PyTorch buffer burn does not keep: batch norm's
    /// `num_batches_tracked`, a 64-bit integer that inference never reads.
    TorchOnly,
}

/// What training does to a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A weight: the optimiser learns it.
    Learned,
    /// A constant of arithmetic in the graph ([`Op::Affine`]), such as a
    /// normalisation's mean and std: kept as it is. (An ONNX file does
    /// not tell a learned tensor from a buffer; a layer of its own, such
    /// as a convolution, is learned, a constant operand is not.)
    Constant,
    /// Batch norm's running statistics and batch count: updated by the
    /// batches training sees, not by gradients.
    Running,
}

/// One tensor of a network's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The key in a PyTorch state dict, e.g. `layer1.0.bn1.weight`.
    pub torch: String,
    /// The path in the burn model, e.g. `layer1.0.bn1.gamma`.
    pub burn: String,
    /// PyTorch's shape.
    pub shape: Vec<usize>,
    /// How burn stores it.
    pub storage: Storage,
    /// What training does to it.
    pub role: Role,
}

impl Parameter {
    /// Values the tensor holds.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it holds no values (a scalar is one value, not none).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A network's layers, in an order in which each node's inputs come first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The input shape `[channels, height, width]`.
    pub input: [usize; 3],
    /// The nodes; the last one's output is the logits.
    pub nodes: Vec<Node>,
}

impl Graph {
    /// Every tensor of the network's state, in node order; within a layer
    /// in PyTorch's order (weight, bias, running mean, running var, batch
    /// count).
    ///
    /// A network read from a file (`flat`) holds its tensors as one list of
    /// flat rows, `tensors.0`, `tensors.1`, … in this order (its layers'
    /// names are the file's, which burn's paths cannot always hold), and no
    /// batch counters; csrs's own networks hold them as their burn modules
    /// do.
    pub fn parameters_stored(&self, flat: bool) -> Vec<Parameter> {
        let mut parameters = Vec::new();
        let mut push = |name: &LayerName, torch: &str, burn: &str, shape: Vec<usize>, storage, role| {
            let (burn, storage) = if flat {
                (format!("tensors.{}", parameters.len()), Storage::Flat)
            } else {
                (format!("{}.{burn}", name.burn), storage)
            };
            parameters.push(Parameter { torch: name.tensor(torch), burn, shape, storage, role });
        };
        for node in &self.nodes {
            match &node.op {
                Op::Conv2d(conv) => {
                    push(&conv.name, "weight", "weight", conv.weight_shape(), Storage::Same, Role::Learned);
                    if conv.bias {
                        push(&conv.name, "bias", "bias", vec![conv.channels_out], Storage::Same, Role::Learned);
                    }
                }
                Op::BatchNorm(bn) => {
                    let c = bn.channels;
                    push(&bn.name, "weight", "gamma", vec![c], Storage::Same, Role::Learned);
                    push(&bn.name, "bias", "beta", vec![c], Storage::Same, Role::Learned);
                    push(&bn.name, "running_mean", "running_mean", vec![c], Storage::Same, Role::Running);
                    push(&bn.name, "running_var", "running_var", vec![c], Storage::Same, Role::Running);
                    if !flat {
                        push(
                            &bn.name,
                            "num_batches_tracked",
                            "num_batches_tracked",
                            vec![],
                            Storage::TorchOnly,
                            Role::Running,
                        );
                    }
                }
                Op::Affine(affine) => {
                    push(&affine.name, "weight", "weight", vec![affine.len], Storage::Same, Role::Constant);
                    push(&affine.name, "bias", "bias", vec![affine.len], Storage::Same, Role::Constant);
                }
                Op::Linear(linear) => {
                    let shape = vec![linear.outputs, linear.inputs];
                    push(&linear.name, "weight", "weight", shape, Storage::Transposed, Role::Learned);
                    push(&linear.name, "bias", "bias", vec![linear.outputs], Storage::Same, Role::Learned);
                }
                Op::Activation(_)
                | Op::MaxPool2d(_)
                | Op::AvgPool2d { .. }
                | Op::GlobalAvgPool
                | Op::Flatten
                | Op::Dropout { .. }
                | Op::Binary(_)
                | Op::Concat => {}
            }
        }
        parameters
    }

    /// Every tensor of one of csrs's own networks, stored as its burn
    /// modules store them ([`Graph::parameters_stored`]).
    pub fn parameters(&self) -> Vec<Parameter> {
        self.parameters_stored(false)
    }

    /// The shape of a value for one example.
    pub fn shape(&self, value: ValueId) -> &[usize] {
        match value.0 {
            0 => &self.input,
            i => &self.nodes[i - 1].shape,
        }
    }

    /// The number of logits: the last node's output values.
    pub fn outputs(&self) -> usize {
        self.nodes.last().map_or(0, |node| node.shape.iter().product())
    }

    /// Multiply-adds per example (convolutions and linear layers), the usual
    /// measure of a network's cost.
    pub fn multiply_adds(&self) -> u64 {
        let mut total = 0;
        for node in &self.nodes {
            let outputs: usize = node.shape.iter().product();
            total += match &node.op {
                Op::Conv2d(conv) => outputs * (conv.channels_in / conv.groups) * conv.kernel[0] * conv.kernel[1],
                Op::Linear(linear) => linear.inputs * linear.outputs,
                _ => 0,
            } as u64;
        }
        total
    }
}
