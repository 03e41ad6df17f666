"""`modelreg serve` under trouble: the database going away and coming back,
a slow database, slowloris clients and oversized headers."""

from __future__ import annotations

import socket
import threading
import time

import httpx
from conftest import approve
from serve_harness import OpenApiCheck, PgOutage, ServerThread, SqliteLock, get, version_lock, wait_until

ADV = "ms-advanced-reasoning@3.0.1"


def test_database_outage_is_503_and_recovers_by_itself(guide_registry, backend, db_url):
    reg = guide_registry
    approve(reg, ADV)
    with ServerThread(reg, watch_timeout=0.5) as srv:
        documented = OpenApiCheck(get(srv, "/v1/openapi.json").json())
        before = get(srv, "/v1/resolve?provider=mindstudio")
        assert before.status_code == 200
        # SQLite: a connection holding an exclusive lock; PostgreSQL: connections refused and terminated
        outage = SqliteLock(db_url) if backend == "sqlite" else PgOutage(db_url)
        take, give_back = (outage.take, outage.release) if backend == "sqlite" else (outage.begin, outage.end)
        take()
        try:
            wait_until(lambda: get(srv, "/healthz").status_code == 503, timeout=10)
            health = get(srv, "/healthz")
            assert health.json() == {"status": "unavailable", "database": "unreachable", "audit_seq": None}
            documented.check(health)
            for path in ("/v1/resolve?provider=mindstudio", "/v1/models?limit=3", "/v1/tree", "/metrics"):
                r = get(srv, path)
                assert r.status_code == 503, path
                documented.check(r)
                assert r.json()["error"]["code"] == "database_unavailable" and r.headers["Retry-After"] == "1"
                assert "Traceback" not in r.text and "sqlite" not in r.text and "postgres" not in r.text
        finally:
            give_back()
        wait_until(lambda: get(srv, "/healthz").status_code == 200, timeout=20)
        after = get(srv, "/v1/resolve?provider=mindstudio")
        assert after.status_code == 200 and after.json() == before.json()
        assert get(srv, "/v1/models?limit=3").status_code == 200


def test_a_slow_database_never_blocks_the_event_loop(guide_registry, backend, db_url):
    reg = guide_registry
    with ServerThread(reg, watch_timeout=10) as srv:
        assert get(srv, "/v1/tree").status_code == 200  # now kept in memory
        lock = version_lock(backend, db_url)
        lock.take()
        outcome: dict = {}

        def slow_read():
            with httpx.Client(timeout=30) as client:
                outcome["response"] = client.get(srv.url("/v1/models?limit=2"))

        reader = threading.Thread(target=slow_read)
        try:
            reader.start()
            time.sleep(0.3)
            assert reader.is_alive(), "the read should be waiting on the lock"
            started = time.monotonic()
            for _ in range(10):
                assert get(srv, "/v1/tree").status_code == 200
                assert get(srv, "/healthz").status_code == 200
            assert time.monotonic() - started < 2.0  # served while a worker thread waits on the database
            assert reader.is_alive()
        finally:
            lock.release()
        reader.join(20)
        assert outcome["response"].status_code == 200 and len(outcome["response"].json()["items"]) == 2


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def _read_all(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data


def test_slowloris_and_oversized_headers_do_not_stall_others(registry):
    with ServerThread(registry, header_timeout=1.0) as srv:
        slow = [_connect(srv.port) for _ in range(40)]
        for sock in slow:
            sock.sendall(b"GET /v1/tree HTTP/1.1\r\nHost: x\r\n")
        oversized = _connect(srv.port)
        many = _connect(srv.port)
        try:
            oversized.sendall(b"GET /v1/tree HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before we finished sending: also fine
        try:
            many.sendall(
                b"GET /v1/tree HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(300)) + b"\r\n"
            )
        except (BrokenPipeError, ConnectionResetError):
            pass
        worst = 0.0
        for _ in range(20):
            started = time.monotonic()
            assert get(srv, "/v1/tree").status_code == 200
            worst = max(worst, time.monotonic() - started)
            for sock in slow[:5]:
                sock.sendall(b"X-Drip: 1\r\n")  # still trickling headers
        assert worst < 1.0
        for sock in (oversized, many):
            answer = _read_all(sock)
            assert answer == b"" or answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:200]
            assert b"Traceback" not in answer
            sock.close()
        # the trickling clients are cut off once header_timeout passes
        started = time.monotonic()
        for sock in slow:
            assert b"200 OK" not in _read_all(sock, timeout=10)
            sock.close()
        assert time.monotonic() - started < 8
        assert get(srv, "/healthz").status_code == 200
