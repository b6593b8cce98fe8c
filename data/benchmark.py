"""Input pipeline throughput, in images/s and images/s per core (``tools/pipeline_benchmark.py`` is its command).

``threads`` caps tf.data's private thread pool, so images/s divided by it is the rate per core. Without a
``data_dir`` the ImageNet pipelines read a folder of JPEGs written from scikit-image's real photos at typical
ImageNet sizes (500x375 and 375x500, quality 90); the CIFAR pipeline runs GCN + ZCA on 10,000 CIFAR-sized images.
"""

import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from data import imagenet, pipeline

PIPELINES = ("imagenet_train", "imagenet_eval", "imagenet_eval_ten", "cifar_gcn_zca")


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


def measure(pipeline_name, data_dir=None, threads=1, batch_size=128, batches=20, synthetic_images=256, log=print):
    """(what was read, images/s over ``batches`` batches after a warm-up) for one of PIPELINES."""
    if pipeline_name not in PIPELINES:
        raise ValueError(f"--pipeline={pipeline_name!r} is invalid; valid values: {', '.join(PIPELINES)}.")
    if pipeline_name == "cifar_gcn_zca":
        images = np.random.RandomState(0).randint(0, 256, (10_000, 32, 32, 3)).astype(np.uint8)
        _, preprocess = pipeline.gcn_zca(images[:5000])
        ds = pipeline.array_dataset(images, np.zeros(len(images), np.int64), batch_size, training=True,
                                    preprocess=preprocess, seed=0)
        iterator = limited(ds, threads)
        # The first epoch computes GCN + ZCA and fills the cache; every later epoch reads the cache.
        first = rate(iterator, len(images) // batch_size + 1)
        log(f"cifar_gcn_zca first epoch (computing GCN + ZCA into the cache): {first:,.0f} images/s")
        return "10,000 random CIFAR-sized images, after the first epoch", rate(iterator, batches)
    with tempfile.TemporaryDirectory() as tmp:
        source = imagenet.load_source("folder", "train", data_dir or synthetic_folder(tmp, synthetic_images))
        training = pipeline_name == "imagenet_train"
        if not training:  # evaluation reads the split once; repeat it to time enough batches
            source = source._replace(dataset=source.dataset.repeat())
        crops = "ten" if pipeline_name == "imagenet_eval_ten" else "center"  # images/s: 10 crops each
        iterator = limited(imagenet.make_dataset(source, batch_size, training, crops=crops, seed=0), threads)
        rate(iterator, 2)  # warm-up
        return data_dir or "synthetic JPEG folder (500x375 photos)", rate(iterator, batches)
