"""Streaming classification metrics: updated batch by batch, computed once at the end.

Averaging a per-batch accuracy over batches is wrong whenever the last batch is short, and averaging a
per-batch F1 is wrong always (F1 is not linear in the counts). A streaming metric keeps *counts*,
adds each batch's counts to them, and computes the score from the totals, so the answer is the same
however the data were split into batches.

Every metric takes ``update(outputs, targets)`` with

- ``outputs`` of shape ``(batch, num_classes)`` (scores or probabilities: the predicted class is the
  ``argmax``), or ``(batch,)`` / ``(batch, 1)`` for a binary classifier (class 1 when the output is
  above ``threshold``: 0.0 for logits, the default, or 0.5 for probabilities);
- ``targets`` of shape ``(batch,)`` (or ``(batch, 1)``) holding class indices ``0 .. num_classes-1``
  (floats 0.0/1.0 are accepted for binary targets).
"""

from __future__ import annotations

import copy
from typing import Literal

import torch

__all__ = ["Metric", "Accuracy", "ConfusionMatrix", "Precision", "Recall", "F1Score", "predicted_labels"]


def predicted_labels(outputs: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Class indices, shape ``(batch,)``, from model outputs (see the module docstring)."""
    if not isinstance(outputs, torch.Tensor):
        raise TypeError(f"outputs must be a torch.Tensor, got {type(outputs).__name__}")
    outputs = outputs.detach()
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        return outputs.argmax(dim=1)
    if outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[1] == 1):
        return (outputs.reshape(-1) > threshold).long()
    raise ValueError(f"outputs must have shape (batch,), (batch, 1) or (batch, num_classes), got {tuple(outputs.shape)}")


def _target_labels(targets: torch.Tensor, batch: int) -> torch.Tensor:
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    targets = targets.detach()
    if targets.ndim == 2 and targets.shape[1] == 1:
        targets = targets.reshape(-1)
    if targets.shape != (batch,):
        raise ValueError(f"targets must have shape ({batch},) to match {batch} outputs, got {tuple(targets.shape)}")
    if targets.is_floating_point():
        rounded = targets.round()
        if not torch.equal(rounded, targets):
            raise ValueError("floating-point targets must be whole numbers (class indices such as 0.0 and 1.0)")
        targets = rounded
    return targets.long()


class Metric:
    """A score accumulated over batches: ``reset()``, then ``update(outputs, targets)`` per batch, then
    ``compute()``. ``name`` is the key it gets in a :class:`~mlbook.train.Trainer`'s history."""

    name: str = "metric"

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def fresh(self) -> "Metric":
        """A reset copy with the same settings (the Trainer keeps one for training, one for validation)."""
        clone = copy.deepcopy(self)
        clone.reset()
        return clone

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Accuracy(Metric):
    """Fraction of examples whose predicted class equals the target: correct / seen, over all batches."""

    name = "accuracy"

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        predicted = predicted_labels(outputs, self.threshold)
        targets = _target_labels(targets, predicted.shape[0]).to(predicted.device)
        self.correct += int((predicted == targets).sum())
        self.total += int(predicted.shape[0])

    def compute(self) -> float:
        if self.total == 0:
            raise ValueError("Accuracy.compute() before any update: no examples seen")
        return self.correct / self.total


class ConfusionMatrix(Metric):
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as class ``j`` (rows are truth, like
    ``sklearn.metrics.confusion_matrix``). ``compute()`` returns a ``(num_classes, num_classes)`` int64
    tensor."""

    name = "confusion_matrix"

    def __init__(self, num_classes: int = 2, threshold: float = 0.0) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self.counts = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        predicted = predicted_labels(outputs, self.threshold).cpu()
        if outputs.ndim == 2 and outputs.shape[1] > 1 and outputs.shape[1] != self.num_classes:
            raise ValueError(f"outputs have {outputs.shape[1]} class scores but num_classes={self.num_classes}")
        targets = _target_labels(targets, predicted.shape[0]).cpu()
        if targets.numel() and (targets.min() < 0 or targets.max() >= self.num_classes):
            raise ValueError(f"targets must lie in [0, {self.num_classes - 1}], got values from "
                             f"{int(targets.min())} to {int(targets.max())}")
        # one bincount over the flattened (true, predicted) pairs counts every cell at once
        flat = targets * self.num_classes + predicted
        self.counts += torch.bincount(flat, minlength=self.num_classes ** 2).reshape(self.num_classes, self.num_classes)

    def compute(self) -> torch.Tensor:
        return self.counts.clone()


Average = Literal["binary", "macro", "micro"]


class _FromConfusion(ConfusionMatrix):
    """Precision, recall and F1 all come from the confusion matrix's true/false positives/negatives."""

    def __init__(self, num_classes: int = 2, average: Average = "binary", positive_class: int = 1,
                 threshold: float = 0.0) -> None:
        super().__init__(num_classes, threshold)
        if average not in ("binary", "macro", "micro"):
            raise ValueError(f"average must be 'binary', 'macro' or 'micro', got {average!r}")
        if average == "binary" and not 0 <= positive_class < num_classes:
            raise ValueError(f"positive_class must lie in [0, {num_classes - 1}], got {positive_class}")
        self.average = average
        self.positive_class = positive_class

    def _counts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.counts.double()
        tp = c.diagonal()
        fp = c.sum(dim=0) - tp  # predicted as the class, truly another
        fn = c.sum(dim=1) - tp  # truly the class, predicted as another
        return tp, fp, fn

    def _score(self, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def compute(self) -> float:  # type: ignore[override]
        if int(self.counts.sum()) == 0:
            raise ValueError(f"{type(self).__name__}.compute() before any update: no examples seen")
        tp, fp, fn = self._counts()
        if self.average == "binary":
            k = self.positive_class
            return float(self._score(tp[k], fp[k], fn[k]))
        if self.average == "micro":
            return float(self._score(tp.sum(), fp.sum(), fn.sum()))
        return float(self._score(tp, fp, fn).mean())


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    # 0/0 counts as 0, as sklearn does with zero_division=0
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1e-300), torch.zeros_like(numerator))


class Precision(_FromConfusion):
    """TP / (TP + FP): of the examples predicted positive, the fraction that are. ``average`` is
    ``"binary"`` (the ``positive_class`` only), ``"macro"`` (unweighted mean over classes) or
    ``"micro"`` (from the summed counts)."""

    name = "precision"

    def _score(self, tp, fp, fn):
        return _ratio(tp, tp + fp)


class Recall(_FromConfusion):
    """TP / (TP + FN): of the truly positive examples, the fraction found."""

    name = "recall"

    def _score(self, tp, fp, fn):
        return _ratio(tp, tp + fn)


class F1Score(_FromConfusion):
    """The harmonic mean of precision and recall, 2 TP / (2 TP + FP + FN)."""

    name = "f1"

    def _score(self, tp, fp, fn):
        return _ratio(2 * tp, 2 * tp + fp + fn)

