"""mlbook.nn.losses against torch.nn.functional: values and gradients, ordinary and extreme logits."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

torch.set_num_threads(1)  # tiny tensors: a thread pool only adds contention on a shared machine

from mlbook.nn.gradcheck import numerical_gradient
from mlbook.nn.losses import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    bce_with_logits,
    cross_entropy,
    get_loss,
    mse_loss,
    softplus,
)

REDUCTIONS = ["mean", "sum", "none"]


def torch_loss_and_grad(fn, x, *args, reduction="mean"):
    t = torch.tensor(x, requires_grad=True)
    loss = fn(t, *args, reduction=reduction)
    loss.sum().backward()  # for "none", the gradient of the sum, as documented
    return loss.detach().numpy(), t.grad.numpy()


def assert_matches(ours, theirs, rtol=1e-12, atol=1e-12):
    (loss, grad), (loss_t, grad_t) = ours, theirs
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, loss_t, rtol=rtol, atol=atol)
    np.testing.assert_allclose(grad, grad_t, rtol=rtol, atol=atol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**31 - 1),
       scale=st.sampled_from([0.1, 1.0, 30.0, 1e4]))
def test_cross_entropy_with_labels_matches_torch(reduction, n, c, seed, scale):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, c)) * scale
    y = rng.integers(0, c, size=n)
    ours = cross_entropy(z, y, reduction=reduction)
    assert isinstance(ours[0], float) == (reduction != "none")
    assert_matches(ours, torch_loss_and_grad(F.cross_entropy, z, torch.tensor(y), reduction=reduction), atol=1e-9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**31 - 1),
       scale=st.sampled_from([1.0, 1e4]), normalised=st.booleans())
def test_cross_entropy_with_soft_targets_matches_torch(reduction, n, c, seed, scale, normalised):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, c)) * scale
    y = rng.random((n, c))
    if normalised:
        y /= y.sum(axis=1, keepdims=True)
    ours = cross_entropy(z, y, reduction=reduction)
    assert_matches(ours, torch_loss_and_grad(F.cross_entropy, z, torch.tensor(y), reduction=reduction),
                   rtol=1e-10, atol=1e-8)


def test_one_hot_targets_equal_integer_labels_and_gradient_is_p_minus_y():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, size=5)
    one_hot = np.eye(4)[y]
    loss_i, grad_i = cross_entropy(z, y)
    loss_h, grad_h = cross_entropy(z, one_hot)
    assert loss_i == pytest.approx(loss_h, rel=1e-14)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(grad_i, (p - one_hot) / 5, rtol=1e-12)
    np.testing.assert_allclose(grad_h, grad_i, rtol=1e-12)
    numeric = numerical_gradient(lambda: cross_entropy(z, y)[0], z)
    np.testing.assert_allclose(grad_i, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), seed=st.integers(0, 2**31 - 1),
       scale=st.sampled_from([0.1, 1.0, 50.0, 1e4]))
def test_bce_with_logits_matches_torch(reduction, shape, seed, scale):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(shape) * scale
    y = rng.random(shape)
    assert_matches(bce_with_logits(z, y, reduction=reduction),
                   torch_loss_and_grad(F.binary_cross_entropy_with_logits, z, torch.tensor(y), reduction=reduction),
                   rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), seed=st.integers(0, 2**31 - 1))
def test_mse_matches_torch(reduction, shape, seed):
    rng = np.random.default_rng(seed)
    p, t = rng.standard_normal(shape), rng.standard_normal(shape)
    assert_matches(mse_loss(p, t, reduction=reduction),
                   torch_loss_and_grad(F.mse_loss, p, torch.tensor(t), reduction=reduction))


def test_losses_are_exact_at_logits_of_plus_minus_1e4():
    z = np.array([[1e4, -1e4], [-1e4, 1e4]])
    loss, grad = cross_entropy(z, np.array([0, 0]))
    assert loss == 1e4  # one right with certainty (0), one wrong by 2e4: mean 1e4
    np.testing.assert_array_equal(grad, [[0.0, 0.0], [-0.5, 0.5]])
    loss, grad = bce_with_logits(np.array([1e4, -1e4, 1e4]), np.array([1.0, 0.0, 0.0]))
    assert loss == pytest.approx(1e4 / 3, rel=1e-15)
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1 / 3])
    # the naive form fails exactly here: log(sigmoid(-1e4)) = log(0) = -inf
    with np.errstate(over="ignore", divide="ignore"):
        assert np.isinf(np.log(1 / (1 + np.exp(1e4))))


def test_softplus_is_stable():
    z = np.array([-1e4, -50.0, 0.0, 50.0, 1e4])
    with np.errstate(all="raise"):
        np.testing.assert_allclose(softplus(z), F.softplus(torch.tensor(z)).numpy(), rtol=1e-14)


def test_float32_in_float32_out():
    z = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    loss, grad = cross_entropy(z, np.array([0, 1, 3]))
    assert grad.dtype == np.float32
    np.testing.assert_allclose(loss, F.cross_entropy(torch.tensor(z), torch.tensor([0, 1, 3])).item(), rtol=1e-6)


def test_loss_objects_and_get_loss():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 3))
    y = np.array([2, 0, 1, 1])
    ce = CrossEntropyLoss()
    assert ce(z, y) == cross_entropy(z, y)[0]
    np.testing.assert_array_equal(ce.backward(), cross_entropy(z, y)[1])
    assert isinstance(get_loss("mse"), MSELoss)
    assert isinstance(get_loss("BCE_with_logits", reduction="sum"), BCEWithLogitsLoss)
    assert get_loss("cross_entropy", "none").reduction == "none"
    with pytest.raises(RuntimeError, match="before forward"):
        MSELoss().backward()


def test_bad_input_raises_clear_errors():
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\].*\[4\]"):
        cross_entropy(z, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"\[-1\]"):
        cross_entropy(z, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match=r"shape \(batch,\) = \(3,\).*\(2,\)"):
        cross_entropy(z, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"logits' shape \(3, 4\).*\(3,\)"):
        cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="2-D"):
        cross_entropy(np.zeros(4), np.array([1]))
    with pytest.raises(TypeError, match="integer labels or float"):
        cross_entropy(z, np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 1\)"):
        mse_loss(np.zeros(4), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="logits has shape"):
        bce_with_logits(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        mse_loss(np.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'.*cross_entropy"):
        get_loss("hinge")
    with pytest.raises(ValueError, match="empty"):
        mse_loss(np.zeros(0), np.zeros(0))
