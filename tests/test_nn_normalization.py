"""BatchNorm1d and LayerNorm against torch.nn (same parameters, torch.autograd) and finite differences."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

torch.set_num_threads(1)  # tiny tensors: a thread pool only adds contention on a shared machine

from mlbook.nn.gradcheck import check_module_gradients
from mlbook.nn.normalization import BatchNorm1d, LayerNorm


def randomise(layer, rng):
    for value in layer.params.values():
        value[...] = rng.standard_normal(value.shape)


def copy_to_torch(layer, torch_layer):
    with torch.no_grad():
        for name, value in layer.params.items():
            getattr(torch_layer, name).copy_(torch.tensor(value))


def torch_forward_backward(torch_layer, x, upstream):
    t = torch.tensor(x, requires_grad=True)
    out = torch_layer(t)
    out.backward(torch.tensor(upstream))
    grads = {name: p.grad.numpy() for name, p in torch_layer.named_parameters()}
    return out.detach().numpy(), t.grad.numpy(), grads


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 7), c=st.integers(1, 5), length=st.sampled_from([None, 1, 4]),
       seed=st.integers(0, 2**31 - 1), training=st.booleans(), affine=st.booleans())
def test_batchnorm_forward_backward_match_torch(n, c, length, seed, training, affine):
    rng = np.random.default_rng(seed)
    shape = (n, c) if length is None else (n, c, length)
    layer = BatchNorm1d(c, affine=affine)
    torch_layer = torch.nn.BatchNorm1d(c, affine=affine).double()
    randomise(layer, rng)
    copy_to_torch(layer, torch_layer)
    for _ in range(3):  # give the running statistics something to hold
        warm = rng.standard_normal(shape) * 2 + 1
        layer.forward(warm)
        torch_layer(torch.tensor(warm))
    layer.train(training)
    torch_layer.train(training)
    x = rng.standard_normal(shape) * 3 - 1
    upstream = rng.standard_normal(shape)
    out = layer.forward(x)
    grad = layer.backward(upstream)
    out_t, grad_t, grads_t = torch_forward_backward(torch_layer, x, upstream)
    np.testing.assert_allclose(out, out_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, grad_t, rtol=1e-9, atol=1e-11)
    for name in layer.params:
        np.testing.assert_allclose(layer.grads[name], grads_t[name], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(layer.running_mean, torch_layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, torch_layer.running_var.numpy(), rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_running_statistics_track_torch_over_many_steps(momentum):
    rng = np.random.default_rng(7)
    layer = BatchNorm1d(4, momentum=momentum)
    torch_layer = torch.nn.BatchNorm1d(4, momentum=momentum).double()
    for step in range(200):
        batch = int(rng.integers(2, 9))  # changing batch sizes exercise the unbiased m / (m - 1) factor
        x = rng.standard_normal((batch, 4)) * np.array([1.0, 5.0, 0.1, 2.0]) + np.array([0.0, -3.0, 10.0, 1.0])
        layer.forward(x)
        torch_layer(torch.tensor(x))
    np.testing.assert_allclose(layer.running_mean, torch_layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, torch_layer.running_var.numpy(), rtol=1e-12)
    assert layer.num_batches_tracked == int(torch_layer.num_batches_tracked) == 200
    if momentum != 0.5:  # an average over many batches lands near the true variances (momentum 0.5 ~ 2 batches)
        np.testing.assert_allclose(layer.running_var, [1.0, 25.0, 0.01, 4.0], rtol=0.5)


def test_batchnorm_without_running_stats_uses_the_batch_in_eval_too():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3))
    layer = BatchNorm1d(3, track_running_stats=False).eval()
    torch_layer = torch.nn.BatchNorm1d(3, track_running_stats=False).double().eval()
    np.testing.assert_allclose(layer.forward(x), torch_layer(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_batchnorm_batch_of_one():
    layer = BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        layer.forward(np.ones((1, 3)))
    with pytest.raises(ValueError):  # torch refuses too
        torch.nn.BatchNorm1d(3)(torch.ones(1, 3))
    layer.forward(np.random.default_rng(0).standard_normal((8, 3)))
    layer.eval()
    single = layer.forward(np.ones((1, 3)))
    assert single.shape == (1, 3) and np.all(np.isfinite(single))
    # one example with a length axis has two values per channel, which is enough (as in torch)
    x = np.arange(6.0).reshape(1, 3, 2)
    out = layer.train().forward(x)
    np.testing.assert_allclose(out, torch.nn.BatchNorm1d(3).double()(torch.tensor(x)).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_finite_differences(shape, training):
    rng = np.random.default_rng(2)
    layer = BatchNorm1d(3)
    randomise(layer, rng)
    layer.forward(rng.standard_normal(shape))
    layer.train(training)
    errors = check_module_gradients(layer, rng.standard_normal(shape))
    assert max(errors.values()) < 1e-6, errors


@settings(max_examples=30, deadline=None)
@given(lead=st.lists(st.integers(1, 4), min_size=0, max_size=2).map(tuple),
       normalized=st.lists(st.integers(1, 5), min_size=1, max_size=2).map(tuple), seed=st.integers(0, 2**31 - 1),
       affine=st.booleans())
def test_layernorm_matches_torch(lead, normalized, seed, affine):
    rng = np.random.default_rng(seed)
    layer = LayerNorm(normalized, elementwise_affine=affine)
    torch_layer = torch.nn.LayerNorm(normalized, elementwise_affine=affine).double()
    randomise(layer, rng)
    copy_to_torch(layer, torch_layer)
    shape = lead + normalized
    x = rng.standard_normal(shape) * 4 + 2
    upstream = rng.standard_normal(shape)
    out = layer.forward(x)
    grad = layer.backward(upstream)
    out_t, grad_t, grads_t = torch_forward_backward(torch_layer, x, upstream)
    np.testing.assert_allclose(out, out_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, grad_t, rtol=1e-8, atol=1e-10)
    for name in layer.params:
        np.testing.assert_allclose(layer.grads[name], grads_t[name], rtol=1e-9, atol=1e-11)


def test_layernorm_finite_differences_and_same_in_eval():
    rng = np.random.default_rng(4)
    layer = LayerNorm(5)
    randomise(layer, rng)
    x = rng.standard_normal((3, 2, 5))
    errors = check_module_gradients(layer, x)
    assert max(errors.values()) < 1e-6, errors
    train_out = layer.forward(x)
    np.testing.assert_array_equal(layer.eval().forward(x), train_out)
    assert layer.forward(x[:1, :1]).shape == (1, 1, 5)  # a batch of one is fine


def test_float32_stays_float32():
    x = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    assert BatchNorm1d(3).forward(x).dtype == np.float32
    assert LayerNorm(3).forward(x).dtype == np.float32


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match=r"shape \(N, 3\) or \(N, 3, L\), got \(4, 5\)"):
        BatchNorm1d(3).forward(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        BatchNorm1d(3).forward(np.zeros(4))
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        LayerNorm(3, eps=0)
    with pytest.raises(ValueError, match=r"ending in \(3,\), got shape \(2, 4\)"):
        LayerNorm(3).forward(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="floating-point"):
        LayerNorm(3).forward(np.zeros((2, 3), dtype=int))
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm1d(3).backward(np.zeros((2, 3)))
    layer = LayerNorm(3)
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(2, 3\)"):
        layer.backward(np.zeros((3, 3)))
