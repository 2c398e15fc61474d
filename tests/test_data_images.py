"""The image-folder pipeline and the data figures."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from mlbook.data import Dataset, Tracer
from mlbook.data import workloads as work
from mlbook.data.images import (center_crop, decode_image, image_folder_dataset, list_image_folder, normalize,
                                random_crop, random_flip_left_right, write_image, write_image_folder)
from tests._data_guards import no_leaks, watchdog  # noqa: F401


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    labels = np.array([0, 1, 2] * 4)
    images = np.stack([work.make_image(int(label), size=20, seed=i) for i, label in enumerate(labels)])
    write_image_folder(root, images, labels, ["cat", "dog", "eel"])
    return root, images, labels


def test_png_round_trip_is_lossless(tmp_path):
    image = work.make_image(3, size=17, seed=1)
    write_image(tmp_path / "a.png", image)
    np.testing.assert_array_equal(decode_image(tmp_path / "a.png"), image)
    grey = decode_image(tmp_path / "a.png", channels=1)
    assert grey.shape == (17, 17, 1) and grey.dtype == np.uint8
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "b.png", image.astype(np.float32))


def test_list_image_folder(folder, tmp_path):
    root, _, labels = folder
    paths, found, classes = list_image_folder(root)
    assert classes == ["cat", "dog", "eel"]
    assert len(paths) == 12 and sorted(found.tolist()) == sorted(labels.tolist())
    assert all(f"/{classes[label]}/" in path for path, label in zip(paths, found))
    with pytest.raises(FileNotFoundError, match="no class subfolders"):
        list_image_folder(tmp_path)


def test_augmentations():
    rng = np.random.default_rng(0)
    image = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    crop = random_crop(image, (3, 4), rng)
    assert crop.shape == (3, 4, 3)
    # the crop is a window of the original
    found = any(np.array_equal(image[t:t + 3, l:l + 4], crop) for t in range(3) for l in range(3))
    assert found
    flips = [random_flip_left_right(image, rng) for _ in range(200)]
    flipped = sum(np.array_equal(f, image[:, ::-1]) for f in flips)
    assert 60 < flipped < 140
    assert np.array_equal(center_crop(image, (3, 4)), image[1:4, 1:5])
    with pytest.raises(ValueError, match="larger than the image"):
        random_crop(image, (6, 6), rng)
    out = normalize(np.full((2, 2, 3), 255, np.uint8), (0.5, 0.5, 0.5), (0.25, 0.5, 1.0))
    assert out.dtype == np.float32 and np.allclose(out[0, 0], [2.0, 1.0, 0.5])
    with pytest.raises(ValueError, match="std must be positive"):
        normalize(image, (0, 0, 0), (1, 0, 1))


def test_pipeline_batches_and_is_deterministic_across_schedules(folder, no_leaks):
    root, _, _ = folder
    sequential, classes = image_folder_dataset(root, crop=(16, 16), batch_size=5, num_parallel_calls=None, seed=3,
                                               prefetch=0)
    threaded, _ = image_folder_dataset(root, crop=(16, 16), batch_size=5, num_parallel_calls=2, seed=3)
    a, b = list(sequential), list(threaded)
    assert [x.shape for x, _ in a] == [(5, 16, 16, 3), (5, 16, 16, 3), (2, 16, 16, 3)]
    assert a[0][0].dtype == np.float32 and a[0][1].dtype == np.int64
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    second_epoch = list(sequential)
    assert not all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, second_epoch))  # reshuffled


def test_eval_pipeline_is_fixed_and_centre_cropped(folder):
    root, images, labels = folder
    evaluation, _ = image_folder_dataset(root, crop=(16, 16), batch_size=12, training=False, num_parallel_calls=None)
    (x, y), = list(evaluation)
    paths, found, _ = list_image_folder(root)
    expected = normalize(center_crop(decode_image(paths[0]), (16, 16)), (0.5,) * 3, (0.25,) * 3)
    np.testing.assert_allclose(x[0], expected)
    np.testing.assert_array_equal(y, found)


def test_process_pipeline_matches(folder, no_leaks, monkeypatch):
    from mlbook.data import parallel

    monkeypatch.setattr(parallel, "FALL_BACK_TO_INLINE", False)
    root, _, _ = folder
    a, _ = image_folder_dataset(root, crop=(16, 16), batch_size=4, num_parallel_calls=None, seed=1, prefetch=0)
    b, _ = image_folder_dataset(root, crop=(16, 16), batch_size=4, num_parallel_calls=2, executor="process", seed=1)
    for (xa, _), (xb, _) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)


def test_figures():
    from mlbook.viz.data import plot_pipeline_trace, plot_series, plot_shuffle_mixing, plot_traces, shuffle_displacement

    with Tracer() as tracer:
        for _ in Dataset.range(12).map(work.gil_free, num_parallel_calls=2).batch(4).prefetch(2):
            with tracer.span("train"):
                pass
    assert isinstance(plot_pipeline_trace(tracer), Figure)
    assert isinstance(plot_traces({"a": tracer, "b": tracer}), Figure)
    assert isinstance(plot_shuffle_mixing(200, [1, 10, 100, 200]), Figure)
    assert isinstance(plot_series([1, 2], {"x": [1, 2]}, xlabel="a", ylabel="b", kind="bar"), Figure)
    assert shuffle_displacement(500, 1) == 0.0
    assert 0.8 < shuffle_displacement(2000, 2000) < 1.2
    assert shuffle_displacement(2000, 10) < 0.05
    with pytest.raises(ValueError, match="3 x positions"):
        plot_series([1, 2, 3], {"x": [1, 2]}, xlabel="a", ylabel="b")
    with pytest.raises(ValueError, match="at least one tracer"):
        plot_traces({})
