"""2-D convolution (cross-correlation, as every deep-learning library computes it) on NCHW arrays.

Shapes: input ``x`` is ``(N, C, H, W)``, weights ``w`` are ``(O, C, kH, kW)``, the optional bias is
``(O,)`` and the output is ``(N, O, H_out, W_out)`` with, per spatial axis,

    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1

Methods of :func:`conv2d`:

* ``"naive"``: the seven nested Python loops of the definition (tiny inputs only);
* ``"im2col"``: copy every receptive field into a column of a matrix, then one matrix product (NumPy);
* ``"numba"``: the same im2col written as a parallel Numba loop, feeding NumPy's BLAS matmul;
* ``"cuda"``: a direct Numba CUDA kernel, one GPU thread per output value (:mod:`mlbook.kernels.conv_cuda`);
* ``"torch"``: ``torch.nn.functional.conv2d`` (oneDNN on CPU, cuDNN on GPU), the reference.

:func:`conv2d_backward` returns the gradients for the input (through col2im), the weights and the bias.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

__all__ = [
    "CONV_METHODS",
    "CONV_BACKWARD_METHODS",
    "ConvGeometry",
    "conv_output_size",
    "conv_geometry",
    "conv2d",
    "conv2d_naive",
    "conv2d_im2col",
    "conv2d_torch",
    "conv2d_backward",
    "im2col",
    "col2im",
    "pair",
]

IntOrPair = Union[int, tuple[int, int]]
CONV_METHODS = ("naive", "im2col", "numba", "cuda", "torch")
CONV_BACKWARD_METHODS = ("im2col", "numba", "torch")


def pair(value: Any, name: str, *, minimum: int) -> tuple[int, int]:
    """``value`` as ``(vertical, horizontal)``: an int is used for both. Raises if below ``minimum``."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        values = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool) for v in value)):
        values = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return values


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: ``(size + 2p - d(k - 1) - 1) // s + 1``.

    Raises ``ValueError`` (showing the formula's numbers) when the dilated kernel, ``d(k - 1) + 1``
    taps wide, does not fit in the padded input ``size + 2p``, or when the stride is not positive.
    """
    if stride < 1:
        raise ValueError(f"stride must be positive, got {stride}")
    if dilation < 1:
        raise ValueError(f"dilation must be positive, got {dilation}")
    if padding < 0:
        raise ValueError(f"padding must be non-negative, got {padding}")
    if kernel < 1:
        raise ValueError(f"kernel size must be positive, got {kernel}")
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    if span > padded:
        raise ValueError(
            f"kernel larger than the padded input: dilated kernel d*(k-1)+1 = {dilation}*({kernel}-1)+1 = {span} "
            f"> padded input size+2p = {size}+2*{padding} = {padded}, so (size + 2p - d(k-1) - 1)//s + 1 = "
            f"({size} + {2 * padding} - {dilation * (kernel - 1)} - 1)//{stride} + 1 = {(padded - span) // stride + 1}"
        )
    return (padded - span) // stride + 1


@dataclass(frozen=True)
class ConvGeometry:
    """Everything about one convolution's shapes, checked once and shared by every method."""

    batch: int
    in_channels: int
    height: int
    width: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out_height: int
    out_width: int

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.out_channels, self.out_height, self.out_width)

    @property
    def column_rows(self) -> int:
        """Rows of the im2col matrix: one per (channel, kernel row, kernel column)."""
        return self.in_channels * self.kernel[0] * self.kernel[1]

    @property
    def multiply_adds(self) -> int:
        """Multiply-adds of the forward pass: every output value sums C * kH * kW products."""
        return self.batch * self.out_channels * self.out_height * self.out_width * self.column_rows


def conv_geometry(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: IntOrPair = 1,
                  padding: IntOrPair = 0, dilation: IntOrPair = 1) -> ConvGeometry:
    """Check an NCHW input shape against an (O, C, kH, kW) weight shape; return the :class:`ConvGeometry`."""
    if len(x_shape) != 4:
        raise ValueError(f"conv2d expects a 4-D input (N, C, H, W), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"conv2d expects 4-D weights (out_channels, in_channels, kH, kW), got shape {tuple(w_shape)}")
    n, c, h, w_ = (int(v) for v in x_shape)
    o, c_w, kh, kw = (int(v) for v in w_shape)
    if c != c_w:
        raise ValueError(
            f"channel mismatch: input {tuple(x_shape)} has C = {c} channels but weights {tuple(w_shape)} "
            f"expect in_channels = {c_w}"
        )
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel must be at least 1 x 1, got weights of shape {tuple(w_shape)}")
    s = pair(stride, "stride", minimum=1)
    p = pair(padding, "padding", minimum=0)
    d = pair(dilation, "dilation", minimum=1)
    try:
        ho = conv_output_size(h, kh, s[0], p[0], d[0])
        wo = conv_output_size(w_, kw, s[1], p[1], d[1])
    except ValueError as err:
        raise ValueError(f"input {tuple(x_shape)}, weights {tuple(w_shape)}: {err}") from None
    return ConvGeometry(n, c, h, w_, o, (kh, kw), s, p, d, ho, wo)


def _as_float_arrays(x: Any, w: Any, bias: Any) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    x = np.asarray(x)
    w = np.asarray(w)
    for name, a in (("input", x), ("weights", w)):
        if a.dtype not in (np.float32, np.float64):
            raise TypeError(f"conv2d needs float32 or float64 arrays; {name} has dtype {a.dtype}")
    if x.dtype != w.dtype:
        raise TypeError(f"input and weights must share a dtype, got {x.dtype} and {w.dtype}")
    if bias is not None:
        bias = np.asarray(bias, dtype=x.dtype)
        if bias.shape != (w.shape[0],):
            raise ValueError(f"bias must have shape (out_channels,) = ({w.shape[0]},), got {bias.shape}")
    return x, w, bias


def _pad(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


# --------------------------------------------------------------------------------------------------
# naive
# --------------------------------------------------------------------------------------------------

NAIVE_MAX_MULTIPLY_ADDS = 2_000_000  # about two seconds of CPython


def conv2d_naive(x: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray] = None, *, stride: IntOrPair = 1,
                 padding: IntOrPair = 0, dilation: IntOrPair = 1) -> np.ndarray:
    """The definition, one multiply-add at a time: seven nested loops over (n, o, i, j, c, u, v)."""
    x, w, bias = _as_float_arrays(x, w, bias)
    g = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    if g.multiply_adds > NAIVE_MAX_MULTIPLY_ADDS:
        raise ValueError(f"naive conv2d would take {g.multiply_adds:,} Python multiply-adds "
                         f"(limit {NAIVE_MAX_MULTIPLY_ADDS:,}); use method='im2col'")
    (sh, sw), (ph, pw), (dh, dw) = g.stride, g.padding, g.dilation
    kh, kw = g.kernel
    out = np.zeros(g.output_shape, dtype=x.dtype)
    for n in range(g.batch):
        for o in range(g.out_channels):
            for i in range(g.out_height):
                for j in range(g.out_width):
                    total = 0.0 if bias is None else float(bias[o])
                    for c in range(g.in_channels):
                        for u in range(kh):
                            row = i * sh - ph + u * dh      # input row this tap reads
                            if row < 0 or row >= g.height:  # it falls in the zero padding
                                continue
                            for v in range(kw):
                                col = j * sw - pw + v * dw
                                if 0 <= col < g.width:
                                    total += float(x[n, c, row, col]) * float(w[o, c, u, v])
                    out[n, o, i, j] = total
    return out


# --------------------------------------------------------------------------------------------------
# im2col / col2im in NumPy
# --------------------------------------------------------------------------------------------------

def _tap_slices(g: ConvGeometry, u: int, v: int) -> tuple[slice, slice]:
    """Rows and columns of the padded input read by kernel tap (u, v), one per output position."""
    (sh, sw), (dh, dw) = g.stride, g.dilation
    r0, c0 = u * dh, v * dw
    return slice(r0, r0 + sh * (g.out_height - 1) + 1, sh), slice(c0, c0 + sw * (g.out_width - 1) + 1, sw)


def im2col(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Receptive fields as columns: shape ``(N, C * kH * kW, H_out * W_out)``.

    Row ``(c, u, v)`` of image ``n`` holds, for every output position, the input value that kernel
    tap ``(u, v)`` of channel ``c`` multiplies. Built with one strided slice copy per tap (kH * kW
    copies of N * C * H_out * W_out values), so the Python overhead is independent of the image size.
    """
    xp = _pad(x, g.padding)
    kh, kw = g.kernel
    cols = np.empty((g.batch, g.in_channels, kh, kw, g.out_height, g.out_width), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            rows, columns = _tap_slices(g, u, v)
            cols[:, :, u, v] = xp[:, :, rows, columns]
    return cols.reshape(g.batch, g.column_rows, g.out_height * g.out_width)


def col2im(cols: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column entry back onto the input pixel it came from.

    ``cols`` is ``(N, C * kH * kW, H_out * W_out)``; returns ``(N, C, H, W)``. Overlapping receptive
    fields make a pixel receive several contributions, which is why this adds rather than copies.
    """
    kh, kw = g.kernel
    (ph, pw) = g.padding
    cols = cols.reshape(g.batch, g.in_channels, kh, kw, g.out_height, g.out_width)
    xp = np.zeros((g.batch, g.in_channels, g.height + 2 * ph, g.width + 2 * pw), dtype=cols.dtype)
    for u in range(kh):
        for v in range(kw):
            rows, columns = _tap_slices(g, u, v)
            xp[:, :, rows, columns] += cols[:, :, u, v]
    return xp[:, :, ph:ph + g.height, pw:pw + g.width]


def _gemm_forward(cols: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray], g: ConvGeometry) -> np.ndarray:
    """(O, CkHkW) @ (N, CkHkW, L) -> (N, O, L): one BLAS product per image, already in NCHW order."""
    out = np.matmul(w.reshape(g.out_channels, g.column_rows), cols)
    if bias is not None:
        out += bias[None, :, None]
    return out.reshape(g.output_shape)


def conv2d_im2col(x: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray] = None, *, stride: IntOrPair = 1,
                  padding: IntOrPair = 0, dilation: IntOrPair = 1) -> np.ndarray:
    """im2col then a matrix product, all in NumPy."""
    x, w, bias = _as_float_arrays(x, w, bias)
    g = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    return _gemm_forward(im2col(x, g), w, bias, g)


def conv2d_torch(x: Any, w: Any, bias: Any = None, *, stride: IntOrPair = 1, padding: IntOrPair = 0,
                 dilation: IntOrPair = 1) -> Any:
    """``torch.nn.functional.conv2d``; NumPy arrays in, NumPy out; torch tensors in, a tensor out."""
    import torch
    import torch.nn.functional as F

    as_numpy = not isinstance(x, torch.Tensor)
    if as_numpy:
        x, w, bias = _as_float_arrays(x, w, bias)
        conv_geometry(x.shape, w.shape, stride, padding, dilation)
        x, w = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(w))
        bias = None if bias is None else torch.from_numpy(bias)
    else:
        conv_geometry(tuple(x.shape), tuple(w.shape), stride, padding, dilation)
    s = pair(stride, "stride", minimum=1)
    p = pair(padding, "padding", minimum=0)
    d = pair(dilation, "dilation", minimum=1)
    with torch.no_grad():
        out = F.conv2d(x, w, bias, stride=s, padding=p, dilation=d)
    return out.numpy() if as_numpy else out


def conv2d(x: Any, w: Any, bias: Any = None, *, stride: IntOrPair = 1, padding: IntOrPair = 0,
           dilation: IntOrPair = 1, method: str = "im2col") -> Any:
    """2-D convolution of NCHW ``x`` (N, C, H, W) with ``w`` (O, C, kH, kW) and optional ``bias`` (O,).

    ``stride``, ``padding`` (zeros) and ``dilation`` are ints or (vertical, horizontal) pairs. Returns
    ``(N, O, H_out, W_out)`` in the input's dtype, with ``H_out = (H + 2p - d(kH - 1) - 1) // s + 1``.
    ``method`` is one of :data:`CONV_METHODS`.
    """
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    if method == "naive":
        return conv2d_naive(x, w, bias, **kwargs)
    if method == "im2col":
        return conv2d_im2col(x, w, bias, **kwargs)
    if method == "numba":
        from mlbook.kernels.conv_numba import conv2d_numba

        return conv2d_numba(x, w, bias, **kwargs)
    if method == "cuda":
        from mlbook.kernels.conv_cuda import conv2d_cuda

        return conv2d_cuda(x, w, bias, **kwargs)
    if method == "torch":
        return conv2d_torch(x, w, bias, **kwargs)
    raise ValueError(f"unknown conv2d method {method!r}; choose one of {CONV_METHODS}")


# --------------------------------------------------------------------------------------------------
# backward
# --------------------------------------------------------------------------------------------------

def conv2d_backward(grad_output: np.ndarray, x: np.ndarray, w: np.ndarray, *, stride: IntOrPair = 1,
                    padding: IntOrPair = 0, dilation: IntOrPair = 1, bias: bool = True,
                    method: str = "im2col") -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Gradients of a loss through ``y = conv2d(x, w, b)`` given ``grad_output = dL/dy`` (N, O, H_out, W_out).

    Returns ``(dL/dx, dL/dw, dL/db)`` with the shapes of ``x``, ``w`` and ``(O,)`` (``None`` for the bias
    when ``bias=False``). With ``cols = im2col(x)`` and ``G = grad_output`` reshaped to (N, O, L)::

        dL/dw = sum_n G[n] @ cols[n].T        # (O, L) @ (L, C kH kW)
        dL/dx = col2im(W.T @ G)               # (C kH kW, O) @ (N, O, L), scattered back
        dL/db = G.sum(axis=(0, 2))

    ``method`` is ``"im2col"`` (NumPy), ``"numba"`` (Numba im2col/col2im) or ``"torch"`` (autograd).
    """
    x, w, _ = _as_float_arrays(x, w, None)
    g = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    grad_output = np.asarray(grad_output, dtype=x.dtype)
    if grad_output.shape != g.output_shape:
        raise ValueError(f"grad_output must have the output's shape {g.output_shape}, got {grad_output.shape}")
    if method == "torch":
        return _backward_torch(grad_output, x, w, g, bias)
    if method == "im2col":
        to_cols, from_cols = im2col, col2im
    elif method == "numba":
        from mlbook.kernels.conv_numba import col2im_numba, im2col_numba

        to_cols, from_cols = im2col_numba, col2im_numba
    else:
        raise ValueError(f"unknown conv2d_backward method {method!r}; choose one of {CONV_BACKWARD_METHODS}")
    gout = grad_output.reshape(g.batch, g.out_channels, g.out_height * g.out_width)
    cols = to_cols(x, g)
    w2 = w.reshape(g.out_channels, g.column_rows)
    # One 2-D product per image: BLAS reads the transposed operands in place (a batched np.matmul on
    # transposed views falls back to a loop several times slower). The weights are shared by every
    # image, so their gradient accumulates over the batch. It is formed transposed, cols @ G.T, with the
    # long L axis as the shared inner dimension: OpenBLAS splits that shape across threads much better
    # than G @ cols.T (measured 13 ms against 170 ms per image on the benchmark layer).
    grad_w_t = np.zeros((g.column_rows, g.out_channels), dtype=x.dtype)
    grad_cols = np.empty_like(cols)
    for n in range(g.batch):
        grad_w_t += cols[n] @ gout[n].T
        np.matmul(w2.T, gout[n], out=grad_cols[n])
    grad_w = grad_w_t.T
    grad_x = from_cols(grad_cols, g)
    grad_b = gout.sum(axis=(0, 2)) if bias else None
    return grad_x, grad_w.reshape(w.shape).astype(x.dtype, copy=False), grad_b


def _backward_torch(grad_output: np.ndarray, x: np.ndarray, w: np.ndarray, g: ConvGeometry, bias: bool):
    import torch
    from torch.nn.grad import conv2d_input, conv2d_weight

    gt, xt, wt = (torch.from_numpy(np.ascontiguousarray(a)) for a in (grad_output, x, w))
    kwargs = dict(stride=g.stride, padding=g.padding, dilation=g.dilation)
    with torch.no_grad():
        grad_x = conv2d_input(xt.shape, wt, gt, **kwargs).numpy()
        grad_w = conv2d_weight(xt, wt.shape, gt, **kwargs).numpy()
    grad_b = grad_output.sum(axis=(0, 2, 3)) if bias else None
    return grad_x, grad_w, grad_b
