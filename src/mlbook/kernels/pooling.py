"""Max and average pooling on NCHW arrays, forward and backward.

A pooling window slides like a convolution kernel, but instead of a learned weighted sum it takes the
maximum (max pooling) or the mean (average pooling) of each channel separately, so the channel count is
unchanged: ``(N, C, H, W) -> (N, C, H_out, W_out)`` with the convolution's output-size formula
(dilation 1). The stride defaults to the window size, so windows tile the image without overlap.

Conventions match ``torch.nn.functional``: max pooling pads with -inf (padding never wins), average
pooling pads with zeros and divides by the full window (``count_include_pad=True``), and the max's
gradient goes to the first maximum of each window.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from mlbook.kernels.conv import IntOrPair, conv_output_size, pair

__all__ = ["pool_output_shape", "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"]


def _check(x: np.ndarray, kernel_size: IntOrPair, stride: Optional[IntOrPair], padding: IntOrPair,
           who: str) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{who} expects a 4-D input (N, C, H, W), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{who} needs a floating-point input, got dtype {x.dtype}")
    k = pair(kernel_size, "kernel_size", minimum=1)
    s = k if stride is None else pair(stride, "stride", minimum=1)
    p = pair(padding, "padding", minimum=0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{who}: padding {p} must be at most half the window {k} (as in torch)")
    try:
        out = (conv_output_size(x.shape[2], k[0], s[0], p[0]), conv_output_size(x.shape[3], k[1], s[1], p[1]))
    except ValueError as err:
        raise ValueError(f"{who} on input {x.shape}: {err}") from None
    return x, k, s, p, out


def pool_output_shape(shape: tuple[int, int, int, int], kernel_size: IntOrPair, stride: Optional[IntOrPair] = None,
                      padding: IntOrPair = 0) -> tuple[int, int, int, int]:
    """``(N, C, H_out, W_out)`` of pooling an ``(N, C, H, W)`` input."""
    _, _, _, _, (ho, wo) = _check(np.empty(shape), kernel_size, stride, padding, "pooling")
    return (shape[0], shape[1], ho, wo)


def _windows(xp: np.ndarray, k, s, out) -> np.ndarray:
    """Every window's values stacked on a new axis 2: ``(N, C, kH * kW, H_out, W_out)`` (a copy)."""
    n, c = xp.shape[:2]
    stacked = np.empty((n, c, k[0] * k[1], out[0], out[1]), dtype=xp.dtype)
    for u in range(k[0]):
        for v in range(k[1]):
            stacked[:, :, u * k[1] + v] = xp[:, :, u:u + s[0] * (out[0] - 1) + 1:s[0], v:v + s[1] * (out[1] - 1) + 1:s[1]]
    return stacked


def _scatter(per_tap: np.ndarray, shape, k, s, p, out) -> np.ndarray:
    """Add ``per_tap`` (N, C, kH * kW, H_out, W_out) back onto the input positions: the adjoint of _windows."""
    n, c, h, w = shape
    grad = np.zeros((n, c, h + 2 * p[0], w + 2 * p[1]), dtype=per_tap.dtype)
    for u in range(k[0]):
        for v in range(k[1]):
            grad[:, :, u:u + s[0] * (out[0] - 1) + 1:s[0], v:v + s[1] * (out[1] - 1) + 1:s[1]] += per_tap[:, :, u * k[1] + v]
    return grad[:, :, p[0]:p[0] + h, p[1]:p[1] + w]


def max_pool2d(x: np.ndarray, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None, padding: IntOrPair = 0,
               *, return_indices: bool = False) -> Any:
    """Maximum of each window, per channel. With ``return_indices`` also returns, for every output, which
    window position (``u * kW + v``) held the maximum: what :func:`max_pool2d_backward` needs."""
    x, k, s, p, out = _check(x, kernel_size, stride, padding, "max_pool2d")
    xp = np.pad(x, ((0, 0), (0, 0), (p[0],) * 2, (p[1],) * 2), constant_values=-np.inf) if any(p) else x
    windows = _windows(xp, k, s, out)
    argmax = windows.argmax(axis=2)  # first maximum on ties, like torch
    y = np.take_along_axis(windows, argmax[:, :, None], axis=2)[:, :, 0]
    return (y, argmax) if return_indices else y


def max_pool2d_backward(grad_output: np.ndarray, argmax: np.ndarray, input_shape: tuple[int, ...],
                        kernel_size: IntOrPair, stride: Optional[IntOrPair] = None, padding: IntOrPair = 0) -> np.ndarray:
    """dL/dx of max pooling: each output's gradient goes to the input that was the window's maximum
    (inputs that win several overlapping windows collect every one of those gradients)."""
    _, k, s, p, out = _check(np.empty(input_shape), kernel_size, stride, padding, "max_pool2d_backward")
    grad_output = np.asarray(grad_output)
    expected = (*input_shape[:2], *out)
    if grad_output.shape != expected or argmax.shape != expected:
        raise ValueError(f"max_pool2d_backward: grad_output {grad_output.shape} and argmax {argmax.shape} "
                         f"must both have the output shape {expected}")
    taps = np.arange(k[0] * k[1]).reshape(1, 1, -1, 1, 1)
    per_tap = np.where(argmax[:, :, None] == taps, grad_output[:, :, None], 0).astype(grad_output.dtype)
    return _scatter(per_tap, input_shape, k, s, p, out)


def avg_pool2d(x: np.ndarray, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None,
               padding: IntOrPair = 0) -> np.ndarray:
    """Mean of each window, per channel; zero padding counts towards the window size (torch's default)."""
    x, k, s, p, out = _check(x, kernel_size, stride, padding, "avg_pool2d")
    xp = np.pad(x, ((0, 0), (0, 0), (p[0],) * 2, (p[1],) * 2)) if any(p) else x
    return _windows(xp, k, s, out).mean(axis=2)


def avg_pool2d_backward(grad_output: np.ndarray, input_shape: tuple[int, ...], kernel_size: IntOrPair,
                        stride: Optional[IntOrPair] = None, padding: IntOrPair = 0) -> np.ndarray:
    """dL/dx of average pooling: every input in a window receives ``1 / (kH kW)`` of its output's gradient."""
    _, k, s, p, out = _check(np.empty(input_shape), kernel_size, stride, padding, "avg_pool2d_backward")
    grad_output = np.asarray(grad_output)
    expected = (*input_shape[:2], *out)
    if grad_output.shape != expected:
        raise ValueError(f"avg_pool2d_backward: grad_output must have the output shape {expected}, got {grad_output.shape}")
    share = grad_output / (k[0] * k[1])
    per_tap = np.broadcast_to(share[:, :, None], (*expected[:2], k[0] * k[1], *out))
    return _scatter(per_tap, input_shape, k, s, p, out)
