"""scikit-learn's bundled handwritten digits as 32x32x3 uint8 images: the project's offline default dataset.

The 1,797 images are the test set of the UCI "Optical Recognition of Handwritten Digits" data (43 writers): each
of the 8x8 values (0..16) counts the "on" pixels of a 4x4 block of a 32x32 binary bitmap (sklearn's DESCR). This
module undoes that block reduction as far as it can:

* value v in 0..16 -> round(v * 255 / 16) in 0..255 (uint8, like every other image source here);
* each value is replicated into its 4x4 block, giving 32x32 (the bitmap's original size, CIFAR-10's size), or
  into 2x2 blocks for 16x16 (``size``: the same information at a quarter of the pixels);
* the grey channel is replicated into 3 identical channels (RGB).

Split (fixed, not shuffled): the first 1,437 images (80%) are ``train``, the last 360 are ``test``; both hold every
class (train 141-146 per class, test 33-37). ``load(split)`` returns the images in their stored order.
"""

import numpy as np

NUM_CLASSES = 10
NUM_TRAIN = 1437
NUM_TEST = 360
SPLITS = ("train", "test")
CLASS_NAMES = tuple(str(d) for d in range(10))


def upscale(images8x8, size=32):
    """(N, 8, 8) values in 0..16 -> (N, size, size, 3) uint8: scale to 0..255, (size/8)x(size/8) blocks (4x4 at
    the default 32), grey to RGB."""
    values = np.asarray(images8x8, dtype=np.float64)
    if values.ndim != 3 or values.shape[1:] != (8, 8) or values.min() < 0 or values.max() > 16:
        raise ValueError(f"expected (N, 8, 8) digit images with values in 0..16, got shape {values.shape}")
    if not isinstance(size, (int, np.integer)) or size < 8 or size % 8:
        raise ValueError(f"digits image size {size!r} is invalid; valid sizes are multiples of 8 (each of the 8x8 "
                         "values becomes a block of size/8 pixels), e.g. 16 or 32.")
    grey = np.rint(values * (255.0 / 16.0)).astype(np.uint8)
    big = grey.repeat(size // 8, axis=1).repeat(size // 8, axis=2)
    return np.repeat(big[..., None], 3, axis=-1)


def load(split="train", size=32):
    """(images uint8 (N, size, size, 3), labels int64 (N,)) for ``split`` in ("train", "test")."""
    if split not in SPLITS:
        raise ValueError(f"digits split={split!r} is invalid; valid splits: {', '.join(SPLITS)}.")
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    digits = load_digits()
    part = slice(0, NUM_TRAIN) if split == "train" else slice(NUM_TRAIN, None)
    return upscale(digits.images[part], size), digits.target[part].astype(np.int64)
