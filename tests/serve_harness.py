"""Real `modelreg serve` servers for tests: the app on 127.0.0.1 (a free port)
in a thread with its own event loop, or the CLI in a subprocess; and ways to
take a test database away (really) and bring it back."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx


class ServerThread:
    """`with ServerThread(reg, **create_app_options) as srv: httpx.get(srv.url("/healthz"))`"""

    def __init__(self, registry, *, header_timeout: float = 15.0, **options):
        self.registry = registry
        self.options = {"watch_interval": 0.1, **options}
        self.header_timeout = header_timeout
        self.port: int | None = None
        self.app = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._client: httpx.Client | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="modelreg-test-server")

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced in __enter__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        from modelreg.server.app import create_app
        from modelreg.server.runner import start

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.app = create_app(self.registry, **self.options)
        runner, self.port = await start(
            self.app, "127.0.0.1", 0, access_log_on=False, header_timeout=self.header_timeout, shutdown_timeout=10
        )
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(30)
            assert not self._thread.is_alive(), "the server did not stop within 30 s"

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.close()
        self.stop()

    @property
    def client(self) -> httpx.Client:
        """One keep-alive client per server (a new httpx client per call costs an SSL context)."""
        if self._client is None:
            self._client = httpx.Client(base_url=self.base, timeout=30)
        return self._client

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def stats(self) -> dict:
        from modelreg.server.app import stats

        return stats(self.app)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll until predicate() is truthy; returns (value, seconds waited)."""
    started = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


# -- the CLI in a subprocess ----------------------------------------------------


class ServeProcess:
    """`modelreg serve --port 0 ...` as a real process; .port once listening."""

    def __init__(self, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "modelreg", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self.port: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_listening(self, timeout: float = 30) -> int:
        def listening():
            for line in self.lines:
                found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if found:
                    return int(found.group(1))
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.lines}")
            return None

        self.port, _ = wait_until(listening, timeout)
        return self.port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def finish(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


# -- taking the database away -------------------------------------------------------

SHM_LOCKER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 123)
print("LOCKED", flush=True)
sys.stdin.readline()
"""


class SqliteLock:
    """Another process holding the WAL read-mark locks of the file (bytes
    123..127 of the -shm WAL-index, sqlite.org/walformat.html): every reader
    waits (SQLite retries for about 10 s), as when a process hangs holding
    them. A subprocess, because POSIX locks never conflict within a process."""

    def __init__(self, url: str):
        self.path = Path(url.removeprefix("sqlite:///"))
        self.proc: subprocess.Popen | None = None

    def take(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SHM_LOCKER, f"{self.path}-shm"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "LOCKED"

    def release(self) -> None:
        if self.proc is not None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.wait(10)
            self.proc = None


def _pg(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


class PgTableLock:
    """A transaction holding ACCESS EXCLUSIVE on model_version: reads of
    versions wait, the audit head stays readable."""

    def __init__(self, url: str):
        self.url = url
        self.conn = None

    def take(self) -> None:
        self.conn = _pg(self.url)
        self.conn.execute("BEGIN")
        self.conn.execute("LOCK TABLE model_version IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None


class PgOutage:
    """The database goes away for real: new connections are refused and every
    open one is terminated; `end()` lets connections in again."""

    def __init__(self, url: str):
        self.url = url
        self.name = url.rpartition("/")[2]
        from conftest import user_url

        self.admin_url = user_url(url, "postgres").rpartition("/")[0] + "/postgres"  # the superuser

    def begin(self) -> None:
        with _pg(self.admin_url) as conn:
            conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (self.name,))

    def end(self) -> None:
        with _pg(self.admin_url) as conn:
            conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')


def version_lock(backend: str, url: str):
    """A lock that makes reads of versions wait (and, on SQLite, every read)."""
    return SqliteLock(url) if backend == "sqlite" else PgTableLock(url)


def get(srv, path: str, **kwargs) -> httpx.Response:
    return srv.client.get(path, **kwargs)


# -- the OpenAPI document as a test oracle ----------------------------------------------


class OpenApiCheck:
    """Validates real responses against /v1/openapi.json (jsonschema, JSON
    Schema 2020-12 as OpenAPI 3.1 uses it) and remembers what it saw."""

    BASE = "urn:modelreg:openapi"

    def __init__(self, document: dict):
        from openapi_spec_validator import validate
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        validate(document)  # a valid OpenAPI 3.1 document in the first place
        self.doc = document
        self.registry = Registry().with_resource(
            self.BASE, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self.templates = [(re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", p) + "$"), p) for p in document["paths"]]
        self.seen: set[tuple[str, int]] = set()

    @staticmethod
    def _pointer(*parts: str) -> str:
        from urllib.parse import quote

        escaped = "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
        return quote("/" + escaped, safe="/~")

    def check(self, response: httpx.Response) -> None:
        from jsonschema import Draft202012Validator

        path = response.request.url.raw_path.decode().split("?")[0]
        template = next((t for rx, t in self.templates if rx.match(path)), None)
        assert template is not None, f"{path} is not documented"
        status = response.status_code
        responses = self.doc["paths"][template]["get"]["responses"]
        assert str(status) in responses, f"{status} from {path} is not documented"
        spec = responses[str(status)]
        parts = ["paths", template, "get", "responses", str(status)]
        if "$ref" in spec:
            name = spec["$ref"].rpartition("/")[2]
            spec = self.doc["components"]["responses"][name]
            parts = ["components", "responses", name]
        for header in spec.get("headers", {}):
            if header in ("ETag", "X-Modelreg-Audit-Seq"):
                assert header in response.headers, f"{path} {status}: no {header}"
        if status == 304:
            assert response.content == b""
        else:
            ctype = response.headers["content-type"].split(";")[0]
            assert ctype in spec["content"], f"{path} {status}: undocumented content type {ctype}"
            if ctype == "application/json":
                ref = self.BASE + "#" + self._pointer(*parts, "content", ctype, "schema")
                Draft202012Validator({"$ref": ref}, registry=self.registry).validate(response.json())
        self.seen.add((template, status))
