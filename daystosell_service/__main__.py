"""``python -m daystosell_service --bundle PATH --port N``: serve a bundle with uvicorn, one worker.

Logs are JSON lines on stderr. The line ``"message": "service ready"`` is written once the bundle is loaded,
has reproduced its golden rows and the socket accepts connections. Every line written while a request is handled
carries its ``request_id``, and each request ends with an access line (``"message": "request"``).

SIGTERM stops accepting connections, lets the requests in flight finish (for up to ``--shutdown-timeout``
seconds) and exits 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from litestar import Litestar

from daystosell_service.api.request_context import RequestIdLogFilter
from daystosell_service.app import create_app, service_state

log = logging.getLogger("daystosell_service")

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RequestIdLogFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class Server(uvicorn.Server):
    """uvicorn's server, saying when it is ready: model loaded and socket bound."""

    def __init__(self, config: uvicorn.Config, app: Litestar) -> None:
        super().__init__(config)
        self.app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # SIGTERM is how a supervisor asks for a graceful stop; once that is done the process exits 0 instead of
        # uvicorn re-raising the signal, so a clean stop is not reported as a crash.
        if sig == signal.SIGTERM:
            self._captured_signals.remove(sig)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        if ":" in host:
            host = f"[{host}]"
        scorer = service_state(self.app).require_scorer()
        log.info(
            "service ready",
            extra={
                "url": f"http://{host}:{port}",
                "model_version": scorer.model_version,
                "bundle_digest": scorer.bundle_digest,
            },
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m daystosell_service",
        description="Serve days-to-sell predictions from an MLeap bundle.",
    )
    parser.add_argument("--bundle", type=Path, required=True, help="MLeap bundle: a .zip or a directory")
    golden = parser.add_mutually_exclusive_group()
    golden.add_argument(
        "--golden", type=Path,
        help="golden rows the bundle must reproduce before the service is ready (default: golden.jsonl beside it)",
    )
    golden.add_argument(
        "--no-golden-check", action="store_true", help="serve the bundle without checking it against golden rows"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to bind, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--access-log", action=argparse.BooleanOptionalAction, default=True,
        help="log a line per request: method, route, status, duration (default: on)",
    )
    parser.add_argument(
        "--shutdown-timeout", type=float, default=20.0,
        help="seconds the requests in flight get to finish after SIGTERM (default: %(default)s)",
    )
    # httptools and uvloop (dependencies of the service) by name, not uvicorn's "auto", which would fall back to
    # h11 and asyncio without a word: ~40% less throughput on one core (benchmarks/results/serving_load.md).
    parser.add_argument("--http", default="httptools", choices=["h11", "httptools"],
                        help="uvicorn's HTTP implementation (default: %(default)s)")
    parser.add_argument("--loop", default="uvloop", choices=["asyncio", "uvloop"],
                        help="uvicorn's event loop (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level)
    logging.getLogger("daystosell_service.access").disabled = not args.access_log
    app = create_app(args.bundle, golden_path=args.golden, golden_check=not args.no_golden_check)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        workers=1,
        http=args.http,
        loop=args.loop,
        lifespan="on",
        log_config=None,
        # The app writes its own access line, with the route template and the request id.
        access_log=False,
        timeout_graceful_shutdown=args.shutdown_timeout,
        server_header=False,
    )
    server = Server(config, app)
    server.run()
    # uvicorn exits by itself when startup fails; reaching here after a clean shutdown means success.
    return 0 if server.started else 3


if __name__ == "__main__":
    sys.exit(main())
