"""CostMatrix: from arrays and files, validated as the command validates."""

import numpy as np
import pytest

import csrs


def test_a_matrix_from_an_array_gives_its_rows():
    matrix = csrs.CostMatrix(np.array([[0, 1, 5], [1, 0, 0], [0, 2, 0]], dtype=float), names=["a", "b", "c"])
    assert matrix.num_classes == 3 and len(matrix) == 3
    assert matrix.row(0) == [0.0, 1.0, 5.0]
    assert matrix.sensitive_set(0) == [1, 2]
    assert matrix.names == ["a", "b", "c"]
    assert matrix.tolist()[2] == [0.0, 2.0, 0.0]
    with pytest.raises(IndexError, match="class 3 is out of range"):
        matrix.row(3)


def test_files_are_read_as_the_command_reads_them(tmp_path):
    toml = tmp_path / "cost.toml"
    toml.write_text('kind = "pairwise"\nclasses = ["bird", "cat", "dog"]\npairs = [["cat", "dog"]]\n')
    matrix = csrs.CostMatrix.load(toml)
    assert matrix.sensitive_set(1) == [2] and matrix.names == ["bird", "cat", "dog"]
    csv = tmp_path / "cost.csv"
    csv.write_text("0,1\n3,0\n")
    assert csrs.CostMatrix.load(str(csv)).row(1) == [3.0, 0.0]
    with pytest.raises(ValueError, match="expected 4"):
        csrs.CostMatrix.load(csv, num_classes=4)


@pytest.mark.parametrize(
    "rows",
    [[[0, 1], [1]], [[0, -1], [1, 0]], [[1, 1], [1, 0]], [[0]], [[0, float("inf")], [1, 0]]],
)
def test_malformed_matrices_are_refused(rows):
    with pytest.raises(ValueError):
        csrs.CostMatrix(rows)


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError, match="nothing.toml"):
        csrs.CostMatrix.load(tmp_path / "nothing.toml")
    (tmp_path / "cost.txt").write_text("0,1\n1,0\n")
    with pytest.raises(ValueError, match="expected a .toml or .csv file"):
        csrs.CostMatrix.load(tmp_path / "cost.txt")
