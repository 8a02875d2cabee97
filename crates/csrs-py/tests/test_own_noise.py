"""A model that draws its own noise from the seeds csrs gives each block
(what csrs.torch does on a GPU), with a NumPy stand-in: counts of the seeds
alone, each block's counts to its own input, checked answers."""

import numpy as np
import pytest

from csrs import _csrs

SIGMA = 0.5
OPTIONS = dict(n0=100, n=5_000, alpha=0.001, batch=1_000)


class SeededLinear:
    """Class 1 where x[0] + σ·z > 0, z drawn by NumPy from each block's seed."""

    def __init__(self, answer=None):
        self.batches = []
        self.answer = answer

    def count_blocks(self, inputs, owners, seeds, sizes, sigma):
        assert inputs.dtype == np.float32 and len(owners) == len(seeds) == len(sizes)
        self.batches.append((owners.tolist(), sizes.tolist()))
        rows = []
        for owner, seed, size in zip(owners, seeds, sizes):
            z = np.random.default_rng(int(seed)).standard_normal(int(size))
            ones = int(np.sum(inputs[owner].reshape(-1)[0] + sigma * z > 0))
            rows.append([size - ones, ones])
        rows = np.array(rows)
        return rows if self.answer is None else self.answer(rows)

    def base_class(self, input):
        return int(input.reshape(-1)[0] > 0)


def smoothed(model, seed=0):
    return _csrs.Smoothed.drawing_own_noise(model, num_classes=2, sigma=SIGMA, seed=seed, name="seeded")


def x_at(x0):
    return np.array([x0, 0.0], dtype=np.float32)


def test_counts_depend_on_the_seeds_alone():
    results = []
    for batch in (100, 700, 10_000):
        model = SeededLinear()
        results.append(smoothed(model).certify(x_at(0.3), 1, **dict(OPTIONS, batch=batch)))
        assert max(sum(sizes) for _, sizes in model.batches) <= max(batch, 100)
    assert results[0] == results[1] == results[2]
    assert 0.2 < results[0]["radius_std"] <= 0.3
    assert smoothed(SeededLinear(), seed=1).certify(x_at(0.3), 1, **OPTIONS) != results[0]


def test_inputs_sharing_a_pass_get_their_own_counts(tmp_path):
    # With a stop rule, the rounds of a group of inputs share forward
    # passes; each input's certificate is still the one it gets alone.
    inputs = np.zeros((8, 2), dtype=np.float32)
    inputs[:, 0] = np.linspace(-1.0, 1.0, 8)
    labels = (inputs[:, 0] > 0).astype(np.int64)
    model = SeededLinear()
    rows = smoothed(model).certify_dataset(inputs, labels, out=tmp_path / "r.tsv", target_radius=0.3, **OPTIONS)
    assert any(len(set(owners)) > 1 for owners, _ in model.batches), model.batches
    for i, row in enumerate(rows):
        alone = smoothed(SeededLinear()).certify(inputs[i], int(labels[i]), target_radius=0.3, example=i, **OPTIONS)
        assert (alone["predicted"], alone["p_lower"], alone["draws"]) == (row["predicted"], row["p_lower"], row["draws"])
        assert row["base_predicted"] == labels[i]


def test_radii_from_own_noise_are_sound_across_seeds():
    wrong = 0
    for seed in range(200):
        result = smoothed(SeededLinear(), seed=seed).certify(x_at(0.3), 1, n0=50, n=500, alpha=0.05, batch=600)
        if result["radius_std"] is not None and (result["predicted"] != 1 or result["radius_std"] > 0.3):
            wrong += 1
    # 20 of 200 or more: probability 0.0036 under Binomial(200, 0.05).
    assert wrong < 20, wrong


@pytest.mark.parametrize(
    "answer, error, message",
    [
        (lambda rows: rows + 1, ValueError, "totalling 102 for a block of 100 draws, expected 2 counts totalling 100"),
        (lambda rows: rows[:-1], ValueError, "count_blocks returned an array of shape"),
        (lambda rows: rows * 1.0, TypeError, "count_blocks returned float64 values, expected integers"),
        (lambda rows: np.stack([rows[:, 0] + 1, rows[:, 1] - 1], axis=1) * 0 - 1, ValueError, "expected counts >= 0"),
        (lambda rows: np.concatenate([rows, rows[:, :1] * 0], axis=1), ValueError, "count_blocks returned an array of shape"),
    ],
)
def test_wrong_counts_are_refused(answer, error, message):
    with pytest.raises(error) as raised:
        smoothed(SeededLinear(answer)).certify(x_at(0.3), 1, **OPTIONS)
    assert message in str(raised.value), str(raised.value)


def test_sound_noise_and_objects_without_the_methods_are_refused():
    with pytest.raises(TypeError, match="no count_blocks method"):
        smoothed(object())
    # Own noise is Gaussian: sound noise is csrs's to draw.
    with pytest.raises(TypeError):
        _csrs.Smoothed.drawing_own_noise(SeededLinear(), num_classes=2, sigma=SIGMA, noise="sound", name="x")
