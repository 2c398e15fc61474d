"""Small data sets made in code, so every chapter runs offline and deterministically.

- :func:`logic_gate`: the truth table of a Boolean gate (AND, OR, NAND, NOR, XOR, XNOR) on ``n`` inputs.
- :func:`make_moons`, :func:`make_circles`, :func:`make_blobs`: two-dimensional toy problems, the same
  point sets as scikit-learn's generators of those names before noise and shuffling.
- :func:`load_digits`: real handwritten digits, 8x8 pixels (scikit-learn's bundled copy of the UCI
  optical-digits test set, read from disk, no network), with a fixed stratified train/test split.

Arrays are batch-first: ``X`` has shape ``(n_samples, n_features)`` and ``y`` has shape
``(n_samples,)``. Generators take a ``seed`` (an int or a NumPy ``Generator``) and are deterministic.
"""

from __future__ import annotations

import itertools
import numbers
from typing import Callable, NamedTuple, Optional, Sequence, Union

import numpy as np

__all__ = ["LOGIC_GATES", "Digits", "load_digits", "logic_gate", "make_blobs", "make_circles", "make_moons"]

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


SeedLike = Union[None, int, np.random.Generator]


def _generator(seed: SeedLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _n_samples(n_samples, minimum: int = 2) -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < minimum:
        raise ValueError(f"n_samples must be an integer >= {minimum}, got {n_samples!r}")
    return int(n_samples)


def _noise(noise) -> float:
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"noise must be a non-negative standard deviation, got {noise!r}")
    return float(noise)


def _finish(X: np.ndarray, y: np.ndarray, noise: float, shuffle: bool, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    if noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X.astype(np.float64), y.astype(np.int64)


def make_moons(n_samples: int = 200, *, noise: float = 0.0, shuffle: bool = True,
               seed: SeedLike = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: class 0 the upper moon, class 1 the lower one, shifted right.

    Class 0 is ``(cos t, sin t)`` and class 1 is ``(1 - cos t, 1/2 - sin t)`` for ``t`` evenly spaced in
    ``[0, pi]``, ``n_samples // 2`` points in class 0 and the rest in class 1, plus Gaussian ``noise``
    (standard deviation) on both coordinates. No straight line separates them. Returns ``X`` of shape
    ``(n_samples, 2)`` and ``y`` of shape ``(n_samples,)`` (int64, 0 or 1).
    """
    n = _n_samples(n_samples)
    noise = _noise(noise)
    n_out, n_in = n // 2, n - n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   np.column_stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5])])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _finish(X, y, noise, shuffle, _generator(seed))


def make_circles(n_samples: int = 200, *, noise: float = 0.0, factor: float = 0.5, shuffle: bool = True,
                 seed: SeedLike = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on the unit circle, class 1 on the circle of radius ``factor``.

    ``n_samples // 2`` points on the outer circle and the rest on the inner, at evenly spaced angles,
    plus Gaussian ``noise``. The classes are separated by radius, which no line (and no single neuron)
    can express. Returns ``X`` of shape ``(n_samples, 2)`` and ``y`` of shape ``(n_samples,)``.
    """
    n = _n_samples(n_samples)
    noise = _noise(noise)
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 <= factor < 1:
        raise ValueError(f"factor (inner radius / outer radius) must be in [0, 1), got {factor!r}")
    n_out, n_in = n // 2, n - n // 2
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   factor * np.column_stack([np.cos(t_in), np.sin(t_in)])])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return _finish(X, y, noise, shuffle, _generator(seed))


def make_blobs(n_samples: int = 200, *, centers: Union[int, Sequence[Sequence[float]], np.ndarray] = 3,
               cluster_std: float = 1.0, n_features: int = 2, center_box: tuple[float, float] = (-6.0, 6.0),
               shuffle: bool = True, seed: SeedLike = 0) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters, one class per cluster.

    ``centers`` is a number of clusters (their centres drawn uniformly in ``center_box``) or an array of
    shape ``(n_clusters, n_features)``. Cluster ``k`` gets ``n_samples // n_clusters`` points (the first
    ``n_samples % n_clusters`` clusters one more), drawn from ``N(center_k, cluster_std**2 I)``. Returns
    ``X`` of shape ``(n_samples, n_features)`` and ``y`` with labels ``0 .. n_clusters - 1``.
    """
    n = _n_samples(n_samples, minimum=1)
    rng = _generator(seed)
    std = _noise(cluster_std)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        if centers < 1:
            raise ValueError(f"centers must be >= 1, got {centers}")
        if isinstance(n_features, bool) or not isinstance(n_features, numbers.Integral) or n_features < 1:
            raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
        lo, hi = center_box
        centre_array = rng.uniform(lo, hi, size=(int(centers), int(n_features)))
    else:
        centre_array = np.asarray(centers, dtype=np.float64)
        if centre_array.ndim != 2 or centre_array.shape[0] == 0:
            raise ValueError(f"centers must be a count or an array of shape (n_clusters, n_features), "
                             f"got shape {centre_array.shape}")
    k = centre_array.shape[0]
    counts = np.full(k, n // k)
    counts[: n % k] += 1
    y = np.repeat(np.arange(k), counts)
    X = centre_array[y] + std * rng.standard_normal((n, centre_array.shape[1]))
    return _finish(X, y, 0.0, shuffle, rng)


class Digits(NamedTuple):
    """Handwritten digits split into train and test sets. Pixels are scaled to [0, 1]."""

    X_train: np.ndarray   #: (n_train, 64) float64
    y_train: np.ndarray   #: (n_train,) int64, 0..9
    X_test: np.ndarray    #: (n_test, 64) float64
    y_test: np.ndarray    #: (n_test,) int64
    image_shape: tuple[int, int] = (8, 8)


def load_digits(*, test_fraction: float = 0.25, seed: int = 0, classes: Optional[Sequence[int]] = None) -> Digits:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn, split into train and test.

    Each image is flattened to 64 features and divided by 16 (the data's maximum grey level) so pixels
    lie in [0, 1]. The split is stratified: every digit keeps the same share of test examples, chosen by
    ``seed``, so the same call always gives the same split. ``classes`` keeps only those digits (labels
    unchanged). Needs scikit-learn, which reads the data from its own installation: no network.
    """
    try:
        from sklearn.datasets import load_digits as _sklearn_load_digits
    except ImportError as error:  # pragma: no cover - sklearn is a dependency of the book
        raise ImportError("load_digits needs scikit-learn (pip install scikit-learn)") from error
    if not isinstance(test_fraction, numbers.Real) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    bunch = _sklearn_load_digits()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    if classes is not None:
        wanted = np.asarray(list(classes))
        unknown = sorted(set(wanted.tolist()) - set(range(10)))
        if unknown or wanted.size == 0:
            raise ValueError(f"classes must be digits 0..9, got {list(classes)}")
        keep = np.isin(y, wanted)
        X, y = X[keep], y[keep]
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        n_test = int(round(test_fraction * len(members)))
        test[rng.choice(members, size=n_test, replace=False)] = True
    return Digits(X[~test], y[~test], X[test], y[test])
