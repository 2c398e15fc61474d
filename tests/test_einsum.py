"""mlbook.einsum against NumPy and PyTorch on random shapes, odd shapes and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook import einsum as E

DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): dict(rtol=2e-4, atol=2e-5), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}

dims = st.integers(1, 6)  # 1 on purpose: size-1 axes are where broadcasting bugs hide
seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from(DTYPES)
fast = settings(max_examples=60, deadline=None)


def randn(seed: int, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def close(actual, expected, dtype) -> None:
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, **TOL[np.dtype(dtype)])


# --- the basic contractions -----------------------------------------------------------------------


@fast
@given(n=dims, seed=seeds, dtype=dtypes)
def test_dot_matches_numpy_and_torch(n, seed, dtype):
    u, v = randn(seed, (n,), dtype), randn(seed + 1, (n,), dtype)
    result = E.dot(u, v)
    assert result.dtype == dtype and np.ndim(result) == 0
    close(result, np.dot(u, v), dtype)
    close(result, torch.einsum("i,i->", torch.from_numpy(u), torch.from_numpy(v)), dtype)


@fast
@given(m=dims, n=dims, seed=seeds, dtype=dtypes)
def test_outer_matches_numpy_and_torch(m, n, seed, dtype):
    u, v = randn(seed, (m,), dtype), randn(seed + 1, (n,), dtype)
    result = E.outer(u, v)
    assert result.shape == (m, n) and result.dtype == dtype
    close(result, np.outer(u, v), dtype)
    close(result, torch.outer(torch.from_numpy(u), torch.from_numpy(v)), dtype)


@fast
@given(m=dims, n=dims, p=dims, seed=seeds, dtype=dtypes)
def test_matmul_matches_at_operator_and_torch(m, n, p, seed, dtype):
    A, B = randn(seed, (m, n), dtype), randn(seed + 1, (n, p), dtype)
    result = E.matmul(A, B)
    assert result.shape == (m, p) and result.dtype == dtype
    close(result, A @ B, dtype)
    close(result, torch.einsum("ij,jk->ik", torch.from_numpy(A), torch.from_numpy(B)), dtype)


@fast
@given(n=dims, seed=seeds, dtype=dtypes)
def test_trace_and_diag_match_numpy(n, seed, dtype):
    A = randn(seed, (n, n), dtype)
    close(E.trace(A), np.trace(A), dtype)
    close(E.trace(A), torch.einsum("ii->", torch.from_numpy(A)), dtype)
    np.testing.assert_array_equal(E.diag(A), np.diagonal(A))


def test_diag_is_a_read_only_view():
    A = np.arange(9.0).reshape(3, 3)
    d = E.diag(A)
    assert np.shares_memory(d, A)
    with pytest.raises(ValueError, match="read-only"):
        d[0] = 100.0
    assert A[0, 0] == 0.0


@fast
@given(m=dims, n=dims, seed=seeds)
def test_transpose_and_sums_match_numpy(m, n, seed):
    A = randn(seed, (m, n))
    np.testing.assert_array_equal(E.transpose(A), A.T)
    assert np.shares_memory(E.transpose(A), A)
    np.testing.assert_allclose(E.row_sums(A), A.sum(axis=1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(E.column_sums(A), A.sum(axis=0), rtol=1e-12, atol=1e-12)


@fast
@given(b=dims, m=dims, n=dims, p=dims, seed=seeds, dtype=dtypes)
def test_batch_matmul_matches_numpy_and_torch_bmm(b, m, n, p, seed, dtype):
    A, B = randn(seed, (b, m, n), dtype), randn(seed + 1, (b, n, p), dtype)
    result = E.batch_matmul(A, B)
    assert result.shape == (b, m, p) and result.dtype == dtype
    close(result, np.matmul(A, B), dtype)
    close(result, torch.bmm(torch.from_numpy(A), torch.from_numpy(B)), dtype)


def test_integer_inputs_are_contracted_exactly():
    A = np.arange(6).reshape(2, 3)
    B = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(E.matmul(A, B), A @ B)
    assert E.dot([1, 2, 3], [4, 5, 6]) == 32


# --- attention ------------------------------------------------------------------------------------


@fast
@given(b=dims, h=dims, q=dims, k=dims, d=dims, seed=seeds, dtype=dtypes)
def test_attention_scores_are_scaled_query_key_products(b, h, q, k, d, seed, dtype):
    Q, K = randn(seed, (b, h, q, d), dtype), randn(seed + 1, (b, h, k, d), dtype)
    scores = E.attention_scores(Q, K)
    assert scores.shape == (b, h, q, k) and scores.dtype == dtype
    tQ, tK = torch.from_numpy(Q), torch.from_numpy(K)
    close(scores, tQ @ tK.transpose(-2, -1) / np.sqrt(d), dtype)
    close(E.attention_scores(Q, K, scale=1.0), torch.einsum("bhqd,bhkd->bhqk", tQ, tK), dtype)


@fast
@given(shape=st.lists(dims, min_size=1, max_size=4), seed=seeds, dtype=dtypes, data=st.data())
def test_softmax_matches_torch_along_any_axis(shape, seed, dtype, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = randn(seed, tuple(shape), dtype) * 5
    result = E.softmax(x, axis=axis)
    assert result.dtype == dtype
    close(result, torch.softmax(torch.from_numpy(x), dim=axis), dtype)
    close(result.sum(axis=axis), np.ones_like(x.sum(axis=axis)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_does_not_overflow_on_large_logits(dtype):
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]], dtype=dtype)
    result = E.softmax(x)
    assert np.all(np.isfinite(result))
    close(result, torch.softmax(torch.from_numpy(x), dim=-1), dtype)


@fast
@given(rows=dims, cols=dims, seed=seeds, dtype=dtypes)
def test_masked_softmax_matches_torch_on_rows_with_a_true_entry(rows, cols, seed, dtype):
    x = randn(seed, (rows, cols), dtype)
    keep = np.random.default_rng(seed + 1).random((rows, cols)) < 0.6
    keep[:, 0] = True
    expected = torch.softmax(torch.from_numpy(x).masked_fill(~torch.from_numpy(keep), float("-inf")), dim=-1)
    result = E.softmax(x, where=keep)
    close(result, expected, dtype)
    assert np.all(result[~keep] == 0.0)


def test_masked_softmax_gives_zeros_for_a_fully_masked_row():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    keep = np.array([[True, False, True], [False, False, False]])
    result = E.softmax(x, where=keep)
    np.testing.assert_array_equal(result[1], 0.0)
    np.testing.assert_allclose(result[0], [np.exp(-2) / (1 + np.exp(-2)), 0.0, 1 / (1 + np.exp(-2))])


@pytest.mark.parametrize(("q_len", "k_len"), [(1, 1), (4, 4), (3, 6), (6, 3)])
def test_causal_mask_matches_torch_is_causal(q_len, k_len):
    mask = E.causal_mask(q_len, k_len)
    np.testing.assert_array_equal(mask, torch.ones(q_len, k_len, dtype=torch.bool).tril().numpy())
    Q, K, V = randn(0, (2, q_len, 5)), randn(1, (2, k_len, 5)), randn(2, (2, k_len, 3))
    out, _ = E.scaled_dot_product_attention(Q, K, V, mask)
    expected = F.scaled_dot_product_attention(*map(torch.from_numpy, (Q, K, V)), is_causal=True)
    close(out, expected, np.float64)


def torch_sdpa(Q, K, V, mask=None, scale=None):
    as_tensor = torch.from_numpy
    attn_mask = None if mask is None else as_tensor(np.ascontiguousarray(mask))
    return F.scaled_dot_product_attention(as_tensor(Q), as_tensor(K), as_tensor(V), attn_mask=attn_mask, scale=scale)


@fast
@given(b=dims, h=dims, q=dims, k=dims, d=dims, dv=dims, seed=seeds, dtype=dtypes)
def test_sdpa_matches_torch_without_mask(b, h, q, k, d, dv, seed, dtype):
    Q, K, V = randn(seed, (b, h, q, d), dtype), randn(seed + 1, (b, h, k, d), dtype), randn(seed + 2, (b, h, k, dv), dtype)
    out, weights = E.scaled_dot_product_attention(Q, K, V)
    assert out.shape == (b, h, q, dv) and weights.shape == (b, h, q, k)
    assert out.dtype == dtype and weights.dtype == dtype
    close(out, torch_sdpa(Q, K, V), dtype)
    close(weights.sum(axis=-1), np.ones((b, h, q)), dtype)
    close(weights, torch.softmax(torch.from_numpy(E.attention_scores(Q, K)), dim=-1), dtype)


@fast
@given(
    b=dims, h=dims, q=dims, k=dims, d=dims, seed=seeds, dtype=dtypes,
    mask_shape=st.sampled_from(["qk", "1qk", "11qk", "b1qk", "bhqk", "b11k"]),
)
def test_sdpa_matches_torch_with_broadcast_boolean_masks(b, h, q, k, d, seed, dtype, mask_shape):
    Q, K, V = randn(seed, (b, h, q, d), dtype), randn(seed + 1, (b, h, k, d), dtype), randn(seed + 2, (b, h, k, d), dtype)
    sizes = {"b": b, "h": h, "q": q, "k": k, "1": 1}
    mask = np.random.default_rng(seed + 3).random(tuple(sizes[c] for c in mask_shape)) < 0.5  # some rows all False
    out, weights = E.scaled_dot_product_attention(Q, K, V, mask)
    # torch 2.13 also returns zeros for a fully masked query, so the two agree everywhere.
    close(out, torch_sdpa(Q, K, V, mask), dtype)
    full = np.broadcast_to(mask, weights.shape)
    assert np.all(weights[~full] == 0.0)
    row_sums = weights.sum(axis=-1)
    close(row_sums, np.where(full.any(axis=-1), 1.0, 0.0), dtype)
    assert not np.any(np.isnan(out))


def test_sdpa_fully_masked_query_gives_zero_output_and_weights():
    Q, K, V = randn(0, (3, 4)), randn(1, (5, 4)), randn(2, (5, 2))
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False
    out, weights = E.scaled_dot_product_attention(Q, K, V, mask)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_array_equal(weights[1], 0.0)
    np.testing.assert_allclose(out, torch_sdpa(Q, K, V, mask).numpy(), rtol=1e-12, atol=1e-12)


@fast
@given(q=dims, k=dims, d=dims, seed=seeds, scale=st.floats(0.01, 3.0))
def test_sdpa_unbatched_inputs_and_custom_scale(q, k, d, seed, scale):
    Q, K, V = randn(seed, (q, d)), randn(seed + 1, (k, d)), randn(seed + 2, (k, d))
    out, weights = E.scaled_dot_product_attention(Q, K, V, scale=scale)
    assert out.shape == (q, d) and weights.shape == (q, k)
    close(out, torch_sdpa(Q, K, V, scale=scale), np.float64)


def test_sdpa_broadcasts_leading_dimensions():
    Q = randn(0, (2, 3, 4, 5))  # (batch, heads, q, d)
    K, V = randn(1, (3, 6, 5)), randn(2, (1, 3, 6, 2))  # K shared across the batch
    out, weights = E.scaled_dot_product_attention(Q, K, V)
    assert out.shape == (2, 3, 4, 2) and weights.shape == (2, 3, 4, 6)
    expected = torch_sdpa(Q, np.broadcast_to(K, (2, 3, 6, 5)).copy(), np.broadcast_to(V, (2, 3, 6, 2)).copy())
    close(out, expected, np.float64)


def torch_mha(x, num_heads, dtype, attn_mask_true_means_attend=None):
    """torch.nn.MultiheadAttention (no biases) and the same weights as (W_q, W_k, W_v, W_o) for x @ W."""
    d_model = x.shape[-1]
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    mha = torch.nn.MultiheadAttention(d_model, num_heads, bias=False, batch_first=True, dtype=torch_dtype)
    tx = torch.from_numpy(x)
    # nn.MultiheadAttention's boolean attn_mask is the opposite convention: True = NOT allowed to attend.
    mask = None if attn_mask_true_means_attend is None else torch.from_numpy(~attn_mask_true_means_attend)
    with torch.no_grad():
        out, weights = mha(tx, tx, tx, attn_mask=mask, need_weights=True, average_attn_weights=False)
    W = mha.in_proj_weight.detach().numpy()
    Ws = (W[:d_model].T, W[d_model:2 * d_model].T, W[2 * d_model:].T, mha.out_proj.weight.detach().numpy().T)
    return out.numpy(), weights.numpy(), Ws


@settings(max_examples=40, deadline=None)
@given(b=dims, s=dims, heads=st.integers(1, 4), head_dim=st.integers(1, 4), seed=seeds, dtype=dtypes,
       masked=st.booleans())
def test_multi_head_attention_matches_torch_module(b, s, heads, head_dim, seed, dtype, masked):
    torch.manual_seed(seed % 2**31)
    x = randn(seed, (b, s, heads * head_dim), dtype)
    mask = None
    if masked:
        mask = np.random.default_rng(seed + 1).random((s, s)) < 0.5
        np.fill_diagonal(mask, True)  # nn.MultiheadAttention returns NaN for a fully masked query
    expected_out, expected_weights, Ws = torch_mha(x, heads, dtype, mask)
    out, weights = E.multi_head_attention(x, *Ws, num_heads=heads, mask=mask)
    assert out.shape == (b, s, heads * head_dim) and weights.shape == (b, heads, s, s)
    assert out.dtype == dtype
    close(out, expected_out, dtype)
    close(weights, expected_weights, dtype)


def test_multi_head_attention_with_causal_mask_ignores_future_tokens():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 8))
    Ws = [rng.standard_normal((8, 8)) for _ in range(4)]
    mask = E.causal_mask(7)
    out, weights = E.multi_head_attention(x, *Ws, num_heads=2, mask=mask)
    changed = x.copy()
    changed[:, 4:] = rng.standard_normal((2, 3, 8))  # rewrite tokens 4, 5, 6
    out_changed, _ = E.multi_head_attention(changed, *Ws, num_heads=2, mask=mask)
    np.testing.assert_allclose(out_changed[:, :4], out[:, :4], rtol=1e-12, atol=1e-12)
    assert not np.allclose(out_changed[:, 4:], out[:, 4:])
    assert np.all(weights[..., ~mask] == 0.0)


# --- bad inputs -----------------------------------------------------------------------------------


def test_bad_ranks_are_rejected_with_the_shape():
    with pytest.raises(ValueError, match=r"u must be 1-D, got shape \(2, 2\)"):
        E.dot(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"B must be 2-D, got shape \(3,\)"):
        E.matmul(np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"A must be 3-D, got shape \(2, 3\)"):
        E.batch_matmul(np.ones((2, 3)), np.ones((1, 3, 2)))
    with pytest.raises(ValueError, match=r"Q must be 4-D, got shape \(2, 3, 4\)"):
        E.attention_scores(np.ones((2, 3, 4)), np.ones((2, 1, 3, 4)))
    with pytest.raises(ValueError, match=r"K must have at least 2 dimensions, got shape \(4,\)"):
        E.scaled_dot_product_attention(np.ones((3, 4)), np.ones(4), np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"x must be 3-D"):
        E.multi_head_attention(np.ones((3, 4)), *[np.eye(4)] * 4, num_heads=2)


def test_mismatched_contraction_dimensions_name_both_shapes():
    with pytest.raises(ValueError, match=r"vector lengths do not match: u has shape \(3,\) and v has shape \(4,\)"):
        E.dot(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"inner dimensions.*A has shape \(2, 3\) and B has shape \(4, 5\)"):
        E.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"batch sizes.*\(2, 3, 4\).*\(1, 4, 5\)"):
        E.batch_matmul(np.ones((2, 3, 4)), np.ones((1, 4, 5)))
    with pytest.raises(ValueError, match=r"inner dimensions.*\(2, 3, 4\).*\(2, 5, 5\)"):
        E.batch_matmul(np.ones((2, 3, 4)), np.ones((2, 5, 5)))
    with pytest.raises(ValueError, match=r"feature dimensions.*\(1, 2, 3, 4\).*\(1, 2, 3, 5\)"):
        E.attention_scores(np.ones((1, 2, 3, 4)), np.ones((1, 2, 3, 5)))
    with pytest.raises(ValueError, match=r"head counts.*\(1, 2, 3, 4\).*\(1, 3, 3, 4\)"):
        E.attention_scores(np.ones((1, 2, 3, 4)), np.ones((1, 3, 3, 4)))
    with pytest.raises(ValueError, match=r"sequence lengths.*K has shape \(5, 4\) and V has shape \(6, 4\)"):
        E.scaled_dot_product_attention(np.ones((3, 4)), np.ones((5, 4)), np.ones((6, 4)))
    with pytest.raises(ValueError, match=r"leading \(batch\) dimensions.*do not broadcast"):
        E.scaled_dot_product_attention(np.ones((2, 3, 4)), np.ones((3, 5, 4)), np.ones((3, 5, 4)))


def test_non_square_matrix_for_trace_and_diag():
    with pytest.raises(ValueError, match=r"A must be square, got shape \(2, 3\)"):
        E.trace(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"square"):
        E.diag(np.ones((3, 2)))


def test_masks_must_be_boolean_and_broadcastable():
    Q, K, V = np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 5, 4))
    with pytest.raises(TypeError, match=r"mask must be a boolean array \(True = attend\), got dtype float64"):
        E.scaled_dot_product_attention(Q, K, V, np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"mask of shape \(5, 3\) cannot be broadcast to the attention-score shape \(2, 3, 5\)"):
        E.scaled_dot_product_attention(Q, K, V, np.ones((5, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"mask of shape \(3, 2, 3, 5\) cannot be broadcast"):
        E.scaled_dot_product_attention(Q, K, V, np.ones((3, 2, 3, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 4\) cannot be broadcast.*\(1, 2, 3, 3\)"):
        E.multi_head_attention(np.ones((1, 3, 4)), *[np.eye(4)] * 4, num_heads=2, mask=np.ones((4, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"where of shape \(2,\) cannot be broadcast to the x shape \(3, 3\)"):
        E.softmax(np.ones((3, 3)), where=np.ones(2, dtype=bool))


def test_multi_head_attention_validates_heads_and_weights():
    x = np.ones((1, 3, 6))
    with pytest.raises(ValueError, match=r"d_model=6 \(x has shape \(1, 3, 6\)\) is not divisible by num_heads=4"):
        E.multi_head_attention(x, *[np.eye(6)] * 4, num_heads=4)
    with pytest.raises(ValueError, match=r"num_heads must be a positive integer, got 0"):
        E.multi_head_attention(x, *[np.eye(6)] * 4, num_heads=0)
    with pytest.raises(ValueError, match=r"num_heads must be a positive integer, got 2.0"):
        E.multi_head_attention(x, *[np.eye(6)] * 4, num_heads=2.0)
    with pytest.raises(ValueError, match=r"W_v must have shape \(d_model, d_model\) = \(6, 6\), got \(6, 3\)"):
        E.multi_head_attention(x, np.eye(6), np.eye(6), np.ones((6, 3)), np.eye(6), num_heads=2)


def test_attention_needs_floating_point_and_other_type_errors():
    with pytest.raises(TypeError, match=r"Q must be a floating-point array, got dtype int64"):
        E.scaled_dot_product_attention(np.ones((2, 2), dtype=np.int64), np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"x must be a floating-point array, got dtype int64"):
        E.softmax(np.arange(3))
    with pytest.raises(TypeError, match=r"u must be a numeric array, got dtype <U1"):
        E.dot(np.array(["a", "b"]), np.ones(2))
    with pytest.raises(ValueError, match=r"softmax needs at least one axis"):
        E.softmax(np.float64(1.0))


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_causal_mask_rejects_bad_lengths(bad):
    with pytest.raises(ValueError, match=r"q_len must be a positive integer"):
        E.causal_mask(bad)


# --- parse_einsum and the loop reference ----------------------------------------------------------


@st.composite
def einsum_problems(draw):
    """A random einsum string over letters a-d (explicit or implicit), with operands that fit it."""
    letters = "abcd"
    sizes = {c: draw(st.integers(1, 3)) for c in letters}
    n_operands = draw(st.integers(1, 3))
    inputs = [draw(st.text(alphabet=letters, min_size=0, max_size=3)) for _ in range(n_operands)]
    used = sorted(set("".join(inputs)))
    if draw(st.booleans()):
        output = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
        spec = ",".join(inputs) + "->" + output
    else:
        spec = ",".join(inputs)
    seed = draw(seeds)
    operands = [randn(seed + t, tuple(sizes[c] for c in term)) for t, term in enumerate(inputs)]
    return spec, operands


@settings(max_examples=80, deadline=None)
@given(problem=einsum_problems())
def test_einsum_loops_matches_numpy_and_torch_einsum(problem):
    spec, operands = problem
    expected = np.einsum(spec, *operands)
    result = E.einsum_loops(spec, *operands)
    assert result.shape == np.shape(expected)
    assert isinstance(result, np.ndarray)  # an array, even when the output is 0-D
    np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-10)
    torch_result = torch.einsum(spec, *map(torch.from_numpy, operands)).numpy()
    np.testing.assert_allclose(result, torch_result, rtol=1e-10, atol=1e-10)


def test_parse_einsum_free_and_summed_indices():
    assert E.parse_einsum("ij,jk->ik") == (("ij", "jk"), "ik", "j")
    assert E.parse_einsum("bhqd, bhkd -> bhqk") == (("bhqd", "bhkd"), "bhqk", "d")
    assert E.parse_einsum("ii->") == (("ii",), "", "i")
    assert E.parse_einsum("ii->i") == (("ii",), "i", "")
    assert E.parse_einsum("i,j->ij") == (("i", "j"), "ij", "")


def test_parse_einsum_implicit_mode_sorts_the_output_alphabetically():
    assert E.parse_einsum("ij,jk").output == "ik"
    assert E.parse_einsum("ij,jh").output == "hi"  # the transpose of the matrix product
    assert E.parse_einsum("ii").output == ""  # trace
    assert E.parse_einsum("ji").output == "ij"  # transpose
    A, B = randn(0, (2, 3)), randn(1, (3, 4))
    np.testing.assert_allclose(np.einsum("ij,jh", A, B), (A @ B).T)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ij->ii", r"output indices must be distinct, \['i'\] repeat"),
        ("ij->k", r"output indices \['k'\] appear in no input"),
        ("ij->i->j", r"at most one '->'"),
        ("i1,j->ij", r"indices must be letters, got \['1'\]"),
        ("...ij->ij", r"ellipsis\) is not supported"),
    ],
)
def test_parse_einsum_rejects_bad_strings(spec, message):
    with pytest.raises(ValueError, match=message):
        E.parse_einsum(spec)


def test_einsum_loops_rejects_operands_that_do_not_fit():
    with pytest.raises(ValueError, match=r"names 2 operands but 1 were given"):
        E.einsum_loops("ij,jk->ik", np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"operand 1 has shape \(3,\) \(1-D\) but 'jk' names 2 axes"):
        E.einsum_loops("ij,jk->ik", np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"index 'j' has sizes 3 and 4 .*ij: \(2, 3\), jk: \(4, 5\)"):
        E.einsum_loops("ij,jk->ik", np.ones((2, 3)), np.ones((4, 5)))
