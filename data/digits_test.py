"""The offline digits source: the documented split, real pixel values, the upscaling."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from data import digits


def test_split_sizes_classes_and_dtypes():
    train_x, train_y = digits.load("train")
    test_x, test_y = digits.load("test")
    assert train_x.shape == (1437, 32, 32, 3) and test_x.shape == (360, 32, 32, 3)
    assert train_x.dtype == np.uint8 and train_y.dtype == np.int64
    assert len(train_y) + len(test_y) == 1797
    assert np.bincount(train_y).min() >= 141 and np.bincount(test_y).min() >= 33  # every class in both splits


def test_real_pixel_values_and_labels():
    # sklearn's first digit is a 0 whose first row is 0 0 5 13 9 1 0 0 (values 0..16).
    raw = load_digits()
    np.testing.assert_array_equal(raw.images[0, 0], [0, 0, 5, 13, 9, 1, 0, 0])
    x, y = digits.load("train")
    np.testing.assert_array_equal(y[:10], np.arange(10))
    # value 5 -> round(5 * 255 / 16) = round(79.69) = 80, filling the 4x4 block at rows 0-3, columns 8-11.
    np.testing.assert_array_equal(x[0, 0:4, 8:12], 80)
    np.testing.assert_array_equal(x[0, 0:4, 12:16], 207)  # 13 -> round(207.19)
    assert x.max() == 255 and x.min() == 0
    np.testing.assert_array_equal(x[..., 0], x[..., 2])  # grey replicated to RGB
    test_x, test_y = digits.load("test")
    np.testing.assert_array_equal(test_x, digits.upscale(raw.images[1437:]))
    np.testing.assert_array_equal(test_y, raw.target[1437:])


def test_bad_split_and_bad_images():
    with pytest.raises(ValueError, match="split='validation' is invalid; valid splits: train, test"):
        digits.load("validation")
    with pytest.raises(ValueError, match=r"expected \(N, 8, 8\) digit images with values in 0..16"):
        digits.upscale(np.full((2, 8, 8), 17.0))


def test_16_pixel_digits_hold_the_same_values_in_2x2_blocks():
    x32, y32 = digits.load("test")
    x16, y16 = digits.load("test", size=16)
    assert x16.shape == (360, 16, 16, 3) and x16.dtype == np.uint8
    np.testing.assert_array_equal(y16, y32)
    np.testing.assert_array_equal(x16, x32[:, ::2, ::2])  # one pixel of each 2x2 block of 32's 4x4 blocks
    np.testing.assert_array_equal(x16[:, 0::2, 0::2], x16[:, 1::2, 1::2])  # 2x2 blocks
    np.testing.assert_array_equal(digits.upscale(load_digits().images[:3], 8)[..., 0],
                                  np.rint(load_digits().images[:3] * 255 / 16))  # size 8: the values themselves
    with pytest.raises(ValueError, match="digits image size 20 is invalid; valid sizes are multiples of 8"):
        digits.upscale(np.zeros((1, 8, 8)), 20)
