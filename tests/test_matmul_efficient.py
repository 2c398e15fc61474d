"""Fusion, traversal order, int8 quantisation and pruning (mlbook.kernels.efficient)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.kernels.efficient import (
    int8_matmul,
    prune_by_magnitude,
    quantize_int8,
    quantized_matmul,
    scale_shift_relu_fused,
    scale_shift_relu_unfused,
    sum_columns_first,
    sum_rows_first,
)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 9), min_size=1, max_size=3), scale=st.floats(-3, 3), shift=st.floats(-3, 3),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 1000))
def test_fused_equals_unfused_and_torch(shape, scale, shift, dtype, seed):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    fused = scale_shift_relu_fused(x, scale, shift)
    assert fused.shape == x.shape and fused.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fused, scale_shift_relu_unfused(x, dtype(scale), dtype(shift)), rtol=tol, atol=tol)
    np.testing.assert_allclose(fused, torch.relu(torch.from_numpy(x) * scale + shift).numpy(), rtol=tol, atol=tol)


def test_fused_rejects_integers_and_accepts_views():
    with pytest.raises(TypeError, match="float array, got dtype int64"):
        scale_shift_relu_fused(np.arange(3), 1.0, 0.0)
    x = np.random.default_rng(0).standard_normal((6, 8))[::2, ::3]
    np.testing.assert_allclose(scale_shift_relu_fused(x, 2.0, -0.5), np.maximum(2 * x - 0.5, 0))


def test_traversal_orders_agree():
    X = np.random.default_rng(1).standard_normal((37, 23))
    assert sum_rows_first(X) == pytest.approx(X.sum())
    assert sum_columns_first(X) == pytest.approx(X.sum())


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 20), k=st.integers(1, 40), n=st.integers(1, 20), seed=st.integers(0, 1000))
def test_quantized_matmul_error_is_small(m, k, n, seed):
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    exact = A.astype(np.float64) @ B
    approx = quantized_matmul(A, B)
    # each factor is off by at most half a step (max|row| / 254); the products add up to this bound
    bound = (np.abs(A).max(1, keepdims=True) * np.abs(B).sum(0, keepdims=True) / 254
             + np.abs(A).sum(1, keepdims=True) * np.abs(B).max(0, keepdims=True) / 254) * 1.01 + 1e-5
    assert np.all(np.abs(approx - exact) <= bound)


def test_quantize_int8_round_trip_and_errors():
    X = np.array([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]], dtype=np.float32)
    Q, scale = quantize_int8(X, axis=1)
    assert Q.dtype == np.int8 and scale.shape == (2, 1)
    assert Q[0, 1] == -127 and np.all(Q[1] == 0) and scale[1, 0] == 1.0
    np.testing.assert_allclose(Q * scale, X, atol=2.0 / 254 + 1e-7)
    with pytest.raises(ValueError, match="axis 0 or 1"):
        quantize_int8(X, axis=2)
    with pytest.raises(TypeError, match="int8 operands"):
        int8_matmul(X, scale, X.T, scale.T)
    with pytest.raises(ValueError, match="inner dimensions differ"):
        int8_matmul(Q, scale, Q, np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="scales must have shapes"):
        int8_matmul(Q, np.ones((3, 1), np.float32), Q.T.copy(), np.ones((1, 2), np.float32))


def test_int8_matmul_is_exact_on_integers():
    rng = np.random.default_rng(2)
    Aq = rng.integers(-127, 128, (5, 300)).astype(np.int8)
    Bq = rng.integers(-127, 128, (300, 4)).astype(np.int8)
    ones_a, ones_b = np.ones((5, 1), np.float32), np.ones((1, 4), np.float32)
    np.testing.assert_array_equal(int8_matmul(Aq, ones_a, Bq, ones_b), (Aq.astype(np.int64) @ Bq).astype(np.float32))


def test_prune_by_magnitude():
    W = np.array([[0.1, -3.0], [2.0, -0.2]])
    pruned = prune_by_magnitude(W, 0.5)
    np.testing.assert_array_equal(pruned, [[0.0, -3.0], [2.0, 0.0]])
    assert W[0, 0] == 0.1  # the input is not modified
    big = np.random.default_rng(3).standard_normal((40, 50))
    for sparsity in (0.0, 0.3, 0.9, 1.0):
        assert np.count_nonzero(prune_by_magnitude(big, sparsity) == 0) == round(sparsity * big.size)
    with pytest.raises(ValueError, match=r"sparsity must lie in \[0, 1\], got 1.5"):
        prune_by_magnitude(W, 1.5)
