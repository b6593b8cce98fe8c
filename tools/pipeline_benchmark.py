"""Input pipeline throughput, in images/s and images/s per core (data/benchmark.py).

    python tools/pipeline_benchmark.py --pipeline=imagenet_train [--data_dir=DIR] [--threads=1]
    python tools/pipeline_benchmark.py --pipeline=imagenet_eval_ten   # evaluate.py --crops=ten's pipeline
    python tools/pipeline_benchmark.py --pipeline=cifar_gcn_zca
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from data import benchmark  # noqa: E402

flags.DEFINE_enum("pipeline", "imagenet_train", list(benchmark.PIPELINES), "Which pipeline to time.")
flags.DEFINE_string("data_dir", None, "ImageNet folder (train/<wnid>/*.JPEG); default: a synthetic folder.")
flags.DEFINE_integer("threads", 1, "tf.data threads (cores) to use.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("batches", 20, "Batches to time (after 2 warm-up batches).")
flags.DEFINE_integer("synthetic_images", 256, "Images in the synthetic ImageNet folder.")


def main(argv):
    del argv
    f = flags.FLAGS
    described, images_per_s = benchmark.measure(f.pipeline, f.data_dir, f.threads, f.batch_size, f.batches,
                                                f.synthetic_images)
    print(f"{f.pipeline} on {described}: {images_per_s:,.0f} images/s with {f.threads} thread(s), "
          f"{images_per_s / f.threads:,.0f} images/s per core")


if __name__ == "__main__":
    app.run(main)
