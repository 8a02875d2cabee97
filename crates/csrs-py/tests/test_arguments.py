"""Arguments are checked by name before anything of them is copied: an
integer out of range (negative, past 2**64) is a ValueError naming it and
its range, something that is not an array or an integer a TypeError naming
it, and an array too large is refused by its shape before the copy that
would exhaust memory."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import csrs
from conftest import Linear

OPTIONS = dict(n0=100, n=1_000, alpha=0.001, batch=100)
X = np.array([0.3, 0.0, 0.0], dtype=np.float32)


def smoothed(**options):
    return csrs.Smoothed(Linear(), num_classes=2, sigma=0.5, **options)


def certify(**changes):
    arguments = dict(x=X, label=1, **OPTIONS)
    arguments.update(changes)
    return smoothed().certify(arguments.pop("x"), arguments.pop("label"), **arguments)


def predict(**changes):
    arguments = dict(x=X, n=1_000, alpha=0.001, batch=100)
    arguments.update(changes)
    return smoothed().predict(arguments.pop("x"), **arguments)


def certify_dataset(tmp_path, seed=0, **changes):
    inputs = np.zeros((2, 3), dtype=np.float32)
    arguments = dict(inputs=inputs, labels=[0, 1], out=tmp_path / "r.tsv", **OPTIONS)
    arguments.update(changes)
    return smoothed(seed=seed).certify_dataset(arguments.pop("inputs"), arguments.pop("labels"), **arguments)


def one_line(error):
    text = str(error.value)
    assert "\n" not in text and len(text) < 300, text
    return text


# Every integer argument of the public API, with the start of its message.
INTEGERS = [
    (lambda value, _: certify(label=value), "label {}, expected a class below 2 (num_classes)"),
    (lambda value, _: certify(n0=value), "n0 {}, expected 1 to 1073741824 draws per input"),
    (lambda value, _: certify(n=value), "n {}, expected 1 to 1073741824 draws per input"),
    (lambda value, _: certify(batch=value), "batch {}, expected 1 to 1048576 noisy copies per forward pass"),
    (lambda value, _: certify(example=value), "example {}, expected 0 to 18446744073709551615"),
    (lambda value, _: predict(n=value), "n {}, expected 1 to"),
    (lambda value, _: predict(batch=value), "batch {}, expected 1 to"),
    (lambda value, _: predict(example=value), "example {}, expected 0 to"),
    (lambda value, _: smoothed(seed=value), "seed {}, expected 0 to 18446744073709551615"),
    (lambda value, _: csrs.Smoothed(Linear(), num_classes=value, sigma=0.5), "num_classes {}, expected 2 to 25000"),
    (lambda value, tmp: certify_dataset(tmp, n0=value), "n0 {}, expected 1 to"),
    (lambda value, tmp: certify_dataset(tmp, n=value), "n {}, expected 1 to"),
    (lambda value, tmp: certify_dataset(tmp, batch=value), "batch {}, expected 1 to"),
    (lambda value, tmp: certify_dataset(tmp, skip=value), "skip {}, expected 1 to"),
    (lambda value, tmp: certify_dataset(tmp, max=value), "max {}, expected 0 to"),
    (lambda value, tmp: certify_dataset(tmp, labels=[0, value]), "labels: {}, expected classes 0 to 1 (labels[1])"),
    (lambda value, tmp: certify_dataset(tmp, shard=(value, 2)), "shard ({}, 2), expected i/k with 0 <= i < k"),
    (lambda value, tmp: certify_dataset(tmp, shard=(0, value)), "shard (0, {}), expected i/k with 0 <= i < k"),
    (lambda value, _: csrs.CostMatrix.load("unread.csv", num_classes=value), "num_classes {}, expected 2 to 25000"),
    (lambda value, _: csrs.certify_counts([1, 2], [3, 4], label=value, sigma=0.5, alpha=0.001), "label {}, expected"),
    (lambda value, _: csrs.certify_counts([1, value], [3, 4], label=0, sigma=0.5, alpha=0.001), "selection_counts[1] {}"),
    (lambda value, _: csrs.certify_counts([1, 2], [value, 4], label=0, sigma=0.5, alpha=0.001), "estimation_counts[0] {}"),
]

# Values outside every range, as the messages show them: i128 holds 2**70
# exactly, and anything past it is shown as past i128's bound.
OUT_OF_RANGE = [
    (-1, "-1"),
    (2**70, "1180591620717411303424"),
    (-(2**70), "-1180591620717411303424"),
    (2**200, "170141183460469231731687303715884105727 or more"),
]


@pytest.mark.parametrize("value, shown", OUT_OF_RANGE)
@pytest.mark.parametrize("call, message", INTEGERS)
def test_an_integer_out_of_range_is_a_value_error_naming_it(tmp_path, call, message, value, shown):
    with pytest.raises(ValueError) as raised:
        call(value, tmp_path)
    assert message.format(shown) in one_line(raised), str(raised.value)


@pytest.mark.parametrize("value, type_name", [(1.5, "float"), ("3", "str"), (None, "NoneType")])
@pytest.mark.parametrize(
    "call, name",
    [
        (lambda value, _: certify(n=value), "n"),
        (lambda value, _: certify(label=value), "label"),
        (lambda value, _: smoothed(seed=value), "seed"),
        (lambda value, tmp: certify_dataset(tmp, labels=[value, 1]), "labels[0]"),
        (lambda value, tmp: certify_dataset(tmp, shard=(0, value)), "shard[1]"),
        (lambda value, _: csrs.certify_counts([1, value], [3, 4], label=0, sigma=0.5, alpha=0.001), "selection_counts[1]"),
    ],
)
def test_something_else_than_an_integer_is_a_type_error_naming_it(tmp_path, call, name, value, type_name):
    with pytest.raises(TypeError) as raised:
        call(value, tmp_path)
    assert f"{name} is {type_name}, expected an integer" in one_line(raised)


def test_integers_of_numpy_and_whole_ranges_are_taken():
    # NumPy integers are integers; the ends of a range are in it.
    result = certify(n0=np.int64(100), n=np.uint32(1_000), batch=np.int16(100), example=2**64 - 1)
    assert result == certify(example=2**64 - 1)
    assert smoothed(seed=2**64 - 1).seed == 2**64 - 1
    matrix = csrs.CostMatrix([[0, 1], [2, 0]])
    assert matrix.row(np.int64(1)) == [2.0, 0.0]
    for y in (-1, 2, 2**70):
        with pytest.raises(IndexError, match=f"class {y} is out of range, expected a class below 2"):
            matrix.row(y)
    with pytest.raises(IndexError, match="class -1 is out of range"):
        matrix.sensitive_set(-1)


# The largest integer a run's settings file (TOML) holds: 2**63 - 1.
LARGEST_SETTING = 2**63 - 1


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(skip=2**63), "skip 9223372036854775808, expected 1 to 9223372036854775807 (every skip-th input;"),
        (dict(max=2**63), "max 9223372036854775808, expected 0 to 9223372036854775807 inputs"),
        (dict(seed=2**63), "seed 9223372036854775808, expected 0 to 9223372036854775807 for certify_dataset"),
        (dict(seed=2**64 - 1), "seed 18446744073709551615, expected 0 to 9223372036854775807 for certify_dataset"),
    ],
)
def test_settings_past_what_a_settings_file_holds_are_refused_by_name(tmp_path, changes, message):
    with pytest.raises(ValueError) as raised:
        certify_dataset(tmp_path, **changes)
    assert message in one_line(raised)
    assert list(tmp_path.iterdir()) == []


def test_the_largest_settings_are_taken(tmp_path):
    largest = dict(seed=LARGEST_SETTING, skip=LARGEST_SETTING, max=LARGEST_SETTING)
    rows = certify_dataset(tmp_path, **largest)
    assert [row["index"] for row in rows] == [0]
    settings = (tmp_path / "r.tsv.config.toml").read_text()
    for key in largest:
        assert f"{key} = {LARGEST_SETTING}\n" in settings, settings


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda tmp: certify(x=None), "x is NoneType, expected an array (a NumPy array or nested lists of numbers)"),
        (lambda tmp: certify(x="abc"), "x is str, expected an array"),
        (lambda tmp: certify(x=0.3), "x is float, expected an array"),
        (lambda tmp: predict(x=None), "x is NoneType, expected an array"),
        (lambda tmp: certify_dataset(tmp, inputs=None), "inputs is NoneType, expected an array"),
        (lambda tmp: certify_dataset(tmp, labels=None), "labels is NoneType, expected a sequence"),
        (lambda tmp: certify(cost_row=3.0), "cost_row is float, expected a sequence"),
        (lambda tmp: certify_dataset(tmp, shard=3), "shard is int, expected \"i/k\" or (i, k)"),
        (lambda tmp: certify_dataset(tmp, progress=3), "progress is int, expected a callable progress(done, total)"),
        (lambda tmp: csrs.CostMatrix(None), "array is NoneType, expected a sequence"),
        (lambda tmp: csrs.certify_counts(None, [1, 2], label=0, sigma=0.5, alpha=0.001), "selection_counts is NoneType"),
    ],
)
def test_something_else_than_an_array_is_a_type_error_naming_it(tmp_path, call, message):
    with pytest.raises(TypeError) as raised:
        call(tmp_path)
    assert message in one_line(raised)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda tmp: certify(x=np.float32(0.3)), "x has shape [], expected an input of at least one dimension"),
        (lambda tmp: certify(x=[[0.3, "a"]]), "x: could not convert string to float"),
        (lambda tmp: certify(x=[[0.3], [0.1, 0.2]]), "x: "),
        (lambda tmp: certify(cost_row=["a", "b"]), "cost_row: could not convert string to float"),
        (lambda tmp: certify_dataset(tmp, shard="1/1"), 'shard "1/1", expected i/k with 0 <= i < k, e.g. "0/4" or (0, 4)'),
        (lambda tmp: certify_dataset(tmp, shard="9" * 100), 'shard "' + "9" * 40 + '…", expected i/k'),
        (lambda tmp: smoothed(noise="x" * 100), 'noise: unknown noise "' + "x" * 40 + '…", expected gaussian or sound'),
    ],
)
def test_values_that_cannot_be_read_are_value_errors_naming_them(tmp_path, call, message):
    with pytest.raises(ValueError) as raised:
        call(tmp_path)
    assert message in one_line(raised)


def test_arrays_as_lists_tuples_and_other_dtypes_still_certify():
    expected = certify()
    assert certify(x=[0.3, 0.0, 0.0]) == expected
    assert certify(x=(0.3, 0, 0)) == expected
    assert certify(x=X.astype(np.float64)) == expected
    assert certify(x=[np.float32(0.3), 0, 0], cost_row=(1.0, 0)) == certify(cost_row=np.array([1.0, 0.0]))


def in_child(statement, folder):
    """Runs `statement` in a fresh interpreter in `folder`, its address
    space limited to 4 GiB on Linux so that a copy of tens of gigabytes
    fails at once (an abort, before the checks) instead of filling the
    machine. Returns its exit status and what it printed."""
    code = textwrap.dedent(
        f"""
        import resource, sys
        if sys.platform.startswith("linux"):
            resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        import numpy as np
        import csrs
        try:
            {statement}
        except (ValueError, TypeError) as error:
            print(type(error).__name__, error)
        else:
            print("no error")
        """
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=folder
    )
    return child.returncode, child.stdout.strip() + child.stderr.strip()


# Zero-copy views of tens of gigabytes and more, and lists holding one row
# many times: cheap in Python, each refused before csrs copies it.
HUGE = "np.broadcast_to(np.float64(0), (100_000, 100_000))"
SMOOTHED = "csrs.Smoothed(lambda b: np.zeros(len(b), dtype=np.int64), num_classes=2, sigma=0.5)"


@pytest.mark.parametrize(
    "statement, message",
    [
        (f"csrs.CostMatrix({HUGE})", "array has 100000 entries, expected at most 25000"),
        ("csrs.CostMatrix([[0.0] * 100_000] * 100_000)", "array has 100000 entries, expected at most 25000"),
        ("csrs.CostMatrix(np.broadcast_to(np.float64(0), (3, 10**10)))", "array[0] has 10000000000 entries, expected 3"),
        (
            "csrs.CostMatrix([[0, 1], [1, 0]], names=np.broadcast_to(np.array('a'), (10**12,)))",
            "names has 1000000000000 entries, expected 2 (one per class)",
        ),
        (
            "csrs.certify_counts(np.broadcast_to(np.int64(1), (10**12,)), [1, 2], label=0, sigma=0.5, alpha=0.001)",
            "selection_counts has 1000000000000 entries, expected at most 25000",
        ),
        (
            "csrs.certify_counts([1, 2], [1, 2], cost_row=np.broadcast_to(0.0, (10**12,)), label=0, sigma=0.5, alpha=0.001)",
            "cost_row has 1000000000000 entries, expected at most 25000",
        ),
        (
            f"{SMOOTHED}.certify(np.broadcast_to(np.float32(0), (100_000, 100_000)), 0, n0=100, n=100, alpha=0.01, batch=100)",
            "x has shape [100000, 100000], expected at most 10737418 values per input",
        ),
        (
            f"{SMOOTHED}.predict({HUGE}, n=100, alpha=0.01, batch=100)",
            "x has shape [100000, 100000], expected at most 10737418 values per input",
        ),
        (
            f"{SMOOTHED}.certify(np.zeros(2, np.float32), 0, n0=100, n=100, alpha=0.01, batch=100,"
            " cost_row=np.broadcast_to(0.0, (10**12,)))",
            "cost_row has 1000000000000 entries, expected 2 (num_classes)",
        ),
        (
            f"{SMOOTHED}.certify_dataset(np.broadcast_to(np.float32(0), (2, 100_000, 100_000)), [0, 1], out='r.tsv',"
            " n0=100, n=100, alpha=0.01, batch=100)",
            "inputs has shape [2, 100000, 100000], expected at most 10737418 values per input",
        ),
        (
            f"{SMOOTHED}.certify_dataset(np.zeros((2, 3), np.float32), np.broadcast_to(np.int64(0), (10**12,)),"
            " out='r.tsv', n0=100, n=100, alpha=0.01, batch=100)",
            "labels has 1000000000000 entries, expected 2 (one per input)",
        ),
    ],
)
def test_huge_arguments_are_refused_by_their_shape_before_any_copy(tmp_path, statement, message):
    status, output = in_child(statement, tmp_path)
    assert status == 0 and output.startswith("ValueError ") and message in output, (status, output)
    assert "\n" not in output


# 1 000 inputs of 10**7 values: 40 GB that the child cannot copy, of a shape
# csrs takes.
MANY = "np.broadcast_to(np.float32(0), (1_000, 10**7))"
GOOD = dict(labels="[0] * 1_000", n0="100", n="100", alpha="0.01", batch="100")


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(n="0"), "n 0, expected 1 to 1073741824 draws per input"),
        (dict(n0="0"), "n0 0, expected 1 to"),
        (dict(batch="0"), "batch 0, expected 1 to"),
        (dict(alpha="2.0"), "alpha: "),
        (dict(max="-1"), "max -1, expected 0 to"),
        (dict(skip="0"), "skip 0, expected 1 to"),
        (dict(shard="'2/2'"), 'shard "2/2", expected i/k'),
        (dict(target_radius="-1.0"), "target_radius -1, expected a finite number > 0"),
        (dict(labels="[0] * 999"), "labels has 999 entries, expected 1000 (one per input)"),
    ],
)
def test_a_wrong_argument_is_refused_before_the_inputs_are_copied(tmp_path, changes, message):
    arguments = dict(GOOD, **changes)
    labels = arguments.pop("labels")
    named = ", ".join(f"{name}={value}" for name, value in arguments.items())
    status, output = in_child(f"{SMOOTHED}.certify_dataset({MANY}, {labels}, out='r.tsv', {named})", tmp_path)
    assert status == 0 and output.startswith("ValueError ") and message in output, (status, output)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child's memory is limited on Linux only")
def test_the_inputs_refused_above_are_more_than_the_child_can_copy(tmp_path):
    named = ", ".join(f"{name}={value}" for name, value in GOOD.items() if name != "labels")
    status, output = in_child(f"{SMOOTHED}.certify_dataset({MANY}, {GOOD['labels']}, out='r.tsv', {named})", tmp_path)
    assert status != 0 and "MemoryError: inputs has 10000000000 values, more than memory holds" in output, output
