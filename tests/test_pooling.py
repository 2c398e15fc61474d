"""Max and average pooling, forward and backward, against torch.nn.functional and torch.autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.kernels.pooling import (
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
    pool_output_shape,
)


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    h = draw(st.integers(max(1, kh - 2 * padding[0]), 10))
    w = draw(st.integers(max(1, kw - 2 * padding[1]), 10))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    return shape, (kh, kw), stride, padding, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=80, deadline=None)
@given(pool_cases())
def test_max_pool_matches_torch(case):
    shape, kernel, stride, padding, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    xt = torch.from_numpy(x).requires_grad_()
    yt = F.max_pool2d(xt, kernel, stride=stride, padding=padding)
    g = torch.from_numpy(np.random.default_rng(seed + 1).standard_normal(tuple(yt.shape)))
    yt.backward(g)
    y, argmax = max_pool2d(x, kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(y, yt.detach().numpy())
    assert pool_output_shape(shape, kernel, stride, padding) == y.shape
    grad = max_pool2d_backward(g.numpy(), argmax, shape, kernel, stride, padding)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


@settings(max_examples=80, deadline=None)
@given(pool_cases())
def test_avg_pool_matches_torch(case):
    shape, kernel, stride, padding, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    xt = torch.from_numpy(x).requires_grad_()
    yt = F.avg_pool2d(xt, kernel, stride=stride, padding=padding)
    g = torch.from_numpy(np.random.default_rng(seed + 1).standard_normal(tuple(yt.shape)))
    yt.backward(g)
    np.testing.assert_allclose(avg_pool2d(x, kernel, stride, padding), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    grad = avg_pool2d_backward(g.numpy(), shape, kernel, stride, padding)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    x = np.ones((1, 1, 2, 2))
    y, argmax = max_pool2d(x, 2, return_indices=True)
    grad = max_pool2d_backward(np.ones_like(y), argmax, x.shape, 2)
    np.testing.assert_array_equal(grad, [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_pooling_errors():
    with pytest.raises(ValueError, match=r"4-D input \(N, C, H, W\), got shape \(4, 4\)"):
        max_pool2d(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match=r"padding \(2, 2\) must be at most half the window \(2, 2\)"):
        avg_pool2d(np.zeros((1, 1, 4, 4)), 2, padding=2)
    with pytest.raises(ValueError, match=r"kernel larger than the padded input.*= 5 > padded input size\+2p = 3\+2\*0 = 3"):
        max_pool2d(np.zeros((1, 1, 3, 8)), 5)
    with pytest.raises(ValueError, match="stride must be positive"):
        max_pool2d(np.zeros((1, 1, 4, 4)), 2, stride=0)
    with pytest.raises(TypeError, match="floating-point"):
        max_pool2d(np.zeros((1, 1, 4, 4), dtype=np.int32), 2)
    y, argmax = max_pool2d(np.zeros((1, 1, 4, 4)), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"must both have the output shape \(1, 1, 2, 2\)"):
        max_pool2d_backward(np.zeros((1, 1, 3, 3)), argmax, (1, 1, 4, 4), 2)
