"""mlbook.train checkpoints: a crash at any point of a save leaves the previous checkpoint intact
(exceptions mid-write, a failed rename, a process killed with SIGKILL), truncated or corrupt files
raise clear errors, and resuming from epoch k gives the same weights, bit for bit, as training
straight through (dropout, shuffling, Adam, random augmentation from NumPy and Python, early stopping)."""

import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import mlbook.train.checkpoint as ckpt
from mlbook.train import (
    CheckpointError,
    EarlyStopping,
    ModelCheckpoint,
    Trainer,
    get_rng_state,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)

# ------------------------------------------------------------------------------------ atomic saving


def state(value: float) -> dict:
    return {"weights": torch.full((300, 300), value), "epoch": int(value)}


def test_round_trip(tmp_path):
    path = save_checkpoint(state(1.0), tmp_path / "a.ckpt")
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 1 and torch.equal(loaded["weights"], torch.full((300, 300), 1.0))
    assert path.read_bytes()[:8] == ckpt.MAGIC


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_exception_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"
    save_checkpoint(state(1.0), path)
    good = path.read_bytes()

    def write_half_then_fail(handle, header, payload):
        handle.write(header)
        handle.write(payload[: len(payload) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "_write_all", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(state(2.0), path)
    assert path.read_bytes() == good
    assert load_checkpoint(path)["epoch"] == 1
    assert leftovers(tmp_path) == []  # the half-written temporary file was removed


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_fsync_or_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch, failing):
    path = tmp_path / "model.ckpt"
    save_checkpoint(state(1.0), path)

    def boom(*args, **kwargs):
        raise OSError(5, f"simulated {failing} failure")

    monkeypatch.setattr(ckpt.os, failing, boom)
    with pytest.raises(OSError, match=f"simulated {failing}"):
        save_checkpoint(state(2.0), path)
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert leftovers(tmp_path) == []


def test_sigkill_mid_write_keeps_the_previous_checkpoint(tmp_path):
    """A real crash: the writing process is killed with SIGKILL halfway through the payload, so no
    exception handler or cleanup runs at all."""
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("needs SIGKILL (POSIX)")
    path = tmp_path / "model.ckpt"
    save_checkpoint(state(1.0), path)
    good = path.read_bytes()
    script = textwrap.dedent(f"""
        import os, signal, torch
        import mlbook.train.checkpoint as ckpt
        def write_then_die(handle, header, payload):
            handle.write(header)
            handle.write(payload[: len(payload) // 2])
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        ckpt._write_all = write_then_die
        ckpt.save_checkpoint({{"weights": torch.full((300, 300), 2.0), "epoch": 2}}, {str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert path.read_bytes() == good
    assert load_checkpoint(path)["epoch"] == 1
    stray = leftovers(tmp_path)
    assert len(stray) == 1 and stray[0].startswith(".model.ckpt.")  # a stray temporary, never a broken checkpoint
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(tmp_path / stray[0])


def test_truncated_files_raise_clear_errors(tmp_path):
    path = save_checkpoint(state(1.0), tmp_path / "model.ckpt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(CheckpointError, match=r"truncated: its header promises \d+ bytes of payload, the file holds \d+"):
        load_checkpoint(path)
    path.write_bytes(data[:20])
    with pytest.raises(CheckpointError, match="truncated: 20 bytes, shorter than the 48-byte header"):
        load_checkpoint(path)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="truncated: 0 bytes"):
        load_checkpoint(path)


def test_corrupt_and_foreign_files_raise_clear_errors(tmp_path):
    path = save_checkpoint(state(1.0), tmp_path / "model.ckpt")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of the weights
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt: the SHA-256 digest"):
        load_checkpoint(path)
    plain = tmp_path / "plain.pt"
    torch.save({"a": 1}, plain)
    with pytest.raises(CheckpointError, match="not an mlbook checkpoint"):
        load_checkpoint(plain)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.ckpt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_checkpoint(state(1.0), tmp_path / "no" / "such" / "dir.ckpt")
    with pytest.raises(TypeError, match="mapping"):
        save_checkpoint([1, 2], tmp_path / "x.ckpt")


def test_payload_is_loaded_with_weights_only(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = save_checkpoint({"x": Evil()}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="torch.load failed"):
        load_checkpoint(path)


# ------------------------------------------------------------------------------------ RNG state


def test_rng_state_round_trip_restores_every_generator():
    seed_everything(3)
    random.random(), np.random.normal(), torch.randn(1)  # a cached Gaussian in NumPy's state
    saved = get_rng_state()
    first = (random.random(), np.random.normal(), np.random.rand(3).tolist(), torch.rand(3).tolist())
    random.random(), np.random.rand(), torch.rand(1)
    set_rng_state(saved)
    assert (random.random(), np.random.normal(), np.random.rand(3).tolist(), torch.rand(3).tolist()) == first
    with pytest.raises(CheckpointError, match="malformed"):
        set_rng_state({"python": {}, "numpy": {}})
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(-1)


# --------------------------------------------------------------------------------- exact resume


class NoisyDataset(Dataset):
    """Augmentation that draws from NumPy's and Python's global generators, as real pipelines do."""

    def __init__(self, n=60):
        g = torch.Generator().manual_seed(0)
        self.X = torch.randn(n, 4, generator=g)
        self.y = (self.X[:, 0] - self.X[:, 2] > 0).long()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        noise = torch.from_numpy(np.random.normal(0, 0.1, 4).astype(np.float32))
        return self.X[i] * random.uniform(0.9, 1.1) + noise, self.y[i]


def build(tmp_path, use_generator=False, amp_fp16=False, seed=0):
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(seed + 1) if use_generator else None
    train = DataLoader(NoisyDataset(), batch_size=8, shuffle=True, generator=generator)
    val = DataLoader(NoisyDataset(30), batch_size=30)
    callbacks = [EarlyStopping(patience=50), ModelCheckpoint(tmp_path / "last.ckpt")]
    extra = dict(amp=True, amp_dtype=torch.float16) if amp_fp16 else {}
    return Trainer(model, optimizer, nn.CrossEntropyLoss(), train, val, callbacks=callbacks, progress=False,
                   grad_accum_steps=2, **extra)


@pytest.mark.parametrize("use_generator, amp_fp16", [(False, False), (True, False), (False, True)])
def test_resume_from_epoch_k_is_bit_for_bit_identical(tmp_path, use_generator, amp_fp16):
    straight_dir, stopped_dir = tmp_path / "straight", tmp_path / "stopped"
    straight_dir.mkdir(), stopped_dir.mkdir()
    straight = build(straight_dir, use_generator, amp_fp16)
    straight.fit(5)

    first = build(stopped_dir, use_generator, amp_fp16)
    first.fit(2)
    del first  # the "crash": nothing survives but the checkpoint on disk
    random.random(), np.random.rand(), torch.rand(5)  # whatever the new process does before resuming
    resumed = build(stopped_dir, use_generator, amp_fp16, seed=99)  # even built with other seeds
    resumed.load_checkpoint(stopped_dir / "last.ckpt")
    assert resumed.epoch == 2
    resumed.fit(5)

    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert resumed.history == straight.history
    assert resumed.global_step == straight.global_step
    assert resumed.callbacks[0].state_dict()["best"] == straight.callbacks[0].state_dict()["best"]
    if amp_fp16:
        assert resumed.scaler.get_scale() == straight.scaler.get_scale()


def test_load_into_a_different_setup_is_refused(tmp_path):
    trainer = build(tmp_path)
    trainer.fit(1)
    path = tmp_path / "last.ckpt"

    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    other = Trainer(model, torch.optim.Adam(model.parameters()), nn.CrossEntropyLoss(), trainer.train_data,
                    callbacks=[EarlyStopping(), ModelCheckpoint(tmp_path / "x.ckpt")], progress=False)
    with pytest.raises(CheckpointError, match="weights do not fit this model"):
        other.load_checkpoint(path)
    plain = build(tmp_path)
    plain.callbacks = plain.callbacks[:1]
    with pytest.raises(CheckpointError, match=r"callbacks \['EarlyStopping', 'ModelCheckpoint'\], this Trainer has \['EarlyStopping'\]"):
        plain.load_checkpoint(path)
    with pytest.raises(CheckpointError, match="missing"):
        build(tmp_path).load_state_dict({"epoch": 1})
