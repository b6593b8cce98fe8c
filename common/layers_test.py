"""LocalResponseNormalization against independent NumPy formulas; TowerConv2D against a grouped convolution; Dense
against keras.layers.Dense and NumPy; Dropout against NumPy unpacking of its random words and the statistics of its
rates."""

import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.layers import Dense, Dropout, LocalResponseNormalization, TowerConv2D, dropout_bits
from common.layers import _dropout_fields


# ---------------------------------------------------------------------------------------------- LRN references
def lrn_paper_numpy(a, n, alpha, beta, k):
    """Krizhevsky et al. 2012, section 3.3, written out channel by channel in float64:
    b[i] = a[i] / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} a[j]^2) ** beta."""
    a = a.astype(np.float64)
    num_channels = a.shape[-1]
    b = np.empty_like(a)
    for i in range(num_channels):
        window = range(max(0, i - n // 2), min(num_channels - 1, i + n // 2) + 1)
        sum_sq = sum(a[..., j] ** 2 for j in window)
        b[..., i] = a[..., i] / (k + alpha * sum_sq) ** beta
    return b


def lrn_caffe_numpy(a, local_size, alpha, beta, k=1.0):
    """Caffe's LRNLayer (ACROSS_CHANNELS, lrn_layer.cpp): zero-pad the squared input by (local_size - 1) / 2
    channels on both sides, scale = k + alpha / local_size * (moving window sum), top = bottom * scale^-beta."""
    a = a.astype(np.float64)
    pre_pad = (local_size - 1) // 2
    padded = np.pad(a ** 2, [(0, 0)] * (a.ndim - 1) + [(pre_pad, pre_pad)])
    window_sums = np.stack([padded[..., c:c + local_size].sum(-1) for c in range(a.shape[-1])], axis=-1)
    scale = k + alpha / local_size * window_sums
    return a * scale ** -beta


def _activations(shape=(2, 3, 4, 11), seed=0, high=100.0):
    # Post-ReLU-like magnitudes large enough that the denominator differs from k by a factor of ~10.
    return np.random.RandomState(seed).uniform(-high, high, shape).astype(np.float32)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_paper_semantics_match_numpy(size):
    x = _activations()
    layer = LocalResponseNormalization(size=size, alpha=1e-4, beta=0.75, k=2.0)
    np.testing.assert_allclose(layer(x).numpy(), lrn_paper_numpy(x, size, 1e-4, 0.75, 2.0), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("size", [3, 5])
def test_caffe_semantics_match_numpy(size):
    x = _activations(seed=1)
    layer = LocalResponseNormalization(size=size, alpha=1e-4, beta=0.75, k=1.0, scale_alpha_by_size=True)
    np.testing.assert_allclose(layer(x).numpy(), lrn_caffe_numpy(x, size, 1e-4, 0.75), rtol=1e-6, atol=1e-6)


def test_channel_edges_use_only_existing_channels():
    # One image, one pixel, 6 channels: the first channel's window is channels 0..2, the last's 3..5.
    x = np.array([[[[3.0, 1.0, 2.0, 5.0, 7.0, 4.0]]]], np.float32)
    y = LocalResponseNormalization(size=5, alpha=0.01, beta=0.75, k=2.0)(x).numpy()[0, 0, 0]
    assert y[0] == pytest.approx(3.0 / (2.0 + 0.01 * (9 + 1 + 4)) ** 0.75, rel=1e-6)
    assert y[2] == pytest.approx(2.0 / (2.0 + 0.01 * (9 + 1 + 4 + 25 + 49)) ** 0.75, rel=1e-6)
    assert y[5] == pytest.approx(4.0 / (2.0 + 0.01 * (25 + 49 + 16)) ** 0.75, rel=1e-6)


def test_paper_and_caffe_differ_by_alpha_over_size():
    x = _activations(seed=2)
    paper = LocalResponseNormalization(5, alpha=1e-4, k=1.0)(x).numpy()
    caffe = LocalResponseNormalization(5, alpha=5e-4, k=1.0, scale_alpha_by_size=True)(x).numpy()
    np.testing.assert_allclose(paper, caffe, rtol=1e-6)  # Caffe's alpha is 5x the paper's for the same layer
    assert LocalResponseNormalization(5, alpha=1e-4, scale_alpha_by_size=True).effective_alpha == pytest.approx(2e-5)


def test_inside_tf_function():
    x = _activations(seed=3)
    layer = LocalResponseNormalization()
    expected = lrn_paper_numpy(x, 5, 1e-4, 0.75, 2.0)
    np.testing.assert_allclose(tf.function(layer)(x).numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype,high,rtol", [("bfloat16", 1000.0, 2e-2), ("float16", 1000.0, 2e-3)])
def test_stable_in_reduced_precision(dtype, high, rtol):
    # A layer computing in bfloat16 (TF has no CPU LRN kernel for it) or float16 (squares overflow above 256) must
    # still give finite output, accurate to the dtype's precision.
    x = _activations(seed=4, high=high)
    xr = tf.cast(x, dtype)
    y = LocalResponseNormalization(dtype=dtype)(xr)
    assert y.dtype == dtype
    y = tf.cast(y, tf.float32).numpy()
    assert np.isfinite(y).all()
    expected = lrn_paper_numpy(tf.cast(xr, tf.float32).numpy(), 5, 1e-4, 0.75, 2.0)
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=1e-2)


def test_bfloat16_gradient_agrees_with_float32():
    # Under mixed_bfloat16 the layer reads and writes bfloat16 tensors (float32 arithmetic inside its kernels):
    # values and gradient must agree with the float32 path to bfloat16's precision (8 bits: 0.4% per rounding).
    x = tf.constant(_activations((2, 5, 5, 40), seed=8, high=300.0))
    dy = tf.constant(np.random.RandomState(9).normal(size=x.shape).astype(np.float32))
    layer, layer16 = LocalResponseNormalization(), LocalResponseNormalization(dtype="mixed_bfloat16")
    xb, dyb = tf.cast(x, tf.bfloat16), tf.cast(dy, tf.bfloat16)
    x32 = tf.cast(xb, tf.float32)  # the same inputs, in float32
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x32, xb])
        y32, y16 = layer(x32), layer16(xb)
    assert y16.dtype == tf.bfloat16
    g32 = tape.gradient(y32, x32, output_gradients=tf.cast(dyb, tf.float32)).numpy()
    g16 = tape.gradient(y16, xb, output_gradients=dyb)
    assert g16.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(y16, tf.float32).numpy(), y32.numpy(), rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(tf.cast(g16, tf.float32).numpy(), g32, rtol=2e-2, atol=2e-2 * np.abs(g32).max())


def test_under_mixed_bfloat16_policy():
    inputs = keras.Input((4, 4, 8))
    layer = LocalResponseNormalization(dtype="mixed_bfloat16")
    model = keras.Model(inputs, layer(inputs))
    y = model(_activations((2, 4, 4, 8), seed=5, high=1000.0))
    assert y.dtype == "bfloat16" and np.isfinite(tf.cast(y, tf.float32).numpy()).all()


@pytest.mark.parametrize("kwargs,match", [
    (dict(size=4), "size=4 is invalid; valid sizes are positive odd integers"),
    (dict(size=0), "size=0 is invalid"),
    (dict(alpha=-1.0), "alpha=-1.0 is invalid; valid values are floats >= 0"),
    (dict(beta=0.0), "beta=0.0 is invalid"),
    (dict(k=0.0), "k=0.0 is invalid"),
    (dict(scale_alpha_by_size="yes"), "valid values are True"),
])
def test_lrn_rejects_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LocalResponseNormalization(**kwargs)


def test_lrn_config_round_trip():
    layer = LocalResponseNormalization(size=3, alpha=2e-4, beta=0.5, k=1.5, scale_alpha_by_size=True, name="n")
    config = layer.get_config()
    assert {k: config[k] for k in ("size", "alpha", "beta", "k", "scale_alpha_by_size")} == dict(
        size=3, alpha=2e-4, beta=0.5, k=1.5, scale_alpha_by_size=True)
    clone = LocalResponseNormalization.from_config(config)
    x = _activations(seed=6)
    np.testing.assert_array_equal(layer(x).numpy(), clone(x).numpy())


# ---------------------------------------------------------------------------------------------- towers
def _towers(filters=8, kernel=3, towers=2, channels=6, **kwargs):
    layer = TowerConv2D(filters, kernel, towers=towers, padding="same", **kwargs)
    layer.build((None, 7, 7, channels))
    return layer


def test_tower_outputs_depend_only_on_their_own_input_half():
    layer = _towers(bias_initializer="random_normal")
    x = np.random.RandomState(0).normal(size=(2, 7, 7, 6)).astype(np.float32)
    base = layer(x).numpy()
    x_changed = x.copy()
    x_changed[..., :3] += 10.0  # only tower 0's input channels
    changed = layer(x_changed).numpy()
    np.testing.assert_array_equal(changed[..., 4:], base[..., 4:])  # tower 1's outputs are untouched
    assert np.abs(changed[..., :4] - base[..., :4]).min() > 0  # every tower-0 output moved


def test_towers_equal_a_grouped_convolution():
    layer = _towers(filters=8, kernel=3, towers=2, channels=6, bias_initializer="random_normal")
    grouped = keras.layers.Conv2D(8, 3, padding="same", groups=2)
    grouped.build((None, 7, 7, 6))
    # Conv2D(groups=2)'s kernel is (3, 3, 6/2, 8): output filters 0..3 read input group 0, filters 4..7 group 1.
    kernel = np.concatenate([t.kernel.numpy() for t in layer.tower_convs], axis=-1)
    bias = np.concatenate([t.bias.numpy() for t in layer.tower_convs])
    grouped.set_weights([kernel, bias])
    x = np.random.RandomState(1).normal(size=(2, 7, 7, 6)).astype(np.float32)
    np.testing.assert_allclose(layer(x).numpy(), grouped(x).numpy(), rtol=1e-5, atol=1e-5)


def test_towers_start_with_different_weights():
    layer = _towers(kernel_initializer=keras.initializers.RandomNormal(stddev=0.01))
    k0, k1 = (t.kernel.numpy() for t in layer.tower_convs)
    assert not np.allclose(k0, k1)


def test_tower_parameter_count_and_shape():
    layer = TowerConv2D(256, 5, towers=2, padding="same")
    out = layer(keras.Input((27, 27, 96)))
    assert tuple(out.shape) == (None, 27, 27, 256)
    assert layer.count_params() == 2 * (5 * 5 * 48 * 128 + 128)  # paper conv2: 256@5x5x48 in two towers


def test_towers_reject_indivisible_filters_and_channels():
    with pytest.raises(ValueError, match="filters=7 is not divisible by towers=2"):
        TowerConv2D(7, 3, towers=2)
    with pytest.raises(ValueError, match="5 input channels cannot be split into 2 towers"):
        TowerConv2D(8, 3, towers=2).build((None, 7, 7, 5))
    with pytest.raises(ValueError, match="towers=0 is invalid"):
        TowerConv2D(8, 3, towers=0)


def test_tower_config_round_trip():
    layer = _towers(activation="relu", bias_initializer="random_normal")
    clone = TowerConv2D.from_config(layer.get_config())
    clone.build((None, 7, 7, 6))
    clone.set_weights(layer.get_weights())
    x = np.random.RandomState(2).normal(size=(1, 7, 7, 6)).astype(np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), clone(x).numpy())


@pytest.mark.parametrize("size,k,alpha,beta", [(5, 2.0, 1e-4, 0.75), (3, 1.0, 2e-5, 0.75), (5, 1.5, 1e-3, 0.5)])
def test_lrn_gradient_matches_tensorflow_kernel(size, k, alpha, beta):
    # The layer's written-out gradient against TF's own LRNGrad kernel, and against float64 finite differences.
    x = tf.constant(_activations((2, 3, 3, 13), seed=6, high=30.0))
    dy = tf.constant(np.random.RandomState(7).normal(size=x.shape).astype(np.float32))
    layer = LocalResponseNormalization(size=size, alpha=alpha, beta=beta, k=k)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = layer(x)
        theirs = tf.nn.local_response_normalization(x, size // 2, k, alpha, beta)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tape.gradient(ours, x, output_gradients=dy).numpy(),
                               tape.gradient(theirs, x, output_gradients=dy).numpy(), rtol=1e-4, atol=1e-6)

    x64 = x.numpy().astype(np.float64)
    i = (1, 2, 0, 6)  # one input element, perturbed both ways through the float64 NumPy formula
    eps = 1e-4
    plus, minus = x64.copy(), x64.copy()
    plus[i] += eps
    minus[i] -= eps
    numeric = (np.sum(lrn_paper_numpy(plus, size, alpha, beta, k) * dy.numpy())
               - np.sum(lrn_paper_numpy(minus, size, alpha, beta, k) * dy.numpy())) / (2 * eps)
    assert tape.gradient(ours, x, output_gradients=dy).numpy()[i] == pytest.approx(numeric, rel=1e-3, abs=1e-5)


@pytest.mark.parametrize("channels,half", [(13, 2), (13, 1), (260, 2), (9, 3), (2, 3), (1, 0)])
def test_lrn_window_sum_equals_numpy(channels, half):
    # Every channel's window whole, and cut at the first and last channel (a window wider than the channels too).
    from common.layers import _window_sum
    x = np.random.RandomState(8).uniform(0, 5, (2, 3, channels)).astype(np.float32)
    padded = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (half, half)])
    expected = sum(padded[..., j:j + channels] for j in range(2 * half + 1))
    np.testing.assert_allclose(_window_sum(tf.constant(x), half).numpy(), expected, rtol=1e-6)


def test_lrn_of_many_channels_matches_numpy():
    x = _activations((2, 2, 2, 260), seed=9)
    np.testing.assert_allclose(LocalResponseNormalization()(x).numpy(), lrn_paper_numpy(x, 5, 1e-4, 0.75, 2.0),
                               rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------- Dense
def _dense_pair(units, activation, inputs=9):
    ours, theirs = Dense(units, activation=activation), keras.layers.Dense(units, activation=activation)
    ours.build((None, inputs))
    theirs.build((None, inputs))
    theirs.set_weights(ours.get_weights())
    return ours, theirs


@pytest.mark.parametrize("activation", [None, "relu"])
def test_dense_values_and_gradients_equal_keras_and_numpy(activation):
    # The faster input gradient (w dy^T)^T is the same product as Keras' dy w^T; the weight gradient is Keras'.
    ours, theirs = _dense_pair(7, activation)
    x = tf.constant(np.random.RandomState(11).normal(size=(5, 9)).astype(np.float32))
    dy = tf.constant(np.random.RandomState(12).normal(size=(5, 7)).astype(np.float32))
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        results.append([y, *tape.gradient(y, [x, *layer.trainable_variables], output_gradients=dy)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    w, b = (v.numpy().astype(np.float64) for v in ours.trainable_variables)
    pre = x.numpy() @ w + b
    mask = (pre > 0) if activation == "relu" else np.ones_like(pre)
    np.testing.assert_allclose(results[0][0].numpy(), pre * mask, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[0][1].numpy(), (dy.numpy() * mask) @ w.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[0][2].numpy(), x.numpy().T @ (dy.numpy() * mask), rtol=1e-5, atol=1e-5)


def test_dense_under_mixed_bfloat16_and_on_rank_3_inputs_is_keras():
    # Where the trick is not used (bfloat16: slower there; rank > 2) the layer is Keras' own call.
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        ours, theirs = _dense_pair(4, "relu")
        x = np.random.RandomState(13).normal(size=(3, 9)).astype(np.float32)
        assert ours(x).dtype == tf.bfloat16
        np.testing.assert_array_equal(ours(x).numpy(), theirs(x).numpy())
    finally:
        keras.mixed_precision.set_global_policy("float32")
    ours, theirs = _dense_pair(4, None)
    x = np.random.RandomState(14).normal(size=(2, 3, 9)).astype(np.float32)
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), rtol=1e-6)


def test_dense_saves_and_loads_without_custom_objects(tmp_path):
    inputs = keras.Input((6,))
    model = keras.Model(inputs, Dense(3, activation="relu", name="fc")(inputs))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("fc")) is Dense
    assert [v.path for v in loaded.weights] == [v.path for v in model.weights]
    x = np.random.RandomState(15).normal(size=(2, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


# ---------------------------------------------------------------------------------------------------- Dropout
@pytest.mark.parametrize("rate, bits, threshold", [
    (0.5, 1, 1), (0.25, 2, 1), (0.75, 2, 3), (0.125, 4, 2), (0.375, 4, 6), (0.3828125, 8, 98), (2 ** -16, 16, 1),
    (0.2, 32, 858993459), (0.1, 32, 429496730)])  # 0.2 * 2^32 = 858993459.2, 0.1 * 2^32 = 429496729.6
def test_dropout_bits_give_each_rate_exactly(rate, bits, threshold):
    assert dropout_bits(rate) == (bits, threshold)


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 16, 32])
def test_dropout_fields_equal_numpy_unpacking(bits):
    words = np.random.RandomState(bits).randint(0, 2 ** 32, size=5, dtype=np.uint64).astype(np.uint32)
    per_word = 32 // bits
    expected = [(int(w) >> (bits * i)) & ((1 << bits) - 1) for w in words for i in range(per_word)]
    if bits == 1:  # NumPy's own unpacking: the words' little-endian bytes, each low bit first
        assert expected == np.unpackbits(words.astype("<u4").view(np.uint8), bitorder="little").tolist()
    count = len(expected) - (3 if per_word > 3 else 0)  # the last word only partly used
    shape = tf.constant([count], tf.int32)
    np.testing.assert_array_equal(_dropout_fields(tf.constant(words), shape, bits).numpy(), expected[:count])


@pytest.mark.parametrize("rate", [0.5, 0.2])
def test_dropout_keeps_one_minus_rate_of_the_elements_scaled_by_its_inverse(rate):
    x = np.random.RandomState(3).uniform(1.0, 2.0, (16, 32, 32, 30)).astype(np.float32)  # 491,520 elements
    y = Dropout(rate, seed=7)(x, training=True).numpy()
    kept = y != 0
    sigma = np.sqrt(rate * (1 - rate) / x.size)
    assert abs(kept.mean() - (1 - rate)) < 5 * sigma
    np.testing.assert_array_equal(y[kept], x[kept] * np.float32(1 / (1 - rate)))
    # No structure from packing 32 elements into a word: neighbours, and elements a word apart, are independent.
    flat = kept.reshape(-1).astype(np.float64)
    for lag in (1, 31, 32, 33):
        assert abs(np.corrcoef(flat[:-lag], flat[lag:])[0, 1]) < 5 / np.sqrt(x.size)


def test_dropout_is_the_identity_at_inference_and_at_rate_zero_and_zero_at_rate_one():
    x = np.random.RandomState(4).normal(size=(3, 7)).astype(np.float32)
    np.testing.assert_array_equal(Dropout(0.5)(x).numpy(), x)
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True).numpy(), x)
    np.testing.assert_array_equal(Dropout(1.0)(x, training=True).numpy(), np.zeros_like(x))


def test_dropout_masks_follow_the_seed_and_change_every_call():
    x = np.ones((4, 100), np.float32)
    first, second = Dropout(0.5, seed=11), Dropout(0.5, seed=11)
    a, b = first(x, training=True).numpy(), second(x, training=True).numpy()
    np.testing.assert_array_equal(a, b)
    assert (first(x, training=True).numpy() != a).any()


def test_dropout_gradient_is_the_same_mask_and_scale():
    x = tf.constant(np.random.RandomState(5).uniform(1.0, 2.0, (8, 5, 5, 33)).astype(np.float32))
    dy = tf.constant(np.random.RandomState(6).normal(size=(8, 5, 5, 33)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = Dropout(0.5, seed=1)(x, training=True)
    dx = tape.gradient(y, x, output_gradients=dy).numpy()
    np.testing.assert_array_equal(dx, np.where(y.numpy() != 0, dy.numpy() * 2, 0))


def test_dropout_noise_shape_broadcasts_one_mask():
    y = Dropout(0.5, noise_shape=(None, 1, 1, 64), seed=2)(np.ones((3, 4, 4, 64), np.float32), training=True).numpy()
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1, :1, :], y.shape))
    assert 0 < (y != 0).mean() < 1


def test_dropout_under_mixed_bfloat16_and_in_a_saved_model(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        inputs = keras.Input((40,))
        model = keras.Model(inputs, Dropout(0.5, name="drop")(inputs))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    y = model(np.ones((2, 40), np.float32), training=True)
    assert y.dtype == tf.bfloat16 and set(np.unique(tf.cast(y, tf.float32).numpy())) == {0.0, 2.0}
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path).get_layer("drop")
    assert type(loaded) is Dropout and loaded.rate == 0.5


# Keras 3.15's Dropout draws the same mask on every replica of a MirroredStrategy (its seed is a mirrored
# variable); this one folds the replica id into the seed. A fresh process: logical CPUs are made before TF starts.
REPLICA_MASKS = """
import numpy as np, tensorflow as tf
from common.layers import Dropout
from training import distribute
strategy = distribute.side_by_side_strategy(2)
with strategy.scope():
    layer = Dropout(0.5)
step = tf.function(lambda: strategy.run(lambda: layer(tf.ones((8, 64)), training=True)))
for _ in range(2):
    a, b = (v.numpy() != 0 for v in strategy.experimental_local_results(step()))
    print((a != b).mean(), a.mean(), b.mean())
"""


@pytest.mark.slow
def test_dropout_replicas_draw_their_own_masks():
    result = subprocess.run([sys.executable, "-c", REPLICA_MASKS], cwd=pathlib.Path(__file__).parents[1],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:  # 512 elements a replica: each fraction is 0.5 +- 0.022 (one sd)
        differ, kept_a, kept_b = map(float, line.split())
        assert 0.4 < differ < 0.6 and 0.4 < kept_a < 0.6 and 0.4 < kept_b < 0.6
