//! Building a graph node by node: each node's output shape computed from
//! its inputs' (with checked arithmetic), and every node checked against
//! what it reads. A graph read from a file is rebuilt so before it is used.

use std::fmt;

use super::{Activation, Graph, Node, Op, ValueId, Window};

/// Why a graph is not one csrs can run: the node (by index) and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    /// The node's index in [`Graph::nodes`].
    pub node: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {}: {}", self.node, self.message)
    }
}

impl std::error::Error for GraphError {}

/// Appends nodes to a graph, computing each output shape from its inputs.
#[derive(Debug, Clone)]
pub struct GraphBuilder(Graph);

impl GraphBuilder {
    /// An empty network on `[channels, height, width]` inputs.
    pub fn new(input: [usize; 3]) -> Self {
        GraphBuilder(Graph { input, nodes: Vec::new() })
    }

    /// Appends `op` reading `inputs`, and returns its output.
    ///
    /// # Errors
    /// A message saying what `op` cannot read (a value not yet made, the
    /// wrong number of inputs, shapes that do not fit its parameters) or
    /// an output too large to count.
    pub fn push(&mut self, op: Op, inputs: &[ValueId]) -> Result<ValueId, String> {
        let made = self.0.nodes.len() + 1;
        if let Some(late) = inputs.iter().find(|v| v.0 >= made) {
            return Err(format!("reads value {}, which is not made before it", late.0));
        }
        let shapes: Vec<&[usize]> = inputs.iter().map(|&v| self.0.shape(v)).collect();
        let shape = output_shape(&op, &shapes)?;
        self.0.nodes.push(Node { op, inputs: inputs.to_vec(), shape });
        Ok(ValueId(made))
    }

    /// The shape of a value made so far.
    pub fn shape(&self, value: ValueId) -> &[usize] {
        self.0.shape(value)
    }

    /// Appends every node of `graph`, reading `input` where it reads its
    /// input, with each layer's names under `prefix` (`prefix.conv1`); the
    /// value its last node makes.
    ///
    /// # Errors
    /// As [`GraphBuilder::push`]: `input` is not of the shape `graph` takes.
    pub fn append(&mut self, graph: &Graph, input: ValueId, prefix: &str) -> Result<ValueId, String> {
        if self.shape(input) != graph.input {
            return Err(format!("a network taking {:?} reads {:?}", graph.input, self.shape(input)));
        }
        let mut made = vec![input];
        for node in &graph.nodes {
            let mut op = node.op.clone();
            if let Some(name) = op.name_mut() {
                name.torch = format!("{prefix}.{}", name.torch);
                name.burn = format!("{prefix}.{}", name.burn);
            }
            let inputs: Vec<ValueId> = node.inputs.iter().map(|v| made[v.0]).collect();
            made.push(self.push(op, &inputs)?);
        }
        Ok(*made.last().expect("made holds the input"))
    }

    /// The graph built.
    pub fn finish(self) -> Graph {
        self.0
    }
}

impl Graph {
    /// Checks a graph that did not come from a [`GraphBuilder`] (e.g. read
    /// from a checkpoint's metadata): every node reads earlier values that
    /// fit it, its stated shape is the one computed, and it ends in flat
    /// logits.
    ///
    /// # Errors
    /// [`GraphError`] naming the first node that does not fit.
    pub fn check(&self) -> Result<(), GraphError> {
        let last = self.check_layers()?;
        if last.len() != 1 {
            let message = format!("the last node makes {last:?}, expected flat logits [classes]");
            return Err(GraphError { node: self.nodes.len() - 1, message });
        }
        Ok(())
    }

    /// Checks a denoiser's graph as [`Graph::check`] does a classifier's,
    /// except that it ends in an image of its input's shape.
    ///
    /// # Errors
    /// [`GraphError`] naming the first node that does not fit.
    pub fn check_denoiser(&self) -> Result<(), GraphError> {
        let last = self.check_layers()?;
        if last != self.input {
            let message =
                format!("the last node makes {last:?}, expected an image of the input's shape {:?}", self.input);
            return Err(GraphError { node: self.nodes.len() - 1, message });
        }
        Ok(())
    }

    /// Every node rebuilt and compared with what it states; the last one's
    /// shape.
    fn check_layers(&self) -> Result<&[usize], GraphError> {
        if self.input.contains(&0) {
            return Err(GraphError { node: 0, message: format!("input shape {:?} has an empty side", self.input) });
        }
        let mut builder = GraphBuilder::new(self.input);
        for (i, node) in self.nodes.iter().enumerate() {
            let fail = |message: String| GraphError { node: i, message };
            builder.push(node.op.clone(), &node.inputs).map_err(fail)?;
            let computed = &builder.0.nodes[i].shape;
            if *computed != node.shape {
                return Err(fail(format!("states shape {:?}, but its inputs make {computed:?}", node.shape)));
            }
        }
        match self.nodes.last() {
            None => Err(GraphError { node: 0, message: "a network without layers".into() }),
            Some(last) => Ok(&last.shape),
        }
    }
}

/// `[c, h, w]`, or a message naming what expected it.
fn image<'a>(shape: &'a [usize], what: &str) -> Result<&'a [usize], String> {
    if shape.len() == 3 { Ok(shape) } else { Err(format!("{what} reads {shape:?}, expected an image [c, h, w]")) }
}

/// Output size along one side: `(size + padding − extent) / stride + 1`,
/// where `extent` is the window's span.
fn side(size: usize, padding: usize, extent: usize, stride: usize, what: &str) -> Result<usize, String> {
    let padded = size.checked_add(padding).ok_or_else(|| format!("{what}: padding too large"))?;
    if extent > padded {
        return Err(format!("{what}: a window of {extent} does not fit a side of {size} padded by {padding}"));
    }
    Ok((padded - extent) / stride + 1)
}

fn positive(values: &[usize], what: &str) -> Result<(), String> {
    if values.contains(&0) { Err(format!("{what} {values:?}, expected values >= 1")) } else { Ok(()) }
}

fn window_shape(input: &[usize], window: &Window, dilation: [usize; 2], what: &str) -> Result<[usize; 2], String> {
    positive(&window.kernel, &format!("{what} kernel"))?;
    positive(&window.stride, &format!("{what} stride"))?;
    positive(&dilation, &format!("{what} dilation"))?;
    let [top, left, bottom, right] = window.padding;
    let too_large = || format!("{what}: kernel, dilation or padding too large");
    let extent = |k: usize, d: usize| (k - 1).checked_mul(d).and_then(|e| e.checked_add(1)).ok_or_else(too_large);
    let (eh, ew) = (extent(window.kernel[0], dilation[0])?, extent(window.kernel[1], dilation[1])?);
    let (vertical, horizontal) =
        (top.checked_add(bottom).ok_or_else(too_large)?, left.checked_add(right).ok_or_else(too_large)?);
    let height = side(input[1], vertical, eh, window.stride[0], what)?;
    let width = side(input[2], horizontal, ew, window.stride[1], what)?;
    Ok([height, width])
}

fn inputs(shapes: &[&[usize]], expected: usize, what: &str) -> Result<(), String> {
    if shapes.len() == expected {
        Ok(())
    } else {
        Err(format!("{what} reads {} values, expected {expected}", shapes.len()))
    }
}

fn values(shape: &[usize]) -> Result<usize, String> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(|| format!("shape {shape:?} is too large"))
}

/// The output shape of `op` on inputs of `shapes`.
fn output_shape(op: &Op, shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
    match op {
        Op::Concat => {
            if shapes.len() < 2 {
                return Err(format!("concat reads {} values, expected 2 or more", shapes.len()));
            }
            let first = shapes[0];
            let mut channels = 0usize;
            for shape in shapes {
                if shape.len() != first.len() || shape[1..] != first[1..] {
                    return Err(format!("concat of {shape:?} and {first:?}: only the channels may differ"));
                }
                channels = channels.checked_add(shape[0]).ok_or("concat: too many channels")?;
            }
            let mut shape = first.to_vec();
            shape[0] = channels;
            values(&shape)?;
            Ok(shape)
        }
        Op::Binary(binary) => {
            inputs(shapes, 2, &format!("{binary:?}"))?;
            if shapes[0] != shapes[1] {
                return Err(format!("{binary:?} of {:?} and {:?}: expected one shape", shapes[0], shapes[1]));
            }
            Ok(shapes[0].to_vec())
        }
        op => {
            inputs(shapes, 1, &format!("{}", OpName(op)))?;
            single_output_shape(op, shapes[0])
        }
    }
}

fn single_output_shape(op: &Op, input: &[usize]) -> Result<Vec<usize>, String> {
    match op {
        Op::Conv2d(conv) => {
            let input = image(input, "a convolution")?;
            if input[0] != conv.channels_in {
                return Err(format!("a convolution of {} channels reads {input:?}", conv.channels_in));
            }
            let groups = conv.groups;
            if groups == 0 || conv.channels_in % groups != 0 || conv.channels_out % groups != 0 {
                return Err(format!(
                    "{groups} groups do not divide {} input and {} output channels",
                    conv.channels_in, conv.channels_out
                ));
            }
            positive(&[conv.channels_out], "output channels")?;
            let window = Window { kernel: conv.kernel, stride: conv.stride, padding: conv.padding };
            let [h, w] = window_shape(input, &window, conv.dilation, "convolution")?;
            // Parameter counts are ModelSpec::check's, with the others.
            let shape = vec![conv.channels_out, h, w];
            values(&shape)?;
            Ok(shape)
        }
        Op::BatchNorm(bn) => {
            if input.first() != Some(&bn.channels) {
                return Err(format!("batch norm of {} channels reads {input:?}", bn.channels));
            }
            if !(bn.epsilon.is_finite() && bn.epsilon >= 0.0) {
                return Err(format!("batch norm epsilon {}, expected a finite number >= 0", bn.epsilon));
            }
            Ok(input.to_vec())
        }
        Op::Affine(affine) => {
            let all = values(input)?;
            if affine.len == 1 || Some(&affine.len) == input.first() || affine.len == all {
                Ok(input.to_vec())
            } else {
                Err(format!(
                    "constants of {} values for {input:?}, expected 1, one per channel or one per value",
                    affine.len
                ))
            }
        }
        Op::Activation(Activation::LeakyRelu { slope }) if !slope.is_finite() => {
            Err(format!("leaky ReLU slope {slope}, expected a finite number"))
        }
        Op::Activation(_) => Ok(input.to_vec()),
        Op::Dropout { ratio } if !(0.0..1.0).contains(ratio) => {
            Err(format!("dropout ratio {ratio}, expected a number in [0, 1)"))
        }
        Op::Dropout { .. } => Ok(input.to_vec()),
        Op::MaxPool2d(window) | Op::AvgPool2d { window, .. } => {
            let input = image(input, "pooling")?;
            let [top, left, bottom, right] = window.padding;
            let [kh, kw] = window.kernel;
            if top.max(bottom) >= kh || left.max(right) >= kw {
                return Err(format!(
                    "pooling padding {:?} is not smaller than its window {:?}",
                    window.padding, window.kernel
                ));
            }
            let [h, w] = window_shape(input, window, [1, 1], "pooling")?;
            Ok(vec![input[0], h, w])
        }
        Op::GlobalAvgPool => Ok(vec![image(input, "global average pooling")?[0]]),
        Op::Flatten => Ok(vec![values(input)?]),
        Op::Linear(linear) => {
            if input != [linear.inputs] {
                return Err(format!("a linear layer of {} inputs reads {input:?}", linear.inputs));
            }
            positive(&[linear.outputs], "linear outputs")?;
            Ok(vec![linear.outputs])
        }
        Op::Binary(_) | Op::Concat => unreachable!("ops of several inputs are handled by output_shape"),
    }
}

/// An op's name in messages.
struct OpName<'a>(&'a Op);

impl fmt::Display for OpName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Op::Conv2d(_) => "a convolution",
            Op::BatchNorm(_) => "batch norm",
            Op::Affine(_) => "an affine map",
            Op::Activation(_) => "an activation",
            Op::MaxPool2d(_) => "max pooling",
            Op::AvgPool2d { .. } => "average pooling",
            Op::GlobalAvgPool => "global average pooling",
            Op::Flatten => "flatten",
            Op::Dropout { .. } => "dropout",
            Op::Linear(_) => "a linear layer",
            Op::Binary(_) => "arithmetic",
            Op::Concat => "concat",
        })
    }
}
