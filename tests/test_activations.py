"""mlbook.nn.activations against torch (and NumPy), at ordinary and extreme inputs, in float32 and float64."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from mlbook.nn import ACTIVATIONS, get_activation, identity, relu, sigmoid, sigmoid_derivative, step, tanh

EXTREMES = np.array([-1000.0, -745.0, -710.0, -100.0, -88.0, -40.0, -1e-8, 0.0, 1e-8, 40.0, 88.0, 100.0, 710.0, 1000.0])
# The smallest normal number of each dtype: below it, torch and we may round a subnormal differently.
TINY = {np.float32: np.finfo(np.float32).tiny, np.float64: np.finfo(np.float64).tiny}


def _inputs(dtype):
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(scale=30.0, size=500), EXTREMES]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_matches_torch_including_extremes(dtype):
    z = _inputs(dtype)
    ours = sigmoid(z)
    theirs = torch.sigmoid(torch.from_numpy(z)).numpy()
    assert ours.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=TINY[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_never_overflows(dtype):
    z = np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        result = sigmoid(z)
    assert result[0] == 0.0 and result[2] == 0.5 and result[-1] == 1.0
    assert np.all(np.isfinite(result))


def test_the_naive_formula_does_overflow():
    """The test above would be pointless if the textbook formula did not fail at z = -1000."""
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        1.0 / (1.0 + np.exp(-np.array([-1000.0])))


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, array_shapes(max_dims=3, max_side=5), elements=st.floats(-800, 800)))
def test_sigmoid_properties(z):
    s = sigmoid(z)
    assert s.shape == z.shape
    assert np.all((s >= 0) & (s <= 1))
    # sigmoid(-z) = 1 - sigmoid(z), up to rounding: each term and the sum round once (1 ulp of 1 is 2.2e-16)
    np.testing.assert_allclose(s + sigmoid(-z), 1.0, rtol=0, atol=4.5e-16)
    order = np.argsort(z.ravel())
    assert np.all(np.diff(s.ravel()[order]) >= 0)  # non-decreasing


def test_sigmoid_dtypes_and_scalars():
    assert sigmoid(np.float16(0.0)).dtype == np.float16
    assert sigmoid(np.array([0, 1, 2])).dtype == np.float64  # integers are computed in float64
    assert sigmoid(np.array([True])).dtype == np.float64
    assert sigmoid(0) == 0.5 and np.ndim(sigmoid(0)) == 0
    assert np.isnan(sigmoid(np.nan))


@pytest.mark.parametrize("bad", [np.array(["a"]), np.array([1 + 2j]), np.array([object()])])
def test_sigmoid_rejects_non_real_input(bad):
    with pytest.raises(TypeError, match="dtype"):
        sigmoid(bad)


def test_sigmoid_derivative_matches_torch_autograd():
    z = torch.from_numpy(_inputs(np.float64)[:500]).requires_grad_(True)
    torch.sigmoid(z).sum().backward()
    # torch differentiates as y * (1 - y), which is only accurate to about 1e-16 in absolute terms.
    np.testing.assert_allclose(sigmoid_derivative(z.detach().numpy()), z.grad.numpy(), rtol=1e-12, atol=3e-16)


def test_sigmoid_derivative_keeps_relative_precision_for_large_z():
    z = np.array([-700.0, -40.0, -5.0, 0.0, 5.0, 40.0, 700.0])
    e = np.exp(-np.abs(z))
    exact = e / (1.0 + e) ** 2
    np.testing.assert_allclose(sigmoid_derivative(z), exact, rtol=1e-14)
    s = sigmoid(40.0)
    assert s * (1 - s) == 0.0  # the textbook form loses everything: 1 - s cancels to exactly 0
    assert sigmoid_derivative(40.0) > 0


def test_sigmoid_derivative_maximum_is_a_quarter_at_zero():
    z = np.linspace(-10, 10, 20001)
    d = sigmoid_derivative(z)
    assert d.max() == 0.25 and z[np.argmax(d)] == 0.0
    assert sigmoid_derivative(np.float32(3.0)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_relu_tanh_match_torch(dtype):
    z = np.concatenate([_inputs(dtype), np.zeros(3, dtype)])
    t = torch.from_numpy(z)
    np.testing.assert_array_equal(step(z), torch.heaviside(t, torch.tensor(1.0, dtype=t.dtype)).numpy())
    np.testing.assert_array_equal(step(z), np.heaviside(z, 1.0))
    np.testing.assert_array_equal(relu(z), torch.relu(t).numpy())
    np.testing.assert_allclose(tanh(z), torch.tanh(t).numpy(), rtol=2e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_array_equal(identity(z), z)
    for fn in (step, relu, tanh, identity):
        assert fn(z).dtype == dtype


def test_step_fires_at_zero_and_relu_at_zero_is_zero():
    assert step(0.0) == 1.0 and step(-1e-300) == 0.0
    assert relu(-3) == 0.0 and relu(2) == 2.0


def test_identity_returns_a_copy():
    z = np.ones(3)
    out = identity(z)
    out[0] = 5
    assert z[0] == 1


def test_get_activation():
    assert get_activation("sigmoid") is sigmoid
    assert get_activation("ReLU") is relu
    assert set(ACTIVATIONS) == {"sigmoid", "step", "relu", "tanh", "identity"}
    custom = np.sin
    assert get_activation(custom) is custom
    with pytest.raises(ValueError, match=r"unknown activation 'softplus'.*'relu'.*'sigmoid'"):
        get_activation("softplus")
    with pytest.raises(TypeError, match="name or a callable, got int"):
        get_activation(3)
