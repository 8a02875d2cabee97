"""One training epoch in PyTorch, the counterpart of `csrs train` for timing.

    python3 scripts/torch_train.py METHOD DEVICE [IMAGES] [--amp] [--depth D]

METHOD is `gaussian` or `macer-cs`, DEVICE `cpu` or `cuda`, IMAGES the size
of a synthetic CIFAR-shaped training set (default 5000: pixels on the 1/255
grid in [0, 1], label i % 10, fixed seed). `--amp` runs the forward pass
under bf16 autocast (the loss in f32); `--depth` trains another CIFAR
ResNet than the configurations' 110 (a smoke test on a CPU uses 20).

It trains CIFAR ResNet-110 (scripts/torch_sampling.py, with CIFAR-10's
normalisation in front, as csrs's classifier has it) with the objective and
hyperparameters of configs/train/cifar10-gaussian.toml or
configs/train/cifar10-macer-cs.toml (read from those files; cost matrix
configs/costs/cifar10-seed-cat.toml), written after crates/csrs-train/src
(loss.rs, trainer.rs, noise.rs, augment.rs) and SPEC §5: the same loss
terms and reductions, k noisy copies per image in one forward pass, crop
and flip, SGD with momentum and weight decay. After one untimed warm-up
step it times one epoch (shuffled with a fixed seed, the last partial batch
included, CUDA synchronised before the clock is read) and prints

    torch-train METHOD DEVICE resnetD images=N batch=64 seconds=S images_per_s=R torch=VERSION

The weights are untrained and initialised as PyTorch does: speed only.
"""

import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from torch_sampling import CifarResNet  # noqa: E402

CONFIGS = {
    "gaussian": "configs/train/cifar10-gaussian.toml",
    "macer-cs": "configs/train/cifar10-macer-cs.toml",
}
#: What the configurations say, for a Python without a TOML reader (< 3.11
#: and no tomli): the same numbers.
FALLBACK = {
    "gaussian": {"sigma": 0.25, "batch_size": 64, "seed": 0,
                 "optimizer": {"kind": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4},
                 "objective": {"method": "gaussian"}},
    "macer-cs": {"sigma": 0.25, "batch_size": 64, "seed": 0, "cost": "configs/costs/cifar10-seed-cat.toml",
                 "optimizer": {"kind": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4},
                 "objective": {"method": "macer", "noise_copies": 16, "beta": 16.0, "lambda": 3.0, "gamma": 4.0,
                               "cost_sensitive": {"gamma_sensitive": 16.0}}},
}
FALLBACK_COSTS = {"kind": "seedwise", "n_classes": 10, "seeds": [3]}
#: CIFAR-10's per-channel normalisation (crates/csrs-data, DatasetName::normalization).
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
N_CLASSES = 10
#: Zero padding before the random crop (augment.rs).
PADDING = 4


def read_toml(relative, fallback):
    try:
        import tomllib
    except ImportError:
        try:
            import tomli as tomllib
        except ImportError:
            print(f"torch_train: no TOML reader; using the numbers of {relative} written here", file=sys.stderr)
            return fallback
    with open(os.path.join(ROOT, relative), "rb") as f:
        return tomllib.load(f)


def cost_matrix(spec):
    """The cost matrix of a cost file (kinds of crates/csrs-cost/src/toml_spec.rs)."""
    names = spec.get("classes")
    m = len(names) if names else spec.get("n_classes", N_CLASSES)
    index = lambda c: names.index(c) if isinstance(c, str) else int(c)  # noqa: E731
    c = torch.zeros(m, m)
    kind = spec["kind"]
    if kind in ("standard", "seedwise"):
        for s in range(m) if kind == "standard" else map(index, spec["seeds"]):
            c[s] = 1.0
            c[s, s] = 0.0
    elif kind == "pairwise":
        for a, b in spec["pairs"]:
            c[index(a), index(b)] = 1.0
    else:
        c = torch.tensor(spec["rows"], dtype=torch.float32)
    return c


class Normalize(nn.Module):
    """(x - mean) / std per channel, part of csrs's classifier (classifier.rs)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def crop_and_flip(x, gen):
    """augment.rs: each image shifted by up to PADDING pixels each way (zeros
    shifted in) and mirrored with probability 1/2. csrs does this per image on
    the host while it builds the batch; here, on the batch's device in one
    gather."""
    b, c, h, w = x.shape
    dev = x.device
    dy = torch.randint(-PADDING, PADDING + 1, (b,), generator=gen).to(dev)
    dx = torch.randint(-PADDING, PADDING + 1, (b,), generator=gen).to(dev)
    flip = (torch.randint(0, 2, (b,), generator=gen) == 1).to(dev)
    padded = F.pad(x, (PADDING,) * 4)
    ys, xs = torch.arange(h, device=dev), torch.arange(w, device=dev)
    rows = ys[None, :] + dy[:, None] + PADDING
    cols = torch.where(flip[:, None], w - 1 - xs[None, :], xs[None, :]) + dx[:, None] + PADDING
    i = torch.arange(b, device=dev)[:, None, None, None]
    ch = torch.arange(c, device=dev)[None, :, None, None]
    return padded[i, ch, rows[:, None, :, None], cols[:, None, None, :]]


def safe_icdf(p):
    """loss.rs safe_icdf: Phi^-1(p) where 0 < p < 1, and whether it was; the
    placeholder 1/2 keeps NaN out of the gradients (margins from p of 0 or 1
    are skipped, SPEC §5). csrs computes Phi^-1 with Acklam's approximation
    and a Newton step, gradient 1/phi (normal.rs); ndtri is the same function
    to f32 precision, with the same gradient."""
    inside = (p > 0) & (p < 1)
    return torch.special.ndtri(torch.where(inside, p, torch.full_like(p, 0.5))), inside


def hinge_sum(margin, mask, sigma, gamma):
    """loss.rs hinge_sum: sum over the selected examples of (sigma/2)(gamma - margin)."""
    return ((gamma - margin) * (sigma / 2.0) * mask.float()).sum()


def macer_margin(p_beta, labels, gamma):
    """loss.rs macer_margin: Phi^-1(top) - Phi^-1(runner-up) of the soft
    smoothed probabilities, and whether the example takes the hinge: the top
    class is the label and the margin is in (0, gamma)."""
    top2, indices = p_beta.topk(2, dim=1)
    correct = indices[:, 0] == labels
    z1, ok1 = safe_icdf(top2[:, 0])
    z2, ok2 = safe_icdf(top2[:, 1])
    margin = z1 - z2
    return margin, correct & ok1 & ok2 & (margin > 0) & (margin < gamma)


def macer_cs(logits, labels, harmful_rows, sigma, beta, lam, gamma, gamma_sensitive):
    """loss.rs macer_cs, logits `[b, k, m]`. Returns (total, parts)."""
    b = labels.shape[0]
    # smoothed_cross_entropy: sum of -log(mean_j softmax(f(x + delta_j))_y + 1e-10), / b.
    p = F.softmax(logits, dim=2).mean(dim=1)
    classification = -(p.gather(1, labels[:, None]).squeeze(1) + 1e-10).log().sum() / b
    # soft_smoothed with beta: mean_j softmax(beta * f(x + delta_j)).
    p_beta = F.softmax(logits * beta, dim=2).mean(dim=1)

    # SensitiveSets::new: Omega_y = {k : C[y][k] > 0}; sensitive when it is
    # not empty; seedwise when it is every other class.
    harmful = harmful_rows[labels]
    sensitive = harmful.any(dim=1)
    seedwise = harmful.sum(dim=1) == harmful.shape[1] - 1
    # m_cs = Phi^-1(p_top) - Phi^-1(max over Omega_y), top = y for a seedwise
    # row, the most probable class otherwise; -1 outside Omega_y (csrs's
    # mask_fill), which safe_icdf then marks as skipped.
    harmful_max = p_beta.masked_fill(~harmful, -1.0).max(dim=1).values
    of_label = p_beta.gather(1, labels[:, None]).squeeze(1)
    top = torch.where(seedwise, of_label, p_beta.max(dim=1).values)
    z_top, ok_top = safe_icdf(top)
    z_harmful, ok_harmful = safe_icdf(harmful_max)
    margin_cs = z_top - z_harmful
    # Every sensitive example with |m_cs| < gamma1 takes the hinge, the
    # currently wrong ones included.
    selected_cs = sensitive & ok_top & ok_harmful & (margin_cs.abs() < gamma_sensitive)
    robust_sensitive = hinge_sum(margin_cs, selected_cs, sigma, gamma_sensitive) * (lam / b)

    # The other examples: MACER's hinge with gamma2.
    margin, selected = macer_margin(p_beta, labels, gamma)
    robust_normal = hinge_sum(margin, selected & ~sensitive, sigma, gamma) * (lam / b)
    total = classification + robust_sensitive + robust_normal
    return total, (classification, robust_sensitive, robust_normal)


def gaussian(logits, labels):
    """loss.rs gaussian: mean cross-entropy on one noisy copy per example."""
    classification = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels)
    zero = torch.zeros((), device=logits.device)
    return classification, (classification, zero, zero)


def main():
    args = sys.argv[1:]
    amp = "--amp" in args
    depth = int(args[args.index("--depth") + 1]) if "--depth" in args else 110
    args = [a for i, a in enumerate(args) if a != "--amp" and a != "--depth" and (i == 0 or args[i - 1] != "--depth")]
    if len(args) not in (2, 3) or args[0] not in CONFIGS or args[1] not in ("cpu", "cuda"):
        sys.exit(__doc__.strip().splitlines()[2].strip())
    method, device_name = args[0], args[1]
    images = int(args[2]) if len(args) > 2 else 5000
    dev = torch.device(device_name)

    config = read_toml(CONFIGS[method], FALLBACK[method])
    objective = config["objective"]
    opt = config["optimizer"]
    assert opt["kind"] == "sgd" and config.get("noise", "gaussian") == "gaussian"
    sigma, batch, seed = float(config["sigma"]), int(config["batch_size"]), int(config.get("seed", 0))
    # csrs crops and flips 3x32x32 images unless the configuration says not to.
    augment = config.get("augment", True)
    if method == "macer-cs":
        assert objective["method"] == "macer" and "cost_sensitive" in objective
        copies = int(objective["noise_copies"])
        beta, lam, gamma = float(objective["beta"]), float(objective["lambda"]), float(objective["gamma"])
        gamma_sensitive = float(objective["cost_sensitive"]["gamma_sensitive"])
        harmful_rows = (cost_matrix(read_toml(config["cost"], FALLBACK_COSTS)) > 0).to(dev)
    else:
        assert objective["method"] == "gaussian" and "cost_sensitive" not in objective
        copies = 1

    torch.manual_seed(seed)
    model = nn.Sequential(Normalize(), CifarResNet(depth)).to(dev).train()
    # burn's SGD as trainer.rs configures it: momentum without dampening or
    # Nesterov, weight decay added to the gradient of every parameter.
    optim = torch.optim.SGD(model.parameters(), lr=opt["lr"], momentum=opt.get("momentum", 0.0),
                            weight_decay=opt.get("weight_decay", 0.0))

    # The training set stays on the host; csrs builds each batch there and
    # copies it to the device.
    data_gen = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (images, 3, 32, 32), generator=data_gen).float() / 255.0
    labels_all = torch.arange(images) % N_CLASSES
    augment_gen = torch.Generator().manual_seed(seed ^ 0xA06E0000)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def step(indices):
        x = pixels[indices].to(dev)
        y = labels_all[indices].to(dev)
        if augment:
            x = crop_and_flip(x, augment_gen)
        b = x.shape[0]
        # noise.rs: each image `copies` times in a row (grouped by image),
        # plus fresh N(0, sigma^2) noise; one forward pass over all b * k copies.
        x = x.repeat_interleave(copies, dim=0)
        x = x + torch.randn_like(x) * sigma
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        logits = logits.float().reshape(b, copies, -1)
        if method == "macer-cs":
            total, parts = macer_cs(logits, y, harmful_rows, sigma, beta, lam, gamma, gamma_sensitive)
        else:
            total, parts = gaussian(logits, y)
        # trainer.rs reads the loss parts and the training accuracy (arg-max
        # of the mean logits over the copies) back every step, for its log
        # and to stop on a non-finite loss: one synchronisation per step, here too.
        hits = (logits.detach().mean(dim=1).argmax(dim=1) == y).sum()
        numbers = torch.stack([total.detach(), *(p.detach() for p in parts), hits.float()]).tolist()
        if not math.isfinite(numbers[0]):
            sys.exit(f"torch_train: the loss is {numbers[0]}")
        optim.zero_grad(set_to_none=True)
        total.backward()
        optim.step()
        return numbers

    step(torch.arange(min(batch, images)))  # warm-up, not timed
    sync()
    order = torch.randperm(images, generator=torch.Generator().manual_seed(seed + 1))
    start = time.perf_counter()
    for first in range(0, images, batch):
        step(order[first:first + batch])
    sync()
    seconds = time.perf_counter() - start
    print(f"torch-train {method} {dev.type} resnet{depth} images={images} batch={batch} seconds={seconds:.3f} "
          f"images_per_s={images / seconds:.1f} torch={torch.__version__}" + (" amp=bf16" if amp else ""))


if __name__ == "__main__":
    main()
