"""CIFAR-10 from python-pickle batches written in the real format, and from TFDS under mock_data."""

import os
import pickle

import numpy as np
import pytest
import tensorflow_datasets as tfds

from data import cifar


def write_batch(path, images, labels, protocol=2):
    """A batch file as the CIFAR-10 python version stores it: R, G, B planes of 32x32, row-major, per row."""
    data = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    batch = {b"batch_label": b"testing batch", b"labels": list(map(int, labels)), b"data": data,
             b"filenames": [f"img_{i}.png".encode() for i in range(len(images))]}
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


@pytest.fixture
def cifar_dir(tmp_path):
    rs = np.random.RandomState(0)
    directory = tmp_path / "cifar-10-batches-py"
    directory.mkdir()
    written = {}
    for name in cifar.TRAIN_FILES + cifar.TEST_FILES:
        images = rs.randint(0, 256, (4, 32, 32, 3)).astype(np.uint8)
        labels = rs.randint(0, 10, 4)
        write_batch(directory / name, images, labels)
        written[name] = (images, labels)
    with open(directory / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in cifar.CLASS_NAMES]}, f, protocol=2)
    return directory, written


def test_pickle_batches_load_with_the_right_pixel_layout(cifar_dir):
    directory, written = cifar_dir
    images, labels = cifar.load_pickle_dir(str(directory), "train")
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int64
    np.testing.assert_array_equal(images[:4], written["data_batch_1"][0])
    np.testing.assert_array_equal(images[16:], written["data_batch_5"][0])
    np.testing.assert_array_equal(labels[4:8], written["data_batch_2"][1])
    # The raw row's first 1024 values are the red plane: pixel (0, 1)'s red is data[1], its green data[1025].
    with open(directory / "test_batch", "rb") as f:
        raw = pickle.load(f, encoding="bytes")[b"data"]
    test_images, _ = cifar.load_pickle_dir(str(directory), "test")
    assert (test_images[0, 0, 1, 0], test_images[0, 0, 1, 1]) == (raw[0, 1], raw[0, 1025])


def test_missing_directory_and_files_name_the_fix(cifar_dir, tmp_path):
    directory, _ = cifar_dir
    with pytest.raises(FileNotFoundError, match="nowhere' does not exist: download cifar-10-python.tar.gz"):
        cifar.load_pickle_dir(str(tmp_path / "nowhere"), "train")
    with pytest.raises(FileNotFoundError, match="They are in .*cifar-10-batches-py: pass that directory"):
        cifar.load_pickle_dir(str(tmp_path), "train")  # the parent of the extracted folder: mislaid
    os.remove(directory / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="lacks data_batch_3"):
        cifar.load_pickle_dir(str(directory), "train")
    with pytest.raises(ValueError, match="split='val' is invalid; valid splits: train, test"):
        cifar.load_pickle_dir(str(directory), "val")


def test_truncated_batch_and_bad_labels_name_the_file(cifar_dir):
    directory, _ = cifar_dir
    path = directory / "data_batch_2"
    path.write_bytes(path.read_bytes()[:500])  # truncated download
    with pytest.raises(ValueError, match="data_batch_2: not a readable CIFAR-10 python batch"):
        cifar.load_pickle_dir(str(directory), "train")
    write_batch(path, np.zeros((3, 32, 32, 3), np.uint8), [1, 10, 2])
    with pytest.raises(ValueError, match="data_batch_2: label 10 at index 1 is outside the 10 classes 0..9"):
        cifar.load_pickle_dir(str(directory), "train")


def test_tfds_builder_under_mock_data(tmp_path):
    with tfds.testing.mock_data(num_examples=6):
        images, labels = cifar.load_tfds("test", data_dir=str(tmp_path))
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.min() >= 0 and labels.max() < 10


def test_tfds_not_prepared_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="TFDS cifar10 is not prepared in .*: pass --download"):
        cifar.load_tfds("train", data_dir=str(tmp_path))


def test_a_batch_that_asks_to_run_code_is_refused_without_running_it(cifar_dir, tmp_path):
    directory, _ = cifar_dir
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)
    with open(directory / "data_batch_1", "wb") as f:
        pickle.dump({b"data": Payload(), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match=r"data_batch_1: not a CIFAR-10 python batch: the pickle asks for the global "
                                         r"(posix|os)\.system"):
        cifar.load_pickle_dir(str(directory), "train")
    assert not marker.exists()
