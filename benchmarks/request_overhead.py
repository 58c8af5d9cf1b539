"""What the per-request operations layer costs: request id, access log line and Prometheus metrics.

    .venv/bin/python benchmarks/request_overhead.py [--bundle PATH] [--requests 2000] [--rounds 7]

Drives the ASGI app in process (no sockets, so the difference is not lost in network noise) with
``POST /v1/predictions`` for one advert, three ways, interleaved round by round: without the
``RequestObserver``, with it and the access log off, and with it writing JSON access lines to /dev/null.
Without ``--bundle`` it scores the test suite's days-to-sell pipeline. Prints per-request medians in µs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from litestar.testing import TestClient  # noqa: E402

from daystosell_service.__main__ import JsonLogFormatter  # noqa: E402
from daystosell_service.api.middleware import RequestObserver, access_log  # noqa: E402
from daystosell_service.api.request_context import RequestIdLogFilter  # noqa: E402
from daystosell_service.app import create_app  # noqa: E402

BODY = json.dumps({"adverts": [{
    "advert_id": "ad-1", "make": "Ford", "model": "Fiesta", "fuel": "Petrol", "body_type": "Hatchback",
    "postcode_area": "LS", "registration_year": 2017, "listing_year": 2023, "listing_month": 6, "mileage": 42000,
    "asking_price": 8995, "valuation": 9400,
}]}).encode()


async def run(handler: Any, n: int) -> float:
    """Mean seconds per request of ``n`` sequential requests through ``handler``."""
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    started = time.perf_counter()
    for _ in range(n):
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/v1/predictions", "raw_path": b"/v1/predictions", "root_path": "", "query_string": b"",
            "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(BODY)).encode())],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
        }
        await handler(scope, receive, send)
    elapsed = (time.perf_counter() - started) / n
    assert sent[0]["status"] == 200, sent[:2]
    return elapsed


def test_bundle() -> Path:
    from daystosell_tests.service.support import write_bundle, write_golden_beside

    bundle = write_bundle(Path(tempfile.mkdtemp()) / "days_to_sell")
    write_golden_beside(bundle)
    return bundle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    app = create_app(args.bundle or test_bundle())
    observed = app.asgi_handler
    assert isinstance(observed, RequestObserver)
    bare = observed.app
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(RequestIdLogFilter())
    access_log.addHandler(handler)
    access_log.propagate = False

    results: dict[str, list[float]] = {"bare": [], "observed, no access log": [], "observed + access log": []}
    with TestClient(app):  # runs the lifespan: bundle loaded, golden rows checked
        loop = asyncio.new_event_loop()

        async def through_app(handler_: Any, n: int) -> float:
            async def entry(scope: Any, receive: Any, send: Any) -> None:
                scope["app"] = scope["litestar_app"] = app
                await handler_(scope, receive, send)
            return await run(entry, n)

        loop.run_until_complete(through_app(observed, 200))  # warm up
        variants = [("bare", bare, logging.WARNING), ("observed, no access log", observed, logging.WARNING),
                    ("observed + access log", observed, logging.INFO)]
        for round_ in range(args.rounds):
            # A different order each round, so a slower stretch of a shared machine does not land on one variant.
            for name, target, level in variants[round_ % 3:] + variants[: round_ % 3]:
                access_log.setLevel(level)
                results[name].append(loop.run_until_complete(through_app(target, args.requests)))
        loop.close()
    base = statistics.median(results["bare"])
    for name, seconds in results.items():
        median = statistics.median(seconds)
        print(f"{name:26s} median {median * 1e6:7.1f} µs/request (+{(median - base) * 1e6:5.1f} µs), "
              f"best round {min(seconds) * 1e6:7.1f} µs")


if __name__ == "__main__":
    main()
