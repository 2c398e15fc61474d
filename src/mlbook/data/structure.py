"""Nested elements: a dataset element is a NumPy array, or a tuple or dict of (nested) elements.

tf.data calls this the element's *structure*. These helpers walk it: apply a function to every
array (:func:`tree_map`), stack a list of elements into one batched element (:func:`tree_stack`),
flatten it to a list of leaves and back.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["tree_map", "tree_leaves", "tree_stack", "describe", "as_element"]


def tree_map(fn: Callable[..., Any], element: Any, *rest: Any) -> Any:
    """Apply ``fn`` leaf by leaf to one or more elements of the same structure."""
    if isinstance(element, tuple):
        return tuple(tree_map(fn, *parts) for parts in zip(element, *rest))
    if isinstance(element, dict):
        return {key: tree_map(fn, element[key], *(other[key] for other in rest)) for key in element}
    return fn(element, *rest)


def tree_leaves(element: Any) -> list[Any]:
    """The leaves of ``element`` in a fixed order (tuple order; dict insertion order)."""
    if isinstance(element, tuple):
        return [leaf for part in element for leaf in tree_leaves(part)]
    if isinstance(element, dict):
        return [leaf for value in element.values() for leaf in tree_leaves(value)]
    return [element]


def describe(element: Any) -> str:
    """A short text of an element's structure with shapes and dtypes, for error messages."""
    if isinstance(element, tuple):
        return "(" + ", ".join(describe(part) for part in element) + ")"
    if isinstance(element, dict):
        return "{" + ", ".join(f"{key!r}: {describe(value)}" for key, value in element.items()) + "}"
    array = np.asarray(element)
    return f"{array.dtype}{list(array.shape)}"


def as_element(value: Any) -> Any:
    """Turn tuples and dicts into the same structure with NumPy arrays at the leaves.

    A list becomes one array (as in tf.data, where a list is a tensor, not a structure).
    """
    if isinstance(value, tuple):
        return tuple(as_element(part) for part in value)
    if isinstance(value, dict):
        return {key: as_element(part) for key, part in value.items()}
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"dataset elements must be numeric or string arrays, got an object array from "
                        f"{type(value).__name__}; ragged data needs one element per item")
    return array


def _same_structure(first: Any, other: Any) -> bool:
    if isinstance(first, tuple):
        return isinstance(other, tuple) and len(first) == len(other) and all(
            _same_structure(a, b) for a, b in zip(first, other))
    if isinstance(first, dict):
        return isinstance(other, dict) and list(first) == list(other) and all(
            _same_structure(first[k], other[k]) for k in first)
    return not isinstance(other, (tuple, dict))


def tree_stack(elements: list[Any]) -> Any:
    """Stack a list of same-structure elements along a new leading axis: the body of ``batch``.

    Raises ``ValueError`` naming the two elements when structures or shapes differ.
    """
    if not elements:
        raise ValueError("cannot stack an empty list of elements")
    first = elements[0]
    for index, other in enumerate(elements[1:], start=1):
        if not _same_structure(first, other):
            raise ValueError(f"cannot batch elements of different structure: element 0 is {describe(first)}, "
                             f"element {index} is {describe(other)}")

    def stack(*leaves: Any) -> np.ndarray:
        shapes = {np.shape(leaf) for leaf in leaves}
        if len(shapes) > 1:
            raise ValueError(f"cannot batch elements of different shapes {sorted(shapes)} into one array; "
                             "pad them to one shape first or batch them one by one")
        return np.stack(leaves)

    return tree_map(stack, *elements)
