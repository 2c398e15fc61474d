"""A training loop for PyTorch models that you could run in production: :class:`Trainer`.

The loop itself is the four lines every PyTorch program has (forward, loss, backward, step). What
the Trainer adds is everything around them that a hand-written loop tends to get wrong:

- the device: the model and every batch go to one device (a GPU when there is one);
- modes: ``model.train()`` for training, ``model.eval()`` and ``torch.no_grad()`` for validation
  and prediction, and the previous mode restored afterwards;
- the epoch's loss weighted by batch size, so a short last batch counts for what it holds;
- gradient accumulation that gives the update of the large batch, short batches included;
- mixed precision with ``torch.autocast`` (bfloat16 on CPU; float16 and a gradient scaler on CUDA);
- a loss that turns NaN or infinite stops training at once, naming the epoch and batch;
- callbacks, streaming metrics, a history, a progress bar on a terminal;
- checkpoints holding everything a bit-for-bit identical resume needs.

Batches are ``(inputs, targets)`` pairs of tensors, as a ``torch.utils.data.DataLoader`` over a
``TensorDataset`` yields them. The loss function must average over the batch (PyTorch's default
``reduction="mean"``): the Trainer weights it by the batch size itself.
"""

from __future__ import annotations

import copy
import math
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

import torch
from torch import nn

from mlbook.train.callbacks import Callback
from mlbook.train.checkpoint import (
    CheckpointError,
    get_rng_state,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
)
from mlbook.train.metrics import Metric

__all__ = ["Trainer", "NonFiniteLossError", "default_device", "move_to_device"]

CHECKPOINT_FORMAT = 1


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite. ``epoch`` and ``batch`` (from 0) say where; ``loss``
    is the value."""

    def __init__(self, loss: float, epoch: int, batch: int) -> None:
        super().__init__(
            f"the training loss became {loss} in epoch {epoch}, batch {batch} (both counted from 0); training "
            "stopped. Usual causes: a learning rate too high, NaN or inf in the inputs, log or division of 0 in "
            "the loss, float16 overflow. Try a lower learning rate or gradient clipping (max_grad_norm=...)."
        )
        self.loss, self.epoch, self.batch = loss, epoch, batch


def default_device() -> torch.device:
    """The first CUDA GPU when PyTorch sees one, else the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def move_to_device(obj: Any, device: torch.device) -> Any:
    """``obj`` with every tensor in it (nested in tuples, lists and dicts) moved to ``device``.

    Copies from pinned CPU memory to a GPU are asynchronous (``non_blocking``): the copy overlaps with
    the work already queued on the GPU.
    """
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=device.type == "cuda" and obj.is_pinned())
    if isinstance(obj, Mapping):
        return {k: move_to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(move_to_device(v, device) for v in obj)
    return obj


def _default_progress() -> bool:
    """A progress bar on an interactive terminal only: not in CI logs, not in notebooks."""
    if os.environ.get("CI") or "ipykernel" in sys.modules:
        return False
    return sys.stderr.isatty()


def _check_reiterable(data: Any, what: str) -> None:
    if data is None:
        raise ValueError(f"{what} is None")
    if not isinstance(data, Iterable):
        raise TypeError(f"{what} must be an iterable of (inputs, targets) batches, got {type(data).__name__}")
    if isinstance(data, Iterator):  # not iter(data) is data: creating a DataLoader iterator draws a random seed
        raise TypeError(f"{what} is an iterator ({type(data).__name__}), which would be empty after one epoch; "
                        "pass something that can be iterated again, such as a DataLoader or a list of batches")
    if _length(data) == 0:
        raise ValueError(f"{what} is empty: it holds no batches")


def _length(data: Any) -> Optional[int]:
    """``len(data)``, or None when it has none (a DataLoader over an IterableDataset raises TypeError)."""
    try:
        return len(data)
    except TypeError:
        return None


def _loggable(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    return value


class Trainer:
    """Train, validate and run a PyTorch model.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to ``device`` on construction.
    optimizer : torch.optim.Optimizer
        Built on ``model.parameters()``; the Trainer checks that it really is.
    loss_fn : callable
        ``loss_fn(outputs, targets) -> scalar tensor``, averaged over the batch.
    train_data, val_data : iterables of ``(inputs, targets)`` batches
        Anything that can be iterated once per epoch (a ``DataLoader``, a list); not a one-shot
        iterator or generator.
    device : str or torch.device, optional
        Default: :func:`default_device` (CUDA when available, else CPU).
    callbacks : sequence of :class:`~mlbook.train.Callback`
        Run in ascending ``order``.
    grad_accum_steps : int
        Apply the optimizer once every this many batches, with the gradient of the mean loss over
        all their examples: the update of one batch that many times larger.
    amp : bool
        Mixed precision: run the forward pass and the loss under ``torch.autocast``, in ``amp_dtype``
        (default bfloat16 on CPU, float16 on CUDA). float16 gets a ``torch.amp.GradScaler``.
    metrics : sequence of :class:`~mlbook.train.metrics.Metric`
        Accumulated over each epoch's training batches (``"accuracy"``) and over validation
        (``"val_accuracy"``); recorded in the history.
    max_grad_norm : float, optional
        Clip the global gradient norm to this before each step (after unscaling and averaging).
    progress : bool, optional
        A tqdm progress bar per epoch. Default: only on an interactive terminal (not in CI, not in a
        notebook).
    check_finite : bool
        Stop with :class:`NonFiniteLossError` when a training loss is NaN or infinite.
    strict_shapes : bool
        Refuse floating-point targets whose shape differs from the outputs' (``(B, 1)`` outputs
        against ``(B,)`` targets silently broadcast to ``(B, B)`` in ``MSELoss``).

    Attributes
    ----------
    history : dict[str, list]
        One entry per completed epoch under ``"loss"``, ``"val_loss"``, each metric and
        ``"val_"``-metric, and ``"lr"`` (the first parameter group's learning rate).
    epoch : int
        Completed epochs. ``fit(epochs)`` trains until ``epoch == epochs``.
    global_step : int
        Optimizer steps taken.
    stop_training : bool
        Set it (from a callback) to stop after the current batch.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        train_data: Iterable,
        val_data: Optional[Iterable] = None,
        *,
        device: Union[str, torch.device, None] = None,
        callbacks: Sequence[Callback] = (),
        grad_accum_steps: int = 1,
        amp: bool = False,
        amp_dtype: Optional[torch.dtype] = None,
        metrics: Sequence[Metric] = (),
        max_grad_norm: Optional[float] = None,
        progress: Optional[bool] = None,
        check_finite: bool = True,
        strict_shapes: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        _check_reiterable(train_data, "train_data")
        if val_data is not None:
            _check_reiterable(val_data, "val_data")
        if isinstance(grad_accum_steps, bool) or not isinstance(grad_accum_steps, int) or grad_accum_steps < 1:
            raise ValueError(f"grad_accum_steps must be an integer >= 1, got {grad_accum_steps!r}")
        if max_grad_norm is not None and not max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be positive, got {max_grad_norm!r}")
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be mlbook.train.Callback instances, got {type(cb).__name__}")
        for m in metrics:
            if not isinstance(m, Metric):
                raise TypeError(f"metrics must be mlbook.train.metrics.Metric instances, got {type(m).__name__}")

        self.device = self._resolve_device(device)
        self.model = model.to(self.device)
        model_params = {id(p) for p in self.model.parameters()}
        foreign = [p for group in optimizer.param_groups for p in group["params"] if id(p) not in model_params]
        if foreign:
            raise ValueError(f"the optimizer holds {len(foreign)} parameter tensor(s) that are not the model's "
                             "(was it built on another copy of the model?); build it on model.parameters()")
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.train_data = train_data
        self.val_data = val_data
        self.callbacks = sorted(callbacks, key=lambda cb: cb.order)
        self.grad_accum_steps = grad_accum_steps
        self.metrics = list(metrics)
        self.max_grad_norm = max_grad_norm
        self.progress = _default_progress() if progress is None else bool(progress)
        self.check_finite = check_finite
        self.strict_shapes = strict_shapes

        if amp_dtype is not None and not amp:
            raise ValueError("amp_dtype was given but amp=False; pass amp=True to use mixed precision")
        if amp_dtype is None:
            amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        if amp_dtype not in (torch.float16, torch.bfloat16):
            raise ValueError(f"amp_dtype must be torch.float16 or torch.bfloat16, got {amp_dtype}")
        self.amp = bool(amp)
        self.amp_dtype = amp_dtype
        # float16 keeps only 5 exponent bits: small gradients underflow to 0 unless the loss is scaled up
        # first. bfloat16 has float32's exponent range and needs no scaling.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp and amp_dtype == torch.float16)

        self.history: dict[str, list] = {}
        self.epoch = 0
        self.global_step = 0
        self.stop_training = False

    # ---------------------------------------------------------------------------------- helpers
    @staticmethod
    def _resolve_device(device: Union[str, torch.device, None]) -> torch.device:
        if device is None:
            return default_device()
        device = torch.device(device)
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(f"device {device} was requested but PyTorch sees no CUDA GPU")
            if device.index is None:  # "cuda" and "cuda:0" compare unequal; make the index explicit
                device = torch.device("cuda", torch.cuda.current_device())
        return device

    def _autocast(self):
        if not self.amp:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def _check_model_device(self) -> None:
        for kind, named in (("parameter", self.model.named_parameters()), ("buffer", self.model.named_buffers())):
            for name, tensor in named:
                if tensor.device != self.device:
                    raise ValueError(f"model {kind} {name!r} is on {tensor.device}, but the Trainer's device is "
                                     f"{self.device}: the model and its batches must be on one device. Move the "
                                     f"whole model with model.to({str(self.device)!r}).")

    @staticmethod
    def _unpack(batch: Any, what: str, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            got = f"{type(batch).__name__} of length {len(batch)}" if isinstance(batch, (tuple, list)) else type(batch).__name__
            raise TypeError(f"batch {index} of {what} must be an (inputs, targets) pair, got a {got}")
        inputs, targets = batch
        if not isinstance(targets, torch.Tensor):
            raise TypeError(f"the targets of batch {index} of {what} must be a tensor, got {type(targets).__name__}")
        return inputs, targets

    @staticmethod
    def _batch_size(inputs: Any, targets: torch.Tensor, what: str, index: int) -> int:
        if targets.ndim == 0:
            raise ValueError(f"the targets of batch {index} of {what} are a 0-d tensor; batches need a batch axis")
        size = targets.shape[0]
        first = inputs if isinstance(inputs, torch.Tensor) else None
        if first is not None and (first.ndim == 0 or first.shape[0] != size):
            raise ValueError(f"batch {index} of {what}: inputs of shape {tuple(first.shape)} and targets of shape "
                             f"{tuple(targets.shape)} disagree on the batch size (dimension 0)")
        if size == 0:
            raise ValueError(f"batch {index} of {what} holds no examples (targets of shape {tuple(targets.shape)})")
        return size

    def _forward(self, inputs: Any, where: str) -> torch.Tensor:
        try:
            return self.model(inputs)
        except RuntimeError as err:
            shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
            dtype = inputs.dtype if isinstance(inputs, torch.Tensor) else ""
            raise ValueError(f"the model's forward pass failed on {where}, inputs of shape {shape} {dtype} on "
                             f"{self.device}: {err}") from err

    def _check_outputs(self, outputs: Any, targets: torch.Tensor, where: str) -> None:
        if not isinstance(outputs, torch.Tensor):
            raise TypeError(f"the model must return a tensor, returned {type(outputs).__name__} on {where}")
        if outputs.ndim == 0 or outputs.shape[0] != targets.shape[0]:
            raise ValueError(f"on {where} the model returned outputs of shape {tuple(outputs.shape)} for targets "
                             f"of shape {tuple(targets.shape)}: the batch sizes (dimension 0) differ")
        if self.strict_shapes and targets.is_floating_point() and outputs.shape != targets.shape:
            raise ValueError(
                f"on {where} the model returned outputs of shape {tuple(outputs.shape)} but the float targets have "
                f"shape {tuple(targets.shape)}; a loss such as MSELoss would broadcast them to a larger shape "
                "instead of comparing element by element. Reshape one of them (e.g. targets.unsqueeze(1)), or "
                "pass strict_shapes=False if the loss really takes different shapes."
            )

    def _loss(self, outputs: torch.Tensor, targets: torch.Tensor, where: str) -> torch.Tensor:
        loss = self.loss_fn(outputs, targets)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"loss_fn must return a scalar tensor (the batch mean), returned {shape} on {where}")
        return loss.reshape(())

    def _progress_bar(self, data: Iterable, epoch: int, epochs: int):
        if not self.progress:
            return None
        from tqdm import tqdm  # only needed for the bar

        return tqdm(data, desc=f"epoch {epoch + 1}/{epochs}", total=_length(data),
                    leave=False, dynamic_ncols=True, file=sys.stderr)

    # ------------------------------------------------------------------------------ training
    def fit(self, epochs: int) -> dict[str, list]:
        """Train until ``self.epoch == epochs`` (a *total*, counting epochs run before a resume), or
        until a callback stops it. Returns the history."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0, got {epochs!r}")
        self._check_model_device()
        self.stop_training = False
        self._call("on_train_begin")
        while self.epoch < epochs and not self.stop_training:
            self._call("on_epoch_begin", self.epoch)
            logs = self._train_one_epoch(epochs)
            if self.val_data is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(self.val_data).items()})
            logs["lr"] = self.optimizer.param_groups[0]["lr"]
            logs = {k: _loggable(v) for k, v in logs.items()}
            for key, value in logs.items():
                self.history.setdefault(key, []).append(value)
            self.epoch += 1
            self._call("on_epoch_end", self.epoch - 1, logs)
        self._call("on_train_end")
        return self.history

    def _train_one_epoch(self, epochs: int) -> dict[str, Any]:
        epoch = self.epoch
        self.model.train()
        metrics = [m.fresh() for m in self.metrics]
        loss_sum, examples = 0.0, 0
        pending_examples, pending_batches = 0, 0  # gradients accumulated but not yet applied
        self.optimizer.zero_grad(set_to_none=True)
        accumulating = self.grad_accum_steps > 1
        bar = self._progress_bar(self.train_data, epoch, epochs)
        batches = bar if bar is not None else self.train_data
        n_batches = 0
        try:
            for index, batch in enumerate(batches):
                where = f"epoch {epoch}, batch {index}"
                self._call("on_batch_begin", index)
                inputs, targets = self._unpack(batch, "train_data", index)
                size = self._batch_size(inputs, targets, "train_data", index)
                inputs, targets = move_to_device(inputs, self.device), move_to_device(targets, self.device)
                with self._autocast():
                    outputs = self._forward(inputs, where)
                    self._check_outputs(outputs, targets, where)
                    loss = self._loss(outputs, targets, where)
                loss_value = loss.item()  # one host-device sync per batch: the price of checking every loss
                if self.check_finite and not math.isfinite(loss_value):
                    self.optimizer.zero_grad(set_to_none=True)
                    self.stop_training = True
                    raise NonFiniteLossError(loss_value, epoch, index)
                # Accumulating: weight each batch's mean loss by its size and divide the summed gradient by
                # the group's total size at the step, so the result is the gradient of the group's mean loss
                # whatever the batch sizes (a plain division by grad_accum_steps is wrong for a short batch).
                self.scaler.scale(loss * size if accumulating else loss).backward()
                pending_examples += size
                pending_batches += 1
                if pending_batches == self.grad_accum_steps:
                    self._step(pending_examples if accumulating else 1)
                    pending_examples, pending_batches = 0, 0
                loss_sum += loss_value * size
                examples += size
                for m in metrics:
                    m.update(outputs.detach(), targets)
                n_batches += 1
                if bar is not None:
                    bar.set_postfix(loss=f"{loss_sum / examples:.4g}", refresh=False)
                self._call("on_batch_end", index, {"loss": loss_value, "batch_size": size})
                if self.stop_training:
                    break
        finally:
            if bar is not None:
                bar.close()
        if n_batches == 0:
            raise ValueError(f"train_data yielded no batches in epoch {epoch}")
        if pending_batches:  # the epoch ended inside an accumulation group: apply what it has
            self._step(pending_examples if accumulating else 1)
        logs: dict[str, Any] = {"loss": loss_sum / examples}
        logs.update({m.name: m.compute() for m in metrics})
        return logs

    def _step(self, divide_by: int) -> None:
        self.scaler.unscale_(self.optimizer)  # true gradients, before averaging and clipping look at them
        if divide_by != 1:
            for group in self.optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.div_(divide_by)
        if self.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.scaler.step(self.optimizer)  # skipped (and the scale lowered) if float16 gradients overflowed
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.global_step += 1

    # --------------------------------------------------------------------------- evaluation
    def evaluate(self, data: Iterable, metrics: Optional[Sequence[Metric]] = None) -> dict[str, Any]:
        """Average loss (weighted by batch size) and metrics over ``data``, in eval mode, without
        gradients. ``metrics`` defaults to the Trainer's. The model's previous mode is restored."""
        if data is None or not isinstance(data, Iterable):
            raise TypeError(f"data must be an iterable of (inputs, targets) batches, got {type(data).__name__}")
        self._check_model_device()
        metrics = [m.fresh() for m in (self.metrics if metrics is None else metrics)]
        was_training = self.model.training
        self.model.eval()
        loss_sum, examples = 0.0, 0
        try:
            with torch.no_grad():
                for index, batch in enumerate(data):
                    where = f"evaluation batch {index}"
                    inputs, targets = self._unpack(batch, "the evaluation data", index)
                    size = self._batch_size(inputs, targets, "the evaluation data", index)
                    inputs, targets = move_to_device(inputs, self.device), move_to_device(targets, self.device)
                    with self._autocast():
                        outputs = self._forward(inputs, where)
                        self._check_outputs(outputs, targets, where)
                        loss = self._loss(outputs, targets, where)
                    loss_sum += loss.item() * size
                    examples += size
                    for m in metrics:
                        m.update(outputs, targets)
        finally:
            self.model.train(was_training)
        if examples == 0:
            raise ValueError("the evaluation data yielded no batches")
        result: dict[str, Any] = {"loss": loss_sum / examples}
        result.update({m.name: m.compute() for m in metrics})
        return result

    def predict(self, data: Union[torch.Tensor, Iterable], batch_size: int = 256) -> torch.Tensor:
        """The model's outputs for ``data``, concatenated on the CPU, in eval mode without gradients.

        ``data`` is a tensor of inputs (split into batches of ``batch_size``) or an iterable of batches,
        each an inputs tensor or an ``(inputs, ...)`` tuple whose targets are ignored. Outputs computed
        in float16/bfloat16 under ``amp`` are returned as float32.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(data, torch.Tensor):
            if data.ndim == 0 or data.shape[0] == 0:
                raise ValueError(f"predict needs a batch of inputs with a batch axis, got shape {tuple(data.shape)}")
            batches: Iterable = data.split(batch_size)
        elif isinstance(data, Iterable):
            batches = data
        else:
            raise TypeError(f"data must be a tensor or an iterable of batches, got {type(data).__name__}")
        self._check_model_device()
        was_training = self.model.training
        self.model.eval()
        outputs = []
        try:
            with torch.no_grad(), self._autocast():
                for index, batch in enumerate(batches):
                    inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
                    out = self._forward(move_to_device(inputs, self.device), f"prediction batch {index}")
                    if out.dtype in (torch.float16, torch.bfloat16):
                        out = out.float()
                    outputs.append(out.cpu())
        finally:
            self.model.train(was_training)
        if not outputs:
            raise ValueError("predict was given no batches")
        return torch.cat(outputs)

    # --------------------------------------------------------------------------- checkpoints
    def _data_generators(self) -> list[torch.Generator]:
        """The torch.Generators that decide the order of ``train_data`` (a DataLoader's, its sampler's)."""
        candidates = [getattr(self.train_data, "generator", None)]
        sampler = getattr(self.train_data, "sampler", None)
        candidates.append(getattr(sampler, "generator", None))
        batch_sampler = getattr(self.train_data, "batch_sampler", None)
        candidates.append(getattr(getattr(batch_sampler, "sampler", None), "generator", None))
        found: list[torch.Generator] = []
        for g in candidates:
            if isinstance(g, torch.Generator) and all(g is not h for h in found):
                found.append(g)
        return found

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly where it is: model, optimizer, gradient
        scaler, epoch and step counters, history, callbacks' state, the global random-number
        generators, and the generators (or ``state_dict``) of the training data's order."""
        data_state = self.train_data.state_dict() if callable(getattr(self.train_data, "state_dict", None)) else None
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "history": copy.deepcopy(self.history),
            "callbacks": [{"type": type(cb).__name__, "state": cb.state_dict()} for cb in self.callbacks],
            "rng": get_rng_state(),
            "data_generators": [g.get_state() for g in self._data_generators()],
            "data_state": data_state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`. The Trainer must have been built the same way (same model
        architecture, optimizer type, callbacks in the same order); mismatches raise
        :class:`~mlbook.train.checkpoint.CheckpointError`."""
        missing = {"format", "epoch", "model", "optimizer", "history", "callbacks", "rng"} - set(state)
        if missing:
            raise CheckpointError(f"the state is missing {sorted(missing)}; is it a Trainer checkpoint?")
        if state["format"] != CHECKPOINT_FORMAT:
            raise CheckpointError(f"checkpoint format {state['format']} is not supported (expected {CHECKPOINT_FORMAT})")
        saved_callbacks = [entry["type"] for entry in state["callbacks"]]
        current_callbacks = [type(cb).__name__ for cb in self.callbacks]
        if saved_callbacks != current_callbacks:
            raise CheckpointError(f"the checkpoint was made with callbacks {saved_callbacks}, this Trainer has "
                                  f"{current_callbacks}")
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise CheckpointError(f"the checkpoint's weights do not fit this model: {err}") from err
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as err:
            raise CheckpointError(f"the checkpoint's optimizer state does not fit this optimizer: {err}") from err
        if self.scaler.is_enabled() and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        for cb, entry in zip(self.callbacks, state["callbacks"]):
            cb.load_state_dict(entry["state"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state.get("global_step", 0))
        self.history = copy.deepcopy(state["history"])
        generators = self._data_generators()
        saved_generators = state.get("data_generators", [])
        if len(saved_generators) != len(generators):
            raise CheckpointError(f"the checkpoint holds {len(saved_generators)} data-order generator state(s), "
                                  f"this Trainer's train_data has {len(generators)}")
        for g, g_state in zip(generators, saved_generators):
            g.set_state(g_state)
        if state.get("data_state") is not None:
            self.train_data.load_state_dict(state["data_state"])
        set_rng_state(state["rng"])

    def save_checkpoint(self, path: Union[str, Path]) -> Path:
        """Atomically write :meth:`state_dict` to ``path`` (see :func:`~mlbook.train.save_checkpoint`)."""
        return save_checkpoint(self.state_dict(), path)

    def load_checkpoint(self, path: Union[str, Path]) -> None:
        """Read a checkpoint (verifying its length and digest) and restore it. Call :meth:`fit` right
        after, with the same total ``epochs``, to finish the run as if it had never stopped."""
        self.load_state_dict(load_checkpoint(path, map_location="cpu"))
