"""python -m figures: the papers' figures from a training run, an export or published weights, as PNG files.

    python -m figures --workdir=runs/digits --out=figures/
    python -m figures --weights=bvlc_alexnet.caffemodel --variant=bvlc --data_dir=DIR --out=figures/
    python -m figures --saved_model=runs/digits/export --out=figures/    # through its own preprocessing

Takes evaluate.py's flags for the model and the data (the same loading, ``evaluate.load``; ``--class_names`` a
synset_words.txt to show ImageNet's classes by name rather than WNID; ``--split`` the split scored and the images
shown) and writes, into --out:
conv1_kernels.png (Figure 3), nearest_neighbours.png (Figure 4: validation images, their top-5 classes, the nearest
training images in the class layer's input), confusion_matrix.png (up to 20 classes; an ImageNet run's most confused
pairs are printed and in report.json), and report.json (evaluate.py's report: per-class top-1 included).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from absl import app, flags, logging  # noqa: E402

import evaluate  # noqa: E402  its flags name the model and the data

flags.DEFINE_string("out", "figures", "Directory for the PNG files and report.json.")
flags.DEFINE_enum("normalize", "layer", ["layer", "kernel"], "Kernel grid: the whole layer mapped to [0, 1] by its "
                  "range (cuda-convnet2's shownet default), or each kernel by its own.")


def fail(message):
    sys.exit(f"python -m figures: error: {message}")


def main(argv):
    if len(argv) > 1:
        fail(f"unexpected arguments: {' '.join(argv[1:])} (flags are --name=value)")
    f = flags.FLAGS
    problem = evaluate.source_error(f) or (
        "--export_dir and --report are evaluate.py's: the figures and report.json go to --out" if f.export_dir or
        f.report else None)
    if problem:
        fail(problem)
    logging.set_verbosity(logging.WARNING)
    import weights
    from evaluation import metrics, score
    from common import files
    from figures import Figures, draw, network

    try:
        descriptions = weights.read_class_descriptions(f.class_names) if f.class_names else {}
        scorable = evaluate.load(f)
        report = score.score(scorable, f.split, f.batch_size)
    except ValueError as err:
        fail(str(err))
    files.makedirs(f.out)
    names = [descriptions.get(name, name) for name in scorable.inputs.class_names]  # WNIDs -> words, if given
    figures = Figures(scorable.inputs, names, f.normalize, split=report["split"])
    try:
        model = scorable.model if scorable.model is not None else network.Served(f.saved_model)
    except ValueError as err:
        fail(str(err))
    drawn = {"conv1_kernels": figures.kernels(model), "nearest_neighbours": figures.neighbours(model)}
    if "confusion_matrix" in report:
        drawn["confusion_matrix"] = figures.confusion(report["confusion_matrix"], score.title(report))
    for pair in report["most_confused"]:
        print(f"most confused: {pair['label']} answered as {pair['answered']} ({pair['count']:,} times)")
    for name, figure in drawn.items():
        path = os.path.join(f.out, f"{name}.png")
        draw.save(figure, path)
        print(f"wrote {path}")
    metrics.write_json(report, os.path.join(f.out, "report.json"))
    print(metrics.format_table(report, score.title(report)))


if __name__ == "__main__":
    app.run(main)
