"""A scalar reverse-mode autograd engine: every number remembers how it was made.

A :class:`Value` wraps one Python float. Arithmetic on Values builds a directed acyclic graph (DAG):
each result records its *parents* (the operands) and, for each parent, the *local derivative*
``d(result)/d(parent)``, which every operation here can compute during the forward pass.
:meth:`Value.backward` then applies the chain rule once per node, in reverse topological order::

    parent.grad += local_derivative * node.grad

The topological order is computed with an explicit stack, so a graph of any depth (a chain of
100,000 additions, say) never reaches Python's recursion limit. A node used twice receives the sum
of both contributions, which is the multivariate chain rule.

On top of :class:`Value`, :class:`Neuron`, :class:`Layer` and :class:`MLP` give a tiny multilayer
perceptron whose every weight is a Value, enough to train a classifier with nothing but this module.
"""

from __future__ import annotations

import math
import numbers
import random
from typing import Optional, Sequence, Union

__all__ = ["Value", "topological_order", "Module", "Neuron", "Layer", "MLP"]

Number = Union[int, float]
Operand = Union["Value", int, float]


def _as_float(x: object, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number (int or float), got {type(x).__name__} {x!r}")
    return float(x)


def _power(base: float, exponent: float) -> float:
    try:
        out = base ** exponent
    except ZeroDivisionError:
        raise ZeroDivisionError(f"0.0 raised to the negative power {exponent!r}") from None
    except OverflowError:
        return math.inf if base > 0 or float(exponent).is_integer() and exponent % 2 == 0 else -math.inf
    if isinstance(out, complex):
        raise ValueError(f"{base!r} ** {exponent!r} is not a real number: a negative base needs an integer exponent")
    return out


class Value:
    """One scalar in a computation graph, with the gradient of the output with respect to it.

    Parameters
    ----------
    data : int or float
        The number. Stored as a Python ``float`` (double precision, like ``torch.float64``).
    label : str, optional
        A name shown by :func:`mlbook.viz.graph.plot_graph`.

    Attributes
    ----------
    data : float
        The value computed by the forward pass.
    grad : float
        ``d(root)/d(self)``, summed over every :meth:`backward` call since the last reset; 0.0 at
        creation. Like a leaf tensor's ``.grad`` in PyTorch, it accumulates: reset it (or call
        :meth:`Module.zero_grad`) between training steps.
    parents : tuple of Value
        The operands this Value was computed from; empty for a leaf (an input or a weight).
    op : str
        The operation that made it (``"+"``, ``"*"``, ``"tanh"``, ...); empty for a leaf.

    Python numbers mix freely on either side: ``2 * x``, ``x - 1``, ``1 / x`` and ``2 ** x`` all work
    and turn the number into a constant leaf. Comparison with ``==`` is identity, so Values can be
    kept in sets and dicts (as the graph traversal needs).
    """

    __slots__ = ("data", "grad", "parents", "local_grads", "op", "label")

    def __init__(self, data: Number, label: str = "", *, _parents: tuple["Value", ...] = (),
                 _local_grads: tuple[float, ...] = (), _op: str = "") -> None:
        self.data = _as_float(data, "Value data")
        self.grad = 0.0
        self.parents = _parents
        self.local_grads = _local_grads  # d(self)/d(parent), one per parent, in the same order
        self.op = _op
        self.label = label

    def __repr__(self) -> str:
        name = f"{self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data:.6g}, grad={self.grad:.6g})"

    # ------------------------------------------------------------------------------------ building
    @staticmethod
    def _lift(other: object) -> "Value":
        if isinstance(other, Value):
            return other
        return Value(_as_float(other, "the other operand"), label=f"{other!r}")

    def _result(self, data: float, op: str, parents: tuple["Value", ...], local_grads: tuple[float, ...]) -> "Value":
        return Value(data, _parents=parents, _local_grads=local_grads, _op=op)

    # ---------------------------------------------------------------------------- two operands
    def __add__(self, other: Operand) -> "Value":
        other = self._lift(other)
        return self._result(self.data + other.data, "+", (self, other), (1.0, 1.0))

    def __sub__(self, other: Operand) -> "Value":
        other = self._lift(other)
        return self._result(self.data - other.data, "-", (self, other), (1.0, -1.0))

    def __mul__(self, other: Operand) -> "Value":
        other = self._lift(other)
        return self._result(self.data * other.data, "*", (self, other), (other.data, self.data))

    def __truediv__(self, other: Operand) -> "Value":
        other = self._lift(other)
        if other.data == 0.0:
            raise ZeroDivisionError(f"division of {self.data!r} by a Value equal to 0.0")
        quotient = self.data / other.data
        return self._result(quotient, "/", (self, other), (1.0 / other.data, -quotient / other.data))

    def __pow__(self, other: Operand) -> "Value":
        """``self ** other``. A Python-number exponent is a constant, not a node: ``x ** 2`` has one
        parent. A Value exponent gets ``d/d(exponent) = self**other * ln(self)``, which needs a
        positive base (0 for a zero base, NaN for a negative one, as in torch)."""
        exponent_is_constant = not isinstance(other, Value)
        exponent = _as_float(other, "the exponent") if exponent_is_constant else other.data
        base = self.data
        out = _power(base, exponent)
        if exponent == 0:
            d_base = 0.0
        elif base == 0 and exponent < 1:
            d_base = math.copysign(math.inf, exponent)  # the slope of x**0.5 at 0, say
        else:
            d_base = exponent * _power(base, exponent - 1)
        if exponent_is_constant:
            return self._result(out, f"**{exponent:g}", (self,), (d_base,))
        if base > 0:
            d_exponent = out * math.log(base)
        elif base == 0 and exponent >= 0:
            d_exponent = 0.0
        else:
            d_exponent = math.nan
        return self._result(out, "**", (self, other), (d_base, d_exponent))

    # Python numbers on the left: 2 + x, 2 - x, 2 * x, 2 / x, 2 ** x
    def __radd__(self, other: Number) -> "Value":
        return self._lift(other) + self

    def __rsub__(self, other: Number) -> "Value":
        return self._lift(other) - self

    def __rmul__(self, other: Number) -> "Value":
        return self._lift(other) * self

    def __rtruediv__(self, other: Number) -> "Value":
        return self._lift(other) / self

    def __rpow__(self, other: Number) -> "Value":
        return self._lift(other) ** self

    # ----------------------------------------------------------------------------- one operand
    def __neg__(self) -> "Value":
        return self._result(-self.data, "neg", (self,), (-1.0,))

    def exp(self) -> "Value":
        try:
            out = math.exp(self.data)
        except OverflowError:
            out = math.inf  # what float64 exp gives in NumPy and torch
        return self._result(out, "exp", (self,), (out,))

    def log(self) -> "Value":
        """Natural logarithm; the input must be positive."""
        if not self.data > 0:
            raise ValueError(f"log needs a positive input, got {self.data!r}")
        return self._result(math.log(self.data), "log", (self,), (1.0 / self.data,))

    def tanh(self) -> "Value":
        t = math.tanh(self.data)
        return self._result(t, "tanh", (self,), (1.0 - t * t,))

    def sigmoid(self) -> "Value":
        # exp of a negative number only, so neither branch overflows
        if self.data >= 0:
            s = 1.0 / (1.0 + math.exp(-self.data))
        else:
            e = math.exp(self.data)
            s = e / (1.0 + e)
        return self._result(s, "sigmoid", (self,), (s * (1.0 - s),))

    def relu(self) -> "Value":
        positive = self.data > 0
        return self._result(self.data if positive else 0.0, "relu", (self,), (1.0 if positive else 0.0,))

    # ---------------------------------------------------------------------------------- backward
    def backward(self, gradient: float = 1.0) -> None:
        """Add ``gradient * d(self)/d(node)`` to ``node.grad`` for every node this Value depends on.

        One pass over the graph in reverse topological order, so each node's local derivatives are
        used once, after every node that uses it has passed its gradient back. The gradients that flow
        within this call are kept apart from the ``.grad`` left by earlier calls, so a second call
        adds exactly one more copy of the gradient, as PyTorch does for leaves.
        """
        gradient = _as_float(gradient, "gradient")
        flowing: dict[Value, float] = {self: gradient}
        for node in reversed(topological_order(self)):
            node_grad = flowing.pop(node, 0.0)
            node.grad += node_grad
            for parent, local in zip(node.parents, node.local_grads):
                # a node used twice gets both contributions: the multivariate chain rule
                flowing[parent] = flowing.get(parent, 0.0) + local * node_grad


def topological_order(root: Value) -> list[Value]:
    """Every Value ``root`` depends on, itself included, each after all of its parents.

    Depth-first search with an explicit stack (post-order): iterative, so a chain of any length
    works without touching Python's recursion limit. Each node appears once, however many paths
    lead to it. Runs in time linear in the number of nodes and edges.
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order needs a Value, got {type(root).__name__}")
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))  # comes back off the stack after all its parents are finished
        stack.extend((parent, False) for parent in node.parents if parent not in visited)
    return order


# -------------------------------------------------------------------------------- a tiny MLP on Values


class Module:
    """Something with trainable :class:`Value` parameters."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        """Reset every parameter's ``.grad`` to 0 (gradients accumulate across ``backward`` calls)."""
        for p in self.parameters():
            p.grad = 0.0


_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


class Neuron(Module):
    """``activation(sum_i w_i x_i + b)`` on Values: ``n_inputs`` weights and one bias.

    Weights start uniform in ``[-1/sqrt(n_inputs), 1/sqrt(n_inputs)]`` (PyTorch's ``nn.Linear`` rule),
    the bias at 0. ``activation`` is ``"tanh"``, ``"relu"``, ``"sigmoid"`` or ``"linear"``.
    """

    def __init__(self, n_inputs: int, activation: str = "tanh", *, rng: Optional[random.Random] = None,
                 name: str = "") -> None:
        if isinstance(n_inputs, bool) or not isinstance(n_inputs, int) or n_inputs < 1:
            raise ValueError(f"n_inputs must be a positive integer, got {n_inputs!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        rng = rng or random.Random()
        bound = 1.0 / math.sqrt(n_inputs)
        self.w = [Value(rng.uniform(-bound, bound), label=f"{name}w{i}") for i in range(n_inputs)]
        self.b = Value(0.0, label=f"{name}b")
        self.activation = activation

    def __call__(self, x: Sequence[Operand]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"this neuron takes {len(self.w)} inputs, got {len(x)}")
        z = self.b
        for w_i, x_i in zip(self.w, x):
            z = z + w_i * x_i
        return z if self.activation == "linear" else getattr(z, self.activation)()

    def parameters(self) -> list[Value]:
        return self.w + [self.b]


class Layer(Module):
    """``n_outputs`` neurons that all read the same ``n_inputs`` inputs (a dense layer)."""

    def __init__(self, n_inputs: int, n_outputs: int, activation: str = "tanh", *,
                 rng: Optional[random.Random] = None, name: str = "") -> None:
        if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
            raise ValueError(f"n_outputs must be a positive integer, got {n_outputs!r}")
        rng = rng or random.Random()
        self.neurons = [Neuron(n_inputs, activation, rng=rng, name=f"{name}n{j}.") for j in range(n_outputs)]

    def __call__(self, x: Sequence[Operand]) -> list[Value]:
        return [neuron(x) for neuron in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]


class MLP(Module):
    """A multilayer perceptron on Values: ``MLP(2, [8, 8, 1])`` maps 2 inputs through two hidden
    layers of 8 to 1 output.

    Hidden layers use ``activation``; the last layer uses ``output_activation`` (``"linear"`` by
    default, giving a logit or a regression output). ``seed`` makes the initial weights reproducible.
    Calling the MLP on one example (a sequence of ``n_inputs`` numbers or Values) returns a list of
    ``layer_sizes[-1]`` Values, or a single Value when the last layer has one neuron.
    """

    def __init__(self, n_inputs: int, layer_sizes: Sequence[int], activation: str = "tanh",
                 output_activation: str = "linear", *, seed: Optional[int] = None) -> None:
        if len(layer_sizes) == 0:
            raise ValueError("layer_sizes must name at least one layer, got an empty sequence")
        rng = random.Random(seed)
        sizes = [n_inputs, *layer_sizes]
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation if i < len(layer_sizes) - 1 else output_activation,
                  rng=rng, name=f"L{i}.")
            for i in range(len(layer_sizes))
        ]
        self.n_inputs = n_inputs

    def __call__(self, x: Sequence[Operand]) -> Union[Value, list[Value]]:
        if len(x) != self.n_inputs:
            raise ValueError(f"this MLP takes {self.n_inputs} inputs per example, got {len(x)}")
        out: list = list(x)
        for layer in self.layers:
            out = layer(out)
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def weights(self) -> list[tuple[list[list[float]], list[float]]]:
        """Each layer's ``(W, b)`` as plain floats, ``W`` of shape ``(n_outputs, n_inputs)``: the layout
        of ``torch.nn.Linear.weight``, so the same network can be rebuilt in PyTorch."""
        return [([[w.data for w in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons])
                for layer in self.layers]
