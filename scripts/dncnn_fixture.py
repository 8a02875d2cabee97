"""Writes the DnCNN fixture of crates/csrs-models/tests/data/pytorch: a
small DnCNN in Salman et al.'s layout (their `DnCNN` of depth 4, 8 channels,
1 image channel: `dncnn.0` a convolution with a bias, then blocks of a
convolution without one, batch norm of epsilon 1e-4 and ReLU, and a last
convolution; the output is the input minus the layers'), saved as their
training script saves a denoiser, `{"epoch", "arch", "state_dict",
"optimizer"}`, with batch-norm statistics away from 0 and 1, and the
images it makes of four inputs in evaluation mode.

Usage: python3 scripts/dncnn_fixture.py OUT_DIR
"""
import json
import os
import sys

import torch
from torch import nn


class DnCNN(nn.Module):
    def __init__(self, depth, n_channels, image_channels):
        super().__init__()
        layers = [nn.Conv2d(image_channels, n_channels, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [
                nn.Conv2d(n_channels, n_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(n_channels, eps=0.0001, momentum=0.95),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.Conv2d(n_channels, image_channels, 3, padding=1, bias=False))
        self.dncnn = nn.Sequential(*layers)

    def forward(self, x):
        return x - self.dncnn(x)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    torch.manual_seed(0)
    model = DnCNN(depth=4, n_channels=8, image_channels=1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    model.eval()
    inputs = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        outputs = model(inputs)
    checkpoint = {"epoch": 3, "arch": "cifar_dncnn", "state_dict": model.state_dict(), "optimizer": {}}
    torch.save(checkpoint, os.path.join(out, "dncnn_salman_format.pth.tar"))
    with open(os.path.join(out, "dncnn_expected.json"), "w") as f:
        json.dump(
            {"input_shape": list(inputs.shape), "inputs": inputs.flatten().tolist(), "outputs": outputs.flatten().tolist()},
            f,
        )


if __name__ == "__main__":
    main()
