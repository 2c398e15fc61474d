"""mlbook.frameworks: every NumPy and PyTorch spelling of the translation table executed on random inputs
of odd shapes and compared (TensorFlow and JAX too, where installed); the comparison itself shown to
catch wrong spellings; the PyTorch patterns checked against torch's own behaviour (gradcheck,
torch.logsumexp, a hand-written step)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.data import DataLoader

import mlbook.frameworks as fw
from mlbook.frameworks import (
    FRAMEWORKS,
    TRANSLATIONS,
    ArrayDataset,
    LogSumExp,
    PatternNet,
    Translation,
    check_translations,
    compare,
    default_device,
    evaluate,
    logsumexp,
    record_activations,
    train_step,
    translation_frame,
    translation_markdown,
)

FAST = settings(max_examples=20, deadline=None)
SLOW = settings(max_examples=8, deadline=None)
seeds = st.integers(0, 2**31 - 1)
sizes = st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7))
ROW_IDS = [row.operation for row in TRANSLATIONS]


# ------------------------------------------------------------------------------ the table, executed


def test_operations_are_unique_and_every_category_of_the_brief_is_covered():
    assert len(set(ROW_IDS)) == len(ROW_IDS)
    categories = {row.category for row in TRANSLATIONS}
    assert categories == {"creation", "reshape", "transpose", "concat and stack", "indexing and gather",
                          "reductions", "matmul and einsum", "broadcasting", "dtype casts", "random numbers",
                          "in-place and functional updates", "autodiff", "device placement"}


@pytest.mark.parametrize("row", TRANSLATIONS, ids=ROW_IDS)
@FAST
@given(seed=seeds, sizes=sizes)
def test_torch_column_agrees_with_numpy_on_random_inputs(row, seed, sizes):
    agreement = compare(row, "torch", seed=seed, sizes=sizes)
    assert agreement.agree, f"{row.operation}, seed {seed}, sizes {sizes}: {agreement.detail}"


@pytest.mark.parametrize("framework", ["tensorflow", "jax"])
def test_tensorflow_and_jax_columns_agree_where_installed(framework):
    if not fw.is_available(framework):
        pytest.skip(f"{framework} is not installed: its column is a static listing")

    @SLOW
    @given(seed=seeds, sizes=sizes)
    def every_row_agrees(seed, sizes):
        for row in TRANSLATIONS:
            agreement = compare(row, framework, seed=seed, sizes=sizes)
            assert agreement.agree, f"{row.operation} in {framework}, seed {seed}, sizes {sizes}: {agreement.detail}"

    every_row_agrees()


def test_inputs_are_not_modified_by_in_place_spellings():
    row = next(r for r in TRANSLATIONS if r.operation == "add one in place")
    before = row.make_inputs(3, (2, 3, 1))["x"]
    for framework in ("numpy", "torch"):
        np.testing.assert_array_equal(evaluate(row, framework, seed=3, sizes=(2, 3, 1)), before + 1)


def test_input_description_and_shapes_follow_the_spec():
    row = Translation("c", "op", "a:mn idx:k:int<m h:1n:host w:m:wide", "a", "a", "a", "a")
    assert row.input_description() == "a: (m, n), idx: (k,) ints in [0, m), h: (1, n) NumPy array, w: (m,)"
    values = row.make_inputs(0, (3, 5, 7))
    assert values["a"].shape == (3, 5) and values["h"].shape == (1, 5) and values["w"].shape == (3,)
    assert values["idx"].shape == (7,) and values["idx"].min() >= 0 and values["idx"].max() < 3
    assert (values["m"], values["n"], values["k"], values["seed"]) == (3, 5, 7, 0)


def test_statements_return_the_last_expression_or_the_last_name_assigned():
    row = Translation("c", "op", "x:mn", "y = x.copy(); y[0, 0] = 7", "x.mul_(0); x", "x", "x")
    assert evaluate(row, "numpy", sizes=(2, 2, 1))[0, 0] == 7
    assert np.all(evaluate(row, "torch", sizes=(2, 2, 1)) == 0)
    loop = Translation("c", "op", "", "for i in range(3): pass", "0", "0", "0")
    with pytest.raises(ValueError, match="cannot tell the result"):
        evaluate(loop, "numpy")


# ------------------------------------------------------------------ the comparison can say "no"


def test_compare_catches_a_wrong_value_shape_or_kind_of_dtype():
    unbiased = Translation("c", "torch's default variance", "x:mn", "x.var(axis=0)", "x.var(dim=0)", "0", "0")
    result = compare(unbiased, "torch", sizes=(4, 3, 1))
    assert not result.agree and "values differ" in result.detail
    shape = Translation("c", "keepdim forgotten", "x:mn", "x.sum(axis=1, keepdims=True)", "x.sum(dim=1)", "0", "0")
    result = compare(shape, "torch", sizes=(4, 3, 1))
    assert not result.agree and "shapes differ" in result.detail
    kind = Translation("c", "float indices", "x:mn", "x.argmax(axis=1)", "x.argmax(dim=1).float()", "0", "0")
    result = compare(kind, "torch", sizes=(4, 3, 1))
    assert not result.agree and "kinds of dtype differ" in result.detail and not bool(result)


def test_repeat_check_catches_an_unseeded_generator():
    unseeded = Translation("c", "unseeded", "", "np.random.default_rng(seed).standard_normal((m, n))",
                           "torch.randn(m, n)", "0", "0", check="repeat")
    result = compare(unseeded, "torch", sizes=(3, 3, 1))
    assert not result.agree and "different numbers" in result.detail


def test_split_positions_are_not_sizes():
    # The trap the split row's note describes: NumPy's [2] is a position, torch's [2] would be a size.
    row = next(r for r in TRANSLATIONS if r.operation.startswith("split"))
    wrong = Translation(row.category, row.operation, row.inputs, row.numpy, "torch.split(x, 2, dim=1)", "0", "0")
    assert compare(row, "torch").agree and not compare(wrong, "torch").agree


def test_check_translations_reports_a_missing_framework_instead_of_raising(monkeypatch):
    real = fw.importlib.util.find_spec
    monkeypatch.setattr(fw.importlib.util, "find_spec", lambda name: None if name == "jax" else real(name))
    assert "jax" not in fw.available_frameworks()
    with pytest.raises(ModuleNotFoundError, match="JAX is not installed"):
        evaluate(TRANSLATIONS[0], "jax")
    results = check_translations(TRANSLATIONS[:2], ["torch", "jax"])
    assert results[TRANSLATIONS[0].operation, "torch"].agree
    assert not results[TRANSLATIONS[0].operation, "jax"].agree
    assert "ModuleNotFoundError" in results[TRANSLATIONS[0].operation, "jax"].detail


@pytest.mark.parametrize("kwargs, message", [
    (dict(inputs="x"), "name:axes"),
    (dict(inputs="x:mz"), "axis 'z'"),
    (dict(inputs="m:mn"), "reserved"),
    (dict(inputs="x:mn:int<q"), "kind"),
    (dict(torch="a | b"), "'|'"),
    (dict(jax="   "), "empty"),
    (dict(check="close"), "check must be"),
])
def test_malformed_rows_are_rejected_when_written(kwargs, message):
    fields = dict(category="c", operation="op", inputs="x:mn", numpy="x", torch="x", tensorflow="x", jax="x")
    with pytest.raises(ValueError, match=message):
        Translation(**{**fields, **kwargs})


def test_bad_framework_and_sizes_are_rejected():
    with pytest.raises(ValueError, match="framework must be one of"):
        evaluate(TRANSLATIONS[0], "mxnet")
    with pytest.raises(ValueError, match="three positive integers"):
        evaluate(TRANSLATIONS[0], "numpy", sizes=(3, 0, 1))


# ------------------------------------------------------------------------------------- rendering


def test_markdown_shows_every_spelling_once_per_table_with_checks_only_where_run():
    agreements = check_translations(frameworks=["torch"])
    text = translation_markdown(agreements=agreements)
    categories = list(dict.fromkeys(r.category for r in TRANSLATIONS))
    assert text.count("| operation *(inputs)* | NumPy | PyTorch | TensorFlow | JAX |") == len(categories)
    for row in TRANSLATIONS:
        for framework in FRAMEWORKS:
            for line in row.code(framework).splitlines():
                assert f"`{line.strip()}`" in text
    table_rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line
                  and not line.startswith("| operation")]
    assert f"| {TRANSLATIONS[1].operation}<br>*(x: (m, n))* |" in text
    assert len(table_rows) == len(TRANSLATIONS)
    assert all(line.count(" | ") == 4 for line in table_rows)  # five cells: no stray pipe split a cell
    assert text.count("✓") == len(TRANSLATIONS)  # the PyTorch column, all agreeing; TF and JAX not run
    assert "✓" not in translation_markdown()
    assert "<br>" in text  # TensorFlow's two-line GradientTape spelling


def test_frame_has_one_row_per_translation():
    frame = translation_frame()
    assert list(frame.columns) == ["category", "operation", "inputs", "NumPy", "PyTorch", "TensorFlow", "JAX", "note"]
    assert len(frame) == len(TRANSLATIONS) and frame["PyTorch"].iloc[0] == TRANSLATIONS[0].torch


# ------------------------------------------------------------------------------- PyTorch patterns


def test_default_device_follows_cuda_availability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device() == torch.device("cuda")


def test_pattern_net_parameters_buffers_and_state_dict(tmp_path):
    torch.manual_seed(0)
    net = PatternNet(5, 8, 3)
    names = {name for name, _ in net.named_parameters()}
    buffers = {name for name, _ in net.named_buffers()}
    assert "examples_seen" in buffers and "examples_seen" not in names
    assert {"norm.running_mean", "norm.running_var"} <= buffers
    assert set(net.state_dict()) == names | buffers
    net(torch.randn(4, 5))
    net.eval()
    net(torch.randn(6, 5))
    assert net.examples_seen.item() == 4  # only training batches count
    torch.save(net.state_dict(), tmp_path / "net.pt")
    twin = PatternNet(5, 8, 3)
    twin.load_state_dict(torch.load(tmp_path / "net.pt", weights_only=True))
    twin.eval()
    x = torch.randn(3, 5)
    assert twin.examples_seen.item() == 4 and torch.equal(twin(x), net(x))
    with pytest.raises(ValueError, match=r"\(batch, 5\), got \(3, 4\)"):
        net(torch.randn(3, 4))


def _manual_step(model, optimizer, x, y, max_norm=None):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    norm = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters()))
    if max_norm is not None and norm > max_norm:
        for p in model.parameters():
            p.grad *= max_norm / (norm + 1e-6)
    optimizer.step()
    return loss.detach(), norm


@pytest.mark.parametrize("max_norm", [None, 0.05])
def test_train_step_equals_the_hand_written_step(max_norm):
    x, y = torch.randn(16, 5, generator=torch.Generator().manual_seed(1)), torch.arange(16) % 3
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        models.append(PatternNet(5, 8, 3, p=0.0))
    opt_a = torch.optim.SGD(models[0].parameters(), lr=0.1)
    opt_b = torch.optim.SGD(models[1].parameters(), lr=0.1)
    for _ in range(3):  # several steps: a missing zero_grad would show up from the second on
        result = train_step(models[0], opt_a, nn.functional.cross_entropy, x, y, max_grad_norm=max_norm)
        loss, norm = _manual_step(models[1], opt_b, x, y, max_norm)
        torch.testing.assert_close(result.loss, loss)
        torch.testing.assert_close(result.grad_norm, norm)
        assert not result.loss.requires_grad
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(p, q)
    if max_norm is not None:
        assert result.grad_norm > max_norm  # the test really clipped


def test_array_dataset_items_batches_and_errors():
    features = np.arange(30, dtype=np.float64).reshape(10, 3)
    data = ArrayDataset(features, np.arange(10) % 2, transform=lambda x: x * 2)
    x, y = data[3]
    assert len(data) == 10 and x.dtype == torch.float32 and y.dtype == torch.int64
    torch.testing.assert_close(x, torch.tensor([18.0, 20.0, 22.0]))
    batches = list(DataLoader(data, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2] and batches[0][0].shape == (4, 3)
    with pytest.raises(ValueError, match=r"\(10, 3\) and \(9,\)"):
        ArrayDataset(features, np.arange(9))
    with pytest.raises(TypeError, match="integer class indices"):
        ArrayDataset(features, np.zeros(10))


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_logsumexp_matches_torch_and_passes_gradcheck(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(len(shape) + dim))
    x.requires_grad_()
    torch.testing.assert_close(logsumexp(x, dim), torch.logsumexp(x, dim))
    assert torch.autograd.gradcheck(lambda t: LogSumExp.apply(t, dim), (x,))
    (ours,) = torch.autograd.grad(logsumexp(x, dim).sum(), x)
    (theirs,) = torch.autograd.grad(torch.logsumexp(x, dim).sum(), x)
    torch.testing.assert_close(ours, theirs)


def test_logsumexp_is_stable_refuses_second_derivatives_and_bad_input():
    big = torch.tensor([[1e4, 1e4 - 1.0], [-math.inf, -math.inf]], dtype=torch.float64, requires_grad=True)
    out = logsumexp(big, 1)
    assert torch.isfinite(out[0]) and out[1] == -math.inf
    torch.testing.assert_close(out[0], torch.logsumexp(big.detach(), 1)[0])
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(logsumexp(x, 0), x, create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(g.sum(), x)
    with pytest.raises(TypeError, match="floating-point"):
        logsumexp(torch.arange(3))
    with pytest.raises(ValueError, match="0-d"):
        logsumexp(torch.tensor(1.0))


def test_record_activations_captures_outputs_and_always_removes_its_hooks():
    torch.manual_seed(0)
    net = PatternNet(5, 8, 3).eval()
    x = torch.randn(4, 5)
    with record_activations(net, ["hidden", "norm"]) as acts:
        net(x)
    torch.testing.assert_close(acts["hidden"], net.hidden(x).detach())
    torch.testing.assert_close(acts["norm"], net.norm(net.hidden(x)).detach())
    assert not net.hidden._forward_hooks and not net.norm._forward_hooks
    with pytest.raises(ZeroDivisionError):
        with record_activations(net, ["out"]):
            1 / 0
    assert not net.out._forward_hooks
    with pytest.raises(ValueError, match=r"no submodules named \['fc9'\]"):
        with record_activations(net, ["fc9"]):
            pass
