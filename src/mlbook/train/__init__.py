"""Training PyTorch models: a callback-driven :class:`Trainer`, early stopping, crash-safe checkpoints
with bit-exact resume, and streaming metrics.

- :mod:`mlbook.train.trainer`: :class:`Trainer` (device handling, train/eval modes, gradient
  accumulation, mixed precision, NaN/inf detection, history, ``fit``/``evaluate``/``predict``).
- :mod:`mlbook.train.callbacks`: :class:`Callback`, :class:`EarlyStopping`, :class:`ModelCheckpoint`,
  :class:`LambdaCallback`.
- :mod:`mlbook.train.checkpoint`: atomic :func:`save_checkpoint`, verified :func:`load_checkpoint`,
  random-number state capture and :func:`seed_everything`.
- :mod:`mlbook.train.metrics`: :class:`Accuracy`, :class:`Precision`, :class:`Recall`,
  :class:`F1Score`, :class:`ConfusionMatrix`, accumulated batch by batch.
- :mod:`mlbook.train.plots`: :func:`plot_history`, loss curves with the best epoch marked.
"""

from mlbook.train.callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint
from mlbook.train.checkpoint import (
    CheckpointError,
    get_rng_state,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from mlbook.train.metrics import Accuracy, ConfusionMatrix, F1Score, Metric, Precision, Recall, predicted_labels
from mlbook.train.plots import plot_history
from mlbook.train.trainer import NonFiniteLossError, Trainer, default_device, move_to_device

__all__ = [
    "Accuracy",
    "Callback",
    "CheckpointError",
    "ConfusionMatrix",
    "EarlyStopping",
    "F1Score",
    "LambdaCallback",
    "Metric",
    "ModelCheckpoint",
    "NonFiniteLossError",
    "Precision",
    "Recall",
    "Trainer",
    "default_device",
    "get_rng_state",
    "load_checkpoint",
    "move_to_device",
    "plot_history",
    "predicted_labels",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
]
