"""mlbook.nn.serialize: .npz round trips, and every way a parameter file can fail to fit a model."""

import numpy as np
import pytest
import torch

from mlbook.nn.forward import forward_rows, initialize_parameters
from mlbook.nn.layers import mlp
from mlbook.nn.serialize import (ParameterMismatchError, load_module, load_parameters, save_module,
                                 save_parameters)


def test_module_round_trip_is_bit_exact(tmp_path):
    model = mlp([3, 5, 2], rng=0)
    for _, p, _ in model.named_parameters():
        p[...] = np.random.default_rng(1).standard_normal(p.shape)
    path = tmp_path / "net.npz"
    save_module(path, model)
    fresh = load_module(path, mlp([3, 5, 2], rng=99))
    for (n1, p1, _), (n2, p2, _) in zip(model.named_parameters(), fresh.named_parameters()):
        assert n1 == n2 and np.array_equal(p1, p2)
    x = np.random.default_rng(2).standard_normal((4, 3))
    np.testing.assert_array_equal(model.forward(x), fresh.forward(x))


def test_notes_dictionary_round_trip_without_suffix(tmp_path):
    params = initialize_parameters([4, 3, 1], rng=0)
    save_parameters(tmp_path / "params", params, compressed=True)      # numpy adds .npz
    loaded = load_parameters(tmp_path / "params.npz", expected=params)
    assert set(loaded) == {"W1", "b1", "W2", "b2"}
    X = np.ones((2, 4))
    np.testing.assert_array_equal(forward_rows(X, loaded, ["relu", "sigmoid"])[0],
                                  forward_rows(X, params, ["relu", "sigmoid"])[0])


def test_torch_state_dict_loads_into_the_same_mlp(tmp_path):
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()
    save_parameters(tmp_path / "t.npz", {k: v.numpy() for k, v in t.state_dict().items()})
    ours = load_module(tmp_path / "t.npz", mlp([3, 4, 2]))
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(ours.forward(x), t(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


def test_mismatch_reports_every_problem_by_name(tmp_path):
    path = tmp_path / "net.npz"
    save_module(path, mlp([3, 5, 2], rng=0))
    with pytest.raises(ParameterMismatchError) as info:
        load_module(path, mlp([3, 6, 2, 2], rng=0))
    message = str(info.value)
    assert "missing ['4.bias', '4.weight']" in message
    assert "0.weight: expected (6, 3), got (5, 3)" in message
    assert "2.weight: expected (2, 6), got (2, 5)" in message
    assert info.value.missing == ["4.bias", "4.weight"] and not info.value.unexpected
    with pytest.raises(ParameterMismatchError, match=r"unexpected \['2.bias', '2.weight'\]"):
        load_module(path, mlp([3, 5], rng=0))
    assert isinstance(info.value, ValueError)


def test_mismatch_leaves_the_model_untouched(tmp_path):
    path = tmp_path / "net.npz"
    save_module(path, mlp([3, 5, 2], rng=0))
    target = mlp([3, 5, 3], rng=1)
    before = target.state_dict()
    with pytest.raises(ParameterMismatchError):
        load_module(path, target)
    for name, value in target.state_dict().items():
        assert np.array_equal(value, before[name])


def test_expected_as_shapes_and_integer_arrays_rejected(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, W1=np.ones((2, 3), dtype=np.int64), b1=np.zeros((2, 1)))
    with pytest.raises(ParameterMismatchError, match="not floating point: W1: dtype int64"):
        load_parameters(path, expected={"W1": (2, 3), "b1": (2, 1)})
    assert load_parameters(path)["W1"].dtype == np.int64          # no expectation, no validation


def test_bad_files_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no parameter file"):
        load_parameters(tmp_path / "missing.npz")
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match="single .npy array"):
        load_parameters(tmp_path / "single.npy")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a readable .npz archive"):
        load_parameters(tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", W1=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="entry 'W1' is a pickled object array"):
        load_parameters(tmp_path / "obj.npz")                     # allow_pickle=False: no code runs
    with pytest.raises(ValueError, match="nothing to save"):
        save_parameters(tmp_path / "empty.npz", {})
    with pytest.raises(TypeError, match="Module or a mapping"):
        save_parameters(tmp_path / "x.npz", [np.ones(2)])
    with pytest.raises(TypeError, match="needs a Module"):
        load_module(tmp_path / "x.npz", {"W1": np.ones(2)})
