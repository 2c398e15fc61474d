"""mlbook.nn.train_loop: the losses against torch, the metrics against hand counts, and fit() learning."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlbook.datasets import make_blobs, make_circles
from mlbook.nn.layers import mlp
from mlbook.nn.train_loop import (accuracy, binary_cross_entropy_with_logits, confusion_matrix, fit,
                                  minibatches, predict_labels, softmax_cross_entropy)


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_bce_with_logits_matches_torch_and_stays_finite(scale):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((9, 1)) * scale
    y = rng.integers(0, 2, 9)
    tz = torch.tensor(z, requires_grad=True)
    tl = F.binary_cross_entropy_with_logits(tz[:, 0], torch.tensor(y, dtype=torch.float64))
    tl.backward()
    loss, grad = binary_cross_entropy_with_logits(z, y)
    assert np.isfinite(loss) and grad.shape == z.shape
    np.testing.assert_allclose(loss, tl.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_softmax_cross_entropy_matches_torch_and_stays_finite(scale):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((7, 4)) * scale
    y = rng.integers(0, 4, 7)
    tz = torch.tensor(z, requires_grad=True)
    tl = F.cross_entropy(tz, torch.from_numpy(y))
    tl.backward()
    loss, grad = softmax_cross_entropy(z, y)
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, tl.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_loss_shape_errors():
    with pytest.raises(ValueError, match=r"logits \(3, 2\)"):
        binary_cross_entropy_with_logits(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 2\]"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="integer targets must have shape"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))


def test_metrics():
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    assert accuracy(y_true, y_pred) == 4 / 6
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert confusion_matrix(y_true, y_pred, n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="n_classes is 2"):
        confusion_matrix(y_true, y_pred, n_classes=2)
    with pytest.raises(ValueError, match="same shape"):
        accuracy(y_true, y_pred[:3])
    np.testing.assert_array_equal(predict_labels(np.array([[-0.1], [0.0], [2.0]])), [0, 1, 1])
    np.testing.assert_array_equal(predict_labels(np.array([[0.1, 0.3], [2.0, -1.0]])), [1, 0])


def test_minibatches_cover_every_index_once():
    batches = list(minibatches(10, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="batch_size"):
        list(minibatches(10, 0))


def test_fit_learns_circles_and_blobs():
    X, y = make_circles(200, noise=0.05, factor=0.4, seed=0)
    model = mlp([2, 16, 1], rng=0)
    history = fit(model, X, y, loss="bce", epochs=60, lr=0.2, momentum=0.9, batch_size=20)
    assert history["accuracy"][-1] == 1.0 and history["loss"][-1] < history["loss"][0] / 5
    Xb, yb = make_blobs(300, centers=np.array([[0, 0], [4, 0], [0, 4]]), cluster_std=0.6, seed=1)
    model = mlp([2, 3], rng=0)
    history = fit(model, Xb[:200], yb[:200], epochs=30, lr=0.3, X_val=Xb[200:], y_val=yb[200:])
    assert history["val_accuracy"][-1] > 0.95 and len(history["val_loss"]) == 30
    assert not model.training
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        fit(model, Xb, yb, loss="hinge")
