"""Convolutional layers for :mod:`mlbook.nn`, built on :mod:`mlbook.kernels.conv` and :mod:`mlbook.kernels.pooling`.

- :class:`Conv2d` (NCHW images), :class:`Conv1d` (NCL sequences, ``padding="same"`` allowed),
- :class:`MaxPool2d`, :class:`AvgPool2d`, :class:`GlobalAvgPool1d`, :class:`Flatten`,
- :func:`digits_cnn` and :func:`train_classifier`: the small CNN the Convolution chapter trains on
  scikit-learn's 8 x 8 handwritten digits,
- :func:`one_hot_dna` and :func:`motif_sequences`: the DNA sequence example for Conv1d.

Every layer keeps the :class:`~mlbook.nn.module.Module` contract: ``forward`` caches what ``backward``
needs; ``backward(dL/dy)`` fills ``self.grads`` and returns ``dL/dx``.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np

from mlbook.kernels.conv import IntOrPair, conv2d, conv2d_backward, conv_geometry, pair
from mlbook.kernels.pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from mlbook.nn.module import Module

__all__ = [
    "Conv2d",
    "Conv1d",
    "MaxPool2d",
    "AvgPool2d",
    "GlobalAvgPool1d",
    "GlobalMaxPool1d",
    "Flatten",
    "digits_cnn",
    "train_classifier",
    "accuracy",
    "one_hot_dna",
    "motif_sequences",
    "sequence_cnn",
]

SeedLike = Union[None, int, np.random.Generator]


def _cached(layer: Module, value: Optional[object]) -> object:
    if value is None:
        raise RuntimeError(f"{type(layer).__name__}.backward called before forward")
    return value


class Conv2d(Module):
    """``y = conv2d(x, W) + b`` on ``(N, C_in, H, W)`` images; ``W`` is ``(C_out, C_in, kH, kW)``, ``b`` is ``(C_out,)``.

    Weights start He-normal with fan-in ``C_in kH kW`` (the number of inputs each output sums), biases at 0.
    ``method`` picks the forward kernel (``"im2col"``, ``"numba"``, ``"torch"``, ...); the backward pass
    uses im2col/col2im in NumPy (``"numba"`` when the forward is ``"numba"``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrPair, *, stride: IntOrPair = 1,
                 padding: IntOrPair = 0, dilation: IntOrPair = 1, bias: bool = True, rng: SeedLike = None,
                 dtype=np.float64, method: str = "im2col") -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        kh, kw = pair(kernel_size, "kernel_size", minimum=1)
        self.stride = pair(stride, "stride", minimum=1)
        self.padding = pair(padding, "padding", minimum=0)
        self.dilation = pair(dilation, "dilation", minimum=1)
        self.method = method
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        fan_in = in_channels * kh * kw
        self.params["weight"] = (gen.standard_normal((out_channels, in_channels, kh, kw))
                                 * math.sqrt(2.0 / fan_in)).astype(dtype)
        if bias:
            self.params["bias"] = np.zeros(out_channels, dtype=dtype)
        self._x: Optional[np.ndarray] = None

    def _kwargs(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=self.params["weight"].dtype)
        self._x = x
        return conv2d(x, self.params["weight"], self.params.get("bias"), method=self.method, **self._kwargs())

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        x = _cached(self, self._x)
        method = "numba" if self.method == "numba" else "im2col"
        grad_x, grad_w, grad_b = conv2d_backward(grad_output, x, self.params["weight"], bias="bias" in self.params,
                                                 method=method, **self._kwargs())
        self.grads = {"weight": grad_w}
        if grad_b is not None:
            self.grads["bias"] = grad_b
        return grad_x

    def output_shape(self, input_shape: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return conv_geometry(input_shape, self.params["weight"].shape, **self._kwargs()).output_shape

    def __repr__(self) -> str:
        o, c, kh, kw = self.params["weight"].shape
        return (f"Conv2d({c}, {o}, kernel_size=({kh}, {kw}), stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, bias={'bias' in self.params})")


class Conv1d(Module):
    """1-D convolution over sequences ``(N, C_in, L)`` with weights ``(C_out, C_in, k)``.

    It is a :class:`Conv2d` whose images are one row high: ``(N, C, L) -> (N, C, 1, L)``, kernel ``(1, k)``.
    ``padding="same"`` (stride 1, odd ``dilation * (k - 1)``-aligned kernels) keeps the length, like Keras.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
                 padding: Union[int, str] = 0, dilation: int = 1, bias: bool = True, rng: SeedLike = None,
                 dtype=np.float64, method: str = "im2col") -> None:
        super().__init__()
        if padding == "same":
            total = dilation * (kernel_size - 1)
            if stride != 1 or total % 2:
                raise ValueError(f"padding='same' needs stride 1 and an even dilation*(k-1); got stride={stride}, "
                                 f"dilation*(k-1) = {dilation}*({kernel_size}-1) = {total}")
            padding = total // 2
        if isinstance(padding, str):
            raise ValueError(f"padding must be an int or 'same', got {padding!r}")
        self.inner = Conv2d(in_channels, out_channels, (1, kernel_size), stride=(1, stride), padding=(0, padding),
                            dilation=(1, dilation), bias=bias, rng=rng, dtype=dtype, method=method)
        self.params = self.inner.params  # the same arrays: an optimizer updating one updates the other

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"Conv1d expects a 3-D input (N, C, L), got shape {x.shape}")
        return self.inner.forward(x[:, :, None, :])[:, :, 0, :]

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        grad_x = self.inner.backward(np.asarray(grad_output)[:, :, None, :])
        self.grads = self.inner.grads
        return grad_x[:, :, 0, :]

    def __repr__(self) -> str:
        o, c, _, k = self.params["weight"].shape
        return f"Conv1d({c}, {o}, kernel_size={k}, padding={self.inner.padding[1]})"


class MaxPool2d(Module):
    """Max pooling over ``kernel_size`` windows (stride defaults to the window): ``(N, C, H, W) -> (N, C, H', W')``."""

    def __init__(self, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None, padding: IntOrPair = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self._cache: Optional[tuple] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        y, argmax = max_pool2d(x, self.kernel_size, self.stride, self.padding, return_indices=True)
        self._cache = (np.shape(x), argmax)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        shape, argmax = _cached(self, self._cache)
        self.grads = {}
        return max_pool2d_backward(grad_output, argmax, shape, self.kernel_size, self.stride, self.padding)

    def __repr__(self) -> str:
        return f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding})"


class AvgPool2d(Module):
    """Average pooling over ``kernel_size`` windows (zero padding counted, as in torch)."""

    def __init__(self, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None, padding: IntOrPair = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self._shape: Optional[tuple] = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = avg_pool2d(x, self.kernel_size, self.stride, self.padding)
        self._shape = np.shape(x)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        shape = _cached(self, self._shape)
        self.grads = {}
        return avg_pool2d_backward(grad_output, shape, self.kernel_size, self.stride, self.padding)

    def __repr__(self) -> str:
        return f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding})"


class GlobalAvgPool1d(Module):
    """Mean over the length axis: ``(N, C, L) -> (N, C)``. Makes a sequence model length-independent."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"GlobalAvgPool1d expects (N, C, L), got shape {x.shape}")
        self._shape = x.shape
        return x.mean(axis=2)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        shape = _cached(self, getattr(self, "_shape", None))
        self.grads = {}
        return np.broadcast_to(np.asarray(grad_output)[:, :, None] / shape[2], shape).copy()


class GlobalMaxPool1d(Module):
    """Maximum over the length axis: ``(N, C, L) -> (N, C)``: "did this filter fire anywhere?"."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"GlobalMaxPool1d expects (N, C, L), got shape {x.shape}")
        self._shape = x.shape
        self._where = x.argmax(axis=2)
        return np.take_along_axis(x, self._where[:, :, None], axis=2)[:, :, 0]

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        shape = _cached(self, getattr(self, "_shape", None))
        self.grads = {}
        grad = np.zeros(shape, dtype=np.asarray(grad_output).dtype)
        np.put_along_axis(grad, self._where[:, :, None], np.asarray(grad_output)[:, :, None], axis=2)
        return grad


class Flatten(Module):
    """``(N, d1, d2, ...) -> (N, d1 * d2 * ...)``, the bridge from feature maps to a dense layer."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"Flatten expects at least (N, features), got shape {x.shape}")
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        shape = _cached(self, getattr(self, "_shape", None))
        self.grads = {}
        return np.asarray(grad_output).reshape(shape)


# --------------------------------------------------------------------------------------------------
# The chapter's small CNNs and their training loop
# --------------------------------------------------------------------------------------------------

def digits_cnn(channels: Sequence[int] = (8, 16), n_classes: int = 10, *, rng: SeedLike = 0,
               dtype=np.float32) -> Module:
    """conv3x3 -> ReLU -> maxpool2 -> conv3x3 -> ReLU -> maxpool2 -> flatten -> linear, for 1 x 8 x 8 images.

    Shapes: (N, 1, 8, 8) -> (N, c1, 8, 8) -> (N, c1, 4, 4) -> (N, c2, 4, 4) -> (N, c2, 2, 2) -> (N, 4 c2) -> (N, 10).
    """
    from mlbook.nn.layers import Linear, Sequential
    from mlbook.nn.layers_activation import ReLU

    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    c1, c2 = channels
    return Sequential(
        Conv2d(1, c1, 3, padding=1, rng=gen, dtype=dtype), ReLU(), MaxPool2d(2),
        Conv2d(c1, c2, 3, padding=1, rng=gen, dtype=dtype), ReLU(), MaxPool2d(2),
        Flatten(), Linear(c2 * 2 * 2, n_classes, rng=gen, dtype=dtype),
    )


def sequence_cnn(channels: int = 16, kernel_size: int = 7, n_classes: int = 2, *, pool: str = "max",
                 rng: SeedLike = 0, dtype=np.float32) -> Module:
    """Conv1d(4 -> channels, 'same') -> ReLU -> global pooling -> Linear, for one-hot DNA ``(N, 4, L)``.

    ``pool="avg"`` is the seed's Keras model (GlobalAveragePooling1D); ``"max"`` asks "did the motif
    occur anywhere", which suits a motif that appears once in a long sequence.
    """
    if pool not in ("max", "avg"):
        raise ValueError(f"pool must be 'max' or 'avg', got {pool!r}")
    from mlbook.nn.layers import Linear, Sequential
    from mlbook.nn.layers_activation import ReLU

    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    return Sequential(Conv1d(4, channels, kernel_size, padding="same", rng=gen, dtype=dtype), ReLU(),
                      GlobalMaxPool1d() if pool == "max" else GlobalAvgPool1d(),
                      Linear(channels, n_classes, rng=gen, dtype=dtype))


def accuracy(model: Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Fraction of examples whose arg-max logit is the label (in eval mode, in batches)."""
    model.eval()
    predictions = np.concatenate([model.forward(x[i:i + batch_size]).argmax(axis=1)
                                  for i in range(0, len(x), batch_size)])
    model.train()
    return float(np.mean(predictions == np.asarray(y)))


def train_classifier(model: Module, x: np.ndarray, y: np.ndarray, *, epochs: int = 10, batch_size: int = 32,
                     lr: float = 1e-2, rng: SeedLike = 0) -> list[float]:
    """Mini-batch Adam on softmax cross-entropy; returns the mean training loss of every epoch."""
    from mlbook.nn.losses import cross_entropy
    from mlbook.optim import Adam

    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    optimizer = Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in range(epochs):
        order = gen.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            logits = model.forward(x[batch])
            loss, grad = cross_entropy(logits, y[batch])
            model.backward(grad)
            optimizer.step(model.gradients())
            total += float(loss) * len(batch)
        history.append(total / len(x))
    return history


# --------------------------------------------------------------------------------------------------
# DNA sequences for Conv1d
# --------------------------------------------------------------------------------------------------

DNA_ALPHABET = "ACGT"


def one_hot_dna(sequence: str, dtype=np.float32) -> np.ndarray:
    """``(4, L)`` one-hot encoding, rows A, C, G, T (channels first, ready for :class:`Conv1d`).

    Unknown letters (``N`` for "any base") become all-zero columns rather than silently meaning ``A``.
    """
    if not isinstance(sequence, str):
        raise TypeError(f"one_hot_dna takes a str, got {type(sequence).__name__}")
    codes = np.frombuffer(sequence.upper().encode("ascii"), dtype=np.uint8)
    lookup = np.full(256, -1, dtype=np.int64)
    for i, base in enumerate(DNA_ALPHABET):
        lookup[ord(base)] = i
    index = lookup[codes]
    out = np.zeros((4, len(sequence)), dtype=dtype)
    known = index >= 0
    out[index[known], np.nonzero(known)[0]] = 1
    return out


def motif_sequences(n: int, length: int = 60, motif: str = "TATAAT", *, rng: SeedLike = 0) -> tuple[list[str], np.ndarray]:
    """``n`` random DNA strings; label 1 (half of them) when ``motif`` was planted at a random position.

    A position-independent pattern is exactly what a convolution followed by global pooling detects.
    """
    if len(motif) > length:
        raise ValueError(f"motif of length {len(motif)} does not fit in sequences of length {length}")
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    labels = (np.arange(n) % 2).astype(np.int64)
    gen.shuffle(labels)
    sequences = []
    for label in labels:
        while True:
            seq = "".join(gen.choice(list(DNA_ALPHABET), size=length))
            if label == 1:
                at = int(gen.integers(0, length - len(motif) + 1))
                seq = seq[:at] + motif + seq[at + len(motif):]
                break
            if motif not in seq:  # a negative must not contain the motif by chance
                break
        sequences.append(seq)
    return sequences, labels
