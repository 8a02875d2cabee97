"""Shared pieces of the Python tests: the repository's oracle files, and a
linear classifier whose smoothed probabilities and radius are known."""

import pathlib
from statistics import NormalDist

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
ORACLES = REPO / "crates" / "csrs-stats" / "tests" / "data"


class Linear:
    """f(x) = 1 if x[0] > 0 else 0, on inputs of any shape (the first value
    decides). Under N(0, σ²I) noise, P(f(x + δ) = 1) = Φ(x[0] / σ), and the
    smoothed classifier's robust radius is exactly |x[0]|: the distance to
    the hyperplane. `calls` records each batch's size."""

    def __init__(self):
        self.calls = []

    def __call__(self, batch):
        assert batch.dtype == np.float32
        self.calls.append(len(batch))
        return (batch.reshape(len(batch), -1)[:, 0] > 0).astype(np.int64)

    @staticmethod
    def probability(x0, sigma):
        return NormalDist().cdf(x0 / sigma)


@pytest.fixture
def linear():
    return Linear()
