"""mlbook.train.metrics: streaming accuracy, precision, recall, F1 and confusion matrix against
scikit-learn, for every way of splitting the data into batches, and their bad-input errors."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from mlbook.train.metrics import Accuracy, ConfusionMatrix, F1Score, Precision, Recall, predicted_labels


@st.composite
def labelled_scores(draw):
    num_classes = draw(st.integers(2, 5))
    n = draw(st.integers(1, 60))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    scores = torch.from_numpy(rng.standard_normal((n, num_classes)))
    targets = torch.from_numpy(rng.integers(0, num_classes, n))
    cuts = sorted(draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=5)))
    return num_classes, scores, targets, cuts


def in_batches(metric, scores, targets, cuts):
    bounds = [0, *[c for c in cuts if 0 < c < len(targets)], len(targets)]
    for lo, hi in zip(bounds, bounds[1:]):
        if hi > lo:
            metric.update(scores[lo:hi], targets[lo:hi])
    return metric.compute()


@settings(max_examples=60, deadline=None)
@given(labelled_scores(), st.sampled_from(["macro", "micro"]))
def test_multiclass_metrics_match_sklearn_however_batched(data, average):
    num_classes, scores, targets, cuts = data
    y_true, y_pred = targets.numpy(), scores.argmax(1).numpy()
    labels = list(range(num_classes))
    assert in_batches(Accuracy(), scores, targets, cuts) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(in_batches(ConfusionMatrix(num_classes), scores, targets, cuts).numpy(),
                                  skm.confusion_matrix(y_true, y_pred, labels=labels))
    for ours, theirs in [(Precision, skm.precision_score), (Recall, skm.recall_score), (F1Score, skm.f1_score)]:
        expected = theirs(y_true, y_pred, labels=labels, average=average, zero_division=0)
        assert in_batches(ours(num_classes, average=average), scores, targets, cuts) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 50), seed=st.integers(0, 2**31), shape=st.sampled_from(["(B,)", "(B,1)"]),
       threshold=st.sampled_from([0.0, 0.5]), cut=st.integers(0, 50))
def test_binary_metrics_from_logits_or_probabilities_match_sklearn(n, seed, shape, threshold, cut):
    rng = np.random.default_rng(seed)
    raw = rng.standard_normal(n) if threshold == 0.0 else rng.uniform(size=n)
    outputs = torch.from_numpy(raw if shape == "(B,)" else raw[:, None])
    targets = torch.from_numpy(rng.integers(0, 2, n).astype(np.float32))  # BCE-style float targets
    y_true, y_pred = targets.numpy().astype(int), (raw > threshold).astype(int)
    cuts = [cut]
    assert in_batches(Accuracy(threshold), outputs, targets, cuts) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    for ours, theirs in [(Precision, skm.precision_score), (Recall, skm.recall_score), (F1Score, skm.f1_score)]:
        expected = theirs(y_true, y_pred, zero_division=0)
        assert in_batches(ours(threshold=threshold), outputs, targets, cuts) == pytest.approx(expected, abs=1e-12)


def test_averaging_per_batch_scores_would_be_wrong():
    # 3 right of 4, then 0 of 1: the streaming answer is 3/5, the mean of per-batch accuracies 3/8
    scores = torch.tensor([[1.0, 0], [1, 0], [1, 0], [0, 1], [1, 0]])
    targets = torch.tensor([0, 0, 0, 0, 1])
    acc = Accuracy()
    acc.update(scores[:4], targets[:4])
    acc.update(scores[4:], targets[4:])
    assert acc.compute() == 3 / 5


def test_reset_and_fresh():
    acc = Accuracy()
    acc.update(torch.tensor([[0.0, 1.0]]), torch.tensor([1]))
    clone = acc.fresh()
    assert clone.total == 0 and acc.total == 1
    acc.reset()
    with pytest.raises(ValueError, match="no examples"):
        acc.compute()
    with pytest.raises(ValueError, match="no examples"):
        F1Score().compute()


def test_predicted_labels():
    assert predicted_labels(torch.tensor([[0.1, 0.9, 0.0], [2.0, 1.0, 0.0]])).tolist() == [1, 0]
    assert predicted_labels(torch.tensor([-0.5, 0.5])).tolist() == [0, 1]
    assert predicted_labels(torch.tensor([[0.4], [0.6]]), threshold=0.5).tolist() == [0, 1]


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match=r"targets must have shape \(3,\).*got \(2,\)"):
        Accuracy().update(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"outputs must have shape.*got \(2, 3, 4\)"):
        Accuracy().update(torch.zeros(2, 3, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 2\], got values from 0 to 3"):
        ConfusionMatrix(3).update(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="4 class scores but num_classes=3"):
        ConfusionMatrix(3).update(torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="whole numbers"):
        Accuracy().update(torch.zeros(2), torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        ConfusionMatrix(1)
    with pytest.raises(ValueError, match="average must be"):
        Precision(3, average="weighted")
    with pytest.raises(ValueError, match="positive_class must lie in"):
        Recall(2, positive_class=2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        Accuracy().update(np.zeros((2, 2)), torch.zeros(2))
