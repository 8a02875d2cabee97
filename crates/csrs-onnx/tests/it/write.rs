//! csrs's own networks written as ONNX and read back compute the logits
//! they computed; what cannot be written is refused in one line.

use std::collections::HashMap;

use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::Distribution;
use csrs_engine::reference;
use csrs_models::graph::Graph;
use csrs_models::interop::torch_tensors;
use csrs_models::{Architecture, Classifier, ModelSpec};

/// A randomly initialised network of `architecture` for inputs of `input`,
/// with a normalisation that does something, and its tensors by PyTorch
/// name.
fn network(architecture: Architecture, input: [usize; 3]) -> (Classifier<Flex>, ModelSpec, HashMap<String, Vec<f32>>) {
    let channels = input[0];
    let spec = ModelSpec {
        architecture,
        n_classes: 10,
        input_shape: input,
        mean: (0..channels).map(|c| 0.3 + 0.1 * c as f32).collect(),
        std: (0..channels).map(|c| 0.25 + 0.05 * c as f32).collect(),
        graph: None,
    };
    let device = Default::default();
    Flex::seed(&device, 17);
    let model = Classifier::<Flex>::init(&spec, &device).unwrap();
    let tensors = torch_tensors(&model, &spec).unwrap().into_iter().map(|(p, values)| (p.torch, values)).collect();
    (model, spec, tensors)
}

#[test]
fn every_small_architecture_reads_back_to_its_logits() {
    let cases = [
        (Architecture::Mlp, [1, 8, 8]),
        (Architecture::Lenet5, [1, 28, 28]),
        (Architecture::DigitsCnn, [1, 8, 8]),
        (Architecture::CifarResnet20, [3, 32, 32]),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (architecture, input) in cases {
        let (model, spec, tensors) = network(architecture, input);
        let path = dir.path().join(format!("{architecture}.onnx"));
        std::fs::write(&path, csrs_onnx::encode(&Graph::of(&spec), &tensors, &spec.mean, &spec.std).unwrap()).unwrap();
        let read = csrs_onnx::read(&path, input).unwrap();

        let [c, h, w] = input;
        let batch = 3;
        let device = Default::default();
        let x = Tensor::<Flex, 4>::random([batch, c, h, w], Distribution::Uniform(0.0, 1.0), &device);
        let inputs = x.to_data().to_vec::<f32>().unwrap();
        let expected = model.forward(x).into_data().to_vec::<f32>().unwrap();
        let ours: Vec<f32> =
            inputs.chunks_exact(c * h * w).flat_map(|x| reference::logits(&read.graph, &read.weights, x)).collect();
        assert_eq!(ours.len(), expected.len(), "{architecture}");
        let difference = ours.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(difference < 1e-4, "{architecture}: {difference}");
    }
}

#[test]
fn a_missing_tensor_or_a_normalisation_of_other_channels_is_refused_in_one_line() {
    let (_, spec, mut tensors) = network(Architecture::DigitsCnn, [1, 8, 8]);
    let graph = Graph::of(&spec);
    let err = csrs_onnx::encode(&graph, &tensors, &[0.0; 2], &[1.0; 2]).unwrap_err();
    assert!(err.contains("normalisation of 2 means and 2 stds for 1 channels"), "{err}");
    let key = graph.parameters()[0].torch.clone();
    tensors.remove(&key);
    let err = csrs_onnx::encode(&graph, &tensors, &spec.mean, &spec.std).unwrap_err();
    assert!(err.starts_with("layer ") && err.contains(&format!("no tensor {key}")), "{err}");
    assert!(!err.contains('\n'), "{err}");
}
