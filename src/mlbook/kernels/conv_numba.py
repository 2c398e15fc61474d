"""Convolution with Numba: im2col compiled, fused tile by tile with NumPy's BLAS matrix product.

The matrix product is where the arithmetic is, and BLAS already runs it near the machine's peak; what
holds a NumPy im2col back is *building* the column matrix (one strided copy per kernel tap, each
sweeping the whole batch through memory, then BLAS streaming the huge result back in). The forward
pass here never builds the whole matrix: each worker thread expands a cache-sized tile of columns with
a compiled loop (zero padding written directly) and multiplies it immediately, while it is hot. With
stride 1 it needs no columns at all: each kernel tap is one product with a shifted view of the padded
image (:func:`_shifted_products_image`).

:func:`im2col_numba` and :func:`col2im_numba` build and scatter the full matrix in parallel, one
(image, channel) plane per thread: the backward pass uses them.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import numba
import numpy as np

from mlbook.kernels.conv import (
    ConvGeometry,
    IntOrPair,
    _as_float_arrays,
    conv_geometry,
)

__all__ = ["conv2d_numba", "im2col_numba", "col2im_numba", "TILE_BYTES"]

TILE_BYTES = 2**23
"""Bytes of columns per tile: a 56x56 image's whole column block (7.2 MB for 64 channels, 3x3), which
stays in the last-level cache (32 MB here) until BLAS has used it. Measured on the book's machine
(batch 32, 64->64 channels, 56x56): tiles of 2**23-2**24 bytes ran about 10% faster than L2-sized
ones of 2**19-2**20, because BLAS multiplies a wide block more efficiently than a narrow one."""


@numba.njit(parallel=True, cache=True)
def _im2col_kernel(x, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, cols):
    """The whole im2col matrix ``cols`` (N, C kH kW, H_out W_out), one (image, channel) plane per thread."""
    n_img, n_ch = x.shape[0], x.shape[1]
    for task in numba.prange(n_img * n_ch):
        n, c = task // n_ch, task % n_ch
        _im2col_channel(x, n, c, 0, ho * wo, kh, kw, sh, sw, ph, pw, dh, dw, wo, cols[n])


@numba.njit(parallel=True, cache=True)
def _col2im_kernel(cols, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, x):
    n_img, n_ch, h, w = x.shape
    for task in numba.prange(n_img * n_ch):  # each thread owns one (image, channel) plane: no races
        n = task // n_ch
        c = task % n_ch
        for u in range(kh):
            for v in range(kw):
                row_of_cols = (c * kh + u) * kw + v
                for i in range(ho):
                    r = i * sh - ph + u * dh
                    if r < 0 or r >= h:
                        continue
                    base = i * wo
                    for j in range(wo):
                        col = j * sw - pw + v * dw
                        if 0 <= col < w:
                            x[n, c, r, col] += cols[n, row_of_cols, base + j]


def _args(g: ConvGeometry) -> tuple[int, ...]:
    return (*g.kernel, *g.stride, *g.padding, *g.dilation, g.out_height, g.out_width)


def im2col_numba(x: np.ndarray, g: ConvGeometry, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Same result as :func:`mlbook.kernels.conv.im2col`: ``(N, C kH kW, H_out W_out)``, in one parallel pass."""
    x = np.ascontiguousarray(x)
    shape = (x.shape[0], g.column_rows, g.out_height * g.out_width)
    cols = np.empty(shape, dtype=x.dtype) if out is None else out
    _im2col_kernel(x, *_args(g), cols)
    return cols


def col2im_numba(cols: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Same result as :func:`mlbook.kernels.conv.col2im`: ``(N, C, H, W)``, without a padded copy."""
    cols = np.ascontiguousarray(cols)
    x = np.zeros((cols.shape[0], g.in_channels, g.height, g.width), dtype=cols.dtype)
    _col2im_kernel(cols, *_args(g), x)
    return x


@numba.njit(nogil=True, cache=True)
def _im2col_channel(x, n, c, t0, t1, kh, kw, sh, sw, ph, pw, dh, dw, wo, cols):
    """Channel ``c``'s rows, columns ``t0 .. t1 - 1`` (output positions, row-major), of image ``n``'s im2col
    matrix, into ``cols`` (its column ``0`` holds position ``t0``).

    The positions are walked one output row at a time: for a fixed kernel tap and output row, the input
    values form one strided run of an input row, so each is a slice copy (which compiles to a vectorised
    loop) plus zero fills for the padding at its ends, with no per-element index arithmetic or branch.
    """
    if t1 <= t0:
        return
    h, w = x.shape[2], x.shape[3]
    zero = x.dtype.type(0)
    first_row, last_row = t0 // wo, (t1 - 1) // wo
    for u in range(kh):
        for v in range(kw):
            row_of_cols = (c * kh + u) * kw + v
            offset = v * dw - pw  # input column = j * sw + offset
            # output columns whose input column lies inside the image: lo <= j < hi
            lo = 0 if offset >= 0 else (-offset + sw - 1) // sw
            hi = 0 if w - offset <= 0 else (w - offset + sw - 1) // sw
            for i in range(first_row, last_row + 1):
                j0 = max(t0 - i * wo, 0)
                j1 = min(t1 - i * wo, wo)
                base = i * wo - t0  # column of cols that holds output position (i, 0)
                r = i * sh - ph + u * dh
                if r < 0 or r >= h:
                    cols[row_of_cols, base + j0:base + j1] = zero
                    continue
                a, b = min(max(j0, lo), j1), max(min(j1, hi), j0)
                if a >= b:
                    cols[row_of_cols, base + j0:base + j1] = zero
                    continue
                cols[row_of_cols, base + j0:base + a] = zero
                cols[row_of_cols, base + a:base + b] = x[n, c, r, a * sw + offset:(b - 1) * sw + offset + 1:sw]
                cols[row_of_cols, base + b:base + j1] = zero


@numba.njit(nogil=True, cache=True)
def _im2col_tile(x, n, t0, t1, kh, kw, sh, sw, ph, pw, dh, dw, wo, cols):
    """Columns ``t0 .. t1 - 1`` (output positions, row-major) of image ``n``'s im2col matrix into ``cols``,
    every channel (see :func:`_im2col_channel`)."""
    for c in range(x.shape[1]):
        _im2col_channel(x, n, c, t0, t1, kh, kw, sh, sw, ph, pw, dh, dw, wo, cols)


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _shifted_products_image(xn: np.ndarray, taps: np.ndarray, bias: Optional[np.ndarray], g: ConvGeometry,
                            padded: np.ndarray, acc: np.ndarray, product: np.ndarray, out_n: np.ndarray) -> None:
    """One image of a stride-1 convolution as ``kH * kW`` matrix products on shifted views: no columns.

    ``xn`` is (C, H, W), ``taps`` (kH kW, O, C), ``padded`` a zeroed (C, H + 2 pH + spare, W + 2 pW)
    buffer whose border stays zero, ``acc`` and ``product`` (O, H_out (W + 2 pW)) work arrays and
    ``out_n`` (O, H_out, W_out). Flatten the padded image to (C, Hp Wp): the input under kernel tap
    (u, v) for output (i, j) sits at flat position (i + u dH) Wp + (j + v dW), so for all outputs at once
    it is the contiguous window that starts at u dH Wp + v dW. Each tap is then one BLAS product of its
    (O, C) weights with a *view* of the image. Computing Wp outputs per row instead of W_out wastes a
    few columns (cropped at the end, and the reason for the spare zero rows) but makes every window a
    plain slice. The bias (O,) is added in the same pass as the crop.
    """
    (ph, pw), (dh, dw) = g.padding, g.dilation
    kh, kw = g.kernel
    padded[:, ph:ph + g.height, pw:pw + g.width] = xn
    wp = padded.shape[2]
    flat = padded.reshape(g.in_channels, -1)
    span = g.out_height * wp
    for t in range(kh * kw):
        u, v = divmod(t, kw)
        start = u * dh * wp + v * dw
        np.matmul(taps[t], flat[:, start:start + span], out=product if t else acc)
        if t:
            acc += product
    valid = acc.reshape(g.out_channels, g.out_height, wp)[:, :, :g.out_width]
    if bias is None:
        out_n[...] = valid
    else:
        np.add(valid, bias[:, None, None], out=out_n)


def conv2d_numba(x: Any, w: Any, bias: Any = None, *, stride: IntOrPair = 1, padding: IntOrPair = 0,
                 dilation: IntOrPair = 1, tile_bytes: int = TILE_BYTES, threads: Optional[int] = None,
                 shifted: bool = True) -> np.ndarray:
    """Convolution on worker threads with single-threaded BLAS. Shapes as :func:`mlbook.kernels.conv.conv2d`.

    With stride 1 (and ``shifted=True``), each image is ``kH * kW`` BLAS products on shifted views of
    its padded copy (:func:`_shifted_products_image`): no column matrix at all. Otherwise, Numba im2col
    fused with BLAS, one cache-sized tile at a time: the output positions of every image are cut into
    tiles whose column block (``C kH kW`` rows) fills about ``tile_bytes``; a worker thread builds a
    tile's columns with a compiled loop that releases the GIL, then multiplies it at once, while the
    block is still in the cache, so the full column matrix never exists. ``threads`` workers (default:
    one per core) take images or tiles in turn.
    """
    x, w, bias = _as_float_arrays(x, w, bias)
    g = conv_geometry(x.shape, w.shape, stride, padding, dilation)
    x = np.ascontiguousarray(x)
    if shifted and g.stride == (1, 1) and g.batch > 0:
        return _conv2d_shifted(x, w, bias, g, threads)
    length = g.out_height * g.out_width
    k = g.column_rows
    tile = int(min(max(length, 1), max(16, tile_bytes // (k * x.itemsize))))
    w2 = np.ascontiguousarray(w.reshape(g.out_channels, k))
    out = np.empty((g.batch, g.out_channels, length), dtype=x.dtype)
    tasks = [(n, t0, min(t0 + tile, length)) for n in range(g.batch) for t0 in range(0, length, tile)]
    workers = max(1, min(threads or _cores(), len(tasks)))
    geometry = (*g.kernel, *g.stride, *g.padding, *g.dilation, g.out_width)

    def work(first: int) -> None:
        cols = np.empty((k, tile), dtype=x.dtype)
        for n, t0, t1 in tasks[first::workers]:  # worker i takes tiles i, i + workers, ...
            block = cols[:, : t1 - t0]
            _im2col_tile(x, n, t0, t1, *geometry, block)
            np.matmul(w2, block, out=out[n, :, t0:t1])

    with _single_threaded_blas(workers > 1):
        if workers == 1:
            work(0)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(work, range(workers)))
    if bias is not None:
        out += bias[None, :, None]
    return out.reshape(g.output_shape)


def _conv2d_shifted(x: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray], g: ConvGeometry,
                    threads: Optional[int]) -> np.ndarray:
    """Stride-1 convolution, image by image on worker threads (see :func:`_shifted_products_image`)."""
    (ph, pw), (dh, dw) = g.padding, g.dilation
    kh, kw = g.kernel
    hp, wp = g.height + 2 * ph, g.width + 2 * pw
    spare_rows = -(-(dw * (kw - 1)) // wp)  # the last tap's window runs this far past the padded image
    taps = np.ascontiguousarray(w.transpose(2, 3, 0, 1).reshape(kh * kw, g.out_channels, g.in_channels))
    out = np.empty(g.output_shape, dtype=x.dtype)
    workers = max(1, min(threads or _cores(), g.batch))

    def work(first: int) -> None:
        padded = np.zeros((g.in_channels, hp + spare_rows, wp), dtype=x.dtype)
        acc = np.empty((g.out_channels, g.out_height * wp), dtype=x.dtype)
        product = np.empty_like(acc)
        for n in range(first, g.batch, workers):
            _shifted_products_image(x[n], taps, bias, g, padded, acc, product, out[n])

    with _single_threaded_blas(workers > 1):
        if workers == 1:
            work(0)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(work, range(workers)))
    return out


@contextmanager
def _single_threaded_blas(active: bool) -> Iterator[None]:
    """One BLAS thread per call while our own workers supply the parallelism (no oversubscription)."""
    if not active:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without threadpoolctl BLAS keeps its threads: correct, only slower
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield
