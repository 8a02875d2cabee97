"""`csrs model export --format onnx` against onnxruntime: every file csrs
writes must compute csrs's own logits in onnxruntime, to 1e-4 (the largest
absolute difference).

Models checked, each exported with `csrs model export CHECKPOINT --format onnx`:

- every built-in architecture (mlp, lenet5, digits-cnn, cifar-resnet20/32/44/
  56/110, resnet18, resnet50), as `csrs model init` makes it (random weights,
  seed 0), for the dataset that sets its input shape, classes and
  normalisation (digits, mnist-5k, cifar10, imagenette; no data is read);
- networks after one epoch of `csrs train` with the gaussian objective
  (`model = "<start>"`), so that their weights and batch-norm statistics have
  moved away from where they started: the ONNX fixtures of
  crates/csrs-onnx/tests/data (wrn16_4, vgg, separable, gemm, dropout: 1x8x8 inputs,
  10 classes) and digits-cnn, on digits; cifar-resnet20 and resnet50 (32x32),
  whose batch norm an initialised checkpoint leaves at mean 0, variance 1,
  scale 1 and shift 0, on a small CIFAR-10 of random images the script writes
  (160 training images, in CIFAR's binary version), at a lower learning rate.

For each model, three images of its input shape, uniform in [0, 1] (a fixed
numpy seed), are written as {"input_shape": [...], "inputs": [...]}, and
compared:

- csrs's logits on the checkpoint (`csrs model logits CHECKPOINT --inputs`)
  with onnxruntime's on the exported file (an InferenceSession on the CPU);
- csrs's logits on the checkpoint with csrs's on the exported file itself
  (`csrs model logits FILE.onnx`), the round trip.

With the onnx package installed, each exported file also goes through
`onnx.checker.check_model(..., full_check=True)`. The table also gives the
largest |logit| (the scale the absolute differences are read against) and,
for the trained models, how far training moved the logits from those of the
network it started from (it must have moved them, or the row checks nothing
new).

A markdown table is printed; the exit status is 1 when any difference exceeds
1e-4, a file fails the checker, a step fails, or training left a network
unchanged.

    python3 -m venv .venv && .venv/bin/pip install onnxruntime onnx numpy
    .venv/bin/python scripts/onnx_export_check.py CSRS [WORK_DIR]

CSRS is the csrs binary (e.g. target/release/csrs); the checkpoints, exported
files and inputs go to WORK_DIR (kept), or to a temporary directory removed at
the end. resnet50 at 224x224 is the slow one, most of all with a debug build.
It needs onnxruntime and numpy (onnx is optional), not torch; CI does not run
it.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).parent))
from builtin_architectures import ARCHITECTURES  # noqa: E402

try:
    import onnx
except ImportError:  # the checker is optional
    onnx = None

TOLERANCE = 1e-4
SEED = 0
BATCH = 3
FIXTURES = Path(__file__).resolve().parent.parent / "crates" / "csrs-onnx" / "tests" / "data"

# Networks trained for one epoch before they are exported, and the dataset of
# their training: the ONNX fixtures and digits-cnn on digits; two built-ins
# with batch norm (of each block kind: basic with a 1x1 shortcut, bottleneck
# behind a max-pooled stem) on a small CIFAR-10 of random images written for
# this check (CIFAR's binary version), as the real one would take too long.
# Built-ins start from a `model init` checkpoint (seed 0) for that dataset.
# The learning rate is lower on random images: at 0.05, resnet50's batch norm
# ends with running statistics far from those of evaluation-mode inputs and
# logits of about 1e8, where float32 alone differs by more than 1e-4.
TRAINED = [
    ("wrn16_4", "fixture", "digits", 0.05),
    ("vgg", "fixture", "digits", 0.05),
    ("separable", "fixture", "digits", 0.05),
    ("gemm", "fixture", "digits", 0.05),
    ("dropout", "fixture", "digits", 0.05),
    ("digits-cnn", "builtin", "digits", 0.05),
    ("cifar-resnet20", "builtin", "cifar10", 0.01),
    ("resnet50", "builtin", "cifar10", 0.01),
]
RANDOM_CIFAR_IMAGES = 32  # per file: 5 training files and a test file

TRAIN_CONFIG = """\
description = "one epoch of {name} on {dataset}, before its ONNX export is checked"
dataset = "{dataset}"
{data_dir}model = "{model}"
out = "{out}"
sigma = 0.25
epochs = 1
batch_size = 64
seed = 0
optimizer = {{ kind = "sgd", lr = {lr}, momentum = 0.9, weight_decay = 5e-4 }}
schedule = {{ kind = "multistep", milestones = [20, 25], gamma = 0.1 }}

[objective]
method = "gaussian"
"""


def random_cifar10(folder):
    """A CIFAR-10 in the binary version (records of a label byte and 3x32x32
    pixel bytes) of random images and labels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, (RANDOM_CIFAR_IMAGES, 1))
        pixels = rng.integers(0, 256, (RANDOM_CIFAR_IMAGES, 3 * 32 * 32))
        (folder / name).write_bytes(np.concatenate([labels, pixels], axis=1).astype(np.uint8).tobytes())
    return folder


class StepFailed(Exception):
    pass


def run(cmd, cwd):
    """Runs a csrs command; its stdout, or StepFailed with its last message."""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise StepFailed(f"`{' '.join(str(c) for c in cmd[1:3])}` exited {proc.returncode}: {lines[-1] if lines else ''}")
    return proc.stdout


def csrs_logits(csrs, model, inputs, cwd):
    out = run([csrs, "model", "logits", model, "--inputs", inputs], cwd)
    return np.asarray(json.loads(out)["logits"], dtype=np.float64)


def varint(buf, i):
    value, shift = 0, 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def fields(buf):
    """The top-level (field number, wire type, value) of a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            length, i = varint(buf, i)
            value, i = buf[i:i + length], i + length
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"protobuf wire type {wire} at byte {i}")
        yield number, wire, value


def opset(path):
    """The default domain's opset of an ONNX file, read from its ModelProto
    (field 8, OperatorSetIdProto: domain 1, version 2) without the onnx
    package."""
    for number, wire, value in fields(Path(path).read_bytes()):
        if number == 8 and wire == 2:
            domain, version = "", None
            for sub, sub_wire, sub_value in fields(value):
                if sub == 1 and sub_wire == 2:
                    domain = bytes(sub_value).decode()
                elif sub == 2 and sub_wire == 0:
                    version = sub_value
            if domain in ("", "ai.onnx"):
                return version
    return None


def empty_row(name, what, errors):
    return {"model": name, "what": what, "opset": "-", "ort": None, "round": None, "scale": None,
            "checker": "-", "moved": None, "errors": errors, "pass": False}


def check(csrs, work, name, what, checkpoint, start=None):
    """Exports `checkpoint` and compares the logits; one row of the table.
    `start`: the network training started from, whose logits must differ."""
    row = empty_row(name, what, [])
    try:
        exported = work / f"{Path(checkpoint).name}.onnx"
        run([csrs, "model", "export", checkpoint, "--format", "onnx", "--out", exported, "--force"], work)
        row["opset"] = opset(exported)
        if row["opset"] != 17:
            row["errors"].append(f"opset {row['opset']}, expected 17")

        session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
        feed = session.get_inputs()[0]
        if isinstance(feed.shape[0], int):
            row["errors"].append(f"batch dimension fixed at {feed.shape[0]}, expected a dynamic one")
        shape = [BATCH] + [int(d) for d in feed.shape[1:]]
        x = np.random.default_rng(SEED).random(shape, dtype=np.float32)
        inputs = work / f"{Path(checkpoint).name}.inputs.json"
        inputs.write_text(json.dumps({"input_shape": shape, "inputs": x.ravel().tolist()}))

        ours = csrs_logits(csrs, checkpoint, inputs, work)
        row["scale"] = float(np.abs(ours).max())
        theirs = np.asarray(session.run(None, {feed.name: x})[0], dtype=np.float64)
        back = csrs_logits(csrs, exported, inputs, work)
        for label, other in [("onnxruntime", theirs), ("csrs on the exported file", back)]:
            if other.shape != ours.shape:
                row["errors"].append(f"{label}'s logits are {list(other.shape)}, csrs's {list(ours.shape)}")
        if theirs.shape == ours.shape:
            row["ort"] = float(np.abs(ours - theirs).max())
        if back.shape == ours.shape:
            row["round"] = float(np.abs(ours - back).max())
        if not (np.isfinite(ours).all() and np.isfinite(theirs).all()):
            row["errors"].append("logits that are not finite")

        if start is not None:
            before = csrs_logits(csrs, start, inputs, work)
            if before.shape == ours.shape:
                row["moved"] = float(np.abs(ours - before).max())
                if not row["moved"] > 0:
                    row["errors"].append("training left the logits where they were")

        if onnx is not None:
            try:
                onnx.checker.check_model(onnx.load(str(exported)), full_check=True)
                row["checker"] = "ok"
            except Exception as error:  # any complaint of the checker is a failure
                row["checker"] = "failed"
                row["errors"].append(f"onnx.checker: {str(error).strip().splitlines()[0]}")
    except StepFailed as error:
        row["errors"].append(str(error))
    except Exception as error:  # onnxruntime's own errors, reported in the model's row
        message = str(error).strip().splitlines()
        row["errors"].append(f"{type(error).__name__}: {message[0] if message else ''}")
    for key, label in [("ort", "csrs - onnxruntime"), ("round", "checkpoint - exported file")]:
        if row[key] is not None and not row[key] <= TOLERANCE:
            row["errors"].append(f"max |{label}| {row[key]:.3g} > {TOLERANCE:g}")
    row["pass"] = not row["errors"] and row["ort"] is not None and row["round"] is not None
    status = "pass" if row["pass"] else "FAIL: " + "; ".join(row["errors"])
    print(f"{name} ({what}): {status}", file=sys.stderr, flush=True)
    return row


def number(value):
    return "-" if value is None else f"{value:.2e}"


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python scripts/onnx_export_check.py CSRS [WORK_DIR]")
    csrs = Path(sys.argv[1]).resolve()
    temporary = len(sys.argv) == 2
    work = Path(tempfile.mkdtemp(prefix="csrs-onnx-export-")) if temporary else Path(sys.argv[2]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for arch, dataset, classes in ARCHITECTURES:
            out = work / arch
            init = [csrs, "model", "init", "--arch", arch, "--dataset", dataset, "--out", out, "--seed", SEED, "--force"]
            try:
                run(init + (["--classes", classes] if classes else []), work)
            except StepFailed as error:
                rows.append(empty_row(arch, "initialised", [str(error)]))
                continue
            rows.append(check(csrs, work, arch, "initialised", out))

        cifar = None
        for name, source, dataset, lr in TRAINED:
            what = "trained 1 epoch" if dataset == "digits" else "trained 1 epoch (random CIFAR-10)"
            out = work / f"{name}-trained"
            config = work / f"{name}-trained.toml"
            data_dir = ""
            try:
                if source == "fixture":
                    start = FIXTURES / f"{name}.onnx"
                else:
                    start = work / f"{name}-{dataset}-initialised"
                    run([csrs, "model", "init", "--arch", name, "--dataset", dataset, "--out", start, "--seed", SEED,
                         "--force"], work)
                if dataset == "cifar10":
                    cifar = cifar or random_cifar10(work / "random-cifar10")
                    data_dir = f'data_dir = "{cifar.as_posix()}"\n'
                config.write_text(TRAIN_CONFIG.format(name=name, dataset=dataset, data_dir=data_dir, lr=lr,
                                                      model=start.as_posix(), out=out.as_posix()))
                run([csrs, "train", "--config", config, "--force"], work)
            except StepFailed as error:
                rows.append(empty_row(name, what, [str(error)]))
                continue
            rows.append(check(csrs, work, name, what, out, start=start))
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)

    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__ if onnx else 'not installed (checker not run)'}, "
          f"numpy {np.__version__}; tolerance {TOLERANCE:g}, {BATCH} inputs uniform in [0, 1], numpy seed {SEED}")
    print()
    print("| model | what | opset | max \\|csrs − onnxruntime\\| | max \\|csrs checkpoint − csrs on the exported file\\| "
          "| max \\|logit\\| | onnx.checker | training moved the logits by | result |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        result = "pass" if row["pass"] else "**FAIL**: " + "; ".join(row["errors"]).replace("|", "\\|")
        print(f"| {row['model']} | {row['what']} | {row['opset']} | {number(row['ort'])} | {number(row['round'])} "
              f"| {number(row['scale'])} | {row['checker']} | {number(row['moved'])} | {result} |")
    failed = [row["model"] + " (" + row["what"] + ")" for row in rows if not row["pass"]]
    print()
    print(f"{len(rows) - len(failed)} of {len(rows)} passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
