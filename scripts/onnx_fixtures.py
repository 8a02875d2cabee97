"""Writes the ONNX fixtures of csrs's tests, with PyTorch's logits.

    python scripts/onnx_fixtures.py crates/csrs-onnx/tests/data

Each fixture is a thin network on digits-shaped inputs (1x8x8, 10 classes)
exported with torch.onnx.export, with random weights and batch-norm
statistics (fixed seeds), plus `<name>.json` in the shape `csrs model logits
--inputs` reads ({"input_shape", "inputs"}) with the logits PyTorch computes
for those inputs ("logits"). Between them they hold every operator csrs
reads from ONNX:

- wrn16_4: a WideResNet-16-4 (widths 16/32/64, pre-activation batch norm,
  dropout), normalisation as Sub and Div of constants, opset 13, dynamic
  batch axis;
- vgg: conv-bn-relu blocks with max pooling (one padded), a leaky ReLU, a
  Reshape to 2-d and a two-layer head, opset 17, fixed batch of 1;
- separable: depthwise-separable blocks, a dilated and a rectangular
  convolution, average pooling with and without counted padding, a concat
  on the channels, x * sigmoid(x), global average pooling, opset 18;
- gemm: built node by node with onnx.helper: Gemm with transB = 0, alpha
  and beta, MatMul plus Add, Sigmoid, Sub and Mul of tensors, opset 15;
- dropout: a two-layer head with a Dropout node (ratio 0.3, an
  initializer) between them, as torch.onnx.export writes it in training
  mode and other exporters keep it, opset 17.

It also writes `separable_external.onnx`, the separable net with its weights
in `separable_external.data` beside it, and `refused_*.onnx`: files csrs
must refuse, one reason each.

Needs torch, onnx (and onnxruntime, which checks each file). Not run by the
tests; the files it writes are committed.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

CLASSES = 10
SHAPE = (1, 8, 8)
BATCH = 4


def randomize_batch_norms(net, generator):
    """Batch norms with statistics far from the identity, so that folding them
    is tested."""
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            module.weight.data = torch.rand(c, generator=generator) + 0.5
            module.bias.data = torch.randn(c, generator=generator) * 0.2
            module.running_mean.data = torch.randn(c, generator=generator) * 0.2
            module.running_var.data = torch.rand(c, generator=generator) + 0.5


class Normalize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class WideBlock(nn.Module):
    """Zagoruyko and Komodakis' pre-activation block: bn-relu-conv,
    bn-relu-dropout-conv, plus the input or a 1x1 convolution of its
    activation."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.dropout = nn.Dropout(0.3)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None if stride == 1 and cin == cout else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        a = F.relu(self.bn1(x))
        y = self.conv1(a)
        y = self.conv2(self.dropout(F.relu(self.bn2(y))))
        return y + (x if self.shortcut is None else self.shortcut(a))


class WideResNet(nn.Module):
    def __init__(self, depth=16, k=4, base=4):
        super().__init__()
        n = (depth - 4) // 6
        widths = [base * k, 2 * base * k, 4 * base * k]
        self.normalize = Normalize([0.3], [0.4])
        self.conv1 = nn.Conv2d(1, base * 4, 3, 1, 1, bias=False)
        layers, cin = [], base * 4
        for stage, width in enumerate(widths):
            for i in range(n):
                layers.append(WideBlock(cin, width, 2 if stage > 0 and i == 0 else 1))
                cin = width
        self.blocks = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, CLASSES)

    def forward(self, x):
        x = self.blocks(self.conv1(self.normalize(x)))
        x = F.relu(self.bn(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class Vgg(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.LeakyReLU(0.1),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.head = nn.Sequential(nn.Linear(16 * 2 * 2, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, CLASSES))

    def forward(self, x):
        x = self.features(x)
        return self.head(x.view(x.size(0), -1))


class Separable(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(8)
        self.depthwise = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.pointwise = nn.Conv2d(8, 16, 1)
        self.dilated = nn.Conv2d(16, 8, 3, padding=2, dilation=2)
        self.wide = nn.Conv2d(16, 8, (1, 3), padding=(0, 1))
        self.grouped = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.fc = nn.Linear(32, CLASSES)

    def forward(self, x):
        x = F.relu(self.bn0(self.stem(x)))
        x = F.relu(self.bn1(self.depthwise(x)))
        x = self.pointwise(x)
        x = x * torch.sigmoid(x)
        branches = [
            self.dilated(x),
            F.avg_pool2d(self.wide(x), 3, stride=1, padding=1, count_include_pad=False),
            F.avg_pool2d(self.grouped(x), 3, stride=1, padding=1, count_include_pad=True),
        ]
        x = F.relu(torch.cat(branches, dim=1))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


def seeded(net, name):
    """`net` in evaluation mode with the fixture's weights (seeded by its
    name), and the generator that then draws its inputs."""
    generator = torch.Generator().manual_seed(len(name))
    torch.manual_seed(len(name))
    for p in net.parameters():
        p.data = torch.randn(p.shape, generator=generator) * (1.0 / max(1, p[0].numel()) ** 0.5)
    randomize_batch_norms(net, generator)
    return net.eval(), generator


def export(net, name, opset, out, dynamic):
    net, generator = seeded(net, name)
    inputs = torch.rand((BATCH, *SHAPE), generator=generator)
    with torch.no_grad():
        logits = net(inputs)
    example = inputs[:1] if not dynamic else inputs
    path = out / f"{name}.onnx"
    kwargs = {"dynamic_axes": {"input": {0: "batch"}, "logits": {0: "batch"}}} if dynamic else {}
    torch.onnx.export(
        net, (example,), path, input_names=["input"], output_names=["logits"], opset_version=opset, dynamo=False,
        **kwargs,
    )
    write_expected(path, inputs, logits, fixed_batch=not dynamic)


def write_expected(path, inputs, logits, fixed_batch):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rows = [inputs[i : i + 1] for i in range(len(inputs))] if fixed_batch else [inputs]
    ours = np.concatenate([session.run(None, {"input": r.numpy()})[0] for r in rows])
    assert np.allclose(ours, logits.numpy(), atol=1e-5), f"{path}: onnxruntime disagrees with PyTorch"
    expected = {
        "input_shape": list(inputs.shape),
        "inputs": inputs.flatten().tolist(),
        "logits": logits.tolist(),
    }
    path.with_suffix(".json").write_text(json.dumps(expected))
    print(f"{path}: {path.stat().st_size} bytes")


def save_graph(nodes, initializers, name, opset, out):
    """Writes `out/<name>.onnx`: `nodes` from "input" (a batch of digits) to
    "logits", of that opset, checked; returns its path."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *SHAPE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    path = out / f"{name}.onnx"
    onnx.save(model, path)
    return path


def gemm_fixture(out):
    """Conv, Relu, Flatten, MatMul + Add, Sigmoid, Sub, Mul and Div of
    tensors, Add of a constant and a tensor, Gemm with transB = 0: ONNX's own spelling of a linear layer, which
    PyTorch's exporter never writes."""
    rng = np.random.default_rng(15)
    f = lambda *shape: (rng.standard_normal(shape) * 0.3).astype(np.float32)
    conv_w, conv_b = f(4, 1, 3, 3), f(4)
    matmul_w, matmul_b = f(4 * 6 * 6, 24), f(24)
    gemm_b, gemm_c = f(24, CLASSES), f(CLASSES)
    scale = np.array([[[[2.5]]]], dtype=np.float32)
    initializers = [
        numpy_helper.from_array(a, n)
        for a, n in [
            (conv_w, "conv.weight"), (conv_b, "conv.bias"), (matmul_w, "fc1.weight"), (matmul_b, "fc1.bias"),
            (gemm_b, "fc2.weight"), (gemm_c, "fc2.bias"), (scale, "scale"), (np.ones(1, np.float32), "one"),
        ]
    ]
    nodes = [
        helper.make_node("Mul", ["input", "scale"], ["scaled"], name="scale"),
        helper.make_node("Conv", ["scaled", "conv.weight", "conv.bias"], ["conv"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("Flatten", ["relu"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "fc1.weight"], ["fc1"], name="fc1"),
        helper.make_node("Add", ["fc1", "fc1.bias"], ["fc1b"], name="fc1_bias"),
        helper.make_node("Sigmoid", ["fc1b"], ["gate"], name="sigmoid"),
        helper.make_node("Sub", ["fc1b", "gate"], ["diff"], name="sub"),
        helper.make_node("Mul", ["diff", "gate"], ["gated"], name="gated"),
        helper.make_node("Add", ["one", "gate"], ["denominator"], name="one_plus"),
        helper.make_node("Div", ["gated", "denominator"], ["ratio"], name="ratio"),
        helper.make_node(
            "Gemm", ["ratio", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=0, alpha=0.5, beta=2.0
        ),
    ]
    path = save_graph(nodes, initializers, "gemm", 15, out)

    inputs = torch.rand((BATCH, *SHAPE), generator=torch.Generator().manual_seed(15))
    t = torch.from_numpy
    x = F.relu(F.conv2d(inputs * t(scale), t(conv_w), t(conv_b))).flatten(1)
    x = x @ t(matmul_w) + t(matmul_b)
    gate = torch.sigmoid(x)
    x = (x - gate) * gate / (1 + gate)
    logits = 0.5 * (x @ t(gemm_b)) + 2.0 * t(gemm_c)
    write_expected(path, inputs, logits, fixed_batch=False)


def dropout_fixture(out):
    """Flatten, Gemm, Relu, Dropout (ratio 0.3, nothing at inference),
    Gemm: the dropout csrs applies when it trains the network."""
    rng = np.random.default_rng(17)
    f = lambda *shape: (rng.standard_normal(shape) * 0.2).astype(np.float32)
    fc1_w, fc1_b, fc2_w, fc2_b = f(32, 64), f(32), f(CLASSES, 32), f(CLASSES)
    initializers = [
        numpy_helper.from_array(a, n)
        for a, n in [
            (fc1_w, "fc1.weight"), (fc1_b, "fc1.bias"), (fc2_w, "fc2.weight"), (fc2_b, "fc2.bias"),
            (np.array(0.3, np.float32), "ratio"),
        ]
    ]
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc1.weight", "fc1.bias"], ["fc1"], name="fc1", transB=1),
        helper.make_node("Relu", ["fc1"], ["relu"], name="relu"),
        helper.make_node("Dropout", ["relu", "ratio"], ["dropped"], name="dropout"),
        helper.make_node("Gemm", ["dropped", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
    ]
    path = save_graph(nodes, initializers, "dropout", 17, out)

    inputs = torch.rand((BATCH, *SHAPE), generator=torch.Generator().manual_seed(17))
    t = torch.from_numpy
    logits = F.relu(inputs.flatten(1) @ t(fc1_w).T + t(fc1_b)) @ t(fc2_w).T + t(fc2_b)
    write_expected(path, inputs, logits, fixed_batch=False)


def refused_fixtures(out):
    """Small files csrs must refuse, each for one reason: an operator it
    does not run (Tanh), an attribute it does not support (MaxPool with
    ceil_mode), a shape it does not support (Concat on the width), and
    weights that are not numbers (a NaN in a convolution's)."""
    rng = np.random.default_rng(3)
    weight = (rng.standard_normal((4, 1, 3, 3)) * 0.3).astype(np.float32)
    fc = (rng.standard_normal((CLASSES, 4 * 6 * 6)) * 0.1).astype(np.float32)

    def save(name, nodes, initializers):
        graph = helper.make_graph(
            nodes,
            name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *SHAPE])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)],
            [numpy_helper.from_array(a, n) for n, a in initializers.items()],
        )
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), out / f"{name}.onnx")

    head = [
        helper.make_node("Flatten", ["features"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight"], ["logits"], name="fc", transB=1),
    ]
    conv = helper.make_node("Conv", ["input", "conv.weight"], ["conv"], name="conv", kernel_shape=[3, 3])
    save(
        "refused_operator",
        [conv, helper.make_node("Tanh", ["conv"], ["features"], name="squash")] + head,
        {"conv.weight": weight, "fc.weight": fc},
    )
    save(
        "refused_attribute",
        [
            helper.make_node("Conv", ["input", "conv.weight"], ["conv"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("MaxPool", ["conv"], ["features"], name="pool", kernel_shape=[3, 3], strides=[1, 1], ceil_mode=1),
        ]
        + head,
        {"conv.weight": weight, "fc.weight": (rng.standard_normal((CLASSES, 4 * 6 * 6)) * 0.1).astype(np.float32)},
    )
    save(
        "refused_shape",
        [
            conv,
            helper.make_node("Concat", ["conv", "conv"], ["wide"], name="side_by_side", axis=3),
            helper.make_node("Flatten", ["wide"], ["flat"], name="flatten", axis=1),
            helper.make_node("Gemm", ["flat", "fc.weight"], ["logits"], name="fc", transB=1),
        ],
        {"conv.weight": weight, "fc.weight": (rng.standard_normal((CLASSES, 4 * 6 * 12)) * 0.1).astype(np.float32)},
    )
    nan = weight.copy()
    nan[2, 0, 1, 1] = np.nan
    save(
        "refused_nan",
        [conv, helper.make_node("Relu", ["conv"], ["features"], name="relu")] + head,
        {"conv.weight": nan, "fc.weight": fc},
    )


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    export(WideResNet(), "wrn16_4", 13, out, dynamic=True)
    export(Vgg(), "vgg", 17, out, dynamic=False)
    export(Separable(), "separable", 18, out, dynamic=True)
    gemm_fixture(out)
    dropout_fixture(out)
    # The same network with its weights in a file beside it, as models over
    # protobuf's 2 GiB are saved.
    separable = onnx.load(out / "separable.onnx")
    onnx.save_model(
        separable, out / "separable_external.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
        location="separable_external.data", size_threshold=0,
    )
    refused_fixtures(out)


if __name__ == "__main__":
    main()
