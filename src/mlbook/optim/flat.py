"""One contiguous buffer for a whole model: parameters as views into a single flat array.

A fused optimizer kernel is fastest when it can stream over *all* parameters in one pass, and that needs
them side by side in memory. :class:`FlatParameters` allocates one 1-D buffer and hands out reshaped views
of it, one per parameter; the model code uses the views as ordinary arrays, the optimizer sees one
array. :func:`contiguous_span` recognises such a layout after the fact.
"""

from __future__ import annotations

from math import prod
from typing import Iterable, Sequence

import numpy as np

__all__ = ["FlatParameters", "contiguous_span"]


class FlatParameters:
    """Parameters of the given shapes, stored back to back in one C-contiguous 1-D buffer.

    ``data`` has shape ``(total,)`` with ``total = sum(prod(shape))``; ``params[i]`` is a view of
    ``data`` with shape ``shapes[i]``. Writing to a view writes to the buffer and vice versa.
    """

    def __init__(self, shapes: Iterable[Sequence[int]], dtype: np.dtype | type = np.float64) -> None:
        self.shapes = [tuple(int(n) for n in shape) for shape in shapes]
        if not self.shapes:
            raise ValueError("FlatParameters needs at least one shape")
        for shape in self.shapes:
            if any(n < 0 for n in shape):
                raise ValueError(f"shapes must have non-negative sizes, got {shape}")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"parameters must be floating point, got dtype {self.dtype}")
        sizes = [prod(shape) for shape in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.data = np.zeros(self.offsets[-1], dtype=self.dtype)
        self.params = [self.data[start:stop].reshape(shape)
                       for start, stop, shape in zip(self.offsets[:-1], self.offsets[1:], self.shapes)]

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray], dtype: np.dtype | type | None = None) -> "FlatParameters":
        """Copy ``arrays`` into a new flat buffer (of ``dtype``, by default the arrays' common dtype)."""
        arrays = [np.asarray(a) for a in arrays]
        if not arrays:
            raise ValueError("from_arrays needs at least one array")
        flat = cls([a.shape for a in arrays], dtype or np.result_type(*arrays))
        for view, array in zip(flat.params, arrays):
            view[...] = array
        return flat

    def like(self) -> "FlatParameters":
        """A zero-filled buffer with the same layout: the natural home for the gradients."""
        return FlatParameters(self.shapes, self.dtype)

    def __len__(self) -> int:
        return len(self.params)

    def __repr__(self) -> str:
        return f"FlatParameters({len(self)} arrays, {self.data.size} elements, {self.dtype})"


def _root(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def contiguous_span(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """A 1-D view covering ``arrays`` if they tile one buffer back to back, in order; else ``None``.

    True for the ``params`` of a :class:`FlatParameters` (or any run of consecutive ones). The arrays must
    be C-contiguous, share a dtype and an underlying buffer, and each must start where the previous ends.
    """
    if not arrays or not all(isinstance(a, np.ndarray) for a in arrays):
        return None
    first = arrays[0]
    root = _root(first)
    if not root.flags.c_contiguous:
        return None
    address = first.__array_interface__["data"][0]
    for a in arrays:
        if (a.dtype != first.dtype or not a.flags.c_contiguous or _root(a) is not root
                or a.__array_interface__["data"][0] != address):
            return None
        address += a.nbytes
    flat_root = root.reshape(-1)
    start = (first.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // first.itemsize
    total = sum(a.size for a in arrays)
    if root.dtype != first.dtype or start < 0 or start + total > flat_root.size:
        return None
    return flat_root[start:start + total]
