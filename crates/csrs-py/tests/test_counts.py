"""certify_counts against the SciPy oracle cases, and its refusals."""

import json
import math

import pytest

import csrs
from conftest import ORACLES


def same(actual, expected, what):
    if expected is None or isinstance(expected, bool):
        assert actual == expected, what
    elif expected == "inf":
        assert actual == math.inf, what
    else:
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-12), what


def test_certify_counts_matches_the_oracle_cases():
    lines = (ORACLES / "certify_cases.jsonl").read_text().splitlines()
    assert len(lines) >= 50
    for number, line in enumerate(lines, 1):
        case = json.loads(line)
        result = csrs.certify_counts(
            case["selection_counts"],
            case["estimation_counts"],
            label=case["label"],
            cost_row=case["cost_row"],
            sigma=case["sigma"],
            alpha=case["alpha"],
        )
        expected = case["expected"]
        assert set(result) == set(expected), number
        for key in ("predicted", "abstain", "p_lower", "radius_std", "radius_cs"):
            same(result[key], expected[key], f"case {number}: {key}")
        if expected["certified_cost"] is None:
            assert result["certified_cost"] is None, number
            continue
        assert len(result["certified_cost"]) == len(expected["certified_cost"]), number
        for (level, radius), (level_e, radius_e) in zip(result["certified_cost"], expected["certified_cost"]):
            same(level, level_e, f"case {number}: level")
            same(radius, radius_e, f"case {number}: curve radius")


def test_without_a_cost_row_it_is_cohens_certificate():
    result = csrs.certify_counts([0, 99, 1], [2, 990, 8], label=1, sigma=0.5, alpha=0.001)
    assert result["predicted"] == 1 and not result["abstain"]
    assert result["radius_cs"] is None and result["certified_cost"] is None
    # Clopper-Pearson at 0.001 on 990 of 1000, then sigma * Phi^-1.
    assert 0.5 * 1.8 < result["radius_std"] < 0.5 * 2.33


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(label=3, cost_row=[0, 1, 1]), "label 3 is out of range, expected a class index below 3 (the length of cost_row)"),
        (dict(label=0, cost_row=[0, 1]), "selection_counts has 3 entries, expected 2 (the length of cost_row)"),
        (dict(label=0, cost_row=[0, -1, 1]), "cost_row"),
        (dict(label=0, sigma=0.0), "sigma"),
        (dict(label=0, alpha=1.5), "alpha"),
        (dict(label=0, cost_row=[0, float("nan"), 1]), "cost_row"),
    ],
)
def test_bad_counts_are_value_errors_of_one_line(arguments, message):
    options = dict(sigma=0.25, alpha=0.001)
    options.update(arguments)
    with pytest.raises(ValueError) as raised:
        csrs.certify_counts([1, 2, 3], [10, 20, 30], **options)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_counts_that_are_not_counts_are_refused_by_name():
    with pytest.raises(ValueError, match=r"selection_counts\[1\] -2, expected a count from 0 to"):
        csrs.certify_counts([1, -2], [3, 4], label=0, sigma=0.25, alpha=0.001)
    with pytest.raises(TypeError, match=r"estimation_counts\[0\] is float, expected an integer"):
        csrs.certify_counts([1, 2], [3.5, 4], label=0, sigma=0.25, alpha=0.001)
