"""mlbook.nn.module and mlbook.nn.gradcheck on a small hand-written layer."""

import numpy as np
import pytest
import torch

from mlbook.nn.gradcheck import check_module_gradients, numerical_gradient, relative_error
from mlbook.nn.module import Module


class Scale(Module):
    """y = x * w (per feature) + b: a minimal layer to exercise the contract."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.params = {"w": rng.standard_normal(n), "b": rng.standard_normal(n)}

    def forward(self, x):
        self.x = x
        return x * self.params["w"] + self.params["b"]

    def backward(self, grad_output):
        self.grads = {"w": (grad_output * self.x).sum(0), "b": grad_output.sum(0)}
        return grad_output * self.params["w"]


class BrokenScale(Scale):
    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grads["w"] = self.grads["w"] * 1.01  # a 1% bug must not pass the check
        return grad_input


class Pair(Module):
    def __init__(self, rng):
        super().__init__()
        self.first, self.second = Scale(3, rng), Scale(3, rng)

    def children(self):
        return {"first": self.first, "second": self.second}


def test_numerical_gradient_matches_torch_autograd():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    f = lambda: float(np.sum(np.sin(x) * x ** 2))  # noqa: E731
    t = torch.tensor(x, requires_grad=True)
    (torch.sin(t) * t ** 2).sum().backward()
    assert relative_error(numerical_gradient(f, x), t.grad.numpy()) < 1e-7


def test_numerical_gradient_restores_the_array_and_rejects_ints():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    before = x.copy()
    numerical_gradient(lambda: float(np.sum(x ** 2)), x)
    np.testing.assert_array_equal(x, before)
    with pytest.raises(TypeError, match="floating-point"):
        numerical_gradient(lambda: 0.0, np.arange(3))


def test_check_module_gradients_passes_a_correct_layer_and_catches_a_wrong_one():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3))
    good = check_module_gradients(Scale(3, rng), x)
    assert set(good) == {"input", "w", "b"} and max(good.values()) < 1e-7
    bad = check_module_gradients(BrokenScale(3, rng), x)
    assert bad["w"] > 1e-3 and bad["b"] < 1e-7


def test_relative_error_rejects_shape_mismatch_and_is_zero_for_equal_zeros():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match=r"\(3,\) and \(4,\)"):
        relative_error(np.zeros(3), np.zeros(4))


def test_named_parameters_state_dict_and_modes_recurse_through_children():
    rng = np.random.default_rng(0)
    net = Pair(rng)
    names = [name for name, _, _ in net.named_parameters()]
    assert names == ["first.w", "first.b", "second.w", "second.b"]
    state = net.state_dict()
    net.first.params["w"] += 1.0
    net.load_state_dict(state)
    np.testing.assert_array_equal(net.first.params["w"], state["first.w"])
    assert net.eval() is net and not net.second.training
    assert net.train().second.training


def test_load_state_dict_names_what_is_missing_or_misshapen():
    net = Pair(np.random.default_rng(0))
    state = net.state_dict()
    del state["second.b"]
    with pytest.raises(KeyError, match=r"missing \['second.b'\]"):
        net.load_state_dict(state)
    state = net.state_dict()
    state["first.w"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"first.w: expected \(3,\), got \(4,\)"):
        net.load_state_dict(state)


def test_gradients_before_backward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no gradient for 'w'"):
        Scale(2, np.random.default_rng(0)).gradients()
