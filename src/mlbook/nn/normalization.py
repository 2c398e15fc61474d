"""Normalisation layers: :class:`BatchNorm1d` (across the batch) and :class:`LayerNorm` (across features).

Both subtract a mean, divide by a standard deviation and then apply a learned per-feature scale
``weight`` (gamma, initialised to 1) and shift ``bias`` (beta, initialised to 0), so the layer can undo
the normalisation if that is what the loss wants. Parameter names are PyTorch's, so a ``state_dict``
maps one to one.

The two differ in *which* numbers they average:

- BatchNorm1d: one mean and variance per feature (channel), over the batch (and the length axis of
  a ``(N, C, L)`` input). In training it uses the batch's statistics and updates running estimates;
  in eval mode it uses the running estimates, so a prediction does not depend on the rest of the batch.
- LayerNorm: one mean and variance per example, over its last axes. Training and inference compute the
  same thing, and a batch of one is fine.

Both backward passes are the closed form of differentiating through the mean and the variance:
with ``x_hat = (x - mu) / sigma`` over ``m`` values and ``g = dL/dx_hat``,

    dL/dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sigma.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mlbook.nn.module import Module

__all__ = ["BatchNorm1d", "LayerNorm"]


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive_float(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _float_input(x: np.ndarray, layer: str) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{layer} expects a floating-point array, got dtype {x.dtype}")
    return x


def _normalised_backward(g: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """dL/dx given g = dL/dx_hat, for x_hat = (x - mean) * inv_std with mean and (biased) variance over ``axes``."""
    g_mean = np.mean(g, axis=axes, keepdims=True)
    gx_mean = np.mean(g * x_hat, axis=axes, keepdims=True)
    return (g - g_mean - x_hat * gx_mean) * inv_std


class BatchNorm1d(Module):
    """Batch normalisation over a ``(N, C)`` or ``(N, C, L)`` batch, like ``torch.nn.BatchNorm1d``.

    Training mode (the default): statistics of the current batch, per channel ``c``, over every axis
    but the channel axis. The mean and the *biased* variance (divide by m) normalise the batch; the
    running estimates are updated with PyTorch's convention,

        running = (1 - momentum) * running + momentum * batch_statistic,

    using the *unbiased* variance (divide by m - 1) for ``running_var``. ``momentum=None`` keeps a
    cumulative average instead (``momentum = 1 / num_batches_tracked``), as in PyTorch. With fewer than
    two values per channel the batch variance is meaningless and a ``ValueError`` is raised, as PyTorch
    does ("Expected more than 1 value per channel when training").

    Eval mode (``layer.eval()``): ``running_mean`` and ``running_var`` replace the batch statistics,
    so the layer is a fixed affine map, the same for a batch of one as for a batch of a thousand.

    Parameters (in ``params``): ``weight`` (C,), ``bias`` (C,) when ``affine``. Buffers (attributes,
    not trained): ``running_mean`` (C,), ``running_var`` (C,), ``num_batches_tracked``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        super().__init__()
        self.num_features = _positive_int(num_features, "num_features")
        self.eps = _positive_float(eps, "eps")
        if momentum is not None and not (isinstance(momentum, (int, float)) and 0.0 <= momentum <= 1.0):
            raise ValueError(f"momentum must be in [0, 1] or None (cumulative average), got {momentum!r}")
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.params = {"weight": np.ones(num_features), "bias": np.zeros(num_features)}
        self.reset_running_stats()

    def reset_running_stats(self) -> None:
        self.running_mean = np.zeros(self.num_features)
        self.running_var = np.ones(self.num_features)
        self.num_batches_tracked = 0

    def _axes_and_shape(self, x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d({self.num_features}) expects input of shape (N, {self.num_features}) or "
                f"(N, {self.num_features}, L), got {x.shape}"
            )
        if x.ndim == 2:
            return (0,), (1, self.num_features)
        return (0, 2), (1, self.num_features, 1)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x, "BatchNorm1d")
        axes, shape = self._axes_and_shape(x)
        use_batch_stats = self.training or not self.track_running_stats
        if use_batch_stats:
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(
                    f"BatchNorm1d in training mode needs more than 1 value per channel, got input shape {x.shape}: "
                    "the variance of one number is 0, so every output would be the bias. "
                    "Use a larger batch, call .eval() to use the running statistics, or use LayerNorm"
                )
            mean = np.mean(x, axis=axes)
            var = np.var(x, axis=axes)  # biased: what normalises this batch
            if self.training and self.track_running_stats:
                self._update_running(mean, var * count / (count - 1))
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        self.axes = axes
        self.used_batch_stats = use_batch_stats
        self.inv_std = inv_std.reshape(shape).astype(x.dtype, copy=False)
        self.x_hat = (x - mean.reshape(shape).astype(x.dtype, copy=False)) * self.inv_std
        if not self.affine:
            return self.x_hat
        weight, bias = self.params["weight"].reshape(shape), self.params["bias"].reshape(shape)
        return (self.x_hat * weight + bias).astype(x.dtype, copy=False)

    def _update_running(self, mean: np.ndarray, unbiased_var: np.ndarray) -> None:
        self.num_batches_tracked += 1
        m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        # In place, so that references to the buffers (e.g. in a saved dict) see the update.
        self.running_mean *= 1.0 - m
        self.running_mean += m * mean
        self.running_var *= 1.0 - m
        self.running_var += m * unbiased_var

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        if getattr(self, "x_hat", None) is None:
            raise RuntimeError("BatchNorm1d.backward called before forward")
        grad_output = np.asarray(grad_output)
        if grad_output.shape != self.x_hat.shape:
            raise ValueError(f"BatchNorm1d.backward: grad_output has shape {grad_output.shape}, expected {self.x_hat.shape}")
        shape = self.inv_std.shape
        if self.affine:
            self.grads = {
                "weight": np.sum(grad_output * self.x_hat, axis=self.axes).reshape(self.num_features),
                "bias": np.sum(grad_output, axis=self.axes).reshape(self.num_features),
            }
            g = grad_output * self.params["weight"].reshape(shape)
        else:
            g = grad_output
        if not self.used_batch_stats:
            return g * self.inv_std  # eval mode: mean and variance are constants
        return _normalised_backward(g, self.x_hat, self.inv_std, self.axes)

    def __repr__(self) -> str:
        return (f"BatchNorm1d({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats})")


class LayerNorm(Module):
    """Layer normalisation over the last axes, like ``torch.nn.LayerNorm(normalized_shape)``.

    ``normalized_shape`` is an int or a tuple: the trailing shape of the input that forms one group.
    For x of shape (batch, seq, d) and ``LayerNorm(d)``, every token vector is normalised on its own
    (biased variance), then scaled by ``weight`` and shifted by ``bias``, both of shape
    ``normalized_shape``. Identical in training and eval mode; no running statistics.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        if not shape:
            raise ValueError("normalized_shape must name at least one axis")
        self.normalized_shape = tuple(_positive_int(n, "normalized_shape entries") for n in shape)
        self.eps = _positive_float(eps, "eps")
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.params = {"weight": np.ones(self.normalized_shape), "bias": np.zeros(self.normalized_shape)}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _float_input(x, "LayerNorm")
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm{self.normalized_shape} expects input ending in {self.normalized_shape}, got shape {x.shape}"
            )
        self.axes = tuple(range(x.ndim - k, x.ndim))
        mean = np.mean(x, axis=self.axes, keepdims=True)
        var = np.var(x, axis=self.axes, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(var + self.eps)
        self.x_hat = (x - mean) * self.inv_std
        if not self.elementwise_affine:
            return self.x_hat
        return (self.x_hat * self.params["weight"] + self.params["bias"]).astype(x.dtype, copy=False)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        if getattr(self, "x_hat", None) is None:
            raise RuntimeError("LayerNorm.backward called before forward")
        grad_output = np.asarray(grad_output)
        if grad_output.shape != self.x_hat.shape:
            raise ValueError(f"LayerNorm.backward: grad_output has shape {grad_output.shape}, expected {self.x_hat.shape}")
        batch_axes = tuple(range(grad_output.ndim - len(self.normalized_shape)))
        if self.elementwise_affine:
            self.grads = {
                "weight": np.sum(grad_output * self.x_hat, axis=batch_axes),
                "bias": np.sum(grad_output, axis=batch_axes),
            }
            g = grad_output * self.params["weight"]
        else:
            g = grad_output
        return _normalised_backward(g, self.x_hat, self.inv_std, self.axes)

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine})"
