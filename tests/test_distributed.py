"""Tests of mlbook.train.distributed with 2 CPU processes (gloo on 127.0.0.1)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from mlbook.train.checkpoint import load_checkpoint
from mlbook.train.distributed import (
    DataParallelSpec,
    RankFailedError,
    allreduce_times,
    launch,
    shard,
    train_data_parallel,
    train_single_process,
)


# Module-level so the child processes can unpickle them (they import this module by name).
def _exit_without_report(rank: int, world_size: int) -> None:
    if rank == 1:
        os._exit(3)
    torch.distributed.barrier()  # rank 0 would wait here forever for rank 1


def _raise_value_error(rank: int, world_size: int) -> None:
    if rank == 0:
        raise ValueError("rank zero refuses")
    torch.distributed.barrier()


def _sleep_forever(rank: int, world_size: int) -> None:
    time.sleep(3600)


def _rank_and_sum(rank: int, world_size: int) -> tuple[int, float]:
    t = torch.tensor([float(rank + 1)])
    torch.distributed.all_reduce(t)
    return rank, float(t)


# -------------------------------------------------------------------------------------------- shard
@pytest.mark.parametrize("n, num_shards", [(10, 3), (9, 3), (1, 4), (0, 2), (7, 1)])
def test_shard_matches_tf_data_semantics(n, num_shards):
    data = list(range(n))
    shards = [shard(data, num_shards, i) for i in range(num_shards)]
    # tf.data: shard i holds the elements whose position p has p % num_shards == i, in order
    for i, part in enumerate(shards):
        assert part == [p for p in data if p % num_shards == i]
    assert sorted(sum(shards, [])) == data
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_shard_on_arrays_and_tensors():
    a = np.arange(12).reshape(6, 2)
    np.testing.assert_array_equal(shard(a, 2, 1), a[[1, 3, 5]])
    t = torch.arange(5)
    assert shard(t, 2, 0).tolist() == [0, 2, 4]


@pytest.mark.parametrize("num_shards, index, match", [(0, 0, "num_shards"), (2, 2, r"index .*\[0, 2\)"),
                                                      (2, -1, "index"), (True, 0, "num_shards")])
def test_shard_bad_arguments(num_shards, index, match):
    with pytest.raises(ValueError, match=match):
        shard([1, 2, 3], num_shards, index)
    with pytest.raises(TypeError, match="sliceable"):
        shard(iter([1, 2]), 2, 0)


# ------------------------------------------------------------------------------------------- launch
def test_launch_returns_results_by_rank():
    assert launch(_rank_and_sum, 2, timeout_s=60) == [(0, 3.0), (1, 3.0)]


def test_ddp_equals_one_process_on_the_concatenated_batch(tmp_path):
    spec = DataParallelSpec(sizes=(4, 16, 2), n_examples=70, batch_size=8, epochs=2, lr=0.2,
                            checkpoint=str(tmp_path / "ckpt.pt"), log=str(tmp_path / "log.txt"))
    ranks = launch(train_data_parallel, 2, (spec,), timeout_s=90)
    reference = train_single_process(spec, 2)
    steps = 2 * ((70 // 2) // 8)  # 4 steps per epoch; the 6 examples left over are dropped
    assert [r["steps"] for r in ranks] == [steps, steps] and reference["steps"] == steps
    assert [r["shard_size"] for r in ranks] == [35, 35]
    initial = train_single_process(DataParallelSpec(sizes=(4, 16, 2), n_examples=70, batch_size=8, epochs=0), 2)
    for name, expected in reference["state"].items():
        np.testing.assert_allclose(ranks[0]["state"][name], expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(ranks[1]["state"][name], ranks[0]["state"][name])  # replicas agree exactly
        assert not np.allclose(expected, initial["state"][name])  # training moved the weights
    # metrics reduced across ranks: each rank reports the global (weighted) mean loss
    np.testing.assert_allclose(ranks[0]["history"]["loss"], reference["history"]["loss"], rtol=1e-10)
    np.testing.assert_allclose(ranks[1]["history"]["loss"], reference["history"]["loss"], rtol=1e-10)
    # only rank 0 wrote: one checkpoint with the unwrapped model's names, one log line per epoch
    saved = load_checkpoint(tmp_path / "ckpt.pt")
    assert saved["epoch"] == 1 and set(saved["model"]) == set(reference["state"])
    np.testing.assert_allclose(saved["model"]["0.weight"].numpy(), reference["state"]["0.weight"], rtol=1e-10)
    assert (tmp_path / "log.txt").read_text().count("epoch") == 2


def test_a_rank_that_raises_fails_the_job_fast():
    start = time.monotonic()
    with pytest.raises(RankFailedError, match="rank 1 failed: RuntimeError: deliberate failure on rank 1") as info:
        launch(train_data_parallel, 2, (DataParallelSpec(fail_rank=1),), timeout_s=60)
    assert info.value.rank == 1 and "Traceback" in str(info.value)
    with pytest.raises(RankFailedError, match="rank 0 failed: ValueError: rank zero refuses"):
        launch(_raise_value_error, 2, timeout_s=60)
    assert time.monotonic() - start < 30  # far below the 60 s timeout: nobody waited for it


def test_a_rank_that_dies_silently_fails_the_job():
    with pytest.raises(RankFailedError, match="rank 1 failed: exited with code 3 without a result"):
        launch(_exit_without_report, 2, timeout_s=60)


def test_a_hung_job_times_out():
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"ranks \[0, 1\] are still running"):
        launch(_sleep_forever, 2, timeout_s=2)
    assert time.monotonic() - start < 20


def test_allreduce_times_are_positive_and_checked():
    times = launch(allreduce_times, 2, ([10, 10_000], 3), timeout_s=60)
    assert set(times[0]) == {10, 10_000} and all(t > 0 for t in times[0].values())


def test_launch_bad_world_size():
    with pytest.raises(ValueError, match="world_size"):
        launch(_rank_and_sum, 0)


def test_too_little_data_for_one_step():
    with pytest.raises(ValueError, match="do not fill one batch"):
        train_single_process(DataParallelSpec(n_examples=10, batch_size=8), 2)


def test_runs_under_torchrun():
    import json
    import subprocess
    import sys
    from pathlib import Path

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed next to this Python")
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "mlbook.train.distributed",
                           "--epochs", "2", "--timeout", "60"], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    reference = train_single_process(DataParallelSpec(n_examples=64, batch_size=8, epochs=2), 2)
    assert report["world_size"] == 2 and report["backend"] == "gloo"
    np.testing.assert_allclose(report["loss"], reference["history"]["loss"], rtol=1e-12)
