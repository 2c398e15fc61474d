"""Attention layers with backward (mlbook.nn.attention) against torch.autograd and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.einsum import causal_mask
from mlbook.nn.attention import MultiHeadAttention, ScaledDotProductAttention, attention_backward
from mlbook.nn.gradcheck import check_module_gradients, numerical_gradient, relative_error

torch.set_num_threads(1)  # tiny tensors: a thread pool only adds contention on a shared machine


def torch_sdpa(Q, K, V, mask, upstream, scale=None):
    tensors = [torch.tensor(a, requires_grad=True) for a in (Q, K, V)]
    out = F.scaled_dot_product_attention(*tensors, attn_mask=None if mask is None else torch.tensor(mask), scale=scale)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 3), q_len=st.integers(1, 5), k_len=st.integers(1, 5), d=st.integers(1, 4),
       d_v=st.integers(1, 4), mask_kind=st.sampled_from([None, "random", "causal"]),
       seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([None, 0.5]))
def test_sdpa_forward_and_backward_match_torch(batch, q_len, k_len, d, d_v, mask_kind, seed, scale):
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((batch, 2, q_len, d))
    K = rng.standard_normal((batch, 2, k_len, d))
    V = rng.standard_normal((batch, 2, k_len, d_v))
    mask = None
    if mask_kind == "random":
        mask = rng.random((batch, 1, q_len, k_len)) < 0.7
        mask[..., 0] = True  # torch gives NaN gradients for a fully masked row; tested separately below
    elif mask_kind == "causal":
        mask = causal_mask(q_len, k_len)
    upstream = rng.standard_normal((batch, 2, q_len, d_v))
    layer = ScaledDotProductAttention(scale)
    out = layer.forward(Q, K, V, mask)
    grads = layer.backward(upstream)
    out_t, grads_t = torch_sdpa(Q, K, V, mask, upstream, scale)
    np.testing.assert_allclose(out, out_t, rtol=1e-10, atol=1e-12)
    for ours, theirs in zip(grads, grads_t):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(layer.weights.sum(-1), 1.0)


def test_sdpa_broadcast_leading_dims_get_summed_gradients():
    rng = np.random.default_rng(0)
    Q = rng.standard_normal((3, 4, 2))     # 3 batches of queries
    K = rng.standard_normal((1, 5, 2))     # one set of keys shared by every batch
    V = rng.standard_normal((5, 3))        # no batch axis at all
    upstream = rng.standard_normal((3, 4, 3))
    layer = ScaledDotProductAttention()
    layer(Q, K, V)
    dQ, dK, dV = layer.backward(upstream)
    assert (dQ.shape, dK.shape, dV.shape) == (Q.shape, K.shape, V.shape)
    _, grads_t = torch_sdpa(Q, K, V, None, upstream)
    for ours, theirs in zip((dQ, dK, dV), grads_t):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_fully_masked_query_gets_zero_output_and_zero_gradient():
    rng = np.random.default_rng(1)
    Q, K, V = rng.standard_normal((3, 2)), rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    mask = np.ones((3, 4), dtype=bool)
    mask[1] = False
    layer = ScaledDotProductAttention()
    out = layer(Q, K, V, mask)
    dQ, dK, dV = layer.backward(np.ones_like(out))
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_array_equal(dQ[1], 0.0)
    assert np.all(np.isfinite(dK)) and np.all(np.isfinite(dV))
    # and the other rows agree with torch, which does the same on those rows
    _, grads_t = torch_sdpa(Q[[0, 2]], K, V, mask[[0, 2]], np.ones((2, 2)))
    np.testing.assert_allclose(dQ[[0, 2]], grads_t[0], rtol=1e-10)


def test_sdpa_finite_differences():
    rng = np.random.default_rng(2)
    Q, K, V = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    mask = rng.random((2, 3, 5)) < 0.6
    mask[..., 2] = True
    R = rng.standard_normal((2, 3, 3))
    layer = ScaledDotProductAttention()

    def loss():
        return float(np.sum(layer.forward(Q, K, V, mask) * R))

    layer.forward(Q, K, V, mask)
    analytic = layer.backward(R)
    for array, grad in zip((Q, K, V), analytic):
        assert relative_error(grad, numerical_gradient(loss, array)) < 1e-6


def torch_mha_from(layer):
    t = torch.nn.MultiheadAttention(layer.d_model, layer.num_heads, bias=layer.bias, batch_first=True).double()
    p = layer.params
    with torch.no_grad():
        t.in_proj_weight.copy_(torch.tensor(np.concatenate([p["W_q"].T, p["W_k"].T, p["W_v"].T])))
        t.out_proj.weight.copy_(torch.tensor(p["W_o"].T))
        if layer.bias:
            t.in_proj_bias.copy_(torch.tensor(np.concatenate([p["b_q"], p["b_k"], p["b_v"]])))
            t.out_proj.bias.copy_(torch.tensor(p["b_o"]))
    return t


def torch_mha_grads(t, d_model):
    """torch's gradients renamed to ours (x @ W convention: transpose the weights)."""
    w = t.in_proj_weight.grad.numpy()
    grads = {"W_q": w[:d_model].T, "W_k": w[d_model:2 * d_model].T, "W_v": w[2 * d_model:].T,
             "W_o": t.out_proj.weight.grad.numpy().T}
    if t.in_proj_bias is not None:
        b = t.in_proj_bias.grad.numpy()
        grads.update(b_q=b[:d_model], b_k=b[d_model:2 * d_model], b_v=b[2 * d_model:], b_o=t.out_proj.bias.grad.numpy())
    return grads


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 3), seq=st.integers(1, 5), heads=st.sampled_from([1, 2, 3]), head_dim=st.integers(1, 3),
       causal=st.booleans(), bias=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_self_attention_matches_torch_multihead_attention(batch, seq, heads, head_dim, causal, bias, seed):
    rng = np.random.default_rng(seed)
    d_model = heads * head_dim
    layer = MultiHeadAttention(d_model, heads, bias=bias, rng=seed)
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape) * 0.7
    x = rng.standard_normal((batch, seq, d_model))
    upstream = rng.standard_normal((batch, seq, d_model))
    mask = causal_mask(seq) if causal else None
    out = layer(x, mask=mask)
    dx = layer.backward(upstream)

    t = torch_mha_from(layer)
    xt = torch.tensor(x, requires_grad=True)
    # torch.nn.MultiheadAttention's boolean attn_mask is the opposite of ours: True there means "masked out"
    out_t, weights_t = t(xt, xt, xt, attn_mask=None if mask is None else torch.tensor(~mask),
                         average_attn_weights=False)
    out_t.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weights, weights_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    for name, grad in torch_mha_grads(t, d_model).items():
        np.testing.assert_allclose(layer.grads[name], grad, rtol=1e-9, atol=1e-10, err_msg=name)


def test_cross_attention_with_padding_mask_matches_torch():
    rng = np.random.default_rng(3)
    layer = MultiHeadAttention(4, 2, rng=0)
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape) * 0.5
    q, kv = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    lengths = np.array([5, 2])  # the second sequence has 3 padding positions
    keep = np.arange(5)[None, :] < lengths[:, None]             # (batch, k_len), True = real token
    out = layer(q, kv, kv, mask=keep[:, None, None, :])         # broadcast over heads and queries
    dq, dk, dv = layer.backward(np.ones_like(out))
    t = torch_mha_from(layer)
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, kv, kv.copy()))
    out_t, _ = t(qt, kt, vt, key_padding_mask=torch.tensor(~keep))
    out_t.sum().backward()
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10)
    for ours, theirs in zip((dq, dk, dv), (qt, kt, vt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(dk[1, 2:], 0.0)  # padded keys receive no gradient
    np.testing.assert_array_equal(layer.weights[1, :, :, 2:], 0.0)


def test_multihead_finite_differences_and_the_key_bias_that_cannot_learn():
    rng = np.random.default_rng(4)
    layer = MultiHeadAttention(6, 2, rng=1)
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape) * 0.5
    errors = check_module_gradients(layer, rng.standard_normal((2, 4, 6)))
    b_k_error = errors.pop("b_k")
    assert max(errors.values()) < 1e-6, errors
    # Adding b_k to every key adds q . b_k to a whole row of scores, which softmax ignores:
    # the key bias's true gradient is exactly 0, so only round-off is left to compare.
    layer.forward(rng.standard_normal((2, 4, 6)))
    layer.backward(rng.standard_normal((2, 4, 6)))
    assert np.max(np.abs(layer.grads["b_k"])) < 1e-12 < np.max(np.abs(layer.grads["b_q"]))
    assert b_k_error <= 1.0


def test_float32_attention_stays_float32_for_the_core():
    rng = np.random.default_rng(5)
    Q, K, V = (rng.standard_normal((2, 3, 4)).astype(np.float32) for _ in range(3))
    layer = ScaledDotProductAttention()
    assert layer(Q, K, V).dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.backward(np.ones((2, 3, 4), np.float32)))


def test_attention_backward_function_directly():
    rng = np.random.default_rng(6)
    Q, K, V = rng.standard_normal((3, 2)), rng.standard_normal((4, 2)), rng.standard_normal((4, 5))
    layer = ScaledDotProductAttention()
    out = layer(Q, K, V)
    grads = attention_backward(np.ones_like(out), Q, K, V, layer.weights, 1 / np.sqrt(2))
    for a, b in zip(grads, layer.backward(np.ones_like(out))):
        np.testing.assert_array_equal(a, b)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(6, 4)
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(6, 0)
    layer = MultiHeadAttention(4, 2)
    with pytest.raises(ValueError, match=r"\(batch, seq_len, 4\), got \(2, 3, 5\)"):
        layer(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match=r"\(batch, seq_len, 4\), got \(3, 4\)"):
        layer(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="floating-point"):
        layer(np.zeros((1, 2, 4), dtype=int))
    with pytest.raises(ValueError, match="both key and value"):
        layer(np.zeros((1, 2, 4)), np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match="batch size"):
        layer(np.zeros((1, 2, 4)), np.zeros((2, 2, 4)), np.zeros((2, 2, 4)))
    with pytest.raises(RuntimeError, match="before forward"):
        MultiHeadAttention(4, 2).backward(np.zeros((1, 2, 4)))
    layer(np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"\(1, 3, 4\).*\(1, 2, 4\)"):
        layer.backward(np.zeros((1, 3, 4)))
    with pytest.raises(TypeError, match="boolean"):
        layer(np.zeros((1, 2, 4)), mask=np.ones((2, 2)))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        layer(np.zeros((1, 2, 4)), mask=np.ones((3, 3), dtype=bool))
    with pytest.raises(ValueError, match="scale"):
        ScaledDotProductAttention(scale=-1.0)
    core = ScaledDotProductAttention()
    with pytest.raises(RuntimeError, match="before forward"):
        core.backward(np.zeros((2, 2)))
    core(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(2, 1\)"):
        core.backward(np.zeros((2, 2)))
