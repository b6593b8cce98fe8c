"""GCN and ZCA against independent NumPy formulas, their properties, streaming, and the statistics cache."""

import numpy as np
import pytest
import tensorflow as tf

from data import ZCA, global_contrast_normalize
from data.whitening import data_key


def gcn_pylearn2_reference(X, scale=55.0, min_divisor=1e-8):
    """pylearn2 expr/preprocessing.py global_contrast_normalize(X, scale, subtract_mean=True, use_std=False,
    sqrt_bias=0), X a design matrix (one image per row)."""
    X = X.astype(np.float64).copy()
    X = X - X.mean(axis=1)[:, np.newaxis]
    normalizers = np.sqrt((X ** 2).sum(axis=1)) / scale
    normalizers[normalizers < min_divisor] = 1.0
    return X / normalizers[:, np.newaxis]


def _images(n=16, shape=(8, 8, 3), seed=0):
    images = np.random.RandomState(seed).randint(0, 256, (n,) + shape).astype(np.uint8)
    images[3] = 77  # a constant image: norm 0, divisor below 1e-8 -> 1, output all zeros
    return images


def test_gcn_equals_pylearn2_formula_numpy_and_tensor():
    images = _images()
    expected = gcn_pylearn2_reference(images.reshape(len(images), -1)).reshape(images.shape)
    np.testing.assert_allclose(global_contrast_normalize(images), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(global_contrast_normalize(tf.constant(images)).numpy(), expected, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(global_contrast_normalize(images)[3], 0.0)
    # Every other image has mean 0 and L2 norm 55 over all its values.
    out = global_contrast_normalize(images.astype(np.float64))
    assert out.dtype == np.float64
    norms = np.sqrt((out.reshape(len(out), -1) ** 2).sum(1))
    np.testing.assert_allclose(np.delete(norms, 3), 55.0, rtol=1e-12)


def test_gcn_numpy_chunks_give_the_same_result(monkeypatch):
    images = _images(n=23, seed=2)
    whole = global_contrast_normalize(images)
    monkeypatch.setattr("data.whitening.GCN_CHUNK", 5)  # 23 images in chunks of 5, the last one partial
    np.testing.assert_array_equal(global_contrast_normalize(images), whole)


def test_gcn_inside_dataset_map():
    images = _images(seed=1)
    ds = tf.data.Dataset.from_tensor_slices(images).batch(5).map(global_contrast_normalize)
    out = np.concatenate([b.numpy() for b in ds])
    expected = gcn_pylearn2_reference(images.reshape(len(images), -1)).reshape(images.shape)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def _correlated(n=4000, shape=(4, 4, 3), seed=0):
    """Full-rank data with strongly correlated dimensions and a large mean, like pixels."""
    rs = np.random.RandomState(seed)
    d = int(np.prod(shape))
    mixing = rs.normal(size=(d, d)) + 3 * np.eye(d)
    return (rs.normal(size=(n, d)) @ mixing + 120.0).reshape((n,) + shape)


def _cov(x):
    flat = x.reshape(len(x), -1).astype(np.float64)
    flat = flat - flat.mean(0)
    return flat.T @ flat / len(flat)


def test_zca_without_bias_whitens_to_the_identity():
    x = _correlated()
    zca = ZCA.fit(x, bias=0.0)
    np.testing.assert_allclose(_cov(zca.apply(x)), np.eye(48), atol=1e-3)
    np.testing.assert_allclose(zca.mean, x.reshape(len(x), -1).mean(0), rtol=1e-12)
    np.testing.assert_allclose(zca.matrix, zca.matrix.T, atol=1e-12)  # ZCA's matrix is symmetric


def test_zca_with_filter_bias_matches_the_formula():
    # pylearn2: W = E diag(1/sqrt(l + b)) E^T, so the whitened covariance is E diag(l / (l + b)) E^T.
    x = _correlated(seed=1)
    cov = _cov(x)
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    for bias in (0.1, 10.0):
        predicted = (eigenvectors * (eigenvalues / (eigenvalues + bias))) @ eigenvectors.T
        white = ZCA.fit(x, bias=bias).apply(x)
        np.testing.assert_allclose(_cov(white), predicted, atol=1e-3)


def test_zca_of_gcn_data_without_bias_drops_the_null_direction():
    # After GCN every image has mean 0: the all-ones direction has eigenvalue 0 (neon#231's failure with bias 0).
    x = global_contrast_normalize(_correlated(seed=2).astype(np.float64))
    zca = ZCA.fit(x, bias=0.0)
    white_cov = _cov(zca.apply(x))
    assert np.isfinite(zca.matrix).all()
    eig = np.sort(np.linalg.eigvalsh(white_cov))
    assert abs(eig[0]) < 1e-3 and np.allclose(eig[1:], 1.0, atol=1e-3)


def test_zca_fit_streams_any_batching_to_the_same_statistics():
    x = _correlated(n=1000, seed=3)
    whole = ZCA.fit(x, chunk_size=5000)
    chunked = ZCA.fit(x, chunk_size=64)
    batches = ZCA.fit(iter(np.array_split(x, 7)))
    for other in (chunked, batches):
        np.testing.assert_allclose(other.mean, whole.mean, rtol=1e-12)
        np.testing.assert_allclose(other.matrix, whole.matrix, rtol=1e-8, atol=1e-10)
        assert other.key == whole.key == data_key(x, 0.1)
    assert whole.count == 1000 and whole.key != ZCA.fit(x, bias=0.2).key


def test_zca_apply_tensor_and_dataset_map_equal_numpy():
    x = _correlated(n=200, seed=4).astype(np.float32)
    zca = ZCA.fit(x)
    expected = zca.apply(x)
    np.testing.assert_allclose(zca.apply(tf.constant(x)).numpy(), expected, rtol=1e-3, atol=1e-3)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(64).map(zca.apply)
    np.testing.assert_allclose(np.concatenate([b.numpy() for b in ds]), expected, rtol=1e-3, atol=1e-3)


def test_zca_statistics_round_trip_and_cache(tmp_path, monkeypatch):
    x = _correlated(n=300, seed=5)
    path = tmp_path / "zca.npz"
    zca = ZCA.fit_or_load(path, x, bias=0.1)
    assert path.exists() and list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    loaded = ZCA.load(path)
    np.testing.assert_array_equal(loaded.mean, zca.mean)
    np.testing.assert_array_equal(loaded.matrix, zca.matrix)
    assert (loaded.bias, loaded.key, loaded.count) == (0.1, zca.key, 300)
    np.testing.assert_array_equal(loaded.apply(x), zca.apply(x))

    monkeypatch.setattr(ZCA, "fit", classmethod(lambda *a, **k: pytest.fail("refitted instead of reusing")))
    np.testing.assert_array_equal(ZCA.fit_or_load(path, x, bias=0.1).matrix, zca.matrix)
    with pytest.raises(ValueError, match=r"zca\.npz: these ZCA statistics were fitted on other data or another "
                                         r"bias .* Delete the file to refit"):
        ZCA.fit_or_load(path, x[:-1], bias=0.1)
    with pytest.raises(ValueError, match="fitted on other data or another bias"):
        ZCA.fit_or_load(path, x, bias=0.0)
    np.testing.assert_array_equal(ZCA.load(path).matrix, zca.matrix)  # the refused file is left as it was


def test_zca_rejects_bad_input(tmp_path):
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="corrupt.npz: not a readable ZCA statistics file"):
        ZCA.load(corrupt)
    with pytest.raises(ValueError, match="bias=-1 is invalid; valid values are floats >= 0"):
        ZCA.fit(_correlated(n=10), bias=-1)
    with pytest.raises(ValueError, match="at least 2 images"):
        ZCA.fit(_correlated(n=1))
    with pytest.raises(ValueError, match=r"a batch of \(2, 2, 3\) float64 images among \(4, 4, 3\) float64"):
        ZCA.fit(iter([_correlated(n=5), np.zeros((5, 2, 2, 3))]))
