"""Train a model: ``python train.py --model=allcnn --variant=all_cnn_c [--flagfile=configs/...]``.

The training loop, data pipelines and recipes are being built (issues #3 and #4). Until they land, this entry point
builds the requested model and prints its layer table (output shapes, neurons, parameters), so that the flags and
the model choice can already be checked.
"""

from absl import app, flags

flags.DEFINE_enum("model", "allcnn", ["alexnet", "allcnn"], "Model family.")
flags.DEFINE_string("variant", None, "Variant of the family (default: alexnet 'paper', allcnn 'all_cnn_c').")
flags.DEFINE_integer("num_classes", None, "Number of classes (default: 1000 for alexnet, 10 for allcnn).")

DEFAULTS = {"alexnet": ("paper", 1000), "allcnn": ("all_cnn_c", 10)}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    import models  # after flag parsing, so that --help does not wait for TensorFlow
    from common.summary import layer_table

    f = flags.FLAGS
    variant, num_classes = DEFAULTS[f.model]
    variant = f.variant or variant
    num_classes = f.num_classes or num_classes
    try:
        model = models.build(f.model, variant, num_classes=num_classes)
    except ValueError as err:
        raise app.UsageError(f"--variant/--num_classes: {err}") from None
    print(layer_table(model, title=f"{f.model} '{variant}', {num_classes} classes"))
    print("\nTraining is not implemented yet (issue #4); this run only built and described the model.")


if __name__ == "__main__":
    app.run(main)
