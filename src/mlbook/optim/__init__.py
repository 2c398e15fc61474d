"""Optimizers that match ``torch.optim`` and run at memory-bandwidth speed (chapter: Optimizers).

- :class:`SGD`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop`, :class:`Adagrad`: the arguments, defaults
  and update rules of their ``torch.optim`` namesakes. Parameters are arrays updated in place by
  ``step(grads)``; ``state_dict`` / ``load_state_dict`` round-trip exactly.
- ``backend="numpy"`` (the readable reference, one in-place NumPy operation per line), ``"numba"`` (one
  fused parallel kernel per step, one pass over a :class:`FlatParameters` buffer) or ``"cuda"`` (the same
  kernel on an NVIDIA GPU, also on CUDA ``torch.Tensor`` s without a copy).
- Learning-rate schedules: :class:`StepLR`, :class:`CosineAnnealingLR`, :class:`LinearLR` (warm-up),
  :class:`SequentialLR`.
- :mod:`mlbook.optim.elementwise`: the per-element rules the fused kernels share;
  :mod:`mlbook.optim.problems`: test functions (ill-conditioned quadratic, Rosenbrock) and trajectories.
"""

from mlbook.optim.adagrad import Adagrad, adagrad_update_numpy
from mlbook.optim.adam import Adam, AdamW, adam_update_numpy
from mlbook.optim.base import BACKENDS, Optimizer
from mlbook.optim.flat import FlatParameters, contiguous_span
from mlbook.optim.rmsprop import RMSprop, rmsprop_update_numpy
from mlbook.optim.schedules import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR, StepLR
from mlbook.optim.sgd import SGD, sgd_update_numpy

__all__ = [
    "Optimizer", "BACKENDS", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad",
    "sgd_update_numpy", "adam_update_numpy", "rmsprop_update_numpy", "adagrad_update_numpy",
    "FlatParameters", "contiguous_span",
    "LRScheduler", "StepLR", "CosineAnnealingLR", "LinearLR", "SequentialLR",
]
