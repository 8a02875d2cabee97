"""Saves the CIFAR ResNet-20 fixture in the other ways PyTorch users have
checkpoints on disk, imports each with csrs and compares the logits with
PyTorch's (to 1e-4):

- PyTorch's legacy (pre-1.6, non-zip) format, as Cohen et al.'s published
  models were saved, with the optimizer's state beside the weights;
- {"state_dict": ...} with keys prefixed `module.` (DataParallel, no
  normalisation layer);
- a bare state dict.

Usage: python3 scripts/check_pytorch_layouts.py CSRS FIXTURE_DIR OUT_DIR
Exits 1 when any check fails.
"""
import json
import os
import subprocess
import sys

import torch


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    csrs, fixtures, out = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    expected_path = os.path.join(fixtures, "cifar_resnet20_expected.json")
    with open(expected_path) as f:
        expected = torch.tensor(json.load(f)["logits"], dtype=torch.float64)
    net = torch.load(os.path.join(fixtures, "cifar_resnet20_macer_format.pth"), map_location="cpu")["net"]
    bare = {k.removeprefix("1."): v for k, v in net.items()}
    optimizer = {
        "state": {i: {"momentum_buffer": torch.randn_like(v)} for i, v in enumerate(bare.values()) if v.is_floating_point()},
        "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": list(range(len(bare)))}],
    }
    variants = {
        "legacy_cohen.pth.tar": (
            {"epoch": 90, "arch": "cifar_resnet20", "optimizer": optimizer,
             "state_dict": {f"1.module.{k}": v for k, v in bare.items()}},
            False,
        ),
        "module_state_dict.pth": ({"state_dict": {f"module.{k}": v for k, v in bare.items()}}, True),
        "bare.pt": (bare, True),
    }
    failed = 0
    for name, (content, zipfile) in variants.items():
        path = os.path.join(out, name)
        torch.save(content, path, _use_new_zipfile_serialization=zipfile)
        run = subprocess.run(
            [csrs, "model", "logits", path, "--arch", "cifar-resnet20", "--dataset", "cifar10", "--inputs", expected_path],
            capture_output=True, text=True,
        )
        if run.returncode != 0:
            print(f"check_pytorch_layouts {name}: csrs failed: {run.stderr.strip()} FAILED")
            failed += 1
            continue
        ours = torch.tensor(json.loads(run.stdout)["logits"], dtype=torch.float64)
        difference = (ours - expected).abs().max().item()
        verdict = "ok" if difference < 1e-4 else "FAILED"
        failed += verdict != "ok"
        print(f"check_pytorch_layouts {name}: max |logit difference| = {difference:.2e} {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
