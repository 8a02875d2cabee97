"""csrs over a PyTorch model: the noise is drawn on the model's device with
torch, classified and counted there, and only the class counts cross to
csrs, which certifies them.

Each block of 100 draws of an input comes from a torch generator seeded with
the block's seed, a function of (seed, example, phase, block) as csrs's own
streams are, so a result depends on the seed and the example alone, not on
the batch size. The noise is torch's (``torch.randn``), not csrs's Philox
streams: counts differ from those of ``csrs certify`` or ``csrs.Smoothed``
on the same network, and both are sound. Gaussian noise only: sound noise
is formed by csrs on the 8-bit grid (``csrs.Smoothed(..., noise="sound")``).

Needs ``torch`` (not a dependency of the package).
"""

import warnings
from typing import Any, Optional

import numpy as np
import torch

from . import _csrs


def _numpy(x: Any) -> np.ndarray:
    """A float32 array of ``x`` (a tensor anywhere, an array, nested lists)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32).numpy()
    return np.asarray(x, dtype=np.float32)


def _labels(labels: Any) -> list:
    """The classes of ``labels`` (a tensor, an array, a list) as ints."""
    if isinstance(labels, torch.Tensor):
        return labels.detach().cpu().tolist()
    return np.asarray(labels).tolist()


class _Counter:
    """What csrs calls on each forward pass: draws each block's noise from
    its seed on the device, classifies the batch, counts per block there."""

    def __init__(self, model: torch.nn.Module, device: torch.device, num_classes: int):
        self.model = model
        self.device = device
        self.num_classes = num_classes
        self.generator = torch.Generator(device=device)
        self._batch = None

    @torch.inference_mode()
    def count_blocks(self, inputs, owners, seeds, sizes, sigma):
        device, m = self.device, self.num_classes
        x = torch.from_numpy(inputs).to(device)
        shape = tuple(x.shape[1:])
        sizes_list = sizes.tolist()
        total = sum(sizes_list)
        # One buffer per batch size, reused: each block's noise is drawn
        # into its rows, then scaled and moved to its input in place.
        if self._batch is None or self._batch.shape != (total,) + shape or self._batch.dtype != x.dtype:
            self._batch = torch.empty((total,) + shape, device=device, dtype=x.dtype)
        batch, at = self._batch, 0
        for owner, seed, size in zip(owners.tolist(), seeds.tolist(), sizes_list):
            self.generator.manual_seed(seed)
            rows = batch[at : at + size]
            torch.randn((size,) + shape, generator=self.generator, device=device, dtype=x.dtype, out=rows)
            rows.mul_(sigma).add_(x[owner])
            at += size
        classes = self.model(batch).argmax(1)
        blocks = torch.repeat_interleave(
            torch.arange(len(sizes_list), device=device), torch.from_numpy(sizes).to(device), output_size=total
        )
        counts = torch.bincount(blocks * m + classes, minlength=len(sizes_list) * m)
        if counts.numel() != len(sizes_list) * m:
            raise ValueError(f"the model gives classes up to {int(classes.max())}, expected classes below {m} (num_classes)")
        return counts.view(len(sizes_list), m).cpu().numpy()

    @torch.inference_mode()
    def base_class(self, input):
        return int(self.model(torch.from_numpy(input).to(self.device)).argmax(1)[0])


class Smoothed:
    """The smoothed classifier of a PyTorch module whose forward pass maps a
    batch of inputs (B, *input_shape) to logits (B, num_classes).

    ``device`` is where the noise is drawn and the model runs (default: the
    device of its parameters). The model is used as it is: put it in
    ``eval()`` mode. Methods and results are those of ``csrs.Smoothed``;
    inputs may be tensors or arrays.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        num_classes: int,
        sigma: float,
        device: Optional[Any] = None,
        seed: int = 0,
        name: Optional[str] = None,
    ):
        if device is None:
            parameter = next(iter(model.parameters()), None)
            device = parameter.device if parameter is not None else torch.device("cpu")
        if getattr(model, "training", False):
            warnings.warn("the model is in training mode (dropout, batch statistics): call model.eval() first", stacklevel=2)
        self.model = model
        self.device = torch.device(device)
        self._counter = _Counter(model, self.device, num_classes)
        self._smoothed = _csrs.Smoothed.drawing_own_noise(
            self._counter, num_classes=num_classes, sigma=sigma, seed=seed, name=name or type(model).__name__
        )

    def certify(self, x, label, **options) -> dict:
        """``csrs.Smoothed.certify`` on a tensor or array ``x``."""
        return self._smoothed.certify(_numpy(x), int(label), **options)

    def predict(self, x, **options) -> dict:
        """``csrs.Smoothed.predict`` on a tensor or array ``x``."""
        return self._smoothed.predict(_numpy(x), **options)

    def certify_dataset(self, inputs, labels, **options) -> list:
        """``csrs.Smoothed.certify_dataset`` on tensors or arrays."""
        return self._smoothed.certify_dataset(_numpy(inputs), _labels(labels), **options)

    num_classes = property(lambda self: self._smoothed.num_classes, doc="The number of classes.")
    sigma = property(lambda self: self._smoothed.sigma, doc="σ.")
    seed = property(lambda self: self._smoothed.seed, doc="The seed of the noise.")
    name = property(lambda self: self._smoothed.name, doc="The model's name in a run's settings.")


__all__ = ["Smoothed"]
