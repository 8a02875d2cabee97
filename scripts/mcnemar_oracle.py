"""Writes crates/csrs-stats/tests/data/mcnemar.csv: McNemar's exact test
(statsmodels) on pairs of discordant counts, checked against SciPy's
binomial test at 1/2 on the same counts."""

import itertools
import pathlib

from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar

PAIRS = sorted(
    set(itertools.product([0, 1, 2, 3, 7, 10], repeat=2))
    | {(25, 40), (120, 151), (400, 460), (999, 1100), (3, 12), (12, 3)}
)

out = pathlib.Path(__file__).resolve().parent.parent / "crates/csrs-stats/tests/data/mcnemar.csv"
lines = ["only_first,only_second,pvalue"]
for b, c in PAIRS:
    p = mcnemar([[0, b], [c, 0]], exact=True).pvalue
    if b + c:
        assert abs(binomtest(b, b + c, 0.5).pvalue - p) <= 1e-12 * p
    lines.append(f"{b},{c},{float(p)!r}")
out.write_text("\n".join(lines) + "\n")
