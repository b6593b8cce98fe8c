"""Property tests of the image ops, eagerly and inside tf.data.Dataset.map, on synthetic and real photos."""

import numpy as np
import pytest
import tensorflow as tf
from skimage import data as skimage_data

from data import augment


def _numbered(height=9, width=12, channels=3):
    """An image whose every value is unique, so a crop identifies its position exactly."""
    return np.arange(height * width * channels, dtype=np.float32).reshape(height, width, channels)


def test_flip_twice_is_identity_and_flip_reverses_columns():
    image = _numbered()
    np.testing.assert_array_equal(augment.flip(augment.flip(image)).numpy(), image)
    np.testing.assert_array_equal(augment.flip(image).numpy()[:, 0], image[:, -1])


def test_random_flip_is_seeded_and_either_identity_or_flip():
    image = _numbered()
    outcomes = set()
    for s in range(20):
        out = augment.random_flip(image, tf.constant([s, 0])).numpy()
        np.testing.assert_array_equal(out, augment.random_flip(image, tf.constant([s, 0])).numpy())
        assert np.array_equal(out, image) or np.array_equal(out, image[:, ::-1])
        outcomes.add(np.array_equal(out, image))
    assert outcomes == {True, False}


def test_random_crops_stay_inside_and_have_the_right_size():
    image = _numbered(40, 50)
    for s in range(30):
        crop = augment.random_crop(image, 24, tf.constant([s, 1])).numpy()
        assert crop.shape == (24, 24, 3)
        # The crop's top-left value identifies its position; the whole crop must equal that window of the image.
        top, rest = divmod(int(crop[0, 0, 0]) // 3, 50)
        assert 0 <= top <= 40 - 24 and 0 <= rest <= 50 - 24
        np.testing.assert_array_equal(crop, image[top:top + 24, rest:rest + 24])


def test_random_translate_is_a_bounded_shift_with_zero_fill():
    image = _numbered(10, 10) + 1.0  # no zeros in the image itself
    shifts = set()
    for s in range(40):
        out = augment.random_translate(image, 3, tf.constant([s, 2])).numpy()
        assert out.shape == image.shape
        # The non-zero window is the part of the image still inside; the zero border shows the shift.
        rows, cols = np.nonzero(out[..., 0])
        top, left = rows.min(), cols.min()
        src_top, src_left = (0 if top > 0 else 10 - (rows.max() + 1)), (0 if left > 0 else 10 - (cols.max() + 1))
        window = out[top:rows.max() + 1, left:cols.max() + 1]
        np.testing.assert_array_equal(window, image[src_top:src_top + window.shape[0],
                                                    src_left:src_left + window.shape[1]])
        assert window.shape[0] >= 7 and window.shape[1] >= 7  # shifted by at most 3 pixels
        assert (out == 0).sum() == out.size - window.size  # the rest is zero fill
        shifts.add((top - src_top, left - src_left))
    assert len(shifts) > 10 and all(abs(dy) <= 3 and abs(dx) <= 3 for dy, dx in shifts)


def test_central_crop_and_ten_crops_of_a_known_image():
    image = _numbered(9, 12)
    np.testing.assert_array_equal(augment.central_crop(image, 5).numpy(), image[2:7, 3:8])
    crops = augment.ten_crops(image, 5).numpy()
    expected = [image[:5, :5], image[:5, 7:], image[4:, :5], image[4:, 7:], image[2:7, 3:8]]
    assert crops.shape == (10, 5, 5, 3)
    for i, patch in enumerate(expected):
        np.testing.assert_array_equal(crops[i], patch)
        np.testing.assert_array_equal(crops[5 + i], patch[:, ::-1])


def test_resize_shorter_side_keeps_the_aspect_ratio():
    assert augment.resize_shorter_side(np.zeros((300, 450, 3), np.uint8), 256).shape == (256, 384, 3)
    assert augment.resize_shorter_side(np.zeros((500, 333, 3), np.uint8), 256).shape == (384, 256, 3)
    flat = augment.resize_shorter_side(np.full((60, 90, 3), 7, np.uint8), 256).numpy()
    np.testing.assert_allclose(flat, 7.0, atol=1e-4)


def _bilinear_resize_reference(image, height, width):
    """NumPy: OpenCV's cv::resize INTER_LINEAR (what Caffe's convert_imageset used): output pixel (i, j) reads the
    input at ((i + 0.5) H / height - 0.5, (j + 0.5) W / width - 0.5), clamped to the image, bilinearly."""
    image = np.asarray(image, np.float64)

    def taps(out_size, in_size):
        x = np.clip((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0, in_size - 1)
        low = np.floor(x).astype(int)
        return low, np.minimum(low + 1, in_size - 1), x - low

    top, bottom, dy = taps(height, image.shape[0])
    left, right, dx = taps(width, image.shape[1])
    rows = image[top] * (1 - dy)[:, None, None] + image[bottom] * dy[:, None, None]
    return rows[:, left] * (1 - dx)[None, :, None] + rows[:, right] * dx[None, :, None]


def test_bilinear_reference_is_right_on_a_linear_ramp():
    # a ramp is reproduced exactly by linear interpolation away from the clamped border: the reference's own check
    ramp = np.broadcast_to(np.arange(40, dtype=np.float64)[None, :, None], (6, 40, 1))
    out = _bilinear_resize_reference(ramp, 6, 10)  # 4x down: column j reads x = 4j + 1.5
    np.testing.assert_allclose(out[0, :, 0], 4 * np.arange(10) + 1.5)


def test_squash_ignores_the_aspect_ratio_and_equals_the_numpy_bilinear_reference():
    rng = np.random.default_rng(3)
    for shape in ((30, 45, 3), (45, 30, 3), (10, 7, 3), (16, 16, 3)):  # wide, tall, enlarged, unchanged
        image = rng.integers(0, 256, shape).astype(np.uint8)
        out = augment.squash(image, 16).numpy()
        assert out.shape == (16, 16, 3) and out.dtype == np.float32
        np.testing.assert_allclose(out, _bilinear_resize_reference(image, 16, 16), atol=1e-3)
    np.testing.assert_array_equal(augment.squash(image, 16).numpy(), image)  # already 16x16: untouched
    photo = skimage_data.chelsea()  # 300 x 451: squashed, not cropped
    squashed = augment.squash(photo, 256).numpy()
    np.testing.assert_allclose(squashed, _bilinear_resize_reference(photo, 256, 256), atol=1e-2)
    # both edges of the photo survive: its first and last columns are (interpolations of) the squashed edges
    np.testing.assert_allclose(squashed[:, 0].mean(), photo[:, :2].mean(), atol=4)
    np.testing.assert_allclose(squashed[:, -1].mean(), photo[:, -2:].mean(), atol=4)


def test_resize_shorter_side_to_a_tensor_size_in_both_orientations_equals_the_reference():
    rng = np.random.default_rng(4)
    for shape, size, expected in (((30, 45, 3), 20, (20, 30)), ((45, 30, 3), 20, (30, 20)),
                                  ((31, 47, 3), 13, (13, 20)), ((47, 31, 3), 40, (61, 40))):
        image = rng.integers(0, 256, shape).astype(np.uint8)
        # the longer side is the nearest integer to longer * size / shorter
        assert expected[0] == max(size, round(shape[0] * size / min(shape[:2])))
        assert expected[1] == max(size, round(shape[1] * size / min(shape[:2])))
        for size_arg in (size, tf.constant(size)):
            out = augment.resize_shorter_side(image, size_arg).numpy()
            assert out.shape[:2] == expected
            np.testing.assert_allclose(out, _bilinear_resize_reference(image, *expected), atol=1e-3)


def test_random_scale_is_a_uniform_integer_in_the_range_hitting_both_ends():
    draws = np.array([int(augment.random_scale(tf.constant([s, 5]), 256, 384)) for s in range(3000)])
    assert draws.min() == 256 and draws.max() == 384  # both ends included
    assert len(set(draws)) == 129  # every size of neon's 256..384
    assert abs(draws.mean() - 320) < 2 and abs(draws.std() - np.sqrt((129 ** 2 - 1) / 12)) < 1.5  # uniform
    assert int(augment.random_scale(tf.constant([7, 5]), 256, 384)) == draws[7]  # seeded
    assert {int(augment.random_scale(tf.constant([s, 5]), 256, 256)) for s in range(20)} == {256}


def test_random_resize_shorter_side_draws_the_size_per_seed_in_both_orientations():
    rng = np.random.default_rng(5)
    wide = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    for image in (wide, wide.transpose(1, 0, 2)):
        sizes = set()
        for s in range(40):
            seed = tf.constant([s, 9])
            out = augment.random_resize_shorter_side(image, 6, 10, seed).numpy()
            size = int(augment.random_scale(seed, 6, 10))
            longer = round(30 * size / 20)
            assert out.shape == ((size, longer, 3) if image is wide else (longer, size, 3))
            np.testing.assert_allclose(out, _bilinear_resize_reference(image, *out.shape[:2]), atol=1e-3)
            sizes.add(size)
        assert sizes == {6, 7, 8, 9, 10}


def test_random_crop_of_a_non_square_image_reaches_outside_its_central_square():
    image = _numbered(20, 60)  # the central square: columns 20..39
    lefts = []
    for s in range(200):
        crop = augment.random_crop(image, 16, tf.constant([s, 4])).numpy()
        top, left = divmod(int(crop[0, 0, 0]) // 3, 60)
        assert 0 <= top <= 4 and 0 <= left <= 44
        np.testing.assert_array_equal(crop, image[top:top + 16, left:left + 16])
        lefts.append(left)
    assert min(lefts) == 0 and max(lefts) == 44  # both ends of the image
    assert sum(left < 20 for left in lefts) > 50 and sum(left + 16 > 40 for left in lefts) > 50


def test_subtract_mean_image_or_colour():
    image = _numbered(4, 4)
    np.testing.assert_array_equal(augment.subtract_mean(image, image).numpy(), 0.0)
    out = augment.subtract_mean(image, [1.0, 2.0, 3.0]).numpy()
    np.testing.assert_array_equal(out, image - np.array([1.0, 2.0, 3.0]))


def test_a_colour_row_gives_the_per_pixel_sums_bit_for_bit():
    # colour_row is a speed-up (augment.colour_row's docstring): it must change no value, for an image or a batch
    rng = np.random.default_rng(0)
    colour = np.array([123.68, 116.779, 103.939], np.float32)
    for shape in [(7, 5, 3), (2, 3, 9, 3)]:
        image = (rng.random(shape) * 255).astype(np.float32)
        np.testing.assert_array_equal(augment.subtract_mean(image, colour).numpy(), image - colour)
        np.testing.assert_array_equal((image + augment.colour_row(colour, image)).numpy(), image + colour)
    image = rng.random((6, 4, 3)).astype(np.float32) * 255
    alphas = np.array([0.3, -0.1, 0.2], np.float32)
    shift = augment.pca_lighting_shift(alphas).numpy()
    np.testing.assert_array_equal(augment.pca_lighting(image, alphas).numpy(), image + shift)


def test_published_eigenvectors_are_orthonormal_columns():
    vectors = augment.IMAGENET_EIGVEC
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(3), atol=2e-3)  # 4-decimal constants


def test_pca_lighting_with_zero_alphas_is_identity():
    image = _numbered(5, 6)
    np.testing.assert_array_equal(augment.pca_lighting(image, [0.0, 0.0, 0.0]).numpy(), image)


def test_pca_lighting_shift_is_one_colour_whose_eigen_coordinates_are_alpha_times_lambda():
    image = _numbered(5, 6)
    alphas = np.array([0.1, -0.2, 0.05])
    out = augment.pca_lighting(image, alphas).numpy()
    shift = (out - image).reshape(-1, 3)
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-3)  # the same for all pixels
    # Coordinates of the shift on p1, p2, p3 (columns of EIGVEC), on the 0..255 scale: 255 * a_i * l_i.
    coords = np.linalg.solve(augment.IMAGENET_EIGVEC, shift[0])
    np.testing.assert_allclose(coords, 255 * alphas * augment.IMAGENET_EIGVAL, rtol=1e-4)


def test_random_pca_lighting_draws_once_per_image_from_the_seed():
    image = _numbered(5, 6)
    a = augment.random_pca_lighting(image, tf.constant([3, 4])).numpy()
    np.testing.assert_array_equal(a, augment.random_pca_lighting(image, tf.constant([3, 4])).numpy())
    assert not np.allclose(a, augment.random_pca_lighting(image, tf.constant([5, 4])).numpy())
    shift = (a - image).reshape(-1, 3)
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-3)


def test_rgb_pca_recovers_a_known_covariance():
    rs = np.random.RandomState(0)
    rotation, _ = np.linalg.qr(rs.normal(size=(3, 3)))
    eigval = np.array([0.05, 0.01, 0.002])
    pixels = rs.normal(size=(200_000, 3)) @ (rotation * np.sqrt(eigval)).T
    got_val, got_vec = augment.rgb_pca((0.5 + pixels).reshape(100, 2000, 1, 3) * 255.0)
    np.testing.assert_allclose(got_val, eigval, rtol=0.02)
    np.testing.assert_allclose(np.abs(got_vec.T @ rotation), np.eye(3), atol=0.02)


def _bilinear_reference(image, y, x):
    """NumPy: ``image`` read at the point (row ``y``, column ``x``), the four neighbours weighted by their
    closeness, a neighbour outside the image counting as zero."""
    height, width = image.shape[:2]
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    value = np.zeros(image.shape[2:], np.float64)
    for yy, xx, w in ((y0, x0, (1 - (y - y0)) * (1 - (x - x0))), (y0, x0 + 1, (1 - (y - y0)) * (x - x0)),
                      (y0 + 1, x0, (y - y0) * (1 - (x - x0))), (y0 + 1, x0 + 1, (y - y0) * (x - x0))):
        if 0 <= yy < height and 0 <= xx < width:
            value += w * image[yy, xx]
    return value


def _rotate_scale_reference(image, angle, scale, shear=0.0):
    """NumPy: each output pixel samples the input bilinearly at the point that the shear x += ``shear`` * y, then
    the rotation by ``angle`` (rows pointing down, so anticlockwise on screen) and the scaling by ``scale``, about
    the centre, carry onto it; zero outside the image."""
    height, width = image.shape[:2]
    cy, cx = (height - 1) / 2, (width - 1) / 2
    out = np.zeros_like(image)
    for i in range(height):
        for j in range(width):
            # inverse map: rotate the output offset back by -angle, divide by the scale, undo the shear
            dx, dy = j - cx, i - cy
            u = (np.cos(angle) * dx - np.sin(angle) * dy) / scale
            v = (np.sin(angle) * dx + np.cos(angle) * dy) / scale
            out[i, j] = _bilinear_reference(image, cy + v, cx + u - shear * v)
    return out


def test_rotate_scale_equals_a_numpy_bilinear_reference():
    image = np.random.default_rng(0).random((12, 10, 2)).astype(np.float32) + 1.0
    np.testing.assert_allclose(augment.rotate_scale(image, 0.0, 1.0).numpy(), image, atol=1e-5)
    square = image[:10]
    np.testing.assert_allclose(augment.rotate_scale(square, np.pi / 2, 1.0).numpy(), np.rot90(square), atol=1e-4)
    for angle, scale, shear in ((0.3, 1.0, 0.0), (-0.2, 1.15, 0.0), (0.1, 0.9, 0.0), (0.0, 1.0, 0.3),
                                (0.2, 1.1, -0.25)):
        np.testing.assert_allclose(augment.rotate_scale(image, angle, scale, shear).numpy(),
                                   _rotate_scale_reference(image, angle, scale, shear), atol=1e-4)
    column = np.zeros((11, 11, 1), np.float32)
    column[:, 5] = 1.0  # an upright stroke through the centre: sheared by 0.2, rows below the centre move right
    sheared = augment.rotate_scale(column, 0.0, 1.0, 0.2).numpy()[..., 0]
    np.testing.assert_allclose(sheared[0, 4], 1.0, atol=1e-5)   # row -5: x - 1
    np.testing.assert_allclose(sheared[10, 6], 1.0, atol=1e-5)  # row +5: x + 1
    np.testing.assert_allclose(sheared[5, 5], 1.0, atol=1e-5)


def test_random_rotate_scale_is_seeded_and_bounded():
    image = np.zeros((33, 33, 1), np.float32)
    image[16, 26] = 1.0  # one point 10 pixels right of the centre
    angles, radii = [], []
    for s in range(30):
        out = augment.random_rotate_scale(image, 20.0, 0.1, tf.constant([s, 1])).numpy()
        np.testing.assert_array_equal(out, augment.random_rotate_scale(image, 20.0, 0.1, tf.constant([s, 1])).numpy())
        ys, xs = np.nonzero(out[..., 0])
        weights = out[ys, xs, 0]
        y, x = (ys * weights).sum() / weights.sum() - 16, (xs * weights).sum() / weights.sum() - 16
        angles.append(np.degrees(np.arctan2(-y, x)))  # anticlockwise on screen is positive
        radii.append(np.hypot(x, y))
    assert max(np.abs(angles)) <= 20.5 and max(angles) > 10 and min(angles) < -10
    assert 8.9 <= min(radii) and max(radii) <= 11.1 and max(radii) - min(radii) > 1


def test_bilinear_sample_equals_the_numpy_reference_inside_at_the_border_and_outside():
    rng = np.random.default_rng(1)
    image = rng.random((7, 9, 2)).astype(np.float32) + 1.0
    rows = rng.uniform(-2.5, 8.5, (5, 6)).astype(np.float32)  # points inside, across the border and outside
    cols = rng.uniform(-2.5, 10.5, (5, 6)).astype(np.float32)
    rows[0, :3], cols[0, :3] = [0.0, 6.0, 3.0], [0.0, 8.0, 4.0]  # pixel centres: the pixel itself
    got = augment.bilinear_sample(image, rows, cols).numpy()
    assert got.shape == (5, 6, 2)
    expected = np.array([[_bilinear_reference(image, y, x) for y, x in zip(r, c)] for r, c in zip(rows, cols)])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_array_equal(got[0, :3], image[[0, 6, 3], [0, 8, 4]])
    far = augment.bilinear_sample(image, tf.constant([-1.0, 7.0, -40.0, 3.0]), tf.constant([4.0, 4.0, 4.0, 9.0]))
    np.testing.assert_array_equal(far.numpy(), 0.0)  # a whole pixel or more outside: zero


def test_gaussian_kernel_sums_to_one_with_the_asked_spread():
    for sigma in (0.8, 4.0, 6.5):
        taps = augment.gaussian_kernel(sigma)
        radius = len(taps) // 2
        assert len(taps) == 2 * int(np.ceil(3 * sigma)) + 1
        np.testing.assert_allclose(taps.sum(), 1.0, rtol=1e-6)
        np.testing.assert_allclose(taps, taps[::-1])
        std = np.sqrt((taps * np.arange(-radius, radius + 1) ** 2).sum())
        np.testing.assert_allclose(std, sigma, rtol=0.02)  # 3 sigma each side keeps 99.7% of the mass


def _smooth_reference(noise, taps):
    """NumPy: each (H, W) plane of ``noise`` (H, W, 2) convolved with ``taps`` along the columns, then along the
    rows, zero outside (np.convolve 'same': the kernel is symmetric and of odd length)."""
    out = np.empty_like(noise, np.float64)
    for p in range(noise.shape[2]):
        plane = np.array([np.convolve(row, taps, mode="same") for row in noise[..., p]])
        out[..., p] = np.array([np.convolve(col, taps, mode="same") for col in plane.T]).T
    return out


def test_elastic_field_is_smoothed_uniform_noise_times_alpha():
    seed = tf.constant([4, 2])
    noise = tf.random.stateless_uniform([32, 36, 2], seed, -1.0, 1.0).numpy()  # the draws the field starts from
    for alpha, sigma in ((34.0, 4.0), (10.0, 1.5)):
        field = augment.elastic_field(32, 36, alpha, sigma, seed).numpy()
        assert field.shape == (32, 36, 2)
        np.testing.assert_allclose(field, alpha * _smooth_reference(noise, augment.gaussian_kernel(sigma)),
                                   atol=1e-4 * alpha)
    np.testing.assert_allclose(augment.elastic_field(32, 36, 68.0, 4.0, seed).numpy(),
                               2 * augment.elastic_field(32, 36, 34.0, 4.0, seed).numpy(), rtol=1e-6)
    assert not np.allclose(field, augment.elastic_field(32, 36, 10.0, 1.5, tf.constant([5, 2])).numpy())


def test_elastic_distort_reads_each_pixel_at_its_displaced_point():
    rng = np.random.default_rng(2)
    image = rng.random((10, 12, 3)).astype(np.float32)
    np.testing.assert_array_equal(augment.elastic_distort(image, np.zeros((10, 12, 2), np.float32)).numpy(), image)
    shift = np.zeros((10, 12, 2), np.float32)
    shift[..., 0], shift[..., 1] = 2.0, -3.0  # a constant field: every output reads 2 rows down, 3 columns left
    expected = np.zeros_like(image)
    expected[:8, 3:] = image[2:, :9]
    np.testing.assert_array_equal(augment.elastic_distort(image, shift).numpy(), expected)
    field = augment.elastic_field(10, 12, 20.0, 2.0, tf.constant([1, 1])).numpy()
    got = augment.elastic_distort(image, field).numpy()
    expected = np.array([[_bilinear_reference(image, i + field[i, j, 0], j + field[i, j, 1]) for j in range(12)]
                         for i in range(10)])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_array_equal(augment.random_elastic(image, 20.0, 2.0, tf.constant([1, 1])).numpy(), got)


def test_ops_inside_dataset_map_on_real_photos():
    photos = [skimage_data.astronaut(), skimage_data.chelsea(), skimage_data.coffee()]  # real RGB photographs

    def train_view(image, seed):
        seeds = tf.random.experimental.stateless_split(seed, 3)
        image = augment.central_crop(augment.resize_shorter_side(image, 256), 256)
        image = augment.random_flip(augment.random_crop(image, 224, seeds[0]), seeds[1])
        return augment.random_pca_lighting(image, seeds[2])

    ds = tf.data.Dataset.from_generator(lambda: iter(photos), output_signature=tf.TensorSpec([None, None, 3],
                                                                                             tf.uint8))
    seeds = tf.data.Dataset.random(seed=7).batch(2)
    out = [x.numpy() for x in tf.data.Dataset.zip(ds, seeds).map(train_view)]
    assert [x.shape for x in out] == [(224, 224, 3)] * 3
    again = [x.numpy() for x in tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=7).batch(2)).map(train_view)]
    for a, b in zip(out, again):
        np.testing.assert_array_equal(a, b)  # seeded: reproducible
    tens = list(ds.map(lambda image: augment.ten_crops(augment.central_crop(augment.resize_shorter_side(image),
                                                                            256), 224)))
    assert [t.shape for t in tens] == [(10, 224, 224, 3)] * 3


def test_neon_and_caffe_training_views_inside_dataset_map_on_real_photos_equal_eager():
    photos = [skimage_data.astronaut(), skimage_data.chelsea(), skimage_data.coffee()]  # square, wide, wide
    views = {
        "neon": lambda image, seed: augment.random_flip(augment.random_crop(
            augment.random_resize_shorter_side(image, 256, 384, seed[0]), 224, seed[1]), seed[2]),
        "caffe": lambda image, seed: augment.random_flip(augment.random_crop(augment.squash(image, 256), 227,
                                                                             seed[1]), seed[2]),
    }
    seeds = [tf.random.experimental.stateless_split(tf.constant([s, 1], tf.int64), 3) for s in range(3)]
    for name, view in views.items():
        ds = tf.data.Dataset.from_generator(lambda: iter(zip(photos, seeds)), output_signature=(
            tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([3, 2], tf.int64)))
        mapped = [x.numpy() for x in ds.map(view)]
        size = 224 if name == "neon" else 227
        assert [x.shape for x in mapped] == [(size, size, 3)] * 3
        for photo, seed, out in zip(photos, seeds, mapped):
            np.testing.assert_allclose(out, view(photo, seed).numpy(), atol=1e-3)
            assert 0 <= out.min() and out.max() <= 255 and out.std() > 10  # a real photo's crop, not padding


SEED = tf.constant([11, 3])
OPS = {
    "resize_shorter_side": lambda x: augment.resize_shorter_side(x, 20),
    "random_resize_shorter_side": lambda x: augment.random_resize_shorter_side(x, 10, 14, SEED),
    "squash": lambda x: augment.squash(x, 7),
    "central_crop": lambda x: augment.central_crop(x, 5),
    "random_crop": lambda x: augment.random_crop(x, 5, SEED),
    "flip": augment.flip,
    "random_flip": lambda x: augment.random_flip(x, SEED),
    "random_translate": lambda x: augment.random_translate(x, 2, SEED),
    "random_rotate_scale": lambda x: augment.random_rotate_scale(x, 15.0, 0.1, SEED),
    "random_elastic": lambda x: augment.random_elastic(x, 34.0, 4.0, SEED),
    "ten_crops": lambda x: augment.ten_crops(x, 5),
    "subtract_mean": lambda x: augment.subtract_mean(x, [1.0, 2.0, 3.0]),
    "pca_lighting": lambda x: augment.pca_lighting(x, [0.1, -0.2, 0.05]),
    "random_pca_lighting": lambda x: augment.random_pca_lighting(x, SEED),
}


@pytest.mark.parametrize("name", list(OPS))
def test_every_op_gives_the_same_result_inside_dataset_map(name):
    image = _numbered(9, 12)
    eager = OPS[name](image).numpy()
    mapped = next(iter(tf.data.Dataset.from_tensors(image).map(OPS[name]))).numpy()
    np.testing.assert_allclose(mapped, eager, rtol=1e-6, atol=1e-4)
