"""csrs: cost-sensitive certified robustness by randomized smoothing.

The statistics, noise streams, rounds, records and reports are csrs's own
(the Rust library the ``csrs`` command runs); the forward passes are your
model's. ``Smoothed`` wraps any callable from a float32 NumPy array
``(B, *input_shape)`` of noisy inputs to ``B`` integer classes;
``csrs.torch.Smoothed`` wraps a PyTorch module and draws the noise on its
device. ``certify_counts`` certifies class counts from anywhere;
``load_dataset`` gives the splits ``csrs train`` and ``csrs certify`` use
as NumPy arrays; ``csrs.report`` reads records back into tables and
figures.

Errors are ``ValueError`` (bad values, an integer out of its range
included) or ``OSError`` (files), with the command's one-line messages
(settings named as this package's arguments: ``resume=True``);
``TypeError`` for an argument of the wrong type; each names the argument.
An exception raised by your model is raised again as it was.
"""

from ._csrs import CostMatrix, Smoothed, __version__, certify_counts, load_dataset
from . import report

__all__ = ["CostMatrix", "Smoothed", "__version__", "certify_counts", "load_dataset", "report"]
