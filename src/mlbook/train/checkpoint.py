"""Checkpoints that survive a crash, and the random-number state that makes a resumed run exact.

A checkpoint file is a small header followed by a ``torch.save`` payload::

    b"MLBKCKP1"          8 bytes   magic: this is an mlbook checkpoint, format 1
    payload length       8 bytes   little-endian unsigned
    SHA-256 of payload  32 bytes
    payload                        torch.save(state)

so a file cut short by a crash, or damaged on disk, is *detected* on loading (the length or the digest
disagrees) instead of being half-read. And a crash cannot produce such a file in the first place,
because :func:`save_checkpoint` never writes over the previous checkpoint: it writes a temporary file in
the same directory, flushes and ``fsync``\\ s it, then renames it over the old one with
:func:`os.replace`, which POSIX and Windows both perform atomically. At every instant the path holds
either the complete old checkpoint or the complete new one.

Loading uses ``torch.load(..., weights_only=True)``: a checkpoint is data, and unpickling arbitrary
objects from a file can run arbitrary code. Everything saved here (tensors, numbers, strings, lists and
dicts of them) passes that restricted loader, including the random-number states, which
:func:`get_rng_state` stores as tensors rather than as NumPy arrays or Python tuples.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import struct
import tempfile
from pathlib import Path
from typing import Any, Mapping, Union

import numpy as np
import torch

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "get_rng_state", "set_rng_state",
           "seed_everything"]

MAGIC = b"MLBKCKP1"
_HEADER = struct.Struct("<8sQ32s")  # magic, payload length, SHA-256 digest
_CHUNK = 1 << 20

PathLike = Union[str, "os.PathLike[str]"]


class CheckpointError(RuntimeError):
    """A checkpoint file is truncated, corrupt, not a checkpoint, or does not fit what it is loaded into."""


def _write_all(handle, header: bytes, payload: bytes) -> None:
    """Write the header and payload in 1 MiB chunks (a crash can interrupt between any two)."""
    handle.write(header)
    view = memoryview(payload)
    for start in range(0, len(view), _CHUNK):
        handle.write(view[start:start + _CHUNK])


def _fsync_directory(directory: Path) -> None:
    # The rename lives in the directory's entries: without this, a power cut after os.replace can
    # still lose the new name on some file systems. Windows cannot open a directory; it needs no fsync.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(state: Mapping[str, Any], path: PathLike) -> Path:
    """Write ``state`` to ``path`` atomically; return the path.

    Steps: serialise into memory, write header and payload to a temporary file beside ``path``,
    ``flush`` and ``os.fsync`` it (the bytes are on disk, not in a cache), ``os.replace`` it onto
    ``path`` (atomic), then ``fsync`` the directory (the new name is on disk too). If anything fails
    before the rename, the temporary file is removed and the previous checkpoint at ``path`` is
    untouched. A process killed outright (``SIGKILL``, power loss) can leave a stray
    ``.<name>.*.tmp`` file behind, never a damaged checkpoint.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a mapping (a dict), got {type(state).__name__}")
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save a checkpoint to {path}: directory {directory} does not exist")
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    payload = buffer.getvalue()
    header = _HEADER.pack(MAGIC, len(payload), hashlib.sha256(payload).digest())

    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            _write_all(handle, header, payload)
            handle.flush()  # Python's buffer -> the operating system
            os.fsync(handle.fileno())  # the operating system's cache -> the disk
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)
    return path


def load_checkpoint(path: PathLike, map_location: Union[str, torch.device, None] = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` and return its state dict.

    Raises :class:`CheckpointError` naming the problem when the file is shorter than its header says
    (truncated), its digest does not match (corrupt), or it is not an mlbook checkpoint at all; and
    ``FileNotFoundError`` when there is no file. Tensors are mapped to ``map_location`` (the CPU by
    default: :meth:`~mlbook.train.Trainer.load_state_dict` moves them where they belong).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    data = path.read_bytes()
    if len(data) < _HEADER.size:
        raise CheckpointError(f"checkpoint {path} is truncated: {len(data)} bytes, shorter than the "
                              f"{_HEADER.size}-byte header")
    magic, length, digest = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CheckpointError(f"{path} is not an mlbook checkpoint: it starts with {data[:8]!r}, not {MAGIC!r}")
    payload = data[_HEADER.size:]
    if len(payload) != length:
        raise CheckpointError(f"checkpoint {path} is truncated: its header promises {length} bytes of payload, "
                              f"the file holds {len(payload)}")
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"checkpoint {path} is corrupt: the SHA-256 digest of its payload does not match "
                              "the one in its header")
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as err:  # an intact file whose payload torch cannot read: say which file
        raise CheckpointError(f"checkpoint {path} passed its integrity check but torch.load failed: {err}") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a state dict")
    return state


# ------------------------------------------------------------------------------ random-number state


def get_rng_state() -> dict[str, Any]:
    """The state of every global random-number generator a training run draws from: Python's
    ``random``, NumPy's legacy global generator (``np.random.*``), torch's CPU generator and, when CUDA
    is present, every GPU's generator. Stored as tensors and plain numbers, so
    ``torch.load(weights_only=True)`` accepts it. Generators you create yourself
    (``np.random.default_rng``, ``torch.Generator``) are not global and are not included."""
    version, internal, gauss = random.getstate()
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    return {
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the generators saved by :func:`get_rng_state`."""
    try:
        python, numpy_state = state["python"], state["numpy"]
        random.setstate((python["version"], tuple(int(v) for v in python["internal"].tolist()), python["gauss"]))
        np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32), numpy_state["position"],
                             numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
        torch.set_rng_state(state["torch"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"the saved random-number state is malformed: {err!r}") from err
    if state.get("cuda") and torch.cuda.is_available():
        if len(state["cuda"]) != torch.cuda.device_count():
            raise CheckpointError(f"the checkpoint holds RNG states for {len(state['cuda'])} GPUs, "
                                  f"this machine has {torch.cuda.device_count()}")
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (every GPU's too) with ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA generators as well
