"""SavedModel export: the model with its preprocessing inside, for serving.

Signatures (both return the top-5 class indices ``classes`` (int32), their ``class_names`` (string) and
``probabilities``, and every class's probability as ``all_probabilities``):
- ``serving_default``: ``images`` (tf.string, [batch]): encoded JPEG/PNG images.
- ``serve_images``: ``images`` (tf.uint8, [batch, height, width, 3]) already decoded.
For the figures (``python -m figures --saved_model``): ``serve_features`` (uint8 images as ``serve_images``) returns
the class layer's input, flattened, as ``features`` and ``all_probabilities``; ``first_layer`` (no input) the first
convolution's ``kernels`` (kh, kw, in, out), its ``layer`` name and the ``groups`` (towers) its outputs feed.
Bad requests (bytes that are not an image, an empty batch, a tensor of another rank or channel count) fail with
InvalidArgument and a message saying what was expected; the model keeps serving. The signatures therefore declare
no fixed rank: the shape is checked inside, where the error can say what it should be.
The preprocessing is the evaluation's own (``data.inputs``: central crop and mean subtraction for ImageNet; resize,
GCN and ZCA for the 32x32 datasets); its statistics (ZCA matrix, mean image) are variables of the SavedModel. The
SavedModel needs no project code to load: ``tf.saved_model.load(path).signatures["serving_default"]``.

The export is written to a temporary directory beside ``export_dir`` and renamed into place: a failed export leaves
no half-written directory, and an existing export is replaced only once the new one is complete. An object store
(``gs://``) cannot rename a directory: there the files are copied into place, ``saved_model.pb`` last, so an
interrupted copy leaves a directory no loader takes for a SavedModel (``common.files.replace_tree``).
"""

import os

import keras
import tensorflow as tf

from common import files
from figures import network

TOP_K = 5


def _outputs(model, inputs, class_names):
    probabilities = tf.cast(model(inputs, training=False), tf.float32)
    k = min(TOP_K, probabilities.shape[-1])
    top = tf.math.top_k(probabilities, k=k)
    names = tf.constant(list(class_names) + [""] * max(0, probabilities.shape[-1] - len(class_names)))
    return {"classes": top.indices, "class_names": tf.gather(names, top.indices), "probabilities": top.values,
            "all_probabilities": probabilities}


def _checked_batch(images, rank, what):
    """``images`` if it has ``rank`` dimensions, a non-empty batch and (rank 4) 3 channels, else InvalidArgument
    saying ``what`` was expected and what came.

    The check is a data dependency (a cond whose failing branch asserts), not a control dependency: Grappler infers
    the input's shape from what the model needs downstream and would let a control-dependent check be overtaken by
    the first op that fails on the bad shape, with a far less helpful message."""
    shape = tf.shape(images)
    padded = tf.concat([shape, tf.zeros([4], tf.int32)], axis=0)  # index safely whatever the rank
    ok = tf.logical_and(tf.equal(tf.size(shape), rank), padded[0] > 0)
    if rank == 4:
        ok = tf.logical_and(ok, tf.equal(padded[3], 3))

    def fail():
        message = [f"{what}; got a tensor of shape", shape]
        with tf.control_dependencies([tf.debugging.Assert(False, message, summarize=8)]):
            return tf.identity(images)

    images = tf.cond(ok, lambda: tf.identity(images), fail)
    images.set_shape([None] if rank == 1 else [None, None, None, 3])
    return images


def export(model, inputs, class_names, export_dir, log=print):
    """Write ``model`` (outside any distribution strategy) with the preprocessing of ``inputs`` to ``export_dir``."""
    export_dir = os.path.abspath(export_dir) if files.is_local(export_dir) else export_dir.rstrip("/")
    files.makedirs(os.path.dirname(export_dir))
    state = tf.Module(name="preprocessing")
    state.variables_by_name = {name: tf.Variable(value, trainable=False, name=name)
                               for name, value in inputs.serving_state().items()}

    def serve_bytes(images):
        images = _checked_batch(images, 1, "serving_default takes a batch [N >= 1] of encoded JPEG/PNG images")
        return _outputs(model, inputs.serve_bytes(images, state.variables_by_name), class_names)

    def serve_images(images):
        images = _checked_batch(images, 4,
                                "serve_images takes a batch [N >= 1, height, width, 3] of uint8 RGB images")
        return _outputs(model, inputs.serve_images(images, state.variables_by_name), class_names)

    feature_net = network.feature_model(model)
    layer, kernels, groups = network.first_kernels(model)

    def serve_features(images):
        images = _checked_batch(images, 4,
                                "serve_features takes a batch [N >= 1, height, width, 3] of uint8 RGB images")
        features, probabilities = feature_net(inputs.serve_images(images, state.variables_by_name), training=False)
        return {"features": tf.reshape(tf.cast(features, tf.float32), [tf.shape(features)[0], -1]),
                "all_probabilities": tf.cast(probabilities, tf.float32)}

    def first_layer():
        return {"kernels": tf.constant(kernels), "groups": tf.constant(groups), "layer": tf.constant(layer)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(state)
    archive.add_endpoint("serving_default", serve_bytes, [tf.TensorSpec(None, tf.string, name="images")])
    archive.add_endpoint("serve_images", serve_images, [tf.TensorSpec(None, tf.uint8, name="images")])
    archive.add_endpoint("serve_features", serve_features, [tf.TensorSpec(None, tf.uint8, name="images")])
    archive.add_endpoint("first_layer", first_layer, [])
    temporary = f"{export_dir}.tmp-{os.getpid()}"
    try:
        archive.write_out(temporary, verbose=False)
        files.replace_tree(temporary, export_dir)  # a failed rename puts the previous export back
    finally:
        files.remove_tree(temporary)
    log(f"SavedModel: {export_dir} (signatures serving_default: encoded images; serve_images: uint8 images; "
        "serve_features and first_layer for the figures)")
    return export_dir
