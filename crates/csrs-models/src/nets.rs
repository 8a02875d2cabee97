//! The networks behind each [`Architecture`](crate::Architecture).
//! Inputs are normalised images `[batch, channels, height, width]`; outputs
//! are logits `[batch, n_classes]`.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

fn conv(channels_in: usize, channels_out: usize, kernel: usize, stride: usize, padding: usize) -> Conv2dConfig {
    Conv2dConfig::new([channels_in, channels_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
}

/// Two hidden layers of 256 units on the flattened image.
#[derive(Module, Debug)]
pub(crate) struct Mlp<B: Backend> {
    fc1: Linear<B>,
    fc2: Linear<B>,
    fc3: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    pub(crate) fn new(inputs: usize, n_classes: usize, device: &B::Device) -> Self {
        Mlp {
            fc1: LinearConfig::new(inputs, 256).init(device),
            fc2: LinearConfig::new(256, 256).init(device),
            fc3: LinearConfig::new(256, n_classes).init(device),
        }
    }

    /// `[b, c, h, w]` → `[b, n_classes]`.
    pub(crate) fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = x.flatten::<2>(1, 3);
        let x = relu(self.fc1.forward(x));
        let x = relu(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}

/// LeNet-5: two 5×5 convolutions with max pooling, then 120-84-m.
/// 28×28 inputs are padded by 2 so that both sizes reach 16×5×5.
#[derive(Module, Debug)]
pub(crate) struct Lenet5<B: Backend> {
    conv1: Conv2d<B>,
    conv2: Conv2d<B>,
    pool: MaxPool2d,
    fc1: Linear<B>,
    fc2: Linear<B>,
    fc3: Linear<B>,
}

impl<B: Backend> Lenet5<B> {
    pub(crate) fn new(channels: usize, size: usize, n_classes: usize, device: &B::Device) -> Self {
        Lenet5 {
            conv1: conv(channels, 6, 5, 1, (32 - size) / 2).init(device),
            conv2: conv(6, 16, 5, 1, 0).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(16 * 5 * 5, 120).init(device),
            fc2: LinearConfig::new(120, 84).init(device),
            fc3: LinearConfig::new(84, n_classes).init(device),
        }
    }

    /// `[b, c, 28|32, 28|32]` → conv 6×28×28 → pool 6×14×14 → conv 16×10×10
    /// → pool 16×5×5 → `[b, n_classes]`.
    pub(crate) fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x = relu(self.fc1.forward(x.flatten::<2>(1, 3)));
        let x = relu(self.fc2.forward(x));
        self.fc3.forward(x)
    }
}

/// A small CNN for 8×8 digits: about 0.4 M multiply-adds per image, so
/// that certification with 10⁴ draws per image runs in minutes on a CPU.
#[derive(Module, Debug)]
pub(crate) struct DigitsCnn<B: Backend> {
    conv1: Conv2d<B>,
    conv2: Conv2d<B>,
    pool: MaxPool2d,
    fc1: Linear<B>,
    fc2: Linear<B>,
}

impl<B: Backend> DigitsCnn<B> {
    pub(crate) fn new(channels: usize, n_classes: usize, device: &B::Device) -> Self {
        DigitsCnn {
            conv1: conv(channels, 16, 3, 1, 1).init(device),
            conv2: conv(16, 32, 3, 1, 1).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(32 * 4 * 4, 64).init(device),
            fc2: LinearConfig::new(64, n_classes).init(device),
        }
    }

    /// `[b, c, 8, 8]` → 16×8×8 → 32×8×8 → pool 32×4×4 → 64 → `[b, n_classes]`.
    pub(crate) fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = relu(self.conv1.forward(x));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x = relu(self.fc1.forward(x.flatten::<2>(1, 3)));
        self.fc2.forward(x)
    }
}

/// The 1×1 convolution and batch norm that match a shortcut to a block's
/// output when it changes stride or width.
#[derive(Module, Debug)]
pub(crate) struct Downsample<B: Backend> {
    conv: Conv2d<B>,
    bn: BatchNorm<B>,
}

impl<B: Backend> Downsample<B> {
    /// A downsampling shortcut when the block changes stride or width.
    fn when_needed(channels_in: usize, channels_out: usize, stride: usize, device: &B::Device) -> Option<Self> {
        (stride != 1 || channels_in != channels_out).then(|| Downsample {
            conv: conv(channels_in, channels_out, 1, stride, 0).with_bias(false).init(device),
            bn: BatchNormConfig::new(channels_out).init(device),
        })
    }

    /// The block's input through the shortcut.
    fn shortcut(down: Option<&Self>, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match down {
            Some(down) => down.bn.forward(down.conv.forward(x)),
            None => x,
        }
    }
}

/// He et al.'s basic residual block: two 3×3 convolutions with batch norm.
#[derive(Module, Debug)]
pub(crate) struct BasicBlock<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    conv2: Conv2d<B>,
    bn2: BatchNorm<B>,
    downsample: Option<Downsample<B>>,
}

impl<B: Backend> BasicBlock<B> {
    fn new(channels_in: usize, channels_out: usize, stride: usize, device: &B::Device) -> Self {
        let downsample = Downsample::when_needed(channels_in, channels_out, stride, device);
        BasicBlock {
            conv1: conv(channels_in, channels_out, 3, stride, 1).with_bias(false).init(device),
            bn1: BatchNormConfig::new(channels_out).init(device),
            conv2: conv(channels_out, channels_out, 3, 1, 1).with_bias(false).init(device),
            bn2: BatchNormConfig::new(channels_out).init(device),
            downsample,
        }
    }

    /// `[b, c_in, h, w]` → `[b, c_out, h / stride, w / stride]`.
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let shortcut = Downsample::shortcut(self.downsample.as_ref(), x.clone());
        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = self.bn2.forward(self.conv2.forward(out));
        relu(out + shortcut)
    }
}

/// A stage of `blocks` residual blocks; the first may change stride and width.
fn stage<B: Backend>(
    channels_in: usize,
    channels_out: usize,
    blocks: usize,
    stride: usize,
    device: &B::Device,
) -> Vec<BasicBlock<B>> {
    (0..blocks)
        .map(|i| {
            if i == 0 {
                BasicBlock::new(channels_in, channels_out, stride, device)
            } else {
                BasicBlock::new(channels_out, channels_out, 1, device)
            }
        })
        .collect()
}

fn run_stage<B: Backend>(blocks: &[BasicBlock<B>], x: Tensor<B, 4>) -> Tensor<B, 4> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}

/// The CIFAR ResNet of depth 6n + 2 (He et al. 2016, as in Cohen et al.'s
/// code): 16, 32 and 64 channels, global average pooling, one linear layer.
#[derive(Module, Debug)]
pub(crate) struct CifarResnet<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    layer1: Vec<BasicBlock<B>>,
    layer2: Vec<BasicBlock<B>>,
    layer3: Vec<BasicBlock<B>>,
    pool: AdaptiveAvgPool2d,
    fc: Linear<B>,
}

impl<B: Backend> CifarResnet<B> {
    /// The network of depth 6n + 2, with `n` blocks per stage.
    pub(crate) fn new(n: usize, channels: usize, n_classes: usize, device: &B::Device) -> Self {
        CifarResnet {
            conv1: conv(channels, 16, 3, 1, 1).with_bias(false).init(device),
            bn1: BatchNormConfig::new(16).init(device),
            layer1: stage(16, 16, n, 1, device),
            layer2: stage(16, 32, n, 2, device),
            layer3: stage(32, 64, n, 2, device),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(64, n_classes).init(device),
        }
    }

    /// `[b, c, 32, 32]` → 16×32×32 → 32×16×16 → 64×8×8 → pool 64 → `[b, n_classes]`.
    pub(crate) fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = relu(self.bn1.forward(self.conv1.forward(x)));
        let x = run_stage(&self.layer3, run_stage(&self.layer2, run_stage(&self.layer1, x)));
        self.fc.forward(self.pool.forward(x).flatten::<2>(1, 3))
    }
}

/// A residual block of an ImageNet ResNet.
pub(crate) trait ResidualBlock<B: Backend>: Module<B> {
    /// A block from `channels_in` channels to `width` (its expansion ×
    /// `width` for a bottleneck) with `stride`.
    fn new(channels_in: usize, width: usize, stride: usize, device: &B::Device) -> Self;
    /// Output channels per unit of width.
    const EXPANSION: usize;
    /// `[b, c_in, h, w]` → `[b, c_out, h / stride, w / stride]`.
    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4>;
}

impl<B: Backend> ResidualBlock<B> for BasicBlock<B> {
    const EXPANSION: usize = 1;

    fn new(channels_in: usize, width: usize, stride: usize, device: &B::Device) -> Self {
        BasicBlock::new(channels_in, width, stride, device)
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        BasicBlock::forward(self, x)
    }
}

/// torchvision's bottleneck block (ResNet v1.5: the stride is on the 3×3
/// convolution): 1×1 to `width`, 3×3, 1×1 to 4 × `width`, with batch norm.
#[derive(Module, Debug)]
pub(crate) struct Bottleneck<B: Backend> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    conv2: Conv2d<B>,
    bn2: BatchNorm<B>,
    conv3: Conv2d<B>,
    bn3: BatchNorm<B>,
    downsample: Option<Downsample<B>>,
}

impl<B: Backend> ResidualBlock<B> for Bottleneck<B> {
    const EXPANSION: usize = 4;

    fn new(channels_in: usize, width: usize, stride: usize, device: &B::Device) -> Self {
        let channels_out = Self::EXPANSION * width;
        Bottleneck {
            conv1: conv(channels_in, width, 1, 1, 0).with_bias(false).init(device),
            bn1: BatchNormConfig::new(width).init(device),
            conv2: conv(width, width, 3, stride, 1).with_bias(false).init(device),
            bn2: BatchNormConfig::new(width).init(device),
            conv3: conv(width, channels_out, 1, 1, 0).with_bias(false).init(device),
            bn3: BatchNormConfig::new(channels_out).init(device),
            downsample: Downsample::when_needed(channels_in, channels_out, stride, device),
        }
    }

    fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let shortcut = Downsample::shortcut(self.downsample.as_ref(), x.clone());
        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = relu(self.bn2.forward(self.conv2.forward(out)));
        let out = self.bn3.forward(self.conv3.forward(out));
        relu(out + shortcut)
    }
}

/// torchvision's ResNet for 224-pixel images: a 7×7 stem with max pooling,
/// four stages (64, 128, 256, 512 × the block's expansion channels), global
/// average pooling. ResNet-18 has two basic blocks per stage, ResNet-50
/// 3, 4, 6, 3 bottlenecks.
#[derive(Module, Debug)]
pub(crate) struct ImagenetResnet<B: Backend, K> {
    conv1: Conv2d<B>,
    bn1: BatchNorm<B>,
    stem_pool: MaxPool2d,
    layer1: Vec<K>,
    layer2: Vec<K>,
    layer3: Vec<K>,
    layer4: Vec<K>,
    pool: AdaptiveAvgPool2d,
    fc: Linear<B>,
}

impl<B: Backend, K: ResidualBlock<B>> ImagenetResnet<B, K> {
    pub(crate) fn new(blocks: [usize; 4], channels: usize, n_classes: usize, device: &B::Device) -> Self {
        let mut channels_in = 64;
        let mut stage = |width: usize, blocks: usize, stride: usize| -> Vec<K> {
            (0..blocks)
                .map(|i| {
                    let block = K::new(channels_in, width, if i == 0 { stride } else { 1 }, device);
                    channels_in = K::EXPANSION * width;
                    block
                })
                .collect()
        };
        let (layer1, layer2) = (stage(64, blocks[0], 1), stage(128, blocks[1], 2));
        let (layer3, layer4) = (stage(256, blocks[2], 2), stage(512, blocks[3], 2));
        ImagenetResnet {
            conv1: conv(channels, 64, 7, 2, 3).with_bias(false).init(device),
            bn1: BatchNormConfig::new(64).init(device),
            stem_pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(512 * K::EXPANSION, n_classes).init(device),
        }
    }

    /// `[b, c, 224, 224]` → 64×56×56 → … → 512·expansion × 7×7 → pool →
    /// `[b, n_classes]`.
    pub(crate) fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let stage = |blocks: &[K], x| blocks.iter().fold(x, |x, block| block.forward(x));
        let x = self.stem_pool.forward(relu(self.bn1.forward(self.conv1.forward(x))));
        let x = stage(&self.layer2, stage(&self.layer1, x));
        let x = stage(&self.layer4, stage(&self.layer3, x));
        self.fc.forward(self.pool.forward(x).flatten::<2>(1, 3))
    }
}
