"""ONNX Runtime's and PyTorch's side of `cargo xtask bench-vs-onnx`: the
same noisy-sample workload as `csrs bench` (one input repeated, Gaussian
noise added, forward, arg-max, counts) on one network, 2 threads each.

    python scripts/onnx_sampling.py export NAME OUT.onnx
    python scripts/onnx_sampling.py ort FILE.onnx N BATCH
    python scripts/onnx_sampling.py eager NAME N BATCH

NAME is wrn16_4 (the ONNX test fixture's WideResNet-16-4 with its weights,
1x8x8 inputs), lenet5 (LeNet-5, 1x28x28, seeded), resnet20 and resnet110
(He et al.'s CIFAR ResNets, 3x32x32, seeded), vgg11 (VGG-11 with batch norm for 3x32x32 inputs, seeded) or resnet18 (He et
al.'s ImageNet ResNet-18, 3x224x224, seeded).
`export` writes the network as ONNX (dynamic batch axis, opset 17); `ort`
times ONNX Runtime's CPU session on a file; `eager` times PyTorch on the
module itself. Prints samples/s like scripts/torch_sampling.py.
"""

import sys
import time

import numpy as np
import torch
import torch.nn as nn

from onnx_fixtures import WideResNet, seeded
from torch_sampling import Block, CifarResNet, LeNet

THREADS = 2
SIGMA = 0.25


def vgg11():
    """VGG-11 with batch norm as CIFAR users train it: 3x3 convolutions of
    64..512 channels, five max pools, one linear layer."""
    layers, channels = [], 3
    for width in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
        if width == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, 10))


def resnet18():
    """He et al.'s ImageNet ResNet-18: a 7x7 stride-2 stem and a max pool,
    four stages of two basic blocks (64..512 channels, the CIFAR ResNets'
    block: 1x1 convolutions on the shortcuts that change shape), 1000
    classes."""
    stages, channels = [], 64
    for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        stages += [Block(channels, width, stride), Block(width, width, 1)]
        channels = width
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        *stages, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000),
    )


def module(name):
    if name == "wrn16_4":
        return seeded(WideResNet(), name)[0], (1, 8, 8)
    if name == "lenet5":
        torch.manual_seed(5)
        return LeNet().eval(), (1, 28, 28)
    if name == "resnet20":
        torch.manual_seed(20)
        return CifarResNet(20).eval(), (3, 32, 32)
    if name == "resnet110":
        torch.manual_seed(110)
        return CifarResNet(110).eval(), (3, 32, 32)
    if name == "vgg11":
        torch.manual_seed(11)
        return vgg11().eval(), (3, 32, 32)
    if name == "resnet18":
        torch.manual_seed(18)
        return resnet18().eval(), (3, 224, 224)
    raise SystemExit(f"unknown network {name}, expected wrn16_4, lenet5, resnet20, resnet110, vgg11 or resnet18")


def export(name, out):
    net, shape = module(name)
    torch.onnx.export(
        net, (torch.rand((1, *shape)),), out, input_names=["input"], output_names=["logits"], opset_version=17,
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False,
    )


def timed(label, classify, shape, n, batch):
    """Draws `n` noisy copies of one input, `batch` at a time, after one
    batch of warm-up; prints the rate."""
    rng = np.random.default_rng(0)
    x = (np.arange(np.prod(shape)) % 29 / 29.0).astype(np.float32).reshape(shape)
    counts = None

    def run(n):
        nonlocal counts
        left = n
        while left > 0:
            b = min(batch, left)
            left -= b
            noisy = x + rng.standard_normal((b, *shape), dtype=np.float32) * SIGMA
            logits = classify(noisy)
            found = np.bincount(logits.argmax(1), minlength=logits.shape[1])
            counts = found if counts is None else counts + found

    run(batch)
    start = time.perf_counter()
    run(n)
    seconds = time.perf_counter() - start
    print(f"{label} threads={THREADS} batch={batch} N={n} samples/s={n / seconds:.0f}")


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "export":
        export(sys.argv[2], sys.argv[3])
    elif command == "ort":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(sys.argv[2], options, providers=["CPUExecutionProvider"])
        declared = session.get_inputs()[0]
        shape = tuple(declared.shape[1:])
        classify = lambda x: session.run(None, {declared.name: x})[0]
        timed(f"onnxruntime{onnxruntime.__version__}", classify, shape, int(sys.argv[3]), int(sys.argv[4]))
    elif command == "eager":
        torch.set_num_threads(THREADS)
        net, shape = module(sys.argv[2])

        def classify(x):
            with torch.no_grad():
                return net(torch.from_numpy(x)).numpy()

        timed(f"torch{torch.__version__} eager", classify, shape, int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
