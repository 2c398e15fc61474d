"""mlbook.data.Dataset: every transformation against tf.data's semantics on exact small cases."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.data import INFINITE, UNKNOWN, Dataset, shuffle_order
from tests._data_guards import watchdog  # noqa: F401 - autouse fixture


def values(dataset):
    return [np.asarray(x).tolist() for x in dataset]


def test_range_batch_is_tf_example():
    assert values(Dataset.range(10).batch(3)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert values(Dataset.range(10).batch(3, drop_remainder=True)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert Dataset.range(10).batch(3).cardinality() == 4
    assert Dataset.range(10).batch(3, drop_remainder=True).cardinality() == 3


def test_range_arguments():
    assert values(Dataset.range(2, 12, 3)) == [2, 5, 8, 11]
    assert values(Dataset.range(5, 0, -2)) == [5, 3, 1]
    assert Dataset.range(0).cardinality() == 0


def test_repeat_before_and_after_batch():
    # repeat then batch: batches straddle the epoch boundary
    assert values(Dataset.range(5).repeat(2).batch(3)) == [[0, 1, 2], [3, 4, 0], [1, 2, 3], [4]]
    # batch then repeat: every epoch ends with its own short batch
    assert values(Dataset.range(5).batch(3).repeat(2)) == [[0, 1, 2], [3, 4], [0, 1, 2], [3, 4]]
    assert Dataset.range(5).repeat().cardinality() == INFINITE
    assert values(Dataset.range(5).repeat().take(7)) == [0, 1, 2, 3, 4, 0, 1]
    assert values(Dataset.range(3).repeat(0)) == []


def test_repeat_forever_of_empty_dataset_ends():
    assert values(Dataset.from_generator(lambda: iter([])).repeat()) == []


def test_generic_and_indexed_paths_agree():
    generic = Dataset.from_generator(lambda: range(5))
    assert values(generic.repeat(2).batch(3)) == [[0, 1, 2], [3, 4, 0], [1, 2, 3], [4]]
    assert values(generic.batch(3).repeat(2)) == [[0, 1, 2], [3, 4], [0, 1, 2], [3, 4]]
    assert values(generic.skip(2).take(2)) == [2, 3]


def test_from_tensor_slices_tuple_and_dict():
    x = np.arange(12).reshape(6, 2)
    y = np.arange(6) * 10
    first = next(iter(Dataset.from_tensor_slices((x, y))))
    assert first[0].tolist() == [0, 1] and first[1] == 0
    batch = next(iter(Dataset.from_tensor_slices({"x": x, "y": y}).batch(4)))
    assert batch["x"].shape == (4, 2) and batch["y"].tolist() == [0, 10, 20, 30]
    # a list is one tensor, as in tf.data, not a structure
    assert values(Dataset.from_tensor_slices([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]


def test_from_tensor_slices_bad_input():
    with pytest.raises(ValueError, match="same leading dimension"):
        Dataset.from_tensor_slices((np.zeros((3, 2)), np.zeros(4)))
    with pytest.raises(ValueError, match="leading axis"):
        Dataset.from_tensor_slices(np.float32(3.0))
    with pytest.raises(TypeError, match="object array"):
        Dataset.from_tensor_slices(np.array([{}, {}], dtype=object))


def test_map_unpacks_tuples_and_filter():
    ds = Dataset.from_tensor_slices((np.arange(6), np.arange(6) * 2)).map(lambda a, b: a + b)
    assert values(ds) == [0, 3, 6, 9, 12, 15]
    assert values(Dataset.range(10).filter(lambda x: x % 3 == 0)) == [0, 3, 6, 9]
    assert Dataset.range(10).filter(lambda x: True).cardinality() == UNKNOWN
    with pytest.raises(ValueError, match="scalar boolean"):
        list(Dataset.range(3).filter(lambda x: np.array([True, False])))


def test_unbatch_inverts_batch():
    ds = Dataset.from_tensor_slices((np.arange(7), np.arange(7) * 1.5)).batch(3).unbatch()
    assert [(int(a), float(b)) for a, b in ds] == [(i, i * 1.5) for i in range(7)]


def test_batch_rejects_ragged():
    ds = Dataset.from_generator(lambda: (np.zeros(n) for n in (2, 3)))
    with pytest.raises(ValueError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        list(ds.batch(2))


def test_take_skip_round_trip():
    ds = Dataset.range(10)
    assert values(ds.take(3)) + values(ds.skip(3)) == list(range(10))
    assert values(ds.take(-1)) == list(range(10))
    assert values(ds.skip(-1)) == []
    assert ds.take(20).cardinality() == 10 and ds.skip(20).cardinality() == 0
    assert ds.repeat().take(4).cardinality() == 4
    with pytest.raises(ValueError, match="take count"):
        ds.take(-2)


def test_enumerate_zip():
    pairs = [(int(i), int(x)) for i, x in Dataset.range(3, 6).enumerate(start=1)]
    assert pairs == [(1, 3), (2, 4), (3, 5)]
    zipped = Dataset.zip((Dataset.range(3), Dataset.range(10, 20)))
    assert [(int(a), int(b)) for a, b in zipped] == [(0, 10), (1, 11), (2, 12)]
    assert zipped.cardinality() == 3
    assert Dataset.zip(Dataset.range(3), Dataset.range(4).repeat()).cardinality() == 3


def test_interleave_matches_tf_documentation():
    ds = Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6), cycle_length=2, block_length=4)
    assert values(ds) == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5]
    parallel = Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6), cycle_length=2,
                                              block_length=4, num_parallel_calls=2)
    assert values(parallel) == values(ds)


def test_shuffle_keeps_multiset_and_is_reproducible():
    ds = Dataset.range(100).shuffle(16, seed=7)
    first, second = values(ds), values(ds)
    assert sorted(first) == list(range(100)) and sorted(second) == list(range(100))
    assert first != list(range(100))
    assert first != second  # reshuffled each iteration
    again = Dataset.range(100).shuffle(16, seed=7)
    assert values(again) == first and values(again) == second  # same seed, same sequence of epochs
    fixed = Dataset.range(100).shuffle(16, seed=7, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed)


def test_shuffle_before_repeat_reshuffles_each_epoch():
    two_epochs = values(Dataset.range(20).shuffle(20, seed=1).repeat(2))
    assert sorted(two_epochs[:20]) == list(range(20)) and sorted(two_epochs[20:]) == list(range(20))
    assert two_epochs[:20] != two_epochs[20:]


def test_shuffle_buffer_one_is_identity_and_displacement_bounded():
    assert values(Dataset.range(30).shuffle(1, seed=0)) == list(range(30))
    order = shuffle_order(500, 10, np.random.default_rng(0))
    # an element can only be held back by the buffer: it leaves at most buffer_size - 1 places early
    assert np.all(np.arange(500) - np.argsort(order) <= 9)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 300), buffer=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
def test_shuffle_index_path_equals_element_path(n, buffer, seed):
    indexed = values(Dataset.range(n).shuffle(buffer, seed=seed))
    streamed = values(Dataset.from_generator(lambda: range(n)).shuffle(buffer, seed=seed))
    assert indexed == streamed
    assert sorted(indexed) == list(range(n))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 50), batch=st.integers(1, 12), drop=st.booleans(), take=st.integers(-1, 60),
       skip=st.integers(-1, 60))
def test_batch_take_skip_against_python(n, batch, drop, take, skip):
    ds = Dataset.range(n).skip(skip).take(take).batch(batch, drop_remainder=drop)
    items = list(range(n))[(n if skip == -1 else skip):]
    items = items if take == -1 else items[:take]
    expected = [items[i:i + batch] for i in range(0, len(items), batch)]
    if drop:
        expected = [b for b in expected if len(b) == batch]
    assert values(ds) == expected
    assert ds.cardinality() == len(expected)
    generic = Dataset.from_generator(lambda: range(n)).skip(skip).take(take).batch(batch, drop_remainder=drop)
    assert values(generic) == expected


def test_uniform_shuffle_is_unbiased():
    counts = collections.Counter(tuple(shuffle_order(3, 3, np.random.default_rng(s))) for s in range(6000))
    assert len(counts) == 6
    assert all(abs(c - 1000) < 150 for c in counts.values())


def test_cache_in_memory_runs_upstream_once():
    calls = []
    ds = Dataset.range(5).map(lambda x: calls.append(int(x)) or x * 2).cache()
    assert values(ds) == [0, 2, 4, 6, 8]
    assert values(ds) == [0, 2, 4, 6, 8]
    assert calls == [0, 1, 2, 3, 4]


def test_cache_partial_pass_caches_nothing():
    calls = []
    ds = Dataset.range(5).map(lambda x: calls.append(int(x)) or x).cache()
    assert values(ds.take(2)) == [0, 1]
    assert values(ds) == [0, 1, 2, 3, 4]
    assert values(ds) == [0, 1, 2, 3, 4]
    assert calls == [0, 1, 0, 1, 2, 3, 4]


def test_cache_file_round_trip(tmp_path):
    path = tmp_path / "cache.tfrecord"
    calls = []
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    ds = Dataset.from_tensor_slices({"x": x, "y": np.arange(4)}).map(lambda e: calls.append(1) or e).cache(path)
    first = list(ds)
    assert path.exists() and len(calls) == 4
    fresh = Dataset.from_tensor_slices({"x": x * 0, "y": np.arange(4)}).cache(path)  # reads the file, not the arrays
    second = list(fresh)
    assert len(calls) == 4
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a["x"], b["x"])
        assert a["x"].dtype == b["x"].dtype == np.float32


def test_cache_file_partial_pass_writes_nothing(tmp_path):
    path = tmp_path / "cache.tfrecord"
    ds = Dataset.range(10).cache(path)
    assert values(ds.take(3)) == [0, 1, 2]
    assert not path.exists() and not list(tmp_path.iterdir())


def test_len_and_cardinality():
    assert len(Dataset.range(7).batch(2)) == 4
    with pytest.raises(TypeError, match="infinite"):
        len(Dataset.range(3).repeat())
    with pytest.raises(TypeError, match="unknown"):
        len(Dataset.range(3).filter(lambda x: True))


def test_list_files(tmp_path):
    for name in ("b.txt", "a.txt", "c.log"):
        (tmp_path / name).write_text(name)
    files = values(Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False))
    assert [f.rsplit("/", 1)[-1] for f in files] == ["a.txt", "b.txt"]
    shuffled = values(Dataset.list_files(str(tmp_path / "*"), seed=0))
    assert sorted(shuffled) == sorted(str(p) for p in tmp_path.iterdir())
    with pytest.raises(FileNotFoundError, match="no files match"):
        Dataset.list_files(str(tmp_path / "*.csv"))


def test_from_generator_is_reiterable_and_checks_callable():
    ds = Dataset.from_generator(lambda: (i * i for i in range(4)))
    assert values(ds) == values(ds) == [0, 1, 4, 9]
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(iter(range(3)))


def test_bad_arguments():
    ds = Dataset.range(3)
    with pytest.raises(ValueError, match="batch_size"):
        ds.batch(0)
    with pytest.raises(ValueError, match="buffer_size"):
        ds.shuffle(0)
    with pytest.raises(ValueError, match="num_parallel_calls"):
        ds.map(lambda x: x, num_parallel_calls=0)
    with pytest.raises(ValueError, match="executor"):
        ds.map(lambda x: x, executor="gpu")
    with pytest.raises(ValueError, match="repeat count"):
        ds.repeat(-3)
    with pytest.raises(TypeError, match="must return a Dataset"):
        list(ds.interleave(lambda x: [x]))


def test_feeds_torch_training_loop():
    torch = pytest.importorskip("torch")
    from mlbook.train import Trainer

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]
    data = Dataset.from_tensor_slices((x, y)).shuffle(64, seed=0).batch(16).to_torch()
    batch = next(iter(data))
    assert isinstance(batch[0], torch.Tensor) and batch[0].shape == (16, 3)
    model = torch.nn.Linear(3, 1)
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.nn.MSELoss(), data,
                      device="cpu", progress=False)
    history = trainer.fit(5)
    losses = history["loss"] if "loss" in history else history["train_loss"]
    assert losses[-1] < losses[0] / 5
