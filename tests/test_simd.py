"""The SIMD intrinsics of mlbook.kernels.simd against NumPy, lane by lane, and their typing errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from numba.core.errors import TypingError

from mlbook.kernels.simd import (VECTOR_BYTES, lanes, prefetch, vadd_store, vbroadcast, vfma, vload,
                                 vstore, vzeros)

DTYPES = [np.float32, np.float64]


@njit
def _load_store(src, i, dst, j):
    vstore(dst, j, vload(src, i))


@njit
def _add_store(src, i, dst, j):
    vadd_store(dst, j, vload(src, i))


@njit
def _fma(a, b, c, out, scalar_source, s):
    """out[:lanes] = a * b + c, and out[lanes:2*lanes] = scalar_source[s] * a + zeros."""
    va = vload(a, 0)
    vstore(out, 0, vfma(va, vload(b, 0), vload(c, 0)))
    width = out.size // 2
    vstore(out, width, vfma(vbroadcast(scalar_source, s), va, vzeros(a)))


@njit
def _prefetch_everything(a):
    for i in range(a.size):
        prefetch(a, i)


def test_lanes_fill_one_vector():
    assert lanes(np.float32) == 8 and lanes(np.float64) == 4
    assert all(lanes(d) * np.dtype(d).itemsize == VECTOR_BYTES for d in DTYPES)


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from(DTYPES), size=st.integers(8, 40), data=st.data())
def test_load_then_store_copies_one_vector_at_any_offset(dtype, size, data):
    width = lanes(dtype)
    i = data.draw(st.integers(0, size - width))
    j = data.draw(st.integers(0, size - width))
    rng = np.random.default_rng(size)
    src = rng.standard_normal(size).astype(dtype)
    dst = rng.standard_normal(size).astype(dtype)
    expected = dst.copy()
    expected[j:j + width] = src[i:i + width]  # unaligned offsets included: every i and j is allowed
    _load_store(src, i, dst, j)
    np.testing.assert_array_equal(dst, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_add_store_adds_into_exactly_one_vector(dtype):
    width = lanes(dtype)
    rng = np.random.default_rng(1)
    src = rng.standard_normal(3 * width).astype(dtype)
    dst = rng.standard_normal(3 * width).astype(dtype)
    expected = dst.copy()
    expected[5:5 + width] += src[2:2 + width]
    _add_store(src, 2, dst, 5)
    np.testing.assert_array_equal(dst, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fma_broadcast_and_zeros_match_numpy(dtype):
    width = lanes(dtype)
    rng = np.random.default_rng(2)
    a, b, c = (rng.standard_normal(width).astype(dtype) for _ in range(3))
    scalars = rng.standard_normal(7).astype(dtype)
    out = np.full(2 * width, np.nan, dtype=dtype)
    _fma(a, b, c, out, scalars, 4)
    # fused: one rounding of the exact a*b+c, which float64 arithmetic reproduces for float32 inputs
    if dtype == np.float32:
        exact = (a.astype(np.float64) * b + c).astype(np.float32)
        np.testing.assert_array_equal(out[:width], exact)
    else:
        np.testing.assert_allclose(out[:width], a * b + c, rtol=1e-15)
    np.testing.assert_array_equal(out[width:], scalars[4] * a)


def test_prefetch_changes_nothing():
    a = np.arange(100, dtype=np.float32)
    _prefetch_everything(a)
    np.testing.assert_array_equal(a, np.arange(100, dtype=np.float32))


@pytest.mark.parametrize("bad, message", [
    (np.arange(16, dtype=np.int64), "float32 or float64"),
    (np.ones((4, 8), dtype=np.float32), "1-D"),
    (np.ones(32, dtype=np.float32)[::2], "C-contiguous"),
])
def test_bad_arrays_are_refused_with_the_reason(bad, message):
    @njit
    def load(x):
        return vload(x, 0)

    with pytest.raises(TypingError, match=message):
        load(bad)


def test_mixed_vectors_and_float_index_are_refused():
    @njit
    def mixed(x32, x64):
        return vfma(vload(x32, 0), vload(x64, 0), vload(x32, 0))

    @njit
    def float_index(x):
        return vload(x, 1.5)

    @njit
    def wrong_store(x32, x64):
        vstore(x32, 0, vload(x64, 0))

    x32, x64 = np.ones(8, np.float32), np.ones(8, np.float64)
    with pytest.raises(TypingError, match="vfma needs three vectors of one type"):
        mixed(x32, x64)
    with pytest.raises(TypingError, match="integer element index"):
        float_index(x32)
    with pytest.raises(TypingError, match="vstore into an array of float32 needs"):
        wrong_store(x32, x64)
