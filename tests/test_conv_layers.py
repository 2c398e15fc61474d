"""The convolutional layers of mlbook.nn: gradient checks, torch parity, and the chapter's small models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlbook.nn.conv import (
    AvgPool2d,
    Conv1d,
    Conv2d,
    Flatten,
    GlobalAvgPool1d,
    GlobalMaxPool1d,
    MaxPool2d,
    accuracy,
    digits_cnn,
    motif_sequences,
    one_hot_dna,
    sequence_cnn,
    train_classifier,
)
from mlbook.nn.gradcheck import check_module_gradients


@pytest.mark.parametrize("layer,shape", [
    (Conv2d(2, 3, (2, 3), stride=(2, 1), padding=1, dilation=(1, 2), rng=0), (2, 2, 6, 7)),
    (Conv2d(1, 2, 3, bias=False, rng=1), (1, 1, 4, 5)),
    (Conv1d(3, 2, 3, padding="same", rng=2), (2, 3, 7)),
    (Conv1d(2, 2, 2, stride=2, dilation=2, rng=3), (1, 2, 9)),
    (MaxPool2d(2), (2, 2, 4, 6)),
    (AvgPool2d(3, stride=2, padding=1), (1, 2, 5, 5)),
    (GlobalAvgPool1d(), (2, 3, 5)),
    (GlobalMaxPool1d(), (2, 3, 5)),
    (Flatten(), (2, 3, 2, 2)),
])
def test_gradients_match_finite_differences(layer, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    errors = check_module_gradients(layer, x)
    assert max(errors.values()) < 1e-6, errors


def test_conv1d_matches_torch():
    rng = np.random.default_rng(0)
    layer = Conv1d(4, 5, 7, padding="same", rng=0)
    x = rng.standard_normal((3, 4, 20))
    expected = F.conv1d(torch.from_numpy(x), torch.from_numpy(layer.params["weight"][:, :, 0, :]),
                        torch.from_numpy(layer.params["bias"]), padding=3).numpy()
    out = layer.forward(x)
    assert out.shape == (3, 5, 20)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_conv2d_layer_methods_agree_and_shapes():
    layer = Conv2d(3, 4, 3, padding=1, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5))
    ref = layer.forward(x)
    layer.method = "numba"
    np.testing.assert_allclose(layer.forward(x), ref, rtol=1e-12, atol=1e-12)
    assert layer.output_shape((2, 3, 5, 5)) == (2, 4, 5, 5)
    assert "Conv2d(3, 4, kernel_size=(3, 3)" in repr(layer)


def test_layer_errors():
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        Conv2d(0, 3, 3)
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1 and an even dilation\*\(k-1\)"):
        Conv1d(1, 1, 4, padding="same")
    with pytest.raises(ValueError, match=r"Conv1d expects a 3-D input \(N, C, L\)"):
        Conv1d(1, 1, 3).forward(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Conv2d(1, 1, 3).backward(np.zeros((1, 1, 1, 1)))
    with pytest.raises(ValueError, match="channel mismatch"):
        Conv2d(2, 1, 3).forward(np.zeros((1, 3, 5, 5)))


def test_one_hot_dna():
    encoded = one_hot_dna("ACGTN")
    np.testing.assert_array_equal(encoded, [[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]])
    with pytest.raises(TypeError, match="takes a str"):
        one_hot_dna(b"ACGT")


def test_motif_sequences_are_labelled_by_the_motif():
    seqs, labels = motif_sequences(50, 30, "GATTACA", rng=1)
    assert len(seqs) == 50 and all(len(s) == 30 for s in seqs)
    assert all(("GATTACA" in s) == bool(label) for s, label in zip(seqs, labels))
    assert labels.sum() == 25


def test_digits_cnn_learns():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train, test = order[:800], order[800:1100]
    model = digits_cnn(rng=0)
    history = train_classifier(model, x[train], digits.target[train], epochs=4, batch_size=32, lr=1e-2)
    assert history[-1] < history[0]
    assert accuracy(model, x[test], digits.target[test]) > 0.85


def test_sequence_cnn_finds_the_motif():
    seqs, labels = motif_sequences(400, 40, rng=0)
    x = np.stack([one_hot_dna(s) for s in seqs])
    model = sequence_cnn(channels=16, rng=0)
    train_classifier(model, x[:300], labels[:300], epochs=10, lr=1e-2)
    assert accuracy(model, x[300:], labels[300:]) > 0.9
