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

import tensorflow as tf

from common import files

from weights import caffe, convert, neon, pytorch

# The networks each format's published files are (Keras model names, f"{family}_{variant}"): a file loads only into
# the network it was trained as, even where another variant has weights of the same shapes (bvlc's into paper).
SOURCE_NETWORKS = {"caffe": ("alexnet_bvlc", "alexnet_caffenet"), "pytorch": ("alexnet_one_weird_trick",),
                   "neon": ("alexnet_neon", "alexnet_neon_nolrn", "allcnn_neon")}
# How each source made the images its published figures were measured on (ImageNet; the flags of data.inputs):
# Caffe's validation LMDB squashed every image to 256x256 (examples/imagenet/create_imagenet.sh, RESIZE=true) and
# subtracted its mean ([caffe-bvlc_alexnet]; ``--mean=image --mean_file=imagenet_mean.binaryproto`` for the mean
# image itself); torchvision resizes the shorter side to 256 and normalises ([torchvision-alexnet]); neon scales the
# shorter side to 256 and subtracts its BGR mean colour (weights/neon.py).
SOURCE_PREPROCESSING = {"caffe": {"resize": "squash", "mean": "caffe"},
                        "pytorch": {"resize": "shorter_side", "mean": "torchvision"},
                        "neon": {"resize": "shorter_side", "mean": "neon"}}
_LEGACY_TORCH = b"\x80\x02\x8a\x0a" + pytorch.LEGACY_MAGIC.to_bytes(10, "little")


def detect(path):
    """'pytorch' (a zip archive, or the legacy magic number), 'neon' (any other protocol-2 pickle, or gzip) or
    'caffe' (anything else: a protobuf); a ValueError for a missing, empty or unreadable path, or an HDF5 file."""
    if files.isdir(path):
        raise ValueError(f"{path} is a directory: pass the weights file itself")
    try:
        with files.open_file(path, "rb") as f:
            head = f.read(16)
    except (OSError, tf.errors.OpError) as err:
        raise ValueError(f"{path}: cannot read it ({files.reason(err)})") from None
    if not head:
        raise ValueError(f"{path}: an empty file; download it again")
    if head.startswith(b"\x89HDF"):
        raise ValueError(f"{path}: an HDF5 file (a Keras .h5 model?): evaluate.py takes Keras models as --model_file")
    if head.startswith(b"PK\x03\x04") or _LEGACY_TORCH.startswith(head[:14]) or head.startswith(_LEGACY_TORCH):
        return "pytorch"
    if head.startswith(b"\x80\x02") or head.startswith(b"\x1f\x8b"):
        return "neon"
    return "caffe"


def read_params(path, model):
    """{layer name: weights as ``get_weights()`` takes them} from the file at ``path`` for ``model``."""
    kind = detect(path)
    if model.name not in SOURCE_NETWORKS[kind]:
        networks = ", ".join("--model={} --variant={}".format(*name.split("_", 1)) for name in SOURCE_NETWORKS[kind])
        raise ValueError(f"{path}: a {kind} file, which holds the weights of {networks}; {model.name} is another "
                         "network: pass the variant the file was trained as.")
    if kind == "pytorch":
        return pytorch.to_params(pytorch.read_state_dict(path), model, path)
    if kind == "caffe":
        return caffe.to_params(caffe.read_net(path), model, path)
    return neon.to_params(neon.read(path), model, path)


def check_class_order(path, class_order, imagenet):
    """A ValueError when a neon ImageNet file would be used without ``class_order`` (its outputs follow the
    ILSVRC2012 devkit's order, not an ImageNet folder's sorted WNIDs)."""
    if imagenet and class_order is None and detect(path) == "neon":
        raise ValueError(f"{path}: neon's ImageNet outputs follow the ILSVRC2012 devkit's class order (meta.mat, "
                         "ILSVRC2012_ID - 1), not the sorted WNIDs of the dataset: pass --class_order=FILE, the 1000 "
                         "WNIDs in that order, one per line (BUILD.md, \"Published weights\").")


def class_layer(model):
    """The name of ``model``'s last layer with weights (fc8, the class conv)."""
    return [layer for layer in model.layers if layer.weights][-1].name


def read_class_list(path):
    """The class names in a text file, one per line: the first word of each non-empty line (a plain list of WNIDs,
    or Caffe's synset_words.txt, ``n01440764 tench, Tinca tinca``)."""
    try:
        names = [line.split()[0] for line in files.read_text(path).splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, tf.errors.OpError) as err:
        raise ValueError(f"--class_order={path}: cannot read it ({err})") from None
    if len(set(names)) != len(names):
        raise ValueError(f"--class_order={path}: a class is listed twice ({len(names) - len(set(names))} repeats)")
    return names


def read_class_descriptions(path):
    """{class name: description} from a text file of lines ``<name> <description>`` (Caffe's synset_words.txt:
    ``n01440764 tench, Tinca tinca``); a line without a description maps the name to itself."""
    try:
        pairs = [line.strip().split(None, 1) for line in files.read_text(path).splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, tf.errors.OpError) as err:
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
