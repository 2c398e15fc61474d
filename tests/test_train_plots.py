"""mlbook.train.plot_history: one line per key, the best epoch marked where the history says, and errors
for keys or epochs the history does not have."""

import pytest
from matplotlib.figure import Figure

from mlbook.train import plot_history

HISTORY = {"loss": [1.0, 0.6, 0.4, 0.3, 0.25], "val_loss": [1.1, 0.8, 0.7, 0.75, 0.9]}


def test_lines_and_best_epoch_marker():
    fig = plot_history(HISTORY, best_epoch=2, stopped_epoch=4, title="t")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["loss"].get_xdata()) == [1, 2, 3, 4, 5]
    assert list(lines["val_loss"].get_ydata()) == HISTORY["val_loss"]
    marker = lines["best val_loss (epoch 3)"]
    assert (list(marker.get_xdata()), list(marker.get_ydata())) == ([3], [0.7])
    assert ax.get_title() == "t"


def test_log_scale_and_single_key():
    fig = plot_history(HISTORY, ["val_loss"], logy=True, ylabel="validation loss")
    assert fig.axes[0].get_yscale() == "log" and fig.axes[0].get_ylabel() == "validation loss"


def test_bad_input():
    with pytest.raises(KeyError, match=r"history has no \['val_accuracy'\]"):
        plot_history(HISTORY, ["val_accuracy"])
    with pytest.raises(ValueError, match="best_epoch=5 is outside the 5 epochs"):
        plot_history(HISTORY, best_epoch=5)
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_history({"loss": []}, ["loss"])
