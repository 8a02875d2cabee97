"""Metrics, tables and figures from certification records, as ``csrs
analyze`` makes them (the same functions).

Every function takes one records file or a list of them (``.tsv`` or
``.jsonl``, written by ``csrs certify`` or ``Smoothed.certify_dataset``).
Records still being written, or of a run that has not finished, are
refused unless ``partial=True``.
"""

import json
import os
from typing import List, Optional, Sequence, Union

from . import _csrs

Paths = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]

#: The radii of ``csrs analyze``'s table unless told otherwise.
RADII = (0.0, 0.25, 0.5, 0.75, 1.0)


def _paths(records: Paths) -> List[str]:
    if isinstance(records, (str, os.PathLike)):
        return [os.fspath(records)]
    return [os.fspath(path) for path in records]


def read_records(path: Union[str, "os.PathLike[str]"], *, partial: bool = False) -> List[dict]:
    """The records of one file as dicts, by example index: the keys of a
    JSONL record (``index``, ``label``, ``predicted``, ``radius_std``,
    ``radius_cs``, ``certified_cost``, ...; ``None`` for abstain or not
    certified, ``inf`` for an infinite radius)."""
    return _csrs.read_records(os.fspath(path), partial=partial)


def table(
    records: Paths,
    *,
    radii: Sequence[float] = RADII,
    format: str = "markdown",
    labels: Optional[Sequence[str]] = None,
    partial: bool = False,
) -> str:
    """The metrics table (certified accuracy, cost-sensitive robustness,
    ... at each radius, with 95% intervals), as ``markdown``, ``tsv`` or
    ``jsonl``; a row per records file, named by ``labels`` if given."""
    return _csrs.table_text(
        _paths(records), radii=list(radii), format=format, labels=None if labels is None else list(labels), partial=partial
    )


def metrics(
    records: Paths,
    *,
    radii: Sequence[float] = RADII,
    labels: Optional[Sequence[str]] = None,
    partial: bool = False,
) -> List[dict]:
    """The metrics table as one dict per records file: the keys of its
    ``jsonl`` format (each fraction with ``_low`` and ``_high``)."""
    text = table(records, radii=radii, format="jsonl", labels=labels, partial=partial)
    return [json.loads(line) for line in text.splitlines() if line]


def compare(
    records: Paths,
    *,
    radii: Sequence[float] = RADII,
    format: str = "markdown",
    labels: Optional[Sequence[str]] = None,
    partial: bool = False,
) -> str:
    """Each run against the first on their common examples: per metric and
    radius, the examples right by one run only and McNemar's exact p-value
    (``csrs analyze --compare``)."""
    return _csrs.compare_text(
        _paths(records), radii=list(radii), format=format, labels=None if labels is None else list(labels), partial=partial
    )


def plot(
    records: Paths,
    out: Union[str, "os.PathLike[str]"],
    *,
    labels: Optional[Sequence[str]] = None,
    partial: bool = False,
    force: bool = False,
) -> None:
    """Writes the figure of ``csrs analyze --plot`` (certified accuracy and
    cost-sensitive robustness against the radius) to ``out``, SVG or PNG by
    its extension, whole or not at all; an existing ``out`` is refused
    unless ``force``."""
    _csrs.plot(_paths(records), os.fspath(out), labels=None if labels is None else list(labels), partial=partial, force=force)


__all__ = ["RADII", "compare", "metrics", "plot", "read_records", "table"]
