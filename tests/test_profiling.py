"""Tests for mlbook.profiling: every variant of the training run trains the same model, and the
profile helpers report what the profilers measured."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from mlbook.profiling import (PHASES, fast_training_run, load_batch_python, load_batch_vectorised,
                              make_classification_data, profile_with_cprofile, profile_with_torch,
                              round_trip_via_host, slow_training_run, top_functions, top_torch_ops,
                              training_run)
from mlbook.viz.profiling import plot_phase_breakdown

SMALL = dict(n_samples=72, n_features=7, n_classes=3, batch_size=16)  # the last batch is ragged (8)


@pytest.mark.parametrize("flags", [dict(fast_loader=True), dict(batched=True), dict(no_round_trips=True)])
def test_each_fix_alone_keeps_the_weights(flags):
    slow = slow_training_run(**SMALL)
    fixed = training_run(**flags, **SMALL)
    for name, value in slow.state_dict.items():
        torch.testing.assert_close(fixed.state_dict[name], value, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(fixed.losses, slow.losses, atol=1e-5)
    assert fixed.accuracy == slow.accuracy


def test_slow_and_fast_match_and_learn():
    slow, fast = slow_training_run(epochs=2, **SMALL), fast_training_run(epochs=2, **SMALL)
    for name, value in slow.state_dict.items():
        torch.testing.assert_close(fast.state_dict[name], value, atol=1e-5, rtol=1e-5)
    assert len(fast.losses) == 2 * 5  # ceil(72 / 16) batches per epoch
    assert fast.losses[-1] < fast.losses[0]
    assert set(fast.phase_seconds) == set(PHASES) and fast.total_seconds > 0


def test_fast_run_matches_a_plain_torch_loop():
    X, y = make_classification_data(72, 7, 3, seed=0)
    Xn = torch.from_numpy((X - X.mean(0)) / X.std(0))
    from mlbook.profiling import make_model
    model = make_model(7, 3, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    order = np.random.default_rng(1).permutation(72)
    for start in range(0, 72, 16):
        idx = torch.from_numpy(order[start:start + 16])
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(Xn[idx]), torch.from_numpy(y)[idx]).backward()
        opt.step()
    fast = fast_training_run(**SMALL)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(fast.state_dict[name], value, atol=1e-5, rtol=1e-5)


def test_training_run_restores_torch_threads():
    before = torch.get_num_threads()
    fast_training_run(**SMALL, threads=1)
    assert torch.get_num_threads() == before


def test_loaders_agree():
    X, y = make_classification_data(40, 5, 2, seed=3)
    mean, std = X.mean(0), X.std(0)
    idx = np.array([3, 0, 39, 7])
    xs, ys = load_batch_python(X, y, idx, mean, std)
    xv, yv = load_batch_vectorised(*(torch.from_numpy(a) for a in (X, y, idx, mean, std)))
    torch.testing.assert_close(xs, xv, atol=1e-5, rtol=1e-5)
    assert torch.equal(ys, yv)
    xr, yr = round_trip_via_host(xv, yv)
    assert torch.equal(xr, xv) and torch.equal(yr, yv)


def test_cprofile_finds_the_per_sample_backward():
    _, stats = profile_with_cprofile(lambda: slow_training_run(**SMALL))
    rows = top_functions(stats, n=200, sort="tottime")
    assert [r.tottime for r in rows] == sorted((r.tottime for r in rows), reverse=True)
    by_name = {r.function: r for r in rows}
    assert by_name["run_backward"].ncalls == 72           # one backward per sample
    assert by_name["step_per_sample"].ncalls == 5         # one call per batch
    assert by_name["load_batch_python"].location.startswith("profiling.py:")
    assert by_name["step_per_sample"].cumtime >= by_name["run_backward"].tottime
    by_calls = top_functions(stats, n=3, sort="ncalls")
    assert by_calls[0].ncalls == max(r.ncalls for r in rows)


def test_torch_profiler_counts_operators_and_phases():
    _, prof = profile_with_torch(lambda: slow_training_run(**SMALL))
    ops = {r.name: r for r in top_torch_ops(prof, n=500, sort="count")}
    assert ops["aten::addmm"].count == 2 * 72                 # two Linear layers, one sample at a time
    assert ops["aten::_local_scalar_dense"].count == 2 * 72   # .item() on loss and on correctness
    phases = top_torch_ops(prof, n=10, prefix="phase:", sort="cpu_total")
    assert {r.name for r in phases} == {f"phase:{p}" for p in PHASES}
    assert {r.name: r.count for r in phases}["phase:step"] == 5
    _, prof_fast = profile_with_torch(lambda: fast_training_run(**SMALL))
    fast_ops = {r.name: r for r in top_torch_ops(prof_fast, n=500, sort="count")}
    assert fast_ops["aten::addmm"].count == 2 * 5
    assert "aten::_local_scalar_dense" not in fast_ops or fast_ops["aten::_local_scalar_dense"].count <= 2


@pytest.mark.parametrize("call, match", [
    (lambda: top_functions(profile_with_cprofile(lambda: 1)[1], sort="own"), "sort must be one of"),
    (lambda: top_functions(profile_with_cprofile(lambda: 1)[1], n=0), "n must be at least 1"),
    (lambda: training_run(batch_size=0), "batch_size and epochs must be at least 1"),
    (lambda: training_run(threads=0), "threads must be at least 1"),
    (lambda: make_classification_data(0), "n_samples must be at least 1"),
    (lambda: plot_phase_breakdown({}), "at least one run"),
    (lambda: plot_phase_breakdown({"a": {"load": 1.0}}, unit="h"), "unit must be"),
    (lambda: plot_phase_breakdown({"a": {"load": -1.0}}), "negative time"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_top_torch_ops_rejects_unknown_sort():
    _, prof = profile_with_torch(lambda: torch.ones(2) + 1)
    with pytest.raises(ValueError, match="sort must be one of"):
        top_torch_ops(prof, sort="gpu")


def test_phase_plot():
    fig = plot_phase_breakdown({"slow": {"load": 0.1, "step": 0.5}, "fast": {"load": 0.01, "copy": 0.0,
                                                                           "step": 0.02}})
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["slow", "fast"]
    assert len(ax.patches) == 2 * 3


def test_region_durations_one_per_batch():
    from mlbook.profiling import region_durations
    _, prof = profile_with_torch(lambda: fast_training_run(**SMALL))
    durations = region_durations(prof, "phase:step")
    assert len(durations) == 5 and all(d > 0 for d in durations)
    total = {r.name: r for r in top_torch_ops(prof, prefix="phase:")}["phase:step"].cpu_total_seconds
    assert sum(durations) == pytest.approx(total, rel=1e-6)
    with pytest.raises(ValueError, match="no event named 'phase:nope'"):
        region_durations(prof, "phase:nope")
