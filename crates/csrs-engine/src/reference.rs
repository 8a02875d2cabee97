//! A plain interpreter of a graph, NCHW, one example at a time, with no
//! folding or fusion: the oracle the compiled engine is tested against.

use std::collections::HashMap;

use csrs_models::graph::{Graph, Op};

/// The logits of one normalised NCHW input, computed node by node.
///
/// # Panics
/// When a tensor the graph names is missing from `weights`.
pub fn logits(graph: &Graph, weights: &HashMap<String, Vec<f32>>, input: &[f32]) -> Vec<f32> {
    let tensor = |name: String| weights.get(&name).unwrap_or_else(|| panic!("no tensor {name}")).as_slice();
    let mut values: Vec<Vec<f32>> = vec![input.to_vec()];
    for node in &graph.nodes {
        let x = &values[node.inputs[0].0];
        let in_shape = graph.shape(node.inputs[0]);
        let out = match &node.op {
            Op::Conv2d(conv) => {
                let (cin, h, w) = (in_shape[0], in_shape[1], in_shape[2]);
                let (cout, oh, ow) = (node.shape[0], node.shape[1], node.shape[2]);
                let k = conv.kernel;
                let weight = tensor(format!("{}.weight", conv.name.torch));
                let bias = conv.bias.then(|| tensor(format!("{}.bias", conv.name.torch)));
                let mut y = vec![0.0; cout * oh * ow];
                for co in 0..cout {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut sum = f64::from(bias.map_or(0.0, |b| b[co]));
                            for ci in 0..cin {
                                for ky in 0..k {
                                    for kx in 0..k {
                                        let iy = (oy * conv.stride + ky) as isize - conv.padding as isize;
                                        let ix = (ox * conv.stride + kx) as isize - conv.padding as isize;
                                        if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                                            let v = x[(ci * h + iy as usize) * w + ix as usize];
                                            sum +=
                                                f64::from(v) * f64::from(weight[((co * cin + ci) * k + ky) * k + kx]);
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
            Op::BatchNorm(bn) => {
                let name = &bn.name.torch;
                let (gamma, beta) = (tensor(format!("{name}.weight")), tensor(format!("{name}.bias")));
                let (mean, var) = (tensor(format!("{name}.running_mean")), tensor(format!("{name}.running_var")));
                let plane = x.len() / bn.channels;
                x.iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let c = i / plane;
                        gamma[c] * (v - mean[c]) / (var[c] + bn.epsilon as f32).sqrt() + beta[c]
                    })
                    .collect()
            }
            Op::Relu => x.iter().map(|v| v.max(0.0)).collect(),
            Op::MaxPool2d(pool) => {
                let (c, h, w) = (in_shape[0], in_shape[1], in_shape[2]);
                let (oh, ow) = (node.shape[1], node.shape[2]);
                let mut y = vec![f32::NEG_INFINITY; c * oh * ow];
                for ch in 0..c {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            for ky in 0..pool.kernel {
                                for kx in 0..pool.kernel {
                                    let iy = (oy * pool.stride + ky) as isize - pool.padding as isize;
                                    let ix = (ox * pool.stride + kx) as isize - pool.padding as isize;
                                    if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                                        let v = x[(ch * h + iy as usize) * w + ix as usize];
                                        let m = &mut y[(ch * oh + oy) * ow + ox];
                                        *m = m.max(v);
                                    }
                                }
                            }
                        }
                    }
                }
                y
            }
            Op::GlobalAvgPool => {
                let plane = x.len() / in_shape[0];
                x.chunks_exact(plane)
                    .map(|c| c.iter().map(|&v| f64::from(v)).sum::<f64>() as f32 / plane as f32)
                    .collect()
            }
            Op::Flatten => x.clone(),
            Op::Linear(linear) => {
                let weight = tensor(format!("{}.weight", linear.name.torch));
                let bias = tensor(format!("{}.bias", linear.name.torch));
                (0..linear.outputs)
                    .map(|o| {
                        let row = &weight[o * linear.inputs..(o + 1) * linear.inputs];
                        let sum: f64 = row.iter().zip(x).map(|(&w, &v)| f64::from(w) * f64::from(v)).sum();
                        (sum + f64::from(bias[o])) as f32
                    })
                    .collect()
            }
            Op::Add => x.iter().zip(&values[node.inputs[1].0]).map(|(a, b)| a + b).collect(),
        };
        values.push(out);
    }
    values.pop().expect("a graph has nodes")
}
