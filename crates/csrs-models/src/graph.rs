//! One description of each network: its layers in the order they compute,
//! with their names and shapes.
//!
//! The burn modules in `nets` compute; this description says what they
//! compute in terms any framework shares (convolution, batch norm, ReLU,
//! pooling, linear, residual add), with each parameter's PyTorch name and
//! shape beside the path burn gives it. Import and export of PyTorch weights
//! map keys through it, and an inference engine can run it: one description,
//! read by every tool that needs to know a network's layers.
//!
//! The description starts after the input normalisation, which has no
//! parameters and lives in the [`ModelSpec`] (mean and std per channel).

use crate::{Family, ModelSpec};

/// A value flowing through the network: the normalised input
/// ([`ValueId::INPUT`]) or the output of node `i` (`ValueId(i + 1)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerName {
    /// The module path in a PyTorch state dict, e.g. `layer1.0.conv1`.
    pub torch: String,
    /// The module path in the burn model, e.g. `layer1.0.conv1`.
    pub burn: String,
}

/// A 2-d convolution with square kernel, stride and symmetric zero padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv2d {
    /// Where its weights live.
    pub name: LayerName,
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Kernel height and width.
    pub kernel: usize,
    /// Stride in both directions.
    pub stride: usize,
    /// Zero padding on every side.
    pub padding: usize,
    /// Whether it adds a bias.
    pub bias: bool,
}

/// Batch normalisation in inference mode: per channel,
/// `gamma · (x − running_mean) / sqrt(running_var + epsilon) + beta`.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    /// Where its parameters live.
    pub name: LayerName,
    /// Input features.
    pub inputs: usize,
    /// Output features.
    pub outputs: usize,
}

/// Max pooling with square window, stride and padding (padding never wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Window height and width.
    pub kernel: usize,
    /// Stride in both directions.
    pub stride: usize,
    /// Padding on every side.
    pub padding: usize,
}

/// What a node computes.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A convolution of its one input.
    Conv2d(Conv2d),
    /// Batch normalisation of its one input.
    BatchNorm(BatchNorm),
    /// `max(x, 0)` elementwise.
    Relu,
    /// Max pooling.
    MaxPool2d(MaxPool2d),
    /// The mean over height and width: `[c, h, w]` → `[c]`.
    GlobalAvgPool,
    /// `[c, h, w]` → `[c · h · w]`, channel-major as in PyTorch.
    Flatten,
    /// A fully connected layer on a flat input.
    Linear(Linear),
    /// The elementwise sum of its two inputs (a residual connection).
    Add,
}

/// One step of the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// What it reads: one value, or two for [`Op::Add`].
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
    /// A PyTorch buffer burn does not keep: batch norm's
    /// `num_batches_tracked`, a 64-bit integer that inference never reads.
    TorchOnly,
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
}

/// A network's layers, in an order in which each node's inputs come first.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// The input shape `[channels, height, width]`.
    pub input: [usize; 3],
    /// The nodes; the last one's output is the logits.
    pub nodes: Vec<Node>,
}

impl Graph {
    /// The network a spec describes.
    ///
    /// The spec should have passed [`ModelSpec::check`]; the shapes are
    /// computed from its input shape.
    pub fn of(spec: &ModelSpec) -> Self {
        let mut g = Builder(Graph { input: spec.input_shape, nodes: Vec::new() });
        let x = ValueId::INPUT;
        let m = spec.n_classes;
        match spec.architecture.family() {
            Family::Mlp => {
                let x = g.push(Op::Flatten, &[x]);
                let x = g.linear_relu(x, "fc1", 256);
                let x = g.linear_relu(x, "fc2", 256);
                g.linear(x, "fc3", m);
            }
            Family::Lenet5 => {
                let padding = (32 - spec.input_shape[1]) / 2;
                let pool = MaxPool2d { kernel: 2, stride: 2, padding: 0 };
                let x = g.conv(x, same("conv1"), 6, 5, 1, padding, true);
                let x = g.push(Op::Relu, &[x]);
                let x = g.push(Op::MaxPool2d(pool), &[x]);
                let x = g.conv(x, same("conv2"), 16, 5, 1, 0, true);
                let x = g.push(Op::Relu, &[x]);
                let x = g.push(Op::MaxPool2d(pool), &[x]);
                let x = g.push(Op::Flatten, &[x]);
                let x = g.linear_relu(x, "fc1", 120);
                let x = g.linear_relu(x, "fc2", 84);
                g.linear(x, "fc3", m);
            }
            Family::DigitsCnn => {
                let x = g.conv(x, same("conv1"), 16, 3, 1, 1, true);
                let x = g.push(Op::Relu, &[x]);
                let x = g.conv(x, same("conv2"), 32, 3, 1, 1, true);
                let x = g.push(Op::Relu, &[x]);
                let x = g.push(Op::MaxPool2d(MaxPool2d { kernel: 2, stride: 2, padding: 0 }), &[x]);
                let x = g.push(Op::Flatten, &[x]);
                let x = g.linear_relu(x, "fc1", 64);
                g.linear(x, "fc2", m);
            }
            Family::CifarResnet { blocks_per_stage: blocks } => {
                let x = g.conv_bn(x, "conv1", "bn1", 16, 3, 1, 1);
                let mut x = g.push(Op::Relu, &[x]);
                for (stage, (width, stride)) in [(16, 1), (32, 2), (64, 2)].into_iter().enumerate() {
                    x = g.stage(x, stage + 1, blocks, width, stride, Builder::basic_block);
                }
                g.head(x, m);
            }
            Family::ImagenetResnet { blocks, bottleneck } => {
                let block: BlockFn = if bottleneck { Builder::bottleneck } else { Builder::basic_block };
                let x = g.conv_bn(x, "conv1", "bn1", 64, 7, 2, 3);
                let x = g.push(Op::Relu, &[x]);
                let mut x = g.push(Op::MaxPool2d(MaxPool2d { kernel: 3, stride: 2, padding: 1 }), &[x]);
                for (stage, (width, stride)) in [(64, 1), (128, 2), (256, 2), (512, 2)].into_iter().enumerate() {
                    x = g.stage(x, stage + 1, blocks[stage], width, stride, block);
                }
                g.head(x, m);
            }
        }
        g.0
    }

    /// Every tensor of the network's state, in node order; within a layer
    /// in PyTorch's order (weight, bias, running mean, running var, batch
    /// count).
    pub fn parameters(&self) -> Vec<Parameter> {
        let mut parameters = Vec::new();
        let mut push = |name: &LayerName, torch: &str, burn: &str, shape: Vec<usize>, storage| {
            parameters.push(Parameter {
                torch: format!("{}.{torch}", name.torch),
                burn: format!("{}.{burn}", name.burn),
                shape,
                storage,
            });
        };
        for node in &self.nodes {
            match &node.op {
                Op::Conv2d(conv) => {
                    let shape = vec![conv.channels_out, conv.channels_in, conv.kernel, conv.kernel];
                    push(&conv.name, "weight", "weight", shape, Storage::Same);
                    if conv.bias {
                        push(&conv.name, "bias", "bias", vec![conv.channels_out], Storage::Same);
                    }
                }
                Op::BatchNorm(bn) => {
                    let c = bn.channels;
                    push(&bn.name, "weight", "gamma", vec![c], Storage::Same);
                    push(&bn.name, "bias", "beta", vec![c], Storage::Same);
                    push(&bn.name, "running_mean", "running_mean", vec![c], Storage::Same);
                    push(&bn.name, "running_var", "running_var", vec![c], Storage::Same);
                    push(&bn.name, "num_batches_tracked", "num_batches_tracked", vec![], Storage::TorchOnly);
                }
                Op::Linear(linear) => {
                    let shape = vec![linear.outputs, linear.inputs];
                    push(&linear.name, "weight", "weight", shape, Storage::Transposed);
                    push(&linear.name, "bias", "bias", vec![linear.outputs], Storage::Same);
                }
                Op::Relu | Op::MaxPool2d(_) | Op::GlobalAvgPool | Op::Flatten | Op::Add => {}
            }
        }
        parameters
    }

    /// The shape of a value for one example.
    pub fn shape(&self, value: ValueId) -> &[usize] {
        match value.0 {
            0 => &self.input,
            i => &self.nodes[i - 1].shape,
        }
    }

    /// Multiply-adds per example (convolutions and linear layers), the usual
    /// measure of a network's cost.
    pub fn multiply_adds(&self) -> u64 {
        let mut total = 0;
        for node in &self.nodes {
            let outputs: usize = node.shape.iter().product();
            total += match &node.op {
                Op::Conv2d(conv) => outputs * conv.channels_in * conv.kernel * conv.kernel,
                Op::Linear(linear) => linear.inputs * linear.outputs,
                _ => 0,
            } as u64;
        }
        total
    }
}

/// A layer named the same in PyTorch and burn.
fn same(name: &str) -> LayerName {
    LayerName { torch: name.to_owned(), burn: name.to_owned() }
}

type BlockFn = fn(&mut Builder, ValueId, &str, usize, usize) -> ValueId;

/// Appends nodes to a graph, computing each output shape from its inputs.
struct Builder(Graph);

impl Builder {
    fn push(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        let shape = self.output_shape(&op, inputs);
        self.0.nodes.push(Node { op, inputs: inputs.to_vec(), shape });
        ValueId(self.0.nodes.len())
    }

    fn shape(&self, value: ValueId) -> &[usize] {
        self.0.shape(value)
    }

    fn output_shape(&self, op: &Op, inputs: &[ValueId]) -> Vec<usize> {
        let input = self.shape(inputs[0]);
        let spatial =
            |size: usize, kernel: usize, stride: usize, padding: usize| (size + 2 * padding - kernel) / stride + 1;
        match op {
            Op::Conv2d(c) => vec![
                c.channels_out,
                spatial(input[1], c.kernel, c.stride, c.padding),
                spatial(input[2], c.kernel, c.stride, c.padding),
            ],
            Op::MaxPool2d(p) => {
                vec![
                    input[0],
                    spatial(input[1], p.kernel, p.stride, p.padding),
                    spatial(input[2], p.kernel, p.stride, p.padding),
                ]
            }
            Op::GlobalAvgPool => vec![input[0]],
            Op::Flatten => vec![input.iter().product()],
            Op::Linear(l) => vec![l.outputs],
            Op::BatchNorm(_) | Op::Relu | Op::Add => input.to_vec(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        x: ValueId,
        name: LayerName,
        channels_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
    ) -> ValueId {
        let channels_in = self.shape(x)[0];
        self.push(Op::Conv2d(Conv2d { name, channels_in, channels_out, kernel, stride, padding, bias }), &[x])
    }

    fn bn(&mut self, x: ValueId, name: LayerName) -> ValueId {
        let channels = self.shape(x)[0];
        self.push(Op::BatchNorm(BatchNorm { name, channels, epsilon: 1e-5 }), &[x])
    }

    /// A bias-free convolution and its batch norm, named alike in both
    /// frameworks.
    #[allow(clippy::too_many_arguments)]
    fn conv_bn(
        &mut self,
        x: ValueId,
        conv: &str,
        bn: &str,
        channels_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> ValueId {
        let x = self.conv(x, same(conv), channels_out, kernel, stride, padding, false);
        self.bn(x, same(bn))
    }

    fn linear(&mut self, x: ValueId, name: &str, outputs: usize) -> ValueId {
        let inputs = self.shape(x)[0];
        self.push(Op::Linear(Linear { name: same(name), inputs, outputs }), &[x])
    }

    fn linear_relu(&mut self, x: ValueId, name: &str, outputs: usize) -> ValueId {
        let x = self.linear(x, name, outputs);
        self.push(Op::Relu, &[x])
    }

    /// Global average pooling and the final linear layer `fc`.
    fn head(&mut self, x: ValueId, n_classes: usize) -> ValueId {
        let x = self.push(Op::GlobalAvgPool, &[x]);
        self.linear(x, "fc", n_classes)
    }

    /// `layer{stage}`: `blocks` residual blocks, the first with `stride`.
    fn stage(
        &mut self,
        x: ValueId,
        stage: usize,
        blocks: usize,
        width: usize,
        stride: usize,
        block: BlockFn,
    ) -> ValueId {
        (0..blocks).fold(x, |x, i| block(self, x, &format!("layer{stage}.{i}"), width, if i == 0 { stride } else { 1 }))
    }

    /// The shortcut of a block whose output has `channels_out` channels: the
    /// input itself, or a strided 1×1 convolution and batch norm
    /// (`downsample.0` and `downsample.1` in PyTorch) when shape changes.
    fn shortcut(&mut self, x: ValueId, prefix: &str, channels_out: usize, stride: usize) -> ValueId {
        if stride == 1 && self.shape(x)[0] == channels_out {
            return x;
        }
        let name = |torch: &str, burn: &str| LayerName {
            torch: format!("{prefix}.downsample.{torch}"),
            burn: format!("{prefix}.downsample.{burn}"),
        };
        let s = self.conv(x, name("0", "conv"), channels_out, 1, stride, 0, false);
        self.bn(s, name("1", "bn"))
    }

    /// He et al.'s basic block: conv3×3-bn-relu-conv3×3-bn, add, relu.
    fn basic_block(&mut self, x: ValueId, prefix: &str, width: usize, stride: usize) -> ValueId {
        let y = self.conv_bn(x, &format!("{prefix}.conv1"), &format!("{prefix}.bn1"), width, 3, stride, 1);
        let y = self.push(Op::Relu, &[y]);
        let y = self.conv_bn(y, &format!("{prefix}.conv2"), &format!("{prefix}.bn2"), width, 3, 1, 1);
        let s = self.shortcut(x, prefix, width, stride);
        let y = self.push(Op::Add, &[y, s]);
        self.push(Op::Relu, &[y])
    }

    /// torchvision's bottleneck (ResNet v1.5, stride on the 3×3):
    /// conv1×1-bn-relu-conv3×3-bn-relu-conv1×1 (4× width)-bn, add, relu.
    fn bottleneck(&mut self, x: ValueId, prefix: &str, width: usize, stride: usize) -> ValueId {
        let y = self.conv_bn(x, &format!("{prefix}.conv1"), &format!("{prefix}.bn1"), width, 1, 1, 0);
        let y = self.push(Op::Relu, &[y]);
        let y = self.conv_bn(y, &format!("{prefix}.conv2"), &format!("{prefix}.bn2"), width, 3, stride, 1);
        let y = self.push(Op::Relu, &[y]);
        let y = self.conv_bn(y, &format!("{prefix}.conv3"), &format!("{prefix}.bn3"), 4 * width, 1, 1, 0);
        let s = self.shortcut(x, prefix, 4 * width, stride);
        let y = self.push(Op::Add, &[y, s]);
        self.push(Op::Relu, &[y])
    }
}
