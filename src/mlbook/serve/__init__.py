"""Serving a trained model over HTTP: artifacts that carry their preprocessing, a FastAPI service with
input validation and optional micro-batching, an in-process start/stop, and a bounded load generator.

- :mod:`mlbook.serve.artifact`: :func:`save_artifact` / :func:`save_torch_artifact` / :func:`load_artifact`,
  :class:`Preprocessing`, :class:`ModelArtifact`.
- :mod:`mlbook.serve.app`: :func:`create_app`, :func:`parse_predict_request`, :func:`start_server`,
  :func:`serve_subprocess`.
- :mod:`mlbook.serve.batching`: :class:`MicroBatcher`.
- :mod:`mlbook.serve.loadtest`: :func:`run_load`.

Command line: ``python -m mlbook.serve MODEL.npz --port 8000`` (listens on 127.0.0.1 by default).
"""

from mlbook.serve.app import RequestError, RunningServer, create_app, parse_predict_request, serve_subprocess, start_server
from mlbook.serve.artifact import (
    ARTIFACT_FORMAT,
    ArtifactError,
    ModelArtifact,
    Preprocessing,
    load_artifact,
    save_artifact,
    save_torch_artifact,
)
from mlbook.serve.batching import MicroBatcher
from mlbook.serve.loadtest import LoadResult, run_load

__all__ = [
    "ARTIFACT_FORMAT",
    "ArtifactError",
    "LoadResult",
    "MicroBatcher",
    "ModelArtifact",
    "Preprocessing",
    "RequestError",
    "RunningServer",
    "create_app",
    "load_artifact",
    "parse_predict_request",
    "run_load",
    "save_artifact",
    "save_torch_artifact",
    "serve_subprocess",
    "start_server",
]
