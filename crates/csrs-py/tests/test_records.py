"""certify_dataset writes the records of `csrs certify`: read back by the
command's reader (and by the binary when CSRS_BIN names it), resumable,
refused when they exist, intact after Ctrl-C; and csrs.report over them."""

import math
import os
import signal
import subprocess

import numpy as np
import pytest

import csrs
from conftest import Linear

SIGMA = 0.5
OPTIONS = dict(n0=100, n=2_000, alpha=0.001, batch=1_000)


def dataset(count=12):
    """Inputs (count, 1, 2, 2) whose first value moves from -1 to 1."""
    inputs = np.zeros((count, 1, 2, 2), dtype=np.float32)
    inputs[:, 0, 0, 0] = np.linspace(-1.0, 1.0, count)
    labels = (inputs[:, 0, 0, 0] > 0).astype(np.int64)
    return inputs, labels


def test_records_are_those_of_the_command_and_read_back(tmp_path, linear):
    inputs, labels = dataset()
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=5, name="linear")
    out = tmp_path / "run.tsv"
    rows = smoothed.certify_dataset(inputs, labels, out=out, **OPTIONS)
    assert [row["index"] for row in rows] == list(range(12))
    assert csrs.report.read_records(out) == rows
    # A fixed n has nothing to decide: None, not False.
    assert all(row["decided"] is None for row in rows)
    assert (tmp_path / "run.tsv.end").exists()
    settings = (tmp_path / "run.tsv.config.toml").read_text()
    assert 'model = "linear"' in settings and "sigma = 0.5" in settings and 'shard = "0/1"' in settings
    # Input i has stream i: certify(inputs[i], example=i) is record i.
    single = smoothed.certify(inputs[4], int(labels[4]), example=4, **OPTIONS)
    for key in ("predicted", "p_lower", "radius_std", "draws"):
        assert single[key] == rows[4][key], key
    assert rows[0]["predicted"] == 0 and rows[0]["label"] == 0 and rows[0]["base_predicted"] == 0
    binary = os.environ.get("CSRS_BIN")
    if binary:
        shown = subprocess.run([binary, "analyze", "--format", "tsv", str(out)], capture_output=True, text=True)
        assert shown.returncode == 0, shown.stderr
        assert "certified_accuracy" in shown.stdout.splitlines()[0]


def test_existing_records_are_refused_and_resumed(tmp_path, linear):
    inputs, labels = dataset()
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=5)
    out = tmp_path / "run.jsonl"
    first = smoothed.certify_dataset(inputs, labels, out=out, max=5, **OPTIONS)
    assert len(first) == 5
    # Settings are named as this package's arguments, not the command's flags.
    with pytest.raises(ValueError, match=r"already exists: pass resume=True to continue it, or choose another out$"):
        smoothed.certify_dataset(inputs, labels, out=out, **OPTIONS)
    linear.calls.clear()
    whole = smoothed.certify_dataset(inputs, labels, out=out, resume=True, **OPTIONS)
    assert len(whole) == 12 and whole[:5] == first
    # Only the 7 new inputs were drawn for (a selection pass, two
    # estimation passes and a clean one each).
    assert len(linear.calls) == 7 * 4
    fresh = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=5)
    again = fresh.certify_dataset(inputs, labels, out=tmp_path / "again.jsonl", **OPTIONS)
    strip = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
    assert strip(again) == strip(whole)
    other = csrs.Smoothed(linear, num_classes=2, sigma=0.25, seed=5)
    with pytest.raises(ValueError, match="^resume=True: the records were made with sigma 0.5, this run has 0.25"):
        other.certify_dataset(inputs, labels, out=out, resume=True, **OPTIONS)


def files_of(out):
    """The records at `out`, their settings and their end mark (None where
    absent), with when each was last changed."""
    paths = [out, out.with_name(out.name + ".config.toml"), out.with_name(out.name + ".end")]
    return [(path.read_bytes(), path.stat().st_mtime_ns) if path.exists() else None for path in paths]


def test_a_refused_resume_changes_nothing(tmp_path, linear):
    inputs, labels = dataset()
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=5)
    out = tmp_path / "run.tsv"
    smoothed.certify_dataset(inputs, labels, out=out, max=5, **OPTIONS)
    other = csrs.Smoothed(linear, num_classes=2, sigma=0.25, seed=5)
    too_large = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=2**64 - 1)

    def refused(smoothed, error, message, **changes):
        before = files_of(out)
        with pytest.raises(error, match=message):
            smoothed.certify_dataset(inputs, labels, out=out, resume=True, **dict(OPTIONS, **changes))
        assert files_of(out) == before

    # Finished records, then those of a run killed while writing a line.
    for killed in (False, True):
        if killed:
            (tmp_path / "run.tsv.end").unlink()
            with open(out, "ab") as records:
                records.write(b"5\t1\t1\tfal")
        refused(other, ValueError, "the records were made with sigma 0.5, this run has 0.25")
        refused(smoothed, ValueError, "the records were made with n 2000, this run has 4000", n=4_000)
        refused(too_large, ValueError, "seed 18446744073709551615, expected 0 to 9223372036854775807 for certify_dataset")
    settings = (tmp_path / "run.tsv.config.toml").read_bytes()
    (tmp_path / "run.tsv.config.toml").unlink()
    refused(smoothed, ValueError, "has no .*run.tsv.config.toml")
    # With its settings back, the run continues: the partial line goes.
    (tmp_path / "run.tsv.config.toml").write_bytes(settings)
    rows = smoothed.certify_dataset(inputs, labels, out=out, resume=True, **OPTIONS)
    assert [row["index"] for row in rows] == list(range(12))
    assert csrs.report.read_records(out) == rows


def test_shards_and_stop_rules_make_the_commands_records(tmp_path, linear):
    inputs, labels = dataset()
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA, seed=1)
    cost = csrs.CostMatrix([[0.0, 1.0], [0.0, 0.0]])
    rows = smoothed.certify_dataset(
        inputs, labels, out=tmp_path / "half.tsv", shard=(1, 2), cost=cost, target_radius=0.25, **OPTIONS
    )
    assert [row["index"] for row in rows] == [1, 3, 5, 7, 9, 11]
    assert all(row["draws"] <= 2_000 for row in rows) and any(row["draws"] < 2_000 for row in rows)
    # Each input drawn in rounds says whether it was decided at the target
    # radius; only one that spent every draw can have run out of them.
    assert all(row["decided"] or row["draws"] == 2_000 for row in rows)
    assert all(isinstance(row["decided"], bool) for row in rows)
    assert csrs.report.read_records(tmp_path / "half.tsv") == rows
    table = csrs.report.metrics(tmp_path / "half.tsv", radii=[0.0, 0.25])
    assert table[0]["target_radius"] == 0.25 and table[0]["certified_accuracy@0"] is None
    assert table[0]["out_of_draws"] == sum(not row["decided"] for row in rows)
    assert "shard = \"1/2\"" in (tmp_path / "half.tsv.config.toml").read_text()
    # A class-0 input predicted 0 has a cost-sensitive curve; class 1's row
    # has no harmful class, so its certificate is Cohen's.
    assert rows[0]["certified_cost"][-1] == [1.0, math.inf]
    assert rows[-1]["certified_cost"] is None and rows[-1]["radius_cs"] is None


def test_ctrl_c_stops_between_passes_with_the_records_intact(tmp_path):
    import threading

    inputs, labels = dataset()
    linear = Linear()

    def interrupted(batch):
        # Ctrl-C a little later, while csrs works between passes.
        if len(linear.calls) == 13:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
        return linear(batch)

    slow = dict(OPTIONS, n=400_000, batch=200_000)
    smoothed = csrs.Smoothed(interrupted, num_classes=2, sigma=SIGMA, seed=5, name="linear")
    out = tmp_path / "run.tsv"
    # Python's own Ctrl-C handler, whatever this process inherited: a shell
    # that starts a job in the background has it ignore SIGINT.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            smoothed.certify_dataset(inputs, labels, out=out, **slow)
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert not (tmp_path / "run.tsv.end").exists()
    with pytest.raises(ValueError, match="has no end mark"):
        csrs.report.read_records(out)
    kept = csrs.report.read_records(out, partial=True)
    assert [row["index"] for row in kept] == list(range(len(kept))) and 2 <= len(kept) < 12
    # The lock is released: the run resumes, to what a run never stopped makes.
    done = csrs.Smoothed(Linear(), num_classes=2, sigma=SIGMA, seed=5, name="linear")
    whole = done.certify_dataset(inputs, labels, out=out, resume=True, **slow)
    again = done.certify_dataset(inputs, labels, out=tmp_path / "again.tsv", **slow)
    strip = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
    assert strip(whole) == strip(again)


def test_resuming_with_other_inputs_is_refused(tmp_path, linear):
    inputs, labels = dataset()
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA)
    out = tmp_path / "run.tsv"
    smoothed.certify_dataset(inputs, labels, out=out, max=3, **OPTIONS)
    with pytest.raises(ValueError, match="the records were made with inputs"):
        smoothed.certify_dataset(inputs + 0.01, labels, out=out, resume=True, **OPTIONS)
    with pytest.raises(ValueError, match="the records were made with inputs"):
        smoothed.certify_dataset(inputs, 1 - labels, out=out, resume=True, **OPTIONS)


def test_a_failing_progress_callback_stops_the_run(tmp_path, linear):
    inputs, labels = dataset()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        if done == 3:
            raise RuntimeError("enough")

    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA)
    with pytest.raises(RuntimeError, match="enough"):
        smoothed.certify_dataset(inputs, labels, out=tmp_path / "r.tsv", progress=progress, **OPTIONS)
    assert seen == [(1, 12), (2, 12), (3, 12)]
    # A callback failing after the last input is raised too.
    last = lambda done, total: (_ for _ in ()).throw(RuntimeError("late")) if done == total else None
    with pytest.raises(RuntimeError, match="late"):
        smoothed.certify_dataset(inputs, labels, out=tmp_path / "late.tsv", progress=last, **OPTIONS)


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(labels=[0, 1]), ValueError, "labels has 2 entries, expected 12 (one per input)"),
        (dict(labels=[5] * 12), ValueError, "labels: 5, expected classes 0 to 1"),
        (dict(inputs=np.zeros(12, dtype=np.float32)), ValueError, "expected (N, *input_shape)"),
        (dict(shard="2/2"), ValueError, "expected i/k with 0 <= i < k"),
        (dict(cost="missing.toml"), OSError, "missing.toml"),
        (dict(cost=csrs.CostMatrix([[0, 1, 1], [1, 0, 1], [1, 1, 0]])), ValueError, "cost has 3 classes, expected 2"),
        (dict(out="plain/r.tsv"), OSError, "cannot create"),
        (dict(out="r.csv"), ValueError, ".csv"),
        (dict(skip=0), ValueError, "skip 0"),
    ],
)
def test_bad_runs_are_refused(tmp_path, linear, changes, error, message):
    inputs, labels = dataset()
    (tmp_path / "plain").write_text("a file, not a folder")
    arguments = dict(inputs=inputs, labels=labels, out="r.tsv")
    arguments.update(changes)
    arguments["out"] = tmp_path / arguments["out"]
    if isinstance(arguments.get("cost"), str):
        arguments["cost"] = str(tmp_path / arguments["cost"])
    smoothed = csrs.Smoothed(linear, num_classes=2, sigma=SIGMA)
    with pytest.raises(error) as raised:
        smoothed.certify_dataset(arguments.pop("inputs"), arguments.pop("labels"), **arguments, **OPTIONS)
    assert message in str(raised.value), str(raised.value)


def test_reports_are_those_of_analyze(tmp_path, linear):
    inputs, labels = dataset()
    paths = []
    for sigma in (0.25, 0.5):
        smoothed = csrs.Smoothed(linear, num_classes=2, sigma=sigma, seed=0)
        out = tmp_path / f"sigma{sigma}.tsv"
        smoothed.certify_dataset(inputs, labels, out=out, **OPTIONS)
        paths.append(out)
    text = csrs.report.table(paths, radii=[0.0, 0.5])
    assert text.startswith("|") and "sigma0.25.tsv" in text
    metrics = csrs.report.metrics(paths, radii=[0.0, 0.5], labels=["small", "large"])
    assert [m["label"] for m in metrics] == ["small", "large"] and [m["examples"] for m in metrics] == [12, 12]
    # Certified accuracy cannot grow with the radius; a larger sigma
    # certifies larger radii on these inputs.
    for m in metrics:
        assert 0.0 <= m["certified_accuracy@0.5"] <= m["certified_accuracy@0"] <= 1.0
    assert metrics[1]["certified_accuracy@0.5"] >= metrics[0]["certified_accuracy@0.5"]
    tsv = csrs.report.table(paths[0], format="tsv").splitlines()
    assert len(tsv) == 2 and tsv[0].split("\t")[0] == "records"
    compared = csrs.report.compare(paths, radii=[0.0], format="tsv").splitlines()
    assert compared[0].startswith("baseline\trun\tmetric") and len(compared) > 1
    figure = tmp_path / "figure.svg"
    csrs.report.plot(paths, figure, labels=["small", "large"])
    assert figure.read_text().lstrip().startswith("<svg") or "<svg" in figure.read_text()[:500]
    with pytest.raises(ValueError, match="exists"):
        csrs.report.plot(paths, figure)
    csrs.report.plot(paths, figure, force=True)
    with pytest.raises(ValueError, match="labels: 1 given, expected one per records file"):
        csrs.report.table(paths, labels=["one"])
    with pytest.raises(OSError):
        csrs.report.read_records(tmp_path / "none.tsv")
