//! From the parser's nodes to csrs's layers, node by node.
//!
//! Each ONNX value is a csrs value plus the shape ONNX gives it (for one
//! example): they differ after a global average pooling, which csrs makes
//! flat (`[c]`) and ONNX keeps as `[c, 1, 1]` until a Flatten. Constants
//! (initializers and Constant nodes) are read where a node uses them: as
//! weights, or as the operand of arithmetic.

use std::collections::{HashMap, HashSet};

use csrs_models::graph::{
    Activation, Affine, BatchNorm, Binary, Conv2d, GraphBuilder, LayerName, Linear, Op, ValueId, Window,
};
use onnx_ir::node::avg_pool2d::AvgPool2dConfig;
use onnx_ir::node::batch_norm::BatchNormConfig;
use onnx_ir::node::concat::ConcatConfig;
use onnx_ir::node::conv2d::Conv2dConfig;
use onnx_ir::node::dropout::{DropoutConfig, DropoutInput};
use onnx_ir::node::flatten::FlattenConfig;
use onnx_ir::node::gemm::GemmConfig;
use onnx_ir::node::linear::LinearConfig;
use onnx_ir::node::max_pool2d::MaxPool2dConfig;
use onnx_ir::node::padding::{AutoPad, PaddingConfig2d};
use onnx_ir::node::reshape::{ReshapeConfig, ReshapeInput};
use onnx_ir::{ArgType, Argument, DType, Node, OnnxGraph, TensorData, TensorDataExt, ValueSource};

use crate::names::FileNames;
use crate::{OnnxNetwork, Produces, shown};

/// What the converter supports, for the message refusing anything else.
const SUPPORTED: &str = "Conv, BatchNormalization, Relu, LeakyRelu, Sigmoid, Add, Sub, Mul, Div, MaxPool, \
     AveragePool, GlobalAveragePool, Flatten, Reshape, Gemm, MatMul, Concat, Dropout, Identity";

/// A csrs value and its ONNX shape for one example.
#[derive(Debug, Clone)]
struct Value {
    id: ValueId,
    onnx: Vec<usize>,
}

/// A constant operand: its values and its ONNX shape (with any batch axis).
struct Constant {
    values: Vec<f32>,
    shape: Vec<usize>,
}

struct Converter<'a> {
    names: &'a FileNames,
    builder: GraphBuilder,
    weights: HashMap<String, Vec<f32>>,
    values: HashMap<String, Value>,
    /// Layer names taken, so that two nodes of one name stay apart.
    taken: HashSet<String>,
    /// The batch the file's input fixes, if it fixes one.
    batch: Option<usize>,
}

pub(crate) fn convert(
    graph: &OnnxGraph,
    names: &FileNames,
    input: [usize; 3],
    produces: Produces,
) -> Result<OnnxNetwork, String> {
    let declared = graph_input(graph)?;
    let mut converter = Converter {
        names,
        builder: GraphBuilder::new(input),
        weights: HashMap::new(),
        values: HashMap::new(),
        taken: HashSet::new(),
        batch: check_input_shape(declared, input)?,
    };
    converter.values.insert(declared.name.clone(), Value { id: ValueId::INPUT, onnx: input.to_vec() });
    for node in &graph.nodes {
        converter.node(node).map_err(|what| format!("node {} ({}): {what}", converter.name(node), operator(node)))?;
    }
    let [output] = graph.outputs.as_slice() else {
        return Err(format!("the graph has {} outputs, expected one (the logits)", graph.outputs.len()));
    };
    let value = converter
        .values
        .get(&output.name)
        .ok_or_else(|| format!("the output {} is not computed from the input", output.name))?;
    let graph = converter.builder.finish();
    if value.id.0 != graph.nodes.len() || value.id == ValueId::INPUT {
        return Err(format!("the output {} is not the last value computed", output.name));
    }
    match produces {
        Produces::Logits if value.onnx.len() != 1 => {
            return Err(format!(
                "the output {} has shape {:?} per example, expected [classes]",
                output.name, value.onnx
            ));
        }
        Produces::Logits if graph.outputs() < 2 => {
            return Err(format!("the output {} has {} logits, expected 2 or more", output.name, graph.outputs()));
        }
        Produces::Image if value.onnx != input => {
            return Err(format!(
                "the output {} has shape {:?} per example, expected the input's {input:?} (a denoiser)",
                output.name, value.onnx
            ));
        }
        Produces::Logits | Produces::Image => {}
    }
    Ok(OnnxNetwork { graph, weights: converter.weights })
}

/// The one input that is not a weight.
fn graph_input(graph: &OnnxGraph) -> Result<&Argument, String> {
    let inputs: Vec<&Argument> = graph.inputs.iter().filter(|a| !is_constant(a)).collect();
    let [input] = inputs.as_slice() else {
        let names: Vec<&str> = inputs.iter().map(|a| a.name.as_str()).collect();
        return Err(format!("the graph has {} inputs ({}), expected one image input", inputs.len(), names.join(", ")));
    };
    Ok(input)
}

/// The file's input must be a float tensor `[batch, c, h, w]` whose known
/// sides are the dataset's; the batch it fixes, if any.
fn check_input_shape(input: &Argument, expected: [usize; 3]) -> Result<Option<usize>, String> {
    let ArgType::Tensor(tensor) = &input.ty else {
        return Err(format!("input {} is {}, expected a float tensor [batch, c, h, w]", input.name, input.ty));
    };
    if !matches!(tensor.dtype, DType::F32) {
        return Err(format!("input {} holds {:?}, expected float32", input.name, tensor.dtype));
    }
    if tensor.rank != 4 {
        return Err(format!("input {} has rank {}, expected [batch, c, h, w]", input.name, tensor.rank));
    }
    if let Some(shape) = &tensor.static_shape {
        let fits = shape[1..].iter().zip(expected).all(|(side, e)| side.is_none_or(|s| s == e));
        if !fits {
            let sides: Vec<String> =
                shape[1..].iter().map(|s| s.map_or_else(|| "?".to_owned(), |s| s.to_string())).collect();
            return Err(format!("the model takes [{}] inputs, but the images are {expected:?}", sides.join(", ")));
        }
        return Ok(shape[0]);
    }
    Ok(None)
}

/// The operator of a node as the parser names it (`Conv2d`, `Gemm`, …).
fn operator(node: &Node) -> String {
    let debug = format!("{node:?}");
    debug[..debug.find('(').unwrap_or(debug.len())].to_owned()
}

impl Converter<'_> {
    /// The node's name in the file, or the parser's, printable on one line.
    fn name(&self, node: &Node) -> String {
        shown(self.names.get(node.name()).unwrap_or(node.name()))
    }

    fn node(&mut self, node: &Node) -> Result<(), String> {
        let out = node.outputs().first().ok_or("a node without outputs")?;
        let made = match node {
            Node::Constant(_) => return Ok(()),
            Node::Identity(_) => self.value(&node.inputs()[0])?,
            Node::Dropout(n) => self.dropout(node, &n.config)?,
            Node::Relu(_) => self.activation(node, Activation::Relu)?,
            Node::Sigmoid(_) => self.activation(node, Activation::Sigmoid)?,
            Node::LeakyRelu(n) => self.activation(node, Activation::LeakyRelu { slope: n.config.alpha as f32 })?,
            Node::Conv2d(n) => self.conv(node, &n.config)?,
            Node::BatchNormalization(n) => self.batch_normalization(node, &n.config)?,
            Node::MaxPool2d(n) => self.max_pool(node, &n.config)?,
            Node::AveragePool2d(n) => self.average_pool(node, &n.config)?,
            Node::GlobalAveragePool(_) => self.global_average_pool(node)?,
            Node::Flatten(n) => self.flatten(node, &n.config)?,
            Node::Reshape(n) => self.reshape(node, &n.config, out)?,
            Node::Linear(n) => self.linear(node, &n.config)?,
            Node::Gemm(n) => self.gemm(node, &n.config)?,
            Node::MatMul(_) => {
                return Err("a product of two computed values; supported: a value times constant weights".into());
            }
            Node::Concat(n) => self.concat(node, &n.config)?,
            Node::Add(_) => self.arithmetic(node, Binary::Add)?,
            Node::Sub(_) => self.arithmetic(node, Binary::Sub)?,
            Node::Mul(_) => self.arithmetic(node, Binary::Mul)?,
            Node::Div(_) => self.arithmetic(node, Binary::Div)?,
            _ => return Err(format!("not supported; csrs reads {SUPPORTED}")),
        };
        self.values.insert(out.name.clone(), made);
        Ok(())
    }

    /// A Dropout of a constant ratio: nothing where the ratio is 0.
    fn dropout(&mut self, node: &Node, config: &DropoutConfig) -> Result<Value, String> {
        match config.prob {
            DropoutInput::Static(0.0) => self.value(&node.inputs()[0]),
            DropoutInput::Static(ratio) => {
                let x = self.value(&node.inputs()[0])?;
                let made = self.push(Op::Dropout { ratio }, &[x.id])?;
                Ok(Value { onnx: x.onnx, ..made })
            }
            DropoutInput::Runtime(_) => Err("its ratio is computed, expected a constant".into()),
        }
    }

    /// A Conv of an image with constant weights (and bias).
    fn conv(&mut self, node: &Node, c: &Conv2dConfig) -> Result<Value, String> {
        let x = self.image(&node.inputs()[0], "a convolution")?;
        let padding = padding(&c.padding, c.auto_pad.clone(), &x.onnx, c.kernel_size, c.stride, c.dilation)?;
        let weight = self.constant(node, 1, "weights")?;
        let cout = conv_channels_out(&weight, c.kernel_size, c.groups, x.onnx[0])?;
        let name = self.layer_name(node);
        let bias = self.optional_constant(node, 2, "bias")?;
        let conv = Conv2d {
            name: name.clone(),
            channels_in: x.onnx[0],
            channels_out: cout,
            kernel: c.kernel_size,
            stride: c.stride,
            padding,
            dilation: c.dilation,
            groups: c.groups,
            bias: bias.is_some(),
        };
        self.weights.insert(name.tensor("weight"), weight.values);
        if let Some(bias) = bias {
            expect_len(&bias, cout, "bias")?;
            self.weights.insert(name.tensor("bias"), bias.values);
        }
        self.push(Op::Conv2d(conv), &[x.id])
    }

    /// A BatchNormalization with constant scale, bias, mean and variance.
    fn batch_normalization(&mut self, node: &Node, config: &BatchNormConfig) -> Result<Value, String> {
        let BatchNormConfig::Static(config) = config else {
            return Err("statistics computed by the graph; supported: constant scale, bias, mean, var".into());
        };
        let x = self.value(&node.inputs()[0])?;
        let channels = *x.onnx.first().ok_or("batch norm of a scalar")?;
        let name = self.layer_name(node);
        for (index, key) in [(1, "weight"), (2, "bias"), (3, "running_mean"), (4, "running_var")] {
            let tensor = self.constant(node, index, key)?;
            expect_len(&tensor, channels, key)?;
            self.weights.insert(name.tensor(key), tensor.values);
        }
        let bn = BatchNorm { name, channels, epsilon: config.epsilon };
        let made = self.push(Op::BatchNorm(bn), &[x.id])?;
        Ok(Value { onnx: x.onnx, ..made })
    }

    /// A MaxPool of an image.
    fn max_pool(&mut self, node: &Node, c: &MaxPool2dConfig) -> Result<Value, String> {
        let (x, window) =
            self.pool(node, c.kernel_size, c.strides, &c.padding, c.auto_pad.clone(), c.ceil_mode, c.dilation)?;
        self.push(Op::MaxPool2d(window), &[x.id])
    }

    /// An AveragePool of an image, the padding counted as the file says.
    fn average_pool(&mut self, node: &Node, c: &AvgPool2dConfig) -> Result<Value, String> {
        let (x, window) =
            self.pool(node, c.kernel_size, c.strides, &c.padding, c.auto_pad.clone(), c.ceil_mode, c.dilation)?;
        self.push(Op::AvgPool2d { window, count_padding: c.count_include_pad }, &[x.id])
    }

    /// A GlobalAveragePool: flat `[c]` in csrs, `[c, 1, 1]` in ONNX.
    fn global_average_pool(&mut self, node: &Node) -> Result<Value, String> {
        let x = self.image(&node.inputs()[0], "global average pooling")?;
        let id = self.builder.push(Op::GlobalAvgPool, &[x.id])?;
        Ok(Value { id, onnx: vec![x.onnx[0], 1, 1] })
    }

    /// A Flatten that keeps the batch.
    fn flatten(&mut self, node: &Node, config: &FlattenConfig) -> Result<Value, String> {
        if config.axis != 1 {
            return Err(format!("axis {}; supported: axis 1 (keeping the batch)", config.axis));
        }
        self.flattened(&node.inputs()[0])
    }

    /// A Reshape to `[batch, features]`: a flatten.
    fn reshape(&mut self, node: &Node, config: &ReshapeConfig, out: &Argument) -> Result<Value, String> {
        let x = self.value(&node.inputs()[0])?;
        if !self.reshapes_to_flat(&config.shape, &x, out) {
            return Err(format!(
                "to {}; supported: [batch, features] of a [batch, {}] value",
                reshape_target(&config.shape),
                x.onnx.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ));
        }
        self.flattened(&node.inputs()[0])
    }

    /// Whether a Reshape of `x` to `shape`, making `out`, keeps the batch
    /// and puts each example's values in one row.
    fn reshapes_to_flat(&self, shape: &ReshapeInput, x: &Value, out: &Argument) -> bool {
        let features: usize = x.onnx.iter().product();
        match shape {
            ReshapeInput::Static(shape) => match shape.as_slice() {
                [batch, f] => {
                    let keeps_features = *f == -1 || usize::try_from(*f) == Ok(features);
                    // Copied (0), inferred from fixed features, or the batch
                    // the input fixes.
                    let keeps_batch = *batch == 0
                        || (*batch == -1 && *f != -1)
                        || (self.batch.is_some() && usize::try_from(*batch).ok() == self.batch);
                    keeps_features && keeps_batch
                }
                _ => false,
            },
            // A shape computed from the input's (x.view(x.size(0), -1)):
            // flat when the result is 2-d and keeps every feature in a row.
            ReshapeInput::Runtime(_) => {
                out.ty.rank() == 2 && out.ty.static_shape().is_some_and(|shape| shape.get(1) == Some(&Some(features)))
            }
        }
    }

    /// The parser's Linear: a MatMul or Gemm by constant weights, `[out,
    /// in]` (Gemm with transB = 1) or `[in, out]` (MatMul).
    fn linear(&mut self, node: &Node, config: &LinearConfig) -> Result<Value, String> {
        let weight = self.constant(node, 1, "weights")?;
        let [rows, cols] = <[usize; 2]>::try_from(weight.shape.clone())
            .map_err(|_| format!("weights of shape {:?}, expected 2-d", weight.shape))?;
        let (outputs, inputs, values) = if config.transpose_weight {
            (rows, cols, weight.values)
        } else {
            (cols, rows, transpose(&weight.values, rows, cols))
        };
        let bias = self.optional_constant(node, 2, "bias")?;
        self.push_linear(node, outputs, inputs, values, bias, 1.0)
    }

    /// A Gemm of the activations by constant weights `B`, plus `C`.
    fn gemm(&mut self, node: &Node, c: &GemmConfig) -> Result<Value, String> {
        if c.trans_a != 0 {
            return Err("transA = 1 (the activations transposed, batch last); supported: transA = 0".into());
        }
        let weight = self.constant(node, 1, "B")?;
        let [rows, cols] = <[usize; 2]>::try_from(weight.shape.clone())
            .map_err(|_| format!("B of shape {:?}, expected 2-d", weight.shape))?;
        let (outputs, inputs, values) = if c.trans_b != 0 {
            (rows, cols, weight.values)
        } else {
            (cols, rows, transpose(&weight.values, rows, cols))
        };
        let values = values.into_iter().map(|v| v * c.alpha).collect();
        let bias = self.optional_constant(node, 2, "C")?;
        self.push_linear(node, outputs, inputs, values, bias, c.beta)
    }

    /// A Concat along the channels of images or flat values.
    fn concat(&mut self, node: &Node, config: &ConcatConfig) -> Result<Value, String> {
        let rank = node.inputs()[0].ty.rank();
        if config.axis != 1 || rank < 2 {
            return Err(format!("axis {} of rank {rank}; supported: the channels (axis 1)", config.axis));
        }
        let mut ids = Vec::new();
        for input in node.inputs() {
            let x = self.value(input)?;
            if self.shape(&x) != x.onnx.as_slice() {
                return Err("a concat of pooled [c, 1, 1] values; supported: images or flat values".into());
            }
            ids.push(x.id);
        }
        self.push(Op::Concat, &ids)
    }

    /// The csrs shape of a value.
    fn shape(&self, value: &Value) -> &[usize] {
        self.builder.shape(value.id)
    }

    fn push(&mut self, op: Op, inputs: &[ValueId]) -> Result<Value, String> {
        let id = self.builder.push(op, inputs)?;
        Ok(Value { id, onnx: self.builder.shape(id).to_vec() })
    }

    fn value(&self, argument: &Argument) -> Result<Value, String> {
        if is_constant(argument) {
            return Err(format!("reads constant {} where it expects a computed value", argument.name));
        }
        self.values.get(&argument.name).cloned().ok_or_else(|| {
            format!(
                "reads {}, which is not computed from the input (only shapes may be; supported: {SUPPORTED})",
                argument.name
            )
        })
    }

    /// A value that must be an image `[c, h, w]` in csrs as in ONNX.
    fn image(&self, argument: &Argument, what: &str) -> Result<Value, String> {
        let x = self.value(argument)?;
        if x.onnx.len() != 3 || self.shape(&x).len() != 3 {
            let after = if self.shape(&x).len() == 1 && x.onnx.len() == 3 { " (after a global pooling)" } else { "" };
            return Err(format!("{what} of a value of shape {:?}{after}; supported: images [c, h, w]", x.onnx));
        }
        Ok(x)
    }

    /// A pooling node's input and window; ceil mode and dilations are
    /// refused.
    #[allow(clippy::too_many_arguments)]
    fn pool(
        &self,
        node: &Node,
        kernel: [usize; 2],
        stride: [usize; 2],
        explicit: &PaddingConfig2d,
        auto: AutoPad,
        ceil_mode: bool,
        dilation: [usize; 2],
    ) -> Result<(Value, Window), String> {
        if ceil_mode {
            return Err("ceil_mode = 1; supported: ceil_mode = 0 (PyTorch's default)".into());
        }
        if dilation != [1, 1] {
            return Err(format!("dilations {dilation:?}; supported: [1, 1]"));
        }
        let x = self.image(&node.inputs()[0], "pooling")?;
        let padding = padding(explicit, auto, &x.onnx, kernel, stride, [1, 1])?;
        Ok((x, Window { kernel, stride, padding }))
    }

    fn activation(&mut self, node: &Node, activation: Activation) -> Result<Value, String> {
        let x = self.value(&node.inputs()[0])?;
        let made = self.push(Op::Activation(activation), &[x.id])?;
        Ok(Value { onnx: x.onnx, ..made })
    }

    /// `argument` as a flat value: a Flatten of it, or itself where csrs
    /// holds it flat already (after a global pooling).
    fn flattened(&mut self, argument: &Argument) -> Result<Value, String> {
        let x = self.value(argument)?;
        let flat = vec![x.onnx.iter().product()];
        if self.shape(&x).len() == 1 {
            return Ok(Value { id: x.id, onnx: flat });
        }
        self.push(Op::Flatten, &[x.id])
    }

    /// A linear layer of `[outputs, inputs]` weights (scaled already) plus
    /// `beta` times a bias broadcast to the outputs.
    fn push_linear(
        &mut self,
        node: &Node,
        outputs: usize,
        inputs: usize,
        weight: Vec<f32>,
        bias: Option<Constant>,
        beta: f32,
    ) -> Result<Value, String> {
        let x = self.value(&node.inputs()[0])?;
        if x.onnx.len() != 1 || self.shape(&x).len() != 1 {
            return Err(format!("reads a value of shape {:?}; supported: flat [batch, features] values", x.onnx));
        }
        let bias = match bias {
            None => vec![0.0; outputs],
            Some(bias) => {
                let values = broadcast_vector(&bias, outputs).ok_or_else(|| {
                    format!("bias of shape {:?} for {outputs} outputs, expected [{outputs}] or one value", bias.shape)
                })?;
                values.into_iter().map(|v| v * beta).collect()
            }
        };
        let name = self.layer_name(node);
        self.weights.insert(name.tensor("weight"), weight);
        self.weights.insert(name.tensor("bias"), bias);
        self.push(Op::Linear(Linear { name, inputs, outputs }), &[x.id])
    }

    /// Add, Sub, Mul or Div: of two computed values of one shape, or of a
    /// value and a constant (an affine map).
    fn arithmetic(&mut self, node: &Node, op: Binary) -> Result<Value, String> {
        let [a, b] = node.inputs() else { return Err("expected two operands".into()) };
        match (is_constant(a), is_constant(b)) {
            (false, false) => {
                let (a, b) = (self.value(a)?, self.value(b)?);
                if a.onnx != b.onnx || self.shape(&a) != self.shape(&b) {
                    return Err(format!(
                        "of shapes {:?} and {:?}; supported: two values of one shape, or a value and a constant",
                        a.onnx, b.onnx
                    ));
                }
                let made = self.push(Op::Binary(op), &[a.id, b.id])?;
                Ok(Value { onnx: a.onnx, ..made })
            }
            (false, true) => self.affine(node, op, a, b, false),
            (true, false) => self.affine(node, op, b, a, true),
            (true, true) => Err("of two constants, which the parser did not fold".into()),
        }
    }

    /// `x op c` (or `c op x` when `reversed`) as `x · scale + shift`.
    fn affine(&mut self, node: &Node, op: Binary, x: &Argument, c: &Argument, reversed: bool) -> Result<Value, String> {
        let x = self.value(x)?;
        let constant = read_constant(c, "the constant operand")?;
        let len = broadcast_len(&constant.shape, &x.onnx).ok_or_else(|| {
            format!(
                "a constant of shape {:?} against values of shape [batch, {}]; supported: one value, one per channel or one per value",
                constant.shape,
                x.onnx.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            )
        })?;
        if self.shape(&x) != x.onnx.as_slice() && len > 1 {
            return Err("arithmetic on pooled [c, 1, 1] values; supported: after a Flatten".into());
        }
        let c = constant.values;
        let (scale, shift): (Vec<f32>, Vec<f32>) = match (op, reversed) {
            (Binary::Add, _) => (vec![1.0; len], c),
            (Binary::Sub, false) => (vec![1.0; len], c.iter().map(|v| -v).collect()),
            (Binary::Sub, true) => (vec![-1.0; len], c),
            (Binary::Mul, _) => (c, vec![0.0; len]),
            (Binary::Div, false) => (c.iter().map(|v| 1.0 / v).collect(), vec![0.0; len]),
            (Binary::Div, true) => {
                return Err("a constant divided by a value; supported: a value divided by a constant".into());
            }
        };
        if let Some(v) = scale.iter().find(|v| !v.is_finite()) {
            return Err(format!("a scale of {v} (a division by zero?)"));
        }
        let name = self.layer_name(node);
        self.weights.insert(name.tensor("weight"), scale);
        self.weights.insert(name.tensor("bias"), shift);
        let made = self.push(Op::Affine(Affine { name, len }), &[x.id])?;
        Ok(Value { onnx: x.onnx, ..made })
    }

    /// The weights of input `index` of `node`, which must be constant.
    fn constant(&self, node: &Node, index: usize, what: &str) -> Result<Constant, String> {
        self.optional_constant(node, index, what)?.ok_or_else(|| format!("no {what}"))
    }

    fn optional_constant(&self, node: &Node, index: usize, what: &str) -> Result<Option<Constant>, String> {
        let Some(argument) = node.inputs().get(index).filter(|a| !a.is_optional()) else { return Ok(None) };
        match argument.value() {
            None => Err(format!("{what} computed by the graph; supported: constant {what}")),
            Some(data) => constant_values(data, what).map(Some),
        }
    }

    /// A layer name of its own for `node`.
    fn layer_name(&mut self, node: &Node) -> LayerName {
        let base = self.name(node);
        let mut name = base.clone();
        let mut n = 1;
        while !self.taken.insert(name.clone()) {
            n += 1;
            name = format!("{base}#{n}");
        }
        LayerName { torch: name.clone(), burn: name }
    }
}

/// Whether an argument is a weight or a Constant node's output, by where
/// its value comes from: asking for the value itself would read it (from a
/// file beside the model, for external weights) only to drop it.
fn is_constant(argument: &Argument) -> bool {
    matches!(argument.value_source, ValueSource::Static(_) | ValueSource::Constant)
}

/// A constant argument's float values, which must be finite; `what` names
/// it in messages (the parser keeps no names of weights).
fn read_constant(argument: &Argument, what: &str) -> Result<Constant, String> {
    constant_values(argument.value().ok_or_else(|| format!("{what} is not a constant"))?, what)
}

/// A constant's values: floating-point, as many as its shape says, finite.
fn constant_values(data: TensorData, what: &str) -> Result<Constant, String> {
    if !matches!(data.dtype, DType::F32 | DType::F64 | DType::F16) {
        return Err(format!("{what} holds {:?}, expected float32, float64 or float16 numbers", data.dtype));
    }
    let values = data.to_f32_vec().map_err(|_| format!("{what}: cannot be read as {:?} numbers", data.dtype))?;
    let shape = data.shape.to_vec();
    if shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(values.len()) {
        return Err(format!("{what}: {} values for shape {shape:?}", values.len()));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(format!("{what}: a value is {v}, expected finite numbers"));
    }
    Ok(Constant { values, shape })
}

/// The output channels of a convolution's weights, which must be `[out,
/// in / groups, kh, kw]` for its kernel and the `channels_in` it reads.
fn conv_channels_out(
    weight: &Constant,
    kernel: [usize; 2],
    groups: usize,
    channels_in: usize,
) -> Result<usize, String> {
    let [cout, cin_group, kh, kw] = <[usize; 4]>::try_from(weight.shape.clone())
        .map_err(|_| format!("weights of shape {:?}, expected [out, in / groups, kh, kw]", weight.shape))?;
    if [kh, kw] != kernel {
        return Err(format!("weights of shape {:?} for a kernel of {kernel:?}", weight.shape));
    }
    if cin_group.checked_mul(groups) != Some(channels_in) {
        return Err(format!(
            "weights of {cin_group} input channels per group in {groups} groups read {channels_in} channels"
        ));
    }
    Ok(cout)
}

fn expect_len(constant: &Constant, len: usize, what: &str) -> Result<(), String> {
    if constant.values.len() == len {
        Ok(())
    } else {
        Err(format!("{what} of shape {:?}, expected [{len}]", constant.shape))
    }
}

/// The values a constant broadcasts against a value of `shape` (per
/// example) with: 1 (one for all), the channels (`[c, 1, 1]` against
/// `[c, h, w]`, `[c]` against `[c]`), or all of them; `None` otherwise.
fn broadcast_len(constant: &[usize], shape: &[usize]) -> Option<usize> {
    let total: usize = constant.iter().product();
    if total == 1 {
        return Some(1);
    }
    // Right-aligned against [batch, shape...], with no batch axis of its own.
    let dims: Vec<usize> = constant.iter().copied().skip_while(|&d| d == 1).collect();
    if dims.len() > shape.len() {
        return None;
    }
    let aligned = &shape[shape.len() - dims.len()..];
    if dims == aligned {
        // Trailing dimensions equal: one per value only if it covers all.
        return (dims.len() == shape.len()).then_some(total);
    }
    let per_channel = dims.len() == shape.len() && dims[0] == shape[0] && dims[1..].iter().all(|&d| d == 1);
    per_channel.then_some(shape[0])
}

/// A bias for `len` outputs: `[len]`, `[1, len]` or one value.
fn broadcast_vector(constant: &Constant, len: usize) -> Option<Vec<f32>> {
    match constant.values.len() {
        1 => Some(vec![constant.values[0]; len]),
        n if n == len && constant.shape.iter().filter(|&&d| d != 1).count() <= 1 => Some(constant.values.clone()),
        _ => None,
    }
}

/// `[rows, cols]` → `[cols, rows]`, row-major.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Top, left, bottom, right padding, from explicit pads or `auto_pad`.
fn padding(
    explicit: &PaddingConfig2d,
    auto: AutoPad,
    input: &[usize],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<[usize; 4], String> {
    let same = |upper: bool| -> Result<[usize; 4], String> {
        let mut pads = [0; 4];
        for axis in 0..2 {
            let (size, s) = (input[1 + axis], stride[axis].max(1));
            let extent = (kernel[axis].max(1) - 1).checked_mul(dilation[axis]).and_then(|e| e.checked_add(1));
            let out = size.div_ceil(s).max(1);
            let reach = extent.and_then(|e| ((out - 1) * s).checked_add(e)).ok_or("kernel and dilation too large")?;
            let total = reach.saturating_sub(size);
            let (small, large) = (total / 2, total - total / 2);
            let (begin, end) = if upper { (small, large) } else { (large, small) };
            pads[axis] = begin;
            pads[axis + 2] = end;
        }
        Ok(pads)
    };
    match auto {
        AutoPad::NotSet => {
            let (top, left, bottom, right) = explicit.as_tuple();
            Ok([top, left, bottom, right])
        }
        AutoPad::Valid => Ok([0; 4]),
        AutoPad::SameUpper => same(true),
        AutoPad::SameLower => same(false),
    }
}

fn reshape_target(shape: &ReshapeInput) -> String {
    match shape {
        ReshapeInput::Static(shape) => format!("{shape:?}"),
        ReshapeInput::Runtime(_) => "a computed shape".to_owned(),
    }
}
