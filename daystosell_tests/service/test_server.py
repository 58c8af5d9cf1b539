"""The real entry point: ``python -m daystosell_service`` as a process, spoken to over a socket."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from daystosell_service.launcher import free_port, start_service

from .support import MODEL_VERSION, advert, expected_prediction

STARTUP_SECONDS = 30


def log_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def start(bundle: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return start_service(bundle, port=port, log=out)


@pytest.fixture
def server(bundle_dir: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port, log = free_port(), tmp_path / "server.log"
    process = start(bundle_dir, port, log)
    try:
        yield process, f"http://127.0.0.1:{port}", log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> httpx.Response:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            response = httpx.get(f"{url}/health/ready", timeout=1)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"server not ready after {STARTUP_SECONDS}s:\n{log.read_text()}")


def test_server_scores_over_http_and_stops_on_sigterm(
    server: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, url, log = server

    ready = wait_ready(process, url, log)
    adverts = [advert(advert_id="first"), advert(advert_id="second", make="BMW", mileage=5_000)]
    response = httpx.post(f"{url}/v1/predictions", json={"adverts": adverts}, timeout=10)
    bad = httpx.post(f"{url}/v1/predictions", json={"adverts": [advert(mileage="far")]}, timeout=10)

    assert ready.json()["model_version"] == MODEL_VERSION
    assert response.status_code == 200
    assert response.json()["model_version"] == MODEL_VERSION
    assert [p["advert_id"] for p in response.json()["predictions"]] == ["first", "second"]
    assert [p["days_to_sell"] for p in response.json()["predictions"]] == pytest.approx(
        [expected_prediction(a) for a in adverts]
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "adverts[0].mileage"

    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so a supervisor sees how the process ended.
    assert process.wait(timeout=15) in (0, -signal.SIGTERM)
    assert "Application shutdown complete." in [line.get("message") for line in log_lines(log)]
    ready_lines = [line for line in log_lines(log) if line.get("message") == "service ready"]
    assert len(ready_lines) == 1
    assert ready_lines[0]["url"] == url
    assert ready_lines[0]["model_version"] == MODEL_VERSION
    assert ready_lines[0]["bundle_digest"] == ready.json()["bundle_digest"]


def test_server_exits_with_an_error_naming_a_missing_bundle(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    process = start(tmp_path / "no-such-bundle.zip", free_port(), log)

    try:
        code = process.wait(timeout=STARTUP_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()

    assert code != 0
    assert "MLeap bundle not found" in log.read_text()


def test_the_service_imports_nothing_from_the_training_side() -> None:
    # The serving image installs only the service's dependencies: no Spark, no Dagster, no pipeline code.
    probe = (
        "import sys, daystosell_service.__main__, daystosell_service.app; "
        "roots = {m.split('.')[0] for m in sys.modules}; "
        "print(sorted(roots & {'pyspark', 'py4j', 'dagster', 'daystosell_assets'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == "[]"
