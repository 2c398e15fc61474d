"""mlbook.datasets toy generators (moons, circles, blobs) against scikit-learn, and the digits split."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import datasets as skd

from mlbook.datasets import load_digits, make_blobs, make_circles, make_moons


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 301), factor=st.floats(0.0, 0.95))
def test_noise_free_point_sets_equal_sklearn(n, factor):
    X, y = make_moons(n, shuffle=False)
    Xs, ys = skd.make_moons(n, shuffle=False)
    np.testing.assert_allclose(X, Xs, atol=1e-15)
    np.testing.assert_array_equal(y, ys)
    X, y = make_circles(n, shuffle=False, factor=factor)
    Xs, ys = skd.make_circles(n, shuffle=False, factor=factor)
    np.testing.assert_allclose(X, Xs, atol=1e-15)
    np.testing.assert_array_equal(y, ys)


def test_shuffle_and_noise_are_seeded_and_keep_the_structure():
    X, y = make_moons(400, noise=0.1, seed=3)
    X2, y2 = make_moons(400, noise=0.1, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(make_moons(400, noise=0.1, seed=4)[0], X)
    assert X.shape == (400, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [200, 200]
    assert 0 < y[:20].sum() < 20                       # shuffled: the classes are interleaved
    clean, labels = make_moons(400, seed=3)
    # the noise is N(0, 0.1^2) per coordinate, added after the shuffle
    residual = X - clean
    assert abs(residual.std() - 0.1) < 0.01 and np.array_equal(labels, y)
    Xc, yc = make_circles(300, factor=0.4, seed=0)
    radius = np.linalg.norm(Xc, axis=1)
    np.testing.assert_allclose(radius[yc == 0], 1.0)
    np.testing.assert_allclose(radius[yc == 1], 0.4)


def test_blobs_counts_centres_and_spread():
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    X, y = make_blobs(3001, centers=centres, cluster_std=0.5, seed=0)
    assert np.bincount(y).tolist() == [1001, 1000, 1000]
    for k in range(3):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centres[k], atol=0.05)
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.5, atol=0.04)
    X4, y4 = make_blobs(50, centers=4, n_features=3, seed=1)
    assert X4.shape == (50, 3) and set(y4.tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize("call, message", [
    (lambda: make_moons(1), "n_samples must be an integer >= 2"),
    (lambda: make_moons(10, noise=-1), "noise must be a non-negative"),
    (lambda: make_circles(10, factor=1.0), r"factor .* must be in \[0, 1\)"),
    (lambda: make_blobs(10, centers=np.ones(3)), r"shape \(n_clusters, n_features\)"),
    (lambda: make_blobs(10, centers=0), "centers must be >= 1"),
    (lambda: load_digits(test_fraction=1.5), r"test_fraction must be in \(0, 1\)"),
    (lambda: load_digits(classes=[3, 12]), "classes must be digits 0..9"),
])
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_digits_split_is_fixed_stratified_disjoint_and_scaled():
    d = load_digits()
    assert d.X_train.shape == (1347, 64) and d.X_test.shape == (450, 64) and d.image_shape == (8, 8)
    assert d.X_train.min() == 0.0 and d.X_train.max() == 1.0
    full = skd.load_digits()
    assert len(d.y_train) + len(d.y_test) == len(full.target)
    counts = np.bincount(full.target)
    np.testing.assert_array_equal(np.bincount(d.y_test), np.round(0.25 * counts).astype(int))
    # train and test are disjoint and together are the whole data set
    rows = {r.tobytes() for r in (full.data / 16.0)}
    train_rows = {r.tobytes() for r in d.X_train}
    test_rows = {r.tobytes() for r in d.X_test}
    assert train_rows | test_rows == rows and len(d.X_train) + len(d.X_test) == 1797
    again = load_digits()
    np.testing.assert_array_equal(again.X_test, d.X_test)
    assert not np.array_equal(load_digits(seed=1).y_test, d.y_test)
    pair = load_digits(classes=(3, 8))
    assert set(pair.y_train.tolist()) == set(pair.y_test.tolist()) == {3, 8}
