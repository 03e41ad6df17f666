"""`modelreg serve` as a process: graceful SIGTERM, access log, start-up errors."""

from __future__ import annotations

import signal
import socket
import threading
import time

import httpx
import pytest
from conftest import run_cli, run_process
from serve_harness import ServeProcess, version_lock, wait_until


@pytest.fixture
def sqlite_url(tmp_path, monkeypatch):
    """For what does not depend on the backend (start-up, logging): SQLite only."""
    from conftest import new_registry

    url = new_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("MODELREG_DB", url)
    return url


def test_sigterm_lets_requests_in_flight_finish(guide_registry, backend, db_url):
    server = ServeProcess(env={"MODELREG_DB": db_url})
    try:
        server.wait_listening()
        assert httpx.get(server.url("/healthz")).status_code == 200
        lock = version_lock(backend, db_url)
        lock.take()
        outcome: dict = {}

        def in_flight():
            outcome["response"] = httpx.get(server.url("/v1/models?limit=2"), timeout=30)

        request = threading.Thread(target=in_flight)
        try:
            request.start()
            time.sleep(0.5)
            assert request.is_alive()  # waiting on the database
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.proc.poll() is None, "must wait for the request in flight"
            # no new connections once stopping
            wait_until(lambda: _refused(server.port), timeout=5)
        finally:
            lock.release()
        request.join(20)
        assert outcome["response"].status_code == 200 and len(outcome["response"].json()["items"]) == 2
        assert server.finish() == 0
    finally:
        server.kill()
    log = server.lines
    assert any('"GET /v1/models?limit=2 HTTP/1.1" 200' in line for line in log), log
    assert any('"GET /healthz HTTP/1.1" 200' in line for line in log)
    assert log[-1] == "modelreg serve: stopped" and not any("Traceback" in line for line in log)


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def test_access_log_off_and_quiet_protocol_errors(sqlite_url):
    server = ServeProcess("--access-log", "off")
    try:
        server.wait_listening()
        for _ in range(3):
            assert httpx.get(server.url("/v1/tree")).status_code == 200
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            assert b" 400 " in sock.recv(200)
        server.proc.send_signal(signal.SIGTERM)
        assert server.finish() == 0
    finally:
        server.kill()
    assert not any("GET /v1/tree" in line for line in server.lines)
    assert not any("Traceback" in line for line in server.lines)  # one line for a malformed request
    assert any("refused a malformed request" in line for line in server.lines)


def test_start_up_errors_are_one_line_exit_2(sqlite_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_process("serve", "--port", str(port))
        assert r.exit_code == 2
        assert r.stderr == f"error: cannot listen on 127.0.0.1:{port}: address already in use\n"
        again = run_cli("serve", "--port", str(port))  # in-process: the same funnel, no leftovers
        assert (again.exit_code, again.stderr) == (2, r.stderr)
    r = run_cli("serve", "--require-token")
    assert r.exit_code == 2 and r.stderr.startswith("error: --require-token needs stored tokens")
    r = run_cli("serve", "--access-log", "maybe")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "--access-log" in r.stderr
    r = run_cli("serve", env={"MODELREG_DB": "http://127.0.0.1:9"})
    assert r.exit_code == 2 and "serve needs a database URL" in r.stderr
    r = run_cli("serve", "--port", "70000")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
