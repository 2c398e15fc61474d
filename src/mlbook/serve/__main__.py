"""``python -m mlbook.serve MODEL [--host 127.0.0.1] [--port 8000] ...``: serve an artifact over HTTP."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlbook.serve",
                                     description="Serve a model artifact (.npz, .pt) with POST /predict.")
    parser.add_argument("model", help="artifact written by mlbook.serve.save_artifact or save_torch_artifact")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-rows", type=int, default=1024, help="most rows accepted in one request")
    parser.add_argument("--micro-batching", action="store_true", help="merge concurrent requests")
    parser.add_argument("--max-batch-rows", type=int, default=256)
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    args = parser.parse_args(argv)

    import uvicorn

    from mlbook.serve.app import create_app
    from mlbook.serve.artifact import ArtifactError

    try:
        app = create_app(args.model, max_rows=args.max_rows, micro_batching=args.micro_batching,
                         max_batch_rows=args.max_batch_rows, max_wait_s=args.max_wait_ms / 1000)
    except (ArtifactError, FileNotFoundError) as error:
        print(f"error: cannot serve {args.model!r}: {error}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
