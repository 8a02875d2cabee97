//! The graphs of csrs's own networks, built from their [`ModelSpec`].

use super::{Activation, BatchNorm, Binary, Conv2d, Graph, GraphBuilder, LayerName, Linear, Op, ValueId, Window};
use crate::{Family, ModelSpec};

impl Graph {
    /// The network a spec describes.
    ///
    /// The spec should have passed [`ModelSpec::check`]; the shapes are
    /// computed from its input shape. An imported network's is the one it
    /// holds.
    pub fn of(spec: &ModelSpec) -> Self {
        let mut g = Builder(GraphBuilder::new(spec.input_shape));
        let x = ValueId::INPUT;
        let m = spec.n_classes;
        match spec.architecture.family() {
            Family::Imported => {
                return spec.graph.clone().expect("ModelSpec::check: an imported network has its graph");
            }
            Family::Mlp => {
                let x = g.push(Op::Flatten, &[x]);
                let x = g.linear_relu(x, "fc1", 256);
                let x = g.linear_relu(x, "fc2", 256);
                g.linear(x, "fc3", m);
            }
            Family::Lenet5 => {
                let padding = (32 - spec.input_shape[1]) / 2;
                let pool = Window::square(2, 2, 0);
                let x = g.conv(x, same("conv1"), 6, 5, 1, padding, true);
                let x = g.push(RELU, &[x]);
                let x = g.push(Op::MaxPool2d(pool), &[x]);
                let x = g.conv(x, same("conv2"), 16, 5, 1, 0, true);
                let x = g.push(RELU, &[x]);
                let x = g.push(Op::MaxPool2d(pool), &[x]);
                let x = g.push(Op::Flatten, &[x]);
                let x = g.linear_relu(x, "fc1", 120);
                let x = g.linear_relu(x, "fc2", 84);
                g.linear(x, "fc3", m);
            }
            Family::DigitsCnn => {
                let x = g.conv(x, same("conv1"), 16, 3, 1, 1, true);
                let x = g.push(RELU, &[x]);
                let x = g.conv(x, same("conv2"), 32, 3, 1, 1, true);
                let x = g.push(RELU, &[x]);
                let x = g.push(Op::MaxPool2d(Window::square(2, 2, 0)), &[x]);
                let x = g.push(Op::Flatten, &[x]);
                let x = g.linear_relu(x, "fc1", 64);
                g.linear(x, "fc2", m);
            }
            Family::CifarResnet { blocks_per_stage: blocks } => {
                let x = g.conv_bn(x, "conv1", "bn1", 16, 3, 1, 1);
                let mut x = g.push(RELU, &[x]);
                for (stage, (width, stride)) in [(16, 1), (32, 2), (64, 2)].into_iter().enumerate() {
                    x = g.stage(x, stage + 1, blocks, width, stride, Builder::basic_block);
                }
                g.head(x, m);
            }
            Family::ImagenetResnet { blocks, bottleneck } => {
                let block: BlockFn = if bottleneck { Builder::bottleneck } else { Builder::basic_block };
                let x = g.conv_bn(x, "conv1", "bn1", 64, 7, 2, 3);
                let x = g.push(RELU, &[x]);
                let mut x = g.push(Op::MaxPool2d(Window::square(3, 2, 1)), &[x]);
                for (stage, (width, stride)) in [(64, 1), (128, 2), (256, 2), (512, 2)].into_iter().enumerate() {
                    x = g.stage(x, stage + 1, blocks[stage], width, stride, block);
                }
                g.head(x, m);
            }
        }
        g.0.finish()
    }
}

impl Graph {
    /// DnCNN (Zhang et al. 2017) on `[c, h, w]` images, as Salman et al.
    /// put it in front of a classifier, PyTorch's names theirs: a 3×3
    /// convolution to `width` channels with a bias and a ReLU
    /// (`dncnn.0`), `depth − 2` blocks of a 3×3 convolution, batch norm
    /// (ε = 10⁻⁴) and a ReLU, a 3×3 convolution back to `c` channels, and
    /// the output is the input minus that: the layers estimate the noise
    /// (residual learning), so an untrained denoiser is near the identity.
    ///
    /// `depth` is at least 2 and `width` at least 1
    /// ([`DenoiserSpec::check`](crate::DenoiserSpec::check)).
    pub fn dncnn(input: [usize; 3], depth: usize, width: usize) -> Self {
        let mut g = Builder(GraphBuilder::new(input));
        let layer = |i: usize| same(&format!("dncnn.{i}"));
        let x = g.conv(ValueId::INPUT, layer(0), width, 3, 1, 1, true);
        let mut y = g.push(RELU, &[x]);
        for block in 0..depth - 2 {
            let first = 2 + 3 * block;
            y = g.conv(y, layer(first), width, 3, 1, 1, false);
            y = g.push(Op::BatchNorm(BatchNorm { name: layer(first + 1), channels: width, epsilon: 1e-4 }), &[y]);
            y = g.push(RELU, &[y]);
        }
        let noise = g.conv(y, layer(2 + 3 * (depth - 2)), input[0], 3, 1, 1, false);
        g.push(Op::Binary(Binary::Sub), &[ValueId::INPUT, noise]);
        g.0.finish()
    }
}

/// A layer named the same in PyTorch and burn.
fn same(name: &str) -> LayerName {
    LayerName { torch: name.to_owned(), burn: name.to_owned() }
}

const RELU: Op = Op::Activation(Activation::Relu);

type BlockFn = fn(&mut Builder, ValueId, &str, usize, usize) -> ValueId;

/// Builds csrs's networks, whose every layer fits by construction.
struct Builder(GraphBuilder);

impl Builder {
    fn push(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        self.0.push(op, inputs).expect("csrs's own networks fit every input ModelSpec::check admits")
    }

    fn shape(&self, value: ValueId) -> &[usize] {
        self.0.shape(value)
    }

    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        x: ValueId,
        name: LayerName,
        channels_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        bias: bool,
    ) -> ValueId {
        let channels_in = self.shape(x)[0];
        let conv = Conv2d::square(name, [channels_in, channels_out], kernel, stride, padding, bias);
        self.push(Op::Conv2d(conv), &[x])
    }

    fn bn(&mut self, x: ValueId, name: LayerName) -> ValueId {
        let channels = self.shape(x)[0];
        self.push(Op::BatchNorm(BatchNorm { name, channels, epsilon: 1e-5 }), &[x])
    }

    /// A bias-free convolution and its batch norm, named alike in both
    /// frameworks.
    #[allow(clippy::too_many_arguments)]
    fn conv_bn(
        &mut self,
        x: ValueId,
        conv: &str,
        bn: &str,
        channels_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> ValueId {
        let x = self.conv(x, same(conv), channels_out, kernel, stride, padding, false);
        self.bn(x, same(bn))
    }

    fn linear(&mut self, x: ValueId, name: &str, outputs: usize) -> ValueId {
        let inputs = self.shape(x)[0];
        self.push(Op::Linear(Linear { name: same(name), inputs, outputs }), &[x])
    }

    fn linear_relu(&mut self, x: ValueId, name: &str, outputs: usize) -> ValueId {
        let x = self.linear(x, name, outputs);
        self.push(RELU, &[x])
    }

    /// Global average pooling and the final linear layer `fc`.
    fn head(&mut self, x: ValueId, n_classes: usize) -> ValueId {
        let x = self.push(Op::GlobalAvgPool, &[x]);
        self.linear(x, "fc", n_classes)
    }

    /// `layer{stage}`: `blocks` residual blocks, the first with `stride`.
    fn stage(
        &mut self,
        x: ValueId,
        stage: usize,
        blocks: usize,
        width: usize,
        stride: usize,
        block: BlockFn,
    ) -> ValueId {
        (0..blocks).fold(x, |x, i| block(self, x, &format!("layer{stage}.{i}"), width, if i == 0 { stride } else { 1 }))
    }

    /// The shortcut of a block whose output has `channels_out` channels: the
    /// input itself, or a strided 1×1 convolution and batch norm
    /// (`downsample.0` and `downsample.1` in PyTorch) when shape changes.
    fn shortcut(&mut self, x: ValueId, prefix: &str, channels_out: usize, stride: usize) -> ValueId {
        if stride == 1 && self.shape(x)[0] == channels_out {
            return x;
        }
        let name = |torch: &str, burn: &str| LayerName {
            torch: format!("{prefix}.downsample.{torch}"),
            burn: format!("{prefix}.downsample.{burn}"),
        };
        let s = self.conv(x, name("0", "conv"), channels_out, 1, stride, 0, false);
        self.bn(s, name("1", "bn"))
    }

    /// He et al.'s basic block: conv3×3-bn-relu-conv3×3-bn, add, relu.
    fn basic_block(&mut self, x: ValueId, prefix: &str, width: usize, stride: usize) -> ValueId {
        let y = self.conv_bn(x, &format!("{prefix}.conv1"), &format!("{prefix}.bn1"), width, 3, stride, 1);
        let y = self.push(RELU, &[y]);
        let y = self.conv_bn(y, &format!("{prefix}.conv2"), &format!("{prefix}.bn2"), width, 3, 1, 1);
        let s = self.shortcut(x, prefix, width, stride);
        let y = self.push(Op::Binary(Binary::Add), &[y, s]);
        self.push(RELU, &[y])
    }

    /// torchvision's bottleneck (ResNet v1.5, stride on the 3×3):
    /// conv1×1-bn-relu-conv3×3-bn-relu-conv1×1 (4× width)-bn, add, relu.
    fn bottleneck(&mut self, x: ValueId, prefix: &str, width: usize, stride: usize) -> ValueId {
        let y = self.conv_bn(x, &format!("{prefix}.conv1"), &format!("{prefix}.bn1"), width, 1, 1, 0);
        let y = self.push(RELU, &[y]);
        let y = self.conv_bn(y, &format!("{prefix}.conv2"), &format!("{prefix}.bn2"), width, 3, stride, 1);
        let y = self.push(RELU, &[y]);
        let y = self.conv_bn(y, &format!("{prefix}.conv3"), &format!("{prefix}.bn3"), 4 * width, 1, 1, 0);
        let s = self.shortcut(x, prefix, 4 * width, stride);
        let y = self.push(Op::Binary(Binary::Add), &[y, s]);
        self.push(RELU, &[y])
    }
}
