"""CIFAR-10 as uint8 arrays: from the TFDS ``cifar10`` builder, or from the original python-pickle batch files.

The python version (``cifar-10-python.tar.gz`` from https://www.cs.toronto.edu/~kriz/cifar.html) extracts to a
directory ``cifar-10-batches-py/`` holding ``data_batch_1`` .. ``data_batch_5`` (training, 10,000 images each),
``test_batch`` and ``batches.meta``. Each batch is a pickled dict (read with ``common.safe_pickle``: a batch file is
untrusted, and a crafted one must not run code): ``b"data"``, a 10000 x 3072 uint8 array whose
rows hold the red, then green, then blue 32x32 plane, row-major; ``b"labels"``, 10,000 ints in 0..9.
CIFAR-10 fits in memory (150 MB as uint8), so both sources return whole arrays.
"""

import os

import numpy as np
import tensorflow as tf

from common import files, safe_pickle

NUM_CLASSES = 10
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SPLITS = ("train", "test")
FETCH_HELP = ("download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and extract it, "
              "then pass the extracted cifar-10-batches-py directory")


def _check_split(split):
    if split not in SPLITS:
        raise ValueError(f"CIFAR-10 split={split!r} is invalid; valid splits: {', '.join(SPLITS)}.")


def check_labels(labels, num_classes, where):
    """Raise a ValueError naming ``where`` and the first offending index when a label is outside 0..classes-1."""
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        raise ValueError(f"{where}: label {labels[bad[0]]} at index {bad[0]} is outside the {num_classes} classes "
                         f"0..{num_classes - 1} ({bad.size} such labels). The file is corrupt or not CIFAR-10; "
                         "replace it.")


def read_batch(path):
    """(images uint8 (N, 32, 32, 3), labels int64 (N,)) of one python-pickle batch file."""
    try:
        with files.open_file(path, "rb") as f:
            batch = safe_pickle.load(f, encoding="bytes")  # untrusted: only NumPy's and plain globals resolve
        data, labels = batch[b"data"], batch[b"labels"]
    except (FileNotFoundError, tf.errors.NotFoundError):
        raise
    except safe_pickle.UnsafePickleError as err:
        raise ValueError(f"{path}: not a CIFAR-10 python batch: {err}") from None
    except Exception as err:  # truncated, not a pickle, or a pickle of something else
        raise ValueError(f"{path}: not a readable CIFAR-10 python batch ({type(err).__name__}: {err}). Re-extract "
                         "cifar-10-python.tar.gz.") from None
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{path}: expected a uint8 N x 3072 'data' array and N labels, got {data.dtype} "
                         f"{data.shape} and {len(labels)} labels. Re-extract cifar-10-python.tar.gz.")
    labels = np.asarray(labels, np.int64)
    check_labels(labels, NUM_CLASSES, path)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_pickle_dir(directory, split):
    """A split from the extracted ``cifar-10-batches-py`` directory: the batches concatenated in file order."""
    _check_split(split)
    if not directory or not files.isdir(directory):
        raise FileNotFoundError(f"CIFAR-10 directory {directory!r} does not exist: {FETCH_HELP} as --data_dir.")
    names = TRAIN_FILES if split == "train" else TEST_FILES
    missing = [n for n in names if not files.isfile(os.path.join(directory, n))]
    if missing:
        nested = os.path.join(directory, "cifar-10-batches-py")
        hint = (f" They are in {nested}: pass that directory." if files.isdir(nested) else f" {FETCH_HELP}.")
        raise FileNotFoundError(f"CIFAR-10 directory {directory} lacks {', '.join(missing)}.{hint}")
    parts = [read_batch(os.path.join(directory, n)) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load_tfds(split, data_dir=None, download=False):
    """A split of the TFDS ``cifar10`` builder as arrays. ``download=True`` lets TFDS fetch and prepare it."""
    _check_split(split)
    import tensorflow_datasets as tfds

    builder = tfds.builder("cifar10", data_dir=data_dir)
    if download:
        builder.download_and_prepare()
    try:
        ds = builder.as_dataset(split=split)
    except AssertionError:  # TFDS's way of saying "not prepared here"
        raise FileNotFoundError(
            f"TFDS cifar10 is not prepared in {builder.data_dir}: pass --download to let TFDS fetch it, point "
            "--data_dir at a directory where it is prepared, or use --dataset=cifar10_pickle with the python "
            "batch files.") from None
    images, labels = [], []
    for example in tfds.as_numpy(ds):
        images.append(example["image"])
        labels.append(example["label"])
    labels = np.asarray(labels, np.int64)
    check_labels(labels, NUM_CLASSES, f"TFDS cifar10 in {builder.data_dir}")
    return np.stack(images), labels
