//! The classifier: input normalisation, then a network.

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::FloatDType;

use crate::graph_net::GraphNet;
use crate::nets::{BasicBlock, Bottleneck, CifarResnet, DigitsCnn, ImagenetResnet, Lenet5, Mlp};
use crate::{Architecture, Family, ModelError, ModelSpec, Result};

/// (x − mean) / std per channel; constants, not parameters, rebuilt from the
/// checkpoint's metadata.
#[derive(Module, Debug)]
struct Normalize<B: Backend> {
    /// `[1, c, 1, 1]`.
    mean: Tensor<B, 4>,
    /// `[1, c, 1, 1]`.
    std: Tensor<B, 4>,
}

impl<B: Backend> Normalize<B> {
    fn new(mean: &[f32], std: &[f32], device: &B::Device) -> Self {
        let column = |values: &[f32]| Tensor::<B, 1>::from_floats(values, device).reshape([1, values.len(), 1, 1]);
        Normalize { mean: column(mean), std: column(std) }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        (x - self.mean.clone()) / self.std.clone()
    }

    fn cast(self, dtype: FloatDType) -> Self {
        Normalize { mean: self.mean.cast(dtype), std: self.std.cast(dtype) }
    }
}

// One per model, never in a collection: the size of the largest variant
// costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
enum Net<B: Backend> {
    Mlp(Mlp<B>),
    Lenet5(Lenet5<B>),
    DigitsCnn(DigitsCnn<B>),
    CifarResnet(CifarResnet<B>),
    Resnet18(ImagenetResnet<B, BasicBlock<B>>),
    Resnet50(ImagenetResnet<B, Bottleneck<B>>),
    Graph(GraphNet<B>),
}

/// A base classifier f: pixels in [0, 1] → logits.
#[derive(Module, Debug)]
pub struct Classifier<B: Backend> {
    normalize: Normalize<B>,
    net: Net<B>,
}

impl<B: Backend> Classifier<B> {
    /// A randomly initialised classifier (burn's default initialisers, seeded
    /// by the backend's seed).
    ///
    /// # Errors
    /// When [`ModelSpec::check`] rejects the spec.
    pub fn init(spec: &ModelSpec, device: &B::Device) -> Result<Self> {
        spec.check()?;
        let [channels, height, _] = spec.input_shape;
        let m = spec.n_classes;
        let net = match spec.architecture.family() {
            Family::Mlp => Net::Mlp(Mlp::new(spec.input_shape.iter().product(), m, device)),
            Family::Lenet5 => Net::Lenet5(Lenet5::new(channels, height, m, device)),
            Family::DigitsCnn => Net::DigitsCnn(DigitsCnn::new(channels, m, device)),
            Family::CifarResnet { blocks_per_stage } => {
                Net::CifarResnet(CifarResnet::new(blocks_per_stage, channels, m, device))
            }
            Family::ImagenetResnet { blocks, bottleneck: false } => {
                Net::Resnet18(ImagenetResnet::new(blocks, channels, m, device))
            }
            Family::ImagenetResnet { blocks, bottleneck: true } => {
                Net::Resnet50(ImagenetResnet::new(blocks, channels, m, device))
            }
            Family::Imported => Net::Graph(GraphNet::new(&crate::graph::Graph::of(spec), device)),
        };
        let model = Classifier { normalize: Normalize::new(&spec.mean, &spec.std, device), net };
        // burn initialises parameters lazily, on first use: a clone saved
        // before that would draw other weights than the original uses.
        model.visit(&mut Materialize);
        Ok(model)
    }

    /// Loads `record` into this classifier, built from `spec`, if the record
    /// has its layout: the same network (burn panics on a record of another
    /// variant) with as many blocks in each stage (and on a list of
    /// another length). Tensors of other shapes are the caller's to check.
    ///
    /// # Errors
    /// A message saying which layout the record has instead.
    pub(crate) fn load_checked(self, spec: &ModelSpec, record: ClassifierRecord<B>) -> Result<Self, String> {
        let found = match &record.net {
            NetRecord::Mlp(_) => Family::Mlp,
            NetRecord::Lenet5(_) => Family::Lenet5,
            NetRecord::DigitsCnn(_) => Family::DigitsCnn,
            NetRecord::CifarResnet(net) => {
                let stages = [net.layer1.len(), net.layer2.len(), net.layer3.len()];
                if stages.iter().any(|&n| n != stages[0]) {
                    return Err(format!("a CIFAR ResNet with stages of {stages:?} blocks, which no architecture has"));
                }
                Family::CifarResnet { blocks_per_stage: stages[0] }
            }
            NetRecord::Resnet18(net) => Family::ImagenetResnet {
                blocks: [net.layer1.len(), net.layer2.len(), net.layer3.len(), net.layer4.len()],
                bottleneck: false,
            },
            NetRecord::Resnet50(net) => Family::ImagenetResnet {
                blocks: [net.layer1.len(), net.layer2.len(), net.layer3.len(), net.layer4.len()],
                bottleneck: true,
            },
            NetRecord::Graph(net) => {
                let expected = spec.parameters().len();
                if net.tensors.len() != expected {
                    return Err(format!("{} tensors, where the graph has {expected}", net.tensors.len()));
                }
                Family::Imported
            }
        };
        if found != spec.architecture.family() {
            let name = Architecture::ALL.into_iter().find(|a| a.family() == found);
            let found = name.map_or_else(|| format!("{found:?}"), |a| a.to_string());
            return Err(format!("the weights are of {found}, not of {} as the metadata says", spec.architecture));
        }
        Ok(self.load_record(record))
    }

    /// This classifier computing in `dtype`: every weight, batch-norm
    /// statistic and normalisation constant converted once, here. Its
    /// forward pass then takes images of that type (burn does not convert
    /// the operands of one operation to a common type: images of another
    /// type are an error or wrong logits on some backends).
    #[must_use]
    pub fn cast(self, dtype: FloatDType) -> Self {
        Classifier { normalize: self.normalize.cast(dtype), net: self.net.map(&mut Cast(dtype)) }
    }

    /// This classifier with the batch norm of its graph kept to the running
    /// statistics in training too (neither normalising with the batch's nor
    /// updating them), its scale and shift still learned: for fine-tuning
    /// on batches too small or too unlike the original data to describe it.
    ///
    /// # Errors
    /// [`ModelError::Spec`] for csrs's own architectures, whose batch norm
    /// (burn's) always trains on batch statistics.
    pub fn freeze_batch_norm(self) -> Result<Self> {
        match self.net {
            Net::Graph(net) => Ok(Classifier { normalize: self.normalize, net: Net::Graph(net.freeze_batch_norm()) }),
            _ => Err(ModelError::Spec(
                "freeze_batch_norm applies to imported networks; csrs's own architectures train batch norm on batch statistics".into(),
            )),
        }
    }

    /// This classifier as a fixed function in training, for a denoiser
    /// trained in front of it: rebuilt from its graph (`spec` describes
    /// it), with no gradient reaching its weights, batch norm on its
    /// running statistics and dropout off, while gradients flow through it
    /// to its input. Its weights and statistics stay bit for bit.
    ///
    /// # Errors
    /// [`ModelError::Spec`]: the classifier does not hold what `spec`
    /// describes.
    pub fn frozen(self, spec: &ModelSpec) -> Result<Self> {
        let device = self.normalize.mean.device();
        let graph = ModelSpec {
            architecture: Architecture::Imported,
            graph: Some(crate::graph::Graph::of(spec)),
            ..spec.clone()
        };
        let tensors = crate::interop::torch_tensors(&self, spec).map_err(ModelError::Spec)?;
        let tensors = tensors.into_iter().map(|(parameter, values)| (parameter.torch, values)).collect();
        let rebuilt = crate::interop::from_tensors::<B>(&graph, &tensors, &device)?;
        match rebuilt.net {
            Net::Graph(net) => Ok(Classifier { normalize: rebuilt.normalize, net: Net::Graph(net.frozen()) }),
            _ => unreachable!("an imported spec builds a graph network"),
        }
    }

    /// Logits for a batch of images.
    ///
    /// `[batch, channels, height, width]` in [0, 1] → `[batch, n_classes]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = self.normalize.forward(images);
        match &self.net {
            Net::Mlp(net) => net.forward(x),
            Net::Lenet5(net) => net.forward(x),
            Net::DigitsCnn(net) => net.forward(x),
            Net::CifarResnet(net) => net.forward(x),
            Net::Resnet18(net) => net.forward(x),
            Net::Resnet50(net) => net.forward(x),
            Net::Graph(net) => net.forward(x),
        }
    }
}

/// Converts every parameter (running statistics included) to one float type.
struct Cast(FloatDType);

impl<B: Backend> ModuleMapper<B> for Cast {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let dtype = self.0;
        param.map(|tensor| tensor.cast(dtype))
    }
}

/// Touches every parameter so that lazily initialised ones get their values.
struct Materialize;

impl<B: Backend> ModuleVisitor<B> for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        param.val();
    }
}
