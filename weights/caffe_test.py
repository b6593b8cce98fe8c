"""Caffe's bvlc_alexnet and bvlc_reference_caffenet, written as caffemodels with random weights, run by OpenCV's Caffe
importer (the reference: Caffe's own layers, towers, LRN and ceil pooling) and imported here into ``bvlc`` and
``caffenet``: the same fc8 outputs on the same images."""

import cv2
import numpy as np
import pytest

import alexnet
from weights import caffe, load_into, testdata
from weights import protobuf_wire as wire


def _opencv_fc8(variant, tmp_path, caffemodel, images_rgb):
    prototxt = tmp_path / f"{variant}_deploy.prototxt"
    prototxt.write_text(testdata.deploy_prototxt(variant, batch=len(images_rgb)))
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setInput(np.ascontiguousarray(images_rgb[..., ::-1].transpose(0, 3, 1, 2)))  # Caffe sees BGR, NCHW
    return net.forward("fc8")


@pytest.mark.slow
@pytest.mark.parametrize("variant,v1", [("bvlc", True), ("caffenet", True), ("bvlc", False)])
def test_imported_network_computes_what_caffe_computes(variant, v1, tmp_path):
    path = tmp_path / f"{variant}.caffemodel"
    testdata.write_caffemodel(path, variant, testdata.random_caffe_weights(variant), v1=v1)
    images = np.random.default_rng(1).uniform(-128, 128, (2, 227, 227, 3)).astype(np.float32)  # mean-subtracted RGB
    expected = _opencv_fc8(variant, tmp_path, path, images)
    model = alexnet.build(variant, classifier_activation=None, weights=str(path))
    ours = model(images, training=False).numpy()
    assert np.abs(ours - expected).max() <= 1e-4 * np.abs(expected).max()
    assert (ours.argmax(1) == expected.argmax(1)).all()


def test_another_variant_network_or_shape_is_named_and_nothing_set(tmp_path):
    path = tmp_path / "caffenet.caffemodel"
    testdata.write_caffemodel(path, "caffenet", testdata.random_caffe_weights("caffenet"))
    model = alexnet.build("bvlc")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"runs pool1 before norm1 \(CaffeNet's order\).*--variant=caffenet"):
        load_into(model, str(path))
    # the paper's network has bvlc's shapes, but is not the network the file was trained as
    with pytest.raises(ValueError, match=r"a caffe file, which holds the weights of --model=alexnet --variant=bvlc, "
                                         r"--model=alexnet --variant=caffenet; alexnet_paper is another network"):
        load_into(alexnet.build("paper"), str(path))
    narrow = testdata.random_caffe_weights("bvlc")
    narrow["conv1"] = (narrow["conv1"][0][:64], narrow["conv1"][1][:64])  # a file with another conv1
    testdata.write_caffemodel(tmp_path / "narrow.caffemodel", "bvlc", narrow)
    with pytest.raises(ValueError, match=r"layer conv1 \(Conv2D\) has weights of shapes \[\(11, 11, 3, 96\), "
                                         r"\(96,\)\] here, the file gives \[\(11, 11, 3, 64\), \(64,\)\]"):
        load_into(model, str(tmp_path / "narrow.caffemodel"))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # nothing set


def test_truncated_and_foreign_files(tmp_path):
    path = tmp_path / "bvlc.caffemodel"
    testdata.write_caffemodel(path, "bvlc", testdata.random_caffe_weights("bvlc"))
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes(path.read_bytes()[:1_000_000])
    with pytest.raises(ValueError, match=r"cut\.caffemodel: not a weights file this project reads.*truncated"):
        caffe.read_net(str(cut))
    prototxt = tmp_path / "deploy.prototxt"
    prototxt.write_text(testdata.deploy_prototxt("bvlc"))
    with pytest.raises(ValueError, match=r"deploy\.prototxt: not a (weights file this project reads|\.caffemodel)"):
        caffe.read_net(str(prototxt))
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ValueError, match=r"photo\.png: not a weights file this project reads: neither a zip"):
        load_into(alexnet.build("bvlc"), str(png))


def test_mean_binaryproto_reads_back_as_rgb(tmp_path):
    mean = np.random.default_rng(0).uniform(0, 255, (256, 256, 3)).astype(np.float32)
    testdata.write_mean_binaryproto(tmp_path / "mean.binaryproto", mean)
    assert np.array_equal(caffe.read_mean(str(tmp_path / "mean.binaryproto")), mean)
    raw = (tmp_path / "mean.binaryproto").read_bytes()
    assert wire.by_number(wire.fields(raw))[2][0][2] == 3  # channels: the legacy 4-D fields, as compute_image_mean


def test_paths_that_are_no_weights_file_say_what_they_are(tmp_path):
    model = alexnet.build("bvlc")
    with pytest.raises(ValueError, match=r"is a directory: pass the weights file itself"):
        load_into(model, str(tmp_path))
    with pytest.raises(ValueError, match=r"nothing\.caffemodel: cannot read it"):
        load_into(model, str(tmp_path / "nothing.caffemodel"))
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"an HDF5 file \(a Keras \.h5 model\?\)"):
        load_into(model, str(tmp_path / "model.h5"))
    (tmp_path / "empty.caffemodel").write_bytes(b"")
    with pytest.raises(ValueError, match=r"an empty file"):
        load_into(model, str(tmp_path / "empty.caffemodel"))
