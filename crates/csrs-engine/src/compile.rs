//! From a graph and PyTorch weights to the engine's steps: batch norm (and
//! any per-channel affine map) folded into the convolution before it, a
//! standalone one made a per-channel pass; bias, activation and residual
//! adds fused into their output; linear layers after a flatten reading NHWC
//! order; a concat's convolutions writing straight into its channels.

use std::collections::HashMap;
use std::fmt;

use csrs_models::ModelSpec;
use csrs_models::graph::{Activation, Binary, Conv2d, Graph, LayerName, Linear, Op, ValueId, Window};

use crate::Engine;
use crate::gemm::{PANEL, Packed, STEP};
use crate::pixelwise::Pixelwise;
use crate::winograd::{Shape, Winograd};

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
    /// A spec that does not describe a network csrs can build.
    Spec(String),
    /// A layer arrangement the engine does not run (e.g. a concat of
    /// flattened images).
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
            CompileError::Spec(message) => write!(f, "not a network csrs can build: {message}"),
            CompileError::Unsupported(what) => write!(f, "the CPU engine does not run {what}"),
        }
    }
}

impl std::error::Error for CompileError {}

/// The environment variable that, set to `off`, makes every convolution
/// take the direct product instead of Winograd's transforms: the plain path,
/// to compare speed and results against.
pub const PLAIN_PATH: &str = "CSRS_ENGINE_WINOGRAD";

/// The im2col buffer holds at least this many values, so that the images
/// of small layers are multiplied a group at a time.
const COL_GROUP: usize = 256 * 1024;

/// Input channels up to which a convolution may run plane by plane
/// ([`Conv::is_planar`]).
const PLANAR_CHANNELS: usize = 3;

/// A convolution with its folded batch norm and fused epilogue, on NHWC
/// activations.
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    pub(crate) input: usize,
    pub(crate) output: usize,
    /// Added to the output before the activation (a residual connection).
    pub(crate) residual: Option<usize>,
    pub(crate) activation: Option<Activation>,
    /// Input height, width, channels.
    pub(crate) input_hwc: [usize; 3],
    /// Output height, width, channels.
    pub(crate) output_hwc: [usize; 3],
    /// Values per pixel of the output buffer, and where in them this
    /// convolution's channels start: `[channels, 0]`, or the channels of a
    /// concat it writes its part of in place.
    pub(crate) output_pixel: [usize; 2],
    pub(crate) kernel: [usize; 2],
    pub(crate) stride: [usize; 2],
    /// Top, left, bottom, right.
    pub(crate) padding: [usize; 4],
    pub(crate) dilation: [usize; 2],
    pub(crate) groups: usize,
    /// For each group, `[kh · kw · channels_in / groups, channels_out /
    /// groups]` with rows ordered (ky, kx, input channel) like the im2col
    /// columns; a depthwise convolution's is `[kh · kw, channels]`. Once
    /// compiled, only a depthwise convolution keeps its weights here; the
    /// others keep them packed ([`Conv::packed`], or their Winograd's or
    /// per-pixel form), and this is empty.
    pub(crate) weight: Vec<f32>,
    /// Each group's weight matrix in the panels the matrix product reads
    /// ([`Conv::pack`]), also read row by row by a planar convolution;
    /// empty for a depthwise, Winograd or per-pixel one.
    pub(crate) packed: Vec<Packed>,
    /// For a convolution read through [`crate::gemm::Windows`], where each
    /// run of [`STEP`] rows of the weights reads in the padded window.
    pub(crate) window_steps: Vec<usize>,
    /// A 3×3 stride-1 convolution computed by Winograd's F(2×2, 3×3) or
    /// F(4×4, 3×3) ([`Winograd::applies`]), unless the engine is told not
    /// to.
    pub(crate) winograd: Option<Box<Winograd>>,
    /// A small output computed one pixel at a time ([`Pixelwise::applies`]).
    pub(crate) pixelwise: Option<Box<Pixelwise>>,
    pub(crate) bias: Vec<f32>,
}

impl Conv {
    /// A 1×1 convolution with stride 1: the activation is its own im2col.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0; 4] && self.groups == 1
    }

    /// One filter per channel: computed directly, a vector of channels at a
    /// time, without im2col.
    pub(crate) fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.input_hwc[2] && self.groups == self.output_hwc[2]
    }

    /// A stride-1 convolution of few input channels (a network's first
    /// layer) and fewer output channels than a panel of the matrix
    /// product's: it runs directly, one padded input plane and one output
    /// plane at a time, in vectors of pixels. (With a panel's worth of
    /// output channels or more, the im2col product, in vectors of channels,
    /// measured faster: docs/performance.md.)
    pub(crate) fn is_planar(&self) -> bool {
        self.groups == 1
            && self.stride == [1, 1]
            && self.dilation == [1, 1]
            && self.kernel != [1, 1]
            && self.input_hwc[2] <= PLANAR_CHANNELS
            && self.output_hwc[2] < PANEL
    }

    /// Input channels each output channel reads.
    pub(crate) fn group_channels_in(&self) -> usize {
        self.input_hwc[2] / self.groups
    }

    /// Output channels of one group.
    pub(crate) fn group_channels_out(&self) -> usize {
        self.output_hwc[2] / self.groups
    }

    /// Rows of one group's weight matrix: kh · kw · its input channels.
    pub(crate) fn depth(&self) -> usize {
        self.kernel[0] * self.kernel[1] * self.group_channels_in()
    }

    /// Where row `row` (tap and input channel) of output channel `co`'s
    /// filter sits in [`Conv::weight`].
    pub(crate) fn weight_index(&self, co: usize, row: usize) -> usize {
        if self.is_depthwise() {
            return row * self.output_hwc[2] + co;
        }
        let per_group = self.group_channels_out();
        let group = co / per_group;
        (group * self.depth() + row) * per_group + co % per_group
    }

    /// The zero-padded input's height and width; a planar output plane has
    /// rows of the padded width (its last `kw - 1` columns unused).
    pub(crate) fn padded_hw(&self) -> [usize; 2] {
        let [h, w, _] = self.input_hwc;
        let [top, left, bottom, right] = self.padding;
        [h + top + bottom, w + left + right]
    }

    /// Values of one image's scratch: its im2col matrix, its padded input
    /// (and output planes), or Winograd's transforms; 0 when none is needed.
    pub(crate) fn col_size(&self) -> usize {
        let [oh, ow, cout] = self.output_hwc;
        let cin = self.input_hwc[2];
        if self.is_pointwise() || self.is_depthwise() || self.pixelwise.is_some() {
            0
        } else if self.is_planar() {
            let [ph, pw] = self.padded_hw();
            cin * (ph * pw + self.kernel[1] - 1) + cout * oh * pw
        } else if let Some(winograd) = &self.winograd {
            winograd.scratch_len()
        } else if self.is_windowed() {
            let [ph, pw] = self.padded_hw();
            ph * pw * cin
        } else {
            oh * ow * self.depth()
        }
    }

    /// A matrix product of the padded input's windows, read in place
    /// ([`crate::gemm::Windows`]): every run of [`STEP`] input channels of
    /// a tap is contiguous.
    pub(crate) fn is_windowed(&self) -> bool {
        self.is_product() && !self.is_pointwise() && self.groups == 1 && self.input_hwc[2].is_multiple_of(STEP)
    }

    /// Whether the convolution is a matrix product (of im2col rows, or of
    /// the pixels themselves) rather than computed directly.
    pub(crate) fn is_product(&self) -> bool {
        !(self.is_planar() || self.is_depthwise())
    }

    /// Moves a matrix product's folded weights into panels, once every
    /// batch norm has been folded in.
    fn pack(&mut self, winograd: bool) {
        let [oh, ow, cout] = self.output_hwc;
        let [h, w, cin] = self.input_hwc;
        if winograd && Winograd::applies(self.kernel, self.stride, self.dilation, self.groups, cin, cout, [oh, ow]) {
            let [top, left, _, _] = self.padding;
            let shape = Shape { input_hw: [h, w], output_hw: [oh, ow], before: [top, left], channels: [cin, cout] };
            self.winograd = Some(Box::new(Winograd::new(&self.weight, shape)));
            self.weight = Vec::new();
            return;
        }
        if Pixelwise::applies(self) {
            let weight = std::mem::take(&mut self.weight);
            self.pixelwise = Some(Box::new(Pixelwise::new(&weight, self)));
            return;
        }
        // A planar convolution reads its weights a row of output channels
        // at a time, as a product does.
        if !self.is_depthwise() {
            let (depth, columns) = (self.depth(), self.group_channels_out());
            let weight = std::mem::take(&mut self.weight);
            self.packed =
                weight.chunks_exact(depth * columns).map(|group| Packed::new(group, depth, columns)).collect();
        }
        if self.is_windowed() {
            let [_, pw] = self.padded_hw();
            let ([kw, cin], [dh, dw]) = ([self.kernel[1], self.input_hwc[2]], self.dilation);
            self.window_steps = (0..self.depth())
                .step_by(STEP)
                .map(|k| {
                    let (tap, channel) = (k / cin, k % cin);
                    ((tap / kw * dh) * pw + tap % kw * dw) * cin + channel
                })
                .collect();
        }
    }

    /// Multiplies output channel `co` by `scale` and adds `shift` (a batch
    /// norm or affine map after the convolution, folded in).
    fn fold(&mut self, co: usize, scale: f32, shift: f32) {
        for row in 0..self.depth() {
            let at = self.weight_index(co, row);
            self.weight[at] *= scale;
        }
        self.bias[co] = self.bias[co] * scale + shift;
    }

    /// Fills [`Conv::weight`] from PyTorch's `[cout, cin / groups, ky, kx]`
    /// weights: rows (ky, kx, ci) of each output channel's group.
    fn set_torch_weight(&mut self, torch: &[f32]) {
        let [kh, kw] = self.kernel;
        let cin_group = self.group_channels_in();
        for co in 0..self.output_hwc[2] {
            for ci in 0..cin_group {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let at = self.weight_index(co, (ky * kw + kx) * cin_group + ci);
                        self.weight[at] = torch[((co * cin_group + ci) * kh + ky) * kw + kx];
                    }
                }
            }
        }
    }
}

/// One step of a compiled network; slots are buffers of the workspace.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    Conv(Conv),
    Pool {
        input: usize,
        output: usize,
        input_hwc: [usize; 3],
        output_hw: [usize; 2],
        window: Window,
        pooling: Pooling,
    },
    GlobalAvgPool {
        input: usize,
        output: usize,
        pixels: usize,
        channels: usize,
    },
    /// `[batch, inputs] · [inputs, outputs] + bias`, then the activation.
    Linear {
        input: usize,
        output: usize,
        inputs: usize,
        outputs: usize,
        weight: Packed,
        bias: Vec<f32>,
        activation: Option<Activation>,
    },
    /// `x · scale + shift` with constants repeating every `scale.len()`
    /// values (one, a pixel's channels, or a whole example, in the buffer's
    /// order), then the activation: a batch norm or affine map that follows
    /// no convolution.
    Affine {
        input: usize,
        output: usize,
        /// Values per example.
        values: usize,
        scale: Vec<f32>,
        shift: Vec<f32>,
        activation: Option<Activation>,
    },
    /// An activation that follows nothing it could be fused into.
    Activation {
        input: usize,
        output: usize,
        /// Values per example.
        values: usize,
        activation: Activation,
    },
    /// Elementwise arithmetic of two buffers (an add that could not be
    /// fused into a convolution), then the activation.
    Binary {
        a: usize,
        b: usize,
        output: usize,
        /// Values per example.
        values: usize,
        op: Binary,
        activation: Option<Activation>,
    },
    /// Its inputs' channels side by side in each pixel: `(slot, channels,
    /// first channel)` of the inputs not written in place by the step that
    /// made them.
    Concat {
        inputs: Vec<(usize, usize, usize)>,
        output: usize,
        pixels: usize,
        channels: usize,
    },
}

/// What a pooling window computes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pooling {
    /// The largest value inside the image (padding never wins).
    Max,
    /// The mean, over the whole window (padding counted as zeros) or over
    /// its positions inside the image.
    Average { count_padding: bool },
}

/// How a value's buffer orders its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// As the graph's shape says, NHWC for images.
    Natural,
    /// A flat value made by a flatten of a `[c, h, w]` image: its values in
    /// the image's NHWC order, where PyTorch's are CHW.
    Flattened([usize; 3]),
}

impl Layout {
    /// Where PyTorch's value `j` of an example sits in the buffer.
    fn position(self, j: usize) -> usize {
        match self {
            Layout::Natural => j,
            Layout::Flattened([c, h, w]) => {
                let (channel, pixel) = (j / (h * w), j % (h * w));
                pixel * c + channel
            }
        }
    }
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
    /// Values whose buffer is not in the graph's order.
    layouts: HashMap<ValueId, Layout>,
    /// Inputs of a concat that only it reads: the concat, the first of
    /// their channels in it, and its channels. A convolution making one
    /// writes it into the concat's buffer, so nothing is copied.
    concat_parts: HashMap<ValueId, (ValueId, usize, usize)>,
    /// Those written in place.
    in_place: std::collections::HashSet<ValueId>,
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
        layouts: HashMap::new(),
        concat_parts: HashMap::new(),
        in_place: std::collections::HashSet::new(),
    };
    for (i, node) in graph.nodes.iter().enumerate() {
        let distinct = node.inputs.iter().collect::<std::collections::HashSet<_>>().len() == node.inputs.len();
        if node.op == Op::Concat && node.shape.len() == 3 && distinct {
            let mut first = 0;
            for &value in &node.inputs {
                if value != ValueId::INPUT && c.consumers[value.0] == 1 {
                    c.concat_parts.insert(value, (ValueId(i + 1), first, node.shape[0]));
                }
                first += graph.shape(value)[0];
            }
        }
    }
    let mut i = 0;
    while i < graph.nodes.len() {
        i = c.node(i)?;
    }
    let last = ValueId(graph.nodes.len());
    let output = *c
        .slot_of
        .get(&last)
        .ok_or_else(|| CompileError::Unsupported("a network whose last node is fused away".into()))?;
    if c.layout(last) != Layout::Natural {
        return Err(CompileError::Unsupported("logits that are a flattened image of more than one pixel".into()));
    }
    let mut steps = c.steps;
    let largest_weights = steps
        .iter()
        .map(|step| match step {
            Step::Conv(conv) => conv.weight.len(),
            Step::Linear { inputs, outputs, .. } => inputs * outputs,
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    let winograd = std::env::var_os(PLAIN_PATH).is_none_or(|value| value != "off");
    for step in &mut steps {
        if let Step::Conv(conv) = step {
            conv.pack(winograd);
        }
    }
    // At least one image's patches, and room to group small layers' images
    // (256 Ki values, 1 MiB: about an L2 cache).
    let col_size = steps.iter().map(|s| if let Step::Conv(conv) = s { conv.col_size() } else { 0 }).max().unwrap_or(0);
    let col_size = col_size.max(COL_GROUP);
    let (slot_sizes, output) = share_buffers(&mut steps, &c.slot_sizes, output);
    let group = group(&slot_sizes, largest_weights);
    Ok(Engine {
        steps,
        slot_sizes,
        output,
        input_shape: graph.input,
        n_classes: spec.n_classes,
        mean: spec.mean.clone(),
        std: spec.std.clone(),
        col_size,
        group,
    })
}

/// Values of all the buffers of one group of examples, at most: 256 Ki
/// values, 1 MiB, half the L2 cache of the machine the rule was measured
/// on (docs/performance.md).
const GROUP_VALUES: usize = 256 * 1024;

/// The fewest examples of a group: a product with a row per example
/// ([`crate::pixelwise`]) needs rows enough to run at speed.
const MIN_GROUP: usize = 16;

/// Weights of one layer beyond which a network is run a whole batch at a
/// time: 256 Ki values, 1 MiB.
const CACHED_WEIGHTS: usize = 256 * 1024;

/// Examples that go through the whole network together, one group after
/// another: as many as keep every buffer within [`GROUP_VALUES`], so that
/// each layer reads the last one's output from the cache rather than from
/// memory (ResNet-110 gained 9%), and at least [`MIN_GROUP`]. A network
/// with a layer of more than [`CACHED_WEIGHTS`] weights runs the whole
/// batch instead: its weights, read from memory once per group, would cost
/// more than its activations (VGG-11 lost 20% in groups of 16).
fn group(slot_sizes: &[usize], largest_weights: usize) -> usize {
    if largest_weights > CACHED_WEIGHTS {
        return usize::MAX;
    }
    (GROUP_VALUES / slot_sizes.iter().sum::<usize>().max(1)).max(MIN_GROUP)
}

/// Per-channel `(scale, shift)` of a batch norm or of an affine map on a
/// value of `channels` channels, when the node is one of them and its
/// constants are one per channel (or one for all).
type ChannelMap = (Vec<f32>, Vec<f32>);

impl Compiler<'_> {
    /// The layer's tensor `key`, which must hold `expected` values.
    fn tensor(&self, layer: &LayerName, key: &str, expected: usize) -> Result<&[f32], CompileError> {
        let name = layer.tensor(key);
        let values = self.weights.get(&name).ok_or_else(|| CompileError::MissingTensor(name.clone()))?;
        if values.len() != expected {
            return Err(CompileError::TensorSize { name, found: values.len(), expected });
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

    /// The slot of `value`, made unless a step has already written into it
    /// (a concat's, which its parts may write first).
    fn shared_slot(&mut self, value: ValueId) -> usize {
        match self.slot_of.get(&value) {
            Some(&slot) => slot,
            None => self.new_slot(value),
        }
    }

    /// The `[c, h, w]` of an image; `what` reads it, in the message
    /// refusing a flat value.
    fn image(&self, value: ValueId, what: &str) -> Result<[usize; 3], CompileError> {
        <[usize; 3]>::try_from(self.graph.shape(value))
            .map_err(|_| CompileError::Unsupported(format!("{what} of a flat value")))
    }

    fn layout(&self, value: ValueId) -> Layout {
        self.layouts.get(&value).copied().unwrap_or(Layout::Natural)
    }

    /// The node after `i` when it is `op`-like and reads only node `i`'s
    /// output, which nothing else reads.
    fn single_follower(&self, i: usize, matches: impl Fn(&Op) -> bool) -> bool {
        let value = ValueId(i + 1);
        self.consumers[value.0] == 1
            && self.graph.nodes.get(i + 1).is_some_and(|next| matches(&next.op) && next.inputs == [value])
    }

    /// The activation of node `i + 1` when it is the single follower of
    /// node `i`.
    fn fused_activation(&self, i: usize) -> Option<Activation> {
        if !self.single_follower(i, |op| matches!(op, Op::Activation(_))) {
            return None;
        }
        match self.graph.nodes[i + 1].op {
            Op::Activation(activation) => Some(activation),
            _ => None,
        }
    }

    /// The activation fused into node `i`'s step, if one follows it
    /// alone, and the last node the step computes.
    fn activation_after(&self, i: usize) -> (Option<Activation>, usize) {
        let activation = self.fused_activation(i);
        (activation, if activation.is_some() { i + 1 } else { i })
    }

    /// The per-channel scale and shift of node `i`, a batch norm or an
    /// affine map of one value per channel (or one for all) on a value of
    /// `channels` channels; `None` for any other node.
    fn channel_map(&self, i: usize, channels: usize) -> Result<Option<ChannelMap>, CompileError> {
        match &self.graph.nodes[i].op {
            Op::BatchNorm(bn) => {
                let gamma = self.tensor(&bn.name, "weight", channels)?;
                let beta = self.tensor(&bn.name, "bias", channels)?;
                let mean = self.tensor(&bn.name, "running_mean", channels)?;
                let var = self.tensor(&bn.name, "running_var", channels)?;
                let scale: Vec<f32> = (0..channels)
                    .map(|c| (f64::from(gamma[c]) / (f64::from(var[c]) + bn.epsilon).sqrt()) as f32)
                    .collect();
                let shift = (0..channels).map(|c| beta[c] - mean[c] * scale[c]).collect();
                Ok(Some((scale, shift)))
            }
            Op::Affine(affine) if affine.len == 1 || affine.len == channels => {
                let scale = self.tensor(&affine.name, "weight", affine.len)?;
                let shift = self.tensor(&affine.name, "bias", affine.len)?;
                let at = |v: &[f32], c: usize| if v.len() == 1 { v[0] } else { v[c] };
                Ok(Some(((0..channels).map(|c| at(scale, c)).collect(), (0..channels).map(|c| at(shift, c)).collect())))
            }
            _ => Ok(None),
        }
    }

    /// Compiles node `i` and the nodes fused into it; returns the next node.
    fn node(&mut self, i: usize) -> Result<usize, CompileError> {
        let graph = self.graph;
        match &graph.nodes[i].op {
            Op::Conv2d(conv) => self.conv(i, conv),
            Op::Binary(op) => self.binary(i, *op),
            Op::Activation(activation) => self.activation(i, *activation),
            Op::BatchNorm(_) | Op::Affine(_) => self.affine(i),
            Op::MaxPool2d(window) => self.pool(i, *window, Pooling::Max),
            Op::AvgPool2d { window, count_padding } => {
                self.pool(i, *window, Pooling::Average { count_padding: *count_padding })
            }
            Op::GlobalAvgPool => self.global_avg_pool(i),
            Op::Flatten => self.flatten(i),
            Op::Dropout { .. } => self.dropout(i),
            Op::Linear(linear) => self.linear(i, linear),
            Op::Concat => self.concat(i),
        }
    }

    /// A convolution with the batch norms and affine maps after it folded
    /// in, and the activation after it fused; one that feeds an add waits,
    /// pending, for the add to take it with its residual.
    fn conv(&mut self, i: usize, conv: &Conv2d) -> Result<usize, CompileError> {
        let mut step = self.conv_step(i, conv)?;
        let mut end = self.fold_channel_maps(i, &mut step)?;
        let value = ValueId(end + 1);
        if let Some(activation) = self.fused_activation(end) {
            end += 1;
            step.activation = Some(activation);
        } else if self.feeds_an_add(value) {
            self.pending.insert(value, step);
            return Ok(end + 1);
        }
        self.write_output(&mut step, ValueId(end + 1));
        self.steps.push(Step::Conv(step));
        Ok(end + 1)
    }

    /// Convolution node `i` alone: its weights in the engine's order, its
    /// bias (zeros where it has none), no output slot yet.
    fn conv_step(&self, i: usize, conv: &Conv2d) -> Result<Conv, CompileError> {
        let node = &self.graph.nodes[i];
        let input = node.inputs[0];
        let [cin, h, w] = self.image(input, "a convolution")?;
        let [cout, oh, ow] = <[usize; 3]>::try_from(node.shape.clone()).expect("a convolution makes [c, h, w]");
        let [kh, kw] = conv.kernel;
        let torch = self.tensor(&conv.name, "weight", cout * (cin / conv.groups) * kh * kw)?;
        let bias = if conv.bias { self.tensor(&conv.name, "bias", cout)?.to_vec() } else { vec![0.0; cout] };
        let mut step = Conv {
            input: self.slot(input)?,
            output: 0,
            residual: None,
            activation: None,
            input_hwc: [h, w, cin],
            output_hwc: [oh, ow, cout],
            output_pixel: [cout, 0],
            kernel: conv.kernel,
            stride: conv.stride,
            padding: conv.padding,
            dilation: conv.dilation,
            groups: conv.groups,
            weight: vec![0.0; torch.len()],
            packed: Vec::new(),
            window_steps: Vec::new(),
            pixelwise: None,
            winograd: None,
            bias,
        };
        step.set_torch_weight(torch);
        Ok(step)
    }

    /// Folds into `step`, node `i`'s convolution, each batch norm or
    /// per-channel affine map that alone reads the one before; returns the
    /// last node folded.
    fn fold_channel_maps(&self, i: usize, step: &mut Conv) -> Result<usize, CompileError> {
        let cout = step.output_hwc[2];
        let mut end = i;
        while self.single_follower(end, |_| true) {
            let Some((scale, shift)) = self.channel_map(end + 1, cout)? else { break };
            for co in 0..cout {
                step.fold(co, scale[co], shift[co]);
            }
            end += 1;
        }
        Ok(end)
    }

    /// Whether `value` is read once, by an add (which may take the
    /// convolution making it, with its residual).
    fn feeds_an_add(&self, value: ValueId) -> bool {
        self.consumers[value.0] == 1
            && self.graph.nodes[value.0..]
                .iter()
                .find(|n| n.inputs.contains(&value))
                .is_some_and(|n| n.op == Op::Binary(Binary::Add))
    }

    /// Gives the convolution making `value` its output: the value's own
    /// slot or, for a part of a concat, the concat's, with the part's
    /// channels there.
    fn write_output(&mut self, step: &mut Conv, value: ValueId) {
        step.output = match self.concat_parts.get(&value) {
            Some(&(concat, first, channels)) => {
                self.in_place.insert(value);
                step.output_pixel = [channels, first];
                self.shared_slot(concat)
            }
            None => self.new_slot(value),
        };
    }

    /// Elementwise arithmetic of two values: an add of a pending
    /// convolution's output is that convolution with the other operand as
    /// its residual; anything else is a pass of its own.
    fn binary(&mut self, i: usize, op: Binary) -> Result<usize, CompileError> {
        let node = &self.graph.nodes[i];
        let [a, b] = [node.inputs[0], node.inputs[1]];
        let (fused, other) = self.take_pending(a, b);
        let (activation, end) = self.activation_after(i);
        let output = self.new_slot(ValueId(end + 1));
        match fused {
            Some(mut conv) if op == Binary::Add => {
                conv.residual = Some(self.slot(other)?);
                conv.activation = activation;
                conv.output = output;
                self.steps.push(Step::Conv(conv));
            }
            _ => {
                if self.layout(a) != self.layout(b) {
                    return Err(CompileError::Unsupported("arithmetic of a flattened image and another value".into()));
                }
                self.layouts.insert(ValueId(end + 1), self.layout(a));
                let values = node.shape.iter().product();
                let (a, b) = (self.slot(a)?, self.slot(b)?);
                self.steps.push(Step::Binary { a, b, output, values, op, activation });
            }
        }
        Ok(end + 1)
    }

    /// The pending convolution that arithmetic of `a` and `b` takes, and
    /// the other operand; where both are pending, `b`'s runs on its own.
    fn take_pending(&mut self, a: ValueId, b: ValueId) -> (Option<Conv>, ValueId) {
        match (self.pending.remove(&a), self.pending.remove(&b)) {
            (Some(pa), Some(pb)) => {
                self.emit_pending(b, pb);
                (Some(pa), b)
            }
            (Some(pa), None) => (Some(pa), b),
            (None, Some(pb)) => (Some(pb), a),
            (None, None) => (None, b),
        }
    }

    /// An activation that follows nothing it could be fused into.
    fn activation(&mut self, i: usize, activation: Activation) -> Result<usize, CompileError> {
        let node = &self.graph.nodes[i];
        let x = node.inputs[0];
        let input = self.slot(x)?;
        let output = self.new_slot(ValueId(i + 1));
        self.layouts.insert(ValueId(i + 1), self.layout(x));
        let values = node.shape.iter().product();
        self.steps.push(Step::Activation { input, output, values, activation });
        Ok(i + 1)
    }

    /// Max or average pooling of an image.
    fn pool(&mut self, i: usize, window: Window, pooling: Pooling) -> Result<usize, CompileError> {
        let node = &self.graph.nodes[i];
        let input = node.inputs[0];
        let [c, h, w] = self.image(input, "pooling")?;
        let (input, output) = (self.slot(input)?, self.new_slot(ValueId(i + 1)));
        let (input_hwc, output_hw) = ([h, w, c], [node.shape[1], node.shape[2]]);
        self.steps.push(Step::Pool { input, output, input_hwc, output_hw, window, pooling });
        Ok(i + 1)
    }

    /// The mean of each channel of an image over its pixels.
    fn global_avg_pool(&mut self, i: usize) -> Result<usize, CompileError> {
        let input = self.graph.nodes[i].inputs[0];
        let dims = self.graph.shape(input);
        let step = Step::GlobalAvgPool {
            input: self.slot(input)?,
            output: self.new_slot(ValueId(i + 1)),
            pixels: dims[1..].iter().product(),
            channels: dims[0],
        };
        self.steps.push(step);
        Ok(i + 1)
    }

    /// A flatten: NHWC memory is already flat; only the order of the values
    /// differs from PyTorch's, which the layers reading it take into
    /// account.
    fn flatten(&mut self, i: usize) -> Result<usize, CompileError> {
        let input = self.graph.nodes[i].inputs[0];
        let layout = match <[usize; 3]>::try_from(self.graph.shape(input)) {
            // One pixel or one channel: NHWC order is CHW order.
            Ok([_, 1, 1] | [1, _, _]) | Err(_) => self.layout(input),
            Ok(chw) => Layout::Flattened(chw),
        };
        self.alias(i, layout)
    }

    /// A dropout: nothing at inference, the value is its input's.
    fn dropout(&mut self, i: usize) -> Result<usize, CompileError> {
        let input = self.graph.nodes[i].inputs[0];
        self.alias(i, self.layout(input))
    }

    /// Node `i`'s value as its input's buffer, in `layout`: no step, as
    /// nothing is computed.
    fn alias(&mut self, i: usize, layout: Layout) -> Result<usize, CompileError> {
        let slot = self.slot(self.graph.nodes[i].inputs[0])?;
        self.slot_of.insert(ValueId(i + 1), slot);
        self.layouts.insert(ValueId(i + 1), layout);
        Ok(i + 1)
    }

    /// A linear layer reading its input in the buffer's order, with the
    /// activation after it fused.
    fn linear(&mut self, i: usize, linear: &Linear) -> Result<usize, CompileError> {
        let input = self.graph.nodes[i].inputs[0];
        let (n_in, n_out) = (linear.inputs, linear.outputs);
        let torch = self.tensor(&linear.name, "weight", n_out * n_in)?;
        let bias = self.tensor(&linear.name, "bias", n_out)?.to_vec();
        let weight = linear_weight(torch, self.layout(input), n_in, n_out);
        let (activation, end) = self.activation_after(i);
        let step = Step::Linear {
            input: self.slot(input)?,
            output: self.new_slot(ValueId(end + 1)),
            inputs: n_in,
            outputs: n_out,
            weight: Packed::new(&weight, n_in, n_out),
            bias,
            activation,
        };
        self.steps.push(step);
        Ok(end + 1)
    }

    /// A concat: its inputs' channels copied into its pixels, but for the
    /// parts written there in place.
    fn concat(&mut self, i: usize) -> Result<usize, CompileError> {
        let node = &self.graph.nodes[i];
        if node.inputs.iter().any(|&v| self.layout(v) != Layout::Natural) {
            return Err(CompileError::Unsupported("a concat of flattened images".into()));
        }
        let mut inputs = Vec::new();
        let mut first = 0;
        for &value in &node.inputs {
            let channels = self.graph.shape(value)[0];
            if !self.in_place.contains(&value) {
                inputs.push((self.slot(value)?, channels, first));
            }
            first += channels;
        }
        let output = self.shared_slot(ValueId(i + 1));
        if !inputs.is_empty() {
            let pixels = node.shape[1..].iter().product();
            self.steps.push(Step::Concat { inputs, output, pixels, channels: node.shape[0] });
        }
        Ok(i + 1)
    }

    /// A batch norm or affine map that follows no convolution: one pass of
    /// `x · scale + shift` in the buffer's order, with the activation after
    /// it fused.
    fn affine(&mut self, i: usize) -> Result<usize, CompileError> {
        let node = &self.graph.nodes[i];
        let x = node.inputs[0];
        let dims = self.graph.shape(x).to_vec();
        let channels = dims[0];
        let total: usize = dims.iter().product();
        let layout = self.layout(x);
        let (scale, shift) = match self.channel_map(i, channels)? {
            // One per channel: for an image, the channels of each NHWC
            // pixel; for a flat value, each value (in the buffer's order).
            Some((scale, shift)) if dims.len() == 3 => (scale, shift),
            Some((scale, shift)) => reorder(&scale, &shift, layout),
            None => {
                let Op::Affine(affine) = &node.op else { unreachable!("channel_map reads every batch norm") };
                let scale = self.tensor(&affine.name, "weight", total)?;
                let shift = self.tensor(&affine.name, "bias", total)?;
                match <[usize; 3]>::try_from(dims.as_slice()) {
                    // CHW constants of an image, in its NHWC order.
                    Ok(chw) => reorder(scale, shift, Layout::Flattened(chw)),
                    Err(_) => reorder(scale, shift, layout),
                }
            }
        };
        let (activation, end) = self.activation_after(i);
        let input = self.slot(x)?;
        let output = self.new_slot(ValueId(end + 1));
        self.layouts.insert(ValueId(end + 1), layout);
        self.steps.push(Step::Affine { input, output, values: total, scale, shift, activation });
        Ok(end + 1)
    }

    /// Emits a pending convolution on its own.
    fn emit_pending(&mut self, value: ValueId, mut conv: Conv) {
        conv.output = self.new_slot(value);
        self.steps.push(Step::Conv(conv));
    }
}

impl Step {
    /// The slots the step reads, and the one it writes, each passed to
    /// `visit` (which may change it).
    fn slots_mut(&mut self, mut visit: impl FnMut(&mut usize, bool)) {
        match self {
            Step::Conv(conv) => {
                visit(&mut conv.input, false);
                if let Some(residual) = &mut conv.residual {
                    visit(residual, false);
                }
                visit(&mut conv.output, true);
            }
            Step::Pool { input, output, .. }
            | Step::GlobalAvgPool { input, output, .. }
            | Step::Linear { input, output, .. }
            | Step::Affine { input, output, .. }
            | Step::Activation { input, output, .. } => {
                visit(input, false);
                visit(output, true);
            }
            Step::Binary { a, b, output, .. } => {
                visit(a, false);
                visit(b, false);
                visit(output, true);
            }
            Step::Concat { inputs, output, .. } => {
                for (slot, ..) in inputs {
                    visit(slot, false);
                }
                visit(output, true);
            }
        }
    }
}

/// Gives values whose lives do not overlap one buffer: a buffer is free
/// again after the last step that reads its value, and each step's output
/// takes a free one (never one of its own inputs, which are freed only
/// after it). ResNet-110 needs 3 buffers instead of one per layer, so a
/// batch's activations stay in cache longer and a workspace is a few
/// megabytes, not a gigabyte. Returns the buffers' sizes (values per
/// example) and the logits' buffer.
fn share_buffers(steps: &mut [Step], slot_sizes: &[usize], output: usize) -> (Vec<usize>, usize) {
    // The step after which each slot is read no more (the input's and the
    // logits' never: the input is written before the first step, the logits
    // read after the last).
    let mut last_read = vec![0; slot_sizes.len()];
    for (i, step) in steps.iter_mut().enumerate() {
        step.slots_mut(|slot, _| last_read[*slot] = last_read[*slot].max(i));
    }
    last_read[0] = usize::MAX;
    last_read[output] = usize::MAX;
    let mut buffer_of: Vec<Option<usize>> = vec![None; slot_sizes.len()];
    buffer_of[0] = Some(0);
    let mut sizes = vec![slot_sizes[0]];
    let mut free: Vec<usize> = Vec::new();
    let mut read = Vec::new();
    for (i, step) in steps.iter_mut().enumerate() {
        read.clear();
        step.slots_mut(|slot, written| {
            if !written {
                read.push(*slot);
            }
            if written && buffer_of[*slot].is_none() {
                let buffer = free.pop().unwrap_or_else(|| {
                    sizes.push(0);
                    sizes.len() - 1
                });
                sizes[buffer] = sizes[buffer].max(slot_sizes[*slot]);
                buffer_of[*slot] = Some(buffer);
            }
            *slot = buffer_of[*slot].expect("a slot is written before it is read");
        });
        // The buffers of the slots whose last reader this step was, once
        // each (a step may read one value twice, as `x · x`).
        read.sort_unstable();
        read.dedup();
        for &slot in &read {
            if last_read[slot] == i {
                free.push(buffer_of[slot].expect("a slot read has its buffer"));
            }
        }
    }
    (sizes, buffer_of[output].expect("the logits are written"))
}

/// PyTorch's `[outputs, inputs]` weights as the `[inputs, outputs]` matrix
/// of the product: column j of PyTorch's reads PyTorch's input j, which
/// sits at `position(j)` of the buffer, so it is row `position(j)`.
fn linear_weight(torch: &[f32], layout: Layout, n_in: usize, n_out: usize) -> Vec<f32> {
    let mut weight = vec![0.0; n_in * n_out];
    for o in 0..n_out {
        for j in 0..n_in {
            weight[layout.position(j) * n_out + o] = torch[o * n_in + j];
        }
    }
    weight
}

/// Constants in PyTorch's order, put in a buffer's.
fn reorder(scale: &[f32], shift: &[f32], layout: Layout) -> (Vec<f32>, Vec<f32>) {
    let mut out = (vec![0.0; scale.len()], vec![0.0; shift.len()]);
    for j in 0..scale.len() {
        let at = layout.position(j);
        out.0[at] = scale[j];
        out.1[at] = shift[j];
    }
    out
}
