"""Graceful shutdown of the real process: SIGTERM while a large request is still arriving lets it finish, turns
new connections away, and the process exits 0 with every line of its log in JSON."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest

from daystosell_service.api.schemas import MAX_ADVERTS_PER_REQUEST
from daystosell_service.launcher import free_port, start_service, wait_ready

from .support import advert


def log_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def refuses_connections(port: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while chunk := sock.recv(1 << 16):  # the server closes the connection after this last response
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): v.strip() for name, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(bundle_dir: Path, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "server.log"
    with log.open("wb") as out:
        process = start_service(bundle_dir, port=port, log=out, args=["--shutdown-timeout", "10"])
    try:
        wait_ready(process, f"http://127.0.0.1:{port}", timeout=30)
        body = json.dumps({"adverts": [advert(advert_id=str(i)) for i in range(MAX_ADVERTS_PER_REQUEST)]}).encode()
        head = (
            f"POST /v1/predictions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-ID: drain-1\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            # Half the body now: the request is in flight when the signal comes.
            sock.sendall(head + body[: len(body) // 2])
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            turned_away = refuses_connections(port, within=5)
            sock.sendall(body[len(body) // 2 :])
            status, headers, payload = read_response(sock)
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    assert turned_away
    assert status == 200, payload[:500]
    assert headers["x-request-id"] == "drain-1"
    assert len(json.loads(payload)["predictions"]) == MAX_ADVERTS_PER_REQUEST
    assert code == 0, log.read_text()
    lines = log_lines(log)  # every line is JSON, uvicorn's included
    messages = [line["message"] for line in lines]
    access = [line for line in lines if line["message"] == "request" and line.get("request_id") == "drain-1"]
    assert len(access) == 1
    assert access[0]["status"] == 200
    assert access[0]["route"] == "/v1/predictions"
    assert access[0]["predictions"] == MAX_ADVERTS_PER_REQUEST
    # Finished after the signal, before the app shut down.
    assert messages.index("Shutting down") < lines.index(access[0]) < messages.index("Application shutdown complete.")


@pytest.mark.parametrize("flag", [[], ["--no-access-log"]])
def test_the_access_log_can_be_turned_off(bundle_dir: Path, tmp_path: Path, flag: list[str]) -> None:
    port, log = free_port(), tmp_path / "server.log"
    with log.open("wb") as out:
        process = start_service(bundle_dir, port=port, log=out, args=flag)
    try:
        wait_ready(process, f"http://127.0.0.1:{port}", timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=20)

    requests = [line for line in log_lines(log) if line["message"] == "request"]
    assert bool(requests) == (not flag)
