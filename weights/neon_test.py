"""neon's model files, written in each seed version's layout with random weights, imported into ``neon_nolrn``
(e7ab2c2e2), ``neon`` (v1.4.0) and the All-CNN ``neon`` (v2.3.0): the same outputs as a forward pass written here in
NumPy from neon's own conventions (CHW layout, ``W`` as (C*R*S, K) rows (c, r, s), floor-mode pooling, LRN
1 + ascale/depth * sum, dropout multiplying by keep at inference, BGR ImageNet input). Checked once against neon
itself (EXPERIMENTS.md, 2026-12-03, "neon's own forward pass")."""

import os
import pickle

import numpy as np
import pytest

import alexnet
import allcnn
from weights import load_into, neon, testdata


def _conv(x, w, r, stride, pad):
    """x (C, H, W); w (C*R*S, K) as neon stores it; a cross-correlation with floor-mode output size."""
    c, h, wd = x.shape
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    p, q = (h + 2 * pad - r) // stride + 1, (wd + 2 * pad - r) // stride + 1
    cols = np.empty((c, r, r, p, q), x.dtype)
    for i in range(r):
        for j in range(r):
            cols[:, i, j] = x[:, i:i + stride * p:stride, j:j + stride * q:stride]
    return (w.T @ cols.reshape(c * r * r, p * q)).reshape(-1, p, q)


def _pool(x, size, stride, op):
    c, h, w = x.shape
    p, q = (h - size) // stride + 1, (w - size) // stride + 1  # neon's own mode: floor
    windows = np.stack([x[:, i:i + stride * p:stride, j:j + stride * q:stride]
                        for i in range(size) for j in range(size)])
    return windows.max(0) if op == "max" else windows.mean(0)


def _lrn(x, depth, ascale, bpower):
    half = depth // 2
    squares = np.pad(x ** 2, ((half, half), (0, 0), (0, 0)))
    total = sum(squares[i:i + x.shape[0]] for i in range(depth))
    return x / (1.0 + ascale / depth * total) ** bpower


def neon_forward(layers, image_chw):
    """The network of neon's saved ``layers`` on one (C, H, W) image, in inference mode: the logits."""
    x = image_chw.astype(np.float64)
    for layer in layers:
        kind, config, params = layer["type"].rsplit(".", 1)[-1], layer["config"], layer.get("params", {})
        if kind in ("Convolution", "Convolution_bias"):
            x = _conv(x, params["W"].astype(np.float64), config["fshape"][0], config.get("strides", 1),
                      config.get("padding", 0))
            if "weight_bias" in params:
                x = x + params["weight_bias"].reshape(-1, 1, 1)
        elif kind == "Bias":
            x = x + params["W"].reshape((-1, 1, 1) if x.ndim == 3 else -1)
        elif kind == "Linear":
            x = params["W"].astype(np.float64) @ x.reshape(-1)  # CHW flattened, channel-major
        elif kind == "Activation":
            if config["transform"]["type"].endswith("Rectlin"):
                x = np.maximum(x, 0)
            # the final Softmax is left out: logits
        elif kind == "Pooling":
            x = _pool(x, config["fshape"], config.get("strides", config["fshape"]), config.get("op", "max"))
        elif kind == "LRN":
            x = _lrn(x, config["depth"], config["ascale"], config["bpower"])
        elif kind == "Dropout":
            x = x * config.get("keep", 0.5)  # neon's inference: multiply by keep
        else:
            raise AssertionError(kind)
    return x.reshape(-1)


CASES = [("neon_nolrn", "e7ab2c2e2", alexnet, 224), ("neon", "v1.4.0", alexnet, 224),
         ("allcnn", "v2.3.0", allcnn, 32)]


@pytest.mark.slow
@pytest.mark.parametrize("network,version,family,size", CASES)
def test_imported_network_computes_neons_forward_pass(network, version, family, size, tmp_path):
    rng = np.random.default_rng(0)
    layers = testdata.neon_layers(network, version, rng)
    path = tmp_path / f"{network}.p"
    testdata.write_neon_p(path, testdata.neon_model_dict(layers, version, input_shape=(3, size, size)))
    if family is alexnet:
        model = alexnet.build(network, classifier_activation=None, weights=str(path))
        images = rng.uniform(-128, 128, (2, size, size, 3)).astype(np.float32)  # RGB, mean subtracted
        neon_input = images[..., ::-1]  # neon's loaders give BGR planes
    else:
        model = allcnn.build("neon", num_classes=10, classifier_activation=None, weights=str(path))
        images = rng.normal(0, 1, (2, size, size, 3)).astype(np.float32)  # whitened CIFAR-10: RGB planes
        neon_input = images
    expected = np.stack([neon_forward(layers, image.transpose(2, 0, 1)) for image in neon_input])
    ours = model(images, training=False).numpy()
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= 1e-4 * np.abs(expected).max()


def test_the_file_is_a_python2_style_pickle_of_numpy_arrays(tmp_path):
    path = tmp_path / "m.p"
    testdata.write_neon_p(path, testdata.neon_model_dict([], "v1.4.0"))
    data = path.read_bytes()
    assert data[:2] == b"\x80\x02" and b"cnumpy.core.multiarray\n_reconstruct" in data


def test_versions_and_layouts_not_handled_are_named(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "m.p"
    testdata.write_neon_p(path, testdata.neon_model_dict(testdata.neon_layers("allcnn", "v2.3.0", rng), "2.6.0"))
    with pytest.raises(ValueError, match=r"written by neon '2\.6\.0'; handled: neon v1\.2 to v2\.3"):
        neon.read(str(path))
    with open(path, "wb") as f:
        pickle.dump({"epoch_index": 3, "layer_params_states": []}, f, protocol=2)
    with pytest.raises(ValueError, match=r"from before v1\.2 \(only 'layer_params_states'"):
        neon.read(str(path))
    testdata.write_neon_p(path, testdata.neon_model_dict(testdata.neon_layers("allcnn", "v2.3.0", rng), "v2.3.0"))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"m\.p: not a readable neon model file"):
        neon.read(str(path))


@pytest.mark.slow
def test_a_file_for_another_network_or_mode_is_refused_and_nothing_set(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "nolrn.p"
    testdata.write_neon_p(path, testdata.neon_model_dict(testdata.neon_layers("neon_nolrn", "e7ab2c2e2", rng),
                                                         "e7ab2c2e2"))
    model = alexnet.build("neon")
    before = model.get_layer("conv1").get_weights()[0].copy()
    with pytest.raises(ValueError, match=r"layer conv1 \(Conv2D\) has weights of shapes \[\(11, 11, 3, 96\), "
                                         r"\(96,\)\] here, the file gives \[\(11, 11, 3, 64\), \(64,\)\]"):
        load_into(model, str(path))
    assert np.array_equal(before, model.get_layer("conv1").get_weights()[0])
    with pytest.raises(ValueError, match=r"the file has 8 layers with weights .*allcnn_neon has 9"):
        load_into(allcnn.build("neon", num_classes=10), str(path))
    with pytest.raises(ValueError, match=r"a neon file, which holds the weights of .*; alexnet_one_weird_trick is "
                                         r"another network"):  # the same shapes as neon_nolrn's, another network
        load_into(alexnet.build("one_weird_trick"), str(path))
    caffe_mode = tmp_path / "caffe_mode.p"
    testdata.write_neon_p(caffe_mode, testdata.neon_model_dict(testdata.neon_layers("neon", "v1.4.0", rng),
                                                               "v1.4.0", compat_mode="caffe"))
    with pytest.raises(ValueError, match=r"Caffe compatibility mode \(--caffe: ceil-mode pooling"):
        load_into(alexnet.build("neon"), str(caffe_mode))


def test_a_pickle_that_asks_for_code_is_refused_by_name(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)
    with open(tmp_path / "evil.p", "wb") as f:
        pickle.dump({"model": Payload()}, f, protocol=2)
    with pytest.raises(ValueError, match=r"evil\.p: the pickle asks for the global (posix|os)\.system"):
        load_into(allcnn.build("neon", num_classes=10), str(tmp_path / "evil.p"))
    assert not marker.exists()


def test_class_order_reorders_the_outputs_and_a_wrong_list_is_named(tmp_path):
    rng = np.random.default_rng(0)
    layers = testdata.neon_layers("allcnn", "v2.3.0", rng)
    path = tmp_path / "allcnn.p"
    testdata.write_neon_p(path, testdata.neon_model_dict(layers, "v2.3.0"))
    file_order = [f"c{i:02d}" for i in rng.permutation(16)]  # the names of the file's 16 outputs, in order
    classes = sorted(file_order)[:10]  # the model's (the dataset's) 10 classes
    model = allcnn.build("neon", num_classes=10, classifier_activation=None)
    load_into(model, str(path), class_order=file_order, classes=classes)
    image = rng.normal(0, 1, (1, 32, 32, 3)).astype(np.float32)
    expected = neon_forward(layers, image[0].transpose(2, 0, 1))
    ours = model(image, training=False).numpy()[0]
    taken = [file_order.index(name) for name in classes]
    np.testing.assert_allclose(ours[:10], expected[taken], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours[10:], expected[[i for i in range(16) if i not in taken]], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"the class list has 15 names, the file's class layer conv9 has 16 outputs"):
        load_into(model, str(path), class_order=file_order[:15], classes=classes)
    with pytest.raises(ValueError, match=r"the dataset's class 'zebra' is not in the class list"):
        load_into(model, str(path), class_order=file_order, classes=["zebra"] + classes[1:])


def test_gzipped_files_load_and_a_layer_between_dropout_and_weights_is_refused(tmp_path):
    import gzip
    rng = np.random.default_rng(0)
    layers = testdata.neon_layers("allcnn", "v2.3.0", rng)
    plain = tmp_path / "allcnn.p"
    testdata.write_neon_p(plain, testdata.neon_model_dict(layers, "v2.3.0"))
    zipped = tmp_path / "allcnn.p.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    a = allcnn.build("neon", num_classes=10, weights=str(plain))
    b = allcnn.build("neon", num_classes=10, weights=str(zipped))
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    zipped.write_bytes(zipped.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"allcnn\.p\.gz: a (truncated|damaged) gzip file"):
        allcnn.build("neon", num_classes=10, weights=str(zipped))
    lrn = testdata._neon_layer("LRN", "norm0", {"depth": 5, "ascale": 1e-4, "bpower": 0.75})
    testdata.write_neon_p(plain, testdata.neon_model_dict(layers[:1] + [lrn] + layers[1:], "v2.3.0"))
    with pytest.raises(ValueError, match=r"a LRN layer \(norm0\) between a dropout and the next layer with weights"):
        allcnn.build("neon", num_classes=10, weights=str(plain))
