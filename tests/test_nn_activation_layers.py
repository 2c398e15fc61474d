"""Activation layers (mlbook.nn.layers_activation) and the new activation functions, against torch.autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

torch.set_num_threads(1)  # tiny tensors: a thread pool only adds contention on a shared machine

from mlbook.nn.activations import (
    gelu,
    gelu_derivative,
    leaky_relu,
    leaky_relu_derivative,
    log_softmax,
    logsumexp,
    relu_derivative,
    softmax,
    tanh_derivative,
)
from mlbook.nn.gradcheck import check_module_gradients
from mlbook.nn.layers_activation import (
    ACTIVATION_LAYERS,
    GELU,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    make_activation,
)

LAYERS = {
    "relu": (ReLU, torch.relu),
    "leaky_relu": (lambda: LeakyReLU(0.2), lambda t: F.leaky_relu(t, 0.2)),
    "sigmoid": (Sigmoid, torch.sigmoid),
    "tanh": (Tanh, torch.tanh),
    "gelu": (GELU, F.gelu),
    "gelu_tanh": (lambda: GELU("tanh"), lambda t: F.gelu(t, approximate="tanh")),
    "softmax": (Softmax, lambda t: torch.softmax(t, dim=-1)),
    "softmax_axis0": (lambda: Softmax(0), lambda t: torch.softmax(t, dim=0)),
    "identity": (Identity, lambda t: t),
}

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


def torch_forward_backward(fn, x, upstream):
    t = torch.tensor(x, requires_grad=True)
    out = fn(t)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("name", sorted(LAYERS))
@settings(max_examples=12, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_layer_matches_torch_autograd(name, shape, seed, scale):
    make, torch_fn = LAYERS[name]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale
    upstream = rng.standard_normal(shape)
    layer = make()
    out = layer.forward(x)
    grad = layer.backward(upstream)
    out_t, grad_t = torch_forward_backward(torch_fn, x, upstream)
    np.testing.assert_allclose(out, out_t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, grad_t, rtol=1e-10, atol=1e-14)
    assert layer.params == {}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_passes_finite_difference_check(name):
    layer = LAYERS[name][0]()
    x = np.random.default_rng(1).standard_normal((4, 6))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink, where the derivative does not exist
    errors = check_module_gradients(layer, x)
    assert errors["input"] < 1e-6, errors


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax"])
def test_float32_stays_float32(name):
    layer = LAYERS[name][0]()
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    assert layer.forward(x).dtype == np.float32
    assert layer.backward(np.ones_like(x)).dtype == np.float32


def test_sigmoid_layer_is_finite_and_exact_at_extremes():
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    layer = Sigmoid()
    with np.errstate(all="raise"):
        out = layer.forward(x)
        grad = layer.backward(np.ones_like(x))
    out_t, grad_t = torch_forward_backward(torch.sigmoid, x, np.ones_like(x))
    np.testing.assert_allclose(out, out_t, rtol=1e-15)
    # torch computes s * (1 - s), which is exactly 0 at x = 40; the true derivative is exp(-40) ~ 4e-18
    assert grad[3] == pytest.approx(np.exp(-40.0), rel=1e-12) and grad_t[3] == 0.0
    assert grad[1] == pytest.approx(grad_t[1], rel=1e-12)


def test_relu_gradient_at_zero_is_zero_like_torch():
    layer = ReLU()
    layer.forward(np.array([0.0, -0.0, 1e-300]))
    np.testing.assert_array_equal(layer.backward(np.ones(3)), [0.0, 0.0, 1.0])


# --- the functions added to mlbook.nn.activations -------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), slope=st.floats(0.0, 0.5))
def test_elementwise_functions_and_derivatives_match_torch(seed, slope):
    z = np.random.default_rng(seed).standard_normal(30) * 4
    z[np.abs(z) < 1e-6] = 1.0
    cases = [
        (lambda a: leaky_relu(a, slope), lambda a: leaky_relu_derivative(a, slope), lambda t: F.leaky_relu(t, slope)),
        (gelu, gelu_derivative, F.gelu),
        (lambda a: gelu(a, "tanh"), lambda a: gelu_derivative(a, "tanh"), lambda t: F.gelu(t, approximate="tanh")),
        (np.tanh, tanh_derivative, torch.tanh),
        (lambda a: np.maximum(a, 0), relu_derivative, torch.relu),
    ]
    for f, df, torch_f in cases:
        value, derivative = torch_forward_backward(torch_f, z, np.ones_like(z))
        # atol: torch's GELU uses 1 + erf, which cancels in the far negative tail (ours uses erfc)
        np.testing.assert_allclose(f(z), value, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(df(z), derivative, rtol=1e-10, atol=1e-13)


def test_gelu_keeps_relative_accuracy_in_the_negative_tail():
    # Phi(-10) = 7.619853024160527e-24 (the standard normal's tail; erfc(10/sqrt 2) / 2)
    assert gelu(-10.0) == pytest.approx(-10 * 7.619853024160527e-24, rel=1e-13)


def test_gelu_exact_and_tanh_forms_differ_by_little():
    z = np.linspace(-8, 8, 4001)
    gap = np.max(np.abs(gelu(z) - gelu(z, "tanh")))
    assert 1e-4 < gap < 5e-4


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.sampled_from([1.0, 100.0, 1e4, 1e30]), axis=st.sampled_from([0, 1, -1]))
def test_logsumexp_and_log_softmax_match_torch_at_any_scale(seed, scale, axis):
    x = np.random.default_rng(seed).standard_normal((4, 5)) * scale
    with np.errstate(over="raise", invalid="raise"):
        lse = logsumexp(x, axis=axis)
        ls = log_softmax(x, axis=axis)
    np.testing.assert_allclose(lse, torch.logsumexp(torch.tensor(x), dim=axis).numpy(), rtol=1e-12)
    np.testing.assert_allclose(ls, torch.log_softmax(torch.tensor(x), dim=axis).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.exp(ls), softmax(x, axis=axis), rtol=1e-10, atol=1e-300)
    assert logsumexp(x, axis=axis, keepdims=True).ndim == 2


def test_logsumexp_edge_cases():
    assert logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert logsumexp(np.array([1e4, 1e4])) == pytest.approx(1e4 + np.log(2), rel=1e-15)
    assert np.isfinite(log_softmax(np.array([0.0, -1e4]))).all()
    with pytest.raises(ValueError, match="0-D"):
        logsumexp(np.float64(1.0))


# --- construction by name and bad input ------------------------------------------------------------------


def test_make_activation_by_name():
    assert isinstance(make_activation("ReLU"), ReLU)
    assert isinstance(make_activation("none"), Identity)
    assert make_activation("leaky_relu", negative_slope=0.3).negative_slope == 0.3
    assert make_activation("gelu", approximate="tanh").approximate == "tanh"
    assert set(ACTIVATION_LAYERS) == {"relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "identity"}


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*relu"):
        make_activation("swish")
    with pytest.raises(TypeError, match="string"):
        make_activation(3)
    with pytest.raises(ValueError, match="approximate"):
        GELU("erf")
    with pytest.raises(ValueError, match="approximate"):
        gelu(1.0, approximate="fast")
    with pytest.raises(ValueError, match="finite"):
        LeakyReLU(float("nan"))
    with pytest.raises(TypeError, match="negative_slope"):
        leaky_relu(1.0, negative_slope="0.1")
    with pytest.raises(TypeError, match="floating-point"):
        ReLU().forward(np.arange(3))
    with pytest.raises(RuntimeError, match="before forward"):
        Tanh().backward(np.ones(3))
    layer = Sigmoid()
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        layer.backward(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="axis=2"):
        Softmax(axis=2).forward(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="axis"):
        Softmax(axis=1.0)


# --- figures and float-format facts (mlbook.viz.activations) ----------------------------------------------


def test_float_formats_match_torch_finfo():
    from mlbook.viz.activations import FLOAT_FORMATS

    for name, fmt in FLOAT_FORMATS.items():
        info = torch.finfo(getattr(torch, name))
        assert (fmt.bits, fmt.eps, fmt.max, fmt.tiny) == (info.bits, info.eps, info.max, info.tiny)
        assert fmt.smallest_subnormal == info.tiny * info.eps
        # the spacing at 1 is eps, and torch agrees on the next number after a few magnitudes
        for x in (1.0, 3.0, 1000.0):
            t = torch.tensor(x, dtype=getattr(torch, name))
            nxt = torch.nextafter(t.float(), torch.tensor(np.inf)).item() if name == "float32" else None
            if nxt is not None:
                assert fmt.spacing(x) == nxt - x
            assert (t + fmt.spacing(x)).item() != x and (t + fmt.spacing(x) / 4).item() == x


def test_figures_build_and_reject_bad_input():
    from matplotlib.figure import Figure

    from mlbook.viz.curves import plot_curves
    from mlbook.viz.activations import (
        plot_activations,
        plot_float_formats,
        plot_normalization_axes,
        plot_stable_vs_naive,
    )

    z = np.linspace(-3, 3, 7)
    figures = [
        plot_activations(),
        plot_activations(("gelu", "gelu_tanh"), z),
        plot_float_formats(),
        plot_normalization_axes(3, 4),
        plot_stable_vs_naive(z, {"a": z**2, "b": np.where(z < 0, np.inf, z)}),
        plot_curves({"x": np.arange(5.0)}, reference=1.0, logy=True),
    ]
    assert all(isinstance(f, Figure) for f in figures)
    with pytest.raises(ValueError, match="unknown activation"):
        plot_activations(("swish",))
    with pytest.raises(ValueError, match="unknown float format"):
        plot_float_formats(("float8",))
    with pytest.raises(ValueError, match="between 2 and 30"):
        plot_normalization_axes(1, 4)
    with pytest.raises(ValueError, match=r"curve 'a' has shape \(3,\)"):
        plot_stable_vs_naive(z, {"a": np.zeros(3)})
    with pytest.raises(ValueError, match="at least one curve"):
        plot_curves({})
