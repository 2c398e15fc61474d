"""conv2d forward and backward, every CPU method, against torch.nn.functional.conv2d and torch.autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.kernels.conv import (
    CONV_METHODS,
    col2im,
    conv2d,
    conv2d_backward,
    conv_geometry,
    conv_output_size,
    im2col,
)
from mlbook.kernels.conv_numba import col2im_numba, conv2d_numba, im2col_numba


@st.composite
def conv_cases(draw):
    """A random valid convolution: batch, channels, sizes, non-square kernels, stride, padding, dilation."""
    n = draw(st.integers(1, 3))
    c = draw(st.integers(1, 4))
    o = draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    # the input must hold the dilated kernel once padded
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 9))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 9))
    seed = draw(st.integers(0, 2**31 - 1))
    return (n, c, h, w), (o, c, kh, kw), dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw)), seed


def _random(x_shape, w_shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype),
            rng.standard_normal(w_shape[0]).astype(dtype))


def _torch_reference(x, w, b, kwargs, grad_seed=1):
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    y = F.conv2d(xt, wt, bt, **kwargs)
    g = torch.from_numpy(np.random.default_rng(grad_seed).standard_normal(tuple(y.shape)).astype(x.dtype))
    y.backward(g)
    return y.detach().numpy(), g.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@settings(max_examples=60, deadline=None)
@given(conv_cases())
def test_forward_matches_torch(case):
    x_shape, w_shape, kwargs, seed = case
    x, w, b = _random(x_shape, w_shape, seed)
    expected = F.conv2d(*(torch.from_numpy(a) for a in (x, w, b)), **kwargs).numpy()
    for method in ("im2col", "numba", "torch"):
        out = conv2d(x, w, b, method=method, **kwargs)
        assert out.shape == expected.shape and out.dtype == np.float64, method
        np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10, err_msg=method)


@settings(max_examples=60, deadline=None)
@given(conv_cases())
def test_backward_matches_torch_autograd(case):
    x_shape, w_shape, kwargs, seed = case
    x, w, b = _random(x_shape, w_shape, seed)
    _, g, gx, gw, gb = _torch_reference(x, w, b, kwargs)
    for method in ("im2col", "numba", "torch"):
        dx, dw, db = conv2d_backward(g, x, w, method=method, **kwargs)
        np.testing.assert_allclose(dx, gx, rtol=1e-10, atol=1e-10, err_msg=f"{method} input grad")
        np.testing.assert_allclose(dw, gw, rtol=1e-10, atol=1e-10, err_msg=f"{method} weight grad")
        np.testing.assert_allclose(db, gb, rtol=1e-10, atol=1e-10, err_msg=f"{method} bias grad")


@settings(max_examples=15, deadline=None)
@given(conv_cases())
def test_naive_matches_torch(case):
    x_shape, w_shape, kwargs, seed = case
    x, w, b = _random(x_shape, w_shape, seed)
    expected = F.conv2d(*(torch.from_numpy(a) for a in (x, w, b)), **kwargs).numpy()
    np.testing.assert_allclose(conv2d(x, w, b, method="naive", **kwargs), expected, rtol=1e-10, atol=1e-10)


def test_float32_and_no_bias():
    x, w, _ = _random((4, 5, 13, 11), (6, 5, 3, 5), seed=3, dtype=np.float32)
    expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=(1, 2), stride=2).numpy()
    for method in ("im2col", "numba", "torch"):
        out = conv2d(x, w, stride=2, padding=(1, 2), method=method)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4, err_msg=method)
    dx, dw, db = conv2d_backward(np.ones_like(expected), x, w, stride=2, padding=(1, 2), bias=False)
    assert db is None and dx.dtype == np.float32 and dw.dtype == np.float32


def test_numba_tiles_and_threads_do_not_change_the_answer():
    x, w, b = _random((7, 3, 10, 10), (4, 3, 3, 3), seed=5)
    whole = conv2d_numba(x, w, b, padding=1)
    one_image_at_a_time = conv2d_numba(x, w, b, padding=1, tile_bytes=1, threads=3)
    np.testing.assert_allclose(whole, one_image_at_a_time, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(whole, conv2d(x, w, b, padding=1), rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_numba_tiles_that_start_mid_row_match_torch_for_any_geometry(case):
    """Tiles of 16 output positions cut output rows anywhere; strides, padding and dilation vary."""
    x_shape, w_shape, kwargs, seed = case
    x, w, b = _random(x_shape, w_shape, seed)
    expected = F.conv2d(*(torch.from_numpy(a) for a in (x, w, b)), **kwargs).numpy()
    np.testing.assert_allclose(conv2d_numba(x, w, b, tile_bytes=1, threads=2, shifted=False, **kwargs), expected,
                               rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(conv_cases(), st.integers(1, 3))
def test_shifted_products_match_torch_for_stride_one(case, threads):
    """Stride 1 with any padding, dilation and kernel shape: the shifted-view products, and their threads."""
    x_shape, w_shape, kwargs, seed = case
    kwargs = dict(kwargs, stride=1)
    x, w, b = _random(x_shape, w_shape, seed)
    expected = F.conv2d(*(torch.from_numpy(a) for a in (x, w, b)), **kwargs).numpy()
    np.testing.assert_allclose(conv2d_numba(x, w, b, threads=threads, **kwargs), expected, rtol=1e-10, atol=1e-10)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    expected32 = F.conv2d(torch.from_numpy(x32), torch.from_numpy(w32), **kwargs).numpy()
    np.testing.assert_allclose(conv2d_numba(x32, w32, **kwargs), expected32, rtol=1e-4, atol=1e-4)


def test_im2col_layout_and_col2im_is_its_adjoint():
    rng = np.random.default_rng(0)
    g = conv_geometry((2, 3, 6, 7), (4, 3, 2, 3), stride=(2, 1), padding=1, dilation=(1, 2))
    x = rng.standard_normal((2, 3, 6, 7))
    cols = im2col(x, g)
    assert cols.shape == (2, 3 * 2 * 3, g.out_height * g.out_width)
    np.testing.assert_array_equal(im2col_numba(x, g), cols)
    # row (c, u, v) = (1, 1, 2) at output (i, j) = (1, 3) reads x[c, i*s - p + u*d, j*s - p + v*d] = x[1, 2, 6]
    assert cols[0, (1 * 2 + 1) * 3 + 2, 1 * g.out_width + 3] == x[0, 1, 2, 6]
    # <im2col(x), c> == <x, col2im(c)> for every x and c: col2im is the transpose (adjoint) of im2col
    c = rng.standard_normal(cols.shape)
    assert np.isclose(np.sum(cols * c), np.sum(x * col2im(c, g)))
    np.testing.assert_allclose(col2im_numba(c, g), col2im(c, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size,kernel,stride,padding,dilation,expected", [
    (56, 3, 1, 1, 1, 56), (224, 7, 2, 3, 1, 112), (32, 5, 1, 0, 1, 28), (7, 3, 2, 0, 1, 3),
    (10, 3, 1, 0, 2, 6), (8, 2, 2, 0, 1, 4), (1, 1, 1, 0, 1, 1),
])
def test_output_size_formula(size, kernel, stride, padding, dilation, expected):
    assert conv_output_size(size, kernel, stride, padding, dilation) == expected
    x = torch.zeros(1, 1, size, size)
    w = torch.zeros(1, 1, kernel, kernel)
    assert F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation).shape[-1] == expected


def test_channel_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"channel mismatch.*\(2, 3, 8, 8\).*C = 3.*\(4, 5, 3, 3\).*in_channels = 5"):
        conv2d(np.zeros((2, 3, 8, 8)), np.zeros((4, 5, 3, 3)))


def test_kernel_larger_than_padded_input_shows_the_formula():
    with pytest.raises(ValueError, match=r"dilated kernel d\*\(k-1\)\+1 = 2\*\(3-1\)\+1 = 5 > padded input "
                                         r"size\+2p = 3\+2\*0 = 3"):
        conv2d(np.zeros((1, 1, 3, 9)), np.zeros((1, 1, 3, 3)), dilation=2)
    with pytest.raises(ValueError, match=r"= 7 > padded input size\+2p = 4\+2\*1 = 6"):
        conv_output_size(4, 7, 1, 1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(stride=0), "stride must be positive, got 0"),
    (dict(stride=(1, -2)), r"stride must be positive, got \(1, -2\)"),
    (dict(padding=-1), "padding must be non-negative"),
    (dict(dilation=0), "dilation must be positive"),
])
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), **kwargs)


def test_type_and_shape_errors():
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), stride=1.5)
    with pytest.raises(ValueError, match=r"4-D input \(N, C, H, W\), got shape \(5, 5\)"):
        conv2d(np.zeros((5, 5)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(TypeError, match="float32 or float64.*int64"):
        conv2d(np.zeros((1, 1, 5, 5), dtype=np.int64), np.zeros((1, 1, 3, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="share a dtype"):
        conv2d(np.zeros((1, 1, 5, 5), dtype=np.float32), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(out_channels,\) = \(2,\)"):
        conv2d(np.zeros((1, 1, 5, 5)), np.zeros((2, 1, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="unknown conv2d method 'fast'"):
        conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), method="fast")
    with pytest.raises(ValueError, match=r"grad_output must have the output's shape \(1, 1, 3, 3\)"):
        conv2d_backward(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="would take .* Python multiply-adds"):
        conv2d(np.zeros((8, 16, 32, 32)), np.zeros((16, 16, 3, 3)), method="naive")


def test_methods_list():
    assert CONV_METHODS == ("naive", "im2col", "numba", "cuda", "torch")
