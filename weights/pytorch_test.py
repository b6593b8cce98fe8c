"""torchvision's AlexNet, declared layer for layer in plain PyTorch, saved as a state dict in both of PyTorch's file
layouts, imported into ``one_weird_trick``: the same logits on the same images, and the reader never runs the file."""

import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

import alexnet
from data import imagenet
from weights import pytorch


class TorchvisionAlexNet(nn.Module):
    """torchvision/models/alexnet.py's AlexNet ([torchvision-alexnet]), its layers and parameter names."""
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    net = TorchvisionAlexNet().eval()
    with torch.no_grad():  # biases of unit scale, so that a bias folded wrongly would show
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.bias.normal_(0.0, 0.1)
    rng = np.random.default_rng(1)
    pixels = rng.uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)  # RGB 0..255, as decoded
    mean, std = np.float32(pytorch.TORCHVISION_MEAN_RGB), np.float32(pytorch.TORCHVISION_STD_RGB)
    with torch.no_grad():
        logits = net(torch.from_numpy(((pixels / 255.0 - mean) / std).transpose(0, 3, 1, 2).copy())).numpy()
    return net, pixels, logits


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_one_weird_trick_computes_torchvisions_logits(reference, tmp_path, layout):
    net, pixels, expected = reference
    path = str(tmp_path / "alexnet.pth")
    torch.save(net.state_dict(), path, _use_new_zipfile_serialization=layout == "zip")
    model = alexnet.build("one_weird_trick", classifier_activation=None, weights=path)
    ours = model(pixels - np.float32(imagenet.MEAN_RGB["torchvision"]), training=False).numpy()
    assert np.abs(ours - expected).max() <= 1e-4 * np.abs(expected).max()
    assert (ours.argmax(1) == expected.argmax(1)).all()


def test_state_dict_reads_back_exactly_in_both_layouts(tmp_path):
    state = {"a": torch.randn(3, 4), "b": torch.arange(12.0).reshape(3, 4).t(), "n": torch.tensor(7),
             "h": torch.randn(5).to(torch.bfloat16), "view": torch.arange(10.0)[2:6]}
    for zip_layout in (True, False):
        torch.save(state, tmp_path / "s.pth", _use_new_zipfile_serialization=zip_layout)
        back = pytorch.read_state_dict(str(tmp_path / "s.pth"))
        for key, tensor in state.items():
            expected = tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()
            assert back[key].shape == expected.shape and np.array_equal(back[key], expected), key


def test_a_pickled_module_or_a_payload_is_refused_without_running(tmp_path):
    torch.save(nn.Linear(2, 2), tmp_path / "module.pth")
    with pytest.raises(ValueError, match=r"global torch\.nn\.modules\.linear\.Linear.*refused.*state_dict"):
        pytorch.read_state_dict(str(tmp_path / "module.pth"))
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)
    torch.save({"w": Payload()}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match=r"evil\.pth: the pickle asks for the global (posix|os)\.system"):
        pytorch.read_state_dict(str(tmp_path / "evil.pth"))
    assert not marker.exists()


def test_truncated_and_foreign_files_get_one_line(tmp_path):
    torch.save({"w": torch.randn(100)}, tmp_path / "s.pth", _use_new_zipfile_serialization=False)
    data = (tmp_path / "s.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[:-50])
    with pytest.raises(ValueError, match=r"cut\.pth: .*truncated"):
        pytorch.read_state_dict(str(tmp_path / "cut.pth"))
    torch.save({"features.0.weight": torch.randn(2, 3, 1, 1), "head.weight": torch.randn(2, 2)}, tmp_path / "o.pth")
    model = alexnet.build("one_weird_trick")
    with pytest.raises(ValueError, match=r"head\.weight are not torchvision AlexNet's"):
        pytorch.to_params(pytorch.read_state_dict(str(tmp_path / "o.pth")), model, "o.pth")


def _zip_with(tmp_path, data_pkl, members=(), compress=zipfile.ZIP_STORED):
    path = tmp_path / "crafted.pth"
    with zipfile.ZipFile(path, "w", compression=compress) as archive:
        archive.writestr("crafted/data.pkl", data_pkl)
        for name, data in members:
            archive.writestr(f"crafted/data/{name}", data)
    return str(path)


class _Rebuild:
    """Pickles as a call of torch._utils._rebuild_tensor_v2 with arguments of the test's choosing."""
    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return _fake_rebuild, self.args


def _fake_rebuild(*args):
    raise AssertionError("never called")


_fake_rebuild.__module__, _fake_rebuild.__qualname__ = "tests_fake_torch_utils", "_rebuild_tensor_v2"


def _pickle(value):
    import sys
    import types
    module = types.ModuleType("tests_fake_torch_utils")
    module._rebuild_tensor_v2 = _fake_rebuild
    sys.modules["tests_fake_torch_utils"] = module
    try:
        data = pickle.dumps(value, protocol=2)
    finally:
        del sys.modules["tests_fake_torch_utils"]
    return data.replace(b"ctests_fake_torch_utils\n", b"ctorch._utils\n")


def test_crafted_tensors_cannot_read_past_their_storage_or_multiply_memory(tmp_path):
    # a tensor "rebuilt" from an array of the pickle's own making instead of one of the file's storages
    fake = np.zeros((1000, 1000), np.float32)
    path = _zip_with(tmp_path, _pickle({"w": _Rebuild(fake, 0, (999000,), (1,), False, {})}))
    with pytest.raises(ValueError, match="rebuilt from data of the pickle's own, not from one of the file's storages"):
        pytorch.read_state_dict(path)
    # a real file whose tensor is one element expanded to 60000 x 60000 (stride 0): 13 GiB from 4 bytes
    torch.save({"w": torch.zeros(1).expand(60000, 60000)}, tmp_path / "expanded.pth")
    with pytest.raises(ValueError, match=r"claim more elements than its storages hold"):
        pytorch.read_state_dict(str(tmp_path / "expanded.pth"))
    # a compressed member (a zip bomb inflates from one): PyTorch never compresses
    torch.save({"w": torch.zeros(10)}, tmp_path / "s.pth")
    with zipfile.ZipFile(tmp_path / "s.pth") as archive:
        members = [(n.split("/", 1)[1], archive.read(n)) for n in archive.namelist()]
    path = tmp_path / "deflated.pth"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(f"deflated/{name}", data)
    with pytest.raises(ValueError, match="is compressed; PyTorch stores its records uncompressed"):
        pytorch.read_state_dict(str(path))
