//! A network read from a file trains as csrs's own do: batch norm on batch
//! statistics with its running statistics updated, constants of the graph
//! kept, and batch norm frozen on request.

use std::collections::HashMap;

use burn::backend::{Autodiff, Flex};
use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::prelude::*;
use csrs_models::graph::{Affine, BatchNorm, Conv2d, Graph, GraphBuilder, LayerName, Linear, Op, ValueId};
use csrs_models::interop::{from_tensors, torch_tensors};
use csrs_models::{Architecture, Classifier, ModelSpec};

use super::{batch, spec};

type T = Autodiff<Flex>;

/// `model`'s tensors by PyTorch name.
fn tensors(model: &Classifier<T>, spec: &ModelSpec) -> HashMap<String, Vec<f32>> {
    torch_tensors(&model.valid(), spec).unwrap().into_iter().map(|(p, values)| (p.torch, values)).collect()
}

/// One SGD step (learning rate 0.1) on the mean of the logits times their
/// index, from a batch of 4.
fn step(model: Classifier<T>, shape: [usize; 3]) -> Classifier<T> {
    let logits = model.forward(Tensor::from_inner(batch(shape, 4)));
    let [b, m] = logits.dims();
    let weights = Tensor::<T, 1, Int>::arange(0..(b * m) as i64, &Default::default()).float().reshape([b, m]);
    let loss = (logits * weights).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    SgdConfig::new().init::<T, Classifier<T>>().step(0.1, model, grads)
}

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs().max(1.0)).fold(0.0, f32::max);
    assert!(worst < 1e-4, "{what}: differs by {worst}");
}

/// Both from the same deterministic weights (random ones can leave a batch
/// norm channel of almost no variance, whose 1/σ magnifies the two
/// implementations' rounding past any fixed tolerance).
#[test]
fn an_imported_resnet_takes_the_same_training_step_as_the_built_in_one() {
    let builtin_spec = spec(Architecture::CifarResnet20, [3, 32, 32], 10);
    let device = Default::default();
    let weights: HashMap<String, Vec<f32>> = builtin_spec
        .parameters()
        .into_iter()
        .filter(|p| p.storage != csrs_models::graph::Storage::TorchOnly)
        .map(|p| {
            let fan_in: usize = p.shape.iter().skip(1).product();
            let wiggle = |i: usize| ((i * 7 + p.torch.len()) % 11) as f32 / 10.0 - 0.5;
            let values = (0..p.len())
                .map(|i| match p.torch.rsplit('.').next() {
                    Some("running_var") => 0.5 + wiggle(i).abs(),
                    Some("running_mean" | "bias") => wiggle(i) / 10.0,
                    _ if p.shape.len() == 1 => 1.0 + wiggle(i) / 5.0,
                    _ => wiggle(i) * 2.0 / (fan_in as f32).sqrt(),
                })
                .collect();
            (p.torch, values)
        })
        .collect();
    let builtin = from_tensors::<T>(&builtin_spec, &weights, &device).unwrap();
    let imported_spec =
        ModelSpec { graph: Some(Graph::of(&builtin_spec)), ..spec(Architecture::Imported, [3, 32, 32], 10) };
    let imported = from_tensors::<T>(&imported_spec, &weights, &device).unwrap();

    let (builtin, imported) = (step(builtin, [3, 32, 32]), step(imported, [3, 32, 32]));
    let (after_builtin, after_imported) = (tensors(&builtin, &builtin_spec), tensors(&imported, &imported_spec));
    for (name, before) in &weights {
        assert_close(&after_imported[name], &after_builtin[name], name);
        if name.ends_with("running_mean") || name.ends_with("conv1.weight") {
            assert!(after_imported[name] != *before, "{name} moved");
        }
    }
}

/// (x − 0.5) / 0.25 as constants, conv, batch norm, then a linear layer.
fn small_network() -> ModelSpec {
    let name = |n: &str| LayerName { torch: n.into(), burn: n.into() };
    let mut graph = GraphBuilder::new([1, 4, 4]);
    let x = graph.push(Op::Affine(Affine { name: name("normalize"), len: 1 }), &[ValueId::INPUT]).unwrap();
    let x = graph.push(Op::Conv2d(Conv2d::square(name("conv"), [1, 3], 3, 1, 1, true)), &[x]).unwrap();
    let x = graph.push(Op::BatchNorm(BatchNorm { name: name("bn"), channels: 3, epsilon: 1e-5 }), &[x]).unwrap();
    let x = graph.push(Op::Flatten, &[x]).unwrap();
    graph.push(Op::Linear(Linear { name: name("fc"), inputs: 48, outputs: 2 }), &[x]).unwrap();
    ModelSpec { graph: Some(graph.finish()), ..spec(Architecture::Imported, [1, 4, 4], 2) }
}

fn small_weights(spec: &ModelSpec) -> HashMap<String, Vec<f32>> {
    spec.parameters()
        .into_iter()
        .map(|p| {
            let values = match p.torch.as_str() {
                "normalize.weight" => vec![4.0],
                "normalize.bias" => vec![-2.0],
                "bn.running_var" => vec![1.0; 3],
                _ => (0..p.len()).map(|i| ((i * 7 % 11) as f32 - 5.0) / 10.0).collect(),
            };
            (p.torch, values)
        })
        .collect()
}

#[test]
fn constants_stay_and_batch_norm_trains_unless_frozen() {
    let spec = small_network();
    let weights = small_weights(&spec);
    let device = Default::default();
    let model = from_tensors::<T>(&spec, &weights, &device).unwrap();
    let after = tensors(&step(model, [1, 4, 4]), &spec);
    assert_eq!(after["normalize.weight"], [4.0], "a constant of the graph is not trained");
    assert_eq!(after["normalize.bias"], [-2.0]);
    for moved in ["conv.weight", "bn.weight", "bn.running_mean", "bn.running_var", "fc.weight"] {
        assert_ne!(after[moved], weights[moved], "{moved} trains");
    }

    let frozen = from_tensors::<T>(&spec, &weights, &device).unwrap().freeze_batch_norm().unwrap();
    // Frozen, a training forward pass is the inference one.
    let images = batch([1, 4, 4], 4);
    let training = frozen.forward(Tensor::from_inner(images.clone())).into_data();
    let inference = frozen.valid().forward(images).into_data();
    training.assert_approx_eq::<f32>(&inference, Default::default());
    let after = tensors(&step(frozen, [1, 4, 4]), &spec);
    for kept in ["bn.running_mean", "bn.running_var", "normalize.weight"] {
        assert_eq!(after[kept], weights[kept], "{kept} is kept");
    }
    for moved in ["bn.weight", "bn.bias", "conv.weight"] {
        assert_ne!(after[moved], weights[moved], "{moved} still trains");
    }
}

#[test]
fn batch_norm_of_a_built_in_architecture_cannot_be_frozen() {
    let spec = spec(Architecture::DigitsCnn, [1, 8, 8], 10);
    let model = Classifier::<T>::init(&spec, &Default::default()).unwrap();
    let error = model.freeze_batch_norm().unwrap_err().to_string();
    assert!(error.contains("freeze_batch_norm applies to imported networks"), "{error}");
}

#[test]
fn dropout_drops_in_training_and_does_nothing_at_inference() {
    let name = |n: &str| LayerName { torch: n.into(), burn: n.into() };
    let mut graph = GraphBuilder::new([1, 4, 4]);
    let x = graph.push(Op::Flatten, &[ValueId::INPUT]).unwrap();
    let x = graph.push(Op::Dropout { ratio: 0.5 }, &[x]).unwrap();
    graph.push(Op::Linear(Linear { name: name("sum"), inputs: 16, outputs: 2 }), &[x]).unwrap();
    let spec = ModelSpec { graph: Some(graph.finish()), mean: vec![0.0], std: vec![1.0], ..small_network() };
    let weights = HashMap::from([("sum.weight".to_owned(), vec![1.0; 32]), ("sum.bias".to_owned(), vec![0.0; 2])]);
    let model = from_tensors::<T>(&spec, &weights, &Default::default()).unwrap();
    let ones = Tensor::<Flex, 4>::ones([400, 1, 4, 4], &Default::default());

    let inference: Vec<f32> = model.valid().forward(ones.clone()).into_data().to_vec().unwrap();
    assert!(inference.iter().all(|&v| v == 16.0), "nothing is dropped at inference");
    // In training each of the 16 ones is kept with probability ½ and
    // doubled: an even sum of mean 16.
    let training: Vec<f32> = model.forward(Tensor::from_inner(ones)).into_data().to_vec().unwrap();
    assert!(training.iter().all(|&v| v % 2.0 == 0.0 && (0.0..=32.0).contains(&v)), "{training:?}");
    let mean = training.iter().sum::<f32>() / training.len() as f32;
    assert!((mean - 16.0).abs() < 1.0, "mean {mean}");
    assert!(training.iter().any(|&v| v != 16.0));
}
