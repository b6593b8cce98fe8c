"""Score a trained model: top-1 and top-5 accuracy and error over every example of a split.

    python evaluate.py --model_file=allcnn.keras --dataset=digits --split=test

Prints a table and writes a JSON report (``--report``, by default beside the model file). The model is a Keras
``.keras`` file; the images get the All-CNN preprocessing (GCN then ZCA fitted on the training split, the statistics
cached) unless ``--preprocess=none``. Every example counts: the last batch is smaller rather than dropped.
(Restoring from a training workdir, SavedModels and the paper's 10-crop test arrive with the trainer, issue #4.)
"""

import os
import sys

from absl import app, flags, logging

flags.DEFINE_string("model_file", None, "Trained Keras model (.keras) to evaluate.")
flags.DEFINE_enum("dataset", "digits", ["digits", "cifar10", "cifar10_pickle"],
                  "digits: bundled, no download; cifar10: TFDS builder; cifar10_pickle: python batches in --data_dir.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir (cifar10) or the cifar-10-batches-py directory.")
flags.DEFINE_bool("download", False, "Let TFDS download and prepare the dataset if it is not there.")
flags.DEFINE_enum("split", "test", ["train", "test"], "Split to evaluate.")
flags.DEFINE_integer("batch_size", 100, "Evaluation batch size (any size: every example is evaluated).")
flags.DEFINE_enum("preprocess", "gcn_zca", ["gcn_zca", "none"],
                  "gcn_zca: All-CNN's GCN (scale 55) + ZCA fitted on the training split; none: raw 0..255 pixels.")
flags.DEFINE_float("zca_bias", 0.1, "ZCA filter bias (pylearn2: 0.1; neon v1.4.0: 0).")
flags.DEFINE_string("zca_cache", None, "ZCA statistics file (default: ~/.cache/alexnet-allcnn/...).")
flags.DEFINE_string("report", None, "JSON report path (default: <model_file>.<dataset>-<split>.eval.json).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    f = flags.FLAGS
    if not f.model_file:
        raise app.UsageError("--model_file is required: the .keras file of the model to evaluate.")
    if not os.path.isfile(f.model_file):
        sys.exit(f"--model_file={f.model_file}: no such file. Pass the .keras file written by training.")
    if f.batch_size < 1:
        raise app.UsageError(f"--batch_size={f.batch_size} is invalid; valid values are integers >= 1.")

    import keras
    import tensorflow as tf

    import evaluation
    import models  # noqa: F401  registers the project's layers for loading
    from data import pipeline

    try:
        model = keras.models.load_model(f.model_file)
    except Exception as err:  # a corrupt or foreign file: say which, not a deep traceback
        sys.exit(f"--model_file={f.model_file}: cannot load it as a Keras model ({type(err).__name__}: {err}).")

    def load(split):
        try:
            return pipeline.load_arrays(f.dataset, split, data_dir=f.data_dir, download=f.download)
        except (FileNotFoundError, ValueError) as err:  # a missing or bad dataset: one message, no traceback
            sys.exit(f"--dataset={f.dataset} --data_dir={f.data_dir}: {err}")

    images, labels, class_names = load(f.split)
    if tuple(model.input.shape[1:]) != images.shape[1:]:
        sys.exit(f"--model_file={f.model_file} takes {tuple(model.input.shape[1:])} images but {f.dataset} has "
                 f"{images.shape[1:]}: evaluate it on a dataset of its input size.")

    preprocess = None
    if f.preprocess == "gcn_zca":
        train_images, _, _ = load("train")
        cache = f.zca_cache or pipeline.default_zca_cache(f.dataset, f.zca_bias)
        _, preprocess = pipeline.gcn_zca(train_images, bias=f.zca_bias, cache_path=cache)
        logging.info("ZCA statistics: %s", cache)
    dataset = pipeline.array_dataset(images, labels, f.batch_size, training=False, preprocess=preprocess)
    predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    report = evaluation.evaluate(predict, dataset, expected_count=len(labels))
    report.update(model_file=os.path.abspath(f.model_file), dataset=f.dataset, split=f.split,
                  preprocess=f.preprocess, classes=len(class_names))
    path = f.report or f"{f.model_file}.{f.dataset}-{f.split}.eval.json"
    evaluation.write_json(report, path)
    print(evaluation.format_table(report, f"{f.model_file} on {f.dataset}/{f.split} ({len(labels):,} examples)"))
    print(f"report: {path}")


if __name__ == "__main__":
    app.run(main)
