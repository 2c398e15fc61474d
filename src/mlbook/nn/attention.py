"""Attention as layers with a backward pass: :class:`ScaledDotProductAttention` and :class:`MultiHeadAttention`.

The forward passes reuse the einsum implementations of the Einsum chapter
(:func:`mlbook.einsum.scaled_dot_product_attention`); this module adds what training needs, the
gradients. For ``S = scale * Q K^T``, ``A = softmax(S)`` (row-wise, masked entries get weight 0) and
``O = A V``, with ``G = dL/dO``:

    dV = A^T G,     dA = G V^T,     dS = A * (dA - rowsum(dA * A)),     dQ = scale * dS K,     dK = scale * dS^T Q.

A masked entry has ``A = 0``, so its ``dS`` is 0 too: no gradient flows through a connection the mask
forbids, and a fully masked query (all-zero weights, zero output) gets zero gradients.

Masks are boolean with ``True`` meaning "may attend", like
:func:`torch.nn.functional.scaled_dot_product_attention`. **``torch.nn.MultiheadAttention`` uses the
opposite convention** for a boolean ``attn_mask`` (``True`` = *not* allowed): pass ``~mask`` there.

Because attention takes several inputs (queries, keys, values, a mask), these layers extend the
single-input :class:`~mlbook.nn.module.Module` contract: ``forward`` takes them all, and ``backward``
returns one gradient per array input (see each class).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from mlbook.einsum import scaled_dot_product_attention
from mlbook.nn.module import Module

__all__ = ["MultiHeadAttention", "ScaledDotProductAttention", "attention_backward"]


def _sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Undo broadcasting: sum ``grad`` over the axes that broadcasting added or stretched from size 1."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def attention_backward(grad_output: np.ndarray, Q: np.ndarray, K: np.ndarray, V: np.ndarray,
                       weights: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dQ, dK, dV)`` of scaled dot-product attention, given dL/d(output) and the forward's weights.

    Q: (..., q_len, d), K: (..., k_len, d), V: (..., k_len, d_v), weights: (..., q_len, k_len) (the
    softmax output, with zeros where masked), grad_output: (..., q_len, d_v). Leading dimensions may
    have been broadcast in the forward pass; each gradient is summed back to its input's shape.
    """
    dV = np.einsum("...qk,...qv->...kv", weights, grad_output)
    dA = np.einsum("...qv,...kv->...qk", grad_output, V)
    dS = weights * (dA - np.sum(dA * weights, axis=-1, keepdims=True))  # softmax's Jacobian-vector product
    dQ = np.einsum("...qk,...kd->...qd", dS, K) * scale
    dK = np.einsum("...qk,...qd->...kd", dS, Q) * scale
    return _sum_to_shape(dQ, Q.shape), _sum_to_shape(dK, K.shape), _sum_to_shape(dV, V.shape)


class ScaledDotProductAttention(Module):
    """``softmax(Q K^T * scale) V`` with an optional boolean mask, as a layer with a backward pass.

    ``forward(Q, K, V, mask=None)``: Q (..., q_len, d), K (..., k_len, d), V (..., k_len, d_v),
    mask broadcastable to (..., q_len, k_len), ``True`` = may attend. Returns the output
    (..., q_len, d_v) and keeps the attention weights in ``self.weights`` (for plotting).
    ``backward(grad_output)`` returns ``(dQ, dK, dV)``. ``scale`` defaults to ``1 / sqrt(d)``.
    No parameters.
    """

    def __init__(self, scale: float | None = None) -> None:
        super().__init__()
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0):
            raise ValueError(f"scale must be a positive number or None (1/sqrt(d)), got {scale!r}")
        self.scale = scale
        self.weights: np.ndarray | None = None

    def __call__(self, Q: ArrayLike, K: ArrayLike, V: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
        return self.forward(Q, K, V, mask)

    def forward(self, Q: ArrayLike, K: ArrayLike, V: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:  # type: ignore[override]
        output, weights = scaled_dot_product_attention(Q, K, V, mask, scale=self.scale)
        self.Q, self.K, self.V = np.asarray(Q), np.asarray(K), np.asarray(V)
        self.weights = weights
        self._scale = 1.0 / math.sqrt(self.Q.shape[-1]) if self.scale is None else float(self.scale)
        self._output_shape = output.shape
        return output

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[override]
        if self.weights is None:
            raise RuntimeError("ScaledDotProductAttention.backward called before forward")
        grad_output = np.asarray(grad_output)
        if grad_output.shape != self._output_shape:
            raise ValueError(
                f"ScaledDotProductAttention.backward: grad_output has shape {grad_output.shape}, "
                f"but forward produced {self._output_shape}"
            )
        return attention_backward(grad_output, self.Q, self.K, self.V, self.weights, self._scale)


class MultiHeadAttention(Module):
    """Multi-head attention with learned projections, like ``torch.nn.MultiheadAttention(batch_first=True)``.

    ``forward(query, key=None, value=None, mask=None)``: query (batch, q_len, d_model); key and value
    (batch, k_len, d_model) are both given (cross-attention) or both left out (self-attention: they
    are ``query``). Each is projected (``x @ W + b``),
    split into ``num_heads`` heads of ``d_model // num_heads`` features, attended per head, and the heads
    are concatenated and projected by ``W_o``. ``mask``: boolean, broadcastable to
    (batch, heads, q_len, k_len), ``True`` = may attend; e.g. :func:`mlbook.einsum.causal_mask` or a
    padding mask of shape (batch, 1, 1, k_len). Returns (batch, q_len, d_model); the weights
    (batch, heads, q_len, k_len) are kept in ``self.weights``.

    ``backward(grad_output)`` fills ``grads`` for every parameter and returns dL/d(query) for
    self-attention, or ``(d_query, d_key, d_value)`` when key or value were passed.

    Parameters: ``W_q, W_k, W_v, W_o`` (d_model, d_model), applied on the right (torch stores the
    transposes: ``in_proj_weight = concat(W_q.T, W_k.T, W_v.T)``, ``out_proj.weight = W_o.T``) and,
    if ``bias``, ``b_q, b_k, b_v, b_o`` (d_model,). Weights start Xavier-uniform, biases at zero.
    """

    _PROJECTIONS = ("q", "k", "v")

    def __init__(self, d_model: int, num_heads: int, bias: bool = True,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        for name, n in (("d_model", d_model), ("num_heads", num_heads)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"{name} must be a positive integer, got {n!r}")
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        self.d_model, self.num_heads, self.head_dim = int(d_model), int(num_heads), d_model // num_heads
        self.bias = bool(bias)
        rng = np.random.default_rng(rng)
        limit = math.sqrt(6.0 / (2 * d_model))  # Xavier/Glorot uniform for a square matrix
        for p in ("q", "k", "v", "o"):
            self.params[f"W_{p}"] = rng.uniform(-limit, limit, size=(d_model, d_model))
        if self.bias:
            for p in ("q", "k", "v", "o"):
                self.params[f"b_{p}"] = np.zeros(d_model)
        self.core = ScaledDotProductAttention()
        self.weights: np.ndarray | None = None

    def __call__(self, query: ArrayLike, key: ArrayLike | None = None, value: ArrayLike | None = None,
                 mask: ArrayLike | None = None) -> np.ndarray:
        return self.forward(query, key, value, mask)

    def _check(self, x: ArrayLike, name: str) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"MultiHeadAttention: {name} must be a floating-point array, got dtype {x.dtype}")
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"MultiHeadAttention(d_model={self.d_model}): {name} must have shape (batch, seq_len, {self.d_model}), "
                f"got {x.shape}"
            )
        return x

    def _project(self, x: np.ndarray, p: str) -> np.ndarray:
        """(batch, seq, d_model) -> (batch, heads, seq, head_dim)."""
        y = x @ self.params[f"W_{p}"]
        if self.bias:
            y = y + self.params[f"b_{p}"]
        batch, seq, _ = x.shape
        return y.reshape(batch, seq, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def forward(self, query: ArrayLike, key: ArrayLike | None = None, value: ArrayLike | None = None,  # type: ignore[override]
                mask: ArrayLike | None = None) -> np.ndarray:
        if (key is None) != (value is None):
            raise ValueError("MultiHeadAttention: pass both key and value (cross-attention) or neither (self-attention)")
        self.self_attention = key is None
        q_in = self._check(query, "query")
        k_in = q_in if key is None else self._check(key, "key")
        v_in = q_in if value is None else self._check(value, "value")
        if k_in.shape[:2] != v_in.shape[:2] or q_in.shape[0] != k_in.shape[0]:
            raise ValueError(
                f"MultiHeadAttention: query {q_in.shape}, key {k_in.shape} and value {v_in.shape} must share the "
                "batch size, and key and value the sequence length"
            )
        self.inputs = {"q": q_in, "k": k_in, "v": v_in}
        heads = self.core.forward(self._project(q_in, "q"), self._project(k_in, "k"), self._project(v_in, "v"), mask)
        self.weights = self.core.weights
        batch, q_len = q_in.shape[:2]
        self.concat = heads.transpose(0, 2, 1, 3).reshape(batch, q_len, self.d_model)
        out = self.concat @ self.params["W_o"]
        return out + self.params["b_o"] if self.bias else out

    def backward(self, grad_output: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[override]
        if self.weights is None:
            raise RuntimeError("MultiHeadAttention.backward called before forward")
        g = np.asarray(grad_output)
        if g.shape != self.concat.shape:
            raise ValueError(f"MultiHeadAttention.backward: grad_output has shape {g.shape}, expected {self.concat.shape}")
        grads = {"W_o": np.einsum("bsi,bsj->ij", self.concat, g)}
        if self.bias:
            grads["b_o"] = g.sum(axis=(0, 1))
        d_concat = g @ self.params["W_o"].T
        batch, q_len = g.shape[:2]
        d_heads = d_concat.reshape(batch, q_len, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)
        d_proj = dict(zip(self._PROJECTIONS, self.core.backward(d_heads)))
        d_inputs = {}
        for p in self._PROJECTIONS:
            x = self.inputs[p]
            d = d_proj[p].transpose(0, 2, 1, 3).reshape(x.shape)  # merge the heads back: (batch, seq, d_model)
            grads[f"W_{p}"] = np.einsum("bsi,bsj->ij", x, d)
            if self.bias:
                grads[f"b_{p}"] = d.sum(axis=(0, 1))
            d_inputs[p] = d @ self.params[f"W_{p}"].T
        self.grads = grads
        if self.self_attention:
            return d_inputs["q"] + d_inputs["k"] + d_inputs["v"]
        return d_inputs["q"], d_inputs["k"], d_inputs["v"]

    def __repr__(self) -> str:
        return f"MultiHeadAttention(d_model={self.d_model}, num_heads={self.num_heads}, bias={self.bias})"
