"""Tests of mlbook.serve: artifacts, request validation, a real server on loopback, load and fuzz."""

from __future__ import annotations

import json
import math

import httpx
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlbook.nn.layers import mlp
from mlbook.serve import (
    ArtifactError,
    MicroBatcher,
    Preprocessing,
    RequestError,
    load_artifact,
    parse_predict_request,
    run_load,
    save_artifact,
    save_torch_artifact,
    serve_subprocess,
    start_server,
)

N_FEATURES = 5
MAX_ROWS = 64


@pytest.fixture(scope="module")
def training_data():
    rng = np.random.default_rng(0)
    return rng.normal(3.0, 2.0, size=(200, N_FEATURES))


@pytest.fixture(scope="module")
def torch_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(N_FEATURES, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3)).double()


@pytest.fixture(scope="module")
def artifact_path(tmp_path_factory, training_data, torch_model):
    pre = Preprocessing.fit(training_data)
    path = tmp_path_factory.mktemp("serve") / "model.npz"
    return save_artifact(path, torch_model, mean=pre.mean, std=pre.std, task="classification", name="clf",
                         version="7")


@pytest.fixture(scope="module")
def server(artifact_path):
    with start_server(artifact_path, max_rows=MAX_ROWS, max_body_bytes=64_000) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=10.0) as session:
        yield session


def torch_reference(model, pre: Preprocessing, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy((x - pre.mean) / pre.std)).numpy()


# ----------------------------------------------------------------------------------------- artifacts
def test_npz_and_torch_artifacts_predict_like_torch(tmp_path, training_data, torch_model):
    pre = Preprocessing.fit(training_data)
    x = np.random.default_rng(1).normal(size=(7, N_FEATURES))
    expected = torch_reference(torch_model, pre, x)
    npz = load_artifact(save_artifact(tmp_path / "m.npz", torch_model, mean=pre.mean, std=pre.std))
    pt = load_artifact(save_torch_artifact(tmp_path / "m.pt", torch_model, mean=pre.mean, std=pre.std))
    np.testing.assert_allclose(npz.predict(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pt.predict(x), expected, rtol=1e-12, atol=1e-12)
    assert npz.metadata["sizes"] == [N_FEATURES, 16, 3]


def test_mlbook_nn_model_round_trips(tmp_path):
    model = mlp([3, 4, 4, 2], activation="tanh", rng=3)
    path = save_artifact(tmp_path / "m.npz", model, mean=np.zeros(3), std=np.ones(3), activation="tanh")
    x = np.random.default_rng(2).normal(size=(6, 3))
    np.testing.assert_allclose(load_artifact(path).predict(x), model.forward(x), rtol=1e-12)


def test_preprocessing_is_applied(tmp_path, torch_model):
    mean, std = np.arange(N_FEATURES, dtype=float), np.full(N_FEATURES, 4.0)
    artifact = load_artifact(save_artifact(tmp_path / "m.npz", torch_model, mean=mean, std=std))
    x = np.random.default_rng(3).normal(size=(4, N_FEATURES))
    np.testing.assert_allclose(artifact.predict(x), torch_reference(torch_model, Preprocessing(mean, std), x))
    with torch.no_grad():
        raw = torch_model(torch.from_numpy(x)).numpy()
    assert not np.allclose(artifact.predict(x), raw)  # skipping preprocessing would give other answers


def test_artifact_without_preprocessing_is_refused(tmp_path, torch_model):
    with pytest.raises(ArtifactError, match="preprocessing"):
        save_artifact(tmp_path / "m.npz", torch_model, mean=None, std=None)
    # an archive written by hand without preprocess/mean and std
    state = {f"param/{k}": v.numpy() for k, v in torch_model.state_dict().items()}
    np.savez(tmp_path / "bare.npz", **state)
    with pytest.raises(ArtifactError, match="carries no preprocessing"):
        load_artifact(tmp_path / "bare.npz")
    torch.save(torch_model.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(ArtifactError, match="bare state_dict has no preprocessing"):
        load_artifact(tmp_path / "bare.pt")


@pytest.mark.parametrize("mean, std, match", [
    (np.zeros(4), np.ones(4), "preprocessing has 4 features but the model takes 5"),
    (np.zeros(5), np.array([1, 1, 0, 1, 1.0]), r"std must be > 0.*\[2\]"),
    (np.zeros(5), np.array([1, 1, np.nan, 1, 1.0]), "NaN or inf"),
])
def test_bad_preprocessing(tmp_path, torch_model, mean, std, match):
    with pytest.raises(ArtifactError, match=match):
        save_artifact(tmp_path / "m.npz", torch_model, mean=mean, std=std)


def test_bad_architectures(tmp_path):
    ok = {"0.weight": np.ones((4, 3)), "0.bias": np.zeros(4), "2.weight": np.ones((1, 4)), "2.bias": np.zeros(1)}
    with pytest.raises(ArtifactError, match="takes 5 inputs but the previous layer gives 4"):
        save_artifact(tmp_path / "m.npz", {**ok, "2.weight": np.ones((1, 5))}, mean=np.zeros(3), std=np.ones(3))
    with pytest.raises(ArtifactError, match="indices 0, 2, 4"):
        save_artifact(tmp_path / "m.npz", {"0.weight": ok["0.weight"], "0.bias": ok["0.bias"],
                                           "1.weight": ok["2.weight"], "1.bias": ok["2.bias"]},
                      mean=np.zeros(3), std=np.ones(3))
    with pytest.raises(ArtifactError, match="NaN or inf parameters"):
        save_artifact(tmp_path / "m.npz", {**ok, "0.bias": np.array([0, np.nan, 0, 0])}, mean=np.zeros(3),
                      std=np.ones(3))
    with pytest.raises(ArtifactError, match="classification model needs >= 2 outputs"):
        save_artifact(tmp_path / "m.npz", ok, mean=np.zeros(3), std=np.ones(3), task="classification")


def test_corrupt_and_foreign_files(tmp_path, artifact_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match="not a readable .npz"):
        load_artifact(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError, match="no artifact"):
        load_artifact(tmp_path / "missing.npz")
    with np.load(artifact_path) as archive:
        entries = dict(archive)
    entries["metadata"] = np.frombuffer(json.dumps({"format": "other/9"}).encode(), dtype=np.uint8)
    np.savez(tmp_path / "foreign.npz", **entries)
    with pytest.raises(ArtifactError, match="expected 'mlbook-serve/1'"):
        load_artifact(tmp_path / "foreign.npz")


# ------------------------------------------------------------------------------- request parsing
def parse(body, content_type="application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_predict_request(raw, content_type, n_features=3, max_rows=4)


@pytest.mark.parametrize("body, content_type, status, match", [
    ({"instances": [[1, 2, 3]]}, "text/plain", 415, "Content-Type must be application/json"),
    ({"instances": [[1, 2, 3]]}, None, 415, "got 'none'"),
    (b'{"instances": [[1, 2, 3]]', "application/json", 400, "malformed JSON"),
    (b'{"instances": [[NaN, 2, 3]]}', "application/json", 400, "NaN is not a JSON number"),
    (b'{"instances": [[1, -Infinity, 3]]}', "application/json", 400, "-Infinity is not a JSON number"),
    (b'\xff\xfe', "application/json", 400, "not UTF-8"),
    ([[1, 2, 3]], "application/json", 422, "JSON object"),
    ({"rows": [[1, 2, 3]]}, "application/json", 422, "JSON object"),
    ({"instances": []}, "application/json", 422, "non-empty list"),
    ({"instances": [[1, 2]]}, "application/json", 422, r"instances\[0\] has 2 features, the model expects 3"),
    ({"instances": [[1, 2, 3], [1, 2, 3, 4]]}, "application/json", 422, r"instances\[1\] has 4 features"),
    ({"instances": [[1, "2", 3]]}, "application/json", 422, r"instances\[0\]\[1\] must be a number"),
    ({"instances": [[1, True, 3]]}, "application/json", 422, r"instances\[0\]\[1\] must be a number"),
    ({"instances": [[1, None, 3]]}, "application/json", 422, "must be a number, got null"),
    ({"instances": [1, 2, 3]}, "application/json", 422, r"instances\[0\] must be a list"),
    (b'{"instances": [[1e999, 2, 3]]}', "application/json", 422, "overflows float64 to inf"),
    (b'{"instances": [[1' + b"0" * 400 + b', 2, 3]]}', "application/json", 422, "does not fit in float64"),
    ({"instances": [[1, 2, 3]] * 5}, "application/json", 413, "5 rows is over the limit of 4"),
])
def test_bad_requests(body, content_type, status, match):
    with pytest.raises(RequestError, match=match) as info:
        parse(body, content_type)
    assert info.value.status == status


def test_good_request_parses():
    x = parse({"instances": [[1, 2.5, -3], [0, 0, 1e300]]}, "application/json; charset=utf-8")
    assert x.dtype == np.float64 and x.shape == (2, 3)
    np.testing.assert_array_equal(x, [[1, 2.5, -3], [0, 0, 1e300]])


# ------------------------------------------------------------------------------------ live server
def test_health_metadata_openapi(client):
    assert client.get("/health").json() == {"status": "ok", "model": "clf", "version": "7"}
    meta = client.get("/metadata").json()
    assert meta["n_features"] == N_FEATURES and meta["max_rows"] == MAX_ROWS
    spec = client.get("/openapi.json").json()
    body_schema = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["required"] == ["instances"]
    assert {"400", "413", "415", "422"} <= set(spec["paths"]["/predict"]["post"]["responses"])


def test_predictions_equal_in_process_forward(client, artifact_path, torch_model):
    artifact = load_artifact(artifact_path)
    x = np.random.default_rng(5).normal(3, 2, size=(MAX_ROWS, N_FEATURES))
    response = client.post("/predict", json={"instances": x.tolist()})
    assert response.status_code == 200
    body = response.json()
    np.testing.assert_allclose(body["predictions"], artifact.predict(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(body["predictions"], torch_reference(torch_model, artifact.preprocessing, x),
                               rtol=1e-10, atol=1e-12)
    assert body["labels"] == artifact.predict(x).argmax(axis=1).tolist()
    assert (body["model"], body["version"]) == ("clf", "7")


@pytest.mark.parametrize("content, headers, status, match", [
    (b'{"instances": [[NaN, 1, 2, 3, 4]]}', {"content-type": "application/json"}, 400, "NaN"),
    (b'{"instances": ', {"content-type": "application/json"}, 400, "malformed JSON"),
    (b'{"instances": [[1, 2]]}', {"content-type": "application/json"}, 422, "has 2 features, the model expects 5"),
    (b'{"instances": [[1, 2, 3, 4, 5]]}', {"content-type": "application/x-www-form-urlencoded"}, 415, "Content-Type"),
    (json.dumps({"instances": [[0.0] * 5] * (MAX_ROWS + 1)}).encode(), {"content-type": "application/json"}, 413,
     f"over the limit of {MAX_ROWS} rows"),
    (b"[" * 70_000, {"content-type": "application/json"}, 413, "bytes is over the limit"),
])
def test_bad_requests_over_http(client, content, headers, status, match):
    response = client.post("/predict", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert match in response.json()["detail"]


def test_deeply_nested_json_is_a_400(client):
    response = client.post("/predict", content=b"[" * 30_000 + b"]" * 30_000,
                           headers={"content-type": "application/json"})
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]


def test_wrong_method_and_path(client):
    assert client.get("/predict").status_code == 405
    assert client.post("/nothing", json={}).status_code == 404


def test_bounded_load_has_zero_errors(server):
    rows = np.random.default_rng(6).normal(size=(4, N_FEATURES)).tolist()
    result = run_load(f"{server.url}/predict", rows, concurrency=4, n_requests=120, time_limit_s=60)
    assert result.errors == []
    assert result.statuses == {200: 120} and result.completed == 120


def test_micro_batching_merges_concurrent_requests_and_stays_correct(artifact_path):
    artifact = load_artifact(artifact_path)
    rows = np.random.default_rng(7).normal(size=(2, N_FEATURES))
    with start_server(artifact, micro_batching=True, max_batch_rows=32, max_wait_s=0.005) as running:
        result = run_load(f"{running.url}/predict", rows.tolist(), concurrency=6, n_requests=120, time_limit_s=60)
        batcher = running.app.state.batcher
        with httpx.Client(timeout=10) as session:
            body = session.post(f"{running.url}/predict", json={"instances": rows.tolist()}).json()
    assert result.errors == [] and result.statuses == {200: 120}
    np.testing.assert_allclose(body["predictions"], artifact.predict(rows), rtol=1e-12)
    assert batcher.rows_run == 2 * 121
    assert batcher.batches_run < 121  # some requests were merged


def test_server_stops_and_port_is_released(artifact_path):
    running = start_server(artifact_path)
    url = running.url
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    running.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=2)


def test_command_line_server(artifact_path):
    with serve_subprocess(artifact_path, extra_args=("--max-rows", "3")) as url:
        assert httpx.get(f"{url}/health", timeout=5).json()["version"] == "7"
        response = httpx.post(f"{url}/predict", json={"instances": [[0.0] * N_FEATURES] * 4}, timeout=5)
        assert response.status_code == 413 and "limit of 3 rows" in response.json()["detail"]


def test_command_line_refuses_bad_artifact(tmp_path):
    from mlbook.serve.__main__ import main

    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert main([str(tmp_path / "junk.npz")]) == 2


# --------------------------------------------------------------------------------------- batcher
def test_micro_batcher_unit():
    import asyncio

    calls = []

    def predict(x):
        calls.append(x.shape[0])
        return x * 2

    async def scenario():
        batcher = MicroBatcher(predict, max_rows=5, max_wait_s=0.05)
        await batcher.start()
        try:
            inputs = [np.full((2, 1), float(i)) for i in range(4)]
            outs = await asyncio.wait_for(asyncio.gather(*(batcher.submit(x) for x in inputs)), 10)
        finally:
            await batcher.stop()
        return inputs, outs

    inputs, outs = asyncio.run(scenario())
    for x, y in zip(inputs, outs):
        np.testing.assert_array_equal(y, 2 * x)
    assert sum(calls) == 8 and max(calls) <= 5 and len(calls) < 4
    with pytest.raises(ValueError, match="max_rows"):
        MicroBatcher(predict, max_rows=0)


# ------------------------------------------------------------------------------------------ fuzz
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=40,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(), max_size=7), max_size=5)
      .map(lambda rows: json.dumps({"instances": rows}).encode()),
    st.lists(st.lists(st.floats(-1e6, 1e6), min_size=N_FEATURES, max_size=N_FEATURES), min_size=1, max_size=5)
      .map(lambda rows: json.dumps({"instances": rows}).encode()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_fuzzed_bodies_never_give_a_server_error(client, body, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/predict", content=body, headers=headers)
    assert response.status_code in (200, 400, 413, 415, 422), (response.status_code, response.text)
    payload = response.json()
    if response.status_code == 200:
        rows = json.loads(body)["instances"]
        assert len(payload["predictions"]) == len(rows)
        assert all(math.isfinite(v) for row in payload["predictions"] for v in row)
    else:
        assert isinstance(payload["detail"], str) and payload["detail"]


# ------------------------------------------------------------------------------------------ figures
def test_serving_figures():
    from matplotlib.figure import Figure

    from mlbook.viz.serving import plot_allreduce_cost, plot_serving_load

    fig = plot_serving_load({1: (2.0, 500.0), 64: (3.0, 20000.0)}, {"plain": {1: 400.0, 4: 600.0}})
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # two panels and a twin axis
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 64]
    fig = plot_allreduce_cost({10: 1e-4, 1000: 2e-4}, compute_seconds=1e-3)
    assert len(fig.axes[0].lines) == 2 and list(fig.axes[0].lines[0].get_xdata()) == [40, 4000]
    with pytest.raises(ValueError, match="both"):
        plot_serving_load({}, {"plain": {1: 1.0}})
    with pytest.raises(ValueError, match="at least one"):
        plot_allreduce_cost({})
