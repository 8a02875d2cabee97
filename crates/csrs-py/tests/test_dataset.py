"""load_dataset: the splits csrs trains and certifies on, as NumPy arrays."""

import gzip

import numpy as np
import pytest

import csrs
from conftest import REPO

DIGITS_CSV = REPO / "crates" / "csrs-data" / "data" / "digits.csv.gz"


@pytest.mark.parametrize("split, count", [("train", 1297), ("test", 500)])
def test_digits_splits_are_float_images_in_the_unit_range_with_every_class(split, count):
    images, labels = csrs.load_dataset("digits", split)
    assert images.shape == (count, 1, 8, 8) and images.dtype == np.float32
    assert labels.shape == (count,) and labels.dtype == np.int64
    assert images.flags.c_contiguous
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(labels.tolist()) == set(range(10))


def test_digits_train_and_test_are_disjoint_and_together_every_row():
    train_images, train_labels = csrs.load_dataset("digits", "train")
    test_images, test_labels = csrs.load_dataset("digits", "test")
    rows = lambda images, labels: {(image.tobytes(), int(label)) for image, label in zip(images, labels)}
    train, test = rows(train_images, train_labels), rows(test_images, test_labels)
    assert len(train) == 1297 and len(test) == 500
    assert not train & test
    # The embedded file: 1 797 rows of 64 pixels 0 to 16, then the label.
    with gzip.open(DIGITS_CSV, "rt") as file:
        table = np.loadtxt(file, delimiter=",", dtype=np.int64)
    assert table.shape == (1797, 65)
    pixels = (table[:, :64] / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    assert train | test == rows(pixels, table[:, 64])


def test_the_test_split_is_stratified():
    _, labels = csrs.load_dataset("digits", "test")
    assert np.bincount(labels, minlength=10).min() >= 45


def test_loading_twice_gives_the_same_arrays():
    first, second = csrs.load_dataset("digits", "train"), csrs.load_dataset("digits", "train", None)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_mnist_5k_is_built_in_too():
    images, labels = csrs.load_dataset("mnist-5k", "test")
    assert images.shape == (1000, 1, 28, 28) and images.dtype == np.float32
    assert labels.shape == (1000,) and 0.0 <= images.min() and images.max() <= 1.0


@pytest.mark.parametrize(
    "args, message",
    [
        (("digit", "train"), 'name: unknown dataset "digit", expected one of digits, mnist-5k, mnist, cifar10'),
        (("x" * 100, "train"), 'name: unknown dataset "' + "x" * 40 + '…", expected one of digits'),
        (("digits", "val"), 'split: unknown split "val", expected train or test'),
        (("digits", "Train"), 'split: unknown split "Train", expected train or test'),
        (("mnist", "train"), "data_dir None, expected the folder of mnist (only digits and mnist-5k are built in)"),
    ],
)
def test_unknown_names_and_splits_are_value_errors_naming_them(args, message):
    with pytest.raises(ValueError) as raised:
        csrs.load_dataset(*args)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    "args, message",
    [
        ((3, "train"), "name is int, expected a string"),
        (("digits", None), "split is NoneType, expected a string"),
        (("digits", "train", 3), "data_dir is int, expected a path"),
    ],
)
def test_arguments_of_the_wrong_type_are_type_errors_naming_them(args, message):
    with pytest.raises(TypeError) as raised:
        csrs.load_dataset(*args)
    assert message in str(raised.value)


def test_missing_files_are_os_errors_naming_them(tmp_path):
    with pytest.raises(OSError) as raised:
        csrs.load_dataset("mnist", "test", tmp_path)
    assert "t10k-images-idx3-ubyte" in str(raised.value)
    with pytest.raises(OSError) as raised:
        csrs.load_dataset("cifar10", "train", str(tmp_path))
    assert f"{tmp_path}: no cifar10 here" in str(raised.value)
