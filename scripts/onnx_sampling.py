"""ONNX Runtime's and PyTorch's side of `cargo xtask bench-vs-onnx`: the
same noisy-sample workload as `csrs bench` (one input repeated, Gaussian
noise added, forward, arg-max, counts) on one network, 2 threads each.

    python scripts/onnx_sampling.py export NAME OUT.onnx
    python scripts/onnx_sampling.py ort FILE.onnx N BATCH
    python scripts/onnx_sampling.py eager NAME N BATCH

NAME is wrn16_4 (the ONNX test fixture's WideResNet-16-4 with its weights,
1x8x8 inputs) or resnet110 (He et al.'s CIFAR ResNet-110, 3x32x32, seeded).
`export` writes the network as ONNX (dynamic batch axis, opset 17); `ort`
times ONNX Runtime's CPU session on a file; `eager` times PyTorch on the
module itself. Prints samples/s like scripts/torch_sampling.py.
"""

import sys
import time

import numpy as np
import torch

from onnx_fixtures import WideResNet, seeded
from torch_sampling import CifarResNet

THREADS = 2
SIGMA = 0.25


def module(name):
    if name == "wrn16_4":
        return seeded(WideResNet(), name)[0], (1, 8, 8)
    if name == "resnet110":
        torch.manual_seed(110)
        return CifarResNet(110).eval(), (3, 32, 32)
    raise SystemExit(f"unknown network {name}, expected wrn16_4 or resnet110")


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
