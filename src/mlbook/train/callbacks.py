"""Callbacks: code that runs at fixed points of :meth:`mlbook.train.Trainer.fit` without editing the loop.

The trainer calls, in this order::

    on_train_begin
        on_epoch_begin(epoch)
            on_batch_begin(batch) ... on_batch_end(batch, logs)     # once per training batch
        on_epoch_end(epoch, logs)                                    # after validation
    on_train_end

``epoch`` and ``batch`` count from 0. ``logs`` is a dict: per batch ``{"loss", "batch_size"}``, per
epoch the values that go into the history (``"loss"``, ``"val_loss"``, metrics, ``"lr"``). A callback
stops training by setting ``trainer.stop_training = True``; the trainer finishes the current batch
(or epoch) and then calls ``on_train_end``.

Callbacks run in ascending ``order`` (0 by default, stable for ties): :class:`ModelCheckpoint` has
order 100 so that the checkpoint it writes includes the state of every other callback after *this*
epoch, which is what makes a resumed run identical to an uninterrupted one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from mlbook.train.trainer import Trainer

__all__ = ["Callback", "LambdaCallback", "EarlyStopping", "ModelCheckpoint"]


class Callback:
    """Base class: override the hooks you need. ``state_dict``/``load_state_dict`` let a callback's
    progress (a best score, a patience counter) travel inside the trainer's checkpoints."""

    order: int = 0

    def on_train_begin(self, trainer: "Trainer") -> None: ...

    def on_train_end(self, trainer: "Trainer") -> None: ...

    def on_epoch_begin(self, trainer: "Trainer", epoch: int) -> None: ...

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None: ...

    def on_batch_begin(self, trainer: "Trainer", batch: int) -> None: ...

    def on_batch_end(self, trainer: "Trainer", batch: int, logs: dict[str, Any]) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, but was given keys {sorted(state)}")


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: ...)``."""

    _HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end")

    def __init__(self, **hooks: Callable[..., None]) -> None:
        unknown = set(hooks) - set(self._HOOKS)
        if unknown:
            raise ValueError(f"unknown hooks {sorted(unknown)}; the hooks are {list(self._HOOKS)}")
        for name, fn in hooks.items():
            if not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
            setattr(self, name, fn)


class _Monitor:
    """Is a new value of a monitored quantity an improvement on the best so far?"""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' (for a loss) or 'max' (for an accuracy), got {mode!r}")
        if not isinstance(min_delta, (int, float)) or isinstance(min_delta, bool) or not min_delta >= 0:
            raise ValueError(f"min_delta must be a number >= 0 (the mode gives the direction), got {min_delta!r}")
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)

    def value(self, logs: dict[str, Any], who: str) -> float:
        if self.monitor not in logs:
            hint = " (pass val_data to the Trainer to get validation values)" if self.monitor.startswith("val_") else ""
            raise KeyError(f"{who} monitors {self.monitor!r}, but the epoch's logs hold only {sorted(logs)}{hint}")
        return float(logs[self.monitor])

    def improves(self, value: float, best: Optional[float]) -> bool:
        """Beats ``best`` by more than ``min_delta`` in the mode's direction; NaN never improves."""
        if math.isnan(value):
            return False
        if best is None:
            return True
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs, and restore the best weights.

    An epoch *improves* when its value beats the best so far by more than ``min_delta``: lower for
    ``mode="min"`` (losses), higher for ``mode="max"`` (accuracies). After ``patience`` consecutive
    epochs without improvement, training stops; with ``restore_best_weights`` the model's weights are
    then put back to those of the best epoch (a copy is kept, on the model's device, at each
    improvement). A NaN value never counts as an improvement.

    Attributes after training: ``best`` (value), ``best_epoch`` (0-based), ``stopped_epoch`` (the epoch
    after which it stopped, or ``None``), ``wait`` (epochs since the last improvement).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, mode: str = "min", min_delta: float = 0.0,
                 restore_best_weights: bool = True) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0, got {patience!r}")
        self._monitor = _Monitor(monitor, mode, min_delta)
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self.best: Optional[float] = None
        self.best_epoch: Optional[int] = None
        self.wait = 0
        self.stopped_epoch: Optional[int] = None
        self.best_weights: Optional[dict[str, Any]] = None

    def on_train_begin(self, trainer: "Trainer") -> None:
        if trainer.epoch == 0:  # a fresh run; a resumed one keeps the state loaded from its checkpoint
            self._reset()

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None:
        value = self._monitor.value(logs, "EarlyStopping")
        if self._monitor.improves(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer: "Trainer") -> None:
        if self.stopped_epoch is not None and self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.stopped_epoch, self.best_weights = state["stopped_epoch"], state["best_weights"]


class ModelCheckpoint(Callback):
    """Save the trainer's full state (:meth:`~mlbook.train.Trainer.save_checkpoint`) after epochs.

    ``path`` may contain ``{epoch}`` (filled with the number of completed epochs) to keep one file per
    epoch; otherwise each save atomically replaces the last. With ``save_best_only``, it saves only
    when ``monitor`` improves (in ``mode``'s direction). Runs after every other callback (``order =
    100``), so the saved state includes theirs.
    """

    order = 100

    def __init__(self, path: Union[str, Path], monitor: str = "val_loss", mode: str = "min",
                 save_best_only: bool = False) -> None:
        self.path = str(path)
        self._monitor = _Monitor(monitor, mode, 0.0)
        self.save_best_only = save_best_only
        self.best: Optional[float] = None
        self.saved: list[Path] = []

    def on_epoch_end(self, trainer: "Trainer", epoch: int, logs: dict[str, Any]) -> None:
        if self.save_best_only:
            value = self._monitor.value(logs, "ModelCheckpoint")
            if not self._monitor.improves(value, self.best):
                return
            self.best = value
        path = Path(self.path.format(epoch=trainer.epoch))
        trainer.save_checkpoint(path)
        self.saved.append(path)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
