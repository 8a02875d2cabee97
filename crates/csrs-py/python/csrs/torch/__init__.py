"""csrs over a PyTorch model: the model classifies on its own device, and
only class counts (on a GPU) or classes (elsewhere) cross to csrs, which
certifies them.

On a CUDA device with Gaussian noise, the noise is drawn there with torch:
each block of 100 draws of an input from torch's CUDA generator seeded with
the block's 64-bit seed, a function of (seed, example, phase, block) as
csrs's own streams are; the batch is classified and counted on the device.
The noise is torch's (``torch.randn``), not csrs's Philox streams, so counts
differ from those of ``csrs certify`` on the same network; both are sound.

Elsewhere (the CPU, whose torch generator keeps only 32 bits of a seed, so
that blocks of different seeds could share their noise), and for sound
noise, csrs draws the noise itself, as ``csrs.Smoothed`` does, and the model
classifies it: the noisy inputs are those of ``csrs certify --engine
native``. Either way a result depends on the seed and the example alone,
not on the batch size.

``precision`` sets the network's arithmetic: ``"bf16"`` or ``"f16"`` round
each noisy batch (its noise drawn and added in f32) to that type and run the
module under ``torch.autocast`` in it; ``"f32"`` runs it with TF32 off,
``"tf32"`` with TF32 on for matrix products and convolutions; ``None`` (the
default) as torch's own settings say. Each is a fixed function of the noisy
input, so certificates keep their meaning; the precision is part of the
model's name in a run's settings, so records of one are not resumed with
another.

Denoised smoothing (a classifier trained on clean images, behind a
denoiser): pass ``torch.nn.Sequential(denoiser, classifier)`` as the model.
The base classifier is then f(D(x + noise)), one module on one device, and
certificates are of that function, as ``csrs certify --denoiser`` makes them
for csrs's own networks.

Needs ``torch`` (not a dependency of the package).
"""

import contextlib
import threading
import warnings
from typing import Any, Optional

import numpy as np
import torch

from .. import _csrs


def _numpy(x: Any) -> Any:
    """A tensor (anywhere) as a float32 array on the CPU; anything else as
    it is, for csrs to check (an array, nested lists; not ``None``)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32).numpy()
    return x


def _labels(labels: Any) -> Any:
    """A tensor of classes as an array on the CPU; anything else as it is,
    for csrs to check."""
    if isinstance(labels, torch.Tensor):
        return labels.detach().cpu().numpy()
    return labels


def _shown(value: Any) -> str:
    """``value``'s repr as a message repeats it: 40 characters at most."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _module(model: Any) -> torch.nn.Module:
    """``model``, which must be a ``torch.nn.Module``: a ``TypeError``
    naming it otherwise (a plain function of arrays is ``csrs.Smoothed``'s)."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model is {type(model).__name__}, expected a torch.nn.Module"
            " (csrs.Smoothed takes a function from NumPy arrays to classes)"
        )
    return model


def _device(device: Any, model: torch.nn.Module) -> torch.device:
    """The device the model runs on: ``device``, or that of the model's
    parameters when it is ``None`` (the CPU without parameters).

    A device of another type than a name, an index or a ``torch.device`` is
    a ``TypeError``; one torch does not know, or cannot use here (CUDA
    without a GPU, an index past the last GPU), a ``ValueError`` naming it:
    an empty tensor is made there now, rather than the run failing at its
    first forward pass."""
    if device is None:
        parameter = next(iter(model.parameters()), None)
        return parameter.device if parameter is not None else torch.device("cpu")
    if not isinstance(device, (str, int, torch.device)):
        raise TypeError(f"device is {type(device).__name__}, expected a torch.device or its name, e.g. 'cuda:1'")
    try:
        device = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device {_shown(device)}, expected a torch device such as 'cpu', 'cuda' or 'cuda:1'") from None
    unusable = f"device {str(device)!r} cannot be used here"
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{unusable}: torch sees no CUDA GPU (torch.cuda.is_available() is False)")
    try:
        torch.empty(0, device=device)
    except Exception as error:  # torch's reasons come in several types (AssertionError, RuntimeError)
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError(f"{unusable}: {reason[:200]}") from None
    return device


#: The precisions, with the type the noisy batch is rounded to.
_ROUNDED_TO = {"f32": None, "tf32": None, "bf16": torch.bfloat16, "f16": torch.float16}


@contextlib.contextmanager
def _tf32(allowed: bool):
    """TF32 on or off for matrix products and convolutions, as it was after."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


class _Model:
    """The module on its device, called under a lock: csrs releases the
    interpreter while it works, and two threads certifying with one
    ``Smoothed`` must not interleave their forward passes (the generator
    and the buffer are shared)."""

    def __init__(self, model: torch.nn.Module, device: torch.device, num_classes: int, precision: Optional[str] = None):
        if precision is not None and precision not in _ROUNDED_TO:
            raise ValueError(f"precision {_shown(precision)}, expected f32, tf32, bf16, f16 or None")
        self.model = model
        self.device = device
        self.num_classes = num_classes
        self.precision = precision
        #: The type each noisy batch is rounded to (None: it stays f32).
        self.rounded_to = _ROUNDED_TO.get(precision)
        self.lock = threading.Lock()
        self.generator = torch.Generator(device=device)
        self._batch = None

    def _arithmetic(self):
        """The context the module runs in, for the precision."""
        if self.precision is None:
            return contextlib.nullcontext()
        if self.rounded_to is None:
            return _tf32(self.precision == "tf32")
        return torch.autocast(self.device.type, dtype=self.rounded_to)

    def _classes(self, batch: torch.Tensor) -> torch.Tensor:
        with self._arithmetic():
            # Rounded after the noise was added in f32.
            logits = self.model(batch if self.rounded_to is None else batch.to(self.rounded_to))
        if logits.dim() != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(
                f"the model gives logits of shape {tuple(logits.shape)}, expected ({len(batch)}, {self.num_classes})"
            )
        return logits.argmax(1)

    @torch.inference_mode()
    def classify(self, batch: np.ndarray) -> np.ndarray:
        """The classes of noisy inputs csrs drew."""
        with self.lock:
            return self._classes(torch.from_numpy(batch).to(self.device)).cpu().numpy()

    @torch.inference_mode()
    def count_blocks(self, inputs, owners, seeds, sizes, sigma):
        """Draws each block's noise from its seed on the device, classifies
        the batch there and counts each block's classes there."""
        with self.lock:
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
            classes = self._classes(batch)
            blocks = torch.repeat_interleave(
                torch.arange(len(sizes_list), device=device), torch.from_numpy(sizes).to(device), output_size=total
            )
            counts = torch.bincount(blocks * m + classes, minlength=len(sizes_list) * m)
            return counts.view(len(sizes_list), m).cpu().numpy()

    @torch.inference_mode()
    def base_class(self, input: np.ndarray) -> int:
        """The class of one clean input, shape (1, *input_shape)."""
        with self.lock:
            return int(self._classes(torch.from_numpy(input).to(self.device))[0])


class Smoothed:
    """The smoothed classifier of a PyTorch module whose forward pass maps a
    batch of inputs (B, *input_shape) to logits (B, num_classes).

    ``device`` is where the model runs (default: the device of its
    parameters); on a CUDA device the Gaussian noise is drawn there too.
    ``noise="sound"`` has csrs draw sound noise on the 8-bit grid;
    ``precision`` is the network's arithmetic (see the module's notes). The
    model is used as it is: put it in ``eval()`` mode. Methods and results
    are those of ``csrs.Smoothed``; inputs may be tensors or arrays.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        num_classes: int,
        sigma: float,
        device: Optional[Any] = None,
        noise: str = "gaussian",
        seed: int = 0,
        name: Optional[str] = None,
        precision: Optional[str] = None,
    ):
        model = _module(model)
        self.device = _device(device, model)
        if model.training:
            warnings.warn("the model is in training mode (dropout, batch statistics): call model.eval() first", stacklevel=2)
        self.model = model
        self._model = _Model(model, self.device, num_classes, precision)
        name = name or type(model).__name__
        if precision is not None:
            name = f"{name} in {precision}"
        #: Whether the noise is drawn with torch on the device (CUDA,
        #: Gaussian) rather than by csrs.
        self.draws_on_device = self.device.type == "cuda" and noise == "gaussian"
        if self.draws_on_device:
            self._smoothed = _csrs.Smoothed.drawing_own_noise(
                self._model, num_classes=num_classes, sigma=sigma, seed=seed, name=name
            )
        else:
            self._smoothed = _csrs.Smoothed(
                self._model.classify, num_classes=num_classes, sigma=sigma, noise=noise, seed=seed, name=name
            )

    def certify(self, x, label, **options) -> dict:
        """``csrs.Smoothed.certify`` on a tensor or array ``x``."""
        return self._smoothed.certify(_numpy(x), label, **options)

    def predict(self, x, **options) -> dict:
        """``csrs.Smoothed.predict`` on a tensor or array ``x``."""
        return self._smoothed.predict(_numpy(x), **options)

    def certify_dataset(self, inputs, labels, **options) -> list:
        """``csrs.Smoothed.certify_dataset`` on tensors or arrays."""
        return self._smoothed.certify_dataset(_numpy(inputs), _labels(labels), **options)

    num_classes = property(lambda self: self._smoothed.num_classes, doc="The number of classes.")
    sigma = property(lambda self: self._smoothed.sigma, doc="σ.")
    noise = property(lambda self: self._smoothed.noise, doc='"gaussian" or "sound".')
    seed = property(lambda self: self._smoothed.seed, doc="The seed of the noise.")
    name = property(lambda self: self._smoothed.name, doc="The model's name in a run's settings.")
    precision = property(lambda self: self._model.precision, doc="The network's arithmetic (None: torch's settings).")


__all__ = ["Smoothed"]
