"""mlbook.nn.neuron: the forward pass against torch, logistic regression against torch.optim.SGD and finite
differences, and the exact separability test against an independent exact method and its own certificates."""

import functools
import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.datasets import logic_gate
from mlbook.nn import (
    Neuron,
    fit_logistic_neuron,
    is_linearly_separable,
    logistic_loss_and_gradient,
    separability_certificate,
    sigmoid,
)

# --------------------------------------------------------------------------------------------- forward


@settings(max_examples=60, deadline=None)
@given(n_inputs=st.integers(1, 7), batch=st.integers(1, 9), seed=st.integers(0, 2**32 - 1),
       activation=st.sampled_from(["sigmoid", "relu", "tanh", "identity", "step"]))
def test_forward_matches_torch_linear(n_inputs, batch, seed, activation):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, n_inputs))
    w, b = rng.normal(size=n_inputs), float(rng.normal())
    neuron = Neuron(w, b, activation)

    linear = torch.nn.Linear(n_inputs, 1, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w)[None, :])
        linear.bias.fill_(b)
        z = linear(torch.from_numpy(X)).squeeze(-1)  # (batch, 1) -> (batch,)
    torch_act = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh, "identity": lambda t: t,
                 "step": lambda t: torch.heaviside(t, torch.tensor(1.0, dtype=t.dtype))}[activation]

    np.testing.assert_allclose(neuron.pre_activation(X), z.numpy(), rtol=1e-12, atol=1e-12)
    out = neuron(X)
    assert out.shape == (batch,)
    if activation == "step":  # a z within rounding of 0 may legitimately land on either side
        decided = np.abs(z.numpy()) > 1e-9
        np.testing.assert_array_equal(out[decided], torch_act(z).numpy()[decided])
    else:
        np.testing.assert_allclose(out, torch_act(z).numpy(), rtol=1e-12, atol=1e-12)
    # One example of shape (n_inputs,) gives a scalar equal to its row of the batch (up to rounding: dot vs gemv)
    single = neuron(X[0])
    assert np.ndim(single) == 0 and single == pytest.approx(out[0], rel=1e-14, abs=1e-15)


def test_and_gate_by_hand():
    X, y = logic_gate("and")
    neuron = Neuron([20.0, 20.0], -30.0)
    np.testing.assert_allclose(neuron.pre_activation(X), [-30, -10, -10, 10])
    np.testing.assert_array_equal(neuron.predict(X), y)
    assert neuron(X)[-1] > 0.9999 and neuron(X)[:3].max() < 1e-4


def test_mcculloch_pitts_threshold_neuron():
    X, y = logic_gate("or")
    neuron = Neuron([1, 1], bias=-1, activation="step")  # threshold 1: fires when at least one input is on
    np.testing.assert_array_equal(neuron(X), y)
    assert neuron(X).dtype == np.float64 and neuron.predict(X).dtype == np.int64


def test_column_convention_is_the_transpose():
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=3), 0.7
    X_columns = rng.normal(size=(3, 5))  # (features, batch), as in the course notes
    neuron = Neuron(w, b)
    np.testing.assert_allclose(neuron.pre_activation(X_columns.T), w @ X_columns + b, rtol=1e-14)


def test_predict_threshold():
    neuron = Neuron([1.0], 0.0)
    X = np.array([[-1.0], [0.0], [3.0]])
    np.testing.assert_array_equal(neuron.predict(X), [0, 1, 1])  # sigmoid(0) = 0.5 counts as class 1
    np.testing.assert_array_equal(neuron.predict(X, threshold=0.9), [0, 0, 1])
    assert neuron.predict(np.array([2.0])) == 1 and np.ndim(neuron.predict(np.array([2.0]))) == 0
    tanh_neuron = Neuron([1.0], 0.0, "tanh")
    np.testing.assert_array_equal(tanh_neuron.predict(X, threshold=0.0), [0, 1, 1])


def test_neuron_copies_weights_and_accepts_callables_and_lists():
    w = np.array([1.0, 2.0])
    neuron = Neuron(w, np.float32(0.5), activation=np.sin)
    w[0] = 100.0
    assert neuron.weights[0] == 1.0 and neuron.bias == 0.5 and neuron.n_inputs == 2
    assert neuron.activation == "sin"
    np.testing.assert_allclose(neuron([[1, 1]]), np.sin([3.5]))
    assert "Neuron(weights=[1., 2.], bias=0.5" in repr(neuron)
    assert Neuron([1, 2], bias=np.array(3)).bias == 3.0  # 0-d array bias


def test_wrong_number_of_inputs_names_the_shapes():
    neuron = Neuron([1.0, 2.0], 0.0)
    with pytest.raises(ValueError, match=r"has 2 weights.*\(batch, 2\).*got shape \(4, 3\)"):
        neuron(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        neuron(np.zeros(3))
    with pytest.raises(ValueError, match=r"\(features, batch\) column layout: pass X.T, of shape \(5, 2\)"):
        neuron(np.zeros((2, 5)))


@pytest.mark.parametrize("shape", [(), (2, 2, 2)])
def test_wrong_ndim_names_the_shape(shape):
    with pytest.raises(ValueError, match=rf"{len(shape)}-D array of shape {re_shape(shape)}"):
        Neuron([1.0, 2.0]).forward(np.zeros(shape))


def re_shape(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize(
    "weights, bias, error, match",
    [
        ([[1.0, 2.0]], 0.0, ValueError, r"1-D array of shape \(n_inputs,\), got shape \(1, 2\)"),
        ([], 0.0, ValueError, r"non-empty.*got shape \(0,\)"),
        ([1.0, np.nan], 0.0, ValueError, "weights must be finite"),
        ([1.0], [1.0, 2.0], ValueError, r"bias must be a scalar, got shape \(2,\)"),
        ([1.0], np.inf, ValueError, "bias must be finite"),
        (["a"], 0.0, TypeError, "weights must be real numbers"),
        ([1.0], "b", TypeError, "bias must be real numbers"),
    ],
)
def test_bad_parameters(weights, bias, error, match):
    with pytest.raises(error, match=match):
        Neuron(weights, bias)


def test_bad_activation_and_inputs():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        Neuron([1.0], 0.0, "gelu")
    with pytest.raises(TypeError, match="inputs must be real numbers"):
        Neuron([1.0])(np.array(["x"]))


# ------------------------------------------------------------------------------------ logistic regression


def _random_problem(seed, batch=13, n_inputs=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, n_inputs))
    y = (rng.random(batch) < 0.5).astype(np.int64)
    return X, y, rng.normal(size=n_inputs), float(rng.normal())


@pytest.mark.parametrize("seed", range(5))
def test_loss_and_gradient_match_torch_autograd(seed):
    X, y, w, b = _random_problem(seed)
    loss, gw, gb = logistic_loss_and_gradient(w, b, X, y)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    tloss = F.binary_cross_entropy_with_logits(torch.from_numpy(X) @ tw + tb, torch.from_numpy(y).double())
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-13)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert gb == pytest.approx(tb.grad.item(), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_gradient_by_central_finite_differences(seed):
    X, y, w, b = _random_problem(seed, batch=7, n_inputs=4)
    _, gw, gb = logistic_loss_and_gradient(w, b, X, y)
    h = 1e-6
    params = np.append(w, b)

    def loss_at(p):
        return logistic_loss_and_gradient(p[:-1], p[-1], X, y)[0]

    numeric = np.array([(loss_at(params + h * e) - loss_at(params - h * e)) / (2 * h) for e in np.eye(params.size)])
    np.testing.assert_allclose(np.append(gw, gb), numeric, rtol=1e-6, atol=1e-9)


def test_loss_is_finite_and_correct_for_extreme_logits():
    X = np.array([[1.0], [1.0]])
    y = np.array([0, 1])
    loss, gw, gb = logistic_loss_and_gradient(np.array([1000.0]), 0.0, X, y)
    # example 0: z = 1000 with label 0 costs 1000; example 1 costs log(1 + e^-1000) = 0
    assert loss == pytest.approx(500.0, rel=1e-15)
    assert gw[0] == pytest.approx(0.5) and gb == pytest.approx(0.5)
    tloss = F.binary_cross_entropy_with_logits(torch.tensor([1000.0, 1000.0], dtype=torch.float64),
                                               torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert loss == pytest.approx(tloss.item(), rel=1e-15)


@pytest.mark.parametrize("seed, steps, lr", [(0, 1, 0.1), (1, 7, 0.5), (2, 25, 2.0), (3, 50, 1.0)])
def test_training_matches_torch_sgd(seed, steps, lr):
    X, y, w0, b0 = _random_problem(seed, batch=11, n_inputs=3)
    neuron, history = fit_logistic_neuron(X, y, lr=lr, epochs=steps, initial_weights=w0, initial_bias=b0)

    w = torch.tensor(w0, requires_grad=True)
    b = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).double()
    torch_history = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(Xt @ w + b, yt)
        torch_history.append(loss.item())
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(neuron.weights, w.detach().numpy(), rtol=0, atol=1e-10)
    assert neuron.bias == pytest.approx(b.item(), abs=1e-10)
    np.testing.assert_allclose(history[:-1], torch_history, rtol=1e-12)
    assert history.shape == (steps + 1,)
    assert history[-1] == pytest.approx(logistic_loss_and_gradient(neuron.weights, neuron.bias, X, y)[0])


def test_default_initialisation_is_seeded_normal():
    X, y = logic_gate("and")
    neuron, history = fit_logistic_neuron(X, y, epochs=0, seed=42, init_scale=0.3)
    np.testing.assert_array_equal(neuron.weights, np.random.default_rng(42).normal(0, 0.3, size=2))
    assert neuron.bias == 0.0 and history.shape == (1,) and history[0] == pytest.approx(np.log(2), abs=0.1)
    again, _ = fit_logistic_neuron(X, y, epochs=5, seed=42)
    twice, _ = fit_logistic_neuron(X, y, epochs=5, seed=42)
    np.testing.assert_array_equal(again.weights, twice.weights)


def test_small_steps_never_increase_the_loss():
    """Gradient descent on a convex loss whose gradient is L-Lipschitz decreases it for lr <= 1/L."""
    X, y, _, _ = _random_problem(7, batch=20, n_inputs=2)
    Xb = np.column_stack([X, np.ones(len(X))])
    lipschitz = 0.25 * np.linalg.eigvalsh(Xb.T @ Xb / len(X)).max()  # sigmoid' <= 1/4
    _, history = fit_logistic_neuron(X, y, lr=1.0 / lipschitz, epochs=300)
    assert np.all(np.diff(history) <= 1e-15)


@pytest.mark.parametrize("gate", ["and", "or", "nand", "nor"])
def test_learns_every_separable_gate(gate):
    X, y = logic_gate(gate)
    neuron, history = fit_logistic_neuron(X, y, lr=1.0, epochs=2000)
    np.testing.assert_array_equal(neuron.predict(X), y)
    assert history[-1] < 0.05 < history[0]


@pytest.mark.parametrize("seed", range(8))
def test_xor_training_never_beats_three_quarters(seed):
    X, y = logic_gate("xor")
    neuron, history = fit_logistic_neuron(X, y, lr=1.0, epochs=1000, seed=seed, init_scale=1.0)
    assert np.mean(neuron.predict(X) == y) <= 0.75
    assert history[-1] == pytest.approx(np.log(2), abs=1e-6)  # the optimum is w = 0, b = 0: P = 1/2 everywhere
    np.testing.assert_allclose(sigmoid(neuron.pre_activation(X)), 0.5, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epochs=-1), "epochs must be a non-negative integer"),
        (dict(epochs=2.5), "epochs must be a non-negative integer"),
        (dict(epochs=True), "epochs must be a non-negative integer"),
        (dict(lr=0.0), "lr must be a positive finite number"),
        (dict(lr=float("nan")), "lr must be a positive finite number"),
        (dict(init_scale=-1.0), "init_scale must be a non-negative"),
        (dict(initial_weights=[1.0, 2.0, 3.0]), r"initial_weights must have shape \(2,\).*got \(3,\)"),
    ],
)
def test_fit_rejects_bad_settings(kwargs, match):
    X, y = logic_gate("and")
    with pytest.raises(ValueError, match=match):
        fit_logistic_neuron(X, y, **kwargs)


def test_fit_rejects_bad_data():
    X, y = logic_gate("and")
    with pytest.raises(ValueError, match=r"only the labels 0 and 1, got \[2\.0\]"):
        fit_logistic_neuron(X, [0, 1, 2, 1])
    with pytest.raises(ValueError, match=r"y must have shape \(4,\) to match X's 4 rows, got shape \(3,\)"):
        fit_logistic_neuron(X, y[:3])
    with pytest.raises(ValueError, match=r"X must be 2-D of shape \(batch, n_features\), got shape \(4,\)"):
        fit_logistic_neuron(X[:, 0], y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_logistic_neuron(np.where(X == 1, np.nan, X), y)
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        logistic_loss_and_gradient(np.zeros(3), 0.0, X, y)


# ------------------------------------------------------------------------------------------ separability


def _verify_exactly(X, y, certificate):
    """Check the proof itself, in exact arithmetic: a valid certificate makes the answer right."""
    points = [[Fraction(float(v)) for v in row] + [Fraction(1)] for row in np.asarray(X)]
    signs = [1 if label == 1 else -1 for label in np.asarray(y)]
    if certificate.separable:
        v = list(certificate.exact_weights) + [certificate.exact_bias]
        assert all(s * sum(p_k * v_k for p_k, v_k in zip(p, v)) >= 1 for s, p in zip(signs, points))
        assert certificate.multipliers is None
        # The float weights (rounded) also classify perfectly, as a step neuron.
        np.testing.assert_array_equal(Neuron(certificate.weights, certificate.bias, "step").predict(X), y)
    else:
        lam = certificate.exact_multipliers
        assert all(v >= 0 for v in lam) and sum(lam) == 1
        for k in range(len(points[0])):
            assert sum(l_i * s * p[k] for l_i, s, p in zip(lam, signs, points)) == 0
        assert certificate.weights is None and certificate.bias is None


def _separable_2d_by_directions(X, y):
    """An independent exact test for integer points in the plane.

    The feasible directions u (max of u.x over the 0s < min over the 1s) form an open set bounded by
    directions perpendicular to differences p - q of a 1 and a 0. Between two neighbouring such
    critical directions every sign u.(p - q) is constant, so testing one direction strictly inside
    each gap (the sum of its two ends) decides the question exactly.
    """
    ones, zeros = [tuple(map(int, p)) for p in X[y == 1]], [tuple(map(int, p)) for p in X[y == 0]]
    if not ones or not zeros:
        return True
    diffs = {(p[0] - q[0], p[1] - q[1]) for p in ones for q in zeros}
    if (0, 0) in diffs:
        return False
    critical = {d for dx, dy in diffs for d in ((-dy, dx), (dy, -dx))}

    def half(u):
        return 0 if (u[1] > 0 or (u[1] == 0 and u[0] > 0)) else 1

    def by_angle(u, v):
        if half(u) != half(v):
            return half(u) - half(v)
        cross = u[0] * v[1] - u[1] * v[0]
        return -1 if cross > 0 else (1 if cross < 0 else 0)

    rays = sorted(critical, key=functools.cmp_to_key(by_angle))
    for u, v in zip(rays, rays[1:] + rays[:1]):
        cross = u[0] * v[1] - u[1] * v[0]
        if cross > 0:
            test = (u[0] + v[0], u[1] + v[1])
        elif cross == 0 and u[0] * v[0] + u[1] * v[1] < 0:  # opposite rays: the gap is a half-turn
            test = (-u[1], u[0])
        else:
            continue  # parallel duplicates (same direction) leave no gap
        if max(test[0] * q[0] + test[1] * q[1] for q in zeros) < min(test[0] * p[0] + test[1] * p[1] for p in ones):
            return True
    return False


@pytest.mark.parametrize("gate, separable", [("and", True), ("or", True), ("nand", True), ("nor", True),
                                             ("xor", False), ("xnor", False)])
def test_logic_gates(gate, separable):
    X, y = logic_gate(gate)
    certificate = separability_certificate(X, y)
    assert certificate.separable is separable and bool(certificate) is separable
    assert is_linearly_separable(X, y) is separable
    _verify_exactly(X, y, certificate)


def test_xor_certificate_is_the_sum_of_the_four_inequalities():
    X, y = logic_gate("xor")
    assert separability_certificate(X, y).exact_multipliers == (Fraction(1, 4),) * 4
    np.testing.assert_array_equal(separability_certificate(X, y).multipliers, [0.25] * 4)


def test_exactly_two_of_the_sixteen_boolean_functions_need_more_than_one_neuron():
    X, _ = logic_gate("and")
    inseparable = [labels for labels in itertools.product((0, 1), repeat=4)
                   if not is_linearly_separable(X, np.array(labels))]
    assert inseparable == [(0, 1, 1, 0), (1, 0, 0, 1)]  # XOR and XNOR


@pytest.mark.parametrize("n_inputs", [1, 3, 4])
def test_more_inputs(n_inputs):
    for gate in ("and", "or", "nand", "nor"):
        assert is_linearly_separable(*logic_gate(gate, n_inputs))
    X, y = logic_gate("xor", n_inputs)
    certificate = separability_certificate(X, y)
    assert certificate.separable is (n_inputs == 1)  # parity of 1 bit is the identity
    _verify_exactly(X, y, certificate)


@pytest.mark.parametrize("seed", range(6))
def test_random_points_split_by_a_line_with_margin(seed):
    rng = np.random.default_rng(seed)
    dims = 2 + seed % 3
    X = rng.uniform(-5, 5, size=(60, dims))
    normal, offset = rng.normal(size=dims), rng.normal()
    distance = (X @ normal + offset) / np.linalg.norm(normal)
    keep = np.abs(distance) > 0.3
    X, y = X[keep], (distance[keep] > 0).astype(int)
    certificate = separability_certificate(X, y)
    assert certificate.separable
    _verify_exactly(X, y, certificate)


@pytest.mark.parametrize("seed", range(6))
def test_random_overlapping_classes(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 2 + seed % 2))
    y = rng.integers(0, 2, size=40)
    certificate = separability_certificate(X, y)
    assert not certificate.separable
    _verify_exactly(X, y, certificate)


def test_same_point_with_both_labels_and_single_class():
    X = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]])
    certificate = separability_certificate(X, [0, 1, 1])
    assert not certificate and sum(certificate.exact_multipliers[:2]) == 1
    for labels in ([1, 1, 1], [0, 0, 0]):
        certificate = separability_certificate(X, labels)
        assert certificate
        _verify_exactly(X, np.array(labels), certificate)
    assert is_linearly_separable([[3.0]], [1])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3), st.integers(0, 1)), min_size=1, max_size=9))
def test_agrees_with_an_independent_exact_method_in_the_plane(rows):
    X = np.array([r[:2] for r in rows], dtype=float)
    y = np.array([r[2] for r in rows])
    certificate = separability_certificate(X, y)
    assert certificate.separable == _separable_2d_by_directions(X, y)
    _verify_exactly(X, y, certificate)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 4), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_certificates_in_any_dimension(dims, n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dims)).round(2)
    y = rng.integers(0, 2, size=n)
    _verify_exactly(X, y, separability_certificate(X, y))


def test_separability_rejects_bad_input():
    with pytest.raises(ValueError, match=r"y must have shape \(4,\)"):
        separability_certificate(np.zeros((4, 2)), [0, 1])
    with pytest.raises(ValueError, match="only the labels 0 and 1"):
        separability_certificate(np.zeros((2, 2)), [-1, 1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        separability_certificate([[np.inf, 0.0]], [1])
