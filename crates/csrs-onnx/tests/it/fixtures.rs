//! The fixtures of `scripts/onnx_fixtures.py` read back: the plain
//! interpreter, the compiled engine and burn's interpreter (on flex) each
//! give PyTorch's logits.

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::prelude::*;
use csrs_engine::{Engine, Workspace, reference};
use csrs_models::graph::ValueId;
use csrs_models::interop::from_tensors;
use csrs_onnx::OnnxNetwork;
use serde::Deserialize;

const FIXTURES: [&str; 5] = ["wrn16_4", "vgg", "separable", "gemm", "dropout"];

#[derive(Deserialize)]
struct Expected {
    input_shape: [usize; 4],
    inputs: Vec<f32>,
    logits: Vec<Vec<f32>>,
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn fixture(name: &str) -> (OnnxNetwork, Expected) {
    let expected: Expected =
        serde_json::from_str(&std::fs::read_to_string(data(&format!("{name}.json"))).unwrap()).unwrap();
    let [_, c, h, w] = expected.input_shape;
    (csrs_onnx::read(&data(&format!("{name}.onnx")), [c, h, w]).unwrap(), expected)
}

/// The compiled engine's logits of the fixture's inputs.
fn engine_logits(network: &OnnxNetwork, expected: &Expected) -> Vec<f32> {
    let engine = Engine::compile(&network.spec(None, None), &network.weights).unwrap();
    let batch = expected.input_shape[0];
    let mut logits = vec![0.0; batch * engine.n_classes()];
    engine.run(&mut Workspace::default(), &expected.inputs, batch, &mut logits);
    logits
}

/// burn's interpreter's logits (on flex) of the fixture's inputs.
fn burn_logits(network: &OnnxNetwork, expected: &Expected) -> Vec<f32> {
    let device = Default::default();
    let model = from_tensors::<Flex>(&network.spec(None, None), &network.weights, &device).unwrap();
    let [b, c, h, w] = expected.input_shape;
    let x = Tensor::<Flex, 1>::from_floats(expected.inputs.as_slice(), &device).reshape([b, c, h, w]);
    model.forward(x).into_data().to_vec::<f32>().unwrap()
}

fn max_difference(ours: &[f32], expected: &[Vec<f32>]) -> f32 {
    let expected: Vec<f32> = expected.concat();
    assert_eq!(ours.len(), expected.len());
    ours.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

#[test]
fn the_reference_interpreter_gives_pytorchs_logits() {
    for name in FIXTURES {
        let (network, expected) = fixture(name);
        let len = expected.inputs.len() / expected.input_shape[0];
        let ours: Vec<f32> = expected
            .inputs
            .chunks_exact(len)
            .flat_map(|x| reference::logits(&network.graph, &network.weights, x))
            .collect();
        let difference = max_difference(&ours, &expected.logits);
        assert!(difference < 1e-4, "{name}: {difference}");
    }
}

#[test]
fn the_engine_gives_pytorchs_logits() {
    for name in FIXTURES {
        let (network, expected) = fixture(name);
        let difference = max_difference(&engine_logits(&network, &expected), &expected.logits);
        assert!(difference < 1e-4, "{name}: {difference}");
    }
}

#[test]
fn burns_interpreter_gives_pytorchs_logits() {
    for name in FIXTURES {
        let (network, expected) = fixture(name);
        let difference = max_difference(&burn_logits(&network, &expected), &expected.logits);
        assert!(difference < 1e-4, "{name}: {difference}");
    }
}

#[test]
fn the_fixtures_hold_every_operator_csrs_reads() {
    use csrs_models::graph::{Activation, Binary, Op};
    let mut seen = std::collections::BTreeSet::new();
    for name in FIXTURES {
        let (network, _) = fixture(name);
        for node in &network.graph.nodes {
            let kind = match &node.op {
                Op::Conv2d(c) if c.groups > 1 && c.groups == c.channels_in => "depthwise convolution",
                Op::Conv2d(c) if c.groups > 1 => "grouped convolution",
                Op::Conv2d(c) if c.dilation != [1, 1] => "dilated convolution",
                Op::Conv2d(c) if c.kernel[0] != c.kernel[1] => "rectangular convolution",
                Op::Conv2d(c) if c.bias => "convolution with bias",
                Op::Conv2d(_) => "convolution without bias",
                Op::BatchNorm(_) => "batch norm",
                Op::Affine(_) => "arithmetic with a constant",
                Op::Activation(Activation::Relu) => "relu",
                Op::Activation(Activation::LeakyRelu { .. }) => "leaky relu",
                Op::Activation(Activation::Sigmoid) => "sigmoid",
                Op::MaxPool2d(w) if w.padding != [0; 4] => "padded max pooling",
                Op::MaxPool2d(_) => "max pooling",
                Op::AvgPool2d { count_padding: true, .. } => "average pooling counting padding",
                Op::AvgPool2d { count_padding: false, .. } => "average pooling within the image",
                Op::GlobalAvgPool => "global average pooling",
                Op::Flatten => "flatten",
                Op::Dropout { ratio } => {
                    assert!((ratio - 0.3).abs() < 1e-6, "{name}: dropout ratio {ratio}");
                    "dropout"
                }
                Op::Linear(_) => "linear",
                Op::Binary(Binary::Add) => "add",
                Op::Binary(Binary::Sub) => "sub",
                Op::Binary(Binary::Mul) => "mul",
                Op::Binary(Binary::Div) => "div",
                Op::Concat => "concat",
            };
            seen.insert(kind);
        }
    }
    let every = [
        "depthwise convolution",
        "grouped convolution",
        "dilated convolution",
        "rectangular convolution",
        "convolution with bias",
        "convolution without bias",
        "batch norm",
        "arithmetic with a constant",
        "relu",
        "leaky relu",
        "sigmoid",
        "padded max pooling",
        "max pooling",
        "average pooling counting padding",
        "average pooling within the image",
        "global average pooling",
        "flatten",
        "dropout",
        "linear",
        "add",
        "sub",
        "mul",
        "div",
        "concat",
    ];
    let missing: Vec<&str> = every.into_iter().filter(|kind| !seen.contains(kind)).collect();
    assert!(missing.is_empty(), "no fixture holds {missing:?}");
}

#[test]
fn csrs_networks_exported_to_onnx_read_back_to_csrs_logits() {
    // Written by scripts/onnx_builtin.py: csrs's models through PyTorch's
    // networks of their layout to ONNX, with csrs's own logits.
    for name in ["mlp", "lenet5", "digits-cnn", "cifar-resnet20"] {
        let (network, expected) = fixture(&format!("builtin/{name}"));
        let difference = max_difference(&engine_logits(&network, &expected), &expected.logits);
        assert!(difference < 1e-4, "{name} on the engine: {difference}");
        let difference = max_difference(&burn_logits(&network, &expected), &expected.logits);
        assert!(difference < 1e-4, "{name} on burn: {difference}");
    }
}

#[test]
fn weights_in_a_file_beside_the_model_are_read() {
    let (network, expected) = fixture("separable");
    let [_, c, h, w] = expected.input_shape;
    let external = csrs_onnx::read(&data("separable_external.onnx"), [c, h, w]).unwrap();
    assert_eq!(external.graph, network.graph);
    assert_eq!(external.weights, network.weights);
}

#[test]
fn every_fixture_written_back_as_onnx_reads_to_the_same_logits() {
    let dir = tempfile::tempdir().unwrap();
    for name in FIXTURES {
        let (network, expected) = fixture(name);
        let [_, c, h, w] = expected.input_shape;
        let path = dir.path().join(format!("{name}.onnx"));
        write(&path, &network, c);
        let written = csrs_onnx::read(&path, [c, h, w]).unwrap();
        let difference = max_difference(&engine_logits(&written, &expected), &expected.logits);
        assert!(difference < 1e-4, "{name} written: {difference}");
        // Out and back again, the layers stay the same (their names may
        // be the parser's): a network does not grow by going round.
        let again = dir.path().join(format!("{name}.again.onnx"));
        write(&again, &written, c);
        let again = csrs_onnx::read(&again, [c, h, w]).unwrap();
        let layers = |network: &OnnxNetwork| -> Vec<(Vec<ValueId>, Vec<usize>)> {
            network.graph.nodes.iter().map(|node| (node.inputs.clone(), node.shape.clone())).collect()
        };
        assert_eq!(layers(&again), layers(&written), "{name}");
    }
}

/// Writes `network` as ONNX to `path`, with no normalisation of `channels`.
fn write(path: &Path, network: &OnnxNetwork, channels: usize) {
    let bytes =
        csrs_onnx::encode(&network.graph, &network.weights, &vec![0.0; channels], &vec![1.0; channels]).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A denoiser in front of an ONNX classifier (the VGG fixture) is one
/// program for the engine and one network for burn, each computing f(D(x))
/// to 1e-5; and a denoiser written as ONNX reads back as a denoiser, to
/// its images, and is refused as a classifier.
#[test]
fn an_onnx_classifier_behind_a_denoiser_computes_the_classifier_of_the_denoised_images() {
    use csrs_models::{Denoiser, DenoiserNet, DenoiserSpec, denoised};
    let (network, expected) = fixture("vgg");
    let spec = network.spec(None, None);
    let device = Default::default();
    Flex::seed(&device, 2);
    let classifier = from_tensors::<Flex>(&spec, &network.weights, &device).unwrap();
    let denoiser_spec = DenoiserSpec { input_shape: [1, 8, 8], network: DenoiserNet::Dncnn { depth: 4, width: 8 } };
    let denoiser = Denoiser::<Flex>::init(&denoiser_spec, &device).unwrap();
    let (joined_spec, joined) = denoised((&denoiser, &denoiser_spec), (&classifier, &spec), &device).unwrap();
    let [b, c, h, w] = expected.input_shape;
    let x = Tensor::<Flex, 1>::from_floats(expected.inputs.as_slice(), &device).reshape([b, c, h, w]);
    let direct = classifier.forward(denoiser.forward(x.clone())).into_data().to_vec::<f32>().unwrap();
    let close = |found: &[f32], what: &str| {
        let worst = found.iter().zip(&direct).map(|(a, e)| (a - e).abs() / e.abs().max(1.0)).fold(0.0, f32::max);
        assert!(worst < 1e-5, "{what}: differs from f(D(x)) by {worst}");
    };
    let engine = Engine::from_classifier(&joined, &joined_spec).unwrap();
    let mut logits = vec![0.0; b * engine.n_classes()];
    engine.run(&mut Workspace::default(), &expected.inputs, b, &mut logits);
    close(&logits, "the engine");
    close(&joined.forward(x.clone()).into_data().to_vec::<f32>().unwrap(), "burn");

    let tensors = denoiser.torch_tensors(&denoiser_spec).into_iter().map(|(p, values)| (p.torch, values)).collect();
    let bytes = csrs_onnx::encode(&denoiser_spec.graph(), &tensors, &[0.0], &[1.0]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dncnn.onnx");
    std::fs::write(&path, bytes).unwrap();
    let read = csrs_onnx::read_denoiser(&path, [1, 8, 8]).unwrap();
    let read_spec = DenoiserSpec { input_shape: [1, 8, 8], network: DenoiserNet::Imported { graph: read.graph } };
    let read = Denoiser::<Flex>::from_tensors(&read_spec, &read.weights, &device).unwrap();
    let (a, e) = (read.forward(x.clone()).into_data().to_vec::<f32>().unwrap(), denoiser.forward(x).into_data());
    let worst = a.iter().zip(e.to_vec::<f32>().unwrap()).map(|(a, e)| (a - e).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-5, "the denoiser read back differs by {worst}");
    let err = csrs_onnx::read(&path, [1, 8, 8]).unwrap_err().to_string();
    assert!(err.ends_with("has shape [1, 8, 8] per example, expected [classes]"), "{err}");
}
