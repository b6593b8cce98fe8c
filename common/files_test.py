"""common/files.py on the local disk and on TensorFlow's in-memory ram:// filesystem (what gs:// paths go through),
and the readers that use it: the ImageNet folder listing and image check, the CIFAR-10 batches, the ZCA and mean
caches, published weights. A whole run, its evaluation and its export on ram://: train_test.py."""

import os
import pickle
import uuid

import numpy as np
import pytest
import tensorflow as tf

from common import files


def ram(name):
    """A fresh ram:// directory for one test (the filesystem lives as long as the process)."""
    return f"ram://files_test/{name}-{uuid.uuid4().hex[:8]}"


def copy_in(local, remote):
    """Copy the local directory ``local`` to ``remote`` on any filesystem TensorFlow has."""
    for root, _, names in os.walk(local):
        destination = os.path.join(remote, os.path.relpath(root, local)).replace("/./", "/").rstrip("/.")
        tf.io.gfile.makedirs(destination)
        for name in names:
            tf.io.gfile.copy(os.path.join(root, name), f"{destination}/{name}", overwrite=True)


@pytest.mark.parametrize("where", ["local", "ram"])
def test_atomic_write_replaces_whole_and_leaves_nothing_on_failure(tmp_path, where):
    directory = str(tmp_path) if where == "local" else ram("atomic")
    path = f"{directory}/sub/report.json"
    with files.atomic_write(path) as f:
        f.write("first")
    with pytest.raises(RuntimeError):
        with files.atomic_write(path) as f:
            f.write("half")
            raise RuntimeError("disk full")
    assert files.read_text(path) == "first" and files.listdir(f"{directory}/sub") == ["report.json"]
    with files.atomic_write(path, "wb") as f:
        np.save(f, np.arange(3))
    np.testing.assert_array_equal(files.load_numpy(path), np.arange(3))
    if where == "local":  # readable by the other users of a shared disk, as a file open() makes
        assert os.stat(path).st_mode & 0o777 == 0o644
    assert not os.path.exists("ram:") and not os.path.exists(os.path.join(os.getcwd(), "ram:"))


@pytest.mark.parametrize("where", ["local", "ram"])
def test_replace_tree_puts_a_complete_directory_in_place_of_the_old(tmp_path, where):
    directory = str(tmp_path) if where == "local" else ram("tree")
    for tree, text in (("new", "new"), ("target", "old")):
        files.makedirs(f"{directory}/{tree}/variables")
        with files.atomic_write(f"{directory}/{tree}/variables/data") as f:
            f.write(text)
    with files.atomic_write(f"{directory}/target/stale") as f:
        f.write("from the old export")
    with files.atomic_write(f"{directory}/new/saved_model.pb") as f:
        f.write("graph")
    files.replace_tree(f"{directory}/new", f"{directory}/target")
    assert sorted(files.listdir(directory)) == ["target"]
    assert sorted(files.listdir(f"{directory}/target")) == ["saved_model.pb", "variables"]
    assert files.read_text(f"{directory}/target/variables/data") == "new"
    assert files.read_text(f"{directory}/target/saved_model.pb") == "graph"


def test_replace_tree_on_an_object_store_copies_the_top_level_files_last(monkeypatch):
    """As GCS lists them: subdirectories with a trailing slash (``variables/``); saved_model.pb copied last, so an
    interrupted copy leaves no directory a loader takes for a SavedModel."""
    directory = ram("store")
    for name in ("saved_model.pb", "fingerprint.pb", "variables/variables.index", "assets/classes.txt"):
        files.makedirs(os.path.dirname(f"{directory}/new/{name}"))
        with files.atomic_write(f"{directory}/new/{name}") as f:
            f.write(name)
    walk, copy, copied = tf.io.gfile.walk, tf.io.gfile.copy, []
    monkeypatch.setattr(tf.io.gfile, "walk", lambda top: (
        (d if d.rstrip("/") == top.rstrip("/") else d + "/", subdirectories, names)
        for d, subdirectories, names in walk(top)))
    monkeypatch.setattr(tf.io.gfile, "copy", lambda a, b, overwrite=False: (copied.append(b), copy(a, b, overwrite)))
    files.replace_tree(f"{directory}/new", f"{directory}/target")
    assert all("//" not in path[len("ram://"):] for path in copied), copied
    assert sorted(copied[-2:]) == [f"{directory}/target/fingerprint.pb", f"{directory}/target/saved_model.pb"]
    for name in ("saved_model.pb", "fingerprint.pb", "variables/variables.index", "assets/classes.txt"):
        assert files.read_text(f"{directory}/target/{name}") == name
    assert not files.exists(f"{directory}/new")


def test_the_readers_take_remote_paths(tmp_path):
    from data import cifar, imagenet
    from data.testdata import photo_folder
    from data.whitening import ZCA
    # an ImageNet folder: listed, its images checked, read
    root = ram("photos")
    copy_in(photo_folder(tmp_path / "photos"), root)
    paths, labels, classes = imagenet.list_folder(root, "train")
    local = imagenet.list_folder(str(tmp_path / "photos"), "train")
    assert [p[len(root):] for p in paths] == [p[len(str(tmp_path / "photos")):] for p in local[0]]
    assert list(labels) == list(local[1]) and classes == local[2]
    assert all(imagenet.bad_image_reason(p) is None for p in paths)
    with files.atomic_write(f"{root}/train/{classes[0]}/cut.JPEG", "wb") as f:
        f.write(files.read_bytes(paths[0])[:-100])
    assert imagenet.bad_image_reason(f"{root}/train/{classes[0]}/cut.JPEG") == \
        "truncated JPEG (no end-of-image marker)"
    # CIFAR-10's python batches
    batches = ram("cifar")
    rng = np.random.default_rng(0)
    for name in cifar.TRAIN_FILES + cifar.TEST_FILES:
        with files.atomic_write(f"{batches}/{name}", "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}, f)
    images, labels = cifar.load_pickle_dir(batches, "test")
    assert images.shape == (4, 32, 32, 3) and list(labels) == [0, 1, 2, 3]
    # the ZCA cache
    data = rng.normal(size=(50, 4, 4, 3))
    cache = f"{ram('zca')}/zca.npz"
    fitted = ZCA.fit_or_load(cache, data)
    again = ZCA.fit_or_load(cache, data)
    np.testing.assert_array_equal(fitted.matrix, again.matrix)
    with pytest.raises(ValueError, match="fitted on other data"):
        ZCA.fit_or_load(cache, data + 1)


def test_published_weights_and_class_lists_are_read_from_remote_paths(tmp_path):
    import allcnn
    import weights
    from weights import caffe, testdata
    path = tmp_path / "allcnn.p"
    rng = np.random.default_rng(0)
    testdata.write_neon_p(path, testdata.neon_model_dict(testdata.neon_layers("allcnn", "v2.3.0", rng), "v2.3.0"))
    directory = ram("weights")
    tf.io.gfile.makedirs(directory)
    tf.io.gfile.copy(str(path), f"{directory}/allcnn.p")
    assert weights.detect(f"{directory}/allcnn.p") == "neon"
    model = allcnn.build("neon")
    local, there = weights.read_params(str(path), model), weights.read_params(f"{directory}/allcnn.p", model)
    assert local.keys() == there.keys()
    for name in local:
        for a, b in zip(local[name], there[name]):
            np.testing.assert_array_equal(a, b)
    mean = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
    testdata.write_mean_binaryproto(tmp_path / "mean.binaryproto", mean)
    tf.io.gfile.copy(str(tmp_path / "mean.binaryproto"), f"{directory}/mean.binaryproto")
    np.testing.assert_array_equal(caffe.read_mean(f"{directory}/mean.binaryproto"), mean)
    classes = f"{directory}/classes.txt"
    with files.atomic_write(classes) as f:
        f.write("n01 tench, Tinca tinca\nn02 goldfish\n")
    assert weights.read_class_list(classes) == ["n01", "n02"]
    assert weights.read_class_descriptions(classes) == {"n01": "tench, Tinca tinca", "n02": "goldfish"}
    with pytest.raises(ValueError, match="missing.caffemodel: cannot read it"):
        weights.detect(f"{directory}/missing.caffemodel")
