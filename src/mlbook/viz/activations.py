"""Figures for the Activations and losses and the Normalisation and attention chapters.

- :func:`plot_activations`: each activation beside its derivative.
- :func:`plot_stable_vs_naive`: a quantity computed two ways, with the points where the naive way
  returns ``inf``/``NaN`` marked.
- :func:`plot_float_formats`: the gap between neighbouring numbers (resolution) of FP32, FP16 and BF16
  across their range, with where each overflows and underflows. :data:`FLOAT_FORMATS` holds the bit
  layouts it is drawn from.
- :func:`plot_normalization_axes`: which numbers BatchNorm and LayerNorm average over.

Import them as ``from mlbook.viz.activations import ...``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from numpy.typing import ArrayLike

from mlbook.nn import activations as act

__all__ = [
    "FLOAT_FORMATS",
    "FloatFormat",
    "plot_activations",
    "plot_float_formats",
    "plot_normalization_axes",
    "plot_stable_vs_naive",
]

_COLORS = ("#2C6DB2", "#D1495B", "#3A9E5F", "#E8A33D", "#7B5EA7", "#5A5A5A")

_ACTIVATION_CURVES = {
    "sigmoid": (act.sigmoid, act.sigmoid_derivative),
    "tanh": (act.tanh, act.tanh_derivative),
    "relu": (act.relu, act.relu_derivative),
    "leaky_relu": (lambda z: act.leaky_relu(z, 0.1), lambda z: act.leaky_relu_derivative(z, 0.1)),
    "gelu": (act.gelu, act.gelu_derivative),
    "gelu_tanh": (lambda z: act.gelu(z, "tanh"), lambda z: act.gelu_derivative(z, "tanh")),
}
_TITLES = {"leaky_relu": "leaky ReLU (slope 0.1)", "relu": "ReLU", "gelu": "GELU", "gelu_tanh": "GELU (tanh)"}


def plot_activations(names: Sequence[str] = ("sigmoid", "tanh", "relu", "leaky_relu", "gelu"),
                     z: ArrayLike | None = None) -> Figure:
    """One panel per activation: the function (solid) and its derivative (dashed) over ``z``.

    names: any of ``sigmoid, tanh, relu, leaky_relu (drawn with slope 0.1 so it is visible), gelu,
    gelu_tanh``. z: 1-D grid, default 401 points on [-4, 4].
    """
    unknown = [n for n in names if n not in _ACTIVATION_CURVES]
    if unknown or not names:
        raise ValueError(f"unknown activation(s) {unknown}; choose from {sorted(_ACTIVATION_CURVES)}")
    z = np.linspace(-4, 4, 401) if z is None else np.asarray(z, dtype=float)
    if z.ndim != 1 or z.size < 2:
        raise ValueError(f"z must be a 1-D grid of at least 2 points, got shape {z.shape}")
    fig = Figure(figsize=(2.6 * len(names), 2.8), layout="constrained")
    axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, names):
        f, df = _ACTIVATION_CURVES[name]
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.plot(z, f(z), color=_COLORS[0], lw=2, label="f(z)")
        ax.plot(z, df(z), color=_COLORS[1], lw=1.6, ls="--", label="f'(z)")
        ax.set_title(_TITLES.get(name, name))
        ax.set_xlabel("z")
        ax.set_ylim(-1.3, 2.2)
    axes[0].legend(loc="upper left", frameon=False)
    return fig


def plot_stable_vs_naive(z: ArrayLike, curves: Mapping[str, ArrayLike], *, ylabel: str = "value",
                         title: str | None = None, symlog: bool = True) -> Figure:
    """Plot several computations of one quantity against ``z``; points that are ``inf`` or ``NaN`` are
    marked with a cross on the x-axis in the curve's colour (the naive formula failing).

    z: (n,); curves: name -> (n,) values. ``symlog`` uses a symmetric-log y-axis for values spanning
    many orders of magnitude.
    """
    z = np.asarray(z, dtype=float)
    if z.ndim != 1:
        raise ValueError(f"z must be 1-D, got shape {z.shape}")
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for i, (name, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        if values.shape != z.shape:
            raise ValueError(f"curve {name!r} has shape {values.shape}, but z has shape {z.shape}")
        color = _COLORS[i % len(_COLORS)]
        finite = np.isfinite(values)
        ax.plot(z[finite], values[finite], color=color, lw=2.2 - 0.7 * i, ls=("-", "--", ":")[i % 3], label=name)
        if not finite.all():
            ax.plot(z[~finite], np.zeros((~finite).sum()), "x", color=color, ms=7,
                    label=f"{name}: inf/NaN ({(~finite).sum()} points)")
    if symlog:
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("z")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=8)
    if title:
        ax.set_title(title)
    return fig


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: ``precision`` significand bits (counting the implicit leading 1)
    and normal exponents ``emin..emax``. The derived properties are exact powers of two."""

    name: str
    precision: int
    emin: int
    emax: int

    @property
    def bits(self) -> int:
        exponent_bits = int(math.log2(self.emax + 1)) + 1
        return 1 + exponent_bits + self.precision - 1

    @property
    def eps(self) -> float:
        """Gap between 1 and the next representable number: 2**(1 - precision)."""
        return 2.0 ** (1 - self.precision)

    @property
    def max(self) -> float:
        """Largest finite value: (2 - eps) * 2**emax."""
        return (2.0 - self.eps) * 2.0**self.emax

    @property
    def tiny(self) -> float:
        """Smallest positive normal number, 2**emin (below it, precision is lost gradually)."""
        return 2.0**self.emin

    @property
    def smallest_subnormal(self) -> float:
        """Smallest positive number at all; anything below half of it rounds to 0."""
        return 2.0 ** (self.emin - self.precision + 1)

    def spacing(self, x: ArrayLike) -> np.ndarray:
        """Gap between ``|x|`` and the next larger representable number (for tiny <= |x| <= max);
        subnormals share one fixed gap, the smallest subnormal."""
        x = np.abs(np.asarray(x, dtype=float))
        exponent = np.floor(np.log2(np.maximum(x, self.tiny)))
        return 2.0 ** (exponent - self.precision + 1)


FLOAT_FORMATS: dict[str, FloatFormat] = {
    "float32": FloatFormat("float32", precision=24, emin=-126, emax=127),
    "float16": FloatFormat("float16", precision=11, emin=-14, emax=15),
    "bfloat16": FloatFormat("bfloat16", precision=8, emin=-126, emax=127),
}
"""IEEE single and half precision, and Google's bfloat16 (float32's exponent, 8 significand bits)."""


def plot_float_formats(names: Sequence[str] = ("float32", "float16", "bfloat16")) -> Figure:
    """Resolution across the range: for each format, the gap between neighbouring numbers (log-log)
    from its smallest subnormal to its largest finite value, with the overflow limit marked.

    The relative gap (gap / x) is the format's precision, about ``eps``; the horizontal extent is its range.
    """
    unknown = [n for n in names if n not in FLOAT_FORMATS]
    if unknown:
        raise ValueError(f"unknown float format(s) {unknown}; choose from {sorted(FLOAT_FORMATS)}")
    fig = Figure(figsize=(7.2, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for i, name in enumerate(names):
        fmt = FLOAT_FORMATS[name]
        color = _COLORS[i]
        x = np.logspace(math.log10(fmt.smallest_subnormal), math.log10(fmt.max), 2000)
        ax.plot(x, fmt.spacing(x), color=color, lw=2.2 - 0.5 * i, drawstyle="steps-post",
                label=f"{name}: eps = {fmt.eps:.2g}, max = {fmt.max:.3g}")
        ax.axvline(fmt.max, color=color, ls=":", lw=1)
        ax.plot([fmt.tiny], [fmt.spacing(fmt.tiny)], "o", color=color, ms=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("magnitude |x|  (dotted: overflow to inf beyond; dot: smallest normal)")
    ax.set_ylabel("gap to the next number")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return fig



def plot_normalization_axes(batch: int = 6, features: int = 8) -> Figure:
    """Two grids of a (batch, features) activation matrix: BatchNorm averages down each column
    (one feature across the batch), LayerNorm along each row (one example across its features)."""
    for name, n in (("batch", batch), ("features", features)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= 30:
            raise ValueError(f"{name} must be an integer between 2 and 30, got {n!r}")
    fig = Figure(figsize=(8.0, 3.2), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = (("BatchNorm: statistics per feature,\nover the batch", "column", 2),
              ("LayerNorm: statistics per example,\nover its features", "row", 1))
    for ax, (title, kind, highlight) in zip(axes, panels):
        for i in range(batch):
            for j in range(features):
                chosen = (kind == "column" and j == highlight) or (kind == "row" and i == highlight)
                ax.add_patch(Rectangle((j, batch - 1 - i), 0.92, 0.92,
                                       facecolor=_COLORS[0] if chosen else "0.88", edgecolor="white"))
        if kind == "column":
            ax.annotate("", xy=(highlight + 0.46, -0.35), xytext=(highlight + 0.46, batch + 0.2),
                        arrowprops=dict(arrowstyle="->", color=_COLORS[1], lw=2))
        else:
            ax.annotate("", xy=(features + 0.3, batch - 1 - highlight + 0.46),
                        xytext=(-0.3, batch - 1 - highlight + 0.46),
                        arrowprops=dict(arrowstyle="->", color=_COLORS[1], lw=2))
        ax.set_xlim(-0.5, features + 0.5)
        ax.set_ylim(-0.6, batch + 0.4)
        ax.set_aspect("equal")
        ax.set_xticks([j + 0.46 for j in range(features)], [str(j) for j in range(features)], fontsize=7)
        ax.set_yticks([batch - 1 - i + 0.46 for i in range(batch)], [str(i) for i in range(batch)], fontsize=7)
        ax.set_xlabel("feature")
        ax.set_ylabel("example in the batch")
        ax.set_title(title, fontsize=10)
        for side in ("top", "right", "left", "bottom"):
            ax.spines[side].set_visible(False)
    return fig
