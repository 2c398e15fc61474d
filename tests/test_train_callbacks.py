"""mlbook.train.EarlyStopping and ModelCheckpoint: modes, min_delta, patience, NaN, restoring the best
weights, on scripted sequences of monitored values and inside a real Trainer."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mlbook.train import EarlyStopping, LambdaCallback, ModelCheckpoint, Trainer, load_checkpoint


class FakeTrainer(SimpleNamespace):
    """What a callback touches: the model, the epoch counter, the stop flag."""


def run(callback, values, monitor="val_loss"):
    """Feed ``values`` to the callback one epoch at a time, changing the model's weight to the epoch
    number each time; return (epochs run, the weight left in the model)."""
    model = nn.Linear(1, 1, bias=False)
    trainer = FakeTrainer(model=model, epoch=0, stop_training=False)
    callback.on_train_begin(trainer)
    epochs = 0
    for epoch, value in enumerate(values):
        with torch.no_grad():
            model.weight.fill_(epoch)
        trainer.epoch = epoch + 1
        callback.on_epoch_end(trainer, epoch, {monitor: value})
        epochs += 1
        if trainer.stop_training:
            break
    callback.on_train_end(trainer)
    return epochs, model.weight.item()


@pytest.mark.parametrize("values, patience, mode, min_delta, stopped_after, best_epoch", [
    ([5, 4, 3, 3.5, 3.2, 3.1, 2], 3, "min", 0.0, 5, 2),        # 3 epochs without a new minimum: stop after epoch 5
    ([5, 4, 3, 3.5, 2.9, 3.1, 3.0, 3.2, 1], 3, "min", 0.0, 7, 4),  # 2.9 resets the patience
    ([5, 4, 3, 3.5, 2.95, 3.1, 3.0], 3, "min", 0.1, 5, 2),     # ...but not when it must beat the best by 0.1
    ([5, 4, 3, 3.5, 2.95, 3.1], 3, "min", 0.0, None, 4),        # runs out of epochs first: no stop, no restore
    ([0.5, 0.6, 0.7, 0.7, 0.69, 0.71], 2, "max", 0.0, 4, 2),   # equal is not better
    ([0.5, 0.6, 0.7, 0.65, 0.71, 0.70], 2, "max", 0.0, None, 4),
    ([0.5, 0.6, 0.7, 0.65, 0.71, 0.70, 0.69], 2, "max", 0.02, 4, 2),
    ([1, 2, 3], 0, "min", 0.0, 1, 0),                          # patience 0: the first bad epoch stops
    ([1, float("nan"), float("nan"), 0.5], 2, "min", 0.0, 2, 0),  # NaN is never an improvement
])
def test_early_stopping_sequences(values, patience, mode, min_delta, stopped_after, best_epoch):
    es = EarlyStopping(patience=patience, mode=mode, min_delta=min_delta)
    ran, weight = run(es, values)
    assert es.stopped_epoch == stopped_after
    assert ran == (len(values) if stopped_after is None else stopped_after + 1)
    assert es.best_epoch == best_epoch and es.best == values[best_epoch]
    assert weight == (ran - 1 if stopped_after is None else best_epoch)  # best weights restored after an early stop


def test_early_stopping_without_restoring():
    es = EarlyStopping(patience=1, restore_best_weights=False)
    ran, weight = run(es, [1.0, 2.0, 3.0])
    assert (ran, weight, es.best_weights) == (2, 1.0, None)


def test_early_stopping_state_round_trip_and_resume_does_not_reset():
    es = EarlyStopping(patience=3)
    run(es, [3.0, 2.0, 2.5])
    state = es.state_dict()
    again = EarlyStopping(patience=3)
    again.load_state_dict(state)
    again.on_train_begin(FakeTrainer(model=None, epoch=3, stop_training=False))  # a resumed run keeps its state
    assert (again.best, again.best_epoch, again.wait) == (2.0, 1, 1)
    again.on_train_begin(FakeTrainer(model=None, epoch=0, stop_training=False))  # a fresh run starts over
    assert again.best is None and again.wait == 0


def test_monitor_errors_and_bad_arguments():
    with pytest.raises(KeyError, match=r"monitors 'val_loss'.*\['loss'\].*pass val_data"):
        run(EarlyStopping(), [1.0], monitor="loss")
    with pytest.raises(ValueError, match="mode must be 'min'.*got 'up'"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="min_delta must be a number >= 0"):
        EarlyStopping(min_delta=-0.1)
    with pytest.raises(ValueError, match="patience must be an integer >= 0"):
        EarlyStopping(patience=1.5)
    with pytest.raises(ValueError, match="unknown hooks"):
        LambdaCallback(on_step=print)


def overfitting_problem(seed=0):
    """Few noisy examples and a wide network: validation loss falls, then rises."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(24, 2, generator=g)
    y = X[:, :1] + 0.8 * torch.randn(24, 1, generator=g)
    Xv = torch.randn(200, 2, generator=g)
    yv = Xv[:, :1]
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 128), nn.Tanh(), nn.Linear(128, 1))
    return model, DataLoader(TensorDataset(X, y), batch_size=8), DataLoader(TensorDataset(Xv, yv), batch_size=100)


def test_early_stopping_in_a_real_run_restores_the_best_validation_weights(tmp_path):
    model, train, val = overfitting_problem()
    es = EarlyStopping(patience=5)
    best_file = tmp_path / "best.ckpt"
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=0.01), nn.MSELoss(), train, val,
                      callbacks=[ModelCheckpoint(best_file, save_best_only=True), es], progress=False)
    history = trainer.fit(300)
    val_losses = history["val_loss"]
    assert es.stopped_epoch is not None and len(val_losses) == es.best_epoch + 1 + 5
    assert es.best == min(val_losses) == val_losses[es.best_epoch]
    assert trainer.evaluate(val)["loss"] == pytest.approx(es.best, rel=1e-6)  # the best weights are back
    saved = load_checkpoint(best_file)
    assert saved["epoch"] == es.best_epoch + 1  # the best-only checkpoint is that epoch's
    for key, tensor in model.state_dict().items():
        assert torch.equal(saved["model"][key], tensor)


def test_model_checkpoint_per_epoch_files(tmp_path):
    model, train, val = overfitting_problem()
    checkpoint = ModelCheckpoint(tmp_path / "epoch{epoch}.ckpt")
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), train, val, callbacks=[checkpoint],
            progress=False).fit(3)
    assert [p.name for p in checkpoint.saved] == ["epoch1.ckpt", "epoch2.ckpt", "epoch3.ckpt"]
    assert [load_checkpoint(p)["epoch"] for p in checkpoint.saved] == [1, 2, 3]
