//! The compiled engine against the reference interpreter on random graphs:
//! every operator a graph holds (convolutions of any groups, strides,
//! uneven padding and dilation, with and without bias; batch norm; affine
//! maps of every width; every activation; max and average pooling, padding
//! counted or not; dropout; arithmetic of two values; concat; global
//! pooling, flatten and linear layers), on odd sizes, with weights and
//! batch-norm statistics of every sign; and stacks of 3×3 convolutions
//! wide enough for Winograd's transforms, on image sizes that leave tiles
//! overhanging. Whatever the engine folds, fuses, shares or transforms, it
//! must compute what the graph says.

use std::collections::HashMap;

use csrs_engine::{Engine, Workspace, reference};
use csrs_models::graph::{
    Activation, Affine, BatchNorm, Binary, Conv2d, Graph, GraphBuilder, LayerName, Linear, Op, ValueId, Window,
};
use csrs_models::{Architecture, ModelSpec};
use proptest::prelude::*;

/// One layer to try on the graph so far; one that does not fit is skipped.
#[derive(Debug, Clone)]
enum Layer {
    Conv {
        out: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 4],
        dilation: [usize; 2],
        groups: usize,
        bias: bool,
    },
    BatchNorm,
    Affine {
        width: usize,
    },
    Activation(usize),
    MaxPool {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 4],
    },
    AvgPool {
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 4],
        count_padding: bool,
    },
    Dropout,
    /// Arithmetic with an earlier value of the same shape (picked by index).
    Binary {
        op: usize,
        other: usize,
    },
    /// Concat with an earlier image of the same height and width.
    Concat {
        other: usize,
    },
}

fn layer() -> impl Strategy<Value = Layer> {
    let pair = |lo: usize, hi: usize| [lo..=hi, lo..=hi];
    prop_oneof![
        // Widths of 16 and 32 reach the engine's paths for channel counts
        // that are whole vectors (windows read in place).
        3 => (prop_oneof![4 => 1..=6usize, 1 => Just(16), 1 => Just(32)], pair(1, 3), pair(1, 2), [0..=2usize, 0..=2, 0..=2, 0..=2], pair(1, 2), 1..=3usize, any::<bool>())
            .prop_map(|(out, kernel, stride, padding, dilation, groups, bias)| Layer::Conv { out, kernel, stride, padding, dilation, groups, bias }),
        1 => Just(Layer::BatchNorm),
        1 => (0..3usize).prop_map(|width| Layer::Affine { width }),
        2 => (0..3usize).prop_map(Layer::Activation),
        1 => (pair(1, 3), pair(1, 2), [0..=1usize, 0..=1, 0..=1, 0..=1]).prop_map(|(kernel, stride, padding)| Layer::MaxPool { kernel, stride, padding }),
        1 => (pair(1, 3), pair(1, 2), [0..=1usize, 0..=1, 0..=1, 0..=1], any::<bool>())
            .prop_map(|(kernel, stride, padding, count_padding)| Layer::AvgPool { kernel, stride, padding, count_padding }),
        1 => Just(Layer::Dropout),
        2 => (0..4usize, 0..8usize).prop_map(|(op, other)| Layer::Binary { op, other }),
        1 => (0..8usize).prop_map(|other| Layer::Concat { other }),
    ]
}

fn name(i: usize) -> LayerName {
    LayerName { torch: format!("l{i}"), burn: format!("l{i}") }
}

/// The graph `layers` build on `input`, with a head of `classes` logits
/// (global pooling or flatten, then a linear layer).
fn graph(input: [usize; 3], layers: &[Layer], global_head: bool, classes: usize) -> Graph {
    let mut g = GraphBuilder::new(input);
    let mut made = vec![ValueId::INPUT];
    let mut x = ValueId::INPUT;
    for (i, layer) in layers.iter().enumerate() {
        let shape = g.shape(x).to_vec();
        let channels = shape[0];
        let pushed = match layer {
            &Layer::Conv { out, kernel, stride, padding, dilation, groups, bias } => {
                // Groups that divide the input's channels; as many outputs per group as asked.
                let groups = (1..=groups).rev().find(|g| channels.is_multiple_of(*g)).unwrap_or(1);
                let conv = Conv2d {
                    name: name(i),
                    channels_in: channels,
                    channels_out: out * groups,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    bias,
                };
                g.push(Op::Conv2d(conv), &[x])
            }
            Layer::BatchNorm => g.push(Op::BatchNorm(BatchNorm { name: name(i), channels, epsilon: 1e-5 }), &[x]),
            &Layer::Affine { width } => {
                let len = [1, channels, shape.iter().product()][width];
                g.push(Op::Affine(Affine { name: name(i), len }), &[x])
            }
            &Layer::Activation(which) => {
                let activation = [Activation::Relu, Activation::LeakyRelu { slope: 0.1 }, Activation::Sigmoid][which];
                g.push(Op::Activation(activation), &[x])
            }
            &Layer::MaxPool { kernel, stride, padding } => {
                g.push(Op::MaxPool2d(Window { kernel, stride, padding }), &[x])
            }
            &Layer::AvgPool { kernel, stride, padding, count_padding } => {
                g.push(Op::AvgPool2d { window: Window { kernel, stride, padding }, count_padding }, &[x])
            }
            Layer::Dropout => g.push(Op::Dropout { ratio: 0.5 }, &[x]),
            &Layer::Binary { op, other } => {
                let same: Vec<ValueId> = made.iter().copied().filter(|&v| g.shape(v) == shape.as_slice()).collect();
                let other = same[other % same.len()];
                match [Binary::Add, Binary::Sub, Binary::Mul, Binary::Div][op] {
                    // A divisor in (1, 2): a sigmoid shifted by a constant 1.
                    Binary::Div => g.push(Op::Activation(Activation::Sigmoid), &[other]).and_then(|s| {
                        let shift = LayerName { torch: format!("shift{i}"), burn: format!("shift{i}") };
                        let shifted = g.push(Op::Affine(Affine { name: shift, len: 1 }), &[s])?;
                        g.push(Op::Binary(Binary::Div), &[x, shifted])
                    }),
                    op => g.push(Op::Binary(op), &[x, other]),
                }
            }
            &Layer::Concat { other } => {
                let images: Vec<ValueId> =
                    made.iter().copied().filter(|&v| g.shape(v).len() == 3 && g.shape(v)[1..] == shape[1..]).collect();
                g.push(Op::Concat, &[x, images[other % images.len()]])
            }
        };
        if let Ok(value) = pushed {
            x = value;
            made.push(value);
        }
    }
    let flat = if global_head { g.push(Op::GlobalAvgPool, &[x]) } else { g.push(Op::Flatten, &[x]) }.unwrap();
    let inputs = g.shape(flat)[0];
    g.push(Op::Linear(Linear { name: name(9999), inputs, outputs: classes }), &[flat]).unwrap();
    g.finish()
}

/// Deterministic values of every sign for each tensor, scaled by fan-in;
/// running variances positive; a divisor's shift x + 1.
fn weights(graph: &Graph, seed: u64) -> HashMap<String, Vec<f32>> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    graph
        .parameters_stored(true)
        .into_iter()
        .map(|p| {
            let fan_in = if p.shape.len() >= 2 { p.shape[1..].iter().product::<usize>() } else { 1 };
            let scale = 1.5 / (fan_in as f32).sqrt();
            let values = (0..p.len())
                .map(|_| match p.torch.as_str() {
                    t if t.ends_with("running_var") => 0.5 + next().abs(),
                    t if t.starts_with("shift") => 1.0,
                    _ => next() * scale,
                })
                .collect();
            (p.torch, values)
        })
        .collect()
}

/// The engine's logits of `batch` inputs against the reference
/// interpreter's, within 1e-4 of the largest logit.
fn matches_the_reference(
    input: [usize; 3],
    layers: &[Layer],
    global_head: bool,
    classes: usize,
    seed: u64,
    batch: usize,
) -> Result<(), TestCaseError> {
    let graph = graph(input, layers, global_head, classes);
    let weights = weights(&graph, seed);
    let spec = ModelSpec {
        architecture: Architecture::Imported,
        n_classes: classes,
        input_shape: input,
        mean: vec![0.0; input[0]],
        std: vec![1.0; input[0]],
        graph: Some(graph.clone()),
    };
    let engine = Engine::compile(&spec, &weights).unwrap();
    let len: usize = input.iter().product();
    let images: Vec<f32> =
        (0..batch * len).map(|i| ((i * 7919 + seed as usize % 1000) % 997) as f32 / 498.0 - 1.0).collect();
    let mut logits = vec![0.0; batch * classes];
    engine.run(&mut Workspace::default(), &images, batch, &mut logits);
    for example in 0..batch {
        let expected = reference::logits(&graph, &weights, &images[example * len..(example + 1) * len]);
        let found = &logits[example * classes..(example + 1) * classes];
        let scale = expected.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let worst = found.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        prop_assert!(worst <= 1e-4 * scale, "example {example}: differs by {worst} (scale {scale}) on {graph:?}");
    }
    Ok(())
}

/// Layers of the networks Winograd's transforms compute: 3×3 stride-1
/// convolutions of 16 to 64 channels (any padding, odd image sizes, so
/// that tiles overhang the output), between batch norms, activations and
/// residual adds.
fn winograd_layer() -> impl Strategy<Value = Layer> {
    prop_oneof![
        4 => (prop_oneof![Just(16usize), Just(32), Just(48), Just(64)], [0..=2usize, 0..=2, 0..=2, 0..=2], any::<bool>()).prop_map(
            |(out, padding, bias)| Layer::Conv { out, kernel: [3, 3], stride: [1, 1], padding, dilation: [1, 1], groups: 1, bias }
        ),
        1 => Just(Layer::BatchNorm),
        1 => (0..3usize).prop_map(Layer::Activation),
        1 => (0..4usize, 0..8usize).prop_map(|(op, other)| Layer::Binary { op, other }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_computes_what_the_reference_interpreter_does(
        input in (1..=4usize, 3..=9usize, 3..=9usize),
        layers in proptest::collection::vec(layer(), 1..=8),
        global_head in any::<bool>(),
        classes in 2..=5usize,
        seed in any::<u64>(),
        batch in 1..=3usize,
    ) {
        matches_the_reference([input.0, input.1, input.2], &layers, global_head, classes, seed, batch)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn winograd_convolutions_compute_what_the_reference_interpreter_does(
        input in (1..=3usize, 6..=13usize, 6..=13usize),
        layers in proptest::collection::vec(winograd_layer(), 2..=6),
        classes in 2..=5usize,
        seed in any::<u64>(),
        batch in 1..=3usize,
    ) {
        // A first 3×3 convolution to 32 channels, so that those after it
        // read whole runs of 16.
        let first = Layer::Conv { out: 32, kernel: [3, 3], stride: [1, 1], padding: [1; 4], dilation: [1, 1], groups: 1, bias: true };
        let layers: Vec<Layer> = std::iter::once(first).chain(layers).collect();
        matches_the_reference([input.0, input.1, input.2], &layers, true, classes, seed, batch)?;
    }
}
