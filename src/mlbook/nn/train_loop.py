"""A small minibatch-SGD loop for :class:`~mlbook.nn.module.Module` networks, and the metrics the Part II
chapters report (accuracy, confusion matrix).

The loop is the whole of training in a few lines: shuffle, cut into minibatches, forward, loss and its
gradient with respect to the network's output, backward, step. Part III replaces it with a full
``Trainer``; here it stays short enough to read in one go.

A loss is a callable ``loss_fn(outputs, targets) -> (loss, d_loss/d_outputs)`` that takes raw scores
(logits). :data:`LOSSES` names the two the classifiers here need, adapted from :mod:`mlbook.nn.losses`.
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional, Union

import numpy as np

from mlbook.nn.losses import bce_with_logits, cross_entropy
from mlbook.nn.module import Module

__all__ = [
    "LOSSES",
    "accuracy",
    "binary_cross_entropy_with_logits",
    "confusion_matrix",
    "fit",
    "minibatches",
    "predict_labels",
    "softmax_cross_entropy",
]

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]


def binary_cross_entropy_with_logits(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy from logits of shape ``(batch, 1)`` or ``(batch,)`` and 0/1 labels of
    shape ``(batch,)``: :func:`mlbook.nn.losses.bce_with_logits` with the labels reshaped to the logits'
    shape. The gradient is ``(sigmoid(z) - y) / batch``, shaped like ``logits``."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if z.ndim > 2 or (z.ndim == 2 and z.shape[1] != 1) or z.shape[0] != y.size or y.ndim != 1:
        raise ValueError(f"binary cross-entropy needs logits of shape (batch,) or (batch, 1) matching "
                         f"labels of shape (batch,); got logits {z.shape} and labels {y.shape}")
    return bce_with_logits(z, y.reshape(z.shape))


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of logits ``(batch, n_classes)`` against integer labels ``(batch,)``:
    :func:`mlbook.nn.losses.cross_entropy`. The gradient is ``(softmax(z) - onehot(y)) / batch``."""
    return cross_entropy(logits, y)


LOSSES: dict[str, LossFn] = {"bce": binary_cross_entropy_with_logits, "cross_entropy": softmax_cross_entropy}
"""Losses :func:`fit` accepts by name. Both take logits."""


def predict_labels(outputs: np.ndarray) -> np.ndarray:
    """Class labels from logits: ``outputs >= 0`` for one output column (sigmoid 1/2), else ``argmax``."""
    outputs = np.asarray(outputs)
    if outputs.ndim == 1 or outputs.shape[1] == 1:
        return (outputs.reshape(-1) >= 0).astype(np.int64)
    return np.argmax(outputs, axis=1).astype(np.int64)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The fraction of labels predicted correctly."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"accuracy needs two label vectors of the same shape, got {y_true.shape} and {y_pred.shape}")
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: Optional[int] = None) -> np.ndarray:
    """``C[i, j]`` = the number of examples of true class ``i`` predicted as class ``j``: int64, square.

    The diagonal holds the correct predictions; row sums are the class counts.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"confusion_matrix needs two label vectors of the same shape, got {y_true.shape} and {y_pred.shape}")
    if y_true.size and (min(y_true.min(), y_pred.min()) < 0):
        raise ValueError("labels must be non-negative integers")
    k = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1) if n_classes is None else int(n_classes)
    if y_true.size and max(y_true.max(), y_pred.max()) >= k:
        raise ValueError(f"labels reach {max(y_true.max(), y_pred.max())} but n_classes is {k}")
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    return cm


def minibatches(n: int, batch_size: int, rng: Optional[np.random.Generator] = None) -> Iterator[np.ndarray]:
    """Index arrays that cover ``range(n)`` once, in ``batch_size`` pieces (the last may be smaller),
    in a random order when ``rng`` is given."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def fit(model: Module, X: np.ndarray, y: np.ndarray, *, loss: Union[str, LossFn] = "cross_entropy",
        epochs: int = 10, lr: float = 0.1, batch_size: int = 32, momentum: float = 0.0,
        weight_decay: float = 0.0, seed: int = 0, X_val: Optional[np.ndarray] = None,
        y_val: Optional[np.ndarray] = None) -> dict[str, list[float]]:
    """Train ``model`` in place by minibatch SGD (with optional momentum and L2 weight decay).

    Each step: ``out = model.forward(X_b)``; ``L, g = loss(out, y_b)``; ``model.backward(g)``; then for
    every parameter ``v = momentum * v + grad + weight_decay * p`` and ``p -= lr * v``. The model is in
    training mode while it trains and left in eval mode.

    Returns a history with, per epoch, ``"loss"`` (mean minibatch loss) and ``"accuracy"`` on the training
    set, and ``"val_loss"``, ``"val_accuracy"`` when validation data are given.
    """
    loss_fn = LOSSES[loss] if isinstance(loss, str) and loss in LOSSES else loss
    if isinstance(loss_fn, str) or not callable(loss_fn):
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)} or pass a callable")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape[:1] != X.shape[:1]:
        raise ValueError(f"fit needs X of shape (n, features) and y with n rows; got {X.shape} and {y.shape}")
    rng = np.random.default_rng(seed)
    velocity: dict[str, np.ndarray] = {}
    history: dict[str, list[float]] = {"loss": [], "accuracy": []}
    if X_val is not None:
        history.update(val_loss=[], val_accuracy=[])
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for idx in minibatches(len(y), batch_size, rng):
            out = model.forward(X[idx])
            value, grad = loss_fn(out, y[idx])
            model.backward(grad)
            for name, param, g in model.named_parameters():
                step = g + weight_decay * param if weight_decay else g
                if momentum:
                    step = velocity[name] = momentum * velocity.get(name, 0.0) + step
                param -= lr * step
            total += value * len(idx)
            count += len(idx)
        model.eval()
        history["loss"].append(total / count)
        history["accuracy"].append(accuracy(y.astype(np.int64), predict_labels(model.forward(X))))
        if X_val is not None:
            out_val = model.forward(np.asarray(X_val, dtype=np.float64))
            history["val_loss"].append(loss_fn(out_val, np.asarray(y_val))[0])
            history["val_accuracy"].append(accuracy(np.asarray(y_val).astype(np.int64), predict_labels(out_val)))
    model.eval()
    return history
