"""A model artifact for serving: the weights of a small MLP *and* the preprocessing it was trained with.

The top cause of wrong predictions in production is not the model: it is a request preprocessed
differently from the training data (raw features fed to a network trained on standardised ones).
So an artifact here is one file holding three things that travel together:

- the parameters of an MLP, named as in ``torch.nn.Sequential(Linear, act, Linear, ...)`` and in
  :func:`mlbook.nn.layers.mlp` (``"0.weight"`` of shape ``(out, in)``, ``"0.bias"``, ``"2.weight"``, ...);
- the preprocessing: per-feature ``mean`` and ``std``, applied as ``(x - mean) / std``;
- metadata (JSON): format tag, layer sizes, activation, task, model name and version.

Two containers are accepted: an ``.npz`` (NumPy, loaded with ``allow_pickle=False`` so a file cannot run
code; the metadata is stored as UTF-8 bytes in a ``uint8`` array) and a PyTorch file (``.pt``/``.pth``,
a dict with ``"state_dict"``, ``"mean"``, ``"std"``, ``"metadata"``, loaded with ``weights_only=True``).
:func:`load_artifact` validates everything and refuses an artifact without its preprocessing.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import numpy as np

from mlbook.nn.layers import Sequential, mlp

__all__ = [
    "ARTIFACT_FORMAT",
    "ArtifactError",
    "ModelArtifact",
    "Preprocessing",
    "load_artifact",
    "save_artifact",
    "save_torch_artifact",
]

ARTIFACT_FORMAT = "mlbook-serve/1"
TASKS = ("regression", "classification")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu")
PathLike = Union[str, "os.PathLike[str]"]
_WEIGHT_KEY = re.compile(r"^(\d+)\.(weight|bias)$")


class ArtifactError(ValueError):
    """The artifact is missing something or does not fit together; the message says what."""


@dataclass(frozen=True)
class Preprocessing:
    """Standardisation fitted on the training set: ``transform(x) = (x - mean) / std``, per feature.

    ``mean`` and ``std`` have shape ``(n_features,)``; every ``std`` must be finite and > 0.
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=np.float64)
        std = np.asarray(self.std, dtype=np.float64)
        if mean.ndim != 1 or std.shape != mean.shape or mean.size == 0:
            raise ArtifactError(f"preprocessing mean and std must be 1-D of equal length, got shapes "
                                f"{mean.shape} and {std.shape}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise ArtifactError("preprocessing mean/std contain NaN or inf")
        if np.any(std <= 0):
            raise ArtifactError(f"preprocessing std must be > 0 for every feature; feature(s) "
                                f"{np.flatnonzero(std <= 0).tolist()} are not (a constant feature needs std=1)")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @classmethod
    def fit(cls, x: np.ndarray) -> "Preprocessing":
        """Mean and std of the training inputs ``x`` of shape ``(n, n_features)``; constant features get std 1."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(f"fit needs training inputs of shape (n, n_features), got {x.shape}")
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` for ``x`` of shape ``(batch, n_features)``."""
        return (x - self.mean) / self.std


@dataclass
class ModelArtifact:
    """A loaded artifact: ``predict(x)`` = MLP forward pass on ``preprocessing.transform(x)``.

    ``x`` is raw (unstandardised) inputs of shape ``(batch, n_features)``; the output has shape
    ``(batch, n_outputs)`` (raw scores; for ``task="classification"`` they are logits).
    """

    model: Sequential
    preprocessing: Preprocessing
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.metadata["sizes"][0])

    @property
    def n_outputs(self) -> int:
        return int(self.metadata["sizes"][-1])

    @property
    def task(self) -> str:
        return str(self.metadata.get("task", "regression"))

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"expected inputs of shape (batch, {self.n_features}), got {x.shape}")
        return self.model.forward(self.preprocessing.transform(x))


def _to_numpy_state(model: Any) -> dict[str, np.ndarray]:
    """A ``{name: array}`` state from an mlbook.nn module, a torch module, or a mapping of arrays/tensors."""
    if hasattr(model, "state_dict") and callable(model.state_dict):
        state = model.state_dict()
    elif isinstance(model, Mapping):
        state = model
    else:
        raise TypeError(f"model must be an mlbook.nn module, a torch.nn.Module or a state dict, "
                        f"got {type(model).__name__}")
    out = {}
    for name, value in state.items():
        if hasattr(value, "detach"):  # a torch tensor; imported lazily so NumPy-only serving needs no torch
            value = value.detach().cpu().numpy()
        out[str(name)] = np.asarray(value)
    return out


def _architecture(state: Mapping[str, np.ndarray]) -> list[int]:
    """Layer sizes ``[in, hidden..., out]`` read off the weights of an MLP state; checks the layout."""
    layers: dict[int, dict[str, np.ndarray]] = {}
    for name, value in state.items():
        match = _WEIGHT_KEY.match(name)
        if match is None:
            raise ArtifactError(f"parameter {name!r} is not '<layer>.weight' or '<layer>.bias' of an MLP "
                                "(torch.nn.Sequential(Linear, activation, Linear, ...))")
        layers.setdefault(int(match.group(1)), {})[match.group(2)] = value
    indices = sorted(layers)
    if not indices or indices != list(range(0, 2 * len(indices), 2)):
        raise ArtifactError(f"the Linear layers must sit at indices 0, 2, 4, ... (an activation between "
                            f"each pair), found layers at {indices}")
    sizes: list[int] = []
    for i in indices:
        entry = layers[i]
        if "weight" not in entry or "bias" not in entry:
            raise ArtifactError(f"layer {i} needs both a weight and a bias, has {sorted(entry)}")
        w, b = entry["weight"], entry["bias"]
        if w.ndim != 2 or b.shape != (w.shape[0],):
            raise ArtifactError(f"layer {i}: weight {w.shape} and bias {b.shape} do not form a Linear layer "
                                "(weight (out, in), bias (out,))")
        if not np.issubdtype(w.dtype, np.floating) or not np.issubdtype(b.dtype, np.floating):
            raise ArtifactError(f"layer {i}: parameters must be floating point, got {w.dtype} and {b.dtype}")
        if sizes and w.shape[1] != sizes[-1]:
            raise ArtifactError(f"layer {i} takes {w.shape[1]} inputs but the previous layer gives {sizes[-1]}")
        if not sizes:
            sizes.append(int(w.shape[1]))
        sizes.append(int(w.shape[0]))
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ArtifactError(f"layer {i} holds NaN or inf parameters")
    return sizes


def _metadata(sizes: list[int], activation: str, task: str, name: str, version: str) -> dict[str, Any]:
    if activation not in ACTIVATIONS:
        raise ArtifactError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if task not in TASKS:
        raise ArtifactError(f"task must be one of {TASKS}, got {task!r}")
    if task == "classification" and sizes[-1] < 2:
        raise ArtifactError(f"a classification model needs >= 2 outputs (one logit per class), has {sizes[-1]}")
    return {"format": ARTIFACT_FORMAT, "sizes": sizes, "activation": activation, "task": task,
            "name": str(name), "version": str(version)}


def _prepare(model: Any, mean: Any, std: Any, activation: str, task: str, name: str, version: str):
    if mean is None or std is None:
        raise ArtifactError("an artifact must carry the training preprocessing: pass mean= and std= "
                            "(use Preprocessing.fit(x_train))")
    state = _to_numpy_state(model)
    sizes = _architecture(state)
    pre = Preprocessing(mean, std)
    if pre.n_features != sizes[0]:
        raise ArtifactError(f"the preprocessing has {pre.n_features} features but the model takes {sizes[0]}")
    return state, pre, _metadata(sizes, activation, task, name, version)


def save_artifact(path: PathLike, model: Any, *, mean: Any, std: Any, activation: str = "relu",
                  task: str = "regression", name: str = "model", version: str = "1") -> Path:
    """Write an ``.npz`` artifact: parameters under ``param/<name>``, ``preprocess/mean``,
    ``preprocess/std``, and ``metadata`` (JSON as ``uint8`` bytes). Returns the path written.

    ``model`` is an :func:`mlbook.nn.layers.mlp`, a ``torch.nn.Sequential(Linear, act, ...)`` or a state
    dict of either. Everything is validated before anything is written.
    """
    state, pre, meta = _prepare(model, mean, std, activation, task, name, version)
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"an .npz artifact path must end in .npz, got {str(path)!r}")
    arrays = {f"param/{k}": v for k, v in state.items()}
    arrays["preprocess/mean"] = pre.mean
    arrays["preprocess/std"] = pre.std
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    np.savez(path, **arrays)
    return path


def save_torch_artifact(path: PathLike, model: Any, *, mean: Any, std: Any, activation: str = "relu",
                        task: str = "regression", name: str = "model", version: str = "1") -> Path:
    """Write the same artifact as a PyTorch file: ``{"state_dict", "mean", "std", "metadata"}``."""
    import torch

    state, pre, meta = _prepare(model, mean, std, activation, task, name, version)
    path = Path(path)
    torch.save({"state_dict": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()},
                "mean": torch.from_numpy(pre.mean), "std": torch.from_numpy(pre.std), "metadata": meta}, path)
    return path


def _read_npz(path: Path) -> tuple[dict[str, np.ndarray], Optional[np.ndarray], Optional[np.ndarray], Any]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise ArtifactError(f"{str(path)!r} is not a readable .npz archive: {error}") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ArtifactError(f"{str(path)!r} holds a single array, not an artifact archive")
    with archive:
        try:
            entries = {k: archive[k] for k in archive.files}
        except ValueError as error:
            raise ArtifactError(f"{str(path)!r} holds a pickled object array, refused: {error}") from error
    state = {k[len("param/"):]: v for k, v in entries.items() if k.startswith("param/")}
    raw_meta = entries.get("metadata")
    meta = None
    if raw_meta is not None:
        try:
            meta = json.loads(raw_meta.astype(np.uint8).tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ArtifactError(f"{str(path)!r}: the metadata is not UTF-8 JSON: {error}") from error
    return state, entries.get("preprocess/mean"), entries.get("preprocess/std"), meta


def _read_torch(path: Path):
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or unsafe files
        raise ArtifactError(f"{str(path)!r} is not a loadable PyTorch artifact: {error}") from error
    if not isinstance(blob, dict) or "state_dict" not in blob:
        raise ArtifactError(f"{str(path)!r} must hold a dict with 'state_dict', 'mean', 'std', 'metadata' "
                            "(a bare state_dict has no preprocessing; save it with save_torch_artifact)")
    state = _to_numpy_state(blob["state_dict"])
    mean, std = blob.get("mean"), blob.get("std")
    mean = None if mean is None else np.asarray(mean.numpy() if hasattr(mean, "numpy") else mean)
    std = None if std is None else np.asarray(std.numpy() if hasattr(std, "numpy") else std)
    return state, mean, std, blob.get("metadata")


def load_artifact(path: PathLike) -> ModelArtifact:
    """Read and validate an artifact written by :func:`save_artifact` (``.npz``) or
    :func:`save_torch_artifact` (``.pt``/``.pth``). Raises :class:`ArtifactError` naming what is wrong:
    missing preprocessing, missing or foreign metadata, layer shapes that do not chain, NaN weights."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no artifact at {str(path)!r}")
    if path.suffix == ".npz":
        state, mean, std, meta = _read_npz(path)
    elif path.suffix in (".pt", ".pth"):
        state, mean, std, meta = _read_torch(path)
    else:
        raise ArtifactError(f"unknown artifact type {path.suffix!r}: expected .npz, .pt or .pth")
    if mean is None or std is None:
        raise ArtifactError(f"{str(path)!r} carries no preprocessing (preprocess mean/std): refusing to serve "
                            "a model whose inputs cannot be standardised exactly as in training")
    if not isinstance(meta, dict) or meta.get("format") != ARTIFACT_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ArtifactError(f"{str(path)!r}: metadata format is {found!r}, expected {ARTIFACT_FORMAT!r}")
    if not state:
        raise ArtifactError(f"{str(path)!r} holds no parameters")
    sizes = _architecture(state)
    if list(meta.get("sizes", [])) != sizes:
        raise ArtifactError(f"metadata says layer sizes {meta.get('sizes')} but the weights give {sizes}")
    pre = Preprocessing(mean, std)
    if pre.n_features != sizes[0]:
        raise ArtifactError(f"the preprocessing has {pre.n_features} features but the model takes {sizes[0]}")
    meta = _metadata(sizes, meta.get("activation", "relu"), meta.get("task", "regression"),
                     meta.get("name", "model"), meta.get("version", "1"))
    model = mlp(sizes, activation=meta["activation"], dtype=np.float64)
    model.load_state_dict({k: v.astype(np.float64) for k, v in state.items()})
    return ModelArtifact(model=model.eval(), preprocessing=pre, metadata=meta)
