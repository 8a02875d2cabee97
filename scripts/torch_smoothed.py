"""csrs.torch over a PyTorch model, outside CI (it needs torch).

    python3 scripts/torch_smoothed.py check [cpu|cuda]
    python3 scripts/torch_smoothed.py bench [cpu|cuda] [resnet20|resnet110] [n] [inputs] [batch]

`check` certifies with an untrained CIFAR ResNet-20 on the device (on a
GPU, with the noise drawn there by torch; on the CPU, csrs's noise): the
same certificates at any batch size, early stopping, records of
certify_dataset read back, bad labels refused, sound noise drawn by csrs. `bench` compares, in one run on one
machine, csrs.torch.Smoothed with Cohen et al.'s certify loop on the same
model (repeat the input, add torch.randn noise, forward, arg-max, count on
the host; then the Clopper-Pearson bound): samples/s at n draws per input,
and decisions "certified at R?" per second with target_radius (best of
three alternating rounds each).
"""

import math
import os
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_sampling import CifarResNet  # noqa: E402

import csrs  # noqa: E402
import csrs.torch  # noqa: E402

SIGMA = 0.25
#: Alternating timing rounds of the two loops.
ROUNDS = 3


def model_on(device, depth=20):
    torch.manual_seed(0)
    return CifarResNet(depth).eval().to(device)


def cohen_counts(model, x, num, batch, device, m=10):
    """The reference implementation's sampling loop."""
    with torch.no_grad():
        counts = np.zeros(m, dtype=int)
        for _ in range(math.ceil(num / batch)):
            this = min(batch, num)
            num -= this
            copies = x.repeat((this, 1, 1, 1))
            noise = torch.randn_like(copies, device=device) * SIGMA
            predictions = model(copies + noise).argmax(1)
            counts += np.bincount(predictions.cpu().numpy(), minlength=m)
        return counts


def cohen_certify(model, x, n0, n, alpha, batch, device):
    """CERTIFY as the reference code does it, its bound from csrs (the same
    Clopper-Pearson bound; the loop is what is timed)."""
    selection = cohen_counts(model, x, n0, batch, device)
    estimation = cohen_counts(model, x, n, batch, device)
    top = int(selection.argmax())
    return csrs.certify_counts(
        [int(c) for c in selection], [int(c) for c in estimation], label=top, sigma=SIGMA, alpha=alpha
    )


def check(device):
    model = model_on(device)
    smoothed = csrs.torch.Smoothed(model, num_classes=10, sigma=SIGMA, device=device, seed=1)
    x = torch.rand(3, 32, 32)
    results = [smoothed.certify(x, 0, n0=100, n=1_000, alpha=0.001, batch=b) for b in (100, 300, 1_000)]
    assert results[0] == results[1] == results[2], results
    assert results[0]["draws"] == 1_000
    early = smoothed.certify(x, 0, n0=100, n=100_000, alpha=0.001, batch=400, target_radius=0.1)
    print("certificate:", results[0])
    print("early stopping at R = 0.1:", early)
    inputs = torch.rand(6, 3, 32, 32)
    labels = torch.arange(6) % 10
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "records.tsv")
        rows = smoothed.certify_dataset(inputs, labels, out=out, n0=100, n=500, alpha=0.001, batch=300)
        assert csrs.report.read_records(out) == rows and len(rows) == 6
        one = smoothed.certify(inputs[2], 2, n0=100, n=500, alpha=0.001, batch=500, example=2)
        assert one["p_lower"] == rows[2]["p_lower"], (one, rows[2])
        print(csrs.report.table(out, radii=[0.0, 0.1]))
    try:
        csrs.torch.Smoothed(model, num_classes=10, sigma=SIGMA, device=device).certify(x, 12, n0=1, n=1, alpha=0.1, batch=1)
        raise AssertionError("label 12 of 10 classes was not refused")
    except ValueError as err:
        print("refused:", err)
    assert smoothed.draws_on_device == (device == "cuda")
    sound = csrs.torch.Smoothed(model, num_classes=10, sigma=SIGMA, device=device, noise="sound")
    assert not sound.draws_on_device and sound.noise == "sound"
    print("sound:", sound.certify(x, 0, n0=100, n=500, alpha=0.001, batch=500))
    print("check passed on", device)


def bench(device, arch, n, inputs, batch):
    model = model_on(device, int(arch.replace("resnet", "")))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    xs = torch.rand(inputs, 3, 32, 32, device=device)
    n0, alpha = 100, 0.001
    smoothed = csrs.torch.Smoothed(model, num_classes=10, sigma=SIGMA, device=device, seed=0)
    # Warm-up of both.
    cohen_certify(model, xs[0], n0, batch, alpha, batch, device)
    smoothed.certify(xs[0], 0, n0=n0, n=batch, alpha=alpha, batch=batch)
    sync()
    # Alternating rounds, best of each: the machine's load varies.
    cohen = ours = math.inf
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for x in xs:
            cohen_certify(model, x, n0, n, alpha, batch, device)
        sync()
        cohen = min(cohen, time.perf_counter() - start)
        start = time.perf_counter()
        for i, x in enumerate(xs):
            smoothed.certify(x, 0, n0=n0, n=n, alpha=alpha, batch=batch, example=i)
        sync()
        ours = min(ours, time.perf_counter() - start)
    samples = inputs * (n0 + n)
    print(
        f"{arch} {device} torch{torch.__version__} threads={torch.get_num_threads()} batch={batch} n={n} inputs={inputs}\n"
        f"  Cohen loop      {samples / cohen:10.0f} samples/s  {inputs / cohen:8.3f} decisions/s\n"
        f"  csrs.torch      {samples / ours:10.0f} samples/s  {inputs / ours:8.3f} decisions/s  ({cohen / ours:.2f}x samples/s)"
    )
    # "Certified at R?" in rounds: an easy radius and one that takes many
    # draws to decide (sigma * Phi^-1(p) = R needs p near 1 at 3 sigma).
    for radius in (SIGMA, 2 * SIGMA, 3 * SIGMA):
        start = time.perf_counter()
        draws = []
        for i, x in enumerate(xs):
            answer = smoothed.certify(x, 0, n0=n0, n=n, alpha=alpha, batch=batch, target_radius=radius, example=i)
            draws.append(answer["draws"])
        sync()
        rounds = time.perf_counter() - start
        print(
            f"  csrs.torch R={radius:<5} {inputs / rounds:8.3f} decisions/s ({cohen / rounds:.1f}x Cohen), "
            f"estimation draws per input {draws}"
        )


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "check"
    device = sys.argv[2] if len(sys.argv) > 2 else "cpu"
    if mode == "check":
        check(device)
    else:
        arch = sys.argv[3] if len(sys.argv) > 3 else "resnet20"
        n = int(sys.argv[4]) if len(sys.argv) > 4 else 10_000
        count = int(sys.argv[5]) if len(sys.argv) > 5 else 3
        batch = int(sys.argv[6]) if len(sys.argv) > 6 else 400
        bench(device, arch, n, count, batch)
