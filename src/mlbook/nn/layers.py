"""Dense layers and containers, batch-first like PyTorch: a batch is ``(batch, features)``.

- :func:`init_weight`: He (Kaiming) and Xavier (Glorot) initialisation, and why each scale is what it is.
- :class:`Linear`: ``y = x @ W.T + b`` with ``W`` of shape ``(out_features, in_features)``, torch's layout,
  so a ``torch.nn.Linear`` state dict loads unchanged.
- :class:`Dropout`: inverted dropout, active only in training mode.
- :class:`Sequential` and :func:`mlp`: a stack of modules, and a builder for multilayer perceptrons whose
  activation layers come from :mod:`mlbook.nn.layers_activation`.

Every class keeps the :class:`~mlbook.nn.module.Module` contract: ``forward`` caches what ``backward``
needs, ``backward(grad_output)`` fills ``self.grads`` and returns the gradient with respect to the input.
"""

from __future__ import annotations

import numbers
from typing import Iterator, Optional, Sequence, Union

import numpy as np

from mlbook.nn.layers_activation import make_activation
from mlbook.nn.module import Module

__all__ = ["INITS", "Dropout", "Linear", "Sequential", "activation_module", "count_parameters", "init_weight", "mlp"]

INITS: tuple[str, ...] = ("he", "he_uniform", "xavier", "xavier_normal", "lecun", "zeros")
"""The initialisation schemes :func:`init_weight` accepts."""

SeedLike = Union[None, int, np.random.Generator]


def _rng(seed: SeedLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def init_weight(fan_in: int, fan_out: int, scheme: str = "he", *, rng: SeedLike = None,
                dtype=np.float64) -> np.ndarray:
    """A weight matrix of shape ``(fan_out, fan_in)`` drawn so that activations keep their scale.

    - ``"he"`` (Kaiming normal, for ReLU): ``N(0, 2 / fan_in)``. ReLU zeroes half its inputs, halving the
      second moment, and the factor 2 restores it (He et al., 2015).
    - ``"he_uniform"``: uniform on ``±sqrt(6 / fan_in)``, the same variance.
    - ``"xavier"`` (Glorot uniform, for tanh/sigmoid): uniform on ``±sqrt(6 / (fan_in + fan_out))``, variance
      ``2 / (fan_in + fan_out)``, a compromise between keeping the forward and the backward signal.
    - ``"xavier_normal"``: ``N(0, 2 / (fan_in + fan_out))``.
    - ``"lecun"``: ``N(0, 1 / fan_in)``, for linear or SELU units.
    - ``"zeros"``: all zero (only to demonstrate the symmetry problem).
    """
    fan_in = _positive_int(fan_in, "fan_in")
    fan_out = _positive_int(fan_out, "fan_out")
    if not isinstance(scheme, str) or scheme.lower() not in INITS:
        raise ValueError(f"unknown initialisation {scheme!r}; choose one of {list(INITS)}")
    scheme = scheme.lower()
    gen = _rng(rng)
    shape = (fan_out, fan_in)
    if scheme == "he":
        w = gen.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    elif scheme == "he_uniform":
        w = gen.uniform(-1.0, 1.0, shape) * np.sqrt(6.0 / fan_in)
    elif scheme == "xavier":
        w = gen.uniform(-1.0, 1.0, shape) * np.sqrt(6.0 / (fan_in + fan_out))
    elif scheme == "xavier_normal":
        w = gen.standard_normal(shape) * np.sqrt(2.0 / (fan_in + fan_out))
    elif scheme == "lecun":
        w = gen.standard_normal(shape) * np.sqrt(1.0 / fan_in)
    else:
        w = np.zeros(shape)
    return w.astype(dtype, copy=False)


def _check_input(x: np.ndarray, n_features: int, who: str) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
            x = x.astype(np.float64)
        else:
            raise TypeError(f"{who} expects a real floating-point array, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{who} expects a 2-D batch of shape (batch, {n_features}), got shape {x.shape}")
    if x.shape[1] != n_features:
        hint = " (is it (features, batch)? transpose it)" if x.shape[0] == n_features else ""
        raise ValueError(f"{who} expects input of shape (batch, {n_features}), got shape {x.shape}{hint}")
    return x


class Linear(Module):
    """A dense (fully connected) layer: ``y = x @ W.T + b``.

    Shapes: ``x`` is ``(batch, in_features)``, ``W = params["weight"]`` is ``(out_features, in_features)``
    (one row per output neuron, as in torch), ``b = params["bias"]`` is ``(out_features,)``, and ``y`` is
    ``(batch, out_features)``. Backward, for ``g = dL/dy``::

        dL/dW = g.T @ x          # (out, batch) @ (batch, in) -> (out, in): summed over the batch
        dL/db = g.sum(axis=0)    # the bias touches every example, so its gradient adds them up
        dL/dx = g @ W            # (batch, out) @ (out, in) -> (batch, in)

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Without a bias every neuron's hyperplane passes through the origin.
    init : str
        Weight initialisation, one of :data:`INITS` (default He, for ReLU networks). Biases start at 0.
    rng : int or numpy Generator, optional
        Seed or generator for the initial weights.
    dtype : float32 or float64
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, init: str = "he",
                 rng: SeedLike = None, dtype=np.float64) -> None:
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features")
        self.out_features = _positive_int(out_features, "out_features")
        self.params["weight"] = init_weight(self.in_features, self.out_features, init, rng=rng, dtype=dtype)
        if bias:
            self.params["bias"] = np.zeros(self.out_features, dtype=dtype)
        self._x: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _check_input(x, self.in_features, "Linear")
        self._x = x
        y = x @ self.params["weight"].T
        if "bias" in self.params:
            y = y + self.params["bias"]
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        if self._x is None:
            raise RuntimeError("Linear.backward called before forward")
        g = np.asarray(grad_output)
        expected = (self._x.shape[0], self.out_features)
        if g.shape != expected:
            raise ValueError(f"Linear.backward expects grad_output of shape {expected}, got {g.shape}")
        self.grads = {"weight": g.T @ self._x}
        if "bias" in self.params:
            self.grads["bias"] = g.sum(axis=0)
        return g @ self.params["weight"]

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={'bias' in self.params})"


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale survivors by 1/(1-p).

    The scaling keeps the expected activation unchanged, so at inference (``eval()``) the layer is the
    identity and needs no rescaling. Shape: any shape in, the same shape out. ``p = 1`` zeroes everything,
    as torch does.
    """

    def __init__(self, p: float = 0.5, *, rng: SeedLike = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = _rng(rng)
        self._mask: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        if self.p == 1.0:
            self._mask = np.zeros_like(x)
        else:
            keep = self.rng.random(x.shape) >= self.p
            self._mask = keep.astype(x.dtype) / np.asarray(1.0 - self.p, dtype=x.dtype)
        return x * self._mask

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        self.grads = {}
        if self._mask is None:
            return np.asarray(grad_output)
        if np.shape(grad_output) != self._mask.shape:
            raise ValueError(f"Dropout.backward expects shape {self._mask.shape}, got {np.shape(grad_output)}")
        return grad_output * self._mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Sequential(Module):
    """Modules applied one after another; backward runs them in reverse.

    Children are named ``"0"``, ``"1"``, ... so parameter names (``"0.weight"``, ``"2.bias"``) match those of
    the same ``torch.nn.Sequential``, and a torch state dict (converted to NumPy) loads directly.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes Module instances; item {i} is {type(layer).__name__}")
        self.layers: list[Module] = list(layers)

    def children(self) -> dict[str, Module]:
        return {str(i): layer for i, layer in enumerate(self.layers)}

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def forward_all(self, x: np.ndarray) -> list[np.ndarray]:
        """The input followed by every layer's output: ``[x, layer0(x), layer1(layer0(x)), ...]``."""
        outputs = [np.asarray(x)]
        for layer in self.layers:
            outputs.append(layer.forward(outputs[-1]))
        return outputs

    def append(self, layer: Module) -> Sequential:
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.append takes a Module, got {type(layer).__name__}")
        self.layers.append(layer)
        return self

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


def activation_module(name: str) -> Module:
    """A fresh activation layer by name (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"leaky_relu"``, ``"gelu"``,
    ``"softmax"``, ``"identity"``), from :mod:`mlbook.nn.layers_activation`. Raises ``ValueError`` listing
    the valid names for anything else."""
    return make_activation(name)


def mlp(sizes: Sequence[int], activation: str = "relu", *, output_activation: Optional[str] = None,
        init: Optional[str] = None, dropout: float = 0.0, rng: SeedLike = None, dtype=np.float64) -> Sequential:
    """A multilayer perceptron: ``Linear(sizes[0], sizes[1])``, activation, ..., ``Linear(sizes[-2], sizes[-1])``.

    ``sizes = [2, 16, 1]`` is one hidden layer of 16 units. The last layer outputs raw scores (logits)
    unless ``output_activation`` names one; losses in this book take logits. ``init`` defaults to He for
    ReLU-like activations and Xavier otherwise. ``dropout > 0`` inserts :class:`Dropout` after each hidden
    activation. Layer ``k`` of the returned :class:`Sequential` has the same index as in torch's
    ``nn.Sequential(Linear, ReLU, Linear, ...)``.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output size, got sizes={sizes}")
    sizes = [_positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
    activation_module(activation)  # validates the name before building anything
    if output_activation is not None:
        activation_module(output_activation)
    if init is None:
        init = "he" if activation.lower().replace("-", "_") in ("relu", "leaky_relu", "leakyrelu", "gelu") else "xavier"
    gen = _rng(rng)
    layers: list[Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        layers.append(Linear(fan_in, fan_out, init=init, rng=gen, dtype=dtype))
        if not last:
            layers.append(activation_module(activation))
            if dropout > 0:
                layers.append(Dropout(dropout, rng=gen))
        elif output_activation is not None:
            layers.append(activation_module(output_activation))
    return Sequential(*layers)


def count_parameters(module: Module) -> int:
    """The number of scalar parameters of ``module`` and its children."""
    return int(sum(p.size for p in module.parameters()))
