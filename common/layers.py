"""Keras layers the 2012-era networks need and Keras 3 does not ship.

* ``LocalResponseNormalization``: Krizhevsky et al. 2012, section 3.3, in the paper's and in Caffe's/neon's parametrisation.
* ``TowerConv2D``: the paper's two-GPU "towers" (section 3.2, figure 2) as split -> one Conv2D per tower -> concat.

Both are serializable (``get_config`` returns exactly the constructor arguments) and registered under the
``alexnet`` package name, so a saved ``.keras`` model loads without ``custom_objects``.
"""

import keras
import tensorflow as tf


def _check(condition, message):
    if not condition:
        raise ValueError(message)


def _window_sum(squares, half, block=64):
    """The sum over each channel's window (channels c - half .. c + half that exist), as products with a 0/1 band
    matrix (oneDNN). Above ``2 * block`` channels the output is made ``block`` channels at a time from the input
    channels that reach them, which skips the band's zeros: for AlexNet's 256 channels a quarter of the work of one
    (C, C) product."""
    channels = squares.shape[-1]
    rows = tf.reshape(squares, (-1, channels))
    index = tf.range(channels)
    band = tf.cast(tf.abs(index[:, None] - index[None, :]) <= half, squares.dtype)
    if channels <= 2 * block:
        sums = tf.matmul(rows, band)
    else:
        pieces = []
        for start in range(0, channels, block):
            stop = min(channels, start + block)
            low, high = max(0, start - half), min(channels, stop + half)
            pieces.append(tf.matmul(rows[:, low:high], band[low:high, start:stop]))
        sums = tf.concat(pieces, axis=1)
    return tf.reshape(sums, tf.shape(squares))


def _lrn_kernels(k, alpha, beta):
    """The element-wise parts of LRN and of its gradient, each compiled by XLA into one pass over memory. ``s`` is
    the window sum of squares; t ** -beta is rsqrt(t) * sqrt(rsqrt(t)) for the 0.75 every source uses (TF's CPU pow
    costs about twenty passes). The arithmetic is float32 whatever the tensors' dtype (bfloat16 under
    mixed_bfloat16): the casts happen inside the fused pass, and the result comes back in the input's dtype."""
    def negative_power(t):
        if beta == 0.75:
            r = tf.math.rsqrt(t)
            return r * tf.sqrt(r)
        return tf.pow(t, -beta)

    def f32(*tensors):
        return [tf.cast(t, tf.float32) for t in tensors]

    @tf.function(jit_compile=True)
    def square(x):
        return tf.cast(tf.square(tf.cast(x, tf.float32)), x.dtype)

    @tf.function(jit_compile=True)
    def forward(x_in, s):
        x, s = f32(x_in, s)
        return tf.cast(x * negative_power(k + alpha * s), x_in.dtype)

    @tf.function(jit_compile=True)
    def inner(dy_in, x, s):  # dy * y / t
        dy, x, s = f32(dy_in, x, s)
        t = k + alpha * s
        return tf.cast(dy * x * negative_power(t) / t, dy_in.dtype)

    @tf.function(jit_compile=True)
    def backward(dy_in, x, s, window):  # dy * t^-beta - 2 alpha beta x window_sum(dy * y / t)
        dy, x, s, window = f32(dy_in, x, s, window)
        return tf.cast(dy * negative_power(k + alpha * s) - (2.0 * alpha * beta) * x * window, dy_in.dtype)

    return square, forward, inner, backward


def local_response_normalization(x, size, k, alpha, beta):
    """y[c] = x[c] * (k + alpha * sum_{|j - c| <= size // 2} x[j]^2) ** -beta over the channels that exist, for x
    in float32 or bfloat16 (the element-wise arithmetic in float32; the window sums, a matmul, in x's dtype).

    The function of ``tf.nn.local_response_normalization`` (whose ``alpha`` is this ``alpha``), built for speed on
    the CPU: TF's kernels raise every element to -beta with pow and run the gradient as a scalar loop per element,
    and cost the two LRN layers of AlexNet ~400 ms of a ~3 s training step (an ablation, BUILD.md). Here the window
    sum is a matmul with a band matrix, the element-wise work is fused by XLA, only x and the window sum are kept
    for the backward pass, and the gradient is written out (t = k + alpha * window_sum(x^2), y = x * t^-beta):

        dx = dy * t^-beta - 2 alpha beta * x * window_sum(dy * y / t)

    (the window is symmetric, so the band matrix is its own transpose). common/layers_test.py checks the values and
    the gradient against NumPy, finite differences and TF's kernels.
    """
    half = size // 2
    square, forward, inner, backward = _lrn_kernels(k, alpha, beta)

    @tf.custom_gradient
    def lrn(x):
        s = _window_sum(square(x), half)

        def grad(dy):
            return backward(dy, x, s, _window_sum(inner(dy, x, s), half))

        return forward(x, s), grad

    return lrn(x)


@keras.saving.register_keras_serializable(package="alexnet")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels (Krizhevsky et al. 2012, section 3.3).

    b[c] = a[c] / (k + alpha' * sum_{j = c - size//2}^{c + size//2} a[j]^2) ** beta

    the sum running over the channels that exist (the window is cut at the first and last channel), with

    * ``alpha' = alpha``         when ``scale_alpha_by_size=False``: the paper (alpha=1e-4, k=2, n=5, beta=0.75).
    * ``alpha' = alpha / size``  when ``scale_alpha_by_size=True``: Caffe (``lrn_layer.cpp``: alpha_over_size, k
      defaults to 1) and neon (``nervanacpu.py``: 1 + ascale/5 * sum), see papers-and-peers.md sections 2 and 5.

    ``size`` must be odd: every source uses a window centred on the channel (TF's ``depth_radius`` is size // 2,
    the half-width, which is the classic mistake in peers: papers-and-peers.md section 8.1).

    The element-wise arithmetic always runs in float32 and the result comes back in the input's dtype. Under
    mixed_bfloat16 the layer keeps its activations and window sums in bfloat16 (half the memory traffic; a sum of
    five bfloat16 squares is within 0.4%, and k + alpha * s rounds far less) and casts inside its fused kernels;
    any other dtype is cast to float32 first: float16 squares overflow above 256 (65504 is its largest value).
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
    """A convolution split into ``towers`` independent towers: Krizhevsky et al. 2012, section 3.2.

    The input channels are split into ``towers`` equal groups; tower i convolves only group i with
    ``filters // towers`` kernels, and the outputs are concatenated in tower order. This is what Caffe calls
    ``group: 2`` and Keras ``Conv2D(groups=2)``, built from ordinary convolutions because TF 2.21 has no oneDNN CPU
    kernel for grouped convolutions and routes them through a path several times slower
    (performance.md, "Pitfalls"). The towers are ``tower_0``, ``tower_1``, ... sub-layers with their own weights.
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
