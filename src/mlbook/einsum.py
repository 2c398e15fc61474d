"""Tensor contractions and attention written with ``np.einsum`` only.

:func:`parse_einsum` and :func:`einsum_loops` say what an einsum string means: which indices survive,
which are summed, and the plain loops that compute it (a slow reference, used to check NumPy).

Every contraction in the rest of the module (dot, outer and matrix products, traces, the query-key
scores and the weighted sum of values in attention, the projections of multi-head attention) is one
call to :func:`numpy.einsum`. Reshapes, the softmax's ``exp`` and its normalising sum are the only other
array operations. Arrays are batch-first, like PyTorch: ``(batch, heads, seq_len, head_dim)``.

Masks follow :func:`torch.nn.functional.scaled_dot_product_attention`: a boolean array in which ``True``
means "this query may attend to this key". A query whose mask row is all ``False`` attends to nothing:
its weights are all zero and its output is the zero vector (PyTorch 2.13's ``scaled_dot_product_attention``
returns the same zeros; the textbook formula with ``-inf`` returns NaN there).
"""

from __future__ import annotations

import itertools
import math
import string
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "EinsumSpec",
    "parse_einsum",
    "einsum_loops",
    "dot",
    "outer",
    "matmul",
    "trace",
    "diag",
    "transpose",
    "row_sums",
    "column_sums",
    "batch_matmul",
    "attention_scores",
    "softmax",
    "causal_mask",
    "scaled_dot_product_attention",
    "multi_head_attention",
]


def _as_array(x: ArrayLike, name: str, ndim: int | None = None, *, min_ndim: int | None = None) -> np.ndarray:
    """``np.asarray(x)`` with a ValueError naming ``name`` and its shape if the rank is wrong."""
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape} ({arr.ndim}-D)")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {arr.shape}")
    return arr


def _as_float_array(x: ArrayLike, name: str, ndim: int | None = None, *, min_ndim: int | None = None) -> np.ndarray:
    """Like :func:`_as_array`, and the dtype must be floating point (attention needs exp and division)."""
    arr = _as_array(x, name, ndim, min_ndim=min_ndim)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array, got dtype {arr.dtype}")
    return arr


def _check_same(what: str, a_name: str, a: np.ndarray, a_axis: int, b_name: str, b: np.ndarray, b_axis: int) -> None:
    """Raise ValueError, naming both shapes, unless ``a.shape[a_axis] == b.shape[b_axis]``."""
    if a.shape[a_axis] != b.shape[b_axis]:
        raise ValueError(
            f"{what} do not match: {a_name} has shape {a.shape} and {b_name} has shape {b.shape} "
            f"({a.shape[a_axis]} != {b.shape[b_axis]})"
        )


# --- What an einsum string means ------------------------------------------------------------------


class EinsumSpec(NamedTuple):
    """A parsed einsum string: the index letters of each input, of the output, and the summed ones."""

    inputs: tuple[str, ...]
    output: str
    summed: str


def parse_einsum(spec: str) -> EinsumSpec:
    """Split ``'ij,jk->ik'`` into inputs ``('ij', 'jk')``, output ``'ik'`` and summed indices ``'j'``.

    Without ``->`` (NumPy's *implicit* mode) the output is every index that appears exactly once,
    in alphabetical order: ``'ij,jk'`` means ``'ij,jk->ik'`` but ``'ij,jh'`` means ``'ij,jh->hi'``.
    Indices are single letters; ``...`` is not supported here. The summed indices are those that
    appear in an input but not in the output, in order of first appearance.
    """
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a string, got {type(spec).__name__}")
    text = spec.replace(" ", "")
    if "." in text:
        raise ValueError(f"'...' (ellipsis) is not supported by parse_einsum: {spec!r}")
    if text.count("->") > 1:
        raise ValueError(f"an einsum string has at most one '->', got {spec!r}")
    lhs, arrow, rhs = text.partition("->")
    inputs = tuple(lhs.split(","))
    for term in inputs + (rhs,):
        bad = set(term) - set(string.ascii_letters)
        if bad:
            raise ValueError(f"einsum indices must be letters, got {sorted(bad)} in {spec!r}")
    if not arrow:
        counts: dict[str, int] = {}
        for letter in lhs.replace(",", ""):
            counts[letter] = counts.get(letter, 0) + 1
        rhs = "".join(sorted(letter for letter, n in counts.items() if n == 1))
    repeated = sorted({c for c in rhs if rhs.count(c) > 1})
    if repeated:
        raise ValueError(f"output indices must be distinct, {repeated} repeat in {spec!r}")
    seen = "".join(dict.fromkeys("".join(inputs)))
    unknown = sorted(set(rhs) - set(seen))
    if unknown:
        raise ValueError(f"output indices {unknown} appear in no input of {spec!r}")
    summed = "".join(c for c in seen if c not in rhs)
    return EinsumSpec(inputs, rhs, summed)


def einsum_loops(spec: str, *operands: ArrayLike) -> np.ndarray:
    """Evaluate an einsum string by its definition, with one Python loop per index: a slow reference.

    ``out[output] = sum over the summed indices of prod_t operand_t[input_t]``. Every index, kept or
    summed, runs over its whole range once, so the cost is the product of all index sizes. Used to
    show (and test) what :func:`numpy.einsum` computes; never use it for real work.
    """
    parsed = parse_einsum(spec)
    if len(parsed.inputs) != len(operands):
        raise ValueError(f"{spec!r} names {len(parsed.inputs)} operands but {len(operands)} were given")
    arrays = [_as_array(op, f"operand {t}") for t, op in enumerate(operands)]
    sizes: dict[str, int] = {}
    for t, (term, arr) in enumerate(zip(parsed.inputs, arrays)):
        if len(term) != arr.ndim:
            raise ValueError(f"operand {t} has shape {arr.shape} ({arr.ndim}-D) but {term!r} names {len(term)} axes")
        for letter, size in zip(term, arr.shape):
            if sizes.setdefault(letter, size) != size:
                shapes = ", ".join(f"{tm}: {a.shape}" for tm, a in zip(parsed.inputs, arrays))
                raise ValueError(f"index {letter!r} has sizes {sizes[letter]} and {size} in {spec!r} ({shapes})")
    out = np.zeros([sizes[c] for c in parsed.output], dtype=np.result_type(*arrays))
    letters = parsed.output + parsed.summed
    for values in itertools.product(*(range(sizes[c]) for c in letters)):
        at = dict(zip(letters, values))
        term = 1
        for indices, arr in zip(parsed.inputs, arrays):
            term = term * arr[tuple(at[c] for c in indices)]
        out[tuple(at[c] for c in parsed.output)] += term
    return out


# --- One contraction each -------------------------------------------------------------------------


def dot(u: ArrayLike, v: ArrayLike) -> np.generic:
    """Inner product of two vectors, ``sum_i u[i] v[i]``: ``'i,i->'``.

    u: (n,), v: (n,) -> a scalar.
    """
    u, v = _as_array(u, "u", 1), _as_array(v, "v", 1)
    _check_same("vector lengths", "u", u, 0, "v", v, 0)
    return np.einsum("i,i->", u, v)


def outer(u: ArrayLike, v: ArrayLike) -> np.ndarray:
    """Outer product ``out[i, j] = u[i] v[j]``: ``'i,j->ij'`` (no shared index, so nothing is summed).

    u: (m,), v: (n,) -> (m, n).
    """
    u, v = _as_array(u, "u", 1), _as_array(v, "v", 1)
    return np.einsum("i,j->ij", u, v)


def matmul(A: ArrayLike, B: ArrayLike) -> np.ndarray:
    """Matrix product ``C[i, k] = sum_j A[i, j] B[j, k]``: ``'ij,jk->ik'``.

    A: (m, n), B: (n, p) -> (m, p).
    """
    A, B = _as_array(A, "A", 2), _as_array(B, "B", 2)
    _check_same("inner dimensions", "A", A, 1, "B", B, 0)
    return np.einsum("ij,jk->ik", A, B)


def _as_square(A: ArrayLike) -> np.ndarray:
    A = _as_array(A, "A", 2)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {A.shape}")
    return A


def trace(A: ArrayLike) -> np.generic:
    """Sum of the diagonal, ``sum_i A[i, i]``: ``'ii->'`` (an index repeated in one operand walks its diagonal).

    A: (n, n) -> a scalar.
    """
    return np.einsum("ii->", _as_square(A))


def diag(A: ArrayLike) -> np.ndarray:
    """The diagonal ``A[i, i]`` as a vector: ``'ii->i'``.

    A: (n, n) -> (n,). Like :func:`numpy.diagonal` the result is a read-only view of ``A``:
    ``np.einsum('ii->i', A)`` on its own returns a *writeable* view, so writing to it would silently
    change ``A``.
    """
    view = np.einsum("ii->i", _as_square(A))
    view.flags.writeable = False
    return view


def transpose(A: ArrayLike) -> np.ndarray:
    """Swap the two axes: ``'ij->ji'`` (a view, no data is copied). A: (m, n) -> (n, m)."""
    return np.einsum("ij->ji", _as_array(A, "A", 2))


def row_sums(A: ArrayLike) -> np.ndarray:
    """Sum over each row: ``'ij->i'`` (j is missing from the output, so it is summed). A: (m, n) -> (m,)."""
    return np.einsum("ij->i", _as_array(A, "A", 2))


def column_sums(A: ArrayLike) -> np.ndarray:
    """Sum over each column: ``'ij->j'``. A: (m, n) -> (n,)."""
    return np.einsum("ij->j", _as_array(A, "A", 2))


def batch_matmul(A: ArrayLike, B: ArrayLike) -> np.ndarray:
    """A matrix product per batch element: ``'bij,bjk->bik'``.

    A: (batch, m, n), B: (batch, n, p) -> (batch, m, p). Batch sizes must be equal, as in
    :func:`torch.bmm` (``np.einsum`` itself would silently broadcast a batch of size 1).
    """
    A, B = _as_array(A, "A", 3), _as_array(B, "B", 3)
    _check_same("batch sizes", "A", A, 0, "B", B, 0)
    _check_same("inner dimensions", "A", A, 2, "B", B, 1)
    return np.einsum("bij,bjk->bik", A, B)


# --- Attention ------------------------------------------------------------------------------------


def _default_scale(head_dim: int, scale: float | None) -> float:
    # A Python float, not np.float64: NumPy 2 would promote float32 scores to float64 otherwise.
    return 1.0 / math.sqrt(head_dim) if scale is None else float(scale)


def attention_scores(Q: ArrayLike, K: ArrayLike, *, scale: float | None = None) -> np.ndarray:
    """Multi-head attention logits ``scores[b, h, q, k] = scale * sum_d Q[b, h, q, d] K[b, h, k, d]``.

    The einsum is ``'bhqd,bhkd->bhqk'``: batch and head survive, the feature index ``d`` is summed.

    Q: (batch, heads, q_len, d), K: (batch, heads, k_len, d) -> (batch, heads, q_len, k_len).
    ``scale`` defaults to ``1 / sqrt(d)``, the scaling of Vaswani et al. (2017) and of
    ``torch.nn.functional.scaled_dot_product_attention``; pass ``scale=1.0`` for raw dot products.
    """
    Q, K = _as_float_array(Q, "Q", 4), _as_float_array(K, "K", 4)
    _check_same("batch sizes", "Q", Q, 0, "K", K, 0)
    _check_same("head counts", "Q", Q, 1, "K", K, 1)
    _check_same("feature dimensions", "Q", Q, 3, "K", K, 3)
    return np.einsum("bhqd,bhkd->bhqk", Q, K) * _default_scale(Q.shape[-1], scale)


def softmax(x: ArrayLike, axis: int = -1, *, where: ArrayLike | None = None) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed stably by subtracting the maximum first.

    Subtracting ``max(x)`` does not change the result (it cancels between numerator and denominator)
    but keeps every exponent <= 0, so ``exp`` cannot overflow. ``where`` is an optional boolean array,
    broadcastable to ``x``: entries where it is ``False`` get weight exactly 0 and do not count in
    the normalisation, and a slice along ``axis`` with no ``True`` entry gives all zeros (not NaN).
    Without ``where``, a slice of all ``-inf`` gives NaN, as in :func:`torch.softmax`.
    """
    x = _as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError("softmax needs at least one axis, got a 0-D array")
    if where is None:
        shifted = x - np.max(x, axis=axis, keepdims=True)
        e = np.exp(shifted)
        return e / np.sum(e, axis=axis, keepdims=True)
    keep = _broadcast_mask(where, x.shape, "where", "x")
    masked = np.where(keep, x, -np.inf)
    row_max = np.max(masked, axis=axis, keepdims=True)
    # A slice with nothing to keep has max -inf; shifting by 0 instead avoids (-inf) - (-inf) = NaN.
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    e = np.exp(masked - row_max)  # exp(-inf) = 0: masked entries get no weight
    total = np.sum(e, axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def _broadcast_mask(mask: ArrayLike, shape: tuple[int, ...], name: str, target: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(
            f"{name} must be a boolean array (True = attend), got dtype {mask.dtype}; "
            "an additive float mask can be added to the scores directly"
        )
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(f"{name} of shape {mask.shape} cannot be broadcast to the {target} shape {shape}") from None


def causal_mask(q_len: int, k_len: int | None = None) -> np.ndarray:
    """Boolean (q_len, k_len) mask letting query ``i`` attend to keys ``0..i``: True on and below the diagonal.

    Aligned at the top left, like ``is_causal=True`` in ``torch.nn.functional.scaled_dot_product_attention``.
    ``k_len`` defaults to ``q_len``.
    """
    k_len = q_len if k_len is None else k_len
    for name, n in (("q_len", q_len), ("k_len", k_len)):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return np.tri(q_len, k_len, dtype=bool)


def scaled_dot_product_attention(
    Q: ArrayLike,
    K: ArrayLike,
    V: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(Q K^T * scale) V`` with einsum only; returns ``(output, weights)``.

    Q: (..., q_len, d), K: (..., k_len, d), V: (..., k_len, d_v); the leading ``...`` dimensions
    broadcast. Returns output (..., q_len, d_v) and weights (..., q_len, k_len), each row of weights
    summing to 1.

    ``mask`` is boolean and broadcastable to (..., q_len, k_len); ``True`` means "may attend", as in
    :func:`torch.nn.functional.scaled_dot_product_attention`. A query whose keys are all masked gets
    zero weights and a zero output (torch 2.13 returns the same zeros; the naive ``-inf`` formula
    returns NaN). ``scale`` defaults to ``1 / sqrt(d)``.
    """
    Q = _as_float_array(Q, "Q", min_ndim=2)
    K = _as_float_array(K, "K", min_ndim=2)
    V = _as_float_array(V, "V", min_ndim=2)
    _check_same("feature dimensions", "Q", Q, -1, "K", K, -1)
    _check_same("sequence lengths", "K", K, -2, "V", V, -2)
    try:
        batch_shape = np.broadcast_shapes(Q.shape[:-2], K.shape[:-2], V.shape[:-2])
    except ValueError:
        raise ValueError(
            f"leading (batch) dimensions of Q {Q.shape}, K {K.shape} and V {V.shape} do not broadcast"
        ) from None
    scores = np.einsum("...qd,...kd->...qk", Q, K) * _default_scale(Q.shape[-1], scale)
    scores_shape = batch_shape + (Q.shape[-2], K.shape[-2])
    if mask is None:
        weights = softmax(scores, axis=-1)
    else:
        weights = softmax(scores, axis=-1, where=_broadcast_mask(mask, scores_shape, "mask", "attention-score"))
    output = np.einsum("...qk,...kv->...qv", weights, V)
    return output, weights


def multi_head_attention(
    x: ArrayLike,
    W_q: ArrayLike,
    W_k: ArrayLike,
    W_v: ArrayLike,
    W_o: ArrayLike,
    num_heads: int,
    mask: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-head self-attention with every projection and contraction written as an einsum.

    x: (batch, seq_len, d_model). W_q, W_k, W_v, W_o: (d_model, d_model), applied on the right
    (``x @ W``; ``torch.nn.Linear`` stores the transpose). ``d_model`` must be divisible by
    ``num_heads``; each head works in ``head_dim = d_model // num_heads`` dimensions.

    The heads are split by reshaping the *weights* to (d_model, heads, head_dim), so one einsum
    ``'bsm,mhd->bhsd'`` both projects and splits; the output projection reshapes ``W_o`` to
    (heads, head_dim, d_model) and ``'bhqd,hdm->bqm'`` concatenates the heads and projects in one go.

    ``mask``: boolean, broadcastable to (batch, heads, seq_len, seq_len), True = may attend.
    Returns ``(output, weights)``: (batch, seq_len, d_model) and (batch, heads, seq_len, seq_len).
    """
    x = _as_float_array(x, "x", 3)
    d_model = x.shape[-1]
    if not isinstance(num_heads, (int, np.integer)) or isinstance(num_heads, bool) or num_heads < 1:
        raise ValueError(f"num_heads must be a positive integer, got {num_heads!r}")
    if d_model % num_heads:
        raise ValueError(f"d_model={d_model} (x has shape {x.shape}) is not divisible by num_heads={num_heads}")
    head_dim = d_model // num_heads
    weights = {}
    for name, W in (("W_q", W_q), ("W_k", W_k), ("W_v", W_v), ("W_o", W_o)):
        W = _as_float_array(W, name, 2)
        if W.shape != (d_model, d_model):
            raise ValueError(f"{name} must have shape (d_model, d_model) = {(d_model, d_model)}, got {W.shape}")
        weights[name] = W

    def project(W: np.ndarray) -> np.ndarray:
        # (batch, seq, d_model) x (d_model, heads, head_dim) -> (batch, heads, seq, head_dim)
        return np.einsum("bsm,mhd->bhsd", x, W.reshape(d_model, num_heads, head_dim))

    Q, K, V = project(weights["W_q"]), project(weights["W_k"]), project(weights["W_v"])
    scores = attention_scores(Q, K)
    if mask is None:
        attn = softmax(scores, axis=-1)
    else:
        attn = softmax(scores, axis=-1, where=_broadcast_mask(mask, scores.shape, "mask", "attention-score"))
    heads = np.einsum("bhqk,bhkd->bhqd", attn, V)
    W_o = weights["W_o"].reshape(num_heads, head_dim, d_model)
    output = np.einsum("bhqd,hdm->bqm", heads, W_o)
    return output, attn

