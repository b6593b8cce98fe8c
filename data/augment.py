"""The papers' image preprocessing as small pure functions of tensors (HxWxC images, float32 pixels in 0..255).

Each works eagerly and inside ``tf.data.Dataset.map``. Random ones are stateless: they take a ``seed`` tensor of
shape [2] (tf.random's stateless convention), so a seeded pipeline gives the same crops every run.

Sources ([alexnet-paper] §2 and §4.1; [fb.resnet.torch-pca]):
* "rescaled the image such that the shorter side was of length 256, and then cropped out the central 256x256 patch";
  the reproductions instead squashed the image to 256x256 (Caffe, [caffe-imagenet-data]) or scaled its shorter side
  to 256..384 and cropped anywhere in it (neon, [modelzoo-alexnet_neon.py@05498cf]);
* training: random 224x224 patches and their horizontal reflections;
* test: the four corner patches and the centre patch, and their reflections (ten patches), softmax averaged;
* subtract "the mean activity over the training set from each pixel" (a mean image), or a mean RGB (Caffe's
  ``mean_value 104/117/123`` in BGR, neon's ``BGRMeanSubtract([127, 119, 104])``);
* PCA lighting: add [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T to every pixel, a_i ~ N(0, 0.1) drawn once per image.
"""

import numpy as np
import tensorflow as tf

# ImageNet RGB covariance eigen-decomposition on the [0, 1] pixel scale, fb.resnet.torch datasets/imagenet.lua
# ([fb.resnet.torch-pca]; the constants every later reproduction uses). The *columns* of IMAGENET_EIGVEC are the
# eigenvectors p1, p2, p3 (fb.resnet.torch Lighting: rgb = sum_j eigvec[:, j] * alpha_j * eigval_j).
IMAGENET_EIGVAL = np.array([0.2175, 0.0188, 0.0045])
IMAGENET_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                            [-0.5808, -0.0045, -0.8140],
                            [-0.5836, -0.6948, 0.4203]])
PCA_STD = 0.1  # a_i ~ N(0, 0.1), paper §4.1


def resize(image, shape):
    """Bilinear resampling to ``shape`` (height, width), float32 out, without an anti-aliasing prefilter: what
    Caffe's convert_imageset does (OpenCV cv::resize, INTER_LINEAR) to make the ImageNet training data of the
    reference AlexNets. The paper says only "down-sampled"; anti-aliasing halved the pipeline's throughput here."""
    return tf.image.resize(image, shape, method="bilinear", antialias=False)


def resize_shorter_side(image, size=256):
    """Bilinear resize so that the shorter side is ``size`` (an int or an int32 scalar tensor; aspect ratio kept,
    the longer side rounded to the nearest pixel). float32 out."""
    size = tf.cast(size, tf.int32)
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    new_shape = tf.cast(tf.round(shape * scale), tf.int32)
    new_shape = tf.maximum(new_shape, size)  # rounding must not leave the shorter side at size - 1
    return resize(image, new_shape)


def random_scale(seed, scale_min, scale_max):
    """An integer uniform in [``scale_min``, ``scale_max``], both included (int32 scalar): the shorter side that
    neon's ImageLoader ``scale_range=(scale_min, scale_max)`` draws for each training image
    ([modelzoo-alexnet_neon.py@05498cf])."""
    return tf.random.stateless_uniform([], seed, minval=scale_min, maxval=scale_max + 1, dtype=tf.int32)


def random_resize_shorter_side(image, scale_min, scale_max, seed):
    """``resize_shorter_side`` to a ``random_scale`` drawn from ``seed``: neon's scale augmentation."""
    return resize_shorter_side(image, random_scale(seed, scale_min, scale_max))


def squash(image, size=256):
    """Bilinear resize to ``size`` x ``size`` whatever the aspect ratio: Caffe's ImageNet data, made by
    ``convert_imageset --resize_height=256 --resize_width=256`` (``cv::resize``, INTER_LINEAR;
    [caffe-imagenet-data]). float32 out."""
    return resize(image, [size, size])


def central_crop(image, size):
    """The central ``size`` x ``size`` patch (offsets rounded down where the margin is odd)."""
    image = tf.convert_to_tensor(image)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    top, left = (height - size) // 2, (width - size) // 2
    return image[top:top + size, left:left + size]


def random_crop(image, size, seed):
    """A uniformly random ``size`` x ``size`` patch, inside the image: anywhere in it, whatever its shape (neon's
    and Caffe's training crops)."""
    return tf.image.stateless_random_crop(image, tf.stack([size, size, tf.shape(image)[2]]), seed)


def random_translate(image, max_shift, seed):
    """Shift the image by up to ``max_shift`` pixels in each direction (uniform, independently for rows and
    columns), filling the uncovered border with zeros: pad by ``max_shift`` and take a random crop of the size."""
    image = tf.convert_to_tensor(image)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    padded = tf.pad(image, [[max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    return tf.image.stateless_random_crop(padded, tf.stack([height, width, tf.shape(image)[2]]), seed)


def affine_transform(angle, scale, height, width, shear=0.0):
    """The 8 projective-transform parameters (``tf.raw_ops.ImageProjectiveTransformV3``'s convention: each *output*
    pixel (x, y) reads the *input* at (a0 x + a1 y + a2, b0 x + b1 y + b2)) of a horizontal shear by ``shear``
    (x += shear * y: rows below the centre move right, so upright strokes lean by atan(shear)), then a rotation by
    ``angle`` radians (anticlockwise as displayed, rows pointing down) and a scaling by ``scale``, about the image
    centre."""
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (tf.cast(width, tf.float32) - 1) / 2, (tf.cast(height, tf.float32) - 1) / 2
    # input = A (output - centre) + centre, A = Shear(shear)^-1 R(angle)^-1 / scale
    a0, a1, b0, b1 = cos - shear * sin, -sin - shear * cos, sin, cos
    return tf.stack([a0, a1, cx - a0 * cx - a1 * cy, b0, b1, cy - b0 * cx - b1 * cy, 0.0, 0.0])


def rotate_scale(image, angle, scale, shear=0.0):
    """``image`` sheared by ``shear``, rotated by ``angle`` radians and scaled by ``scale`` about its centre
    (``affine_transform``): bilinear interpolation, zero fill outside (as ``random_translate``); float32 out."""
    image = tf.cast(image, tf.float32)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    transform = affine_transform(tf.cast(angle, tf.float32), tf.cast(scale, tf.float32), height, width,
                                 tf.cast(shear, tf.float32))
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=transform[None], output_shape=tf.stack([height, width]),
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT")[0]


def random_rotate_scale(image, max_degrees, max_scale, seed, max_shear=0.0):
    """A rotation by an angle uniform in [-max_degrees, max_degrees] degrees, a scaling uniform in
    [1 - max_scale, 1 + max_scale] and a shear uniform in [-max_shear, max_shear], about the centre
    (``rotate_scale``)."""
    draws = tf.random.stateless_uniform([3], seed, -1.0, 1.0)
    return rotate_scale(image, draws[0] * (max_degrees * np.pi / 180), 1 + draws[1] * max_scale,
                        draws[2] * max_shear)


def bilinear_sample(image, rows, cols):
    """``image`` (H, W, C) read at the points (``rows``, ``cols``) (two float tensors of one shape S, pixel centres
    at integer coordinates) by bilinear interpolation, zero outside the image: (S..., C) float32 out. The same
    convention as ``rotate_scale``'s projective transform (bilinear, constant zero fill)."""
    image = tf.cast(image, tf.float32)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    padded = tf.pad(image, [[1, 1], [1, 1], [0, 0]])  # a ring of zeros: every point outside reads it
    top, left = tf.floor(rows), tf.floor(cols)
    down, right = rows - top, cols - left

    def at(row, col):  # index into ``padded``: -1 and height (or width) and beyond are the zero ring
        row = tf.clip_by_value(tf.cast(row, tf.int32) + 1, 0, height + 1)
        col = tf.clip_by_value(tf.cast(col, tf.int32) + 1, 0, width + 1)
        return tf.gather_nd(padded, tf.stack([row, col], axis=-1))

    up, across = (1 - down)[..., None], (1 - right)[..., None]
    down, right = down[..., None], right[..., None]
    return (up * (across * at(top, left) + right * at(top, left + 1))
            + down * (across * at(top + 1, left) + right * at(top + 1, left + 1)))


def gaussian_kernel(sigma):
    """The 1-D Gaussian of standard deviation ``sigma`` pixels on [-ceil(3 sigma), ceil(3 sigma)], summing to 1."""
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return (taps / taps.sum()).astype(np.float32)


def elastic_field(height, width, alpha, sigma, seed):
    """Simard, Steinkraus and Platt 2003 ("Best practices for convolutional neural networks applied to visual
    document analysis", §2): a displacement (H, W, 2) in pixels, rows then columns, drawn uniform in [-1, 1] per
    pixel and direction, convolved with a Gaussian of standard deviation ``sigma`` pixels (zero outside the image),
    and multiplied by ``alpha``. The paper's MNIST values: sigma 4, alpha 34 (28x28 images)."""
    noise = tf.random.stateless_uniform(tf.stack([height, width, 2]), seed, -1.0, 1.0)
    # separable, as two small matmuls per plane: B_H @ plane @ B_W (a conv2d of a 32x32 plane cost ~2 ms here,
    # 30x the matmuls: oneDNN's set-up for a tiny convolution)
    planes = tf.transpose(noise, [2, 0, 1])  # (2, H, W)
    planes = tf.matmul(gaussian_band(height, sigma), tf.matmul(planes, gaussian_band(width, sigma)))
    return alpha * tf.transpose(planes, [1, 2, 0])


def gaussian_band(size, sigma):
    """The (size, size) matrix of the convolution with ``gaussian_kernel(sigma)`` along one axis, zero outside the
    image: entry (i, j) is the tap at offset j - i (symmetric)."""
    taps = gaussian_kernel(sigma)
    radius = len(taps) // 2
    offset = tf.range(size)[None, :] - tf.range(size)[:, None]
    tap = tf.gather(tf.constant(taps), tf.clip_by_value(offset + radius, 0, 2 * radius))
    return tf.where(tf.abs(offset) <= radius, tap, 0.0)


def elastic_distort(image, field):
    """``image`` warped by a displacement ``field`` (H, W, 2; ``elastic_field``): the output at (r, c) reads the
    input at (r + field[r, c, 0], c + field[r, c, 1]), bilinearly, zero outside; float32 out."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    rows, cols = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    return bilinear_sample(image, rows + field[..., 0], cols + field[..., 1])


def random_elastic(image, alpha, sigma, seed):
    """``elastic_distort`` by a field drawn from ``seed`` (``elastic_field``)."""
    return elastic_distort(image, elastic_field(tf.shape(image)[0], tf.shape(image)[1], alpha, sigma, seed))


def flip(image):
    """Horizontal reflection."""
    return tf.convert_to_tensor(image)[:, ::-1]


def random_flip(image, seed):
    """Horizontal reflection with probability 1/2."""
    return tf.image.stateless_random_flip_left_right(image, seed)


def ten_crops(image, size):
    """The paper's test patches: (10, size, size, C) = top-left, top-right, bottom-left, bottom-right, centre,
    then the horizontal reflection of each, in the same order."""
    image = tf.convert_to_tensor(image)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    spots = [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size),
             ((height - size) // 2, (width - size) // 2)]  # central_crop's
    # the reflection of the crop at column c is the mirror's crop at column width - size - c: reflecting the image
    # once and stacking the ten slices is 4x faster than reflecting the stacked five (2.1 against 9.0 ms for a
    # 256x256 image on one core; EXPERIMENTS.md 2026-12-07)
    mirror = flip(image)
    return tf.stack([image[r:r + size, c:c + size] for r, c in spots]
                    + [mirror[r:r + size, width - size - c:width - c] for r, c in spots])


def colour_row(colour, image):
    """``colour`` (C values) repeated along one row of ``image`` (..., H, W, C): a (1, W, C) tensor that adds to or
    subtracts from every pixel, giving the same sums bit for bit as the C values themselves. TensorFlow's CPU
    kernels broadcast a (1, W, C) row over the rows about 4x faster than C values over every pixel (0.065 against
    0.27 ms for a 224x224x3 image in a tf.data map on one core; EXPERIMENTS.md 2026-12-07), a sixth of the
    evaluation pipeline's time per image before."""
    colour = tf.cast(colour, tf.float32)
    return tf.tile(colour[None, None], tf.stack([1, tf.shape(image)[-2], 1]))


def subtract_mean(image, mean):
    """Subtract a mean image (HxWxC, the paper's per-pixel mean) or a mean colour (C values, Caffe/neon)."""
    image, mean = tf.cast(image, tf.float32), tf.cast(mean, tf.float32)
    return image - (colour_row(mean, image) if mean.shape.rank == 1 else mean)


def pca_lighting_shift(alphas, eigval=IMAGENET_EIGVAL, eigvec=IMAGENET_EIGVEC, pixel_scale=255.0):
    """The RGB shift [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T, for images on a 0..``pixel_scale`` scale."""
    weights = tf.cast(alphas, tf.float32) * tf.constant(eigval, tf.float32)
    return pixel_scale * tf.linalg.matvec(tf.constant(eigvec, tf.float32), weights)


def pca_lighting(image, alphas, eigval=IMAGENET_EIGVAL, eigvec=IMAGENET_EIGVEC, pixel_scale=255.0):
    """Add the same PCA colour shift to every pixel of ``image`` (paper §4.1)."""
    image = tf.cast(image, tf.float32)
    return image + colour_row(pca_lighting_shift(alphas, eigval, eigvec, pixel_scale), image)


def random_pca_lighting(image, seed, std=PCA_STD, eigval=IMAGENET_EIGVAL, eigvec=IMAGENET_EIGVEC,
                        pixel_scale=255.0):
    """``pca_lighting`` with a_i ~ N(0, std), drawn once for the image from ``seed``."""
    alphas = tf.random.stateless_normal([3], seed, stddev=std)
    return pca_lighting(image, alphas, eigval, eigvec, pixel_scale)


def rgb_pca(images, pixel_scale=255.0):
    """Eigenvalues (descending) and eigenvectors (columns) of the RGB covariance of ``images`` ((N, H, W, 3),
    every pixel a sample), on the [0, 1] scale like the published constants: computed from a training set instead
    of using IMAGENET_EIGVAL/IMAGENET_EIGVEC."""
    pixels = np.asarray(images, np.float64).reshape(-1, 3) / pixel_scale
    eigval, eigvec = np.linalg.eigh(np.cov(pixels, rowvar=False, bias=True))
    order = np.argsort(eigval)[::-1]
    return eigval[order], eigvec[:, order]
