"""Loads a safetensors file written by `csrs model export` into the PyTorch
network of the same layout, strictly (every key, every shape), and compares
its logits with reference logits: csrs's (`csrs model logits`) or PyTorch's
own from before the import.

Usage: python3 scripts/check_export.py MODEL.safetensors INPUTS.json LOGITS.json [TOLERANCE]

INPUTS.json holds {"input_shape": [b, c, h, w], "inputs": [...]} (pixels in
[0, 1]); LOGITS.json holds {"logits": [[...], ...]}. The architecture, the
class count and the normalisation come from the file's metadata. Exits 1 when
the largest absolute difference exceeds TOLERANCE (default 1e-4).
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


class BasicBlock(nn.Module):
    """The CIFAR ResNet block of the "bearpaw" layout (Cohen et al., MACER)."""

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, inplanes = [], 16
        for planes, stride in [(16, 1), (32, 2), (64, 2)]:
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(inplanes, planes, stride if i == 0 else 1))
                inplanes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.avg_pool2d(x, 8).flatten(1))


class LeNet5(nn.Module):
    def __init__(self, channels, size, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 6, 5, padding=(32 - size) // 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


class DigitsCnn(nn.Module):
    def __init__(self, channels, num_classes):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(channels, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(32 * 4 * 4, 64), nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class Mlp(nn.Module):
    def __init__(self, inputs, num_classes):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(inputs, 256), nn.Linear(256, 256), nn.Linear(256, num_classes)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


def network(arch, shape, m):
    c, h, w = shape
    if arch.startswith("cifar-resnet"):
        return CifarResNet(int(arch.removeprefix("cifar-resnet")), m)
    if arch in ("resnet18", "resnet50"):
        import torchvision

        return getattr(torchvision.models, arch)(num_classes=m)
    if arch == "lenet5":
        return LeNet5(c, h, m)
    if arch == "digits-cnn":
        return DigitsCnn(c, m)
    if arch == "mlp":
        return Mlp(c * h * w, m)
    sys.exit(f"check_export: unknown architecture {arch}")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    model_path, inputs_path, logits_path = sys.argv[1:4]
    tolerance = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-4
    with safe_open(model_path, "pt") as f:
        meta = f.metadata()
    shape = json.loads(meta["input_shape"])
    shape = [int(d) for d in shape]
    net = network(meta["architecture"], shape, int(meta["n_classes"]))
    net.load_state_dict(load_file(model_path), strict=True)
    net.eval()
    with open(inputs_path) as f:
        given = json.load(f)
    x = torch.tensor(given["inputs"], dtype=torch.float32).reshape(given["input_shape"])
    mean = torch.tensor(json.loads(meta["mean"])).reshape(1, -1, 1, 1)
    std = torch.tensor(json.loads(meta["std"])).reshape(1, -1, 1, 1)
    with torch.no_grad():
        ours = net((x - mean) / std).double()
    with open(logits_path) as f:
        reference = torch.tensor(json.load(f)["logits"], dtype=torch.float64)
    difference = (ours - reference).abs().max().item()
    verdict = "ok" if difference <= tolerance else "FAILED"
    print(f"check_export {meta['architecture']} {model_path}: strict load ok, max |logit difference| = {difference:.2e} "
          f"(tolerance {tolerance:g}) {verdict}")
    sys.exit(0 if verdict == "ok" else 1)


if __name__ == "__main__":
    main()
