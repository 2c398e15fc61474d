"""mlbook.train.Trainer: the same weights as a hand-written PyTorch loop, batch-size-weighted epoch
losses, gradient accumulation equal to the large batch, train/eval modes and no_grad, callbacks, mixed
precision (bfloat16, and float16 with a gradient scaler, on the CPU), NaN detection, and bad input."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mlbook.train import (
    Accuracy,
    Callback,
    LambdaCallback,
    NonFiniteLossError,
    Trainer,
    default_device,
    move_to_device,
    seed_everything,
)


def regression_data(n=70, features=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, features, generator=g, dtype=dtype)
    y = X @ torch.arange(1.0, features + 1, dtype=dtype) + 0.1 * torch.randn(n, generator=g, dtype=dtype)
    return X, y[:, None]


def mlp(features=3, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, 8), nn.Tanh(), nn.Linear(8, 1)).to(dtype)


def loader(X, y, batch_size, shuffle=False):
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle)


def test_matches_a_hand_written_loop_bit_for_bit():
    X, y = regression_data()
    model_a, model_b = mlp(), mlp()
    opt_a = torch.optim.SGD(model_a.parameters(), lr=0.05, momentum=0.9)
    opt_b = torch.optim.SGD(model_b.parameters(), lr=0.05, momentum=0.9)
    data = loader(X, y, 16)
    for _ in range(3):
        model_a.train()
        for xb, yb in data:
            opt_a.zero_grad()
            nn.functional.mse_loss(model_a(xb), yb).backward()
            opt_a.step()
    Trainer(model_b, opt_b, nn.MSELoss(), data, device="cpu", progress=False).fit(3)
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(a, b)


def test_epoch_loss_is_weighted_by_batch_size():
    X, y = regression_data(n=70)  # batches of 32, 32 and 6
    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.0), nn.MSELoss(), loader(X, y, 32),
                      loader(X, y, 25), progress=False)
    history = trainer.fit(1)
    with torch.no_grad():
        full = nn.functional.mse_loss(model(X), y).item()
    assert history["loss"][0] == pytest.approx(full, rel=1e-12)
    assert history["val_loss"][0] == pytest.approx(full, rel=1e-12)
    batch_means = [nn.functional.mse_loss(model(xb), yb).item() for xb, yb in loader(X, y, 32)]
    assert abs(sum(batch_means) / 3 - full) > 1e-4  # the naive mean of batch means is not the answer


@pytest.mark.parametrize("n, small, steps", [(64, 8, 4), (70, 8, 4), (70, 5, 3), (61, 7, 2)])
def test_gradient_accumulation_gives_the_large_batch_update(n, small, steps):
    X, y = regression_data(n=n)
    model_small, model_large = mlp(), mlp()
    small_trainer = Trainer(model_small, torch.optim.SGD(model_small.parameters(), lr=0.1), nn.MSELoss(),
                            loader(X, y, small), grad_accum_steps=steps, progress=False)
    large_trainer = Trainer(model_large, torch.optim.SGD(model_large.parameters(), lr=0.1), nn.MSELoss(),
                            loader(X, y, small * steps), progress=False)
    small_trainer.fit(2)
    large_trainer.fit(2)
    assert small_trainer.global_step == large_trainer.global_step == 2 * -(-n // (small * steps))
    for a, b in zip(model_small.parameters(), model_large.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert small_trainer.history["loss"] == pytest.approx(large_trainer.history["loss"], rel=1e-12)


class ModeRecorder(nn.Module):
    """Records, for every forward call, whether it ran in training mode and with gradients enabled."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 1, dtype=torch.float64)
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_grad_enabled(), x.dtype))
        return self.linear(x)


def test_train_and_eval_modes_and_no_grad():
    X, y = regression_data(n=20)
    model = ModeRecorder()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), loader(X, y, 10),
                      loader(X, y, 20), progress=False)
    trainer.fit(1)
    assert model.calls == [(True, True, torch.float64)] * 2 + [(False, False, torch.float64)]
    model.calls.clear()
    model.train()
    out = trainer.predict(X, batch_size=8)
    assert model.calls == [(False, False, torch.float64)] * 3 and model.training  # the mode is restored
    torch.testing.assert_close(out, model.linear(X).detach())
    model.eval()
    trainer.evaluate(loader(X, y, 20))
    assert not model.training


def test_predict_accepts_tensors_and_batches_of_pairs():
    X, y = regression_data(n=23)
    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.0), nn.MSELoss(), loader(X, y, 4), progress=False)
    expected = model(X).detach()
    # batched matrix products may round differently from one big product: equal to ~1 ulp, not bit for bit
    torch.testing.assert_close(trainer.predict(X, batch_size=5), expected, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(trainer.predict(loader(X, y, 7)), expected, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(trainer.predict([X[:10], X[10:]]), expected, rtol=1e-14, atol=1e-15)
    assert trainer.predict(X).shape == (23, 1)


def test_callbacks_see_every_hook_in_order_and_can_stop():
    X, y = regression_data(n=30)
    events = []

    class Recorder(Callback):
        def on_train_begin(self, trainer): events.append("train_begin")
        def on_train_end(self, trainer): events.append("train_end")
        def on_epoch_begin(self, trainer, epoch): events.append(f"epoch_begin {epoch}")
        def on_epoch_end(self, trainer, epoch, logs): events.append(f"epoch_end {epoch} {sorted(logs)}")
        def on_batch_begin(self, trainer, batch): events.append(f"batch_begin {batch}")
        def on_batch_end(self, trainer, batch, logs): events.append(f"batch_end {batch} {logs['batch_size']}")

    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), loader(X, y, 12),
                      loader(X, y, 30), callbacks=[Recorder()], progress=False)
    trainer.fit(2)
    per_epoch = ["batch_begin 0", "batch_end 0 12", "batch_begin 1", "batch_end 1 12", "batch_begin 2", "batch_end 2 6"]
    logs = "['loss', 'lr', 'val_loss']"
    assert events == (["train_begin", "epoch_begin 0", *per_epoch, f"epoch_end 0 {logs}", "epoch_begin 1",
                       *per_epoch, f"epoch_end 1 {logs}", "train_end"])

    def stop_at_second_batch(trainer, batch, logs):
        if batch == 1:
            trainer.stop_training = True

    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), loader(X, y, 12),
                      callbacks=[LambdaCallback(on_batch_end=stop_at_second_batch)], progress=False)
    trainer.fit(5)
    assert trainer.epoch == 1 and trainer.global_step == 2


def test_callbacks_run_in_ascending_order():
    seen = []

    class Late(Callback):
        order = 10
        def on_train_begin(self, trainer): seen.append("late")

    class Early(Callback):
        def on_train_begin(self, trainer): seen.append("early")

    X, y = regression_data(n=8)
    model = mlp()
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.0), nn.MSELoss(), loader(X, y, 8),
            callbacks=[Late(), Early()], progress=False).fit(1)
    assert seen == ["early", "late"]


def classification_data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=g)
    return X, (X[:, 0] + X[:, 1] > 0).long()


def classifier():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))


def test_metrics_are_recorded_for_training_and_validation():
    X, y = classification_data()
    torch.manual_seed(0)
    model = classifier()
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=0.02), nn.CrossEntropyLoss(), loader(X, y, 16),
                      loader(X, y, 50), metrics=[Accuracy()], progress=False)
    history = trainer.fit(15)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert history["val_accuracy"][-1] > 0.9 > history["val_accuracy"][0] - 0.2
    with torch.no_grad():
        acc = (model(X).argmax(1) == y).float().mean().item()
    assert history["val_accuracy"][-1] == pytest.approx(acc)


def test_bfloat16_autocast_on_cpu():
    X, y = classification_data()
    torch.manual_seed(0)
    model = classifier()
    dtypes = []
    model[0].register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=0.02), nn.CrossEntropyLoss(), loader(X, y, 16),
                      device="cpu", amp=True, progress=False)
    assert trainer.amp_dtype == torch.bfloat16 and not trainer.scaler.is_enabled()
    history = trainer.fit(8)
    assert dtypes[0] == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay in float32
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert trainer.predict(X).dtype == torch.float32


def test_float16_with_gradient_scaler_on_cpu():
    X, y = classification_data()
    torch.manual_seed(0)
    model = classifier()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), loader(X, y, 16),
                      device="cpu", amp=True, amp_dtype=torch.float16, max_grad_norm=5.0, progress=False)
    assert trainer.scaler.is_enabled()
    history = trainer.fit(10)
    assert history["loss"][-1] < history["loss"][0]
    assert trainer.scaler.get_scale() > 1.0  # the loss is scaled up before backward


def test_gradient_clipping_bounds_the_step():
    X, y = regression_data(n=32)
    y = y * 1000  # huge gradients
    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    Trainer(model, torch.optim.SGD(model.parameters(), lr=1.0), nn.MSELoss(), loader(X, y, 32), max_grad_norm=0.01,
            progress=False).fit(1)
    step = torch.cat([(p - b).flatten() for p, b in zip(model.parameters(), before)])
    assert step.norm().item() == pytest.approx(0.01, rel=1e-6)


def test_nan_loss_stops_training_naming_epoch_and_batch():
    X, y = regression_data(n=40)
    calls = {"n": 0}

    def poisoned_loss(out, target):
        calls["n"] += 1
        loss = nn.functional.mse_loss(out, target)
        return loss * float("nan") if calls["n"] == 7 else loss  # epoch 1, batch 2 with 4 batches per epoch

    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), poisoned_loss, loader(X, y, 10), progress=False)
    with pytest.raises(NonFiniteLossError, match=r"became nan in epoch 1, batch 2") as info:
        trainer.fit(3)
    assert (info.value.epoch, info.value.batch) == (1, 2)
    assert trainer.epoch == 1 and len(trainer.history["loss"]) == 1
    assert all(torch.isfinite(p).all() for p in model.parameters())

    X[5, 0] = float("nan")  # a NaN input reaches the loss at once
    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), loader(X, y, 10), progress=False)
    with pytest.raises(NonFiniteLossError, match=r"epoch 0, batch 0"):
        trainer.fit(1)
    X[5, 0] = float("inf")  # tanh saturates: a finite loss, but inf * 0 = NaN in the weight gradient...
    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), loader(X, y, 10), progress=False)
    with pytest.raises(NonFiniteLossError, match=r"epoch 0, batch 1"):  # ...so the next batch's loss is NaN
        trainer.fit(1)


def test_progress_bar_when_asked(capsys):
    X, y = regression_data(n=20)
    model = mlp()
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), loader(X, y, 10), progress=True).fit(2)
    assert "epoch 2/2" in capsys.readouterr().err


def test_progress_bar_default_is_terminal_only(monkeypatch):
    import sys

    from mlbook.train import trainer as trainer_module

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert trainer_module._default_progress()  # an interactive terminal
    monkeypatch.setenv("CI", "true")
    assert not trainer_module._default_progress()  # CI logs
    monkeypatch.delenv("CI")
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    assert not trainer_module._default_progress()  # a notebook
    monkeypatch.delitem(sys.modules, "ipykernel")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not trainer_module._default_progress()  # output redirected to a file


def test_fit_counts_total_epochs():
    X, y = regression_data(n=20)
    model = mlp()
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), loader(X, y, 10), progress=False)
    trainer.fit(2)
    trainer.fit(2)  # already there: nothing to do
    assert trainer.epoch == 2 and len(trainer.history["loss"]) == 2
    trainer.fit(3)
    assert trainer.epoch == 3 and len(trainer.history["loss"]) == 3


def test_device_helpers():
    assert default_device() == (torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))
    nested = {"a": (torch.zeros(1), [torch.ones(2)]), "b": 3}
    moved = move_to_device(nested, torch.device("cpu"))
    assert moved["b"] == 3 and torch.equal(moved["a"][1][0], torch.ones(2))


# ------------------------------------------------------------------------------------------ bad input


def make_trainer(**kwargs):
    X, y = regression_data(n=20)
    model = kwargs.pop("model", None) or mlp()
    optimizer = kwargs.pop("optimizer", None) or torch.optim.SGD(model.parameters(), lr=0.01)
    defaults = dict(model=model, optimizer=optimizer, loss_fn=nn.MSELoss(), train_data=loader(X, y, 10), progress=False)
    defaults.update(kwargs)
    return Trainer(**defaults)


def test_empty_and_one_shot_data_are_refused():
    with pytest.raises(ValueError, match="train_data is empty"):
        make_trainer(train_data=[])
    X, y = regression_data(n=20)
    with pytest.raises(ValueError, match="train_data is empty"):
        make_trainer(train_data=loader(X[:0], y[:0], 4))
    with pytest.raises(TypeError, match="iterator.*empty after one epoch"):
        make_trainer(train_data=((X[i:i + 5], y[i:i + 5]) for i in range(0, 20, 5)))
    with pytest.raises(ValueError, match="val_data is empty"):
        make_trainer(val_data=[])

    class NoBatches:  # no __len__, yields nothing
        def __iter__(self):
            return iter(())

    with pytest.raises(ValueError, match="yielded no batches in epoch 0"):
        make_trainer(train_data=NoBatches()).fit(1)


def test_wrong_shapes_are_named():
    X, y = regression_data(n=20)
    with pytest.raises(ValueError, match=r"outputs of shape \(10, 1\) but the float targets have shape \(10,\)"):
        make_trainer(train_data=loader(X, y[:, 0], 10)).fit(1)
    with pytest.raises(ValueError, match=r"forward pass failed on epoch 0, batch 0, inputs of shape \(10, 5\)"):
        make_trainer(train_data=loader(torch.randn(20, 5, dtype=torch.float64), y, 10)).fit(1)
    with pytest.raises(ValueError, match=r"inputs of shape \(3, 3\) and targets of shape \(4, 1\) disagree"):
        make_trainer(train_data=[(X[:3], y[:4])]).fit(1)
    with pytest.raises(TypeError, match=r"must be an \(inputs, targets\) pair, got a tuple of length 3"):
        make_trainer(train_data=[(X, y, y)]).fit(1)
    with pytest.raises(ValueError, match="scalar tensor"):
        make_trainer(loss_fn=nn.MSELoss(reduction="none")).fit(1)


def test_model_and_batches_on_different_devices():
    trainer = make_trainer()
    trainer.model.to("meta")  # moved after the Trainer was built
    with pytest.raises(ValueError, match=r"parameter '0.weight' is on meta, but the Trainer's device is cpu"):
        trainer.fit(1)
    with pytest.raises(ValueError, match="is on meta"):
        trainer.predict(torch.zeros(2, 3))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_cuda_requested_without_a_gpu():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        make_trainer(device="cuda")


def test_bad_arguments():
    other = mlp()
    with pytest.raises(ValueError, match="not the model's"):
        make_trainer(optimizer=torch.optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="grad_accum_steps must be an integer >= 1"):
        make_trainer(grad_accum_steps=0)
    with pytest.raises(ValueError, match="amp=False"):
        make_trainer(amp_dtype=torch.float16)
    with pytest.raises(ValueError, match="amp_dtype must be"):
        make_trainer(amp=True, amp_dtype=torch.float64)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        make_trainer(model=lambda x: x, optimizer=torch.optim.SGD(mlp().parameters(), lr=0.1))
    with pytest.raises(TypeError, match="Callback"):
        make_trainer(callbacks=[print])
    with pytest.raises(TypeError, match="Metric"):
        make_trainer(metrics=["accuracy"])
    with pytest.raises(ValueError, match="epochs must be an integer >= 0"):
        make_trainer().fit(-1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        make_trainer().predict(torch.zeros(2, 3), batch_size=0)


def test_seed_everything_makes_runs_repeatable():
    def run():
        seed_everything(7)
        X, y = classification_data()
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
        t = Trainer(model, torch.optim.Adam(model.parameters(), lr=0.01), nn.CrossEntropyLoss(),
                    loader(X, y, 16, shuffle=True), progress=False)
        return t.fit(3)["loss"]

    assert run() == run()


def test_building_a_trainer_draws_no_random_numbers():
    X, y = classification_data()
    torch.manual_seed(0)
    model = classifier()
    before = torch.get_rng_state()
    Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), loader(X, y, 16, shuffle=True),
            progress=False)
    assert torch.equal(torch.get_rng_state(), before)
