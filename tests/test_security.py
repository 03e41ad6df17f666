"""Secrets stay out of the database files (main and -wal), the config file and
all output; the SQLite file is private (0600); only http/https endpoints are
accepted; approver rules survive casing and whitespace in actor names."""

from __future__ import annotations

import json
import os
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from bench_servers import CHAT_BODY
from conftest import new_registry, pass_all_checks, run_cli, run_process

CANARY = "CANARY-7f3a9c1e-do-not-store"


def _files_bytes(path: Path) -> bytes:
    return b"".join(Path(str(path) + s).read_bytes() for s in ("", "-wal", "-shm") if Path(str(path) + s).exists())


def _register_args(model="sec", version="1.0.0", endpoint=None):
    args = [
        "register",
        model,
        "--version",
        version,
        "--provider",
        "p",
        "--capability",
        "chat",
        "--avg-latency",
        "500",
        "--p95-latency",
        "900",
        "--cost",
        "0",
    ]
    return args + (["--endpoint", endpoint] if endpoint else [])


# -- the SQLite file is private --------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_sqlite_files_created_0600(tmp_path, umask):
    path = tmp_path / "fresh" / "nested" / "registry.db"
    old = os.umask(umask)
    try:
        from modelreg import Registry

        reg = Registry.open(new_registry(f"sqlite:///{path}"))
        reg.register(
            {
                "provider": "p",
                "modelId": "m",
                "version": "1.0.0",
                "capabilities": ["c"],
                "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
            }
        )
        with reg.db.engine.connect():  # WAL and shared-memory files exist while a connection is open
            modes = {
                s: stat.S_IMODE(os.stat(str(path) + s).st_mode)
                for s in ("", "-wal", "-shm")
                if Path(str(path) + s).exists()
            }
        reg.close()
    finally:
        os.umask(old)
    assert modes[""] == 0o600 and set(modes.values()) == {0o600}, modes
    assert "-wal" in modes


def test_default_database_via_cli_is_0600(tmp_path):
    db = tmp_path / "data" / "modelreg" / "registry.db"
    r = run_process("find", env={"MODELREG_DB": ""})  # default location under XDG_DATA_HOME
    assert r.exit_code == 7 and str(db) in r.stderr and "register" in r.stderr, r.stderr  # reads never create it
    assert not db.exists()
    r = run_process(*_register_args(), env={"MODELREG_DB": ""})  # the first write does
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


# -- database passwords --------------------------------------------------------------------------------------
def test_postgres_password_is_redacted_everywhere():
    url = f"postgresql+psycopg://svc:{CANARY}@127.0.0.1:1/registry"
    for args in (["config", "show"], ["config", "show", "--json"], ["db", "status"], ["find"], ["audit", "verify"]):
        r = run_cli("--db", url, *args)
        assert CANARY not in r.stdout + r.stderr, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        if args[0] == "config":
            assert r.exit_code == 0 and "svc:***@127.0.0.1" in r.stdout
        else:
            assert r.exit_code == 7 and "svc:***@" in r.stderr, r.stderr
    shown = {row["key"]: row for row in run_cli("config", "show", "--json", env={"MODELREG_DB": url}).json}
    assert shown["database.url"]["value"] == "postgresql+psycopg://svc:***@127.0.0.1:1/registry"
    assert shown["database.url"]["source"] == "env MODELREG_DB"


# -- webhook secrets and API keys ----------------------------------------------------------------------------
def test_webhook_secret_never_stored_or_printed(tmp_path, monkeypatch):
    db = tmp_path / "registry.db"
    monkeypatch.setenv("MODELREG_DB", new_registry(f"sqlite:///{db}"))
    monkeypatch.setenv("MODELREG_WEBHOOK_SECRET", CANARY)
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[alerts.webhooks]]\nurl = "http://127.0.0.1:9/hook"\nsecret_env = "MODELREG_WEBHOOK_SECRET"\n'
        'min_severity = "info"\n'
    )
    assert run_cli("policy", "apply", policy).exit_code == 0
    from modelreg import Registry

    holder = Registry.open(f"sqlite:///{db}")
    with holder.db.engine.connect():  # keeps the WAL from being checkpointed away, so its bytes are checked too
        outputs = []
        for args in (
            _register_args(),
            ["--actor", "bob", "review", "sec@1.0.0", "--check", "security", "--pass"],
            ["find", "--json"],
            ["show", "sec@1.0.0", "--json"],
            ["config", "show"],
            ["policy", "show"],
            ["policy", "show", "--json"],
            ["history", "sec@1.0.0", "--json"],
            ["deprecate", "--sweep", "--json"],
            ["tree", "--json"],
            ["events", "list", "--json"],
        ):
            r = run_cli(*args)
            assert r.exit_code == 0, (args, r.stderr)
            outputs.append(r.stdout + r.stderr)
        for args in (["alerts", "check"], ["alerts", "list", "--json"]):
            r = run_cli(*args)
            outputs.append(r.stdout + r.stderr)
        assert Path(str(db) + "-wal").exists() and Path(str(db) + "-wal").stat().st_size > 0
        stored = _files_bytes(db)
    holder.close()
    assert b"MODELREG_WEBHOOK_SECRET" in stored  # the name is kept...
    assert CANARY.encode() not in stored  # ...never the value
    for text in outputs:
        assert CANARY not in text
    shown = json.loads(outputs[6])
    assert shown["alerts"]["webhooks"][0]["secret_env"] == "MODELREG_WEBHOOK_SECRET"


class _KeyRecorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _KeyRecorder.seen.append(self.headers.get("Authorization", ""))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(CHAT_BODY)))
        self.end_headers()
        self.wfile.write(CHAT_BODY)

    def log_message(self, *args):
        pass


def test_api_key_sent_but_never_stored_or_printed(tmp_path, monkeypatch):
    db = tmp_path / "registry.db"
    monkeypatch.setenv("MODELREG_DB", new_registry(f"sqlite:///{db}"))
    monkeypatch.setenv("MODELREG_TEST_API_KEY", CANARY)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeyRecorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _KeyRecorder.seen = []
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
        assert run_cli(*_register_args(endpoint=endpoint)).exit_code == 0
        from modelreg import Registry

        holder = Registry.open(f"sqlite:///{db}")
        with holder.db.engine.connect():
            outputs = []
            for extra in (["--json"], []):
                r = run_cli(
                    "--actor",
                    "bob",
                    "benchmark",
                    "sec@1.0.0",
                    "--requests",
                    "5",
                    "--concurrency",
                    "1",
                    "--api-key-env",
                    "MODELREG_TEST_API_KEY",
                    *extra,
                )
                assert r.exit_code in (0, 6), r.stderr
                outputs.append(r.stdout + r.stderr)
            outputs += [
                run_cli(*a).stdout for a in (["show", "sec@1.0.0", "--json"], ["history", "sec@1.0.0", "--json"])
            ]
            stored = _files_bytes(db)
        holder.close()
    finally:
        server.shutdown()
        server.server_close()
    assert _KeyRecorder.seen and all(h == f"Bearer {CANARY}" for h in _KeyRecorder.seen)  # it was really used
    assert CANARY.encode() not in stored
    for text in outputs:
        assert CANARY not in text
    r = run_cli(
        "--actor", "bob", "benchmark", "sec@1.0.0", "--requests", "1", "--api-key-env", "MODELREG_NOT_SET_ANYWHERE"
    )
    assert r.exit_code == 2 and "MODELREG_NOT_SET_ANYWHERE" in r.stderr


# -- endpoints ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "endpoint",
    [
        "file:///etc/passwd",
        "ftp://host/x",
        "javascript:alert(1)",
        "gopher://h/",
        "ws://host/x",
        "data:,x",
        "//host/x",
        "http://",
        "https://user:pw@host/",
        "unix:///run/x.sock",
        "http://ho st/",
    ],
)
def test_only_http_endpoints_accepted(db_url, tmp_path, endpoint):
    r = run_cli(*_register_args(endpoint=endpoint))
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps(
            {
                "provider": "p",
                "modelId": "sec",
                "version": "1.0.0",
                "capabilities": ["c"],
                "endpoint": endpoint,
                "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
            }
        )
    )
    assert run_cli("register", "--file", manifest).exit_code == 2
    if endpoint.startswith("https://user:pw"):
        assert "pw" not in r.stderr.replace("pw@", "")  # the password is not echoed beyond the URL shape
    assert run_cli("find", "--json").json == []


def test_http_and_https_endpoints_accepted(db_url):
    assert run_cli(*_register_args(version="1.0.0", endpoint="http://127.0.0.1:8700/v1")).exit_code == 0
    assert run_cli(*_register_args(version="1.0.1", endpoint="HTTPS://models.internal/v1")).exit_code == 0


# -- approver rules ------------------------------------------------------------------------------------------------
ADV = "sec@1.0.0"


@pytest.fixture
def gated(tmp_path, monkeypatch):
    """On SQLite, where actors are names (on PostgreSQL they are login roles)."""
    url = new_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("MODELREG_DB", url)
    from modelreg import Registry

    registry = Registry.open(url)
    registry.set_policy("approvers", "  Carol ,DAVE")
    registry.register(
        {
            "provider": "p",
            "modelId": "sec",
            "version": "1.0.0",
            "capabilities": ["c"],
            "endpoint": "http://127.0.0.1:9/v1",
            "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
        }
    )  # by alice
    pass_all_checks(registry, ADV)
    yield registry
    registry.close()


@pytest.mark.parametrize("registrant_spelling", ["ALICE", " alice", "alice ", "\talice", "Alice\u00a0", "  aLiCe  "])
def test_registrant_cannot_approve_under_another_spelling(gated, tmp_path, registrant_spelling):
    gated.set_policy("approvers", "alice,carol")  # even when alice is an approver
    r = run_cli("--actor", registrant_spelling, "promote", ADV)
    assert r.exit_code == 5 and "separation_of_duties" in r.stderr, (registrant_spelling, r.stderr)
    assert gated.get_version("sec", "1.0.0")["status"] == "TESTING"


@pytest.mark.parametrize("outsider", ["bob", "BOB", "carol2", "car ol", "dave.", "c arol"])
def test_non_approvers_refused_whatever_the_spelling(gated, outsider):
    r = run_cli("--actor", outsider, "promote", ADV)
    assert r.exit_code == 5 and "not an approver" in r.stderr, (outsider, r.stderr)
    assert gated.get_version("sec", "1.0.0")["status"] == "TESTING"


@pytest.mark.parametrize("approver", [" CAROL", "carol", "Dave", " dave\t"])
def test_approvers_match_case_and_whitespace_insensitively(gated, approver):
    r = run_cli("--actor", approver, "promote", ADV)
    assert r.exit_code == 0, r.stderr
    shown = gated.get_version("sec", "1.0.0")
    assert shown["status"] == "APPROVED" and shown["approved_by"] == " ".join(approver.split()).casefold()


def test_actor_with_control_characters_is_refused(gated):
    for actor in ("ca\x1brol", "car\x07ol", "\x00", "\x7f"):
        r = run_cli("--actor", actor, "promote", ADV)
        assert r.exit_code == 2 and r.stderr.count("\n") == 1, (actor, r.stderr)
    assert gated.get_version("sec", "1.0.0")["status"] == "TESTING"
