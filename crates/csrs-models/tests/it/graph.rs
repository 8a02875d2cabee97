//! The graph description agrees with the burn networks and with known
//! network sizes.

use std::collections::BTreeMap;

use burn_store::ModuleSnapshot;
use csrs_models::graph::{Graph, Op, Storage, ValueId};
use csrs_models::{Architecture, Classifier};

use super::{B, spec};

/// Every architecture with an input it takes.
pub(crate) fn every_architecture() -> Vec<(Architecture, [usize; 3])> {
    Architecture::ALL
        .into_iter()
        .map(|architecture| {
            let shape = match architecture {
                Architecture::Mlp | Architecture::DigitsCnn => [1, 8, 8],
                Architecture::Lenet5 => [1, 28, 28],
                Architecture::Resnet18 | Architecture::Resnet50 => [3, 224, 224],
                _ => [3, 32, 32],
            };
            (architecture, shape)
        })
        .collect()
}

#[test]
fn the_graph_names_exactly_the_tensors_of_the_burn_network_in_their_shapes() {
    let device = Default::default();
    for (architecture, shape) in every_architecture() {
        let spec = spec(architecture, shape, 7);
        let model = Classifier::<B>::init(&spec, &device).unwrap();
        let burn: BTreeMap<String, Vec<usize>> = model
            .collect(None, None, true)
            .into_iter()
            .filter(|s| s.full_path().starts_with("net."))
            .map(|s| (s.full_path(), s.shape.to_vec()))
            .collect();
        let described: BTreeMap<String, Vec<usize>> = Graph::of(&spec)
            .parameters()
            .into_iter()
            .filter(|p| p.storage != Storage::TorchOnly)
            .map(|p| {
                let mut shape = p.shape.clone();
                if p.storage == Storage::Transposed {
                    shape.reverse();
                }
                (format!("net.{}", p.burn), shape)
            })
            .collect();
        assert_eq!(described, burn, "{architecture}");
    }
}

#[test]
fn graph_shapes_follow_the_layers_and_end_in_the_logits() {
    for (architecture, shape) in every_architecture() {
        let graph = Graph::of(&spec(architecture, shape, 7));
        assert_eq!(graph.nodes.last().unwrap().shape, [7], "{architecture}");
        for (i, node) in graph.nodes.iter().enumerate() {
            assert!(node.inputs.iter().all(|v| v.0 <= i), "{architecture}: node {i} reads a later value");
            match &node.op {
                Op::Binary(_) => {
                    assert_eq!(node.inputs.len(), 2);
                    assert_eq!(graph.shape(node.inputs[0]), graph.shape(node.inputs[1]), "{architecture}: node {i}");
                }
                Op::Conv2d(conv) => assert_eq!(graph.shape(node.inputs[0])[0], conv.channels_in),
                Op::Linear(linear) => assert_eq!(graph.shape(node.inputs[0]), [linear.inputs]),
                _ => assert_eq!(node.inputs.len(), 1),
            }
        }
        assert_eq!(graph.shape(ValueId::INPUT), shape);
    }
}

#[test]
fn network_sizes_match_the_published_counts() {
    // Multiply-adds per image, as the literature counts them (convolutions
    // and linear layers): ResNet-18 1.82 G and ResNet-50 4.11 G (torchvision,
    // 1000 classes), CIFAR ResNet-20 41 M and ResNet-110 253 M (He et al.).
    let cases = [
        (Architecture::Resnet18, [3, 224, 224], 1000, 1.814e9),
        (Architecture::Resnet50, [3, 224, 224], 1000, 4.089e9),
        (Architecture::CifarResnet20, [3, 32, 32], 10, 40.81e6),
        (Architecture::CifarResnet110, [3, 32, 32], 10, 252.9e6),
    ];
    for (architecture, shape, m, expected) in cases {
        let macs = Graph::of(&spec(architecture, shape, m)).multiply_adds() as f64;
        assert!((macs / expected - 1.0).abs() < 0.01, "{architecture}: {macs} multiply-adds, expected {expected}");
    }
    // Parameters: ResNet-50 25.557 M, ResNet-18 11.690 M, CIFAR ResNet-20 0.27 M.
    let count = |architecture, shape, m| -> usize {
        Graph::of(&spec(architecture, shape, m))
            .parameters()
            .iter()
            .filter(|p| p.storage != Storage::TorchOnly && !p.torch.contains("running_"))
            .map(|p| p.shape.iter().product::<usize>())
            .sum()
    };
    assert_eq!(count(Architecture::Resnet50, [3, 224, 224], 1000), 25_557_032);
    assert_eq!(count(Architecture::Resnet18, [3, 224, 224], 1000), 11_689_512);
    assert_eq!(count(Architecture::CifarResnet20, [3, 32, 32], 10), 272_474);
}
