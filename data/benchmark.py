"""Input pipeline throughput, in images/s and images/s per core.

    python -m data.benchmark --pipeline=imagenet_train [--data_dir=DIR] [--threads=1]
    python -m data.benchmark --pipeline=cifar_gcn_zca

``--threads`` caps tf.data's private thread pool, so images/s divided by it is the rate per core. Without
``--data_dir`` the ImageNet pipelines read a folder of JPEGs written from scikit-image's real photos at typical
ImageNet sizes (500x375 and 375x500, quality 90); the CIFAR pipeline runs GCN + ZCA on 10,000 CIFAR-sized images.
"""

import os
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from data import imagenet, pipeline

flags.DEFINE_enum("pipeline", "imagenet_train", ["imagenet_train", "imagenet_eval", "cifar_gcn_zca"],
                  "Which pipeline to time.")
flags.DEFINE_string("data_dir", None, "ImageNet folder (train/<wnid>/*.JPEG); default: a synthetic folder.")
flags.DEFINE_integer("threads", 1, "tf.data threads (cores) to use.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("batches", 20, "Batches to time (after 2 warm-up batches).")
flags.DEFINE_integer("synthetic_images", 256, "Images in the synthetic ImageNet folder.")


def synthetic_folder(directory, count=256):
    """A train/ folder of ``count`` JPEGs cut from scikit-image's photos at ImageNet-like sizes."""
    from skimage import data as skimage_data
    from skimage.transform import resize

    photos = [skimage_data.astronaut(), skimage_data.chelsea(), skimage_data.coffee(), skimage_data.rocket()]
    for i in range(count):
        photo = photos[i % len(photos)]
        shape = (375, 500) if i % 2 == 0 else (500, 375)
        image = (resize(photo, shape, anti_aliasing=True) * 255).astype(np.uint8)
        path = os.path.join(directory, "train", f"n{i % 4:08d}", f"{i}.JPEG")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(tf.io.encode_jpeg(image, quality=90).numpy())
    return directory


def limited(ds, threads):
    """An iterator over ``ds`` whose tf.data work runs on at most ``threads`` threads."""
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    return iter(ds.with_options(options))


def rate(iterator, batches):
    """Images/s over the next ``batches`` batches."""
    count, start = 0, time.perf_counter()
    for _ in range(batches):
        count += len(next(iterator)[1])
    return count / (time.perf_counter() - start)


def main(argv):
    del argv
    f = flags.FLAGS
    if f.pipeline == "cifar_gcn_zca":
        images = np.random.RandomState(0).randint(0, 256, (10_000, 32, 32, 3)).astype(np.uint8)
        _, preprocess = pipeline.gcn_zca(images[:5000])
        ds = pipeline.array_dataset(images, np.zeros(len(images), np.int64), f.batch_size, training=True,
                                    preprocess=preprocess, seed=0)
        described = "10,000 random CIFAR-sized images, after the first epoch"
        iterator = limited(ds, f.threads)
        # The first epoch computes GCN + ZCA and fills the cache; every later epoch reads the cache.
        first = rate(iterator, len(images) // f.batch_size + 1)
        print(f"cifar_gcn_zca first epoch (computing GCN + ZCA into the cache): {first:,.0f} images/s")
    else:
        tmp = None if f.data_dir else tempfile.TemporaryDirectory()
        data_dir = f.data_dir or synthetic_folder(tmp.name, f.synthetic_images)
        source = imagenet.load_source("folder", "train", data_dir)
        training = f.pipeline == "imagenet_train"
        if not training:  # evaluation reads the split once; repeat it to time enough batches
            source = source._replace(dataset=source.dataset.repeat())
        ds = imagenet.make_dataset(source, f.batch_size, training, seed=0)
        described = data_dir if f.data_dir else "synthetic JPEG folder (500x375 photos)"
        iterator = limited(ds, f.threads)
        rate(iterator, 2)  # warm-up
    images_per_s = rate(iterator, f.batches)
    print(f"{f.pipeline} on {described}: {images_per_s:,.0f} images/s with {f.threads} thread(s), "
          f"{images_per_s / f.threads:,.0f} images/s per core")


if __name__ == "__main__":
    app.run(main)
