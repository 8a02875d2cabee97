"""Smoothed over a NumPy classifier with known probabilities: radii sound
over many seeds and close to the truth, results independent of the batch
size, early stopping, prediction, and refusals."""

import math

import numpy as np
import pytest

import csrs
from conftest import Linear

SIGMA = 0.5


def x_at(x0, size=3):
    x = np.zeros(size, dtype=np.float32)
    x[0] = x0
    return x


def test_radii_are_sound_across_many_seeds(linear):
    # The true radius is 0.3; at alpha = 0.05 at most 5% of certificates
    # may claim more (or certify the wrong class). 28 of 300 or more has
    # probability 0.0013 under Binomial(300, 0.05).
    alpha, wrong = 0.05, 0
    for seed in range(300):
        smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=seed)
        result = smoothed.certify(x_at(0.3), 1, n0=50, n=500, alpha=alpha, batch=600)
        if result["radius_std"] is not None and (result["predicted"] != 1 or result["radius_std"] > 0.3):
            wrong += 1
    assert wrong < 28, wrong


def test_radii_are_within_a_few_percent_of_the_true_radius(linear):
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=7)
    result = smoothed.certify(x_at(0.3), 1, n0=100, n=100_000, alpha=0.001, batch=10_000)
    assert result["predicted"] == 1 and result["draws"] == 100_000
    assert 0.3 * 0.95 < result["radius_std"] <= 0.3
    assert result["p_lower"] < Linear.probability(0.3, SIGMA)


def test_results_do_not_depend_on_the_batch_size(linear):
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=3)
    results = [smoothed.certify(x_at(0.1), 1, n0=100, n=2_050, alpha=0.001, batch=batch) for batch in (1, 300, 5_000)]
    assert results[0] == results[1] == results[2]
    # Whole blocks of 100 per forward pass (one at least), the last of a
    # phase shorter: 100 selection draws, then 2 050 estimation draws.
    assert linear.calls == [100] + [100] * 20 + [50] + [100] + [300] * 6 + [250] + [100] + [2_050]
    other = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=4)
    assert other.certify(x_at(0.1), 1, n0=100, n=2_050, alpha=0.001, batch=300) != results[0]
    # Another example's stream, another certificate.
    assert smoothed.certify(x_at(0.1), 1, n0=100, n=2_050, alpha=0.001, batch=300, example=1) != results[0]


def test_early_stopping_stops_early_on_an_easy_input(linear):
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=0)
    easy = smoothed.certify(x_at(2.0), 1, n0=100, n=100_000, alpha=0.001, batch=1_000, target_radius=0.5)
    assert easy["radius_std"] >= 0.5 and easy["draws"] <= 1_600, easy
    # Far from the target: the ceiling falls below it early too.
    hard = smoothed.certify(x_at(0.05), 1, n0=100, n=100_000, alpha=0.001, batch=1_000, target_radius=1.0)
    assert (hard["radius_std"] or 0) < 1.0 and hard["draws"] < 100_000, hard
    precise = smoothed.certify(x_at(0.3), 1, n0=100, n=1_000_000, alpha=0.001, batch=10_000, radius_tolerance=0.05)
    assert 0.2 < precise["radius_std"] <= 0.3 and precise["draws"] < 1_000_000, precise


def test_cost_sensitive_certificates_come_with_their_curve():
    # Three classes by the first value: 0 below -0.5, 2 above 0.5, else 1.
    def three(batch):
        first = batch.reshape(len(batch), -1)[:, 0]
        return np.digitize(first, [-0.5, 0.5])

    smoothed = csrs.Smoothed(three, num_classes=3, sigma=0.25, seed=1)
    result = smoothed.certify(x_at(0.0), 1, n0=100, n=20_000, alpha=0.001, batch=5_000, cost_row=[1.0, 0.0, 0.0])
    assert result["predicted"] == 1
    # Only class 0 is harmful: it is 0.5 away, class 2 is not counted.
    assert result["radius_std"] < result["radius_cs"] <= 0.5
    assert result["certified_cost"][0][1] == result["radius_cs"] and result["certified_cost"][-1] == [1.0, math.inf]


def test_predict_abstains_where_the_classes_tie(linear):
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=2)
    clear = smoothed.predict(x_at(1.0), n=1_000, alpha=0.001, batch=1_000)
    assert clear["predicted"] == 1 and not clear["abstain"] and clear["count_top"] + clear["count_second"] == 1_000
    tie = smoothed.predict(x_at(0.0), n=1_000, alpha=0.001, batch=1_000)
    assert tie["predicted"] is None and tie["abstain"]


def test_sound_noise_certifies_on_the_grid(linear):
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, noise="sound", seed=0)
    assert smoothed.noise == "sound"
    x = np.full((1, 4, 4), 0.5, dtype=np.float32)
    x[0, 0, 0] = 0.8
    result = smoothed.certify(x - 0.5, 1, n0=100, n=10_000, alpha=0.001, batch=2_000)
    # Inputs are clipped to [0, 1] on the grid: x - 0.5 has values 0 and
    # 0.3; the first is 0.3 > 0 still.
    assert result["predicted"] == 1 and 0 < result["radius_std"] <= 0.3


def bad_call(smoothed, **changes):
    arguments = dict(x=x_at(0.3), label=1, n0=100, n=1_000, alpha=0.001, batch=100)
    arguments.update(changes)
    x, label = arguments.pop("x"), arguments.pop("label")
    return smoothed.certify(x, label, **arguments)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(label=2), "label 2, expected a class below 2 (num_classes)"),
        (dict(n0=0), "n0 0, expected 1 to"),
        (dict(n=2**31), "n 2147483648, expected 1 to"),
        (dict(alpha=0.0), "alpha"),
        (dict(batch=0), "batch 0"),
        (dict(batch=2**21), "batch 2097152, expected 1 to 1048576 noisy copies per forward pass"),
        (dict(x=np.array([0.1, np.nan], dtype=np.float32)), "x has NaN at index 1, expected finite values"),
        (dict(x=np.zeros(0, dtype=np.float32)), "x is empty"),
        (dict(cost_row=[0.0]), "cost_row has 1 entries, expected 2 (num_classes)"),
        (dict(target_radius=-1.0), "target_radius -1, expected a finite number > 0"),
        (dict(target_radius=0.5, radius_tolerance=0.1), "both given"),
    ],
)
def test_bad_arguments_are_value_errors(linear, changes, message):
    with pytest.raises(ValueError) as raised:
        bad_call(csrs.Smoothed(linear, num_classes=2, sigma=SIGMA), **changes)
    assert message in str(raised.value), str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(num_classes=1, sigma=0.5), "num_classes 1, expected 2 to"),
        (dict(num_classes=2, sigma=-0.5), "sigma"),
        (dict(num_classes=2, sigma=0.5, noise="uniform"), "unknown noise \"uniform\", expected gaussian or sound"),
    ],
)
def test_bad_smoothing_is_refused(linear, arguments, message):
    with pytest.raises(ValueError, match=message):
        csrs.Smoothed(linear, **arguments)
    with pytest.raises(TypeError, match="not callable"):
        csrs.Smoothed(3, num_classes=2, sigma=0.5)


@pytest.mark.parametrize(
    "classify, error, message",
    [
        (lambda b: np.zeros(len(b), dtype=np.float64), TypeError, "classify returned float64 values, expected integers"),
        (lambda b: np.zeros((len(b), 2), dtype=np.int64), ValueError, "expected ("),
        (lambda b: np.full(len(b), 2), ValueError, "the model returned class 2, expected a class below 2"),
        (lambda b: np.full(len(b), -1), ValueError, "classify returned class -1"),
        (lambda b: [0] * (len(b) - 1), ValueError, "expected ("),
    ],
)
def test_a_model_answering_wrongly_is_refused(classify, error, message):
    with pytest.raises(error) as raised:
        bad_call(csrs.Smoothed(classify, num_classes=2, sigma=SIGMA))
    assert message in str(raised.value), str(raised.value)


def test_the_models_own_exception_is_raised_as_it_was():
    class Broken(Exception):
        pass

    def broken(batch):
        raise Broken("out of memory")

    with pytest.raises(Broken, match="out of memory"):
        bad_call(csrs.Smoothed(broken, num_classes=2, sigma=SIGMA))


def test_other_threads_run_while_csrs_works():
    import threading
    import time

    # A forward pass that costs nothing, on inputs large enough that drawing
    # their noise takes csrs a while: another Python thread runs meanwhile
    # only if the interpreter is released.
    calls = []

    def instant(batch):
        calls.append(time.perf_counter())
        return np.zeros(len(batch), dtype=np.int64)

    smoothed = csrs.Smoothed(instant, num_classes=2, sigma=SIGMA)
    x = np.zeros((3, 64, 64), dtype=np.float32)
    ticks, running = [], threading.Event()

    def ticking():
        running.set()
        while len(ticks) < 100_000 and not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    stop = threading.Event()
    thread = threading.Thread(target=ticking)
    thread.start()
    running.wait()
    start = time.perf_counter()
    smoothed.certify(x, 0, n0=100, n=40_000, alpha=0.001, batch=10_000)
    end = time.perf_counter()
    stop.set()
    thread.join()
    during = [t for t in ticks if start <= t <= end]
    # The passes came apart in time: csrs worked between them...
    assert max(b - a for a, b in zip(calls, calls[1:])) > 0.02
    # ...and the other thread ticked all along, not only between passes.
    gaps = [b - a for a, b in zip([start] + during, during + [end])]
    assert max(gaps) < 0.5 * max(b - a for a, b in zip(calls, calls[1:])) + 0.01, (max(gaps), calls)


def test_threads_certifying_at_once_get_the_certificates_they_get_alone(linear):
    import threading

    def work(seed, into):
        smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=seed)
        into[seed] = smoothed.certify(x_at(0.3), 1, n0=100, n=20_000, alpha=0.001, batch=500)

    together, alone = {}, {}
    threads = [threading.Thread(target=work, args=(seed, together)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for seed in range(4):
        work(seed, alone)
    assert together == alone
