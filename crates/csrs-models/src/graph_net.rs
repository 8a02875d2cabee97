//! A network read from a file, run on any burn backend by interpreting its
//! [`Graph`] with burn's functional ops: what `--device cuda` runs for an
//! ONNX model, what `csrs train` fine-tunes, and the same description the
//! CPU engine compiles.
//!
//! On an autodiff backend (training) batch norm normalises with the batch's
//! statistics and moves its running statistics towards them (momentum 0.1,
//! as burn's and PyTorch's batch norm), unless frozen; elsewhere it uses
//! the running statistics.

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{leaky_relu, relu, sigmoid};
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::PaddedConvOptions;

use crate::graph::{Activation, Affine, BatchNorm, Binary, Conv2d, Graph, Linear, Node, Op, Role, ValueId, Window};
use crate::stored::Stored;

/// How far a training batch moves batch norm's running statistics.
const MOMENTUM: f64 = 0.1;

/// A network described by its graph, with its tensors as flat rows in the
/// order of [`Graph::parameters_stored`]`(true)` (`tensors.0`, `tensors.1`,
/// …), reshaped where they are used.
#[derive(Module, Debug)]
pub(crate) struct GraphNet<B: Backend> {
    pub(crate) tensors: Vec<Stored<B>>,
    #[module(skip)]
    graph: Graph,
    /// What training does to it.
    #[module(skip)]
    mode: Mode,
}

/// What training does to a graph network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Weights learned, batch norm on batch statistics, dropout drops.
    Trained,
    /// As `Trained`, but batch norm keeps to its running statistics.
    FrozenBatchNorm,
    /// Nothing moves: no gradient reaches its tensors, batch norm keeps
    /// to its running statistics and dropout is off, so that it computes
    /// as at inference while gradients flow through it to its input.
    Frozen,
}

/// A value of the batch: images `[b, c, h, w]` or flat `[b, features]`.
#[derive(Debug, Clone)]
enum Value<B: Backend> {
    Image(Tensor<B, 4>),
    Flat(Tensor<B, 2>),
}

impl<B: Backend> Value<B> {
    fn image(self) -> Tensor<B, 4> {
        match self {
            Value::Image(x) => x,
            Value::Flat(_) => unreachable!("Graph::check: image layers read images"),
        }
    }

    fn flat(self) -> Tensor<B, 2> {
        match self {
            Value::Flat(x) => x,
            Value::Image(x) => x.flatten(1, 3),
        }
    }

    /// `x · scale + shift` with `[c]` (or `[1]`, or one per value) constants
    /// broadcast over the value.
    fn affine(self, scale: Tensor<B, 1>, shift: Tensor<B, 1>, per_value: bool) -> Self {
        match self {
            Value::Image(x) => {
                let [_, c, h, w] = x.dims();
                let shape = if per_value { [1, c, h, w] } else { [1, scale.dims()[0], 1, 1] };
                Value::Image(x * scale.reshape(shape) + shift.reshape(shape))
            }
            Value::Flat(x) => {
                let shape = [1, scale.dims()[0]];
                Value::Flat(x * scale.reshape(shape) + shift.reshape(shape))
            }
        }
    }

    /// The mean and (biased) variance of each channel over the batch (and
    /// the image's positions), `[c]` each.
    fn moments(&self) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let columns = match self {
            Value::Image(x) => {
                let [b, c, h, w] = x.dims();
                x.clone().swap_dims(0, 1).reshape([c, b * h * w])
            }
            Value::Flat(x) => x.clone().transpose(),
        };
        let [c, _] = columns.dims();
        let mean = columns.clone().mean_dim(1);
        let var = (columns - mean.clone()).powi_scalar(2).mean_dim(1);
        (mean.reshape([c]), var.reshape([c]))
    }

    fn map(self, f: impl Fn(Tensor<B, 4>) -> Tensor<B, 4>, g: impl Fn(Tensor<B, 2>) -> Tensor<B, 2>) -> Self {
        match self {
            Value::Image(x) => Value::Image(f(x)),
            Value::Flat(x) => Value::Flat(g(x)),
        }
    }

    /// Elementwise arithmetic with `other` of one shape: images where both
    /// are, flat otherwise.
    fn binary(self, other: Self, op: Binary) -> Self {
        match (self, other) {
            (Value::Image(a), Value::Image(b)) => Value::Image(binary(a, b, op)),
            (a, b) => Value::Flat(binary(a.flat(), b.flat(), op)),
        }
    }

    /// `parts` side by side along the channels (the first dimension after
    /// the batch), images where the first is one.
    fn concat(parts: Vec<Self>) -> Self {
        match parts[0] {
            Value::Image(_) => Value::Image(Tensor::cat(parts.into_iter().map(Value::image).collect(), 1)),
            Value::Flat(_) => Value::Flat(Tensor::cat(parts.into_iter().map(Value::flat).collect(), 1)),
        }
    }
}

impl<B: Backend> GraphNet<B> {
    /// The network `graph` describes, with zeros for weights (to be loaded).
    pub(crate) fn new(graph: &Graph, device: &B::Device) -> Self {
        Self::with(graph, |p| Tensor::zeros([p.len()], device))
    }

    /// The network `graph` describes, initialised to be trained: He's
    /// normal initialisation (fan-in, ReLU gain) for the weights of
    /// convolutions and linear layers, drawn from the backend's generator;
    /// batch norm's scale and running variance 1; biases, shifts and
    /// running means 0.
    pub(crate) fn init(graph: &Graph, device: &B::Device) -> Self {
        Self::with(graph, |p| {
            let n = p.len();
            if p.role == Role::Learned && p.shape.len() >= 2 {
                let fan_in: usize = p.shape[1..].iter().product();
                let std = (2.0 / fan_in as f64).sqrt();
                Tensor::random([n], Distribution::Normal(0.0, std), device)
            } else if (p.role == Role::Learned && p.torch.ends_with(".weight")) || p.torch.ends_with(".running_var") {
                Tensor::ones([n], device)
            } else {
                Tensor::zeros([n], device)
            }
        })
    }

    /// The network `graph` describes, holding `values` (in
    /// [`Graph::parameters_stored`]`(true)` order, each of its parameter's
    /// length: the caller's to check).
    pub(crate) fn holding(graph: &Graph, values: Vec<Vec<f32>>, device: &B::Device) -> Self {
        let mut values = values.into_iter();
        Self::with(graph, |p| {
            let values = values.next().expect("one list of values per parameter");
            Tensor::from_data(TensorData::new(values, [p.len()]), device)
        })
    }

    fn with(graph: &Graph, mut value: impl FnMut(&crate::graph::Parameter) -> Tensor<B, 1>) -> Self {
        let tensors = graph
            .parameters_stored(true)
            .iter()
            .map(|p| {
                let value = value(p);
                match p.role {
                    Role::Learned => Stored::learned(value),
                    Role::Constant => Stored::constant(value),
                    Role::Running => Stored::running(value),
                }
            })
            .collect();
        GraphNet { tensors, graph: graph.clone(), mode: Mode::Trained }
    }

    /// Every tensor's values, in [`Graph::parameters_stored`]`(true)`
    /// order: PyTorch's layout, flat.
    pub(crate) fn values(&self) -> Vec<Vec<f32>> {
        self.tensors
            .iter()
            .map(|t| t.value().into_data().convert::<f32>().into_vec::<f32>().expect("f32 values"))
            .collect()
    }

    /// This network with batch norm kept to its running statistics in
    /// training too (its scale and shift still learned).
    pub(crate) fn freeze_batch_norm(self) -> Self {
        GraphNet { mode: Mode::FrozenBatchNorm, ..self }
    }

    /// This network as a fixed function in training: see [`Mode::Frozen`].
    pub(crate) fn frozen(self) -> Self {
        let tensors = self
            .tensors
            .into_iter()
            .map(|tensor| match tensor {
                Stored::Param(param) => Stored::Param(param.set_require_grad(false)),
                running => running,
            })
            .collect();
        GraphNet { tensors, mode: Mode::Frozen, ..self }
    }

    /// `[b, c, h, w]` normalised images → `[b, n_classes]`.
    pub(crate) fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        self.forward_value(x).flat()
    }

    /// `[b, c, h, w]` images → the images a denoiser's graph makes of them.
    pub(crate) fn forward_image(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.forward_value(x).image()
    }

    /// The value the graph's last node makes of `x`.
    fn forward_value(&self, x: Tensor<B, 4>) -> Value<B> {
        let training = B::ad_enabled(&x.device()) && self.mode != Mode::Frozen;
        let batch_statistics = training && self.mode == Mode::Trained;
        let mut tensors = Tensors(self.tensors.iter());
        // Each value is dropped after its last reader, so that the device
        // holds a few activations at a time, not every layer's.
        let mut last_read = vec![0; self.graph.nodes.len() + 1];
        for (i, node) in self.graph.nodes.iter().enumerate() {
            node.inputs.iter().for_each(|v| last_read[v.0] = i);
        }
        let mut values: Vec<Option<Value<B>>> = vec![Some(Value::Image(x))];
        for (i, node) in self.graph.nodes.iter().enumerate() {
            let out = output(node, &values, &mut tensors, training, batch_statistics);
            for v in &node.inputs {
                if last_read[v.0] == i {
                    values[v.0] = None;
                }
            }
            values.push(Some(out));
        }
        values.pop().flatten().expect("Graph::check: a network has layers")
    }
}

/// The network's tensors, taken in [`Graph::parameters_stored`]`(true)`
/// order by the layers reading them, node after node.
struct Tensors<'a, B: Backend>(std::slice::Iter<'a, Stored<B>>);

impl<'a, B: Backend> Tensors<'a, B> {
    /// The next tensor.
    fn stored(&mut self) -> &'a Stored<B> {
        self.0.next().expect("GraphNet::new: one tensor per parameter")
    }

    /// The next tensor's values.
    fn value(&mut self) -> Tensor<B, 1> {
        self.stored().value()
    }
}

/// `value`, which is held until its last reader.
fn read<B: Backend>(values: &[Option<Value<B>>], value: ValueId) -> Value<B> {
    values[value.0].clone().expect("a value is read before its last reader")
}

/// What `node` makes of `values`, those of the nodes before it, with its
/// tensors; in `training`, dropout drops, and batch norm normalises with
/// the batch's statistics where `batch_statistics`.
fn output<B: Backend>(
    node: &Node,
    values: &[Option<Value<B>>],
    tensors: &mut Tensors<'_, B>,
    training: bool,
    batch_statistics: bool,
) -> Value<B> {
    let x = read(values, node.inputs[0]);
    match &node.op {
        Op::Conv2d(conv) => Value::Image(convolution(x.image(), conv, tensors)),
        Op::BatchNorm(bn) => batch_norm(x, bn, tensors, batch_statistics),
        Op::Affine(affine) => affine_map(x, affine, &node.shape, tensors),
        &Op::Activation(activation) => x.map(move |x| activate(x, activation), move |x| activate(x, activation)),
        Op::MaxPool2d(window) => Value::Image(pool_max(x.image(), window)),
        Op::AvgPool2d { window, count_padding } => Value::Image(pool_average(x.image(), window, *count_padding)),
        Op::GlobalAvgPool => Value::Flat(global_avg_pool(x.image())),
        Op::Flatten => Value::Flat(x.flat()),
        &Op::Dropout { ratio } if training && ratio > 0.0 => {
            x.map(move |x| dropout(x, ratio), move |x| dropout(x, ratio))
        }
        Op::Dropout { .. } => x,
        Op::Linear(linear) => Value::Flat(linear_layer(x.flat(), linear, tensors)),
        Op::Binary(op) => x.binary(read(values, node.inputs[1]), *op),
        Op::Concat => Value::concat(node.inputs.iter().map(|&v| read(values, v)).collect()),
    }
}

/// A convolution, with PyTorch's weights (and bias) read flat.
fn convolution<B: Backend>(x: Tensor<B, 4>, conv: &Conv2d, tensors: &mut Tensors<'_, B>) -> Tensor<B, 4> {
    let [cout, cin_group, kh, kw] = <[usize; 4]>::try_from(conv.weight_shape()).expect("4-d");
    let weight = tensors.value().reshape([cout, cin_group, kh, kw]);
    let bias = conv.bias.then(|| tensors.value());
    let [top, left, bottom, right] = conv.padding;
    let options = PaddedConvOptions::asymmetric(conv.stride, [top, left], [bottom, right], conv.dilation, conv.groups);
    conv2d(x, weight, bias, options)
}

/// Batch normalisation: with the batch's statistics where
/// `batch_statistics`, moving the running ones towards them; with the
/// running ones otherwise.
fn batch_norm<B: Backend>(
    x: Value<B>,
    bn: &BatchNorm,
    tensors: &mut Tensors<'_, B>,
    batch_statistics: bool,
) -> Value<B> {
    let (gamma, beta) = (tensors.value(), tensors.value());
    let (running_mean, running_var) = (tensors.stored(), tensors.stored());
    let (mean, var) = if batch_statistics {
        let (mean, var) = x.moments();
        let step = |running: &Stored<B>, batch: Tensor<B, 1>| {
            running.update(running.value().mul_scalar(1.0 - MOMENTUM) + batch.mul_scalar(MOMENTUM));
        };
        step(running_mean, mean.clone().detach());
        step(running_var, var.clone().detach());
        (mean, var)
    } else {
        (running_mean.value(), running_var.value())
    };
    let scale = gamma / (var + bn.epsilon).sqrt();
    let shift = beta - mean * scale.clone();
    x.affine(scale, shift, false)
}

/// `x · scale + shift` with the layer's constants, one per value where
/// they cover an image's every value.
fn affine_map<B: Backend>(x: Value<B>, affine: &Affine, shape: &[usize], tensors: &mut Tensors<'_, B>) -> Value<B> {
    let (scale, shift) = (tensors.value(), tensors.value());
    let per_value = affine.len > 1 && affine.len == shape.iter().product::<usize>();
    x.affine(scale, shift, per_value && shape.len() == 3)
}

/// The mean of each channel over the image: `[b, c, h, w]` → `[b, c]`.
fn global_avg_pool<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 2> {
    let [b, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([b, c])
}

/// `x · Wᵀ + b` with PyTorch's `[outputs, inputs]` weight read flat.
fn linear_layer<B: Backend>(x: Tensor<B, 2>, linear: &Linear, tensors: &mut Tensors<'_, B>) -> Tensor<B, 2> {
    let weight = tensors.value().reshape([linear.outputs, linear.inputs]);
    let bias = tensors.value().reshape([1, linear.outputs]);
    x.matmul(weight.transpose()) + bias
}

/// `x` with each value zeroed with probability `ratio` (from the backend's
/// generator) and the others scaled by 1 / (1 − ratio).
fn dropout<B: Backend, const D: usize>(x: Tensor<B, D>, ratio: f64) -> Tensor<B, D> {
    let kept = Tensor::<B, D>::random(x.shape(), Distribution::Bernoulli(1.0 - ratio), &x.device());
    x * kept.div_scalar(1.0 - ratio)
}

fn activate<B: Backend, const D: usize>(x: Tensor<B, D>, activation: Activation) -> Tensor<B, D> {
    match activation {
        Activation::Relu => relu(x),
        Activation::LeakyRelu { slope } => leaky_relu(x, f64::from(slope)),
        Activation::Sigmoid => sigmoid(x),
    }
}

fn binary<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>, op: Binary) -> Tensor<B, D> {
    match op {
        Binary::Add => a + b,
        Binary::Sub => a - b,
        Binary::Mul => a * b,
        Binary::Div => a / b,
    }
}

/// The window's padding, when it is the same at both ends of each side.
fn symmetric(window: &Window) -> Option<[usize; 2]> {
    let [top, left, bottom, right] = window.padding;
    (top == bottom && left == right).then_some([top, left])
}

/// `x` padded as the window says, with `value`: planes of `value` in `x`'s
/// float type concatenated to it (burn's `pad` reads a bf16 or f16 tensor
/// as f32 on flex, so a network cast to half precision could not pad).
fn padded<B: Backend>(x: Tensor<B, 4>, window: &Window, value: f32) -> Tensor<B, 4> {
    let [top, left, bottom, right] = window.padding;
    let (device, dtype) = (x.device(), x.dtype());
    let fill = |dims: [usize; 4]| Tensor::<B, 4>::full(dims, value, &device).cast(dtype);
    let around = |x: Tensor<B, 4>, dim: usize, before: usize, after: usize| {
        let mut dims = x.dims();
        let mut parts = Vec::with_capacity(3);
        dims[dim] = before;
        if before > 0 {
            parts.push(fill(dims));
        }
        parts.push(x);
        dims[dim] = after;
        if after > 0 {
            parts.push(fill(dims));
        }
        Tensor::cat(parts, dim)
    };
    around(around(x, 3, left, right), 2, top, bottom)
}

fn pool_max<B: Backend>(x: Tensor<B, 4>, window: &Window) -> Tensor<B, 4> {
    match symmetric(window) {
        Some(padding) => max_pool2d(x, window.kernel, window.stride, padding, [1, 1], false),
        None => max_pool2d(padded(x, window, f32::NEG_INFINITY), window.kernel, window.stride, [0, 0], [1, 1], false),
    }
}

fn pool_average<B: Backend>(x: Tensor<B, 4>, window: &Window, count_padding: bool) -> Tensor<B, 4> {
    if let Some(padding) = symmetric(window) {
        return avg_pool2d(x, window.kernel, window.stride, padding, count_padding, false);
    }
    let sums = avg_pool2d(padded(x.clone(), window, 0.0), window.kernel, window.stride, [0, 0], true, false);
    if count_padding {
        return sums;
    }
    // The share of each window inside the image: the mean of a padded
    // plane of ones.
    let [_, _, h, w] = x.dims();
    let ones = Tensor::<B, 4>::ones([1, 1, h, w], &x.device()).cast(x.dtype());
    let inside = avg_pool2d(padded(ones, window, 0.0), window.kernel, window.stride, [0, 0], true, false);
    sums / inside
}
