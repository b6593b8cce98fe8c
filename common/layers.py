"""Keras layers the 2012-era networks need and Keras 3 does not ship.

* ``LocalResponseNormalization``: [alexnet-paper] §3.3, in the paper's and in Caffe's/neon's parametrisation.
* ``TowerConv2D``: the paper's two-GPU "towers" (section 3.2, figure 2) as split -> one Conv2D per tower -> concat.
* ``Dense``: ``keras.layers.Dense`` with a faster float32 input gradient on the CPU (the same values and weights).

All are serializable (``get_config`` returns exactly the constructor arguments) and registered under the
``alexnet`` package name, so a saved ``.keras`` model loads without ``custom_objects``.
"""

import functools

import keras
import tensorflow as tf


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def _window_sum(v, half):
    """The sum over each channel's window (channels c - half .. c + half that exist) along the last axis, as
    2 * half + 1 shifted slices of a zero-padded copy. Inside an XLA kernel this fuses with the element-wise work
    around it: no padded copy and no window sum is written to memory, each element is read once from memory and
    the shifts from cache."""
    channels = v.shape[-1]
    padded = tf.pad(v, [[0, 0]] * (len(v.shape) - 1) + [[half, half]])
    return tf.add_n([padded[..., i:i + channels] for i in range(2 * half + 1)])


@functools.lru_cache(maxsize=None)
def _lrn_kernels(half, k, alpha, beta):
    """LRN's forward pass and its gradient, each one XLA kernel (one pass over memory). The gradient recomputes the
    window sums from x rather than keeping them from the forward pass: two passes over memory fewer (the kernels
    are bound by memory, not arithmetic), 20% faster for AlexNet's two LRN layers, forward and backward, in float32
    and bfloat16 (2026-12-03), bit-identical results. t ** -beta is rsqrt(t) * sqrt(rsqrt(t)) for the 0.75 every
    source uses (TF's CPU pow costs about twenty passes). The arithmetic is float32 whatever the tensors' dtype
    (bfloat16 under mixed_bfloat16): the casts happen inside the fused kernels, and the results come back in the
    input's dtype."""
    def negative_power(t):
        if beta == 0.75:
            r = tf.math.rsqrt(t)
            return r * tf.sqrt(r)
        return tf.pow(t, -beta)

    def scale(x):  # t = k + alpha * window_sum(x^2)
        return k + alpha * _window_sum(x * x, half)

    @tf.function(jit_compile=True)
    def forward(x_in):
        x = tf.cast(x_in, tf.float32)
        return tf.cast(x * negative_power(scale(x)), x_in.dtype)

    @tf.function(jit_compile=True)
    def backward(dy_in, x_in):  # dy * t^-beta - 2 alpha beta x window_sum(dy * y / t)
        dy, x = tf.cast(dy_in, tf.float32), tf.cast(x_in, tf.float32)
        t = scale(x)
        power = negative_power(t)
        return tf.cast(dy * power - (2.0 * alpha * beta) * x * _window_sum(dy * x * power / t, half), dy_in.dtype)

    return forward, backward


def local_response_normalization(x, size, k, alpha, beta):
    """y[c] = x[c] * (k + alpha * sum_{|j - c| <= size // 2} x[j]^2) ** -beta over the channels that exist, for x
    in float32 or bfloat16 (the arithmetic in float32).

    The function of ``tf.nn.local_response_normalization`` (whose ``alpha`` is this ``alpha``), built for speed on
    the CPU: TF's kernels raise every element to -beta with pow and run the gradient as a scalar loop per element,
    and cost the two LRN layers of AlexNet ~400 ms of a ~3 s training step (an ablation: EXPERIMENTS.md, "The speed
    table and ratios, median rounds, PyTorch in its own process (16c4d35)"). Here the forward pass and the gradient
    are each one XLA kernel, only x is kept for the backward pass, and the gradient is written out
    (t = k + alpha * window_sum(x^2), y = x * t^-beta):

        dx = dy * t^-beta - 2 alpha beta * x * window_sum(dy * y / t)

    (the window is symmetric, so the sum that spreads each channel's share back is the same window sum).
    common/layers_test.py checks the values and the gradient against NumPy, finite differences and TF's kernels.
    """
    forward, backward = _lrn_kernels(size // 2, k, alpha, beta)

    @tf.custom_gradient
    def lrn(x):
        def grad(dy):
            return backward(dy, x)

        return forward(x), grad

    return lrn(x)


@keras.saving.register_keras_serializable(package="alexnet")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels ([alexnet-paper] §3.3).

    b[c] = a[c] / (k + alpha' * sum_{j = c - size//2}^{c + size//2} a[j]^2) ** beta

    the sum running over the channels that exist (the window is cut at the first and last channel), with

    * ``alpha' = alpha``         when ``scale_alpha_by_size=False``: the paper (alpha=1e-4, k=2, n=5, beta=0.75).
    * ``alpha' = alpha / size``  when ``scale_alpha_by_size=True``: Caffe (``lrn_layer.cpp``: alpha_over_size, k
      defaults to 1) and neon (``nervanacpu.py``: 1 + ascale/5 * sum): [caffe-lrn], [neon-lrn]; TensorFlow's form
      (alpha not divided, a half-width window) is [tf-lrn].

    ``size`` must be odd: every source uses a window centred on the channel (TF's ``depth_radius`` is size // 2,
    the half-width; passing 5 for the paper's n = 5 is the classic mistake in peers: [tf-alexnet_benchmark] and
    [tf-readme-004] use depth_radius=5).

    The element-wise arithmetic always runs in float32 and the result comes back in the input's dtype. Under
    mixed_bfloat16 the layer reads and writes bfloat16 tensors (half the memory traffic) and casts inside its fused
    kernels, whose window sums are float32; any other dtype is cast to float32 first: float16 squares overflow
    above 256 (65504 is its largest value).
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, scale_alpha_by_size=False, **kwargs):
        super().__init__(**kwargs)
        _check(isinstance(size, int) and not isinstance(size, bool) and size >= 1 and size % 2 == 1,
               f"LocalResponseNormalization: size={size!r} is invalid; valid sizes are positive odd integers "
               "(1, 3, 5, ...): the window is centred on each channel. The paper uses size=5.")
        _check(isinstance(alpha, (int, float)) and alpha >= 0,
               f"LocalResponseNormalization: alpha={alpha!r} is invalid; valid values are floats >= 0 (paper: 1e-4).")
        _check(isinstance(beta, (int, float)) and beta > 0,
               f"LocalResponseNormalization: beta={beta!r} is invalid; valid values are floats > 0 (paper: 0.75).")
        _check(isinstance(k, (int, float)) and k > 0,
               f"LocalResponseNormalization: k={k!r} is invalid; valid values are floats > 0 (paper: 2, Caffe: 1).")
        _check(isinstance(scale_alpha_by_size, bool),
               f"LocalResponseNormalization: scale_alpha_by_size={scale_alpha_by_size!r} is invalid; valid values "
               "are True (Caffe/neon: alpha/size) and False (the paper: alpha).")
        self.size = size
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)
        self.scale_alpha_by_size = scale_alpha_by_size

    @property
    def effective_alpha(self):
        """The alpha' that multiplies the sum of squares."""
        return self.alpha / self.size if self.scale_alpha_by_size else self.alpha

    def call(self, inputs):
        x = inputs if inputs.dtype in (tf.bfloat16, tf.float32) else tf.cast(inputs, tf.float32)
        y = local_response_normalization(x, self.size, self.k, self.effective_alpha, self.beta)
        return tf.cast(y, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, alpha=self.alpha, beta=self.beta, k=self.k,
                      scale_alpha_by_size=self.scale_alpha_by_size)
        return config


@keras.saving.register_keras_serializable(package="alexnet")
class TowerConv2D(keras.layers.Layer):
    """A convolution split into ``towers`` independent towers: [alexnet-paper] §3.2.

    The input channels are split into ``towers`` equal groups; tower i convolves only group i with ``filters // towers``
    kernels, and the outputs are concatenated in tower order. This is what Caffe calls ``group: 2`` and Keras
    ``Conv2D(groups=2)``, built from ordinary convolutions because TF 2.21 has no oneDNN CPU kernel for grouped
    convolutions and routes them through a path several times slower (EXPERIMENTS.md, 2026-11-22, "Towers against
    `Conv2D(groups=2)`" and "Project performance notes"). The towers are ``tower_0``, ``tower_1``, ... sub-layers with
    their own weights.
    """

    def __init__(self, filters, kernel_size, towers=2, strides=1, padding="valid", activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        _check(isinstance(towers, int) and towers >= 1,
               f"TowerConv2D: towers={towers!r} is invalid; valid values are integers >= 1 (the paper uses 2).")
        _check(isinstance(filters, int) and filters >= towers and filters % towers == 0,
               f"TowerConv2D: filters={filters!r} is not divisible by towers={towers}; valid filters are positive "
               f"multiples of {towers}.")
        self.filters = filters
        self.kernel_size = kernel_size
        self.towers = towers
        self.strides = strides
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        # Each tower gets its own initializer instance: a Keras 3 initializer object without a seed returns the
        # same values every time it is called, so sharing one would make the towers identical copies.
        self.tower_convs = [
            keras.layers.Conv2D(
                filters // towers, kernel_size, strides=strides, padding=padding, activation=activation,
                use_bias=use_bias,
                kernel_initializer=keras.initializers.get(keras.initializers.serialize(self.kernel_initializer)),
                bias_initializer=keras.initializers.get(keras.initializers.serialize(self.bias_initializer)),
                dtype=self.dtype_policy, name=f"tower_{i}")
            for i in range(towers)]

    def build(self, input_shape):
        channels = input_shape[-1]
        _check(channels is not None and channels % self.towers == 0,
               f"TowerConv2D '{self.name}': {channels} input channels cannot be split into {self.towers} towers; "
               f"the input needs a multiple of {self.towers} channels.")
        for conv in self.tower_convs:
            conv.build(tuple(input_shape[:-1]) + (channels // self.towers,))

    def call(self, inputs):
        groups = tf.split(inputs, self.towers, axis=-1) if self.towers > 1 else [inputs]
        outputs = [conv(group) for conv, group in zip(self.tower_convs, groups)]
        return tf.concat(outputs, axis=-1) if self.towers > 1 else outputs[0]

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        shape = self.tower_convs[0].compute_output_shape(tuple(input_shape[:-1]) + (channels // self.towers,))
        return tuple(shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, kernel_size=self.kernel_size, towers=self.towers, strides=self.strides,
            padding=self.padding, activation=keras.activations.serialize(self.activation), use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer))
        return config


@tf.custom_gradient
def _matmul(x, w):
    """x @ w, whose input gradient is computed as (w @ dy^T)^T. The standard gradient, dy @ w^T (a MatMul with
    transpose_b), ran at 0.29-0.33 of the float32 matmul peak for AlexNet's fc6/fc7 at batch 128 on 2 Zen 1 cores
    (566 ms for fc6, against 209 ms forward) and at 90 of 192 GFLOP/s on 2 Zen 4 cores (108 ms); the product of the
    stored weights with the transposed batch gradient, then the transpose of the small (batch, inputs) result, took
    154 ms and 72 ms. The weight gradient x^T dy is TF's own (0.77-1.0 of the peak)."""
    def grad(dy):
        return tf.transpose(tf.matmul(w, dy, transpose_b=True)), tf.matmul(x, dy, transpose_a=True)

    return tf.matmul(x, w), grad


@keras.saving.register_keras_serializable(package="alexnet")
class Dense(keras.layers.Dense):
    """``keras.layers.Dense`` whose input gradient is faster on the CPU in float32 (``_matmul``): AlexNet's three
    dense layers, forward and backward at batch 128, 392 -> 327 ms on 2 Zen 4 cores (2026-12-03, median of 20
    interleaved rounds). The weights, their names and the values are Keras' (common/layers_test.py). In bfloat16
    the trick was 4% slower, so that, and anything but the plain layer on a batch of vectors (LoRA, quantization,
    inputs of rank > 2), is left to Keras' own ``call``."""

    def call(self, inputs, training=None):
        if (inputs.dtype != tf.float32 or len(inputs.shape) != 2 or self.lora_enabled
                or self.quantization_mode):
            return super().call(inputs, training=training)
        x = _matmul(inputs, tf.convert_to_tensor(self.kernel))
        if self.bias is not None:
            x = tf.nn.bias_add(x, tf.convert_to_tensor(self.bias))
        return self.activation(x) if self.activation is not None else x


def dropout_bits(rate):
    """(bits per draw, threshold): the fewest random bits k in 1, 2, 4, 8, 16 for which ``rate`` * 2^k is a whole
    number, so that a k-bit field drops its element exactly with probability ``rate`` (field < threshold), or k =
    32 and the threshold rounded to 2^-32 for any other rate (TF's float32 uniform comes in steps of 2^-23)."""
    for bits in (1, 2, 4, 8, 16):
        if (rate * (1 << bits)).is_integer():
            return bits, int(rate * (1 << bits))
    return 32, min(round(rate * 2 ** 32), 2 ** 32 - 1)


def _dropout_fields(words, shape, bits):
    """The ``bits``-wide fields of the uint32 ``words``, low bits first, as a uint32 tensor of ``shape``."""
    per_word = 32 // bits
    if per_word == 1:
        return tf.reshape(words, shape)
    shifts = tf.constant([bits * i for i in range(per_word)], tf.uint32)
    fields = tf.bitwise.bitwise_and(tf.bitwise.right_shift(words[:, None], shifts[None, :]),
                                    tf.constant((1 << bits) - 1, tf.uint32))
    return tf.reshape(tf.reshape(fields, [-1])[:tf.reduce_prod(shape)], shape)


@functools.lru_cache(maxsize=None)
def _dropout_kernel(rate):
    """One XLA kernel: x where its field of the random words is kept (>= the threshold), times 1 / (1 - rate), else
    0. The forward pass and the gradient are this same kernel (dy masked and scaled alike)."""
    bits, threshold = dropout_bits(rate)

    @tf.function(jit_compile=True)
    def masked(x, words, mask_shape):
        keep = _dropout_fields(words, mask_shape, bits) >= tf.constant(threshold, tf.uint32)
        return tf.where(keep, x * tf.cast(1.0 / (1.0 - rate), x.dtype), tf.zeros((), x.dtype))

    return bits, masked


@keras.saving.register_keras_serializable(package="alexnet")
class Dropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` (inverted dropout: kept elements scaled by 1 / (1 - rate) in training), with two
    changes, tested in common/layers_test.py:

    * Every replica draws its own mask. Keras 3's Dropout takes its seed from a SeedGenerator variable that
      tf.distribute mirrors, so under MirroredStrategy every replica drew the same mask: example i of each replica's
      share was dropped alike (measured with Keras 3.15.1). Here the replica's id is folded into the seed.
    * The mask costs 1/32 of the random numbers at the rates the papers use. TF's dropout draws one float32 uniform
      per element (Philox: 10 ms for All-CNN-C's 16x16x96 map at batch 64 on one Zen 4 core); here each element
      takes the fewest bits that give its rate exactly (0.5: one bit, 32 elements per uint32 draw;
      ``dropout_bits``), and the mask, the scale and the select are one XLA kernel, forward and backward (1.4 ms
      for that map). All-CNN-C's forward pass is 4-10% faster, its training step 0-2% (TF ran its draws beside the
      convolutions, on cycles they left idle; EXPERIMENTS.md, "`common.layers.Dropout` (c6668aa)").
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:  # as Keras: everything dropped
            return tf.zeros_like(inputs)
        seed = tf.cast(tf.math.floormod(self.seed_generator.next(), 2 ** 31 - 1), tf.int32)
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            seed = tf.random.experimental.stateless_fold_in(seed, replica.replica_id_in_sync_group)
        shape = tf.shape(inputs)
        if self.noise_shape is not None:
            shape = tf.stack([shape[i] if d is None else d for i, d in enumerate(self.noise_shape)])
        bits, masked = _dropout_kernel(self.rate)
        per_word = 32 // bits
        words = tf.random.stateless_uniform([(tf.reduce_prod(shape) + per_word - 1) // per_word], seed,
                                            minval=None, maxval=None, dtype=tf.uint32)

        @tf.custom_gradient
        def dropout(x):
            return masked(x, words, shape), lambda dy: masked(dy, words, shape)

        return dropout(inputs)
