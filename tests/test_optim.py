"""mlbook.optim on the CPU backends: every optimizer and option combination against torch.optim, the Adam
walkthrough, state round trips, bad input, flat buffers, schedules."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_optim_helpers import CASES, SHAPES, TOLERANCE, Problem, case_id, relative_error, torch_trajectory

from mlbook import optim
from mlbook.optim import kernels_numba

STEPS = 100


@functools.lru_cache(maxsize=None)
def _torch_reference(case_index: int, dtype: type) -> list[np.ndarray]:
    name, kwargs = CASES[case_index]
    problem = Problem(case_index, maximize=kwargs.get("maximize", False))
    return torch_trajectory(name, kwargs, problem, dtype, STEPS)[0]


def _run_ours(case_index: int, dtype: type, backend: str, flat: bool) -> list[np.ndarray]:
    name, kwargs = CASES[case_index]
    problem = Problem(case_index, maximize=kwargs.get("maximize", False))
    if flat:
        buffer = optim.FlatParameters.from_arrays(problem.x0, dtype=dtype)
        params, grad_buffer = buffer.params, buffer.like()
    else:
        params = [x.astype(dtype) for x in problem.x0]
    opt = getattr(optim, name)(params, backend=backend, **kwargs)
    for _ in range(STEPS):
        grads = problem.grads(params)
        if flat:
            for view, g in zip(grad_buffer.params, grads):
                view[...] = g
            grads = grad_buffer.params
        opt.step(grads)
    return params


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case_index", range(len(CASES)), ids=[case_id(c) for c in CASES])
def test_every_option_matches_torch_for_100_steps_on_every_cpu_backend(case_index, dtype):
    reference = _torch_reference(case_index, dtype)
    assert relative_error(reference, [x for x in Problem(case_index).x0]) > 1e-3  # the run really moved
    for backend, flat in [("numpy", False), ("numba", False), ("numba", True)]:
        ours = _run_ours(case_index, dtype, backend, flat)
        assert all(p.dtype == dtype for p in ours)
        error = relative_error(ours, reference)
        assert error <= TOLERANCE[dtype], f"{backend} (flat={flat}): relative error {error:.2e}"


def test_constructor_defaults_match_torch():
    import inspect

    for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]:
        ours = inspect.signature(getattr(optim, name)).parameters
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        for arg, parameter in ours.items():
            if arg in ("params", "backend"):
                continue
            assert arg in theirs, f"{name}({arg}) is not a torch argument"
            assert parameter.default == theirs[arg].default, f"{name}({arg}) default differs from torch"
        missing = {"lr", "weight_decay", "maximize"} - set(ours)
        assert not missing


# ---------------------------------------------------------------- the Adam walkthrough
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_adam_walkthrough_first_update_is_lr(backend):
    """lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, g=0.5: m=0.05, v=0.00025, m_hat=0.5, v_hat=0.25, update 0.001."""
    w = np.array([0.0])
    opt = optim.Adam([w], lr=0.001, betas=(0.9, 0.999), eps=1e-8, backend=backend)
    opt.step([np.array([0.5])])
    state = opt.state[0]
    assert state["step"] == 1
    assert state["exp_avg"][0] == pytest.approx(0.05, rel=1e-12)
    assert state["exp_avg_sq"][0] == pytest.approx(0.00025, rel=1e-12)
    assert state["exp_avg"][0] / (1 - 0.9) == pytest.approx(0.5, rel=1e-12)
    assert state["exp_avg_sq"][0] / (1 - 0.999) == pytest.approx(0.25, rel=1e-12)
    assert -w[0] == pytest.approx(0.001 * 0.5 / (0.5 + 1e-8), rel=1e-12)
    assert -w[0] == pytest.approx(0.001, rel=1e-7)


@given(st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3))
@settings(max_examples=50, deadline=None)
def test_adams_first_step_has_length_lr_whatever_the_gradient(g):
    w = np.array([1.0])
    optim.Adam([w], lr=0.01).step([np.array([g])])
    assert 1.0 - w[0] == pytest.approx(0.01 * g / (abs(g) + 1e-8), rel=1e-12)  # eps is all that shortens it
    assert 1.0 - w[0] == pytest.approx(0.01 * np.sign(g), rel=1e-5)


# ---------------------------------------------------------------- state round trip
@pytest.mark.parametrize("backend,flat", [("numpy", False), ("numba", False), ("numba", True)])
@pytest.mark.parametrize("case_index", [i for i, c in enumerate(CASES) if i % 5 == 0],
                         ids=[case_id(c) for i, c in enumerate(CASES) if i % 5 == 0])
def test_state_round_trip_mid_run_gives_the_identical_trajectory(case_index, backend, flat):
    name, kwargs = CASES[case_index]
    problem = Problem(case_index, maximize=kwargs.get("maximize", False))

    def fresh():
        if flat:
            return optim.FlatParameters.from_arrays(problem.x0).params
        return [x.copy() for x in problem.x0]

    straight = fresh()
    opt = getattr(optim, name)(straight, backend=backend, **kwargs)
    for _ in range(40):
        opt.step(problem.grads(straight))
    saved_params = [p.copy() for p in straight]
    saved = opt.state_dict()
    for _ in range(40):
        opt.step(problem.grads(straight))

    resumed = fresh()
    for p, q in zip(resumed, saved_params):
        p[...] = q
    opt2 = getattr(optim, name)(resumed, backend=backend, **{k: v for k, v in kwargs.items() if k != "lr"})
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    for _ in range(40):
        opt2.step(problem.grads(resumed))
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a, b)


def test_state_dict_is_a_copy_and_has_torchs_layout():
    for name, kwargs in CASES:
        problem = Problem(0, maximize=kwargs.get("maximize", False))
        params = [x.copy() for x in problem.x0]
        ours = getattr(optim, name)(params, **kwargs)
        for _ in range(3):
            ours.step(problem.grads(params))
        _, theirs = torch_trajectory(name, kwargs, problem, np.float64, 3)
        our_dict, their_dict = ours.state_dict(), theirs.state_dict()
        assert set(our_dict["state"]) == set(their_dict["state"])
        for i, entry in their_dict["state"].items():
            expected = {k for k, v in entry.items() if v is not None}
            assert set(our_dict["state"][i]) == expected, (name, kwargs)
        assert our_dict["param_groups"][0]["params"] == their_dict["param_groups"][0]["params"]
        assert set(our_dict["param_groups"][0]) <= set(their_dict["param_groups"][0])
        if not our_dict["state"]:
            continue  # plain SGD keeps no state
        for array in (v for entry in our_dict["state"].values() for v in entry.values()):
            if isinstance(array, np.ndarray):
                array += 1.0  # must not reach the optimizer
        again = ours.state_dict()["state"][0]
        assert again.keys() == our_dict["state"][0].keys()
        for k, v in again.items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(v + 1.0, our_dict["state"][0][k])


@pytest.mark.parametrize("name,kwargs", [("Adam", dict(lr=0.01, amsgrad=True)),
                                         ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True)),
                                         ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.01))])
def test_a_torch_state_dict_loads_and_continues_like_torch(name, kwargs):
    problem = Problem(3)
    _, torch_opt = torch_trajectory(name, kwargs, problem, np.float64, 30)
    torch_params = [p for group in torch_opt.param_groups for p in group["params"]]
    params = [p.detach().numpy().copy() for p in torch_params]
    ours = getattr(optim, name)(params, lr=123.0, backend="numba")
    ours.load_state_dict(torch_opt.state_dict())
    for _ in range(30):
        for p, g in zip(torch_params, problem.grads([p.detach().numpy() for p in torch_params])):
            p.grad = torch.from_numpy(g)
        torch_opt.step()
        ours.step(problem.grads(params))
    assert relative_error(params, [p.detach().numpy() for p in torch_params]) < 1e-12


def test_load_state_dict_rejects_mismatches_before_changing_anything():
    params = [np.ones(3), np.ones(2)]
    opt = optim.Adam(params, lr=0.1)
    opt.step([np.ones(3), np.ones(2)])
    before = copy.deepcopy(opt.state_dict())
    bad_shape = copy.deepcopy(before)
    bad_shape["state"][1]["exp_avg"] = np.zeros(5)
    bad_shape["param_groups"][0]["lr"] = 0.5
    with pytest.raises(ValueError, match=r"exp_avg.*parameter 1.*\(5,\).*\(2,\)"):
        opt.load_state_dict(bad_shape)
    bad_groups = copy.deepcopy(before)
    bad_groups["param_groups"].append(bad_groups["param_groups"][0])
    with pytest.raises(ValueError, match="2 parameter groups.*1"):
        opt.load_state_dict(bad_groups)
    bad_name = copy.deepcopy(before)
    bad_name["state"][0]["velocity"] = np.zeros(3)
    with pytest.raises(ValueError, match="unexpected state 'velocity'"):
        opt.load_state_dict(bad_name)
    bad_beta = copy.deepcopy(before)
    bad_beta["param_groups"][0]["betas"] = (0.9, 1.0)
    with pytest.raises(ValueError, match="beta2"):
        opt.load_state_dict(bad_beta)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    np.testing.assert_array_equal(after["state"][1]["exp_avg"], before["state"][1]["exp_avg"])


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("make, match", [
    (lambda p: optim.SGD(p, lr=-0.1), r"invalid lr: -0.1"),
    (lambda p: optim.Adam(p, lr=-1e-3), r"invalid lr"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"beta1.*1.0.*\[0.0, 1.0\)"),
    (lambda p: optim.Adam(p, betas=(-0.1, 0.999)), r"beta1"),
    (lambda p: optim.AdamW(p, betas=(0.9, 1.0)), r"beta2"),
    (lambda p: optim.Adam(p, betas=(0.9,)), r"betas must be a pair"),
    (lambda p: optim.Adam(p, eps=-1e-8), r"invalid eps"),
    (lambda p: optim.Adam(p, weight_decay=float("nan")), r"invalid weight_decay"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), r"Nesterov.*momentum > 0"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), r"dampening = 0"),
    (lambda p: optim.SGD(p, momentum=-0.5), r"invalid momentum"),
    (lambda p: optim.RMSprop(p, alpha=1.5), r"invalid alpha"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), r"invalid lr_decay"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), r"initial_accumulator_value"),
    (lambda p: optim.SGD(p, backend="jax"), r"backend must be one of"),
    (lambda p: optim.SGD([], lr=0.1), r"empty parameter list"),
    (lambda p: optim.SGD([{"params": p, "lr": 0.1, "momentun": 0.9}]), r"unknown hyperparameters \['momentun'\]"),
    (lambda p: optim.SGD(p + p[:1]), r"more than once"),
])
def test_bad_hyperparameters_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make([np.zeros(3), np.zeros(2)])


def test_bad_parameter_types_raise():
    with pytest.raises(TypeError, match="not a single array"):
        optim.SGD(np.zeros(3))
    with pytest.raises(TypeError, match="parameter 0 must be a numpy.ndarray, got list"):
        optim.SGD([[1.0, 2.0]])
    with pytest.raises(TypeError, match="floating point, got dtype int64"):
        optim.SGD([np.zeros(3, dtype=np.int64)])
    with pytest.raises(ValueError, match=r"not C-contiguous.*FlatParameters"):
        optim.Adam([np.zeros((3, 4)).T], backend="numba")
    with pytest.raises(TypeError, match="'cuda' backend needs device arrays; parameter 0 is a ndarray"):
        optim.Adam([np.zeros(3)], backend="cuda")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_bad_gradients_raise_before_any_parameter_changes(backend):
    params = [np.ones((2, 3)), np.ones(4)]
    opt = optim.Adam(params, lr=0.1, backend=backend)
    opt.step([np.ones((2, 3)), np.ones(4)])
    snapshot = copy.deepcopy(opt.state_dict()), [p.copy() for p in params]
    good = np.ones((2, 3))
    with pytest.raises(ValueError, match="got 1 gradients for 2 parameters"):
        opt.step([good])
    with pytest.raises(ValueError, match=r"gradient 1 has shape \(4, 1\) but parameter 1 has shape \(4,\)"):
        opt.step([good, np.ones((4, 1))])
    with pytest.raises(ValueError, match="gradient 1 has dtype float32 but parameter 1 has dtype float64"):
        opt.step([good, np.ones(4, dtype=np.float32)])
    with pytest.raises(TypeError, match="gradient 1 must be a numpy.ndarray, got list"):
        opt.step([good, [1.0, 1.0, 1.0, 1.0]])
    with pytest.raises(TypeError, match="sequence of gradients"):
        opt.step(good)
    opt.param_groups[0]["lr"] = -0.5  # e.g. a broken schedule
    with pytest.raises(ValueError, match="invalid lr: -0.5"):
        opt.step([good, np.ones(4)])
    opt.param_groups[0]["lr"] = 0.1
    state, values = snapshot
    for p, q in zip(params, values):
        np.testing.assert_array_equal(p, q)  # the first parameter was not updated before the error
    assert opt.state_dict()["state"][0]["step"] == 1
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["exp_avg"], state["state"][0]["exp_avg"])


# ---------------------------------------------------------------- groups, missing gradients, layouts
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_parameter_groups_and_missing_gradients_follow_torch(backend):
    problem = Problem(7)
    params = [x.copy() for x in problem.x0]
    tparams = [torch.tensor(x) for x in problem.x0]
    ours = optim.Adam([{"params": params[:2], "lr": 0.05}, {"params": params[2:], "weight_decay": 0.1}],
                      lr=0.01, backend=backend)
    theirs = torch.optim.Adam([{"params": tparams[:2], "lr": 0.05}, {"params": tparams[2:], "weight_decay": 0.1}],
                              lr=0.01)
    for step in range(30):
        grads = problem.grads(params)
        if step % 3 == 0:
            grads[1] = None  # parameter 1 sits this step out, and its step count falls behind
        for p, g in zip(tparams, grads):
            p.grad = None if g is None else torch.from_numpy(g.copy())
        theirs.step()
        ours.step(grads)
    assert relative_error(params, [p.numpy() for p in tparams]) < 1e-12
    assert ours.state[1]["step"] == 20 and ours.state[0]["step"] == 30


def test_numpy_backend_handles_non_contiguous_parameters():
    base = np.random.default_rng(0).standard_normal((4, 5))
    ours, theirs = base.copy(), torch.tensor(base.copy())
    view, tview = ours.T, theirs.T  # a transposed view: updating it must update the base array
    opt, topt = optim.RMSprop([view], momentum=0.5), torch.optim.RMSprop([tview], momentum=0.5)
    for k in range(5):
        g = np.cos(view * (k + 1))
        opt.step([g])
        tview.grad = torch.from_numpy(g.copy())
        topt.step()
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("case_index", range(len(CASES)), ids=[case_id(c) for c in CASES])
def test_numpy_backend_in_cache_blocks_is_bit_identical_to_whole_arrays(case_index, monkeypatch):
    """Every rule is elementwise, so updating block by block must give exactly the whole-array update,
    including a last block shorter than the others (SHAPES have 12, 5 and 12 elements; blocks of 5)."""
    whole = _run_ours(case_index, np.float64, "numpy", flat=False)
    cls = getattr(optim, CASES[case_index][0])
    original, sizes = cls._numpy_update, []

    def recording(self, param, *args):
        sizes.append(param.size)
        return original(self, param, *args)

    monkeypatch.setattr(optim.base, "NUMPY_BLOCK", 5)
    monkeypatch.setattr(cls, "_numpy_update", recording)
    blocked = _run_ours(case_index, np.float64, "numpy", flat=False)
    assert set(sizes) == {5, 2}, sorted(set(sizes))  # 12 = 5 + 5 + 2; the 5-element parameter is one block
    for a, b in zip(whole, blocked):
        np.testing.assert_array_equal(a, b)


def test_flat_parameters_are_views_of_one_buffer():
    flat = optim.FlatParameters([(2, 3), (4,), (1, 1, 2)], dtype=np.float32)
    assert flat.data.shape == (12,) and flat.data.dtype == np.float32
    assert [p.shape for p in flat.params] == [(2, 3), (4,), (1, 1, 2)]
    flat.params[1][...] = 7.0
    np.testing.assert_array_equal(flat.data[6:10], 7.0)
    assert optim.contiguous_span(flat.params) is not None
    assert np.shares_memory(optim.contiguous_span(flat.params), flat.data)
    assert optim.contiguous_span(flat.params[1:]).size == 6
    assert optim.contiguous_span([flat.params[1], flat.params[0]]) is None  # out of order
    assert optim.contiguous_span([flat.params[0], flat.params[2]]) is None  # a gap
    assert optim.contiguous_span([np.zeros(3), np.zeros(3)]) is None  # separate allocations
    copied = optim.FlatParameters.from_arrays([np.arange(3.0), np.ones((2, 2))])
    np.testing.assert_array_equal(copied.data, [0, 1, 2, 1, 1, 1, 1])
    assert copied.like().data.sum() == 0 and copied.like().shapes == copied.shapes
    with pytest.raises(TypeError, match="floating point, got dtype int32"):
        optim.FlatParameters([(2,)], dtype=np.int32)
    with pytest.raises(ValueError, match="at least one shape"):
        optim.FlatParameters([])


def test_numba_backend_updates_a_flat_model_in_one_kernel_call(monkeypatch):
    calls = []
    kernel = kernels_numba.adam_kernel
    monkeypatch.setattr(kernels_numba, "adam_kernel", lambda *args: (calls.append(args[0].size), kernel(*args)))
    flat = optim.FlatParameters([(3, 4), (5,), (2, 2)])
    grads = flat.like()
    grads.data[...] = 1.0
    opt = optim.Adam(flat.params, backend="numba")
    opt.step(grads.params)
    assert calls == [21]  # one call over all 21 elements
    calls.clear()
    opt.step([np.ones(p.shape) for p in flat.params])  # gradients not in one buffer: one call each
    assert calls == [12, 5, 4]


@pytest.mark.parametrize("name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
                                         ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
                                         ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
                                         ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1))])
def test_parallel_kernels_agree_with_the_numpy_reference(name, kwargs, monkeypatch):
    monkeypatch.setattr(kernels_numba, "PARALLEL_THRESHOLD", 0)  # force the parallel kernels on small arrays
    problem = Problem(11, shapes=[(300,), (7, 11)])
    results = []
    for backend in ["numpy", "numba"]:
        flat = optim.FlatParameters.from_arrays(problem.x0)
        opt = getattr(optim, name)(flat.params, backend=backend, **kwargs)
        for _ in range(20):
            opt.step(problem.grads(flat.params))
        results.append(flat.data)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-14)


@given(lr=st.floats(1e-4, 0.5), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.5, 0.9999),
       eps=st.floats(1e-12, 1e-2), weight_decay=st.floats(0.0, 0.5), amsgrad=st.booleans(),
       shapes=st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), min_size=1, max_size=3),
       seed=st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_adam_matches_torch_for_random_hyperparameters_and_shapes(lr, beta1, beta2, eps, weight_decay, amsgrad,
                                                                   shapes, seed):
    kwargs = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
    problem = Problem(seed, shapes=shapes)
    reference, _ = torch_trajectory("Adam", kwargs, problem, np.float64, 10)
    for backend in ["numpy", "numba"]:
        params = [x.copy() for x in problem.x0]
        opt = optim.Adam(params, backend=backend, **kwargs)
        for _ in range(10):
            opt.step(problem.grads(params))
        np.testing.assert_allclose(np.concatenate([p.ravel() for p in params]),
                                   np.concatenate([r.ravel() for r in reference]), rtol=1e-10, atol=1e-12)


def test_repr_names_the_backend_and_groups():
    text = repr(optim.SGD([np.zeros(2)], lr=0.5, backend="numba"))
    assert "SGD(backend='numba'" in text and "lr=0.5" in text and "1 params" in text


# ---------------------------------------------------------------- schedules
def _torch_lrs(make, steps, base_lr=0.1):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    schedule = make(torch.optim.lr_scheduler, opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        schedule.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def _our_lrs(make, steps, base_lr=0.1):
    opt = optim.SGD([np.zeros(1)], lr=base_lr)
    schedule = make(optim, opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step([np.zeros(1)])
        schedule.step()
        lrs.append(opt.param_groups[0]["lr"])
        assert schedule.get_last_lr() == [lrs[-1]]
    return lrs


@pytest.mark.parametrize("make", [
    lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    lambda m, o: m.CosineAnnealingLR(o, T_max=25, eta_min=0.001),
    lambda m, o: m.CosineAnnealingLR(o, T_max=10),  # past T_max it rises again, as in torch
    lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=8),
    lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=12),
    lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.01, total_iters=5),
                                    m.CosineAnnealingLR(o, T_max=25, eta_min=1e-4)], milestones=[5]),
    lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.5, total_iters=3), m.StepLR(o, 4, 0.5),
                                    m.CosineAnnealingLR(o, T_max=10)], milestones=[3, 11]),
], ids=["step", "cosine", "cosine-past-T_max", "warmup", "linear-decay", "warmup-cosine", "three-phases"])
def test_schedules_match_torch(make):
    np.testing.assert_allclose(_our_lrs(make, 30), _torch_lrs(make, 30), rtol=1e-9, atol=1e-15)


def test_schedule_state_round_trip_and_bad_arguments():
    opt = optim.Adam([np.zeros(2)], lr=0.1)
    schedule = optim.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        schedule.step()
    saved = schedule.state_dict()
    other = optim.CosineAnnealingLR(optim.Adam([np.zeros(2)], lr=0.1), T_max=10)
    other.load_state_dict(saved)
    assert other.get_last_lr() == schedule.get_last_lr() == [opt.param_groups[0]["lr"]]
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="start_factor must lie in"):
        optim.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="one more scheduler than milestones"):
        optim.SequentialLR(opt, [optim.StepLR(opt, 2)], milestones=[3])
    with pytest.raises(TypeError, match="needs an optimizer"):
        optim.StepLR(object(), 3)
