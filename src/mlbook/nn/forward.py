"""Forward and backward propagation through an L-layer network, as the course notes write it.

The network is a parameter dictionary ``{"W1", "b1", ..., "WL", "bL"}`` and a list of ``L`` activation
names. ``W{l}`` has shape ``(n_l, n_{l-1})`` (one row per neuron, the same layout as ``torch.nn.Linear``)
and ``b{l}`` has shape ``(n_l, 1)``. Two conventions for the data, side by side:

=====================  ====================================  ====================================
                       columns (the notes)                   rows, batch-first (this library)
=====================  ====================================  ====================================
input ``X``            ``(n_0, m)``: one example per column  ``(m, n_0)``: one example per row
linear step            ``Z = W @ A_prev + b``                ``Z = A_prev @ W.T + b.T``
``Z``, ``A`` of layer  ``(n_l, m)``                          ``(m, n_l)``
``dW``                 ``dZ @ A_prev.T``                     ``dZ.T @ A_prev``
``db``                 ``dZ.sum(axis=1, keepdims=True)``     ``dZ.sum(axis=0)[:, None]``
``dA_prev``            ``W.T @ dZ``                          ``dZ @ W``
=====================  ====================================  ====================================

Every row-convention array is the transpose of its column-convention twin, and the parameter gradients are
identical. Each layer's cache is ``(A_prev, W, b, Z)``: what the backward pass needs and nothing more.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence, Union

import numpy as np

from mlbook.nn.activations import sigmoid
from mlbook.nn.module import Module

__all__ = [
    "ACTIVATION_NAMES",
    "LayerCache",
    "activation_backward",
    "activation_forward",
    "backward_columns",
    "backward_rows",
    "check_parameters",
    "forward_columns",
    "forward_rows",
    "initialize_parameters",
    "module_from_parameters",
    "parameters_from_module",
    "predict",
]

ACTIVATION_NAMES: tuple[str, ...] = ("relu", "sigmoid", "tanh", "identity", "softmax")
"""The activations the functions here accept by name; ``softmax`` normalises over the feature axis."""

Parameters = dict[str, np.ndarray]


class LayerCache(NamedTuple):
    """What layer ``l`` remembers from the forward pass: its input, its parameters, its pre-activation."""

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    Z: np.ndarray


def initialize_parameters(layer_dims: Sequence[int], *, init: str = "he",
                          rng: Union[None, int, np.random.Generator] = 0) -> Parameters:
    """``{"W1": (n_1, n_0), "b1": (n_1, 1), ...}`` for ``layer_dims = [n_0, n_1, ..., n_L]``; biases are 0.

    ``init`` is any scheme of :func:`mlbook.nn.layers.init_weight` (He by default, for ReLU networks).
    """
    from mlbook.nn.layers import init_weight

    dims = list(layer_dims)
    if len(dims) < 2:
        raise ValueError(f"layer_dims needs an input size and at least one layer, got {dims}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    params: Parameters = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = init_weight(dims[l - 1], dims[l], init, rng=gen)
        params[f"b{l}"] = np.zeros((dims[l], 1))
    return params


def _check_activations(activations: Sequence[str]) -> list[str]:
    names = []
    for l, name in enumerate(activations, start=1):
        if not isinstance(name, str) or name.lower() not in ACTIVATION_NAMES:
            raise ValueError(f"unknown activation {name!r} for layer {l}; choose one of {list(ACTIVATION_NAMES)}")
        names.append(name.lower())
    return names


def check_parameters(parameters: Mapping[str, np.ndarray], activations: Sequence[str]) -> list[int]:
    """Validate a parameter dictionary against ``len(activations)`` layers; return ``[n_0, ..., n_L]``.

    Raises ``KeyError`` naming missing or unexpected keys and ``ValueError`` naming any weight or bias whose
    shape does not chain (``W{l}`` must have as many columns as ``W{l-1}`` has rows).
    """
    names = _check_activations(activations)
    L = len(names)
    if L == 0:
        raise ValueError("a network needs at least one layer: activations is empty")
    expected = {f"{kind}{l}" for l in range(1, L + 1) for kind in "Wb"}
    missing = sorted(expected - set(parameters), key=lambda k: (int(k[1:]), k[0]))
    unexpected = sorted(set(parameters) - expected)
    if missing or unexpected:
        raise KeyError(f"parameters do not match {L} layers: missing {missing}, unexpected {unexpected}")
    dims = [np.shape(parameters["W1"])[1] if np.ndim(parameters["W1"]) == 2 else -1]
    for l in range(1, L + 1):
        W, b = np.asarray(parameters[f"W{l}"]), np.asarray(parameters[f"b{l}"])
        if W.ndim != 2:
            raise ValueError(f"W{l} must be 2-D (n_{l}, n_{l - 1}), got shape {W.shape}")
        if W.shape[1] != dims[-1]:
            raise ValueError(f"W{l} has shape {W.shape} but layer {l - 1} has {dims[-1]} units: "
                             f"expected ({W.shape[0]}, {dims[-1]})")
        if b.shape != (W.shape[0], 1):
            raise ValueError(f"b{l} must have shape ({W.shape[0]}, 1) to match W{l} {W.shape}, got {b.shape}")
        dims.append(W.shape[0])
    return dims


def activation_forward(Z: np.ndarray, name: str, *, axis: int = 0) -> np.ndarray:
    """``g(Z)`` for the activation ``name``; ``axis`` is the feature axis (used by softmax only)."""
    name = _check_activations([name])[0]
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "sigmoid":
        return np.asarray(sigmoid(Z))
    if name == "tanh":
        return np.tanh(Z)
    if name == "softmax":
        shifted = Z - Z.max(axis=axis, keepdims=True)  # exp of a number <= 0 cannot overflow
        e = np.exp(shifted)
        return e / e.sum(axis=axis, keepdims=True)
    return Z


def activation_backward(dA: np.ndarray, Z: np.ndarray, name: str, *, axis: int = 0) -> np.ndarray:
    """``dL/dZ`` from ``dL/dA`` for ``A = g(Z)``: ``dA * g'(Z)``, or the softmax Jacobian-vector product."""
    name = _check_activations([name])[0]
    if name == "relu":
        return dA * (Z > 0)
    if name == "sigmoid":
        s = np.asarray(sigmoid(Z))
        return dA * s * (1 - s)
    if name == "tanh":
        return dA * (1 - np.tanh(Z) ** 2)
    if name == "softmax":
        # dZ_i = sum_j dA_j * s_j (delta_ij - s_i) = s_i (dA_i - sum_j dA_j s_j)
        s = activation_forward(Z, "softmax", axis=axis)
        return s * (dA - np.sum(dA * s, axis=axis, keepdims=True))
    return dA


def _check_input(X: np.ndarray, n_0: int, layout: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64) if not np.issubdtype(np.asarray(X).dtype, np.floating) else np.asarray(X)
    if layout == "columns":
        if X.ndim != 2 or X.shape[0] != n_0:
            hint = " (rows are examples here? use forward_rows or pass X.T)" if X.ndim == 2 and X.shape[1] == n_0 else ""
            raise ValueError(f"forward_columns expects X of shape (n_0={n_0}, m), got {X.shape}{hint}")
    else:
        if X.ndim != 2 or X.shape[1] != n_0:
            hint = " (columns are examples here? use forward_columns or pass X.T)" if X.ndim == 2 and X.shape[0] == n_0 else ""
            raise ValueError(f"forward_rows expects X of shape (m, n_0={n_0}), got {X.shape}{hint}")
    return X


def forward_columns(X: np.ndarray, parameters: Mapping[str, np.ndarray],
                    activations: Sequence[str]) -> tuple[np.ndarray, list[LayerCache]]:
    """The notes' forward pass: ``X`` is ``(n_0, m)``, one example per column.

    Returns ``(A_L, caches)``: ``A_L`` has shape ``(n_L, m)`` and ``caches[l - 1]`` is layer ``l``'s
    :class:`LayerCache` ``(A_prev, W, b, Z)``.
    """
    dims = check_parameters(parameters, activations)
    A = _check_input(X, dims[0], "columns")
    caches = []
    for l, name in enumerate(_check_activations(activations), start=1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = W @ A + b                                   # (n_l, n_{l-1}) @ (n_{l-1}, m) + (n_l, 1)
        caches.append(LayerCache(A, W, b, Z))
        A = activation_forward(Z, name, axis=0)
    return A, caches


def forward_rows(X: np.ndarray, parameters: Mapping[str, np.ndarray],
                 activations: Sequence[str]) -> tuple[np.ndarray, list[LayerCache]]:
    """The same forward pass, batch-first: ``X`` is ``(m, n_0)``, one example per row.

    Uses the same parameter dictionary as :func:`forward_columns`; every ``A`` and ``Z`` is the transpose
    of its column-convention twin. Returns ``(A_L, caches)`` with ``A_L`` of shape ``(m, n_L)``.
    """
    dims = check_parameters(parameters, activations)
    A = _check_input(X, dims[0], "rows")
    caches = []
    for l, name in enumerate(_check_activations(activations), start=1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = A @ W.T + b.T                               # (m, n_{l-1}) @ (n_{l-1}, n_l) + (1, n_l)
        caches.append(LayerCache(A, W, b, Z))
        A = activation_forward(Z, name, axis=1)
    return A, caches


def _backward(grad: np.ndarray, caches: Sequence[LayerCache], activations: Sequence[str], wrt: str,
              layout: str) -> Parameters:
    names = _check_activations(activations)
    if len(names) != len(caches):
        raise ValueError(f"{len(caches)} caches but {len(names)} activations: pass the caches of the same forward pass")
    if wrt not in ("A", "Z"):
        raise ValueError(f"wrt must be 'A' (grad is dL/dA_L) or 'Z' (grad is dL/dZ_L), got {wrt!r}")
    last_Z = caches[-1].Z
    if np.shape(grad) != last_Z.shape:
        raise ValueError(f"the output gradient must have the output's shape {last_Z.shape}, got {np.shape(grad)}")
    axis = 0 if layout == "columns" else 1
    grads: Parameters = {}
    dA = grad
    for l in range(len(caches), 0, -1):
        A_prev, W, b, Z = caches[l - 1]
        if l == len(caches) and wrt == "Z":
            dZ = grad
        else:
            dZ = activation_backward(dA, Z, names[l - 1], axis=axis)
        if layout == "columns":
            grads[f"dW{l}"] = dZ @ A_prev.T                    # (n_l, m) @ (m, n_{l-1})
            grads[f"db{l}"] = dZ.sum(axis=1, keepdims=True)    # the bias is shared by all m examples
            dA = W.T @ dZ                                      # (n_{l-1}, n_l) @ (n_l, m)
        else:
            grads[f"dW{l}"] = dZ.T @ A_prev                    # (n_l, m) @ (m, n_{l-1})
            grads[f"db{l}"] = dZ.sum(axis=0)[:, None]
            dA = dZ @ W                                        # (m, n_l) @ (n_l, n_{l-1})
    grads["dA0"] = dA
    return grads


def backward_columns(grad: np.ndarray, caches: Sequence[LayerCache], activations: Sequence[str], *,
                     wrt: str = "A") -> Parameters:
    """Backpropagation through the caches of :func:`forward_columns`.

    ``grad`` is ``dL/dA_L`` (``wrt="A"``), or ``dL/dZ_L`` (``wrt="Z"``) when the loss and the output
    activation are differentiated together, e.g. ``(A_L - Y) / m`` for sigmoid or softmax with
    cross-entropy. Returns ``{"dW1", "db1", ..., "dWL", "dbL", "dA0"}``, each shaped like what it is the
    gradient of. Walking from layer L down to 1::

        dZ = dA * g'(Z)                       # the activation's local derivative
        dW = dZ @ A_prev.T ;  db = dZ.sum(axis=1, keepdims=True) ;  dA = W.T @ dZ
    """
    return _backward(grad, caches, activations, wrt, "columns")


def backward_rows(grad: np.ndarray, caches: Sequence[LayerCache], activations: Sequence[str], *,
                  wrt: str = "A") -> Parameters:
    """Backpropagation through the caches of :func:`forward_rows`; ``grad`` is ``(m, n_L)``.

    Returns the same dictionary as :func:`backward_columns` (``dA0`` is ``(m, n_0)``), and the parameter
    gradients are equal to it.
    """
    return _backward(grad, caches, activations, wrt, "rows")


def predict(X: np.ndarray, parameters: Mapping[str, np.ndarray], activations: Sequence[str], *,
            threshold: float = 0.5) -> np.ndarray:
    """Class labels for a batch-first ``X`` of shape ``(m, n_0)``: ``A_L >= threshold`` for one output
    unit, otherwise the ``argmax`` over the ``n_L`` outputs. Returns int64 of shape ``(m,)``."""
    A_L, _ = forward_rows(X, parameters, activations)
    if A_L.shape[1] == 1:
        return (A_L[:, 0] >= threshold).astype(np.int64)
    return np.argmax(A_L, axis=1).astype(np.int64)


_MODULE_ACTIVATIONS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Identity": "identity",
                       "Softmax": "softmax"}


def parameters_from_module(model: Module) -> tuple[Parameters, list[str]]:
    """Convert a :class:`~mlbook.nn.layers.Sequential` of ``Linear`` and activation layers to the notes'
    ``(parameters, activations)``; a ``Linear`` not followed by an activation gets ``"identity"``.
    ``Dropout`` layers are skipped (they are the identity at inference)."""
    from mlbook.nn.layers import Dropout, Linear, Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"expected a Sequential of Linear and activation layers, got {type(model).__name__}")
    params: Parameters = {}
    activations: list[str] = []
    open_slot = False          # True right after a Linear, until its activation is seen
    for i, layer in enumerate(model):
        if isinstance(layer, Linear):
            l = len(activations) + 1
            params[f"W{l}"] = layer.params["weight"].copy()
            bias = layer.params.get("bias", np.zeros(layer.out_features))
            params[f"b{l}"] = bias.reshape(-1, 1).copy()
            activations.append("identity")
            open_slot = True
        elif isinstance(layer, Dropout):
            continue
        elif type(layer).__name__ in _MODULE_ACTIVATIONS and open_slot:
            activations[-1] = _MODULE_ACTIVATIONS[type(layer).__name__]
            open_slot = False
        else:
            raise ValueError(f"layer {i} ({type(layer).__name__}) cannot be expressed in the notes' format: "
                             "expected Linear layers each followed by at most one of "
                             f"{sorted(_MODULE_ACTIVATIONS)}")
    if not activations:
        raise ValueError("the model has no Linear layer")
    return params, activations


def module_from_parameters(parameters: Mapping[str, np.ndarray], activations: Sequence[str]) -> Module:
    """The :class:`~mlbook.nn.layers.Sequential` that computes ``forward_rows(X, parameters, activations)``.

    Each layer becomes a ``Linear`` followed by its activation layer (none for ``"identity"``).
    """
    from mlbook.nn.layers import Linear, Sequential, activation_module

    dims = check_parameters(parameters, activations)
    layers: list[Module] = []
    for l, name in enumerate(_check_activations(activations), start=1):
        linear = Linear(dims[l - 1], dims[l])
        linear.params["weight"][...] = parameters[f"W{l}"]
        linear.params["bias"][...] = np.asarray(parameters[f"b{l}"]).reshape(-1)
        layers.append(linear)
        if name != "identity":
            layers.append(activation_module(name))
    return Sequential(*layers)
