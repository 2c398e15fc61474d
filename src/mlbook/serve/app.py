"""The HTTP service: ``POST /predict``, ``GET /health``, ``GET /metadata``, and an OpenAPI description.

Built on FastAPI (routing, OpenAPI at ``/openapi.json``, docs at ``/docs``) and served by uvicorn. The
request body is parsed by :func:`parse_predict_request` rather than by FastAPI's model binding, so that
every client mistake gets a 4xx whose message names it: a wrong content type (415), malformed JSON or a
``NaN``/``Infinity`` token (400; Python's ``json`` accepts those, JSON does not), a wrong shape,
feature count or non-number (422), a body or batch over the limit (413). Nothing a client sends can
produce a 500.

:func:`start_server` runs the service in a background thread on loopback (port 0: the OS picks a free
port) and returns a handle whose ``stop()`` shuts it down; use it as a context manager.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mlbook.serve.artifact import ModelArtifact, load_artifact
from mlbook.serve.batching import MicroBatcher

__all__ = ["RequestError", "RunningServer", "create_app", "parse_predict_request", "serve_subprocess",
           "start_server"]


class RequestError(Exception):
    """A client mistake: ``status`` is the HTTP status to answer with, the message says what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class PredictRequest(BaseModel):
    """``{"instances": [[x11, x12, ...], [x21, ...], ...]}``: one row of raw features per example."""

    instances: list[list[float]]


class PredictResponse(BaseModel):
    predictions: list[list[float]]
    labels: Optional[list[int]] = None
    model: str
    version: str


def _reject_constant(token: str) -> float:
    raise RequestError(400, f"invalid JSON: {token} is not a JSON number (JSON has no NaN or Infinity)")


def parse_predict_request(body: bytes, content_type: Optional[str], *, n_features: int,
                          max_rows: int) -> np.ndarray:
    """Validate a ``/predict`` body and return its instances as a float64 array ``(rows, n_features)``.

    Raises :class:`RequestError` with status 415 (content type is not JSON), 400 (not UTF-8, malformed
    JSON, NaN/Infinity tokens), 413 (more than ``max_rows`` rows) or 422 (anything else about the shape
    or values: missing ``instances``, an empty batch, a ragged row, a non-number, a number too large for
    float64).
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise RequestError(415, f"Content-Type must be application/json, got {content_type or 'none'!r}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(400, f"the body is not UTF-8 text: {error}") from error
    try:
        payload = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise RequestError(400, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}") from error
    except RecursionError as error:
        raise RequestError(400, "malformed JSON: nested too deeply") from error
    if not isinstance(payload, dict) or "instances" not in payload:
        raise RequestError(422, 'the body must be a JSON object {"instances": [[...], ...]}')
    rows = payload["instances"]
    if not isinstance(rows, list) or not rows:
        raise RequestError(422, '"instances" must be a non-empty list of rows')
    if len(rows) > max_rows:
        raise RequestError(413, f"batch of {len(rows)} rows is over the limit of {max_rows} rows per request")
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise RequestError(422, f"instances[{i}] must be a list of {n_features} numbers, got {type(row).__name__}")
        if len(row) != n_features:
            raise RequestError(422, f"instances[{i}] has {len(row)} features, the model expects {n_features}")
        for j, value in enumerate(row):
            # bool is a subclass of int in Python, but true/false are not features
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RequestError(422, f"instances[{i}][{j}] must be a number, got {json.dumps(value)[:40]}")
    try:
        x = np.array(rows, dtype=np.float64)
    except OverflowError as error:  # an integer literal beyond float64's range
        raise RequestError(422, f"a number does not fit in float64: {error}") from error
    if not np.all(np.isfinite(x)):
        i, j = np.argwhere(~np.isfinite(x))[0]
        raise RequestError(422, f"instances[{i}][{j}] overflows float64 to {x[i, j]}; features must be finite")
    return x


def create_app(artifact: Union[ModelArtifact, str, os.PathLike], *, max_rows: int = 1024,
               max_body_bytes: int = 1 << 20, micro_batching: bool = False, max_batch_rows: int = 256,
               max_wait_s: float = 0.002) -> FastAPI:
    """The FastAPI application serving ``artifact`` (a :class:`ModelArtifact` or a path to one).

    ``max_rows`` bounds the rows of one request, ``max_body_bytes`` its size. With ``micro_batching``,
    concurrent requests are merged by a :class:`~mlbook.serve.batching.MicroBatcher` (at most
    ``max_batch_rows`` rows, waiting at most ``max_wait_s``).
    """
    if not isinstance(artifact, ModelArtifact):
        artifact = load_artifact(artifact)
    if not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
    batcher = MicroBatcher(artifact.predict, max_rows=max_batch_rows, max_wait_s=max_wait_s) if micro_batching else None
    meta = artifact.metadata

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if batcher is not None:
            await batcher.start()
        try:
            yield
        finally:
            if batcher is not None:
                await batcher.stop()

    app = FastAPI(title="mlbook model server", version=str(meta["version"]), lifespan=lifespan,
                  description=f"Predictions of model {meta['name']!r} ({meta['task']}, layer sizes {meta['sizes']}).")
    app.state.artifact = artifact
    app.state.batcher = batcher

    @app.exception_handler(RequestError)
    async def _client_error(request: Request, error: RequestError) -> JSONResponse:
        return JSONResponse(status_code=error.status, content={"detail": error.message})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and readiness: the model is loaded and answers."""
        return {"status": "ok", "model": meta["name"], "version": meta["version"]}

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        """What the model expects and returns, and the request limits."""
        return {**meta, "n_features": artifact.n_features, "n_outputs": artifact.n_outputs, "max_rows": max_rows,
                "micro_batching": batcher is not None}

    @app.post("/predict", response_model=PredictResponse,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": PredictRequest.model_json_schema()}}}},
              responses={400: {"description": "malformed JSON"}, 413: {"description": "body or batch too large"},
                         415: {"description": "not application/json"}, 422: {"description": "wrong shape or values"}})
    async def predict(request: Request) -> dict[str, Any]:
        """Predictions for a batch: raw features in, standardised with the training mean/std, MLP out."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise RequestError(413, f"body of {declared} bytes is over the limit of {max_body_bytes} bytes")
        body = await request.body()
        if len(body) > max_body_bytes:
            raise RequestError(413, f"body of {len(body)} bytes is over the limit of {max_body_bytes} bytes")
        x = parse_predict_request(body, request.headers.get("content-type"), n_features=artifact.n_features,
                                  max_rows=max_rows)
        outputs = await batcher.submit(x) if batcher is not None else artifact.predict(x)
        response: dict[str, Any] = {"predictions": outputs.tolist(), "model": meta["name"],
                                    "version": meta["version"]}
        if artifact.task == "classification":
            response["labels"] = outputs.argmax(axis=1).tolist()
        return response

    return app


class RunningServer:
    """A uvicorn server running in a daemon thread. ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, server: Any, thread: threading.Thread, host: str, port: int) -> None:
        self._server, self._thread = server, thread
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"

    @property
    def app(self) -> FastAPI:
        return self._server.config.app

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the server to finish (in-flight requests complete), and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():  # connections that will not close: stop without waiting for them
            self._server.force_exit = True
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the server at {self.url} did not stop within {2 * timeout:.0f} s")

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_server(artifact: Union[ModelArtifact, str, os.PathLike], *, host: str = "127.0.0.1", port: int = 0,
                 startup_timeout: float = 10.0, **app_options: Any) -> RunningServer:
    """Start the service in a background thread and return once it accepts connections.

    ``port=0`` lets the OS choose a free port (read it from ``.port`` / ``.url``). ``app_options`` go to
    :func:`create_app`. Always stop it: ``with start_server(...) as server: ...``.
    """
    import uvicorn

    app = create_app(artifact, **app_options)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only in the main thread, so a server in a thread leaves them alone.
    thread = threading.Thread(target=server.run, name=f"uvicorn-{host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the server failed to start on {host}:{port} (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            raise TimeoutError(f"the server did not start within {startup_timeout} s")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return RunningServer(server, thread, host, int(bound))


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_subprocess(artifact_path: Union[str, os.PathLike], *, port: Optional[int] = None,
                     extra_args: tuple[str, ...] = (), startup_timeout: float = 30.0) -> Iterator[str]:
    """Run ``python -m mlbook.serve ARTIFACT`` in a child process on 127.0.0.1; yield its URL.

    The child is terminated (then killed) on exit, whatever happens inside the ``with`` block.
    """
    import httpx

    port = _free_port() if port is None else port
    cmd = [sys.executable, "-m", "mlbook.serve", str(Path(artifact_path)), "--host", "127.0.0.1",
           "--port", str(port), *extra_args]
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"the server exited with code {child.returncode}: "
                                   f"{child.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not answer /health within {startup_timeout} s")
            time.sleep(0.05)
        yield url
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)
        if child.stderr is not None:
            child.stderr.close()
