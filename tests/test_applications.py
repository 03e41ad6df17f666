"""Applications over HTTP, end to end on both backends: a client with no
database credentials resolves with a bearer token, is counted as a consumer,
receives a signed `version.deprecated` webhook naming it, gets Deprecation
and Sunset headers until the sweep retires the version, then a 404. Tokens,
consumers (`show`, `find --used-by`, `deprecate`, sweep notices, ingested
windows) and the server's event delivery, each on its own."""

from __future__ import annotations

import json

import httpx
import psycopg
import pytest
from conftest import (
    GUIDE_MANIFEST,
    _require_pg,
    approve,
    drop_pg_database,
    new_registry,
    pg_database_url,
    pg_user,
    run_cli,
    user_url,
)
from serve_harness import ServeProcess, ServerThread, wait_until
from sqlalchemy import text
from webhook_receiver import WebhookReceiver

from modelreg import Registry
from modelreg.manifest import load_manifest_file
from modelreg.server.app import STATE
from modelreg.store.application_queries import usage_rows

ADV = "ms-advanced-reasoning@3.0.1"
STD = "ms-standard@2.0.0"
SECRET = "hook-s3cret"


def policy_with_event_hook(reg, url: str, monkeypatch, **policy) -> None:
    monkeypatch.setenv("EVENT_SECRET", SECRET)
    reg.apply_policy(
        {
            "policy": {"test_clock": True, **policy},
            "alerts": {
                "webhooks": [
                    {
                        "url": url,
                        "secret_env": "EVENT_SECRET",
                        "events": ["version.deprecated", "version.retired", "deprecation.cancelled"],
                    }
                ]
            },
        }
    )


def events_received(rx: WebhookReceiver, kind: str) -> list[dict]:
    found = []
    for r in list(rx.requests):
        body = json.loads(r.body)
        if body.get("event") == kind:
            assert r.signature_ok, "every event webhook is signed"
            found.append(body)
    return found


def test_an_application_follows_a_version_from_approval_to_retirement(guide_registry, monkeypatch):
    reg = guide_registry
    approve(reg, ADV)
    approve(reg, STD)
    with WebhookReceiver(secret=SECRET) as rx:
        policy_with_event_hook(reg, rx.url, monkeypatch, deprecation_notice_days=0)
        token = reg.create_token("checkout-api")["token"]
        with ServerThread(
            reg, verify=reg.verify_token, flush=reg.record_usage, deliver=reg.deliver_events, flush_interval=0.2
        ) as srv:
            auth = {"Authorization": f"Bearer {token}"}
            resolve = "/v1/resolve?model=ms-advanced-reasoning"
            assert srv.client.get(resolve).status_code == 401
            first = srv.client.get(resolve, headers=auth)
            assert first.status_code == 200 and first.json()["version"] == "3.0.1"
            assert "Deprecation" not in first.headers
            # counted for the token's name, flushed in a batch, visible in `show`
            wait_until(lambda: reg.get_version("ms-advanced-reasoning", "3.0.1")["consumers"], timeout=10)
            (seen,) = reg.get_version("ms-advanced-reasoning", "3.0.1")["consumers"]
            assert seen["consumer"] == "checkout-api" and seen["requests"] == 1
            assert [v["model_id"] for v in reg.find(used_by="checkout-api")[0]] == ["ms-advanced-reasoning"]

            # deprecating names the consumer before anything else does
            result = reg.deprecate(ADV, reason="superseded", notice_days=3, replacement=STD)
            assert [c["consumer"] for c in result["consumers"]] == ["checkout-api"]
            (deprecated,), waited = wait_until(lambda: events_received(rx, "version.deprecated"), timeout=10)
            assert waited < 5, "the server delivers events within seconds"
            assert deprecated["target"] == ADV and deprecated["consumers"] == ["checkout-api"]
            assert deprecated["replacement"] == STD and deprecated["retire_on"] == result["retire_on"]

            # until it retires, the application is told to move
            wait_until(lambda: "Deprecation" in srv.client.get(resolve, headers=auth).headers, timeout=5)
            answer = srv.client.get(resolve, headers=auth)
            assert answer.status_code == 200 and answer.headers["Sunset"]
            assert 'rel="successor-version"' in answer.headers["Link"]
            deprecations = srv.client.get("/v1/deprecations", headers=auth).json()["items"]
            assert [(d["model_id"], d["consumers"]) for d in deprecations] == [
                ("ms-advanced-reasoning", ["checkout-api"])
            ]

            # the sweep (cron) retires it on its day; the event names who still used it
            monkeypatch.setenv("MODELREG_NOW", f"{result['retire_on']}T00:00:01Z")
            assert reg.sweep()["retired"] == [ADV]
            monkeypatch.delenv("MODELREG_NOW")
            (retired,), _ = wait_until(lambda: events_received(rx, "version.retired"), timeout=10)
            assert retired["target"] == ADV and retired["replacement"] == STD
            gone = wait_until(lambda: srv.client.get(resolve, headers=auth).status_code == 404, timeout=5)
            assert gone


def test_tokens_are_stored_hashed_created_once_and_revocable(registry):
    created = registry.create_token("checkout-api")
    token = created["token"]
    assert token.startswith("mrt_") and registry.verify_token(token) == "checkout-api"
    assert registry.verify_token(token + "x") is None and registry.verify_token("mrt_" + "A" * 43) is None
    assert token not in json.dumps(registry.export_document())

    # the token is nowhere in the database: not in its table, not in the audit trail
    def dump(session):
        rows = session.execute(text("SELECT * FROM api_token")).all()
        audit = session.execute(text("SELECT before, after FROM audit_event")).all()
        return repr(rows) + repr(audit)

    assert token not in registry.read(dump)
    listing = run_cli("token", "list", "--json")
    assert listing.exit_code == 0 and token not in listing.stdout
    assert [t["status"] for t in listing.json] == ["active"]
    again = run_cli("token", "create", "checkout-api")
    assert again.exit_code == 4 and "revoke it first" in again.stderr
    assert run_cli("token", "revoke", "checkout-api").exit_code == 0
    assert registry.verify_token(token) is None
    assert run_cli("token", "revoke", "checkout-api").exit_code == 4
    assert run_cli("token", "revoke", "nobody").exit_code == 3
    renewed = run_cli("token", "create", "checkout-api")  # a revoked name may get a new token
    assert renewed.exit_code == 0 and renewed.stdout.strip().startswith("mrt_")
    assert registry.verify_token(renewed.stdout.strip()) == "checkout-api"
    for bad in ("Checkout", "-x", "a b", "x" * 65, ""):
        r = run_cli("token", "create", bad)
        assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1, (bad, r.stderr)


def test_serve_requires_tokens_from_the_registry(guide_registry, db_url):
    approve(guide_registry, ADV)
    token = guide_registry.create_token("batch-job")["token"]
    server = ServeProcess("--require-token", "--access-log", "on", env={"MODELREG_DB": db_url})
    try:
        server.wait_listening()
        assert httpx.get(server.url("/v1/resolve?model=ms-advanced-reasoning")).status_code == 401
        ok = httpx.get(
            server.url("/v1/resolve?model=ms-advanced-reasoning"), headers={"Authorization": f"Bearer {token}"}
        )
        assert ok.status_code == 200
        guide_registry.revoke_token("batch-job")  # the audit head moves: the server forgets the token
        wait_until(
            lambda: (
                httpx.get(
                    server.url("/v1/resolve?model=ms-advanced-reasoning"), headers={"Authorization": f"Bearer {token}"}
                ).status_code
                == 401
            ),
            timeout=5,
        )
    finally:
        server.proc.terminate()
        assert server.finish() == 0
    assert token not in "\n".join(server.lines)  # access log names the consumer, never the token
    assert any("batch-job" in line for line in server.lines)


def test_consumers_in_deprecate_show_find_and_sweep_notices(guide_registry, monkeypatch):
    reg = guide_registry
    approve(reg, ADV)
    approve(reg, STD)
    reg.record_usage({("app-a", "ms-advanced-reasoning", "3.0.1"): 40, ("app-b", "ms-advanced-reasoning", "3.0.1"): 2})
    reg.record_usage({("app-a", "ms-advanced-reasoning", "3.0.1"): 2, ("app-a", "nope", "1.0.0"): 5})
    shown = run_cli("show", ADV, "--json", "consumers").json["consumers"]
    assert [(c["consumer"], c["requests"]) for c in shown] == [("app-a", 42), ("app-b", 2)]
    assert "app-a (42), app-b (2)" in run_cli("show", ADV).stdout
    found = run_cli("find", "--used-by", "app-b", "--json", "model_id,version").json
    assert found == [{"model_id": "ms-advanced-reasoning", "version": "3.0.1"}]
    assert run_cli("find", "--used-by", "nobody", "--json").json == []
    bad = run_cli("find", "--used-by", "tab\there")
    assert bad.exit_code == 2 and "--used-by" in bad.stderr
    reg.set_policy("deprecation_notice_days", "0")
    r = run_cli("deprecate", ADV, "--reason", "superseded", "--notice-days", "20")
    assert r.exit_code == 0 and "warning: ms-advanced-reasoning@3.0.1 is still used by app-a, app-b" in r.stderr
    sweep = run_cli("deprecate", "--sweep", "--json")
    (notice,) = sweep.json["notices"]
    assert notice["target"] == ADV and notice["consumers"] == ["app-a", "app-b"]
    monkeypatch.setenv("MODELREG_NOW", "2099-01-01T00:00:00Z")  # long after: nobody seen in the window
    assert reg.get_version("ms-advanced-reasoning", "3.0.1")["consumers"] == []


def test_ingested_windows_count_their_consumer_once(guide_registry):
    reg = guide_registry
    line = {
        "model": "ms-standard",
        "version": "2.0.0",
        "window_start": "2026-11-26T10:00:00Z",
        "window_end": "2026-11-26T11:00:00Z",
        "requests": 120,
        "errors": 0,
        "latency_avg_ms": 300,
        "latency_p95_ms": 500,
        "consumer": "nightly-batch",
    }
    for _ in range(2):  # the same window twice: counted once
        assert reg.ingest_observations(json.dumps(line))["skipped"] == 0
    (usage,) = reg.read(usage_rows)
    assert (usage.consumer, usage.requests, usage.day) == ("nightly-batch", 120, "2026-11-26")
    bad = reg.ingest_observations(
        json.dumps(
            {
                **line,
                "consumer": "tab\there",
                "window_start": "2026-11-26T09:00:00Z",
                "window_end": "2026-11-26T10:00:00Z",
            }
        )
    )
    assert bad["skipped"] == 1 and "consumer" in bad["errors"][0]["message"]


def test_a_reader_server_counts_and_verifies_without_other_writes(pg_registry_url, monkeypatch):
    """On PostgreSQL the server may connect as a plain reader: tokens are checked and
    usage added through the registry's functions, and event delivery is left to the
    sweep with one warning."""
    url = pg_registry_url
    admin = Registry.open(user_url(url, pg_user("adele", ("reader", "operator", "approver", "admin"))))
    try:
        admin.register_many(load_manifest_file(str(GUIDE_MANIFEST)))
        approve(admin, ADV)
        token = admin.create_token("checkout-api")["token"]
    finally:
        admin.close()
    reader = Registry.open(user_url(url, pg_user("rita", ("reader",))))
    try:
        assert reader.verify_token(token) == "checkout-api"
        r = run_cli("--db", user_url(url, "rita"), "token", "list", raw=True)
        assert r.exit_code == 5 and len(r.stderr.strip().splitlines()) == 1  # the table is the admin's
        reader.record_usage({("checkout-api", "ms-advanced-reasoning", "3.0.1"): 3})
        assert [c["consumer"] for c in reader.get_version("ms-advanced-reasoning", "3.0.1")["consumers"]] == [
            "checkout-api"
        ]
        with psycopg.connect(user_url(url, "rita").replace("postgresql+psycopg://", "postgresql://")) as conn:
            for sql in (
                "INSERT INTO consumer_usage VALUES ('x', 'ms-standard', '2.0.0', '2026-01-01', 1, '2026')",
                "UPDATE api_token SET revoked_at = NULL",
                "SELECT digest FROM api_token",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(sql)
                conn.rollback()
        with ServerThread(reader, deliver=reader.deliver_events) as srv:
            wait_until(lambda: srv.app[STATE].outbox.off or srv.app[STATE].outbox.runs, timeout=10)
    finally:
        reader.close()


@pytest.fixture
def pg_registry_url(monkeypatch):
    _require_pg()
    monkeypatch.delenv("MODELREG_ACTOR")  # on PostgreSQL the actor is the role each URL connects as
    url = new_registry(pg_database_url("apps"))
    yield url
    drop_pg_database(url)


def test_raw_token_changes_are_guarded_and_recorded(pg_registry_url):
    url = pg_registry_url
    pg_user("olga", ("reader", "operator"))
    olga = user_url(url, "olga").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(olga) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("INSERT INTO api_token VALUES ('x', repeat('0', 64), '2026', 'olga', NULL, NULL)")
    admin = as_actor_url(url, "adele")
    with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(
            "INSERT INTO api_token VALUES ('raw', repeat('0', 64), "
            "to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'adele', NULL, NULL)"
        )
    events = run_cli("--db", user_url(url, "adele"), "audit", "verify", "--json", raw=True)
    assert events.exit_code == 0, events.stderr
    with Registry.open(user_url(url, "adele")) as reg:
        recorded = reg.read(
            lambda s: s.execute(
                text("SELECT actor, action, target, after FROM audit_event WHERE target = 'token:raw'")
            ).all()
        )
    ((actor, action, target, after),) = recorded
    assert (actor, action) == ("adele", "sql.insert.api_token") and "0000" not in after


def as_actor_url(url: str, name: str) -> str:
    return user_url(url, pg_user(name, ("reader", "operator", "approver", "admin")))
