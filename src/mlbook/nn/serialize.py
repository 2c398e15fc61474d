"""Saving parameters to ``.npz`` and loading them back with every key and shape checked.

A trained network is its architecture (code) plus its parameters (numbers). These functions store the
numbers as a NumPy ``.npz`` archive, one array per parameter name (``"0.weight"`` for a module, ``"W1"``
for the notes' dictionaries), and refuse to load an archive that does not fit: a missing key, an extra
key or a wrong shape is reported by name, all problems at once, instead of surfacing later as a
broadcasting error or, worse, a silently wrong prediction.

Archives are loaded with ``allow_pickle=False``: an ``.npz`` from an untrusted source cannot run code.
"""

from __future__ import annotations

import os
import zipfile
from typing import Mapping, Optional, Union

import numpy as np

from mlbook.nn.module import Module

__all__ = ["ParameterMismatchError", "load_module", "load_parameters", "save_module", "save_parameters"]

PathLike = Union[str, "os.PathLike[str]"]


class ParameterMismatchError(ValueError):
    """Raised when saved parameters do not fit the model: lists missing, unexpected and mis-shaped entries."""

    def __init__(self, missing: list[str], unexpected: list[str], wrong_shapes: list[str],
                 wrong_dtypes: list[str]) -> None:
        self.missing, self.unexpected = missing, unexpected
        self.wrong_shapes, self.wrong_dtypes = wrong_shapes, wrong_dtypes
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if unexpected:
            parts.append(f"unexpected {unexpected}")
        if wrong_shapes:
            parts.append("wrong shapes: " + "; ".join(wrong_shapes))
        if wrong_dtypes:
            parts.append("not floating point: " + "; ".join(wrong_dtypes))
        super().__init__("saved parameters do not match the model: " + ", ".join(parts))


def _as_dict(params: Union[Module, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if isinstance(params, Module):
        return params.state_dict()
    if not isinstance(params, Mapping):
        raise TypeError(f"expected a Module or a mapping of names to arrays, got {type(params).__name__}")
    out = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"parameter names must be non-empty strings, got {name!r}")
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"parameter {name!r} is not a numeric array (dtype object)")
        out[name] = array
    return out


def save_parameters(path: PathLike, params: Union[Module, Mapping[str, np.ndarray]], *,
                    compressed: bool = False) -> None:
    """Write ``params`` (a mapping of names to arrays, or a module's :meth:`~Module.state_dict`) to ``path``.

    NumPy appends ``.npz`` to a path without that suffix. ``compressed=True`` uses ``np.savez_compressed``.
    """
    arrays = _as_dict(params)
    if not arrays:
        raise ValueError("nothing to save: no parameters")
    (np.savez_compressed if compressed else np.savez)(path, **arrays)


def _validate(loaded: Mapping[str, np.ndarray], expected: Mapping[str, tuple]) -> None:
    missing = sorted(set(expected) - set(loaded))
    unexpected = sorted(set(loaded) - set(expected))
    wrong_shapes = [f"{k}: expected {tuple(expected[k])}, got {loaded[k].shape}"
                    for k in sorted(set(expected) & set(loaded)) if tuple(expected[k]) != loaded[k].shape]
    wrong_dtypes = [f"{k}: dtype {v.dtype}" for k, v in sorted(loaded.items())
                    if not np.issubdtype(v.dtype, np.floating)]
    if missing or unexpected or wrong_shapes or wrong_dtypes:
        raise ParameterMismatchError(missing, unexpected, wrong_shapes, wrong_dtypes)


def load_parameters(path: PathLike, expected: Optional[Union[Module, Mapping[str, object]]] = None
                    ) -> dict[str, np.ndarray]:
    """Read an ``.npz`` written by :func:`save_parameters` into a ``{name: array}`` dictionary.

    ``expected`` (a module, a dictionary of arrays, or a dictionary of shapes) is what the caller's model
    needs; when given, the file must hold exactly those names with exactly those shapes, in a floating
    dtype, or :class:`ParameterMismatchError` lists every difference. A path that is not an ``.npz``
    archive raises ``ValueError``.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"no parameter file at {os.fspath(path)!r}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise ValueError(f"{os.fspath(path)!r} is not a readable .npz archive: {error}") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{os.fspath(path)!r} holds a single .npy array, not an .npz archive of named parameters")
    with archive:
        loaded = {}
        for name in archive.files:
            try:
                loaded[name] = archive[name]
            except ValueError as error:  # an object array: loading it would unpickle, i.e. run code
                raise ValueError(f"{os.fspath(path)!r}: entry {name!r} is a pickled object array, which is "
                                 f"refused (allow_pickle=False); parameters must be numeric arrays") from error
    if expected is not None:
        if isinstance(expected, Module):
            shapes = {name: value.shape for name, value, _ in expected.named_parameters()}
        else:
            shapes = {name: (np.shape(v) if isinstance(v, np.ndarray) else tuple(v)) for name, v in expected.items()}
        _validate(loaded, shapes)
    return loaded


def save_module(path: PathLike, module: Module, *, compressed: bool = False) -> None:
    """Save ``module.state_dict()`` to ``path``."""
    if not isinstance(module, Module):
        raise TypeError(f"save_module needs a Module, got {type(module).__name__}")
    save_parameters(path, module, compressed=compressed)


def load_module(path: PathLike, module: Module) -> Module:
    """Load the parameters in ``path`` into ``module`` in place, after checking every name and shape.

    The module's dtype is kept (float64 parameters loaded into a float32 model become float32).
    Returns ``module`` so that ``model = load_module("net.npz", mlp([2, 8, 1]))`` reads naturally.
    """
    if not isinstance(module, Module):
        raise TypeError(f"load_module needs a Module, got {type(module).__name__}")
    module.load_state_dict(load_parameters(path, expected=module))
    return module
