"""Thinking in tensors: memory layout, broadcasting and pairwise cosine similarity.

An n-dimensional array is a flat buffer of bytes plus a recipe for reading it: a
``shape``, a ``dtype`` and ``strides`` (how far to step in memory to move one position
along each axis). The first half of this module makes that recipe explicit (the Arrays
chapter); the second half builds on it (the Broadcasting chapter).

NumPy reports strides in **bytes**, PyTorch's ``Tensor.stride()`` in **elements**; the
functions here say which one they mean in their argument names.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = [
    "Layout",
    "describe_layout",
    "contiguous_strides",
    "element_offset",
    "is_contiguous",
    "broadcast_shape",
    "pairwise_cosine_similarity",
]


# ---------------------------------------------------------------------------------------
# Memory layout (Arrays chapter)
# ---------------------------------------------------------------------------------------


def _as_shape(shape: Any, what: str = "shape") -> tuple[int, ...]:
    """``shape`` as a tuple of non-negative ints; a bare integer ``n`` means ``(n,)``."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        sizes = tuple(shape)
    except TypeError:
        raise TypeError(f"{what} must be a sequence of integers, got {shape!r}") from None
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"{what} {shape!r} has a non-integer size {size!r} "
                            f"({type(size).__name__})")
        if size < 0:
            raise ValueError(f"{what} {shape!r} has a negative size {size}; "
                             f"sizes must be >= 0")
    return tuple(int(size) for size in sizes)


def contiguous_strides(shape: Sequence[int], itemsize: int = 1,
                       order: str = "C") -> tuple[int, ...]:
    """Strides of a freshly allocated array of ``shape``, ``itemsize`` bytes per element.

    ``order="C"`` (row-major, the NumPy and PyTorch default): the last axis is adjacent,
    ``strides[-1] = itemsize`` and ``strides[k] = strides[k + 1] * shape[k + 1]``.
    ``order="F"`` (column-major, as in Fortran) is the mirror image: the first axis is
    adjacent. With the default ``itemsize=1`` the strides are in elements, as
    ``torch.Tensor.stride()`` reports them. For shapes with a zero size the strides are
    PyTorch's (NumPy 2 reports zeros); an empty array has no element to step to.
    """
    shape = _as_shape(shape)
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', got {order!r}")
    axes = range(len(shape) - 1, -1, -1) if order == "C" else range(len(shape))
    strides = [0] * len(shape)
    step = itemsize
    for axis in axes:
        strides[axis] = step
        step *= max(shape[axis], 1)
    return tuple(strides)


def element_offset(index: Sequence[int], strides: Sequence[int]) -> int:
    """Distance from an array's first element to element ``index``: ``sum(i_k * s_k)``.

    In bytes for NumPy's ``a.strides``, in elements for PyTorch's ``t.stride()``.
    ``index`` has one non-negative entry per axis (negative indices are a convenience of
    Python's indexing, not of memory).
    """
    index, strides = tuple(index), tuple(strides)
    if len(index) != len(strides):
        raise ValueError(f"index {index} has {len(index)} entries but strides {strides} "
                         f"has {len(strides)}")
    for i in index:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or i < 0:
            raise ValueError(f"index {index} must hold non-negative integers, got {i!r}")
    return int(sum(int(i) * int(s) for i, s in zip(index, strides)))


def is_contiguous(shape: Sequence[int], strides: Sequence[int], itemsize: int = 1,
                  order: str = "C") -> bool:
    """Whether ``shape`` and ``strides`` describe one gap-free block in ``order``.

    True when the strides equal :func:`contiguous_strides`, except that the stride of an
    axis of size 1 does not matter (nothing steps along it) and an empty array is always
    contiguous: the rules of NumPy's ``flags`` and PyTorch's ``is_contiguous()``.
    """
    shape, strides = _as_shape(shape), tuple(int(s) for s in strides)
    if len(shape) != len(strides):
        raise ValueError(f"shape {shape} has {len(shape)} axes but strides {strides} "
                         f"has {len(strides)}")
    if 0 in shape:
        return True
    expected = contiguous_strides(shape, itemsize, order)
    return all(size == 1 or s == e for size, s, e in zip(shape, strides, expected))


@dataclass(frozen=True)
class Layout:
    """Everything that decides where an array's elements live in memory."""

    shape: tuple[int, ...]
    dtype: str
    itemsize: int
    strides_bytes: tuple[int, ...]
    strides_elements: tuple[int, ...]
    c_contiguous: bool
    f_contiguous: bool
    owns_data: bool

    @property
    def nbytes(self) -> int:
        """Bytes of the elements the array shows (its buffer may be larger or smaller)."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.itemsize

    def __str__(self) -> str:
        flags = "+".join(name for name, on in (("C", self.c_contiguous),
                                               ("F", self.f_contiguous)) if on)
        return (f"shape {self.shape}, {self.dtype} ({self.itemsize} B/element), "
                f"strides {self.strides_bytes} B = {self.strides_elements} elements, "
                f"contiguous: {flags or 'no'}, "
                f"{'owns its data' if self.owns_data else 'view'}")


def describe_layout(a: Any) -> Layout:
    """The :class:`Layout` of a NumPy array or a PyTorch tensor (torch is not imported).

    ``owns_data`` is ``a.base is None`` for NumPy and ``a._base is None`` for torch:
    ``False`` means ``a`` is a view that borrows another array's buffer.
    """
    if isinstance(a, np.ndarray):
        itemsize, strides_bytes = a.itemsize, tuple(a.strides)
        dtype, owns = str(a.dtype), a.base is None
    elif callable(getattr(a, "stride", None)) and hasattr(a, "element_size"):  # torch
        itemsize = a.element_size()
        strides_bytes = tuple(s * itemsize for s in a.stride())
        dtype, owns = str(a.dtype).removeprefix("torch."), a._base is None
    else:
        raise TypeError(f"describe_layout needs a numpy.ndarray or torch.Tensor, "
                        f"got {type(a).__name__}")
    shape = tuple(a.shape)
    if itemsize == 0:
        raise ValueError(f"dtype {dtype} has zero-byte elements; strides in elements "
                         f"are undefined")
    if any(s % itemsize for s in strides_bytes):
        raise ValueError(f"strides {strides_bytes} are not whole multiples of the "
                         f"itemsize {itemsize}")
    return Layout(
        shape=shape,
        dtype=dtype,
        itemsize=itemsize,
        strides_bytes=strides_bytes,
        strides_elements=tuple(s // itemsize for s in strides_bytes),
        c_contiguous=is_contiguous(shape, strides_bytes, itemsize, "C"),
        f_contiguous=is_contiguous(shape, strides_bytes, itemsize, "F"),
        owns_data=owns,
    )


# ---------------------------------------------------------------------------------------
# Broadcasting (Broadcasting chapter)
# ---------------------------------------------------------------------------------------


def broadcast_shape(*shapes: Sequence[int] | int) -> tuple[int, ...]:
    """The shape arrays of ``shapes`` broadcast to, as ``numpy.broadcast_shapes`` says.

    Shapes are aligned on the right and padded on the left with 1s. Along each axis the
    sizes must be equal, or one of them 1 (stretched to the other). No shapes give ``()``;
    a bare integer ``n`` is the shape ``(n,)``. Raises ``ValueError`` naming the shapes
    and the axis that clash (or a negative size), ``TypeError`` for a non-integer size.
    """
    checked = [_as_shape(shape) for shape in shapes]
    ndim = max((len(shape) for shape in checked), default=0)
    result = []
    for axis in range(-1, -ndim - 1, -1):  # right to left, as the rule reads
        size, owner = 1, None  # the size so far, and the first shape that set it
        for shape in checked:
            if len(shape) < -axis or shape[axis] == 1:
                continue  # a missing or size-1 axis stretches to anything
            if owner is None:
                size, owner = shape[axis], shape
            elif shape[axis] != size:
                raise ValueError(
                    f"shapes {owner} and {shape} cannot broadcast: dimension {axis} has "
                    f"sizes {size} and {shape[axis]}; sizes must be equal or one of them 1")
        result.append(size)
    return tuple(reversed(result))


# ---------------------------------------------------------------------------------------
# Pairwise cosine similarity (Broadcasting chapter)
# ---------------------------------------------------------------------------------------


def _checked_rows(A: Any, B: Any, chunk_size: Any, eps: float):
    """Validate the inputs of :func:`pairwise_cosine_similarity`.

    Returns ``(A, B, dtype, compute)``: the inputs as arrays, the result's dtype and the
    dtype to compute in.
    """
    A, B = np.asarray(A), np.asarray(B)
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"A and B must be 2-D (rows, features); got shapes {A.shape} "
                         f"and {B.shape}")
    if A.shape[1] != B.shape[1]:
        raise ValueError(f"A {A.shape} and B {B.shape} must have the same number of "
                         f"features (columns): {A.shape[1]} != {B.shape[1]}")
    integral = isinstance(chunk_size, numbers.Integral) and not isinstance(chunk_size, bool)
    if chunk_size is not None and not (integral and chunk_size >= 1):
        raise ValueError(f"chunk_size must be a positive integer or None, "
                         f"got {chunk_size!r}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    dtype = np.result_type(A, B)
    real = np.issubdtype(dtype, np.number) or dtype == bool
    if not real or np.issubdtype(dtype, np.complexfloating):
        raise TypeError(f"A and B must hold real numbers; got dtypes {A.dtype} "
                        f"and {B.dtype}")
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)  # integers and booleans
    compute = np.promote_types(dtype, np.float32)  # float16 sums of squares overflow
    return A, B, dtype, compute


def _unit_rows(X: np.ndarray, eps: float) -> np.ndarray:
    """``X`` with each row divided by ``max(||row||, eps)``: ``(K, D) -> (K, D)``.

    ``einsum`` forms the squared norms without allocating ``X * X``, so the only
    temporary the size of ``X`` is the result.
    """
    norms = np.sqrt(np.einsum("kd,kd->k", X, X))
    return X / np.maximum(norms, eps)[:, None]


def pairwise_cosine_similarity(A: Any, B: Any, *, chunk_size: int | None = None,
                               eps: float = 1e-8) -> np.ndarray:
    """Cosine similarity of every row of ``A`` with every row of ``B``.

    Shapes: ``A`` is ``(M, D)``, ``B`` is ``(N, D)``, the result ``S`` is ``(M, N)`` with
    ``S[i, j] = a_i . b_j / (max(||a_i||, eps) * max(||b_j||, eps))``. Each norm is
    clamped on its own, as ``torch.nn.functional.cosine_similarity`` does in PyTorch 2.x,
    so a zero row has similarity 0 with everything (``0 / eps``), never NaN.

    The rows are normalised, then multiplied (``A_hat @ B_hat.T``): no ``(M, N, D)``
    temporary. With ``chunk_size=c``, ``c`` rows of ``A`` at a time are normalised and
    multiplied straight into the output, so the temporaries besides the result and
    ``B_hat`` are ``O(c * D)`` instead of ``O(M * D)``; the numbers are the same up to
    rounding.

    The dtype is NumPy's ``result_type`` of the inputs (integers and booleans give
    float64; float16 is computed in float32). Raises ``ValueError`` for inputs that are
    not 2-D, different feature sizes, ``chunk_size < 1`` or ``eps <= 0``.
    """
    A, B, dtype, compute = _checked_rows(A, B, chunk_size, eps)
    B_hat = _unit_rows(B.astype(compute, copy=False), eps)
    if chunk_size is None:
        S = _unit_rows(A.astype(compute, copy=False), eps) @ B_hat.T
    else:
        S = np.empty((A.shape[0], B.shape[0]), dtype=compute)
        for start in range(0, A.shape[0], chunk_size):
            rows = slice(start, start + chunk_size)
            A_hat = _unit_rows(A[rows].astype(compute, copy=False), eps)
            np.matmul(A_hat, B_hat.T, out=S[rows])
    return S.astype(dtype, copy=False)
