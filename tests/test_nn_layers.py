"""mlbook.nn.layers: Linear, Dropout, Sequential and mlp against torch.nn, torch.autograd and finite differences."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.nn.gradcheck import check_module_gradients
from mlbook.nn.layers import (INITS, Dropout, Linear, Sequential, activation_module, count_parameters,
                              init_weight, mlp)

dims = st.integers(1, 7)


def _torch_linear(layer: Linear) -> torch.nn.Linear:
    t = torch.nn.Linear(layer.in_features, layer.out_features, bias="bias" in layer.params, dtype=torch.float64)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(layer.params["weight"]))
        if "bias" in layer.params:
            t.bias.copy_(torch.from_numpy(layer.params["bias"]))
    return t


@settings(max_examples=60, deadline=None)
@given(batch=dims, n_in=dims, n_out=dims, bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_forward_and_backward_match_torch(batch, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    layer = Linear(n_in, n_out, bias=bias, rng=rng)
    if bias:
        layer.params["bias"][:] = rng.standard_normal(n_out)  # non-zero, so a bias bug shows
    x = rng.standard_normal((batch, n_in))
    g = rng.standard_normal((batch, n_out))
    tl = _torch_linear(layer)
    tx = torch.tensor(x, requires_grad=True)
    ty = tl(tx)
    ty.backward(torch.from_numpy(g))
    y = layer.forward(x)
    dx = layer.backward(g)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["weight"], tl.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    if bias:
        np.testing.assert_allclose(layer.grads["bias"], tl.bias.grad.numpy(), rtol=1e-12, atol=1e-12)
    else:
        assert "bias" not in layer.grads


def test_linear_passes_finite_differences():
    layer = Linear(4, 3, rng=0)
    layer.params["bias"][:] = [0.1, -0.2, 0.3]
    errors = check_module_gradients(layer, np.random.default_rng(1).standard_normal((5, 4)))
    assert set(errors) == {"input", "weight", "bias"}
    assert max(errors.values()) < 1e-7


def test_linear_float32_stays_float32():
    layer = Linear(3, 2, rng=0, dtype=np.float32)
    y = layer.forward(np.ones((4, 3), dtype=np.float32))
    assert y.dtype == np.float32 and layer.params["weight"].dtype == np.float32


def test_linear_rejects_bad_shapes_with_clear_messages():
    layer = Linear(3, 2, rng=0)
    with pytest.raises(ValueError, match=r"\(batch, 3\), got shape \(4, 5\)"):
        layer.forward(np.ones((4, 5)))
    with pytest.raises(ValueError, match="transpose"):
        layer.forward(np.ones((3, 7)))            # (features, batch): the column convention
    with pytest.raises(ValueError, match="2-D"):
        layer.forward(np.ones(3))
    with pytest.raises(TypeError, match="floating"):
        layer.forward(np.array([["a", "b", "c"]]))
    with pytest.raises(RuntimeError, match="before forward"):
        Linear(3, 2).backward(np.ones((1, 2)))
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"grad_output of shape \(4, 2\)"):
        layer.backward(np.ones((4, 3)))
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        Linear(0, 2)


@pytest.mark.parametrize("scheme, expected_var", [
    ("he", 2 / 400), ("he_uniform", 2 / 400), ("xavier", 2 / 700), ("xavier_normal", 2 / 700), ("lecun", 1 / 400),
])
def test_init_variance(scheme, expected_var):
    w = init_weight(400, 300, scheme, rng=0)
    assert w.shape == (300, 400)
    assert abs(w.var() / expected_var - 1) < 0.03
    assert abs(w.mean()) < 0.01


def test_init_bounds_match_torch_formulas():
    w = init_weight(50, 30, "xavier", rng=0)
    t = torch.empty(30, 50, dtype=torch.float64)
    torch.nn.init.xavier_uniform_(t)
    bound = np.sqrt(6 / 80)
    assert np.abs(w).max() <= bound and t.abs().max().item() <= bound
    assert np.abs(w).max() > 0.95 * bound
    assert np.array_equal(init_weight(3, 2, "zeros"), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unknown initialisation 'glorot'"):
        init_weight(3, 2, "glorot")
    assert set(INITS) >= {"he", "xavier"}


def test_he_init_keeps_relu_activations_at_scale_and_xavier_does_not():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 256))
    second_moment = {}
    for scheme in ("he", "lecun"):
        h = x
        for _ in range(10):
            h = np.maximum(h @ init_weight(256, 256, scheme, rng=rng).T, 0)
        second_moment[scheme] = float(np.mean(h ** 2))
    assert 0.5 < second_moment["he"] < 2.0          # the mean square stays about 1
    assert second_moment["lecun"] < 0.01             # halves every layer: 2**-10


def test_dropout_training_eval_and_backward():
    drop = Dropout(0.25, rng=0)
    x = np.ones((400, 50))
    y = drop.forward(x)
    kept = y != 0
    assert np.allclose(y[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.01
    assert abs(y.mean() - 1.0) < 0.02              # inverted dropout preserves the expectation
    g = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_array_equal(drop.backward(g), g * y)  # x is all ones, so y is the mask
    drop.eval()
    np.testing.assert_array_equal(drop.forward(x), x)
    np.testing.assert_array_equal(drop.backward(g), g)
    assert np.array_equal(Dropout(1.0).forward(x), np.zeros_like(x))
    assert np.array_equal(Dropout(0.0).forward(x), x)
    for p in (-0.1, 1.5, True, "0.5"):
        with pytest.raises(ValueError, match="dropout probability"):
            Dropout(p)


def test_dropout_matches_torch_semantics():
    torch.manual_seed(0)
    t = torch.nn.functional.dropout(torch.ones(1000, 10, dtype=torch.float64), p=0.4, training=True)
    ours = Dropout(0.4, rng=0).forward(np.ones((1000, 10)))
    assert set(np.unique(t.numpy()).round(12)) == set(np.unique(ours).round(12)) == {0.0, round(1 / 0.6, 12)}


def _torch_sequential(model: Sequential, activation: str) -> torch.nn.Sequential:
    t_act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[activation]
    layers = [torch.nn.Linear(l.in_features, l.out_features, dtype=torch.float64) if isinstance(l, Linear) else t_act()
              for l in model]
    t = torch.nn.Sequential(*layers)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    return t


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5), batch=dims,
       activation=st.sampled_from(["relu", "tanh", "sigmoid"]), seed=st.integers(0, 2**16))
def test_mlp_matches_torch_sequential(sizes, batch, activation, seed):
    rng = np.random.default_rng(seed)
    model = mlp(sizes, activation, rng=rng)
    for _, p, _ in model.named_parameters():
        p[...] = rng.standard_normal(p.shape)
    tmodel = _torch_sequential(model, activation)
    assert list(model.state_dict()) == list(tmodel.state_dict())   # "0.weight", "0.bias", "2.weight", ...
    x = rng.standard_normal((batch, sizes[0]))
    g = rng.standard_normal((batch, sizes[-1]))
    tx = torch.tensor(x, requires_grad=True)
    ty = tmodel(tx)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(model.forward(x), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.backward(g), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    tgrads = {name: p.grad.numpy() for name, p in tmodel.named_parameters()}
    for name, _, grad in model.named_parameters():
        np.testing.assert_allclose(grad, tgrads[name], rtol=1e-9, atol=1e-12)


def test_mlp_passes_finite_differences():
    model = mlp([3, 5, 4, 2], "tanh", rng=0)
    errors = check_module_gradients(model, np.random.default_rng(2).standard_normal((6, 3)))
    assert len(errors) == 1 + 6 and max(errors.values()) < 1e-6


def test_mlp_structure_dropout_and_output_activation():
    model = mlp([2, 8, 8, 1], "relu", output_activation="sigmoid", dropout=0.1, rng=0)
    kinds = [type(layer).__name__.lstrip("_") for layer in model]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear", "Sigmoid"]
    assert count_parameters(model) == (2 * 8 + 8) + (8 * 8 + 8) + (8 + 1)
    model.eval()
    assert all(not layer.training for layer in model)
    out = model.forward(np.zeros((3, 2)))
    assert out.shape == (3, 1) and np.all((out > 0) & (out < 1))
    np.testing.assert_array_equal(model.forward(np.ones((3, 2))), model.forward(np.ones((3, 2))))  # eval: no dropout


def test_mlp_and_activation_errors():
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        mlp([2, 3, 1], "relu6")
    with pytest.raises(ValueError, match="unknown activation 'soft'"):
        mlp([2, 3, 1], output_activation="soft")
    with pytest.raises(ValueError, match="at least an input and an output"):
        mlp([4])
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a positive integer"):
        mlp([4, 0, 1])
    with pytest.raises(ValueError, match="unknown activation"):
        activation_module("swish!")
    with pytest.raises(TypeError, match="item 1 is int"):
        Sequential(Linear(2, 2), 3)


def test_sequential_indexing_and_forward_all():
    model = mlp([2, 4, 3], rng=0)
    assert len(model) == 3 and isinstance(model[0], Linear) and isinstance(model[:2], Sequential)
    x = np.random.default_rng(0).standard_normal((5, 2))
    outs = model.forward_all(x)
    assert [o.shape for o in outs] == [(5, 2), (5, 4), (5, 4), (5, 3)]
    np.testing.assert_allclose(outs[-1], model.forward(x))
    np.testing.assert_allclose(model[:2].forward(x), outs[2])
    assert "Linear(in_features=2, out_features=4" in repr(model)


@pytest.mark.parametrize("name, torch_fn", [("relu", torch.relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
                                            ("identity", lambda t: t)])
def test_activation_modules_match_torch(name, torch_fn):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5)) * 3
    g = rng.standard_normal((7, 5))
    layer = activation_module(name)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch_fn(tx)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-15)
