"""The inputs of a run, whatever the dataset: the training epochs, the evaluation split, and the preprocessing that
the export bakes into a SavedModel.

Two kinds, one interface (``train_dataset``, ``eval_dataset``, ``serving_state``, ``serve_images``, ``serve_bytes``):
- ``ArrayInputs``: datasets held in memory (the digits, CIFAR-10), with All-CNN's GCN + ZCA (``--preprocess``).
- ``ImageNetInputs``: ImageNet-style sources (a folder of JPEGs, TFDS imagenet2012, TFDS imagenette), with the
  paper's crops, flips, PCA lighting and mean subtraction, cut from the central square (the paper), the squashed
  image (Caffe) or the image scaled to a shorter side (neon) (``--resize``).
The evaluation split and the export use the same preprocessing functions, so a SavedModel and evaluate.py agree.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from common import files
from common.errors import DATA_ERRORS, op_error_line
from data import augment, imagenet, pipeline
from data.whitening import global_contrast_normalize, whiten

IMAGENET_DATASETS = {"imagenet_folder": "folder", "imagenet2012": "imagenet2012", "imagenette": "imagenette"}
DATASETS = pipeline.DATASETS + tuple(IMAGENET_DATASETS)
MEANS = tuple(imagenet.MEAN_RGB) + ("image",)
RESIZES = imagenet.RESIZES  # ImageNet: how an image becomes the image crops are cut from
# 32x32 datasets: All-CNN's GCN (scale 55) then ZCA (the paper, pylearn2, neon), GCN alone, or raw 0..255 pixels.
PREPROCESSING = ("gcn_zca", "gcn", "none")
CROPS = ("center", "ten")  # evaluation: the central crop, or the paper's ten (ImageNet)
DIGITS_SIZES = (16, 32)  # the digits' 8x8 values as 2x2 or 4x4 blocks (data/digits.py)


@dataclasses.dataclass(frozen=True)
class Config:
    """What the data flags of train.py and evaluate.py say (names as the flags)."""
    dataset: str = "digits"
    data_dir: str = None
    download: bool = False
    skip_bad_images: bool = False
    preprocess: str = "gcn_zca"  # arrays: gcn_zca | gcn | none
    zca_bias: float = 0.1
    zca_cache: str = None
    augmentation: str = "none"  # arrays: none | flip_translate | translate | affine
    max_shift: int = pipeline.MAX_SHIFT
    mean: str = "caffe"  # ImageNet: caffe | neon | torchvision | image
    mean_file: str = None  # ImageNet, mean=image: a Caffe mean .binaryproto instead of the computed mean image
    pca_lighting: bool = True  # ImageNet training
    resize: str = "central_square"  # ImageNet: central_square | shorter_side | squash (imagenet.RESIZES)
    scale_min: int = imagenet.BASE_SIZE  # ImageNet training, resize=shorter_side: shorter side uniform in
    scale_max: int = imagenet.BASE_SIZE  # [scale_min, scale_max] pixels (neon: 256, 384); evaluation: 256
    flip: bool = True  # ImageNet training: random horizontal flips
    crops: str = "center"  # evaluation: center | ten (ImageNet)
    seed: int = 0
    max_rotation: float = pipeline.Affine.max_rotation  # affine: degrees
    max_scale: float = pipeline.Affine.max_scale  # affine
    max_shear: float = pipeline.Affine.max_shear  # affine
    elastic_alpha: float = pipeline.Affine.elastic_alpha  # affine: pixels (0: no elastic distortion)
    elastic_sigma: float = pipeline.Affine.elastic_sigma  # affine: pixels

    def affine(self):
        """The ranges of --augmentation=affine (``pipeline.Affine``)."""
        return pipeline.Affine(self.max_rotation, self.max_scale, self.max_shear, self.elastic_alpha,
                               self.elastic_sigma)


def check(config, crop=None):
    """ValueError naming the flag for a choice that no dataset supports, or (with the model's ``crop`` size) that
    an ImageNet dataset cannot give."""
    choices = {"dataset": DATASETS, "preprocess": PREPROCESSING, "augmentation": pipeline.AUGMENTATIONS,
               "mean": MEANS, "crops": CROPS, "resize": RESIZES}
    for name, valid in choices.items():
        value = getattr(config, name)
        if value not in valid:
            raise ValueError(f"--{name}={value!r} is invalid; valid values: {', '.join(valid)}.")
    if not 0 <= config.max_rotation <= 180:
        raise ValueError(f"--max_rotation={config.max_rotation} is invalid; valid values are degrees in [0, 180].")
    if not 0 <= config.max_scale < 1:
        raise ValueError(f"--max_scale={config.max_scale} is invalid; valid values are in [0, 1) (the scaling is "
                         "uniform in [1 - max_scale, 1 + max_scale]).")
    if not 0 <= config.max_shear <= 1:
        raise ValueError(f"--max_shear={config.max_shear} is invalid; valid values are in [0, 1] (the shear is "
                         "uniform in [-max_shear, max_shear]: up to 45 degrees of slant).")
    if config.elastic_alpha < 0:
        raise ValueError(f"--elastic_alpha={config.elastic_alpha} is invalid; valid values are >= 0 (0: no elastic "
                         "distortion; Simard et al. 2003 used 34 on 28x28 digits).")
    if not 0.5 <= config.elastic_sigma <= 16:
        raise ValueError(f"--elastic_sigma={config.elastic_sigma} is invalid; valid values are pixels in [0.5, 16] "
                         "(Simard et al. 2003 used 4).")
    if not 1 <= config.scale_min <= config.scale_max:
        raise ValueError(f"--scale_min={config.scale_min} --scale_max={config.scale_max} is invalid; valid values: "
                         "1 <= scale_min <= scale_max, pixels of the shorter side (neon: 256 and 384).")
    if config.resize != "shorter_side" and (config.scale_min, config.scale_max) != (Config.scale_min,
                                                                                     Config.scale_max):
        raise ValueError(f"--scale_min={config.scale_min} --scale_max={config.scale_max} set the shorter side of "
                         f"--resize=shorter_side; --resize={config.resize} crops from a {imagenet.BASE_SIZE}x"
                         f"{imagenet.BASE_SIZE} image: pass --resize=shorter_side, or leave both at "
                         f"{imagenet.BASE_SIZE}.")
    if config.resize == "shorter_side" and config.mean == "image":
        raise ValueError(f"--mean=image is a {imagenet.BASE_SIZE}x{imagenet.BASE_SIZE} per-pixel mean, but "
                         "--resize=shorter_side gives images of other sizes: pass a mean colour (--mean=neon or "
                         "--mean=caffe), or --resize=central_square or --resize=squash.")
    if (crop is not None and config.dataset in IMAGENET_DATASETS and config.resize == "shorter_side"
            and config.scale_min < crop):
        raise ValueError(f"--scale_min={config.scale_min} is smaller than the model's {crop}x{crop} crops: pass "
                         f"--scale_min={crop} or more (neon: 256).")
    if config.mean_file and config.mean != "image":
        raise ValueError(f"--mean_file={config.mean_file} is a mean image: pass --mean=image with it (or drop it for "
                         f"--mean={config.mean}).")
    if config.crops == "ten" and config.dataset not in IMAGENET_DATASETS:
        raise ValueError(f"--crops=ten is the paper's ImageNet test; --dataset={config.dataset} has 32x32 images "
                         "and is evaluated whole: use --crops=center.")


def load(config, image_size, cache_dir=None, log=print, scan_train=True):
    """The inputs for ``config`` and a model taking ``image_size`` x ``image_size`` images. ``scan_train=False``
    leaves the training split unscanned by ``skip_bad_images`` (a scoring run reads the evaluation split only).

    FileNotFoundError/ValueError name the missing or bad data and the flag that fixes it.
    """
    check(config, image_size)
    if config.dataset in IMAGENET_DATASETS:
        return ImageNetInputs(config, image_size, cache_dir, log, scan_train)
    return ArrayInputs(config, image_size, log)


def named(config):
    """The flags that chose the data, as the entry points' error messages start: ``--dataset=X --data_dir=Y``."""
    return f"--dataset={config.dataset} --data_dir={config.data_dir}"


def load_named(config, image_size, cache_dir=None, log=print, scan_train=True):
    """``load``, a FileNotFoundError/ValueError re-raised as one ValueError whose message starts with ``named``, and
    a TensorFlow data error (an unreadable image met while computing the mean image) as one saying so."""
    try:
        return load(config, image_size, cache_dir, log, scan_train)
    except (FileNotFoundError, ValueError) as err:
        raise ValueError(f"{named(config)}: {err}") from None
    except DATA_ERRORS as err:
        raise ValueError(f"{named(config)}: the data could not be read: {op_error_line(err)}") from None


def _save_numpy(path, array):
    with files.atomic_write(path, "wb") as f:
        np.save(f, array)


class ArrayInputs:
    """The digits or CIFAR-10, in memory: (GCN + ZCA fitted on the training split, cached) then batches."""
    eval_split = "test"

    def __init__(self, config, image_size, log=print):
        self.config = config
        if config.crops != "center":
            raise ValueError(f"--crops={config.crops} is for ImageNet; --dataset={config.dataset} is evaluated whole.")
        if config.dataset == "digits" and image_size not in DIGITS_SIZES:
            raise ValueError(f"--dataset=digits comes at {' or '.join(map(str, DIGITS_SIZES))} pixels (blocks of its "
                             f"8x8 values), but the model takes {image_size}x{image_size}: train one of those sizes "
                             "(train.py --model=allcnn, --image_size=16 or 32).")
        train_images, train_labels, self.class_names = pipeline.load_arrays(
            config.dataset, "train", config.data_dir, config.download, image_size)
        eval_images, eval_labels, _ = pipeline.load_arrays(config.dataset, "test", config.data_dir, config.download,
                                                           image_size)
        if train_images.shape[1:3] != (image_size, image_size):
            raise ValueError(f"--dataset={config.dataset} has {train_images.shape[1]}x{train_images.shape[2]} "
                             f"images but the model takes {image_size}x{image_size}: choose a model of that input "
                             "size (--model=allcnn for 32x32).")
        self.image_shape = train_images.shape[1:]
        self.zca = None
        self.preprocess = None
        if config.preprocess == "gcn":
            self.preprocess = global_contrast_normalize
        if config.preprocess == "gcn_zca":
            cache = config.zca_cache or pipeline.default_zca_cache(config.dataset, config.zca_bias,
                                                                   image_size=image_size)
            self.zca, self.preprocess = pipeline.gcn_zca(train_images, bias=config.zca_bias, cache_path=cache)
            log(f"GCN + ZCA (bias {config.zca_bias:g}) fitted on the {len(train_images):,} training images; "
                f"statistics: {cache}")
        self._train = (train_images, train_labels)
        self._eval = (eval_images, eval_labels)
        self._examples = {}

    def keep_caches(self, directory):
        """Nothing to keep: the ZCA statistics have their own cache (``--zca_cache``)."""

    def train_dataset(self, batch_size, epoch, skip_batches=0, input_context=None, as_seen=False):
        """``epoch``'s batches of ``batch_size`` after ``skip_batches``. With an ``input_context`` of P pipelines,
        every pipeline shuffles the whole split in the same order and takes every P-th batch (pipeline i: batches
        i, P + i, ...): a P-worker job then trains on exactly the global batches of a one-worker run with the same
        global batch (the training split is small and in memory on every worker). ``as_seen``: the same examples
        and augmentation on the images as a person sees them (0..1, before GCN and ZCA), for TensorBoard."""
        if as_seen:  # once per run: not cached
            examples = pipeline.cached_examples(*self._train, lambda x: tf.cast(x, tf.float32) / 255.0, cache=False)
        else:
            if "train" not in self._examples:  # cached once, reused by every epoch; built eagerly even when this
                with tf.init_scope():        # is called inside a dataset function (pipeline.chain_epochs)
                    self._examples["train"] = pipeline.cached_examples(*self._train, self.preprocess)
            examples = self._examples["train"]
        shard = (input_context.num_input_pipelines, input_context.input_pipeline_id) if input_context else None
        return pipeline.batches(examples, self.count("train"), batch_size, True, self.config.seed,
                                epoch, skip_batches, self.config.augmentation, self.config.max_shift, shard=shard,
                                affine=self.config.affine())

    def _split(self, split):
        if split not in (None, "train", "test"):
            raise ValueError(f"--split={split!r} is invalid for --dataset={self.config.dataset}; valid: train, test.")
        return self._train if split == "train" else self._eval

    def count(self, split=None):
        return len(self._split(split)[1])

    def eval_dataset(self, batch_size, split=None):
        """Every example of ``split`` (default: test) in order, preprocessed; the last batch smaller. The
        preprocessed split is cached: validating every epoch does not whiten it again (nor rebuild the ZCA graph)."""
        key = ("eval", split or "test")
        if key not in self._examples:
            self._examples[key] = pipeline.cached_examples(*self._split(split), self.preprocess)
        return pipeline.batches(self._examples[key], self.count(split), batch_size, training=False)

    raw_kind = "images"

    def raw_dataset(self, batch_size, split=None):
        """(uint8 images, labels) batches of ``split``, unprocessed: what the ``serve_images`` signature takes."""
        return tf.data.Dataset.from_tensor_slices(self._split(split)).batch(batch_size)

    def sample(self, split, count):
        """(model inputs, images as a person sees them (uint8), labels) of ``count`` examples spread evenly over
        ``split`` (every class appears: the splits are not sorted by class), for the figures."""
        images, labels = self._split(split)
        index = np.unique(np.linspace(0, len(labels) - 1, min(count, len(labels))).round().astype(np.int64))
        shown = images[index]
        model_inputs = self.preprocess(tf.constant(shown)).numpy() if self.preprocess else shown.astype(np.float32)
        return model_inputs, shown, np.asarray(labels)[index]

    # -------------------------------------------------------------------------------------------- serving
    def serving_state(self):
        """Arrays the export keeps as variables: the ZCA matrix and offset (none without ZCA)."""
        if self.zca is None:
            return {}
        matrix, offset = self.zca.tensors()
        return {"zca_matrix": matrix, "zca_offset": offset}

    def serve_images(self, images, state):
        """Model inputs from a uint8 batch (N, H, W, 3) of any size: resized to the training size (plain bilinear)
        when it differs, then the training split's GCN + ZCA."""
        images = tf.cast(images, tf.float32)
        height, width = self.image_shape[0], self.image_shape[1]
        images = tf.cond(tf.reduce_all(tf.equal(tf.shape(images)[1:3], [height, width])),
                         lambda: images, lambda: augment.resize(images, [height, width]))
        images = tf.ensure_shape(images, [None, height, width, 3])
        if self.config.preprocess == "none":
            return images
        if self.zca is None:
            return global_contrast_normalize(images)
        return whiten(global_contrast_normalize(images), state["zca_matrix"], state["zca_offset"])

    def serve_bytes(self, contents, state):
        """Model inputs from a batch of encoded images (PNG, JPEG, GIF, BMP), each resized to the training size."""
        height, width = self.image_shape[0], self.image_shape[1]

        def decode(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            return augment.resize(image, [height, width])

        images = tf.map_fn(decode, contents, fn_output_signature=tf.TensorSpec([height, width, 3], tf.float32))
        return self.serve_images(images, state)


class ImageNetInputs:
    """ImageNet-style sources: the training crops and the central (or ten) crops for evaluation, of the image that
    ``config.resize`` makes (``imagenet.train_base``, ``imagenet.decode_base``)."""
    eval_split = "validation"

    def __init__(self, config, image_size, cache_dir=None, log=print, scan_train=True):
        self.config, self.crop = config, image_size
        source = IMAGENET_DATASETS[config.dataset]
        self.train_source = imagenet.load_source(source, "train", config.data_dir, config.download,
                                                 config.skip_bad_images and scan_train, log)
        self.eval_source = imagenet.load_source(source, "validation", config.data_dir, config.download,
                                                config.skip_bad_images, log)
        self.class_names = self.train_source.class_names
        if not self.train_source.count or not self.eval_source.count:
            raise ValueError("the training or validation split is empty or of unknown size.")
        self.image_shape = (image_size, image_size, 3)
        self._unsaved = {}
        self.mean = self._mean(cache_dir, log) if config.mean == "image" else np.float32(
            imagenet.MEAN_RGB[config.mean])

    def _mean(self, cache_dir, log):
        """The paper's per-pixel mean image (of the central squares; with --resize=squash, of the squashed images),
        computed once per workdir (one pass over the training split)."""
        if self.config.mean_file:
            from weights import caffe
            mean = caffe.read_mean(self.config.mean_file)
            if mean.shape != (imagenet.BASE_SIZE, imagenet.BASE_SIZE, 3):
                raise ValueError(f"--mean_file={self.config.mean_file}: a {mean.shape[0]}x{mean.shape[1]} mean image; "
                                 f"the crops are cut from {imagenet.BASE_SIZE}x{imagenet.BASE_SIZE} images.")
            log(f"mean image: {self.config.mean_file} (Caffe's, BGR turned RGB)")
            return mean
        name = "mean_image.npy" if self.config.resize == "central_square" else f"mean_image_{self.config.resize}.npy"
        path = os.path.join(cache_dir, name) if cache_dir else None
        if path and files.exists(path):
            return files.load_numpy(path)
        log(f"computing the mean image of the {self.train_source.count:,} training images (one pass; --mean=caffe "
            "skips it)")
        mean = imagenet.mean_image(self.train_source, log=log, resize=self.config.resize)
        self._unsaved = {name: mean}  # written by the run that holds the workdir, once it is checked (keep_caches)
        return mean

    def keep_caches(self, directory):
        """Write what was computed (the mean image) into the workdir ``directory``, for the next run."""
        for name, array in self._unsaved.items():  # (only what _mean computed: a cached one is not rewritten)
            _save_numpy(os.path.join(directory, name), array)
        self._unsaved = {}

    def train_dataset(self, batch_size, epoch, skip_batches=0, input_context=None, as_seen=False):
        """``epoch``'s training batches; ``as_seen``: the same crops with the mean added back (``display``)."""
        config = self.config
        dataset = imagenet.make_dataset(self.train_source, batch_size, True, self.crop, mean=self.mean,
                                        pca=config.pca_lighting, seed=config.seed, input_context=input_context,
                                        epoch=epoch, skip_batches=skip_batches, resize=config.resize,
                                        scale=(config.scale_min, config.scale_max), flip=config.flip)
        return dataset.map(lambda x, y: (self.display(x), y)) if as_seen else dataset

    def _split(self, split):
        if split not in (None, "train", "validation"):
            raise ValueError(f"--split={split!r} is invalid for --dataset={self.config.dataset}; valid: train, "
                             "validation.")
        return self.train_source if split == "train" else self.eval_source

    def count(self, split=None):
        return self._split(split).count

    def eval_dataset(self, batch_size, split=None):
        """Every image of ``split`` (default: validation) in order: central or ten crops of ``imagenet.decode_base``'s
        image for ``--resize``; the last batch smaller."""
        return imagenet.make_dataset(self._split(split), batch_size, False, self.crop, self.config.crops, self.mean,
                                     resize=self.config.resize)

    raw_kind = "bytes"

    def raw_dataset(self, batch_size, split=None):
        """(encoded image bytes, labels) batches of ``split``: what the ``serving_default`` signature takes."""
        source = self._split(split)
        return source.dataset.map(lambda payload, label, name: (imagenet.read_payload(source, payload), label),
                                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size)

    def sample(self, split, count):
        """(model inputs, images as a person sees them (uint8), labels) of ``count`` evaluation examples spread over
        ``split``: a folder's files are listed class by class, so every k-th file is taken (only names are skipped);
        a TFDS split, already shuffled when prepared, gives its first ``count``. The model inputs are the central
        crops; the pictures the central 256x256 of the image they are cut from (``--resize``), which the export's
        ``serve_images`` turns into the same crops."""
        source = self._split(split)
        ds = source.dataset
        ds = ds.shard(max(1, -(-source.count // count)), 0) if source.read else ds  # every ceil(n / count)-th

        def one(payload, label, name):
            base = imagenet.decode_base(imagenet.read_payload(source, payload), name, self.config.resize)
            shown = tf.cast(tf.round(tf.clip_by_value(augment.central_crop(base, imagenet.BASE_SIZE), 0, 255)),
                            tf.uint8)
            return imagenet.eval_crops(base, self.crop, "center", self.mean), shown, label
        model_inputs, shown, labels = [], [], []
        for images, pictures, batch_labels in ds.take(count).map(one, num_parallel_calls=tf.data.AUTOTUNE,
                                                                 deterministic=True).batch(100):
            model_inputs.append(images.numpy())
            shown.append(pictures.numpy())
            labels.append(batch_labels.numpy())
        return np.concatenate(model_inputs), np.concatenate(shown), np.concatenate(labels)

    def display(self, images):
        """Mean-subtracted training crops shifted back to 0..1 (approximately: the mean colour is added back)."""
        mean = tf.reduce_mean(tf.reshape(tf.constant(self.mean, tf.float32), [-1, 3]), axis=0)
        return tf.clip_by_value((images + mean) / 255.0, 0.0, 1.0)

    def serving_state(self):
        return {"mean": np.asarray(self.mean, np.float32)}

    def serve_images(self, images, state):
        """Model inputs from a uint8 batch (N, H, W, 3): the evaluation image of ``--resize`` (by default the
        central square to 256), minus the mean, central crop."""
        def one(image):
            return imagenet.eval_crops(imagenet.base_image(image, self.config.resize), self.crop, "center",
                                       state["mean"])

        return tf.map_fn(one, images, fn_output_signature=tf.TensorSpec(self.image_shape, tf.float32))

    def serve_bytes(self, contents, state):
        """Model inputs from a batch of encoded JPEG/PNG images, exactly as the evaluation split is read."""
        def one(data):
            return imagenet.eval_crops(imagenet.decode_base(data, tf.constant("<request>"), self.config.resize),
                                       self.crop, "center", state["mean"])

        return tf.map_fn(one, contents, fn_output_signature=tf.TensorSpec(self.image_shape, tf.float32))
