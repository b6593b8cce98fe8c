"""Fashion-MNIST's original IDX files, written here in the real format, read back padded to 32x32x3; bad files
get one message naming the file."""

import gzip
import struct

import numpy as np
import pytest

from data import fashion_mnist, pipeline


def write_idx(path, array, magic, compress=True):
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    data = header + np.ascontiguousarray(array, np.uint8).tobytes()
    if compress:
        with gzip.open(f"{path}.gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def write_split(directory, split, images, labels, compress=True):
    image_name, label_name = fashion_mnist.FILES[split]
    write_idx(directory / image_name, images, fashion_mnist.IMAGE_MAGIC, compress)
    write_idx(directory / label_name, labels, fashion_mnist.LABEL_MAGIC, compress)


@pytest.mark.parametrize("compress", [True, False])
def test_idx_files_read_back_padded_to_32_by_32_in_three_channels(tmp_path, compress):
    rs = np.random.RandomState(0)
    images, labels = rs.randint(0, 256, (7, 28, 28)).astype(np.uint8), rs.randint(0, 10, 7).astype(np.uint8)
    write_split(tmp_path, "test", images, labels, compress)
    read, read_labels = fashion_mnist.load("test", str(tmp_path))
    assert read.shape == (7, 32, 32, 3) and read.dtype == np.uint8
    np.testing.assert_array_equal(read[:, 2:30, 2:30, 1], images)  # the image in the middle, every channel alike
    np.testing.assert_array_equal(read[..., 0], read[..., 2])
    assert read[:, :2].max() == read[:, 30:].max() == read[:, :, :2].max() == read[:, :, 30:].max() == 0
    np.testing.assert_array_equal(read_labels, labels)
    assert read_labels.dtype == np.int64
    images_, labels_, names = pipeline.load_arrays("fashion_mnist", "test", str(tmp_path))
    assert names[9] == "ankle boot" and len(names) == 10 and images_.shape == (7, 32, 32, 3)


def test_bad_files_are_one_clear_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist: install Debian's dataset-fashion-mnist"):
        fashion_mnist.load("train", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="lacks train-images-idx3-ubyte.gz"):
        fashion_mnist.load("train", str(tmp_path))
    images, labels = np.zeros((3, 28, 28), np.uint8), np.array([0, 1, 12], np.uint8)
    write_split(tmp_path, "train", images, labels)
    with pytest.raises(ValueError, match="label 12 is outside the 10 classes"):
        fashion_mnist.load("train", str(tmp_path))
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:2], fashion_mnist.IMAGE_MAGIC)  # the wrong magic
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz: not an IDX file of 1 dimension.*magic 2051, "
                                         "expected 2049"):
        fashion_mnist.load("train", str(tmp_path))
    data = gzip.decompress((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())[:-100]  # cut short
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(data))
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:2], fashion_mnist.LABEL_MAGIC)
    with pytest.raises(ValueError, match="the header says 2,352 bytes of data for shape \\(3, 28, 28\\), the file "
                                         "holds 2,252"):
        fashion_mnist.load("train", str(tmp_path))
    compressed = bytearray(gzip.compress(data))
    compressed[20:40] = b"\xff" * 20  # a corrupt deflate stream behind a good gzip header
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(bytes(compressed))
    with pytest.raises(ValueError, match="not a readable IDX file"):
        fashion_mnist.load("train", str(tmp_path))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a readable IDX file"):
        fashion_mnist.load("train", str(tmp_path))
