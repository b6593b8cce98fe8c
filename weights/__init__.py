"""Published weights: neon's ``.p``, Caffe's ``.caffemodel`` and PyTorch's state dicts, read without those frameworks
and without running anything a file asks for, into this project's networks.

    import alexnet
    model = alexnet.build("bvlc", weights="bvlc_alexnet.caffemodel")

    from weights import load_into
    load_into(model, "alexnet-owt-7be5be79.pth")       # a model of the variant the file is for
    load_into(model, "alexnet.p", class_order=devkit_wnids, classes=sorted_wnids)  # neon: outputs reordered

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


def read_class_list(path):
    """The class names in a text file, one per line: the first word of each non-empty line (a plain list of WNIDs,
    or Caffe's synset_words.txt, ``n01440764 tench, Tinca tinca``)."""
    try:
        with open(path) as f:
            names = [line.split()[0] for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"--class_order={path}: cannot read it ({err})") from None
    if len(set(names)) != len(names):
        raise ValueError(f"--class_order={path}: a class is listed twice ({len(names) - len(set(names))} repeats)")
    return names


def read_class_descriptions(path):
    """{class name: description} from a text file of lines ``<name> <description>`` (Caffe's synset_words.txt:
    ``n01440764 tench, Tinca tinca``); a line without a description maps the name to itself."""
    try:
        with open(path) as f:
            pairs = [line.strip().split(None, 1) for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"--class_names={path}: cannot read it ({err})") from None
    return {pair[0]: pair[-1] for pair in pairs}


def reorder_classes(params, layer, class_order, classes, where):
    """Permute the class layer's outputs in ``params`` from the file's order (``class_order``, the names of its
    outputs in order) to ``classes`` (the names of this model's outputs, in order); outputs the model does not name
    (neon's padding) keep their places after them."""
    values = params[layer]
    outputs = values[0].shape[-1]  # the kernel's last axis, (in, out) or (kh, kw, in, out)
    if len(class_order) != outputs:
        raise ValueError(f"{where}: the class list has {len(class_order)} names, the file's class layer {layer} has "
                         f"{outputs} outputs: pass the list of the file's classes in its output order")
    missing = [name for name in classes if name not in class_order]
    if missing:
        raise ValueError(f"{where}: the dataset's class {missing[0]!r} is not in the class list "
                         f"({len(missing)} of {len(classes)} missing): the list and the dataset name classes alike "
                         "(e.g. WNIDs)")
    perm = [class_order.index(name) for name in classes]
    perm += [i for i in range(outputs) if i not in set(perm)]
    params[layer] = [v[..., perm] for v in values]


def load_into(model, path, new_classes=False, class_order=None, classes=None):
    """Set the weights of ``model`` from the published file at ``path`` (format detected from its bytes), checking
    every layer and shape first: a file for another variant raises a ValueError naming the layer and both shapes,
    and leaves the model as it was. ``new_classes``: a class layer of another class count than the file's keeps its
    initial weights (fine-tuning to other classes). ``class_order``: the names of the file's outputs in order, to
    reorder them as ``classes`` (the model's, e.g. the dataset's sorted WNIDs). Returns the name of the class layer
    when it was left at its initial weights, else None."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"weights={path!r}: expected the path of a .caffemodel, a PyTorch .pth or a neon .p file")
    params = read_params(path, model)
    name = class_layer(model)
    shapes = [tuple(w.shape) for w in model.get_layer(name).weights]
    skip = (name,) if new_classes and name in params and [tuple(p.shape) for p in params[name]] != shapes else ()
    if class_order is not None and not skip and name in params:
        reorder_classes(params, name, list(class_order), list(classes or sorted(class_order)), path)
    convert.assign(model, params, f"{path} into {model.name}", skip=skip)
    return name if skip else None
