"""Every matmul method against NumPy (and torch) on random shapes, dtypes and memory layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.kernels import (
    MATMUL_METHODS,
    NAIVE_MAX_MULTIPLY_ADDS,
    check_matmul_shapes,
    matmul,
    matmul_blocked,
    matmul_naive,
    matmul_numba,
    matmul_numba_blocked,
    matmul_strassen,
    matmul_torch,
    result_dtype,
    strassen_products,
)

CPU_METHODS = [m for m in MATMUL_METHODS if not m.startswith("cuda")]


def tolerance(dtype, k):
    """Rounding grows with the length k of each sum; float32 keeps ~7 digits, float64 ~16."""
    eps = np.finfo(dtype).eps
    return dict(rtol=50 * eps * max(k, 1) ** 0.5, atol=50 * eps * max(k, 1))


def random(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def test_methods_listed():
    assert MATMUL_METHODS == ("naive", "numpy", "blocked", "strassen", "numba", "numba_blocked",
                              "cuda_naive", "cuda_tiled", "cuda_register", "torch")


@pytest.mark.parametrize("method", CPU_METHODS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 4), (7, 13, 5), (17, 31, 29), (64, 64, 64), (97, 101, 3)])
def test_method_matches_numpy(method, dtype, shape):
    m, k, n = shape
    rng = np.random.default_rng(sum(shape))
    A, B = random(rng, (m, k), dtype), random(rng, (k, n), dtype)
    C = matmul(A, B, method)
    assert C.shape == (m, n) and C.dtype == dtype
    np.testing.assert_allclose(C, A.astype(np.float64) @ B.astype(np.float64), **tolerance(dtype, k))


@settings(max_examples=60, deadline=None)
@given(m=st.integers(0, 40), k=st.integers(0, 40), n=st.integers(0, 40),
       method=st.sampled_from(CPU_METHODS), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_random_shapes(m, k, n, method, dtype, seed):
    rng = np.random.default_rng(seed)
    A, B = random(rng, (m, k), dtype), random(rng, (k, n), dtype)
    C = matmul(A, B, method)
    assert C.shape == (m, n) and C.dtype == dtype
    np.testing.assert_allclose(C, A.astype(np.float64) @ B.astype(np.float64), **tolerance(dtype, k))


@pytest.mark.parametrize("method", CPU_METHODS)
def test_any_strides_and_memory_order(method):
    rng = np.random.default_rng(1)
    big_a = random(rng, (40, 60), np.float32)
    big_b = random(rng, (50, 30), np.float32)
    cases = [
        (np.asfortranarray(big_a[:23, :19]), np.asfortranarray(big_b[:19, :11])),  # Fortran order
        (big_a[::2, 1::3], big_b[:20:1, ::2]),                                      # strided views
        (big_a[:31, :17].T, big_b[:31, :9]),                                        # a transpose
        (big_a[::-1, ::-2][:7, :30], big_b[::-1][:30, :5]),                         # negative strides
    ]
    for A, B in cases:
        np.testing.assert_allclose(matmul(A, B, method), A @ B, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("method", CPU_METHODS)
def test_zero_size_dimensions(method):
    for m, k, n in [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0)]:
        C = matmul(np.ones((m, k)), np.ones((k, n)), method)
        assert C.shape == (m, n)
        assert not C.any()  # the empty sum is zero


@pytest.mark.parametrize("method", ["numpy", "blocked", "numba", "naive"])
def test_vectors_and_stacks_follow_numpy(method):
    rng = np.random.default_rng(2)
    cases = [
        (random(rng, (4,), np.float64), random(rng, (4, 3), np.float64)),
        (random(rng, (3, 4), np.float64), random(rng, (4,), np.float64)),
        (random(rng, (4,), np.float64), random(rng, (4,), np.float64)),
        (random(rng, (2, 1, 3, 4), np.float64), random(rng, (5, 4, 2), np.float64)),
        (random(rng, (6, 3, 4), np.float64), random(rng, (4, 2), np.float64)),
    ]
    for A, B in cases:
        expected = np.matmul(A, B)
        C = matmul(A, B, method)
        assert np.shape(C) == np.shape(expected)
        np.testing.assert_allclose(C, expected, rtol=1e-12, atol=1e-12)


def test_dtype_rules():
    assert result_dtype(np.float32, np.float32) == np.float32
    assert result_dtype(np.float32, np.float64) == np.float64
    assert result_dtype(np.int64, np.int32) == np.float64
    assert result_dtype(np.bool_, np.float32) == np.float32
    assert result_dtype(np.float16, np.float16) == np.float32
    ints = np.arange(12).reshape(3, 4)
    for method in CPU_METHODS:
        C = matmul(ints, ints.T, method)
        assert C.dtype == np.float64
        np.testing.assert_array_equal(C, (ints @ ints.T).astype(np.float64))  # exact: small integers


@pytest.mark.parametrize("bad", [np.ones((2, 2), dtype=complex), np.array([["a", "b"], ["c", "d"]], dtype=object)])
def test_unsupported_dtypes_raise_type_error(bad):
    with pytest.raises(TypeError, match="real numbers"):
        matmul(bad, np.ones((2, 2)))


@pytest.mark.parametrize("method", CPU_METHODS)
def test_inner_dimension_mismatch_names_both_shapes(method):
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        matmul(np.ones((3, 4)), np.ones((5, 2)), method)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown method 'fast'"):
        matmul(np.ones((2, 2)), np.ones((2, 2)), "fast")
    with pytest.raises(ValueError, match="at least one axis"):
        matmul(np.float64(3.0), np.ones((2, 2)))
    with pytest.raises(ValueError, match="do not broadcast"):
        matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        check_matmul_shapes((3, 4), (5, 2))
    with pytest.raises(ValueError, match="2-D"):
        check_matmul_shapes((3,), (3, 2))
    assert check_matmul_shapes((3, 4), (4, 2)) == (3, 4, 2)
    with pytest.raises(ValueError, match="tile must be at least 1"):
        matmul_blocked(np.ones((2, 2)), np.ones((2, 2)), tile=0)
    with pytest.raises(ValueError, match="leaf size must be at least 1"):
        matmul_strassen(np.ones((2, 2)), np.ones((2, 2)), leaf=0)
    with pytest.raises(ValueError, match="inner dimensions differ"):
        matmul_strassen(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="block size kc must be at least 1"):
        matmul_numba_blocked(np.ones((2, 2)), np.ones((2, 2)), kc=0)


def test_naive_on_lists_and_its_size_limit():
    assert matmul_naive([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]
    with pytest.raises(ValueError, match="inner dimensions differ"):
        matmul_naive([[1, 2, 3]], [[1], [2]])
    with pytest.raises(ValueError, match="rectangular"):
        matmul_naive([[1, 2], [3]], [[1], [2]])
    side = round(NAIVE_MAX_MULTIPLY_ADDS ** (1 / 3)) + 2
    with pytest.raises(ValueError, match=r"refuses .* pure Python would take about \d+ s"):
        matmul(np.ones((side, side)), np.ones((side, side)), "naive")


@pytest.mark.parametrize("leaf", [1, 2, 3, 8])
@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 2, 2), (5, 7, 3), (16, 16, 16), (33, 9, 20)])
def test_strassen_any_shape_any_leaf(leaf, shape):
    m, k, n = shape
    rng = np.random.default_rng(leaf)
    A, B = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    np.testing.assert_allclose(matmul_strassen(A, B, leaf=leaf), A @ B, rtol=1e-10, atol=1e-10)


def test_strassen_seven_products_rebuild_the_four_blocks():
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((6, 4)), rng.standard_normal((4, 8))
    M1, M2, M3, M4, M5, M6, M7 = strassen_products(A, B)
    C = A @ B
    np.testing.assert_allclose(M1 + M4 - M5 + M7, C[:3, :4])
    np.testing.assert_allclose(M3 + M5, C[:3, 4:])
    np.testing.assert_allclose(M2 + M4, C[3:, :4])
    np.testing.assert_allclose(M1 - M2 + M3 + M6, C[3:, 4:])


@pytest.mark.parametrize("blocks", [(1, 4, 3), (5, 8, 6), (7, 1, 1), (512, 64, 1023)])
def test_numba_blocked_block_sizes(blocks):
    kc, mc, nc = blocks
    rng = np.random.default_rng(kc)
    A, B = random(rng, (45, 67), np.float32), random(rng, (67, 38), np.float32)
    np.testing.assert_allclose(matmul_numba_blocked(A, B, kc=kc, mc=mc, nc=nc), A @ B, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(matmul_numba(A, B), A @ B, rtol=1e-4, atol=1e-4)


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40), kc=st.integers(1, 20),
       mc=st.integers(1, 20), nc=st.integers(1, 40), threads=st.integers(1, 2),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_numba_blocked_any_blocks_and_threads(m, k, n, kc, mc, nc, threads, dtype):
    """Edge micro-panels, several panels in every direction, and the split of rows over workers."""
    import numba

    rng = np.random.default_rng(m * 10_000 + k * 100 + n)
    A, B = random(rng, (m, k), dtype), random(rng, (k, n), dtype)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        got = matmul_numba_blocked(A, B, kc=kc, mc=mc, nc=nc)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_allclose(got, A.astype(np.float64) @ B, **tolerance(dtype, k))


def test_numba_blocked_larger_than_one_panel():
    rng = np.random.default_rng(4)
    A, B = random(rng, (130, 600), np.float64), random(rng, (600, 1100), np.float64)
    np.testing.assert_allclose(matmul_numba_blocked(A, B), A @ B, rtol=1e-10, atol=1e-10)


def test_torch_keeps_tensors_and_matches_torch():
    a, b = torch.randn(5, 7, dtype=torch.float64), torch.randn(7, 3, dtype=torch.float64)
    out = matmul(a, b, "torch")
    assert isinstance(out, torch.Tensor) and out.device == a.device
    torch.testing.assert_close(out, a @ b)
    np.testing.assert_allclose(matmul_torch(a.numpy(), b.numpy()), (a @ b).numpy())
    np.testing.assert_allclose(matmul(a.numpy(), b.numpy(), "numba_blocked"), (a @ b).numpy(), rtol=1e-12)
