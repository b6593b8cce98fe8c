"""Published weights: neon's ``.p``, Caffe's ``.caffemodel`` and PyTorch's state dicts, read without those frameworks
and without running anything a file asks for, into this project's networks.

    import alexnet
    model = alexnet.build("bvlc", weights="bvlc_alexnet.caffemodel")

    from weights import load_into
    load_into(model, "alexnet-owt-7be5be79.pth")       # a model of the variant the file is for

Each format's conventions (layouts, channel order, mean and scale, towers, flattening order) are handled and stated
in its own module: ``weights.caffe``, ``weights.pytorch``, ``weights.neon``; ``weights.convert`` holds the layout
conversions they share and the check of a file against a network (layer names and shapes, nothing set on a mismatch).
"""

import zipfile

from weights import caffe, convert, pytorch

FORMATS = ("caffe", "pytorch", "neon")
# How each source made the images its published figures were measured on (ImageNet; the flags of data.inputs):
# Caffe's validation LMDB squashed every image to 256x256 (examples/imagenet/create_imagenet.sh, RESIZE=true) and
# subtracted its mean ([caffe-bvlc_alexnet]; ``--mean=image --mean_file=imagenet_mean.binaryproto`` for the mean
# image itself); torchvision resizes the shorter side to 256 and normalises ([torchvision-alexnet]); neon scales the
# shorter side to 256 and subtracts its BGR mean colour (weights/neon.py).
SOURCE_PREPROCESSING = {"caffe": {"resize": "squash", "mean": "caffe"},
                        "pytorch": {"resize": "shorter_side", "mean": "torchvision"},
                        "neon": {"resize": "shorter_side", "mean": "neon"}}
_PICKLE, _ZIP = b"\x80", b"PK\x03\x04"


def detect(path):
    """'pytorch' (a zip archive, or the legacy magic number), 'neon' (any other pickle) or 'caffe' (a protobuf)."""
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise ValueError(f"{path}: an empty file; download it again")
    if head.startswith(_ZIP) and zipfile.is_zipfile(path):
        return "pytorch"
    if head.startswith(_PICKLE):
        return "pytorch" if head[2:3] == b"\x8a" and head[4:14] == (pytorch.LEGACY_MAGIC).to_bytes(10, "little") \
            else "neon"
    return "caffe"


def read_params(path, model):
    """{layer name: weights as ``get_weights()`` takes them} from the file at ``path`` for ``model``."""
    kind = detect(path)
    if kind == "pytorch":
        return pytorch.to_params(pytorch.read_state_dict(path), model, path)
    if kind == "caffe":
        return caffe.to_params(caffe.read_net(path), model, path)
    from weights import neon
    return neon.to_params(neon.read(path), model, path)


def class_layer(model):
    """The name of ``model``'s last layer with weights (fc8, the class conv)."""
    return [layer for layer in model.layers if layer.weights][-1].name


def load_into(model, path, new_classes=False):
    """Set the weights of ``model`` from the published file at ``path`` (format detected from its bytes), checking
    every layer and shape first: a file for another variant raises a ValueError naming the layer and both shapes,
    and leaves the model as it was. ``new_classes``: a class layer of another class count than the file's keeps its
    initial weights (fine-tuning to other classes). Returns the name of the layer left so, or None."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"weights={path!r}: expected the path of a .caffemodel, a PyTorch .pth or a neon .p file")
    params = read_params(path, model)
    name = class_layer(model)
    shapes = [tuple(w.shape) for w in model.get_layer(name).weights]
    skip = (name,) if new_classes and name in params and [tuple(p.shape) for p in params[name]] != shapes else ()
    convert.assign(model, params, f"{path} into {model.name}", skip=skip)
    return name if skip else None
