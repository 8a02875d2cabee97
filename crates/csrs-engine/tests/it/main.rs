//! The compiled engine against burn's forward pass, PyTorch's logits and
//! the plain reference interpreter, for every architecture.

mod random_graphs;

use std::collections::HashMap;
use std::path::Path;

use burn::backend::Flex;
use burn::prelude::*;
use csrs_engine::{Engine, Workspace, reference};
use csrs_models::graph::Graph;
use csrs_models::interop::{StateDict, import, torch_tensors};
use csrs_models::{Architecture, Classifier, ModelSpec};

type B = Flex;

fn spec(architecture: Architecture) -> ModelSpec {
    let (input_shape, n_classes) = match architecture {
        Architecture::Mlp | Architecture::DigitsCnn => ([1, 8, 8], 10),
        Architecture::Lenet5 => ([1, 28, 28], 10),
        Architecture::Resnet18 | Architecture::Resnet50 => ([3, 224, 224], 7),
        _ => ([3, 32, 32], 10),
    };
    let c = input_shape[0];
    ModelSpec { architecture, n_classes, input_shape, mean: vec![0.45; c], std: vec![0.27; c], graph: None }
}

/// Deterministic pixels in [0, 1] that differ between examples.
fn images(spec: &ModelSpec, n: usize, salt: usize) -> Vec<f32> {
    let len: usize = spec.input_shape.iter().product();
    (0..n * len).map(|i| ((i * 7919 + salt * 104_729) % 1000) as f32 / 999.0).collect()
}

fn weights_of(model: &Classifier<B>, spec: &ModelSpec) -> HashMap<String, Vec<f32>> {
    torch_tensors(model, spec).unwrap().into_iter().map(|(p, v)| (p.torch, v)).collect()
}

fn burn_logits(model: &Classifier<B>, spec: &ModelSpec, images: &[f32], n: usize) -> Vec<f32> {
    let [c, h, w] = spec.input_shape;
    let x = Tensor::<B, 1>::from_floats(images, &Default::default()).reshape([n, c, h, w]);
    model.forward(x).into_data().to_vec::<f32>().unwrap()
}

fn engine_logits(engine: &Engine, images: &[f32], n: usize) -> Vec<f32> {
    let mut logits = vec![0.0; n * engine.n_classes()];
    engine.run(&mut Workspace::default(), images, n, &mut logits);
    logits
}

fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn the_engine_computes_burns_logits_for_every_architecture() {
    let device = Default::default();
    for architecture in Architecture::ALL {
        let spec = spec(architecture);
        B::seed(&device, 11);
        let model = Classifier::<B>::init(&spec, &device).unwrap();
        let engine = Engine::from_classifier(&model, &spec).unwrap();
        let n = 3;
        let x = images(&spec, n, 1);
        let difference = max_abs_difference(&engine_logits(&engine, &x, n), &burn_logits(&model, &spec, &x, n));
        assert!(difference < 1e-4, "{architecture}: logits differ from burn's by {difference}");
    }
}

#[test]
fn the_engine_reproduces_pytorch_logits_with_real_batch_norm_statistics() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../csrs-models/tests/data/pytorch");
    let expected: serde_like::Expected =
        serde_like::read(&std::fs::read_to_string(fixtures.join("cifar_resnet20_expected.json")).unwrap());
    let spec = ModelSpec {
        architecture: Architecture::CifarResnet20,
        n_classes: 10,
        input_shape: [3, 32, 32],
        mean: expected.mean,
        std: expected.std,
        graph: None,
    };
    let state = StateDict::read(&fixtures.join("cifar_resnet20_cohen_format.pth.tar")).unwrap();
    let model = import::<B>(&state, &spec, &Default::default()).unwrap();
    let engine = Engine::compile(&spec, &weights_of(&model, &spec)).unwrap();
    let ours = engine_logits(&engine, &expected.inputs, 4);
    let difference = max_abs_difference(&ours, &expected.logits);
    assert!(difference < 1e-4, "logits differ from PyTorch's by {difference}");
}

#[test]
fn folding_and_fusion_equal_the_unrewritten_graph() {
    // Non-trivial batch-norm statistics and biases everywhere, so that a
    // folding mistake shows.
    let device = Default::default();
    // The reference is naive (f64 loops): the deep and the 224-pixel networks
    // are left to the comparison with burn.
    let small = |a: &Architecture| {
        !matches!(
            a,
            Architecture::Resnet18
                | Architecture::Resnet50
                | Architecture::CifarResnet56
                | Architecture::CifarResnet110
        )
    };
    for architecture in Architecture::ALL.into_iter().filter(small) {
        let spec = spec(architecture);
        B::seed(&device, 5);
        let model = Classifier::<B>::init(&spec, &device).unwrap();
        let mut weights = weights_of(&model, &spec);
        for (name, values) in weights.iter_mut() {
            let salt = name.len();
            for (i, v) in values.iter_mut().enumerate() {
                let wiggle = ((i * 31 + salt * 17) % 97) as f32 / 97.0;
                if name.ends_with("running_var") {
                    *v = 0.5 + wiggle;
                } else if name.ends_with("running_mean") || name.contains("bn") && name.ends_with("bias") {
                    *v = wiggle - 0.5;
                } else if name.contains("bn") && name.ends_with("weight") {
                    *v = 0.7 + 0.6 * wiggle;
                }
            }
        }
        let engine = Engine::compile(&spec, &weights).unwrap();
        let graph = Graph::of(&spec);
        let x = images(&spec, 2, 3);
        let ours = engine_logits(&engine, &x, 2);
        let len = x.len() / 2;
        for example in 0..2 {
            let normalized: Vec<f32> = x[example * len..(example + 1) * len]
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let c = i / (len / spec.input_shape[0]);
                    (v - spec.mean[c]) / spec.std[c]
                })
                .collect();
            let expected = reference::logits(&graph, &weights, &normalized);
            let m = spec.n_classes;
            let difference = max_abs_difference(&ours[example * m..(example + 1) * m], &expected);
            assert!(difference < 1e-4, "{architecture}: example {example} differs by {difference}");
        }
    }
}

#[test]
fn a_batch_computes_what_its_examples_compute_alone() {
    let device = Default::default();
    for architecture in [Architecture::Lenet5, Architecture::CifarResnet20] {
        let spec = spec(architecture);
        let model = Classifier::<B>::init(&spec, &device).unwrap();
        let engine = Engine::compile(&spec, &weights_of(&model, &spec)).unwrap();
        // More examples than ResNet-20's group (16: its buffers are too
        // large for more), so the batch goes through the network in groups.
        let n = 37;
        let x = images(&spec, n, 2);
        let together = engine_logits(&engine, &x, n);
        // One workspace reused for smaller batches after a larger one.
        let mut workspace = Workspace::default();
        let mut scratch = vec![0.0; n * engine.n_classes()];
        engine.run(&mut workspace, &x, n, &mut scratch);
        let len = engine.input_len();
        let m = engine.n_classes();
        for example in 0..n {
            let mut alone = vec![0.0; m];
            engine.run(&mut workspace, &x[example * len..(example + 1) * len], 1, &mut alone);
            assert_eq!(alone, together[example * m..(example + 1) * m], "{architecture}: example {example}");
        }
    }
}

#[test]
fn values_whose_lives_do_not_overlap_share_a_buffer() {
    // ResNet-110: 110 layers of up to 16×32×32 values each; a buffer per
    // layer would be over 200 of them. A block needs its input (the
    // shortcut), one intermediate and its output, plus the network's input
    // and logits.
    let spec = spec(Architecture::CifarResnet110);
    let model = Classifier::<B>::init(&spec, &Default::default()).unwrap();
    let engine = Engine::compile(&spec, &weights_of(&model, &spec)).unwrap();
    let largest = 16 * 32 * 32;
    let buffers = (engine.workspace_len(1) - engine.workspace_len(0)) as f64 / largest as f64;
    assert!(buffers <= 5.0, "{buffers} buffers of the largest activation");
}

#[test]
fn a_workspace_moves_between_engines() {
    // Two LeNet-5s: the same steps and buffers, of other sizes.
    let device = Default::default();
    let small = spec(Architecture::Lenet5);
    let large = ModelSpec { input_shape: [3, 32, 32], mean: vec![0.5; 3], std: vec![0.25; 3], ..small.clone() };
    let first = Engine::compile(&small, &weights_of(&Classifier::<B>::init(&small, &device).unwrap(), &small)).unwrap();
    let model = Classifier::<B>::init(&large, &device).unwrap();
    let second = Engine::compile(&large, &weights_of(&model, &large)).unwrap();
    let mut workspace = Workspace::default();
    let mut logits = vec![0.0; 2 * 10];
    first.run(&mut workspace, &images(&small, 2, 0), 2, &mut logits);
    let x = images(&large, 2, 0);
    second.run(&mut workspace, &x, 2, &mut logits);
    assert!(max_abs_difference(&logits, &burn_logits(&model, &large, &x, 2)) < 1e-4);
}

#[test]
fn missing_or_misshapen_weights_are_named() {
    let spec = spec(Architecture::DigitsCnn);
    let model = Classifier::<B>::init(&spec, &Default::default()).unwrap();
    let mut weights = weights_of(&model, &spec);
    weights.get_mut("fc1.bias").unwrap().pop();
    let err = Engine::compile(&spec, &weights).unwrap_err().to_string();
    assert_eq!(err, "tensor fc1.bias has 63 values, expected 64");
    weights.remove("conv2.weight");
    let err = Engine::compile(&spec, &weights).unwrap_err().to_string();
    assert_eq!(err, "no tensor conv2.weight among the weights");
}

/// The fixture's inputs, normalisation and PyTorch logits.
mod serde_like {
    pub(crate) struct Expected {
        pub(crate) mean: Vec<f32>,
        pub(crate) std: Vec<f32>,
        pub(crate) inputs: Vec<f32>,
        pub(crate) logits: Vec<f32>,
    }

    pub(crate) fn read(text: &str) -> Expected {
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let floats = |v: &serde_json::Value| -> Vec<f32> {
            match v {
                serde_json::Value::Array(items) => items
                    .iter()
                    .flat_map(|item| match item {
                        serde_json::Value::Array(_) => floats_of(item),
                        other => vec![other.as_f64().unwrap() as f32],
                    })
                    .collect(),
                _ => panic!("not an array"),
            }
        };
        fn floats_of(v: &serde_json::Value) -> Vec<f32> {
            v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
        }
        Expected {
            mean: floats(&value["normalization"]["mean"]),
            std: floats(&value["normalization"]["std"]),
            inputs: floats(&value["inputs"]),
            logits: floats(&value["logits"]),
        }
    }
}

/// A network of every convolution the engine runs its own way, side by
/// side in one concat: plane by plane (2 input channels), depthwise, 1×1,
/// grouped with dilation and uneven padding, and an average pooling of the
/// input, which is copied where the convolutions write in place.
#[test]
fn a_concat_of_every_kind_of_convolution_equals_the_reference() {
    use csrs_models::graph::{Activation, Conv2d, GraphBuilder, LayerName, Linear, Op, ValueId, Window};
    let name = |n: &str| LayerName { torch: n.to_owned(), burn: n.to_owned() };
    let conv = |n: &str, [cin, cout]: [usize; 2], kernel: [usize; 2], padding: [usize; 4], dilation, groups| Conv2d {
        name: name(n),
        channels_in: cin,
        channels_out: cout,
        kernel,
        stride: [1, 1],
        padding,
        dilation,
        groups,
        bias: true,
    };
    let mut g = GraphBuilder::new([2, 6, 6]);
    let x = ValueId::INPUT;
    let parts = [
        g.push(Op::Conv2d(conv("planar", [2, 3], [3, 3], [1; 4], [1, 1], 1)), &[x]).unwrap(),
        g.push(Op::Conv2d(conv("depthwise", [2, 2], [3, 3], [1; 4], [1, 1], 2)), &[x]).unwrap(),
        g.push(Op::Conv2d(conv("pointwise", [2, 4], [1, 1], [0; 4], [1, 1], 1)), &[x]).unwrap(),
        g.push(Op::Conv2d(conv("grouped", [2, 4], [3, 2], [2, 1, 2, 0], [2, 1], 2)), &[x]).unwrap(),
        g.push(Op::AvgPool2d { window: Window::square(3, 1, 1), count_padding: false }, &[x]).unwrap(),
    ];
    let y = g.push(Op::Concat, &parts).unwrap();
    let y = g.push(Op::Activation(Activation::LeakyRelu { slope: 0.1 }), &[y]).unwrap();
    let y = g.push(Op::GlobalAvgPool, &[y]).unwrap();
    g.push(Op::Linear(Linear { name: name("fc"), inputs: 15, outputs: 3 }), &[y]).unwrap();
    let graph = g.finish();
    assert_eq!(graph.shape(parts[3]), [4, 6, 6]);

    let weights: HashMap<String, Vec<f32>> = graph
        .parameters_stored(true)
        .into_iter()
        .map(|p| {
            let values = (0..p.len()).map(|i| ((i * 37 + p.torch.len() * 11) % 23) as f32 / 23.0 - 0.4).collect();
            (p.torch, values)
        })
        .collect();
    let spec = ModelSpec {
        architecture: Architecture::Imported,
        n_classes: 3,
        input_shape: [2, 6, 6],
        mean: vec![0.0; 2],
        std: vec![1.0; 2],
        graph: Some(graph.clone()),
    };
    spec.check().unwrap();
    let engine = Engine::compile(&spec, &weights).unwrap();
    let x = images(&spec, 3, 4);
    let ours = engine_logits(&engine, &x, 3);
    for (example, image) in x.chunks_exact(72).enumerate() {
        let expected = reference::logits(&graph, &weights, image);
        let difference = max_abs_difference(&ours[example * 3..][..3], &expected);
        assert!(difference < 1e-5, "example {example}: {difference}");
    }
}

#[test]
fn specs_and_graphs_the_engine_cannot_run_are_refused() {
    use csrs_models::graph::{GraphBuilder, Op, ValueId};
    let imported = |graph| ModelSpec {
        architecture: Architecture::Imported,
        n_classes: 4,
        input_shape: [1, 2, 2],
        mean: vec![0.0],
        std: vec![1.0],
        graph,
    };
    let err = Engine::compile(&imported(None), &HashMap::new()).unwrap_err().to_string();
    assert_eq!(err, "not a network csrs can build: an imported network without its graph");
    // Logits that are an image flattened: its values are NHWC in the engine.
    let mut g = GraphBuilder::new([1, 2, 2]);
    g.push(Op::Flatten, &[ValueId::INPUT]).unwrap();
    let graph = Some(g.finish());
    let mut wide = imported(graph.clone());
    (wide.input_shape, wide.mean, wide.std) = ([2, 1, 2], vec![0.0; 2], vec![1.0; 2]);
    wide.graph.as_mut().unwrap().input = [2, 1, 2];
    wide.graph.as_mut().unwrap().nodes[0].shape = vec![4];
    let err = Engine::compile(&wide, &HashMap::new()).unwrap_err().to_string();
    assert_eq!(err, "the CPU engine does not run logits that are a flattened image of more than one pixel");
    // One channel: the NHWC order is CHW's, and the engine runs it.
    assert!(Engine::compile(&imported(graph), &HashMap::new()).is_ok());
}

/// A classifier behind a denoiser compiles into one program computing
/// f(D(x)): for csrs's own classifiers (with their normalisation) and
/// batch norm of real statistics in the denoiser.
#[test]
fn a_denoised_classifier_computes_the_classifier_of_the_denoisers_output() {
    use csrs_models::{Denoiser, DenoiserNet, DenoiserSpec, denoised};
    let device = Default::default();
    for architecture in [Architecture::DigitsCnn, Architecture::CifarResnet20] {
        let spec = spec(architecture);
        B::seed(&device, 13);
        let denoiser_spec =
            DenoiserSpec { input_shape: spec.input_shape, network: DenoiserNet::Dncnn { depth: 4, width: 8 } };
        let mut tensors: HashMap<String, Vec<f32>> = Denoiser::<B>::init(&denoiser_spec, &device)
            .unwrap()
            .torch_tensors(&denoiser_spec)
            .into_iter()
            .map(|(p, v)| (p.torch, v))
            .collect();
        for (name, values) in tensors.iter_mut().filter(|(name, _)| name.contains("running")) {
            values
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v += 0.1 + (i % 5) as f32 / 10.0 + name.len() as f32 / 100.0);
        }
        let denoiser = Denoiser::<B>::from_tensors(&denoiser_spec, &tensors, &device).unwrap();
        let classifier = Classifier::<B>::init(&spec, &device).unwrap();
        let (joined_spec, joined) = denoised((&denoiser, &denoiser_spec), (&classifier, &spec), &device).unwrap();
        let engine = Engine::from_classifier(&joined, &joined_spec).unwrap();
        let n = 3;
        let x = images(&spec, n, 2);
        let [c, h, w] = spec.input_shape;
        let batch = Tensor::<B, 1>::from_floats(x.as_slice(), &device).reshape([n, c, h, w]);
        let expected = classifier.forward(denoiser.forward(batch)).into_data().to_vec::<f32>().unwrap();
        let found = engine_logits(&engine, &x, n);
        let worst = found.iter().zip(&expected).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f32::max);
        assert!(worst < 1e-5, "{architecture}: differs from f(D(x)) on burn by {worst}");
    }
}
