"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, [fashion-mnist] in SOURCES.md) as 32x32x3 uint8 arrays: a real set
of 60,000 training and 10,000 test images in 10 classes that can be had offline (Debian's ``dataset-fashion-mnist``
package installs the original files in /usr/share/datasets/fashion-mnist), for measuring the 32x32 recipes at scale.

The original format (IDX, as MNIST's): ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz`` (gzip optional). An image file is a big-endian header
(magic 2051, count, rows, columns) then count x rows x columns bytes; a label file (magic 2049, count) then count
bytes in 0..9. The 28x28 grey images are padded with zeros to 32x32 (2 pixels each side, as LeNet-5 padded MNIST)
and copied to three channels, the input All-CNN takes. A file is read as bytes, never executed.
"""

import gzip
import os
import struct
import zlib

import numpy as np

from common import files

CLASS_NAMES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
               "ankle boot")
DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
PAD = 2  # 28 + 2 * 2 = 32
FETCH_HELP = ("install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist: the files land in "
              f"{DEFAULT_DIR}) or download the four .gz files from https://github.com/zalandoresearch/fashion-mnist "
              "and pass their directory as --data_dir")


def _find(directory, name):
    for candidate in (name + ".gz", name):
        path = os.path.join(directory, candidate)
        if files.isfile(path):
            return path
    raise FileNotFoundError(f"Fashion-MNIST directory {directory} lacks {name}.gz: {FETCH_HELP}.")


def read_idx(path, magic, dimensions):
    """The array of one IDX file (gzip or not) whose header has ``magic`` and ``dimensions`` sizes; ValueError
    naming the file when it is not such a file or is cut short."""
    try:
        with files.open_file(path, "rb") as raw:
            data = gzip.GzipFile(fileobj=raw).read() if path.endswith(".gz") else raw.read()
    except (OSError, EOFError, zlib.error) as err:  # not gzip, cut short, or a corrupt deflate stream
        raise ValueError(f"{path}: not a readable IDX file ({type(err).__name__}: {err}). Replace it "
                         f"({FETCH_HELP}).") from None
    header = 4 * (1 + dimensions)
    if len(data) < header or struct.unpack(">I", data[:4])[0] != magic:
        found = struct.unpack(">I", data[:4])[0] if len(data) >= 4 else None
        raise ValueError(f"{path}: not an IDX file of {dimensions} dimension(s) (magic {found}, expected {magic}). "
                         f"Replace it ({FETCH_HELP}).")
    shape = struct.unpack(f">{dimensions}I", data[4:header])
    size = int(np.prod(shape))
    if len(data) - header != size:
        raise ValueError(f"{path}: the header says {size:,} bytes of data for shape {shape}, the file holds "
                         f"{len(data) - header:,} (cut short or padded). Replace it ({FETCH_HELP}).")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def load(split, data_dir=None):
    """(images uint8 (N, 32, 32, 3), labels int64 (N,)) of ``split`` ("train" or "test")."""
    if split not in FILES:
        raise ValueError(f"Fashion-MNIST split={split!r} is invalid; valid splits: {', '.join(FILES)}.")
    directory = data_dir or DEFAULT_DIR
    if not files.isdir(directory):
        raise FileNotFoundError(f"Fashion-MNIST directory {directory!r} does not exist: {FETCH_HELP}.")
    image_file, label_file = (_find(directory, name) for name in FILES[split])
    images = read_idx(image_file, IMAGE_MAGIC, 3)
    labels = read_idx(label_file, LABEL_MAGIC, 1).astype(np.int64)
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise ValueError(f"{image_file} holds {images.shape} images and {label_file} {len(labels)} labels: expected "
                         f"N x 28 x 28 images and N labels. Replace them ({FETCH_HELP}).")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise ValueError(f"{label_file}: label {labels.max()} is outside the 10 classes 0..9. Replace it "
                         f"({FETCH_HELP}).")
    padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD)))
    return np.repeat(padded[..., None], 3, axis=-1), labels
