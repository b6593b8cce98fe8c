"""The figures' arithmetic against hand-worked expectations and NumPy brute force: every cell of the kernel grid is
its kernel under the stated normalisation, the towers' kernels sit in their own blocks, the nearest neighbours are
those of an exhaustive search."""

import numpy as np
import pytest

import alexnet
import allcnn
from figures import grids, network


def _expected_cell(kernels, index, normalize):
    k = kernels[..., index].astype(np.float64)
    whole = kernels.astype(np.float64)
    low, high = (k.min(), k.max()) if normalize == "kernel" else (whole.min(), whole.max())
    return (k - low) / (high - low)


@pytest.mark.parametrize("normalize", grids.NORMALIZATIONS)
def test_each_cell_is_its_kernel_and_the_towers_fill_separate_blocks(normalize):
    rng = np.random.default_rng(0)
    kernels = rng.normal(0, 0.01, (11, 11, 3, 96)) * rng.uniform(0.1, 3, 96)  # kernels of unequal strength
    image = grids.kernel_grid(kernels, groups=2, normalize=normalize)
    # by hand: 48 kernels per tower in rows of 16 -> 3 rows of 12-pixel cells (11 + a 1-pixel border) per block,
    # blocks 4 pixels apart: tower 0 in rows 1..36, tower 1 from row 3 * 12 + 4 + 1 = 41
    assert image.shape == (2 * 3 * 12 + 4 + 1, 16 * 12 + 1, 3)
    for index in (0, 15, 16, 47, 48, 63, 95):
        tower, i = divmod(index, 48)
        top = tower * (3 * 12 + 4) + (i // 16) * 12 + 1
        left = (i % 16) * 12 + 1
        np.testing.assert_allclose(image[top:top + 11, left:left + 11], _expected_cell(kernels, index, normalize),
                                   atol=1e-6, err_msg=f"kernel {index}")
    assert image[37:41].min() == 1.0  # the gap between the towers' blocks is blank
    if normalize == "layer":
        assert image[1:37].min() >= 0 and image.max() == 1.0 and np.isclose(image[image < 1].min(), 0.0)


def test_grey_and_many_channel_kernels_become_grey_cells():
    rng = np.random.default_rng(1)
    grey = grids.normalized_kernels(rng.normal(size=(3, 3, 1, 4)), "kernel")
    assert grey.shape == (4, 3, 3, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    with pytest.raises(ValueError, match="normalize='global' is invalid"):
        grids.normalized_kernels(np.zeros((3, 3, 3, 2)), "global")


def test_nearest_neighbours_equal_an_exhaustive_numpy_search():
    rng = np.random.default_rng(2)
    references, queries = rng.normal(size=(300, 64)), rng.normal(size=(7, 64))
    index, distance = grids.nearest(queries, references, 6)
    exhaustive = np.linalg.norm(queries[:, None, :] - references[None, :, :], axis=-1)
    np.testing.assert_array_equal(index, np.argsort(exhaustive, axis=1, kind="stable")[:, :6])
    np.testing.assert_allclose(distance, np.sort(exhaustive, axis=1)[:, :6], rtol=1e-9)
    self_index, self_distance = grids.nearest(references[:3], references, 1)  # each point is its own nearest
    assert list(self_index[:, 0]) == [0, 1, 2] and np.allclose(self_distance, 0, atol=1e-6)


def test_first_layer_kernels_and_their_towers_come_from_the_model():
    name, kernels, groups = network.first_kernels(alexnet.build("paper"))
    assert (name, kernels.shape, groups) == ("conv1", (11, 11, 3, 96), 2)  # conv2's two towers split conv1's maps
    assert network.first_kernels(alexnet.build("neon"))[2] == 1
    name, kernels, groups = network.first_kernels(allcnn.build("all_cnn_c"))
    assert (name, kernels.shape, groups) == ("conv1", (3, 3, 3, 96), 1)
    model = alexnet.build("one_weird_trick", num_classes=7)
    features = network.feature_model(model)
    assert features.outputs[0].shape[-1] == 4096 and features.outputs[1].shape[-1] == 7  # fc7's output, classes


def test_the_upper_block_of_kernels_is_what_conv2s_first_tower_sees():
    """Zeroing conv1's kernels 50..95 (the lower block but 48 and 49, which the LRN window of maps 46 and 47 reaches
    across the towers' boundary) leaves the output of conv2's first tower (its first 128 maps) unchanged and changes
    the second's: the upper block feeds the first tower."""
    import keras
    model = alexnet.build("paper")
    probe = keras.Model(model.input, model.get_layer("conv2").output)
    images = np.random.default_rng(3).uniform(-100, 100, (1, 224, 224, 3)).astype(np.float32)
    before = probe(images).numpy()
    kernel, bias = model.get_layer("conv1").get_weights()
    kernel[..., 50:] = 0.0
    bias[50:] = 0.0
    model.get_layer("conv1").set_weights([kernel, bias])
    after = probe(images).numpy()
    np.testing.assert_array_equal(after[..., :128], before[..., :128])
    assert not np.allclose(after[..., 128:], before[..., 128:])
