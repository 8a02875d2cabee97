"""One training epoch in PyTorch, the counterpart of `csrs train` for timing.

    python3 scripts/torch_train.py METHOD DEVICE [IMAGES] [--model NET]
                                   [--depth D] [--amp] [--threads T]

METHOD is `gaussian` or `macer-cs`, DEVICE `cpu` or `cuda`. NET is

- `cifar-resnet` (the default): CIFAR ResNet-D (scripts/torch_sampling.py,
  D = 110 by default as in the GPU configurations, `--depth 20` for
  ResNet-20) with CIFAR-10's normalisation in front, as csrs's classifier
  has it, on a synthetic CIFAR-shaped training set of IMAGES images
  (default 5000: pixels on the 1/255 grid in [0, 1], label i % 10, fixed
  seed), cropped and flipped, with the objective and hyperparameters of
  configs/train/cifar10-METHOD.toml;
- `digits-cnn`: csrs's digits CNN (conv 1→16 and 16→32, 3×3, max-pool,
  fc 512→64→10, digits' normalisation in front) on the digits training
  split that `csrs train` reads (`csrs.load_dataset("digits", "train")`:
  1 297 images, or the first IMAGES of them), not cropped or flipped (csrs
  does that for 3×32×32 images only), with the objective and
  hyperparameters of configs/train/digits-METHOD.toml.

The loss is `csrs.torch.losses` (`gaussian`, or `macer` with the
configuration's cost matrix and γ₁ for macer-cs): the objective of `csrs
train`, k noisy copies per image in one forward pass. The optimiser is SGD
with momentum and weight decay as csrs-train's trainer configures it. After
one untimed warm-up step it times one epoch (shuffled with a fixed seed,
the last partial batch included, CUDA synchronised before the clock is
read) and prints

    torch-train METHOD DEVICE NET images=N batch=64 seconds=S images_per_s=R torch=VERSION threads=T

NET being `resnetD` or `digits-cnn`. `--amp` runs the forward pass under
bf16 autocast (the loss in f32; ` amp=bf16` ends the line); `--threads`
sets torch's intra-op threads (torch.set_num_threads; torch's own default
otherwise). The weights are untrained and initialised as PyTorch does:
speed only.

Needs torch and the csrs Python package (crates/csrs-py), for the loss,
the cost matrix and the digits data.
"""

import argparse
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import csrs
from csrs.torch import losses

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from torch_sampling import CifarResNet  # noqa: E402

#: The configuration of each network and method, relative to the repository root.
CONFIGS = {
    ("cifar-resnet", "gaussian"): "configs/train/cifar10-gaussian.toml",
    ("cifar-resnet", "macer-cs"): "configs/train/cifar10-macer-cs.toml",
    ("digits-cnn", "gaussian"): "configs/train/digits-gaussian.toml",
    ("digits-cnn", "macer-cs"): "configs/train/digits-macer-cs.toml",
}
_SGD = {"kind": "sgd", "momentum": 0.9, "weight_decay": 5e-4}
_MACER_CS = {"method": "macer", "noise_copies": 16, "beta": 16.0, "lambda": 3.0, "gamma": 4.0,
             "cost_sensitive": {"gamma_sensitive": 16.0}}
#: What the configurations say, for a Python without a TOML reader (< 3.11
#: and no tomli): the same numbers.
FALLBACK = {
    CONFIGS["cifar-resnet", "gaussian"]: {"sigma": 0.25, "batch_size": 64, "seed": 0,
                                          "optimizer": {**_SGD, "lr": 0.01}, "objective": {"method": "gaussian"}},
    CONFIGS["cifar-resnet", "macer-cs"]: {"sigma": 0.25, "batch_size": 64, "seed": 0,
                                          "cost": "configs/costs/cifar10-seed-cat.toml",
                                          "optimizer": {**_SGD, "lr": 0.01}, "objective": _MACER_CS},
    CONFIGS["digits-cnn", "gaussian"]: {"sigma": 0.25, "batch_size": 64, "seed": 0,
                                        "optimizer": {**_SGD, "lr": 0.05}, "objective": {"method": "gaussian"}},
    CONFIGS["digits-cnn", "macer-cs"]: {"sigma": 0.25, "batch_size": 64, "seed": 0,
                                        "cost": "configs/costs/digits-3-to-8.toml",
                                        "optimizer": {**_SGD, "lr": 0.01}, "objective": _MACER_CS},
}
#: Per-channel normalisation of each dataset (crates/csrs-data, DatasetName::normalization).
CIFAR10_NORMALIZATION = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
DIGITS_NORMALIZATION = ((0.3053,), (0.376,))
N_CLASSES = 10
#: Zero padding before the random crop (augment.rs).
PADDING = 4


def read_toml(relative):
    try:
        import tomllib
    except ImportError:
        try:
            import tomli as tomllib
        except ImportError:
            print(f"torch_train: no TOML reader; using the numbers of {relative} written here", file=sys.stderr)
            return FALLBACK[relative]
    with open(os.path.join(ROOT, relative), "rb") as f:
        return tomllib.load(f)


class Normalize(nn.Module):
    """(x - mean) / std per channel, part of csrs's classifier (classifier.rs)."""

    def __init__(self, normalization):
        super().__init__()
        mean, std = normalization
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def digits_cnn():
    """csrs's digits CNN (csrs-models, nets.rs DigitsCnn) behind digits'
    normalisation: 1×8×8 → conv 16 → conv 32 → max-pool → 64 → 10."""
    return nn.Sequential(
        Normalize(DIGITS_NORMALIZATION),
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, N_CLASSES),
    )


class Recorded(nn.Module):
    """The network as the loss calls it: its forward pass under bf16
    autocast when asked (the logits back in f32, so that the loss is
    computed in f32), and its last logits kept for the training accuracy."""

    def __init__(self, net, amp):
        super().__init__()
        self.net, self.amp, self.logits = net, amp, None

    def forward(self, x):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.amp):
            logits = self.net(x)
        self.logits = logits.float()
        return self.logits


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


def arguments():
    usage = __doc__.split("\n\n")[1].strip()
    parser = argparse.ArgumentParser(usage=usage, description=__doc__.split("\n\n")[0])
    parser.add_argument("method", choices=("gaussian", "macer-cs"))
    parser.add_argument("device", choices=("cpu", "cuda"))
    parser.add_argument("images", nargs="?", type=int,
                        help="training images (cifar-resnet: default 5000; digits-cnn: the first IMAGES of the split)")
    parser.add_argument("--model", choices=("cifar-resnet", "digits-cnn"), default="cifar-resnet")
    parser.add_argument("--depth", type=int, default=110, help="the CIFAR ResNet's depth (default 110)")
    parser.add_argument("--amp", action="store_true", help="the forward pass under bf16 autocast")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's own)")
    args = parser.parse_args()
    if args.images is not None and args.images < 1:
        parser.error(f"IMAGES {args.images}, expected at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads {args.threads}, expected at least 1")
    return args


def training_set(args, seed):
    """The images (on the host: csrs builds each batch there and copies it
    to the device) and labels, and the network's name."""
    if args.model == "digits-cnn":
        pixels, labels = (torch.from_numpy(a) for a in csrs.load_dataset("digits", "train"))
        if args.images is not None:
            if args.images > len(labels):
                sys.exit(f"torch_train: IMAGES {args.images}, but digits' training split has {len(labels)} images")
            pixels, labels = pixels[:args.images], labels[:args.images]
        return pixels.contiguous(), labels, "digits-cnn"
    images = 5000 if args.images is None else args.images
    data_gen = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (images, 3, 32, 32), generator=data_gen).float() / 255.0
    return pixels, torch.arange(images) % N_CLASSES, f"resnet{args.depth}"


def main():
    args = arguments()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)

    config = read_toml(CONFIGS[args.model, args.method])
    objective = config["objective"]
    opt = config["optimizer"]
    assert opt["kind"] == "sgd" and config.get("noise", "gaussian") == "gaussian"
    sigma, batch, seed = float(config["sigma"]), int(config["batch_size"]), int(config.get("seed", 0))
    if args.method == "macer-cs":
        assert objective["method"] == "macer" and "cost_sensitive" in objective
        copies = int(objective["noise_copies"])
        cost = csrs.CostMatrix.load(os.path.join(ROOT, config["cost"]), num_classes=N_CLASSES)
        settings = dict(sigma=sigma, noise_copies=copies, beta=float(objective["beta"]),
                        lam=float(objective["lambda"]), gamma=float(objective["gamma"]), cost=cost,
                        gamma_sensitive=float(objective["cost_sensitive"]["gamma_sensitive"]))
        loss = lambda model, x, y: losses.macer(model, x, y, parts=True, **settings)  # noqa: E731
    else:
        assert objective["method"] == "gaussian" and "cost_sensitive" not in objective
        copies = 1
        loss = lambda model, x, y: losses.gaussian(model, x, y, sigma=sigma, parts=True)  # noqa: E731

    pixels, labels_all, net_name = training_set(args, seed)
    images = len(labels_all)
    # csrs crops and flips 3x32x32 images unless the configuration says not to.
    augment = config.get("augment", tuple(pixels.shape[1:]) == (3, 32, 32))

    torch.manual_seed(seed)
    if args.model == "digits-cnn":
        net = digits_cnn()
    else:
        net = nn.Sequential(Normalize(CIFAR10_NORMALIZATION), CifarResNet(args.depth))
    model = Recorded(net, args.amp).to(dev).train()
    # burn's SGD as trainer.rs configures it: momentum without dampening or
    # Nesterov, weight decay added to the gradient of every parameter.
    optim = torch.optim.SGD(model.parameters(), lr=opt["lr"], momentum=opt.get("momentum", 0.0),
                            weight_decay=opt.get("weight_decay", 0.0))

    augment_gen = torch.Generator().manual_seed(seed ^ 0xA06E0000)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def step(indices):
        x = pixels[indices].to(dev)
        y = labels_all[indices].to(dev)
        if augment:
            x = crop_and_flip(x, augment_gen)
        parts = loss(model, x, y)
        # trainer.rs reads the loss parts and the training accuracy (arg-max
        # of the mean logits over the copies) back every step, for its log
        # and to stop on a non-finite loss: one synchronisation per step, here too.
        logits = model.logits.detach().reshape(x.shape[0], copies, -1)
        hits = (logits.mean(dim=1).argmax(dim=1) == y).sum()
        numbers = torch.stack([p.detach() for p in parts] + [hits.float()]).tolist()
        if not math.isfinite(numbers[0]):
            sys.exit(f"torch_train: the loss is {numbers[0]}")
        optim.zero_grad(set_to_none=True)
        parts.total.backward()
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
    print(f"torch-train {args.method} {dev.type} {net_name} images={images} batch={batch} seconds={seconds:.3f} "
          f"images_per_s={images / seconds:.1f} torch={torch.__version__} threads={torch.get_num_threads()}"
          + (" amp=bf16" if args.amp else ""))


if __name__ == "__main__":
    main()
