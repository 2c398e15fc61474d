"""The "cuda" backend of mlbook.optim: every optimizer and option combination against torch.optim.

Needs a GPU or Numba's CUDA simulator. ``tests/test_optim_cuda.py`` runs this module in a subprocess with
``NUMBA_ENABLE_CUDASIM=1``, so the simulator's environment variable never reaches the other tests; run
directly without it and no GPU, every test here is skipped. The simulator executes each GPU thread in
Python, so the problems are small and most launches use one thread (exercising the grid-stride loop).
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from numba import cuda
from test_optim_helpers import CASES, TOLERANCE, Problem, case_id, relative_error, torch_trajectory

from mlbook import optim

SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
pytestmark = pytest.mark.skipif(not (SIMULATED or cuda.is_available()),
                                reason="needs a CUDA GPU or NUMBA_ENABLE_CUDASIM=1")
SHAPES = [(2, 3), (4,)]
STEPS = 100


@pytest.fixture
def one_thread(monkeypatch):
    """Under the simulator, launch a single thread: far cheaper to simulate, and the loop still covers
    every element through its stride."""
    if SIMULATED:
        from mlbook.optim import kernels_cuda

        monkeypatch.setattr(kernels_cuda, "THREADS_PER_BLOCK", 1)
        monkeypatch.setattr(kernels_cuda, "MAX_BLOCKS", 1)


def _run_cuda(name, kwargs, problem, dtype, steps):
    params = [cuda.to_device(x.astype(dtype)) for x in problem.x0]
    opt = getattr(optim, name)(params, backend="cuda", **kwargs)
    for _ in range(steps):
        host = [p.copy_to_host() for p in params]
        opt.step([cuda.to_device(g) for g in problem.grads(host)])
    return [p.copy_to_host() for p in params], opt


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case_index", range(len(CASES)), ids=[case_id(c) for c in CASES])
def test_every_option_matches_torch_for_100_steps_on_cuda(case_index, dtype, one_thread):
    name, kwargs = CASES[case_index]
    problem = Problem(case_index, shapes=SHAPES, maximize=kwargs.get("maximize", False))
    reference, _ = torch_trajectory(name, kwargs, problem, dtype, STEPS)
    ours, _ = _run_cuda(name, kwargs, problem, dtype, STEPS)
    assert all(p.dtype == dtype for p in ours)
    assert relative_error(ours, reference) <= TOLERANCE[dtype]


def test_several_blocks_and_threads_give_the_same_result(monkeypatch):
    from mlbook.optim import kernels_cuda

    monkeypatch.setattr(kernels_cuda, "THREADS_PER_BLOCK", 2)
    monkeypatch.setattr(kernels_cuda, "MAX_BLOCKS", 2)  # 4 threads over 6 elements: some do two
    name, kwargs = "Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)
    problem = Problem(5, shapes=SHAPES)
    reference, _ = torch_trajectory(name, kwargs, problem, np.float64, 10)
    ours, _ = _run_cuda(name, kwargs, problem, np.float64, 10)
    assert relative_error(ours, reference) <= 1e-10


def test_state_round_trip_on_the_device(one_thread):
    problem = Problem(2, shapes=SHAPES)
    kwargs = dict(lr=0.01, momentum=0.9, centered=True)
    straight, opt = _run_cuda("RMSprop", kwargs, problem, np.float64, 10)
    saved = opt.state_dict()
    assert isinstance(saved["state"][0]["square_avg"], np.ndarray)  # copied to the host
    params = [cuda.to_device(p) for p in straight]
    resumed = optim.RMSprop(params, backend="cuda", **kwargs)
    resumed.load_state_dict(copy.deepcopy(saved))
    for _ in range(5):
        opt.step([cuda.to_device(g) for g in problem.grads([p.copy_to_host() for p in opt.params])])
        resumed.step([cuda.to_device(g) for g in problem.grads([p.copy_to_host() for p in params])])
    for a, b in zip(params, opt.params):
        np.testing.assert_array_equal(a.copy_to_host(), b.copy_to_host())


def test_host_gradients_are_rejected_before_anything_changes(one_thread):
    params = [cuda.to_device(np.ones(3))]
    opt = optim.Adam(params, backend="cuda")
    with pytest.raises(TypeError, match="'cuda' backend needs device arrays; gradient 0 is a ndarray"):
        opt.step([np.ones(3)])
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(4,\) but parameter 0 has shape \(3,\)"):
        opt.step([cuda.to_device(np.ones(4))])
    np.testing.assert_array_equal(params[0].copy_to_host(), 1.0)
    assert opt.state == {}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs torch with a CUDA GPU")
def test_torch_cuda_tensors_are_updated_in_place_without_a_copy():
    problem = Problem(1, shapes=[(1000,), (33, 7)])
    kwargs = dict(lr=0.01, weight_decay=0.05)
    tensors = [torch.tensor(x, device="cuda") for x in problem.x0]
    reference = [t.clone() for t in tensors]
    ours, theirs = optim.AdamW(tensors, backend="cuda", **kwargs), torch.optim.AdamW(reference, **kwargs)
    for _ in range(20):
        grads = [torch.from_numpy(g).cuda() for g in problem.grads([t.cpu().numpy() for t in tensors])]
        ours.step(grads)
        for r, g in zip(reference, grads):
            r.grad = g.clone()
        theirs.step()
    assert relative_error([t.cpu().numpy() for t in tensors], [r.cpu().numpy() for r in reference]) < 1e-10
