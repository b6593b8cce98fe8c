"""SavedModel export: the model with its preprocessing inside, for serving.

Signatures (both return the top-5 class indices ``classes`` (int32), their ``class_names`` (string) and
``probabilities``, and every class's probability as ``all_probabilities``):
- ``serving_default``: ``images`` (tf.string, [batch]): encoded JPEG/PNG images.
- ``serve_images``: ``images`` (tf.uint8, [batch, height, width, 3]) already decoded.
The preprocessing is the evaluation's own (``data.inputs``: central crop and mean subtraction for ImageNet; resize,
GCN and ZCA for the 32x32 datasets); its statistics (ZCA matrix, mean image) are variables of the SavedModel. The
SavedModel needs no project code to load: ``tf.saved_model.load(path).signatures["serving_default"]``.

The export is written to a temporary directory beside ``export_dir`` and renamed into place: a failed export leaves
no half-written directory, and an existing export is replaced only once the new one is complete.
"""

import os
import shutil

import keras
import tensorflow as tf

TOP_K = 5


def _outputs(model, inputs, class_names):
    probabilities = tf.cast(model(inputs, training=False), tf.float32)
    k = min(TOP_K, probabilities.shape[-1])
    top = tf.math.top_k(probabilities, k=k)
    names = tf.constant(list(class_names) + [""] * max(0, probabilities.shape[-1] - len(class_names)))
    return {"classes": top.indices, "class_names": tf.gather(names, top.indices), "probabilities": top.values,
            "all_probabilities": probabilities}


def export(model, inputs, class_names, export_dir, log=print):
    """Write ``model`` (outside any distribution strategy) with the preprocessing of ``inputs`` to ``export_dir``."""
    export_dir = os.path.abspath(export_dir)
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    state = tf.Module(name="preprocessing")
    state.variables_by_name = {name: tf.Variable(value, trainable=False, name=name)
                               for name, value in inputs.serving_state().items()}

    def serve_bytes(images):
        return _outputs(model, inputs.serve_bytes(images, state.variables_by_name), class_names)

    def serve_images(images):
        return _outputs(model, inputs.serve_images(images, state.variables_by_name), class_names)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(state)
    archive.add_endpoint("serving_default", serve_bytes, [tf.TensorSpec([None], tf.string, name="images")])
    archive.add_endpoint("serve_images", serve_images, [tf.TensorSpec([None, None, None, 3], tf.uint8,
                                                                     name="images")])
    temporary = f"{export_dir}.tmp-{os.getpid()}"
    previous = f"{export_dir}.old-{os.getpid()}"
    try:
        archive.write_out(temporary, verbose=False)
        if os.path.exists(export_dir):
            os.rename(export_dir, previous)
        os.rename(temporary, export_dir)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        if os.path.exists(previous):
            if os.path.exists(export_dir):
                shutil.rmtree(previous, ignore_errors=True)
            else:  # the rename into place failed: put the previous export back
                os.rename(previous, export_dir)
    log(f"SavedModel: {export_dir} (signatures serving_default: encoded images; serve_images: uint8 images)")
    return export_dir
