"""mlbook.tensors against NumPy's flags and strides, torch's stride() and is_contiguous(),
numpy.broadcast_shapes and torch.nn.functional.cosine_similarity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mlbook.bench import peak_memory
from mlbook.tensors import (
    broadcast_shape,
    contiguous_strides,
    describe_layout,
    element_offset,
    is_contiguous,
    pairwise_cosine_similarity,
)

FAST = settings(max_examples=80, deadline=None)
shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)
nonempty_shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)
dtypes = st.sampled_from([np.int8, np.float16, np.float32, np.float64, np.complex128])


@st.composite
def strided_views(draw):
    """A NumPy array viewed through random steps, reversals and an axis permutation."""
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    base = np.arange(int(np.prod(shape)), dtype=draw(dtypes)).reshape(shape)
    index = tuple(slice(draw(st.integers(0, n - 1)), None, draw(st.sampled_from([1, 2, -1, -2])))
                  for n in shape)
    view = base[index]
    return view.transpose(draw(st.permutations(range(view.ndim))))


# ------------------------------------------------------------------------------------------ layout


@FAST
@given(nonempty_shapes, dtypes, st.sampled_from(["C", "F"]))
def test_contiguous_strides_match_numpy(shape, dtype, order):
    a = np.empty(shape, dtype=dtype, order=order)
    assert contiguous_strides(shape, a.itemsize, order) == a.strides


@FAST
@given(shapes)
def test_contiguous_strides_match_torch_including_empty(shape):
    assert contiguous_strides(shape) == torch.empty(shape).stride()


@FAST
@given(strided_views())
def test_is_contiguous_matches_numpy_flags(a):
    assert is_contiguous(a.shape, a.strides, a.itemsize, "C") == a.flags.c_contiguous
    assert is_contiguous(a.shape, a.strides, a.itemsize, "F") == a.flags.f_contiguous


@st.composite
def torch_views(draw):
    """A torch tensor viewed through random positive steps (torch has no negative ones) and a permutation."""
    shape = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    base = torch.arange(int(np.prod(shape)), dtype=draw(st.sampled_from([torch.float32, torch.int16]))).reshape(shape)
    index = tuple(slice(draw(st.integers(0, n - 1)), None, draw(st.sampled_from([1, 2, 3]))) for n in shape)
    return base[index].permute(*draw(st.permutations(range(len(shape)))))


@FAST
@given(torch_views())
def test_is_contiguous_and_describe_layout_match_torch(t):
    assert is_contiguous(t.shape, t.stride()) == t.is_contiguous()
    layout = describe_layout(t)
    assert layout.strides_elements == t.stride()
    assert layout.strides_bytes == tuple(s * t.element_size() for s in t.stride())
    assert layout.c_contiguous == t.is_contiguous()
    assert layout.f_contiguous == t.permute(*reversed(range(t.ndim))).is_contiguous()
    assert not layout.owns_data


def test_is_contiguous_ignores_size_one_axes_and_empty_arrays():
    a = np.zeros((3, 1, 4))[:, :, :]
    weird = np.lib.stride_tricks.as_strided(a, (3, 1, 4), (32, 999, 8))
    assert weird.flags.c_contiguous and is_contiguous(weird.shape, weird.strides, 8)
    assert is_contiguous((0, 5), (123, 7), 8, "C") and is_contiguous((0, 5), (123, 7), 8, "F")
    assert is_contiguous((), (), 8)  # a 0-d array is one element


@FAST
@given(strided_views(), st.data())
def test_element_offset_points_at_the_element(a, data):
    if a.size == 0:
        return
    index = tuple(data.draw(st.integers(0, n - 1)) for n in a.shape)
    element = a[tuple(slice(i, i + 1) for i in index)]  # a 1-element view: its data pointer is the element's
    start = a.__array_interface__["data"][0]
    assert start + element_offset(index, a.strides) == element.__array_interface__["data"][0]


def test_element_offset_matches_torch_storage_offset():
    t = torch.arange(60).reshape(3, 4, 5).permute(2, 0, 1)[1:, ::2]
    for index in [(0, 0, 0), (1, 1, 3), (3, 1, 2)]:
        assert t.storage_offset() + element_offset(index, t.stride()) == t[index].storage_offset()


def test_element_offset_rejects_bad_index():
    with pytest.raises(ValueError, match=r"index \(1, 2\) has 2 entries but strides \(8,\) has 1"):
        element_offset((1, 2), (8,))
    with pytest.raises(ValueError, match="non-negative integers, got -1"):
        element_offset((-1, 0), (32, 8))
    with pytest.raises(ValueError, match="non-negative integers"):
        element_offset((1.5,), (8,))


def test_describe_layout_numpy():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    layout = describe_layout(a)
    assert (layout.shape, layout.itemsize, layout.strides_bytes, layout.strides_elements) == ((3, 4), 4, (16, 4), (4, 1))
    assert layout.c_contiguous and not layout.f_contiguous and not layout.owns_data  # reshape of arange: a view
    assert layout.nbytes == a.nbytes == 48
    t = describe_layout(a.T.copy(order="K"))  # keeps the transposed (F) order and owns its copy
    assert t.owns_data and t.f_contiguous and not t.c_contiguous
    assert describe_layout(np.zeros(3)).owns_data
    text = str(describe_layout(a[:, ::2]))
    assert "strides (16, 8) B = (4, 2) elements" in text and "contiguous: no" in text and "view" in text


def test_describe_layout_torch():
    t = torch.zeros(2, 3, dtype=torch.bfloat16)
    layout = describe_layout(t)
    assert layout.dtype == "bfloat16" and layout.itemsize == 2 and layout.owns_data
    assert layout.strides_bytes == (6, 2) and layout.c_contiguous
    assert describe_layout(t.T).f_contiguous and not describe_layout(t.T).owns_data


def test_describe_layout_rejects_other_types():
    with pytest.raises(TypeError, match="numpy.ndarray or torch.Tensor, got list"):
        describe_layout([[1, 2]])


def test_contiguous_strides_rejects_bad_input():
    with pytest.raises(ValueError, match="order must be 'C' or 'F'"):
        contiguous_strides((2, 3), order="K")
    with pytest.raises(ValueError, match="negative size -2"):
        contiguous_strides((2, -2))
    with pytest.raises(ValueError, match=r"shape \(2, 3\) has 2 axes but strides \(8,\) has 1"):
        is_contiguous((2, 3), (8,))


# ------------------------------------------------------------------------------------ broadcasting


@FAST
@given(st.integers(1, 4), st.data())
def test_broadcast_shape_compatible_matches_numpy(num_shapes, data):
    shapes_in, result = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=0, max_dims=4,
                                                                     min_side=0, max_side=4))
    assert broadcast_shape(*shapes_in) == np.broadcast_shapes(*shapes_in) == result


@FAST
@given(st.lists(st.lists(st.integers(0, 3), max_size=4).map(tuple), max_size=4))
def test_broadcast_shape_agrees_with_numpy_on_any_shapes(shape_list):
    """Arbitrary shapes: compatible or not, both succeed with the same answer or both raise."""
    try:
        expected = np.broadcast_shapes(*shape_list)
    except ValueError:
        with pytest.raises(ValueError, match="cannot broadcast: dimension -"):
            broadcast_shape(*shape_list)
    else:
        assert broadcast_shape(*shape_list) == expected


def test_broadcast_shape_examples():
    assert broadcast_shape() == () == np.broadcast_shapes()
    assert broadcast_shape(()) == ()
    assert broadcast_shape((10, 1, 5), (5,)) == (10, 1, 5)
    assert broadcast_shape((3, 1), (1, 4)) == (3, 4)
    assert broadcast_shape((8, 1, 6, 1), (7, 1, 5)) == (8, 7, 6, 5)
    assert broadcast_shape((0, 1), (1, 3)) == (0, 3)  # 1 stretches to 0 too
    assert broadcast_shape(3, (2, 1)) == (2, 3) == np.broadcast_shapes(3, (2, 1))
    assert broadcast_shape([2, np.int64(3)]) == (2, 3)


def test_broadcast_shape_error_names_the_clash():
    with pytest.raises(ValueError) as error:
        broadcast_shape((3, 2), (4,))
    assert str(error.value) == ("shapes (3, 2) and (4,) cannot broadcast: dimension -1 has sizes 2 and 4; "
                                "sizes must be equal or one of them 1")
    with pytest.raises(ValueError, match=r"shapes \(8, 4, 3\) and \(2, 1\) cannot broadcast: dimension -2 has sizes 4 and 2"):
        broadcast_shape((8, 4, 3), (2, 1))
    with pytest.raises(ValueError, match=r"shapes \(0,\) and \(2,\) .* sizes 0 and 2"):
        broadcast_shape((1,), (0,), (2,))


@pytest.mark.parametrize("bad, error, message", [
    ((2, -1), ValueError, r"shape \(2, -1\) has a negative size -1"),
    ((2, 1.0), TypeError, r"non-integer size 1.0 \(float\)"),
    ((True, 2), TypeError, r"non-integer size True \(bool\)"),
    ("ab", TypeError, r"non-integer size 'a'"),
    (None, TypeError, "must be a sequence of integers, got None"),
])
def test_broadcast_shape_rejects_bad_sizes(bad, error, message):
    with pytest.raises(error, match=message):
        broadcast_shape((2, 2), bad)


# ------------------------------------------------------------------------------- cosine similarity


def torch_cosine(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    a, b = torch.from_numpy(np.ascontiguousarray(A)), torch.from_numpy(np.ascontiguousarray(B))
    return torch.nn.functional.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1).numpy()


@st.composite
def row_sets(draw):
    """(A, B) with a shared feature size, small integers (so zero rows occur) times a random scale."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    D = draw(st.integers(1, 9))
    scale = draw(st.sampled_from([1e-3, 0.5, 1.0, 1e3]))
    ints = st.integers(-4, 4)
    A = draw(hnp.arrays(np.int64, (draw(st.integers(1, 7)), D), elements=ints))
    B = draw(hnp.arrays(np.int64, (draw(st.integers(1, 7)), D), elements=ints))
    return (A * scale).astype(dtype), (B * scale).astype(dtype)


@FAST
@given(row_sets(), st.sampled_from([None, 1, 2, 5]))
def test_cosine_matches_torch(rows, chunk_size):
    A, B = rows
    S = pairwise_cosine_similarity(A, B, chunk_size=chunk_size)
    assert S.shape == (A.shape[0], B.shape[0]) and S.dtype == A.dtype
    tol = dict(rtol=1e-5, atol=1e-6) if A.dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(S, torch_cosine(A, B), **tol)
    assert not np.isnan(S).any()


def test_cosine_on_random_normal_data_and_odd_shapes():
    rng = np.random.default_rng(0)
    for M, N, D in [(1, 1, 1), (17, 3, 128), (5, 40, 2), (64, 64, 33)]:
        A, B = rng.normal(size=(M, D)), rng.normal(size=(N, D))
        np.testing.assert_allclose(pairwise_cosine_similarity(A, B), torch_cosine(A, B), rtol=1e-12, atol=1e-14)
    X = rng.normal(size=(6, 4))
    np.testing.assert_allclose(np.diag(pairwise_cosine_similarity(X, X)), 1.0)
    np.testing.assert_allclose(pairwise_cosine_similarity(X, -X), -pairwise_cosine_similarity(X, X))


def test_zero_rows_give_zero_not_nan():
    A = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]])
    B = np.array([[3.0, 0.0, 4.0], [0.0, 0.0, 0.0]])
    S = pairwise_cosine_similarity(A, B)
    np.testing.assert_array_equal(S[0], 0.0)
    np.testing.assert_array_equal(S[:, 1], 0.0)
    np.testing.assert_allclose(S[1, 0], 11 / 15)
    np.testing.assert_array_equal(S, torch_cosine(A, B))


def test_each_norm_is_clamped_separately_like_torch():
    # both norms are 1e-5 > eps: the cosine is exactly 1. Clamping the product of the norms by eps**2
    # (older PyTorch) would give 1e-10 / 1e-8 = 0.01 instead.
    tiny = np.array([[1e-5, 0.0]])
    assert pairwise_cosine_similarity(tiny, tiny)[0, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(pairwise_cosine_similarity(tiny, tiny), torch_cosine(tiny, tiny))
    # a norm below eps is replaced by eps, as torch does
    below = np.array([[1e-10, 0.0]])
    assert pairwise_cosine_similarity(below, np.array([[1.0, 0.0]]))[0, 0] == pytest.approx(1e-2)
    assert pairwise_cosine_similarity(below, np.array([[1.0, 0.0]]), eps=1e-12)[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("dtype_a, dtype_b, expected", [
    (np.float32, np.float32, np.float32),
    (np.float32, np.float64, np.float64),
    (np.float16, np.float16, np.float16),
    (np.int64, np.int64, np.float64),
    (np.int8, np.float32, np.float32),  # NumPy's result_type: int8 fits in float32
    (np.bool_, np.bool_, np.float64),
])
def test_result_dtype_follows_numpy(dtype_a, dtype_b, expected):
    A = np.array([[1, 0, 1], [0, 1, 1]], dtype=dtype_a)
    B = np.array([[1, 1, 0]], dtype=dtype_b)
    S = pairwise_cosine_similarity(A, B)
    assert S.dtype == expected
    np.testing.assert_allclose(S.astype(np.float64), [[0.5], [0.5]], rtol=1e-3)


def test_float16_does_not_overflow():
    A = np.full((2, 64), 300.0, dtype=np.float16)  # sum of squares 5.8e6 > float16 max 65504
    S = pairwise_cosine_similarity(A, A)
    assert S.dtype == np.float16 and np.allclose(S.astype(float), 1.0, atol=1e-3)


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 8, 100])
def test_chunked_equals_unchunked(chunk_size):
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(23, 16)), rng.normal(size=(9, 16))
    A[4] = 0.0
    np.testing.assert_allclose(pairwise_cosine_similarity(A, B, chunk_size=chunk_size),
                               pairwise_cosine_similarity(A, B), rtol=1e-14, atol=1e-15)


def test_chunked_memory_is_bounded_by_the_chunk():
    rng = np.random.default_rng(2)
    M, N, D, chunk = 256, 128, 64, 16
    A, B = rng.normal(size=(M, D)), rng.normal(size=(N, D))

    def broadcast_3d():
        return (A[:, None, :] * B[None, :, :]).sum(-1) / np.outer(np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=1))

    _, broadcast_peak = peak_memory(broadcast_3d)
    S_full, full_peak = peak_memory(lambda: pairwise_cosine_similarity(A, B))
    S_chunk, chunk_peak = peak_memory(lambda: pairwise_cosine_similarity(A, B, chunk_size=chunk))
    np.testing.assert_allclose(S_chunk, S_full, rtol=1e-14, atol=1e-15)
    output, b_hat = M * N * 8, N * D * 8
    assert broadcast_peak >= M * N * D * 8  # the (M, N, D) product really is materialised
    assert chunk_peak < broadcast_peak / 20
    assert full_peak >= output + b_hat + M * D * 8  # the unchunked version normalises all of A at once
    assert chunk_peak < full_peak
    assert chunk_peak <= output + b_hat + 4 * chunk * (D + N) * 8 + 16_384


@pytest.mark.parametrize("A_shape, B_shape, message", [
    ((3,), (2, 3), r"must be 2-D \(rows, features\); got shapes \(3,\) and \(2, 3\)"),
    ((2, 3, 1), (2, 3), r"must be 2-D"),
    ((2, 3), (4, 5), r"A \(2, 3\) and B \(4, 5\) must have the same number of features \(columns\): 3 != 5"),
])
def test_cosine_rejects_bad_shapes(A_shape, B_shape, message):
    with pytest.raises(ValueError, match=message):
        pairwise_cosine_similarity(np.ones(A_shape), np.ones(B_shape))


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True, "4"])
def test_cosine_rejects_bad_chunk_size(chunk_size):
    with pytest.raises(ValueError, match="chunk_size must be a positive integer or None"):
        pairwise_cosine_similarity(np.ones((2, 2)), np.ones((2, 2)), chunk_size=chunk_size)


def test_cosine_rejects_bad_eps_and_dtypes():
    with pytest.raises(ValueError, match="eps must be positive, got 0"):
        pairwise_cosine_similarity(np.ones((2, 2)), np.ones((2, 2)), eps=0)
    with pytest.raises(TypeError, match="real numbers; got dtypes complex128 and float64"):
        pairwise_cosine_similarity(np.ones((2, 2), dtype=complex), np.ones((2, 2)))
    with pytest.raises(TypeError, match="real numbers"):
        pairwise_cosine_similarity(np.array([["a", "b"]]), np.ones((1, 2)))


def test_cosine_accepts_torch_tensors_and_lists():
    A = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    S = pairwise_cosine_similarity(A, [[0.0, 2.0]])
    np.testing.assert_allclose(S, [[0.0], [np.sqrt(0.5)]], rtol=1e-6)


def test_describe_layout_rejects_strides_that_are_not_whole_elements():
    packed = np.zeros(4, dtype=[("flag", "i1"), ("value", "f8")])["value"]  # 8-byte floats, 9 bytes apart
    assert packed.strides == (9,)
    with pytest.raises(ValueError, match=r"strides \(9,\) are not whole multiples of the itemsize 8"):
        describe_layout(packed)
