"""The contract every layer in :mod:`mlbook.nn` keeps: ``forward`` caches, ``backward`` uses the cache.

A :class:`Module` maps a batch-first array to another. ``forward(x)`` computes the output and keeps
whatever ``backward`` will need; ``backward(grad_output)`` receives dL/d(output), stores dL/d(parameter)
in ``self.grads`` (same keys and shapes as ``self.params``) and returns dL/d(input). Parameters are plain
NumPy arrays that optimizers update in place, so ``module.params["weight"] -= lr * module.grads["weight"]``
is a complete SGD step.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

__all__ = ["Module"]


class Module:
    """Base class of layers and networks. Subclasses set ``self.params`` and implement forward/backward."""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training: bool = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def children(self) -> dict[str, Module]:
        """Sub-modules by name; containers (Sequential, attention blocks) override this."""
        return {}

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
        """``(name, parameter, gradient or None)`` for this module and every descendant, depth first."""
        for name, value in self.params.items():
            yield prefix + name, value, self.grads.get(name)
        for child_name, child in self.children().items():
            yield from child.named_parameters(f"{prefix}{child_name}.")

    def parameters(self) -> list[np.ndarray]:
        return [p for _, p, _ in self.named_parameters()]

    def gradients(self) -> list[np.ndarray]:
        """Gradients in the order of :meth:`parameters`; raises if backward has not run yet."""
        grads = []
        for name, _, grad in self.named_parameters():
            if grad is None:
                raise RuntimeError(f"no gradient for {name!r}: call backward() after forward() first")
            grads.append(grad)
        return grads

    def zero_grad(self) -> None:
        for module in self.modules():
            module.grads = {}

    def modules(self) -> Iterator[Module]:
        yield self
        for child in self.children().values():
            yield from child.modules()

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch statistics in normalisation); returns self."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Inference mode; returns self."""
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter, keyed by dotted name (``"0.weight"``, ...)."""
        return {name: value.copy() for name, value, _ in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the parameters in place, after checking every key and shape."""
        own = {name: value for name, value, _ in self.named_parameters()}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(f"state does not match {type(self).__name__}: missing {missing}, unexpected {unexpected}")
        wrong = [f"{k}: expected {own[k].shape}, got {np.shape(state[k])}" for k in own if own[k].shape != np.shape(state[k])]
        if wrong:
            raise ValueError("parameter shapes do not match: " + "; ".join(wrong))
        for name, value in own.items():
            value[...] = state[name]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"
