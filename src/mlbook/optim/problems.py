"""Small test functions for watching optimizers move, and a helper that records the path.

Points are arrays whose last axis has length 2, ``(..., 2)``, so a function can be evaluated on a whole
grid at once (for contour plots) or at one point (for an optimizer step).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = ["quadratic", "quadratic_grad", "rosenbrock", "rosenbrock_grad", "trajectory"]


def _split(point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    point = np.asarray(point, dtype=np.float64)
    if point.shape[-1:] != (2,):
        raise ValueError(f"points must have a last axis of length 2, got shape {point.shape}")
    return point[..., 0], point[..., 1]


def quadratic(point: np.ndarray, curvatures: tuple[float, float] = (1.0, 25.0)) -> np.ndarray:
    """``f(x, y) = (a x^2 + b y^2) / 2``: an elongated bowl whose condition number is ``b / a``.
    Shape ``(..., 2) -> (...)``; the minimum is 0 at the origin."""
    x, y = _split(point)
    a, b = curvatures
    return 0.5 * (a * x**2 + b * y**2)


def quadratic_grad(point: np.ndarray, curvatures: tuple[float, float] = (1.0, 25.0)) -> np.ndarray:
    """The gradient ``(a x, b y)`` of :func:`quadratic`, shape ``(..., 2)``."""
    x, y = _split(point)
    a, b = curvatures
    return np.stack([a * x, b * y], axis=-1)


def rosenbrock(point: np.ndarray, a: float = 1.0, b: float = 100.0) -> np.ndarray:
    """``f(x, y) = (a - x)^2 + b (y - x^2)^2``: a curved, flat-bottomed valley with its minimum 0 at
    ``(a, a^2)``. Shape ``(..., 2) -> (...)``."""
    x, y = _split(point)
    return (a - x) ** 2 + b * (y - x**2) ** 2


def rosenbrock_grad(point: np.ndarray, a: float = 1.0, b: float = 100.0) -> np.ndarray:
    """The gradient of :func:`rosenbrock`, shape ``(..., 2)``."""
    x, y = _split(point)
    return np.stack([-2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2)], axis=-1)


def trajectory(make_optimizer: Callable[[list[np.ndarray]], object], grad: Callable[[np.ndarray], np.ndarray],
               start: Sequence[float], steps: int) -> np.ndarray:
    """Run ``steps`` optimizer steps from ``start`` and return every point visited, shape ``(steps + 1, d)``.

    ``make_optimizer`` receives the parameter list ``[x]`` (e.g. ``lambda p: Adam(p, lr=0.1)``) and
    ``grad`` maps a point to its gradient. A run that overflows is cut short: the rest of the rows are
    ``inf``, so a plot shows where it left the picture.
    """
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps}")
    x = np.array(start, dtype=np.float64)
    optimizer = make_optimizer([x])
    path = np.full((steps + 1, x.size), np.inf)
    path[0] = x
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            optimizer.step([grad(x)])
            if not np.all(np.isfinite(x)) or np.max(np.abs(x)) > 1e12:
                break
            path[k] = x
    return path
