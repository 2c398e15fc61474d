"""Helpers shared by the optimizer tests (CPU and CUDA simulator), not tests themselves: every option combination
of every optimizer, a random problem, and the same run done by torch.optim."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from mlbook import optim

SHAPES = [(3, 4), (5,), (2, 3, 2)]


def _grid(**options):
    names = list(options)
    return [dict(zip(names, values)) for values in itertools.product(*options.values())]


def _sgd_cases():
    cases = []
    for momentum, dampening, nesterov in [(0.0, 0.0, False), (0.9, 0.0, False), (0.9, 0.1, False), (0.9, 0.0, True)]:
        for extra in _grid(weight_decay=[0.0, 0.05], maximize=[False, True]):
            cases.append(dict(lr=0.01, momentum=momentum, dampening=dampening, nesterov=nesterov, **extra))
    return cases


CASES = (
    [("SGD", kw) for kw in _sgd_cases()]
    + [("Adam", dict(lr=0.01, **kw)) for kw in _grid(weight_decay=[0.0, 0.1], amsgrad=[False, True],
                                                     maximize=[False, True], decoupled_weight_decay=[False, True])]
    + [("AdamW", dict(lr=0.01, betas=(0.8, 0.99), **kw)) for kw in _grid(weight_decay=[0.01, 0.2], amsgrad=[False, True],
                                                                          maximize=[False, True])]
    + [("RMSprop", dict(lr=0.003, **kw)) for kw in _grid(momentum=[0.0, 0.9], centered=[False, True],
                                                         weight_decay=[0.0, 0.1], maximize=[False, True])]
    + [("Adagrad", dict(lr=0.05, **kw)) for kw in _grid(lr_decay=[0.0, 0.01], weight_decay=[0.0, 0.1],
                                                        initial_accumulator_value=[0.0, 0.1], maximize=[False, True])]
)


def case_id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items() if k != "lr")


class Problem:
    """A random smooth problem: grad_i(x) = A_i x_i - b_i + 0.1 x_i^3 for each parameter (maximize
    flips the sign so that every run descends)."""

    def __init__(self, seed: int, shapes=SHAPES, maximize: bool = False):
        rng = np.random.default_rng(seed)
        self.x0 = [rng.standard_normal(s) for s in shapes]
        self.A = []
        for s in shapes:
            n = int(np.prod(s))
            q = rng.standard_normal((n, n))
            self.A.append(q @ q.T / n + np.eye(n))
        self.b = [rng.standard_normal(s) for s in shapes]
        self.sign = -1.0 if maximize else 1.0

    def grads(self, xs):
        out = []
        for x, A, b in zip(xs, self.A, self.b):
            x64 = np.asarray(x, dtype=np.float64)
            g = (A @ x64.ravel()).reshape(x.shape) - b + 0.1 * x64**3
            out.append(np.asarray(self.sign * g, dtype=x.dtype))
        return out


def torch_trajectory(name, kwargs, problem, dtype, steps):
    params = [torch.tensor(x, dtype=getattr(torch, np.dtype(dtype).name)) for x in problem.x0]
    opt = getattr(torch.optim, name)(params, **kwargs)
    for _ in range(steps):
        for p, g in zip(params, problem.grads([p.numpy() for p in params])):
            p.grad = torch.from_numpy(g)
        opt.step()
    return [p.numpy().copy() for p in params], opt


def relative_error(ours, reference):
    """max |a - b| / max |b|, over all parameters together."""
    diff = max(np.max(np.abs(np.asarray(a, np.float64) - b)) for a, b in zip(ours, reference))
    scale = max(np.max(np.abs(b)) for b in reference)
    return diff / scale


TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}
