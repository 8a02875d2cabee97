//! From a graph and PyTorch weights to the engine's steps: batch norm
//! folded into convolutions; bias, ReLU and residual adds fused into their
//! output; linear layers after a flatten reading NHWC order.

use std::collections::HashMap;
use std::fmt;

use csrs_models::ModelSpec;
use csrs_models::graph::{Graph, Op, ValueId};

use crate::Engine;

/// Why a network cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileError {
    /// A tensor the graph needs is not among the weights.
    MissingTensor(String),
    /// A tensor with another number of values than the graph's shape.
    TensorSize {
        /// Its PyTorch name.
        name: String,
        /// Values found.
        found: usize,
        /// Values expected.
        expected: usize,
    },
    /// A model whose weights could not be read as its graph describes.
    Weights(String),
    /// A layer arrangement the engine does not run (e.g. a batch norm that
    /// follows no convolution).
    Unsupported(String),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::MissingTensor(name) => write!(f, "no tensor {name} among the weights"),
            CompileError::TensorSize { name, found, expected } => {
                write!(f, "tensor {name} has {found} values, expected {expected}")
            }
            CompileError::Weights(message) => write!(f, "cannot read the model's weights: {message}"),
            CompileError::Unsupported(what) => write!(f, "the CPU engine does not run {what}"),
        }
    }
}

impl std::error::Error for CompileError {}

/// The im2col buffer holds at least this many values, so that the images
/// of small layers are multiplied a group at a time.
const COL_GROUP: usize = 256 * 1024;

/// A convolution with its folded batch norm and fused epilogue, on NHWC
/// activations.
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    pub(crate) input: usize,
    pub(crate) output: usize,
    /// Added to the output before the ReLU (a residual connection).
    pub(crate) residual: Option<usize>,
    pub(crate) relu: bool,
    /// Input height, width, channels.
    pub(crate) input_hwc: [usize; 3],
    /// Output height, width, channels.
    pub(crate) output_hwc: [usize; 3],
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
    /// `[kernel · kernel · channels_in, channels_out]`, rows ordered
    /// (ky, kx, input channel) like the im2col columns.
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: Vec<f32>,
}

/// Input channels up to which a stride-1 convolution runs plane by plane
/// ([`Conv::is_planar`]).
const PLANAR_CHANNELS: usize = 3;

impl Conv {
    /// A 1×1 convolution with stride 1: the activation is its own im2col.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == 0
    }

    /// A stride-1 convolution of few input channels (a network's first
    /// layer): its im2col rows would be copies of a few values each, so it
    /// runs directly, one padded input plane and one output plane at a time.
    pub(crate) fn is_planar(&self) -> bool {
        self.stride == 1 && self.kernel > 1 && self.input_hwc[2] <= PLANAR_CHANNELS
    }

    /// The padded input planes' height and width; an output plane has rows
    /// of the padded width (its last `kernel - 1` columns unused).
    pub(crate) fn padded_hw(&self) -> [usize; 2] {
        let [h, w, _] = self.input_hwc;
        [h + 2 * self.padding, w + 2 * self.padding]
    }

    /// Values of one image's scratch: its im2col matrix, or its padded input
    /// planes and output planes; 0 when none is needed.
    pub(crate) fn col_size(&self) -> usize {
        let [oh, ow, cout] = self.output_hwc;
        let cin = self.input_hwc[2];
        if self.is_pointwise() {
            0
        } else if self.is_planar() {
            let [ph, pw] = self.padded_hw();
            cin * (ph * pw + self.kernel - 1) + cout * oh * pw
        } else {
            oh * ow * self.kernel * self.kernel * cin
        }
    }
}

/// One step of a compiled network; slots are buffers of the workspace.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Conv(Conv),
    MaxPool {
        input: usize,
        output: usize,
        input_hwc: [usize; 3],
        output_hw: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    GlobalAvgPool {
        input: usize,
        output: usize,
        pixels: usize,
        channels: usize,
    },
    /// `[batch, inputs] · [inputs, outputs] + bias`, then ReLU if asked.
    Linear {
        input: usize,
        output: usize,
        inputs: usize,
        outputs: usize,
        weight: Vec<f32>,
        bias: Vec<f32>,
        relu: bool,
    },
    /// An elementwise ReLU that follows no convolution or linear layer.
    Relu {
        input: usize,
        output: usize,
    },
    /// A residual add that could not be fused.
    Add {
        a: usize,
        b: usize,
        output: usize,
        relu: bool,
    },
}

struct Compiler<'a> {
    graph: &'a Graph,
    weights: &'a HashMap<String, Vec<f32>>,
    consumers: Vec<usize>,
    slot_of: HashMap<ValueId, usize>,
    slot_sizes: Vec<usize>,
    steps: Vec<Step>,
    /// Convolutions waiting for the add that consumes them, to take it
    /// as their residual.
    pending: HashMap<ValueId, Conv>,
    /// Flat values made by a flatten of a `[c, h, w]` value.
    flattened: HashMap<ValueId, [usize; 3]>,
}

pub(crate) fn compile(
    spec: &ModelSpec,
    graph: &Graph,
    weights: &HashMap<String, Vec<f32>>,
) -> Result<Engine, CompileError> {
    let mut consumers = vec![0; graph.nodes.len() + 1];
    for node in &graph.nodes {
        for input in &node.inputs {
            consumers[input.0] += 1;
        }
    }
    let mut c = Compiler {
        graph,
        weights,
        consumers,
        slot_of: HashMap::from([(ValueId::INPUT, 0)]),
        slot_sizes: vec![graph.input.iter().product()],
        steps: Vec::new(),
        pending: HashMap::new(),
        flattened: HashMap::new(),
    };
    let mut i = 0;
    while i < graph.nodes.len() {
        i = c.node(i)?;
    }
    let last = ValueId(graph.nodes.len());
    let output = *c
        .slot_of
        .get(&last)
        .ok_or_else(|| CompileError::Unsupported("a network whose last node is fused away".into()))?;
    // At least one image's patches, and room to group small layers' images
    // (256 Ki values, 1 MiB: about an L2 cache).
    let col_size =
        c.steps.iter().map(|s| if let Step::Conv(conv) = s { conv.col_size() } else { 0 }).max().unwrap_or(0);
    let col_size = col_size.max(COL_GROUP);
    Ok(Engine {
        steps: c.steps,
        slot_sizes: c.slot_sizes,
        output,
        input_shape: graph.input,
        n_classes: spec.n_classes,
        mean: spec.mean.clone(),
        std: spec.std.clone(),
        col_size,
    })
}

impl Compiler<'_> {
    fn tensor(&self, name: &str, expected: usize) -> Result<&[f32], CompileError> {
        let values = self.weights.get(name).ok_or_else(|| CompileError::MissingTensor(name.to_owned()))?;
        if values.len() != expected {
            return Err(CompileError::TensorSize { name: name.to_owned(), found: values.len(), expected });
        }
        Ok(values)
    }

    fn slot(&self, value: ValueId) -> Result<usize, CompileError> {
        self.slot_of
            .get(&value)
            .copied()
            .ok_or_else(|| CompileError::Unsupported(format!("value {} read before it is made", value.0)))
    }

    fn new_slot(&mut self, value: ValueId) -> usize {
        self.slot_sizes.push(self.graph.shape(value).iter().product());
        let slot = self.slot_sizes.len() - 1;
        self.slot_of.insert(value, slot);
        slot
    }

    /// The node after `i` when it is `op`-like and reads only node `i`'s
    /// output, which nothing else reads.
    fn single_follower(&self, i: usize, matches: impl Fn(&Op) -> bool) -> bool {
        let value = ValueId(i + 1);
        self.consumers[value.0] == 1
            && self.graph.nodes.get(i + 1).is_some_and(|next| matches(&next.op) && next.inputs == [value])
    }

    /// Compiles node `i` and the nodes fused into it; returns the next node.
    fn node(&mut self, i: usize) -> Result<usize, CompileError> {
        let node = &self.graph.nodes[i];
        let shape = |v: ValueId| self.graph.shape(v).to_vec();
        match &node.op {
            Op::Conv2d(conv) => {
                let input = node.inputs[0];
                let [cin, h, w] = <[usize; 3]>::try_from(shape(input))
                    .map_err(|_| CompileError::Unsupported("a convolution of a flat value".into()))?;
                let [cout, oh, ow] = <[usize; 3]>::try_from(node.shape.clone()).expect("a convolution makes [c, h, w]");
                let k = conv.kernel;
                let torch = self.tensor(&format!("{}.weight", conv.name.torch), cout * cin * k * k)?;
                // [cout, cin, ky, kx] → [(ky, kx, cin), cout].
                let mut weight = vec![0.0; k * k * cin * cout];
                for co in 0..cout {
                    for ci in 0..cin {
                        for ky in 0..k {
                            for kx in 0..k {
                                weight[((ky * k + kx) * cin + ci) * cout + co] =
                                    torch[((co * cin + ci) * k + ky) * k + kx];
                            }
                        }
                    }
                }
                let mut bias = if conv.bias {
                    self.tensor(&format!("{}.bias", conv.name.torch), cout)?.to_vec()
                } else {
                    vec![0.0; cout]
                };
                let mut end = i;
                if self.single_follower(end, |op| matches!(op, Op::BatchNorm(_))) {
                    end += 1;
                    let Op::BatchNorm(bn) = &self.graph.nodes[end].op else { unreachable!() };
                    let name = &bn.name.torch;
                    let gamma = self.tensor(&format!("{name}.weight"), cout)?;
                    let beta = self.tensor(&format!("{name}.bias"), cout)?;
                    let mean = self.tensor(&format!("{name}.running_mean"), cout)?;
                    let var = self.tensor(&format!("{name}.running_var"), cout)?;
                    for co in 0..cout {
                        let scale = (f64::from(gamma[co]) / (f64::from(var[co]) + bn.epsilon).sqrt()) as f32;
                        for row in weight.chunks_exact_mut(cout) {
                            row[co] *= scale;
                        }
                        bias[co] = beta[co] + (bias[co] - mean[co]) * scale;
                    }
                }
                let mut step = Conv {
                    input: self.slot(input)?,
                    output: 0,
                    residual: None,
                    relu: false,
                    input_hwc: [h, w, cin],
                    output_hwc: [oh, ow, cout],
                    kernel: k,
                    stride: conv.stride,
                    padding: conv.padding,
                    weight,
                    bias,
                };
                let value = ValueId(end + 1);
                let feeds_an_add = self.consumers[value.0] == 1
                    && self.graph.nodes[end + 1..]
                        .iter()
                        .find(|n| n.inputs.contains(&value))
                        .is_some_and(|n| n.op == Op::Add);
                if self.single_follower(end, |op| *op == Op::Relu) {
                    end += 1;
                    step.relu = true;
                } else if feeds_an_add {
                    self.pending.insert(value, step);
                    return Ok(end + 1);
                }
                step.output = self.new_slot(ValueId(end + 1));
                self.steps.push(Step::Conv(step));
                Ok(end + 1)
            }
            Op::Add => {
                let [a, b] = [node.inputs[0], node.inputs[1]];
                let (pa, pb) = (self.pending.remove(&a), self.pending.remove(&b));
                let (fused, other) = match (pa, pb) {
                    (Some(pa), Some(pb)) => {
                        self.emit_pending(b, pb);
                        (Some(pa), b)
                    }
                    (Some(pa), None) => (Some(pa), b),
                    (None, Some(pb)) => (Some(pb), a),
                    (None, None) => (None, b),
                };
                let mut end = i;
                let relu = self.single_follower(end, |op| *op == Op::Relu);
                if relu {
                    end += 1;
                }
                let output = self.new_slot(ValueId(end + 1));
                match fused {
                    Some(mut conv) => {
                        conv.residual = Some(self.slot(other)?);
                        conv.relu = relu;
                        conv.output = output;
                        self.steps.push(Step::Conv(conv));
                    }
                    None => {
                        let step = Step::Add { a: self.slot(a)?, b: self.slot(b)?, output, relu };
                        self.steps.push(step);
                    }
                }
                Ok(end + 1)
            }
            Op::Relu => {
                let input = self.slot(node.inputs[0])?;
                let output = self.new_slot(ValueId(i + 1));
                self.steps.push(Step::Relu { input, output });
                Ok(i + 1)
            }
            Op::MaxPool2d(pool) => {
                let input = node.inputs[0];
                let [c, h, w] = <[usize; 3]>::try_from(shape(input))
                    .map_err(|_| CompileError::Unsupported("pooling of a flat value".into()))?;
                let step = Step::MaxPool {
                    input: self.slot(input)?,
                    output: self.new_slot(ValueId(i + 1)),
                    input_hwc: [h, w, c],
                    output_hw: [node.shape[1], node.shape[2]],
                    kernel: pool.kernel,
                    stride: pool.stride,
                    padding: pool.padding,
                };
                self.steps.push(step);
                Ok(i + 1)
            }
            Op::GlobalAvgPool => {
                let input = node.inputs[0];
                let dims = shape(input);
                let step = Step::GlobalAvgPool {
                    input: self.slot(input)?,
                    output: self.new_slot(ValueId(i + 1)),
                    pixels: dims[1..].iter().product(),
                    channels: dims[0],
                };
                self.steps.push(step);
                Ok(i + 1)
            }
            Op::Flatten => {
                // NHWC memory is already flat; only the next linear layer's
                // column order changes.
                let input = node.inputs[0];
                let slot = self.slot(input)?;
                self.slot_of.insert(ValueId(i + 1), slot);
                if let Ok(chw) = <[usize; 3]>::try_from(shape(input)) {
                    self.flattened.insert(ValueId(i + 1), chw);
                }
                Ok(i + 1)
            }
            Op::Linear(linear) => {
                let input = node.inputs[0];
                let (n_in, n_out) = (linear.inputs, linear.outputs);
                let torch = self.tensor(&format!("{}.weight", linear.name.torch), n_out * n_in)?;
                let bias = self.tensor(&format!("{}.bias", linear.name.torch), n_out)?.to_vec();
                // Column j of PyTorch's [out, in] reads input j of a CHW
                // flatten; ours reads NHWC, so row `nhwc(j)` of [in, out].
                let nhwc = |j: usize| match self.flattened.get(&input) {
                    Some(&[c, h, w]) => {
                        let (channel, pixel) = (j / (h * w), j % (h * w));
                        pixel * c + channel
                    }
                    None => j,
                };
                let mut weight = vec![0.0; n_in * n_out];
                for o in 0..n_out {
                    for j in 0..n_in {
                        weight[nhwc(j) * n_out + o] = torch[o * n_in + j];
                    }
                }
                let mut end = i;
                let relu = self.single_follower(end, |op| *op == Op::Relu);
                if relu {
                    end += 1;
                }
                let step = Step::Linear {
                    input: self.slot(input)?,
                    output: self.new_slot(ValueId(end + 1)),
                    inputs: n_in,
                    outputs: n_out,
                    weight,
                    bias,
                    relu,
                };
                self.steps.push(step);
                Ok(end + 1)
            }
            Op::BatchNorm(bn) => Err(CompileError::Unsupported(format!(
                "batch norm {} after something other than a convolution",
                bn.name.torch
            ))),
        }
    }

    /// Emits a pending convolution on its own.
    fn emit_pending(&mut self, value: ValueId, mut conv: Conv) {
        conv.output = self.new_slot(value);
        self.steps.push(Step::Conv(conv));
    }
}
