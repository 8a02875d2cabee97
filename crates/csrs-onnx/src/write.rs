//! csrs's layers out as an ONNX model, the reverse of [`crate::read`].
//!
//! A network trained or fine-tuned by csrs goes back to PyTorch and
//! onnxruntime as an ONNX file: opset 17, input `input` of float32
//! `[batch, c, h, w]` (the batch dynamic), output `logits` of
//! `[batch, classes]` (a denoiser's: `denoised`, of the input's shape). The normalisation comes first (Sub and Div by
//! `[1, c, 1, 1]` constants, left out where it does nothing), then one
//! ONNX node per layer, named after it, with its tensors as initializers
//! named by their PyTorch keys. Every node is one the reader accepts, so
//! that reading the file gives back a network of the same logits.

use std::collections::{HashMap, HashSet};

use csrs_models::graph::{Activation, Binary, Graph, LayerName, Op, ValueId, Window};
use onnx_ir::{GraphProto, ModelProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto};
use protobuf::{EnumOrUnknown, Message as _};

/// The opset written: the reader's operators all mean in it what csrs
/// computes, and onnxruntime and PyTorch's importers read it.
pub const WRITTEN_OPSET: i64 = 17;

/// IR version 8, the one of opset 17.
const IR_VERSION: i64 = 8;

/// ONNX's number of float32, for tensors and values.
const FLOAT: i32 = 1;

/// The ONNX model of the network `graph` with `weights` (by PyTorch name,
/// in PyTorch's layout, as [`csrs_models::interop::torch_tensors`] gives
/// them or [`crate::OnnxNetwork::weights`] holds them) and the
/// normalisation `mean`, `std` (per channel), as the bytes of its file.
///
/// # Errors
/// One line naming the layer whose tensor is missing or of another size,
/// or saying what is wrong with the normalisation or the logits.
pub fn encode(
    graph: &Graph,
    weights: &HashMap<String, Vec<f32>>,
    mean: &[f32],
    std: &[f32],
) -> Result<Vec<u8>, String> {
    let [channels, height, width] = graph.input;
    // A classifier's logits, or a denoiser's images.
    let output = match graph.nodes.last().map(|node| node.shape.as_slice()).unwrap_or_default() {
        shape @ [_] => ("logits", shape),
        shape if shape == graph.input => ("denoised", shape),
        _ => {
            return Err(
                "the network's last layer gives neither flat logits [classes] nor images of its input's shape".into()
            );
        }
    };
    if mean.len() != channels || std.len() != channels {
        return Err(format!("a normalisation of {} means and {} stds for {channels} channels", mean.len(), std.len()));
    }
    let mut writer = Writer {
        proto: GraphProto::new(),
        weights,
        values: Vec::with_capacity(graph.nodes.len() + 1),
        constants: HashSet::new(),
        made: 0,
    };
    writer.proto.name = "csrs".into();
    writer.proto.input.push(value_info("input", &[channels, height, width]));
    let input = writer.normalisation(mean, std, channels)?;
    writer.values.push(input);
    for (index, node) in graph.nodes.iter().enumerate() {
        let output =
            writer.node(graph, index).map_err(|what| format!("layer {}: {what}", layer_of(&node.op, index)))?;
        writer.values.push(output);
    }
    // Every layer writes at least one node, and its last gives the layer's
    // value: the last node gives the logits, which no node reads.
    let last = writer.proto.node.last_mut().ok_or("a network without layers")?;
    last.output = vec![output.0.into()];
    writer.proto.output.push(value_info(output.0, output.1));

    let mut model = ModelProto::new();
    model.ir_version = IR_VERSION;
    model.producer_name = "csrs".into();
    model.producer_version = env!("CARGO_PKG_VERSION").into();
    model.opset_import.push(Default::default());
    model.opset_import[0].version = WRITTEN_OPSET;
    model.graph = Some(writer.proto).into();
    model.write_to_bytes().map_err(|err| format!("cannot encode the model: {err}"))
}

/// The name of a layer for messages and for its ONNX node: its PyTorch
/// name, or for a layer without tensors its operator and index.
fn layer_of(op: &Op, index: usize) -> String {
    let name = |name: &LayerName| name.torch.clone();
    match op {
        Op::Conv2d(conv) => name(&conv.name),
        Op::BatchNorm(bn) => name(&bn.name),
        Op::Affine(affine) => name(&affine.name),
        Op::Linear(linear) => name(&linear.name),
        Op::Activation(_) => format!("activation.{index}"),
        Op::MaxPool2d(_) => format!("max_pool.{index}"),
        Op::AvgPool2d { .. } => format!("avg_pool.{index}"),
        Op::GlobalAvgPool => format!("global_avg_pool.{index}"),
        Op::Flatten => format!("flatten.{index}"),
        Op::Dropout { .. } => format!("dropout.{index}"),
        Op::Binary(_) => format!("binary.{index}"),
        Op::Concat => format!("concat.{index}"),
    }
}

/// A node attribute.
enum Attribute {
    Int(&'static str, i64),
    Float(&'static str, f32),
    Ints(&'static str, Vec<i64>),
}

struct Writer<'a> {
    proto: GraphProto,
    weights: &'a HashMap<String, Vec<f32>>,
    /// The ONNX name of each csrs value written so far, by [`ValueId`].
    values: Vec<String>,
    /// Initializer names taken.
    constants: HashSet<String>,
    /// Values made so far, for their names.
    made: usize,
}

impl<'a> Writer<'a> {
    /// The normalised input: `(input − mean) / std`, each step left out
    /// where it changes nothing.
    fn normalisation(&mut self, mean: &[f32], std: &[f32], channels: usize) -> Result<String, String> {
        let mut x = "input".to_owned();
        let per_channel = [1, channels, 1, 1];
        if mean.iter().any(|&m| m != 0.0) {
            let mean = self.constant("normalisation.mean".into(), &per_channel, mean)?;
            x = self.push("Sub", "normalisation.sub", vec![x, mean], vec![]);
        }
        if std.iter().any(|&s| s != 1.0) {
            let std = self.constant("normalisation.std".into(), &per_channel, std)?;
            x = self.push("Div", "normalisation.div", vec![x, std], vec![]);
        }
        Ok(x)
    }

    /// Writes node `index` of `graph`; the name of its output.
    fn node(&mut self, graph: &Graph, index: usize) -> Result<String, String> {
        let node = &graph.nodes[index];
        let name = layer_of(&node.op, index);
        let inputs: Vec<String> = node.inputs.iter().map(|id| self.value(*id)).collect::<Result<_, _>>()?;
        let x = inputs.first().cloned().ok_or("a layer without inputs")?;
        let output = match &node.op {
            Op::Conv2d(conv) => {
                let mut operands = vec![x, self.weight(&conv.name, "weight", &conv.weight_shape())?];
                if conv.bias {
                    operands.push(self.weight(&conv.name, "bias", &[conv.channels_out])?);
                }
                let attributes = vec![
                    Attribute::Ints("kernel_shape", ints(&conv.kernel)),
                    Attribute::Ints("strides", ints(&conv.stride)),
                    Attribute::Ints("pads", ints(&conv.padding)),
                    Attribute::Ints("dilations", ints(&conv.dilation)),
                    Attribute::Int("group", conv.groups as i64),
                ];
                self.push("Conv", &name, operands, attributes)
            }
            Op::BatchNorm(bn) => {
                let mut operands = vec![x];
                for key in ["weight", "bias", "running_mean", "running_var"] {
                    operands.push(self.weight(&bn.name, key, &[bn.channels])?);
                }
                let attributes = vec![Attribute::Float("epsilon", bn.epsilon as f32)];
                self.push("BatchNormalization", &name, operands, attributes)
            }
            Op::Affine(affine) => {
                let dims = affine_dims(affine.len, graph.shape(node.inputs[0]))?;
                let scale = self.tensor(&affine.name, "weight", affine.len)?;
                let shift = self.tensor(&affine.name, "bias", affine.len)?;
                let scales = scale.iter().any(|&s| s != 1.0);
                let shifts = shift.iter().any(|&s| s != 0.0);
                // Each step under the layer's own name where it is alone.
                let (mul, add) = if scales && shifts {
                    (format!("{name}.mul"), format!("{name}.add"))
                } else {
                    (name.clone(), name.clone())
                };
                let mut x = x;
                if scales {
                    let scale = self.constant(affine.name.tensor("weight"), &dims, scale)?;
                    x = self.push("Mul", &mul, vec![x, scale], vec![]);
                }
                if shifts || !scales {
                    let shift = self.constant(affine.name.tensor("bias"), &dims, shift)?;
                    x = self.push("Add", &add, vec![x, shift], vec![]);
                }
                x
            }
            Op::Activation(Activation::Relu) => self.push("Relu", &name, inputs, vec![]),
            Op::Activation(Activation::Sigmoid) => self.push("Sigmoid", &name, inputs, vec![]),
            Op::Activation(Activation::LeakyRelu { slope }) => {
                self.push("LeakyRelu", &name, inputs, vec![Attribute::Float("alpha", *slope)])
            }
            Op::MaxPool2d(window) => self.push("MaxPool", &name, inputs, window_attributes(window)),
            Op::AvgPool2d { window, count_padding } => {
                let mut attributes = window_attributes(window);
                attributes.push(Attribute::Int("count_include_pad", i64::from(*count_padding)));
                self.push("AveragePool", &name, inputs, attributes)
            }
            Op::GlobalAvgPool => {
                // csrs's value is flat [c]; ONNX's [c, 1, 1] until a Flatten.
                let pooled = self.push("GlobalAveragePool", &name, inputs, vec![]);
                self.push("Flatten", &format!("{name}.flatten"), vec![pooled], vec![Attribute::Int("axis", 1)])
            }
            Op::Flatten => self.push("Flatten", &name, inputs, vec![Attribute::Int("axis", 1)]),
            &Op::Dropout { ratio } => {
                let ratio = self.constant(format!("{name}.ratio"), &[], &[ratio as f32])?;
                self.push("Dropout", &name, vec![x, ratio], vec![])
            }
            Op::Linear(linear) => {
                let weight = self.weight(&linear.name, "weight", &[linear.outputs, linear.inputs])?;
                let bias = self.weight(&linear.name, "bias", &[linear.outputs])?;
                self.push("Gemm", &name, vec![x, weight, bias], vec![Attribute::Int("transB", 1)])
            }
            Op::Binary(op) => {
                let op_type = match op {
                    Binary::Add => "Add",
                    Binary::Sub => "Sub",
                    Binary::Mul => "Mul",
                    Binary::Div => "Div",
                };
                self.push(op_type, &name, inputs, vec![])
            }
            Op::Concat => self.push("Concat", &name, inputs, vec![Attribute::Int("axis", 1)]),
        };
        Ok(output)
    }

    /// The ONNX name of a csrs value written before.
    fn value(&self, id: ValueId) -> Result<String, String> {
        self.values.get(id.0).cloned().ok_or_else(|| format!("reads value {}, which no earlier layer computes", id.0))
    }

    /// The values of tensor `{layer}.{key}`, which must hold `len`.
    fn tensor(&self, layer: &LayerName, key: &str, len: usize) -> Result<&'a [f32], String> {
        let name = layer.tensor(key);
        let values = self.weights.get(&name).ok_or_else(|| format!("no tensor {name}"))?;
        if values.len() != len {
            return Err(format!("tensor {name} holds {} values, expected {len}", values.len()));
        }
        Ok(values)
    }

    /// Tensor `{layer}.{key}` of shape `dims` as an initializer; its name.
    fn weight(&mut self, layer: &LayerName, key: &str, dims: &[usize]) -> Result<String, String> {
        let values = self.tensor(layer, key, dims.iter().product())?;
        self.constant(layer.tensor(key), dims, values)
    }

    /// An initializer of `values` in shape `dims`, little-endian float32.
    fn constant(&mut self, name: String, dims: &[usize], values: &[f32]) -> Result<String, String> {
        if !self.constants.insert(name.clone()) {
            return Err(format!("two tensors named {name}"));
        }
        let mut tensor = TensorProto::new();
        tensor.name.clone_from(&name);
        tensor.dims = ints(dims);
        tensor.data_type = FLOAT;
        tensor.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>().into();
        self.proto.initializer.push(tensor);
        Ok(name)
    }

    /// Appends a node; the name of its one output.
    fn push(&mut self, op_type: &str, name: &str, inputs: Vec<String>, attributes: Vec<Attribute>) -> String {
        self.made += 1;
        let output = format!("value.{}", self.made);
        self.proto.node.push(Default::default());
        let node = self.proto.node.last_mut().expect("pushed");
        node.op_type = op_type.into();
        node.name = name.into();
        node.input = inputs;
        node.output = vec![output.clone()];
        for attribute in attributes {
            node.attribute.push(Default::default());
            let proto = node.attribute.last_mut().expect("pushed");
            // ONNX's AttributeType numbers.
            let (name, kind) = match attribute {
                Attribute::Float(name, f) => {
                    proto.f = f;
                    (name, 1)
                }
                Attribute::Int(name, i) => {
                    proto.i = i;
                    (name, 2)
                }
                Attribute::Ints(name, ints) => {
                    proto.ints = ints;
                    (name, 7)
                }
            };
            proto.name = name.into();
            proto.type_ = EnumOrUnknown::from_i32(kind);
        }
        output
    }
}

/// The shape of an affine map's constants against a value of `shape`:
/// one value (`[1]`), one per channel (`[1, c, 1, 1]` for an image), or
/// one per value (`[1, ...shape]`), as the reader broadcasts them.
fn affine_dims(len: usize, shape: &[usize]) -> Result<Vec<usize>, String> {
    let values: usize = shape.iter().product();
    match shape {
        _ if len == 1 => Ok(vec![1]),
        _ if len == values => Ok([&[1], shape].concat()),
        [channels, _, _] if len == *channels => Ok(vec![1, len, 1, 1]),
        _ => {
            Err(format!("{len} constants for values of shape {shape:?}; expected 1, one per channel or one per value"))
        }
    }
}

fn window_attributes(window: &Window) -> Vec<Attribute> {
    vec![
        Attribute::Ints("kernel_shape", ints(&window.kernel)),
        Attribute::Ints("strides", ints(&window.stride)),
        Attribute::Ints("pads", ints(&window.padding)),
    ]
}

fn ints(values: &[usize]) -> Vec<i64> {
    values.iter().map(|&v| v as i64).collect()
}

/// A float32 value of `[batch, ...shape]`, the batch dynamic.
fn value_info(name: &str, shape: &[usize]) -> ValueInfoProto {
    let mut dims = TensorShapeProto::new();
    dims.dim.push(Default::default());
    dims.dim[0].set_dim_param("batch".into());
    for &side in shape {
        dims.dim.push(Default::default());
        dims.dim.last_mut().expect("pushed").set_dim_value(side as i64);
    }
    let mut ty = TypeProto::new();
    let tensor = ty.mut_tensor_type();
    tensor.elem_type = FLOAT;
    tensor.shape = Some(dims).into();
    let mut info = ValueInfoProto::new();
    info.name = name.into();
    info.type_ = Some(ty).into();
    info
}
