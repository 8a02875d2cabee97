//! A plain interpreter of a graph, NCHW, one example at a time, with no
//! folding or fusion: the oracle the compiled engine is tested against.

use std::collections::HashMap;

use csrs_models::graph::{Affine, BatchNorm, Conv2d, Graph, LayerName, Linear, Node, Op, Window};

/// Tensors by their PyTorch names.
type Weights = HashMap<String, Vec<f32>>;

/// The logits of one normalised NCHW input, computed node by node.
///
/// # Panics
/// When a tensor the graph names is missing from `weights`.
pub fn logits(graph: &Graph, weights: &HashMap<String, Vec<f32>>, input: &[f32]) -> Vec<f32> {
    let mut values: Vec<Vec<f32>> = vec![input.to_vec()];
    for node in &graph.nodes {
        let out = output(graph, node, weights, &values);
        values.push(out);
    }
    values.pop().expect("a graph has nodes")
}

/// What `node` makes of `values`, those of the nodes before it.
fn output(graph: &Graph, node: &Node, weights: &Weights, values: &[Vec<f32>]) -> Vec<f32> {
    let x = &values[node.inputs[0].0];
    let in_shape = graph.shape(node.inputs[0]);
    match &node.op {
        Op::Conv2d(conv) => conv2d(x, in_shape, &node.shape, conv, weights),
        Op::BatchNorm(bn) => batch_norm(x, bn, weights),
        Op::Affine(affine) => affine_map(x, in_shape, affine, weights),
        Op::Activation(activation) => x.iter().map(|&v| activation.apply(v)).collect(),
        Op::MaxPool2d(window) => {
            pool(x, in_shape, &node.shape, window, |values, _| values.iter().copied().fold(f32::NEG_INFINITY, f32::max))
        }
        Op::AvgPool2d { window, count_padding } => pool(x, in_shape, &node.shape, window, |values, area| {
            let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
            (sum / if *count_padding { area } else { values.len() } as f64) as f32
        }),
        Op::GlobalAvgPool => global_avg_pool(x, in_shape),
        Op::Flatten | Op::Dropout { .. } => x.clone(),
        Op::Linear(linear) => linear_layer(x, linear, weights),
        Op::Binary(op) => x.iter().zip(&values[node.inputs[1].0]).map(|(&a, &b)| op.apply(a, b)).collect(),
        // CHW: stacking along the channels is appending.
        Op::Concat => node.inputs.iter().flat_map(|v| values[v.0].iter().copied()).collect(),
    }
}

/// The layer's tensor `key`.
fn tensor<'w>(weights: &'w Weights, layer: &LayerName, key: &str) -> &'w [f32] {
    let name = layer.tensor(key);
    weights.get(&name).unwrap_or_else(|| panic!("no tensor {name}")).as_slice()
}

/// A convolution of a CHW image, each output summed in f64.
fn conv2d(x: &[f32], in_shape: &[usize], out_shape: &[usize], conv: &Conv2d, weights: &Weights) -> Vec<f32> {
    let (cin, h, w) = (in_shape[0], in_shape[1], in_shape[2]);
    let (cout, oh, ow) = (out_shape[0], out_shape[1], out_shape[2]);
    let [kh, kw] = conv.kernel;
    let (cin_group, cout_group) = (cin / conv.groups, cout / conv.groups);
    let weight = tensor(weights, &conv.name, "weight");
    let bias = conv.bias.then(|| tensor(weights, &conv.name, "bias"));
    let mut y = vec![0.0; cout * oh * ow];
    for co in 0..cout {
        let group = co / cout_group;
        for oy in 0..oh {
            for ox in 0..ow {
                let mut sum = f64::from(bias.map_or(0.0, |b| b[co]));
                for cg in 0..cin_group {
                    let ci = group * cin_group + cg;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * conv.stride[0] + ky * conv.dilation[0]) as isize - conv.padding[0] as isize;
                            let ix = (ox * conv.stride[1] + kx * conv.dilation[1]) as isize - conv.padding[1] as isize;
                            if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                                let v = x[(ci * h + iy as usize) * w + ix as usize];
                                let k = weight[((co * cin_group + cg) * kh + ky) * kw + kx];
                                sum += f64::from(v) * f64::from(k);
                            }
                        }
                    }
                }
                y[(co * oh + oy) * ow + ox] = sum as f32;
            }
        }
    }
    y
}

/// Batch normalisation with the running statistics, channel by channel.
fn batch_norm(x: &[f32], bn: &BatchNorm, weights: &Weights) -> Vec<f32> {
    let (gamma, beta) = (tensor(weights, &bn.name, "weight"), tensor(weights, &bn.name, "bias"));
    let (mean, var) = (tensor(weights, &bn.name, "running_mean"), tensor(weights, &bn.name, "running_var"));
    let plane = x.len() / bn.channels;
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = i / plane;
            gamma[c] * (v - mean[c]) / (var[c] + bn.epsilon as f32).sqrt() + beta[c]
        })
        .collect()
}

/// `x · scale + shift` with the layer's constants.
fn affine_map(x: &[f32], in_shape: &[usize], affine: &Affine, weights: &Weights) -> Vec<f32> {
    let (scale, shift) = (tensor(weights, &affine.name, "weight"), tensor(weights, &affine.name, "bias"));
    // One for all, one per channel (the first dimension), or one per value.
    let per = x.len() / in_shape[0];
    let at = |i: usize| match affine.len {
        1 => 0,
        n if n == x.len() => i,
        _ => i / per,
    };
    x.iter().enumerate().map(|(i, &v)| v * scale[at(i)] + shift[at(i)]).collect()
}

/// The mean of each channel's plane.
fn global_avg_pool(x: &[f32], in_shape: &[usize]) -> Vec<f32> {
    let plane = x.len() / in_shape[0];
    x.chunks_exact(plane).map(|c| c.iter().map(|&v| f64::from(v)).sum::<f64>() as f32 / plane as f32).collect()
}

/// `x · Wᵀ + b`, each output summed in f64.
fn linear_layer(x: &[f32], linear: &Linear, weights: &Weights) -> Vec<f32> {
    let weight = tensor(weights, &linear.name, "weight");
    let bias = tensor(weights, &linear.name, "bias");
    (0..linear.outputs)
        .map(|o| {
            let row = &weight[o * linear.inputs..(o + 1) * linear.inputs];
            let sum: f64 = row.iter().zip(x).map(|(&w, &v)| f64::from(w) * f64::from(v)).sum();
            (sum + f64::from(bias[o])) as f32
        })
        .collect()
}

/// Pooling of a CHW image: `reduce` gets the window's values inside the
/// image and the window's area.
fn pool(
    x: &[f32],
    in_shape: &[usize],
    out_shape: &[usize],
    window: &Window,
    reduce: impl Fn(&[f32], usize) -> f32,
) -> Vec<f32> {
    let (c, h, w) = (in_shape[0], in_shape[1], in_shape[2]);
    let (oh, ow) = (out_shape[1], out_shape[2]);
    let [kh, kw] = window.kernel;
    let mut y = Vec::with_capacity(c * oh * ow);
    let mut inside = Vec::with_capacity(kh * kw);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                inside.clear();
                for ky in 0..kh {
                    for kx in 0..kw {
                        let iy = (oy * window.stride[0] + ky) as isize - window.padding[0] as isize;
                        let ix = (ox * window.stride[1] + kx) as isize - window.padding[1] as isize;
                        if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                            inside.push(x[(ch * h + iy as usize) * w + ix as usize]);
                        }
                    }
                }
                y.push(reduce(&inside, kh * kw));
            }
        }
    }
    y
}
