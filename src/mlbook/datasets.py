"""Small data sets made in code, so every chapter runs offline and deterministically.

- :func:`logic_gate`: the truth table of a Boolean gate (AND, OR, NAND, NOR, XOR, XNOR) on ``n`` inputs.

Arrays are batch-first: ``X`` has shape ``(n_samples, n_features)`` and ``y`` has shape
``(n_samples,)``. Later chapters add generators for two-dimensional toy problems (moons, circles,
blobs) here.
"""

from __future__ import annotations

import itertools
import numbers
from typing import Callable

import numpy as np

__all__ = ["LOGIC_GATES", "logic_gate"]

_GATES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "and": lambda bits: np.all(bits, axis=1),
    "or": lambda bits: np.any(bits, axis=1),
    "nand": lambda bits: ~np.all(bits, axis=1),
    "nor": lambda bits: ~np.any(bits, axis=1),
    "xor": lambda bits: np.sum(bits, axis=1) % 2 == 1,   # parity: true for an odd number of 1s
    "xnor": lambda bits: np.sum(bits, axis=1) % 2 == 0,
}

LOGIC_GATES: tuple[str, ...] = tuple(_GATES)
"""The gate names :func:`logic_gate` accepts (case-insensitive)."""


def logic_gate(name: str, n_inputs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The full truth table of a logic gate: every combination of ``n_inputs`` bits and the gate's output.

    Returns ``(X, y)``: ``X`` is float64 of shape ``(2**n_inputs, n_inputs)``, its rows in binary
    counting order (for two inputs: ``(0,0), (0,1), (1,0), (1,1)``); ``y`` is int64 of shape
    ``(2**n_inputs,)`` with values 0 and 1. With more than two inputs, ``"xor"`` is parity (1 when an
    odd number of inputs are 1). Raises ``ValueError`` for an unknown gate, listing the valid names.

    >>> X, y = logic_gate("and")
    >>> y.tolist()
    [0, 0, 0, 1]
    """
    if not isinstance(name, str):
        raise TypeError(f"the gate name must be a string, one of {list(LOGIC_GATES)}; got {type(name).__name__}")
    key = name.strip().lower()
    if key not in _GATES:
        raise ValueError(f"unknown logic gate {name!r}; valid names are {list(LOGIC_GATES)}")
    if isinstance(n_inputs, bool) or not isinstance(n_inputs, numbers.Integral) or not 1 <= n_inputs <= 16:
        raise ValueError(f"n_inputs must be an integer from 1 to 16, got {n_inputs!r}")
    bits = np.array(list(itertools.product((0, 1), repeat=int(n_inputs))), dtype=bool)
    return bits.astype(np.float64), _GATES[key](bits).astype(np.int64)
