"""CSR x dense products and one-hot embedding lookups against SciPy and NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.kernels import CSRMatrix, csr_matmul, one_hot_csr


def sparse_dense(rng, shape, density, dtype=np.float64):
    A = rng.standard_normal(shape).astype(dtype)
    A[rng.random(shape) >= density] = 0
    return A


@settings(max_examples=60, deadline=None)
@given(m=st.integers(0, 30), k=st.integers(0, 30), n=st.integers(0, 20),
       density=st.floats(0, 1), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_csr_matches_scipy_and_numpy(m, k, n, density, dtype, seed):
    rng = np.random.default_rng(seed)
    A = sparse_dense(rng, (m, k), density, dtype)
    B = rng.standard_normal((k, n)).astype(dtype)
    S = CSRMatrix.from_dense(A)
    reference = scipy.sparse.csr_matrix(A)
    np.testing.assert_array_equal(S.indptr, reference.indptr)
    np.testing.assert_array_equal(S.indices, reference.indices)
    np.testing.assert_array_equal(S.to_dense(), A)
    assert S.nnz == reference.nnz
    C = csr_matmul(S, B)
    assert C.dtype == dtype and C.shape == (m, n)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(C, A @ B, rtol=tol, atol=tol)
    np.testing.assert_allclose(C, reference @ B, rtol=tol, atol=tol)


def test_density_and_non_contiguous_dense():
    rng = np.random.default_rng(0)
    A = sparse_dense(rng, (20, 30), 0.1)
    S = CSRMatrix.from_dense(A)
    assert S.density == pytest.approx(np.count_nonzero(A) / A.size)
    B = np.asfortranarray(rng.standard_normal((60, 8)))[::2]
    np.testing.assert_allclose(csr_matmul(S, B), A @ B, rtol=1e-12, atol=1e-12)


def test_one_hot_product_is_an_embedding_lookup():
    rng = np.random.default_rng(1)
    table = rng.standard_normal((50, 16)).astype(np.float32)
    ids = rng.integers(0, 50, size=33)
    S = one_hot_csr(ids, 50)
    assert S.shape == (33, 50) and S.nnz == 33
    np.testing.assert_array_equal(csr_matmul(S, table), table[ids])


def test_bad_input():
    S = CSRMatrix.from_dense(np.eye(3))
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(4, 2\)"):
        csr_matmul(S, np.ones((4, 2)))
    with pytest.raises(TypeError, match="CSRMatrix"):
        csr_matmul(np.eye(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="indptr must have m \\+ 1 = 3"):
        CSRMatrix(np.ones(1), np.zeros(1, dtype=np.int64), np.array([0, 1]), (2, 2))
    with pytest.raises(ValueError, match=r"column indices must lie in \[0, 2\)"):
        CSRMatrix(np.ones(1), np.array([5]), np.array([0, 1, 1]), (2, 2))
    with pytest.raises(ValueError, match="never decrease"):
        CSRMatrix(np.ones(1), np.array([0]), np.array([0, 2, 1]), (2, 2))
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 5\)"):
        one_hot_csr(np.array([1, 7]), 5)
    with pytest.raises(ValueError, match="1-D array of integers"):
        one_hot_csr(np.array([0.5]), 5)
    with pytest.raises(ValueError, match="2-D"):
        CSRMatrix.from_dense(np.ones(3))
