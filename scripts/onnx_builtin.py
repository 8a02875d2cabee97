"""Every csrs architecture out to ONNX and back: csrs makes a model
(`csrs model init`), exports its weights (`csrs model export`), PyTorch's
network of the same layout (scripts/check_export.py) loads them with the
normalisation in front and is exported to ONNX, and csrs reads that file
(`csrs model logits MODEL.onnx`): its logits must be csrs's own to 1e-4.

    python scripts/onnx_builtin.py CSRS OUT_DIR [--keep ARCH,...]

CSRS is the csrs binary. With --keep, the ONNX files of those architectures
are written to OUT_DIR with `<arch>.json` ({"input_shape", "inputs",
"logits"}: csrs's own logits), for the test that reads them back without
PyTorch (crates/csrs-onnx/tests/data/builtin).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parent))
from builtin_architectures import ARCHITECTURES  # noqa: E402
from check_export import network  # noqa: E402



class Normalized(torch.nn.Module):
    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).reshape(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).reshape(1, -1, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


def logits(csrs, model, inputs, cwd):
    run = subprocess.run([csrs, "model", "logits", model, "--inputs", inputs], cwd=cwd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"csrs model logits {model}: {run.stderr.strip()}")
    return torch.tensor(json.loads(run.stdout)["logits"], dtype=torch.float64)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    csrs, out = str(Path(sys.argv[1]).resolve()), Path(sys.argv[2]).resolve()
    keep = set(sys.argv[4].split(",")) if len(sys.argv) > 4 and sys.argv[3] == "--keep" else set()
    out.mkdir(parents=True, exist_ok=True)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for arch, dataset, classes in ARCHITECTURES:
            init = [csrs, "model", "init", "--arch", arch, "--dataset", dataset, "--out", arch, "--seed", "7"]
            if classes:
                init += ["--classes", classes]
            subprocess.run(init, cwd=tmp, check=True, capture_output=True)
            export = [csrs, "model", "export", arch, "--out", f"{arch}.safetensors"]
            subprocess.run(export, cwd=tmp, check=True, capture_output=True)
            weights = tmp / f"{arch}.safetensors"
            with safe_open(weights, "pt") as f:
                meta = f.metadata()
            shape = [int(d) for d in json.loads(meta["input_shape"])]
            net = network(arch, shape, int(meta["n_classes"]))
            net.load_state_dict(load_file(weights), strict=True)
            net = Normalized(net, json.loads(meta["mean"]), json.loads(meta["std"])).eval()
            onnx_path = (out if arch in keep else tmp) / f"{arch}.onnx"
            torch.onnx.export(
                net, (torch.rand(1, *shape),), onnx_path, input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
            )
            x = torch.rand((2, *shape), generator=torch.Generator().manual_seed(len(arch)))
            inputs = tmp / f"{arch}.inputs.json"
            inputs.write_text(json.dumps({"input_shape": list(x.shape), "inputs": x.flatten().tolist()}))
            own = logits(csrs, arch, str(inputs), tmp)
            read = logits(csrs, str(onnx_path), str(inputs), tmp)
            difference = (own - read).abs().max().item()
            verdict = "ok" if difference <= 1e-4 else "FAILED"
            failed |= verdict != "ok"
            print(f"{arch}: {onnx_path.stat().st_size} bytes of ONNX, max |logit difference| = {difference:.2e} {verdict}")
            if arch in keep:
                expected = {"input_shape": list(x.shape), "inputs": x.flatten().tolist(), "logits": own.tolist()}
                (out / f"{arch}.json").write_text(json.dumps(expected))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
