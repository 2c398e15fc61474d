"""mlbook.nn.forward: the notes' L-layer forward/backward with caches, in the column and the row convention,
against torch.nn / torch.autograd and finite differences."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.nn.forward import (ACTIVATION_NAMES, activation_backward, activation_forward, backward_columns,
                               backward_rows, check_parameters, forward_columns, forward_rows,
                               initialize_parameters, module_from_parameters, parameters_from_module, predict)
from mlbook.nn.gradcheck import numerical_gradient, relative_error
from mlbook.nn.layers import mlp

TORCH_ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda t: t}


def _random_network(rng, dims, activations):
    params = initialize_parameters(dims, rng=rng)
    for l in range(1, len(dims)):
        params[f"b{l}"] = rng.standard_normal(params[f"b{l}"].shape)
    return params


def _torch_forward(X_rows, params, activations):
    A = X_rows
    for l, name in enumerate(activations, start=1):
        Z = A @ params[f"W{l}"].T + params[f"b{l}"].T
        A = torch.softmax(Z, dim=1) if name == "softmax" else TORCH_ACT[name](Z)
    return A


network = st.integers(1, 4).flatmap(lambda L: st.tuples(
    st.lists(st.integers(1, 6), min_size=L + 1, max_size=L + 1),
    st.lists(st.sampled_from(ACTIVATION_NAMES), min_size=L, max_size=L)))


@settings(max_examples=60, deadline=None)
@given(net=network, m=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_both_layouts_match_torch_forward_and_backward(net, m, seed):
    dims, activations = net
    rng = np.random.default_rng(seed)
    params = _random_network(rng, dims, activations)
    X = rng.standard_normal((m, dims[0]))
    R = rng.standard_normal((m, dims[-1]))            # loss = sum(A_L * R), so dL/dA_L = R
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tX = torch.tensor(X, requires_grad=True)
    tA = _torch_forward(tX, tparams, activations)
    (tA * torch.from_numpy(R)).sum().backward()

    A_rows, caches_rows = forward_rows(X, params, activations)
    A_cols, caches_cols = forward_columns(X.T, params, activations)
    np.testing.assert_allclose(A_rows, tA.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A_cols, A_rows.T, rtol=1e-12, atol=1e-14)
    for cr, cc in zip(caches_rows, caches_cols):
        np.testing.assert_allclose(cr.Z, cc.Z.T, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(cr.A_prev, cc.A_prev.T, rtol=1e-12, atol=1e-14)

    g_rows = backward_rows(R, caches_rows, activations)
    g_cols = backward_columns(R.T, caches_cols, activations)
    np.testing.assert_allclose(g_rows["dA0"], tX.grad.numpy(), rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(g_cols["dA0"], tX.grad.numpy().T, rtol=1e-8, atol=1e-11)
    for l in range(1, len(dims)):
        for kind in "Wb":
            expected = tparams[f"{kind}{l}"].grad.numpy()
            np.testing.assert_allclose(g_rows[f"d{kind}{l}"], expected, rtol=1e-8, atol=1e-11)
            np.testing.assert_allclose(g_cols[f"d{kind}{l}"], expected, rtol=1e-8, atol=1e-11)
            assert g_cols[f"d{kind}{l}"].shape == params[f"{kind}{l}"].shape


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_wrt_z_is_the_fused_cross_entropy_gradient(output):
    rng = np.random.default_rng(3)
    dims = [4, 5, 1 if output == "sigmoid" else 3]
    activations = ["tanh", output]
    params = _random_network(rng, dims, activations)
    X = rng.standard_normal((4, 8))                   # columns: 8 examples
    if output == "sigmoid":
        Y = rng.integers(0, 2, (1, 8)).astype(float)
        loss_t = torch.nn.functional.binary_cross_entropy_with_logits
    else:
        Y = np.eye(3)[:, rng.integers(0, 3, 8)]       # one-hot columns
        loss_t = lambda z, y: torch.nn.functional.cross_entropy(z, y.argmax(1))  # noqa: E731
    A_L, caches = forward_columns(X, params, activations)
    grads = backward_columns((A_L - Y) / 8, caches, activations, wrt="Z")
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    Z1 = tparams["W1"] @ torch.from_numpy(X) + tparams["b1"]
    Z2 = tparams["W2"] @ torch.tanh(Z1) + tparams["b2"]
    loss_t(Z2.T, torch.from_numpy(Y.T)).backward()
    for k, v in tparams.items():
        np.testing.assert_allclose(grads["d" + k], v.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_backward_passes_finite_differences():
    rng = np.random.default_rng(5)
    dims, activations = [3, 4, 4, 2], ["relu", "tanh", "sigmoid"]
    params = _random_network(rng, dims, activations)
    X = rng.standard_normal((3, 6))
    R = rng.standard_normal((2, 6))

    def loss():
        return float(np.sum(forward_columns(X, params, activations)[0] * R))

    _, caches = forward_columns(X, params, activations)
    grads = backward_columns(R, caches, activations)
    for key, value in params.items():
        assert relative_error(grads["d" + key], numerical_gradient(loss, value)) < 1e-6
    assert relative_error(grads["dA0"], numerical_gradient(loss, X)) < 1e-6


def test_softmax_activation_is_stable_and_normalised():
    Z = np.array([[1000.0, -1000.0], [1000.0, 0.0], [999.0, 1000.0]])   # columns are examples
    A = activation_forward(Z, "softmax", axis=0)
    assert np.all(np.isfinite(A)) and np.allclose(A.sum(axis=0), 1)
    np.testing.assert_allclose(A, torch.softmax(torch.from_numpy(Z), dim=0).numpy(), rtol=1e-12)
    dA = np.ones_like(Z)
    assert np.allclose(activation_backward(dA, Z, "softmax", axis=0), 0)   # softmax sums to 1: constant shift


def test_initialize_parameters_shapes_and_he_scale():
    params = initialize_parameters([5, 4, 3, 1], rng=1)
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (4, 5), "b1": (4, 1), "W2": (3, 4), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}
    assert all(np.all(params[f"b{l}"] == 0) for l in (1, 2, 3))
    big = initialize_parameters([1000, 1000], rng=0)
    assert abs(big["W1"].std() - np.sqrt(2 / 1000)) < 1e-3
    np.testing.assert_array_equal(initialize_parameters([3, 2], rng=7)["W1"], initialize_parameters([3, 2], rng=7)["W1"])


def test_clear_errors_for_bad_parameters_inputs_and_names():
    params = initialize_parameters([3, 4, 2])
    with pytest.raises(ValueError, match="unknown activation 'swish' for layer 2"):
        forward_rows(np.ones((5, 3)), params, ["relu", "swish"])
    with pytest.raises(KeyError, match=r"missing \['W3', 'b3'\]"):
        check_parameters(params, ["relu", "relu", "sigmoid"])
    with pytest.raises(KeyError, match=r"unexpected \['W2', 'b2'\]"):
        check_parameters(params, ["relu"])
    bad = dict(params, W2=np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"W2 has shape \(2, 5\) but layer 1 has 4 units"):
        check_parameters(bad, ["relu", "sigmoid"])
    with pytest.raises(ValueError, match=r"b1 must have shape \(4, 1\)"):
        check_parameters(dict(params, b1=np.zeros(4)), ["relu", "sigmoid"])
    with pytest.raises(ValueError, match="use forward_rows or pass X.T"):
        forward_columns(np.ones((5, 3)), params, ["relu", "sigmoid"])
    with pytest.raises(ValueError, match="use forward_columns or pass X.T"):
        forward_rows(np.ones((3, 5)), params, ["relu", "sigmoid"])
    _, caches = forward_rows(np.ones((5, 3)), params, ["relu", "sigmoid"])
    with pytest.raises(ValueError, match=r"output's shape \(5, 2\)"):
        backward_rows(np.ones((2, 5)), caches, ["relu", "sigmoid"])
    with pytest.raises(ValueError, match="1 caches but 2 activations"):
        backward_rows(np.ones((5, 2)), caches[1:], ["relu", "sigmoid"])
    with pytest.raises(ValueError, match="wrt must be"):
        backward_rows(np.ones((5, 2)), caches, ["relu", "sigmoid"], wrt="W")
    with pytest.raises(ValueError, match="activations is empty"):
        check_parameters({}, [])


def test_module_conversion_round_trip_and_predict():
    rng = np.random.default_rng(0)
    model = mlp([4, 6, 5, 3], "tanh", rng=rng)
    for _, p, _ in model.named_parameters():
        p[...] = rng.standard_normal(p.shape)
    params, activations = parameters_from_module(model)
    assert activations == ["tanh", "tanh", "identity"]
    X = rng.standard_normal((9, 4))
    np.testing.assert_allclose(forward_rows(X, params, activations)[0], model.forward(X), rtol=1e-12)
    back = module_from_parameters(params, activations)
    np.testing.assert_allclose(back.forward(X), model.forward(X), rtol=1e-12)
    labels = predict(X, params, activations)
    np.testing.assert_array_equal(labels, np.argmax(model.forward(X), axis=1))
    binary = {"W1": np.array([[1.0, -1.0]]), "b1": np.zeros((1, 1))}
    np.testing.assert_array_equal(predict(np.array([[2.0, 1.0], [1.0, 2.0]]), binary, ["sigmoid"]), [1, 0])
    with pytest.raises(TypeError, match="Sequential"):
        parameters_from_module(model[0])
