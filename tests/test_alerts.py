"""Monitoring wired to the database and the CLI (issue 5), on SQLite and PostgreSQL:
ingest, dedup'd alerts with auto-resolve, signed webhook delivery with retries
against a real local receiver, advisories as a promotion gate, Prometheus export."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta

from conftest import approve, pass_all_checks, run_cli

try:
    from webhook_receiver import WebhookReceiver
except ImportError:  # tests/ is a package
    from tests.webhook_receiver import WebhookReceiver

ADV = "ms-advanced-reasoning@3.0.1"
T0 = datetime(2026, 3, 1, 0, tzinfo=UTC)
SECRET = "s3cret-for-tests-only"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def window(
    hour: int,
    *,
    model="ms-advanced-reasoning",
    version="3.0.1",
    requests=1200,
    errors=3,
    avg=640.0,
    p95=980.0,
    sample=None,
) -> dict:
    row = {
        "model": model,
        "version": version,
        "window_start": iso(T0 + timedelta(hours=hour)),
        "window_end": iso(T0 + timedelta(hours=hour + 1)),
        "requests": requests,
        "errors": errors,
        "latency_avg_ms": avg,
        "latency_p95_ms": p95,
        "cost_usd": 31.2,
    }
    if sample is not None:
        row["sample"] = sample
    return row


def day_of_windows(*, regress_last_hour: bool, seed: int = 7) -> list[dict]:
    """24 hourly windows; with regress_last_hour the last one is slow (p95 1.6x SLO) and shifted by 2 sigma."""
    rnd = random.Random(seed)
    rows = []
    for hour in range(24):
        last = hour == 23 and regress_last_hour
        shift = 2.0 if last else 0.0
        rows.append(
            window(
                hour,
                requests=1200 + rnd.randint(-40, 40),
                errors=rnd.randint(0, 5),
                avg=900.0 if last else 640.0 + rnd.uniform(-20, 20),
                p95=1900.0 if last else 980.0 + rnd.uniform(-30, 30),
                sample=[round(rnd.gauss(shift, 1.0), 4) for _ in range(500)],
            )
        )
    return rows


def write_jsonl(path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


def approved_at(registry, monkeypatch, target: str, when: datetime) -> None:
    monkeypatch.setenv("MODELREG_NOW", iso(when))
    approve(registry, target)


def webhook_config(tmp_path, monkeypatch, *urls: str, min_severity: str = "warning") -> None:
    """Alert webhooks in the registry's policy (alerts only: no lifecycle events)."""
    hooks = "".join(
        f'[[alerts.webhooks]]\nurl = "{u}"\nsecret_env = "HOOK_SECRET"\nmin_severity = "{min_severity}"\nevents = []\n'
        for u in urls
    )
    policy = tmp_path / "policy.toml"
    policy.write_text("[policy]\ntest_clock = true\n" + hooks)
    r = run_cli("policy", "apply", policy)
    assert r.exit_code == 0, r.stderr
    monkeypatch.setenv("HOOK_SECRET", SECRET)


PROM_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')


def parse_prometheus(text: str) -> dict[str, list[tuple[dict, float]]]:
    families: dict[str, list] = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind == "gauge" and name not in typed
            typed.add(name)
            families.setdefault(name, [])
            continue
        if line.startswith("#") or not line:
            continue
        m = PROM_SAMPLE.match(line)
        assert m, f"not exposition format: {line!r}"
        assert m.group(1) in typed, f"sample before its TYPE: {line!r}"
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        families[m.group(1)].append((labels, float(m.group(3))))
    return families


# ================================================================ the "Done when"


def test_a_day_that_regresses_and_drifts_raises_exactly_the_expected_alerts_once(
    guide_registry, cli, tmp_path, monkeypatch
):
    approved_at(guide_registry, monkeypatch, ADV, T0 - timedelta(hours=1))
    monkeypatch.setenv("MODELREG_NOW", iso(T0 + timedelta(hours=25)))
    with WebhookReceiver(secret=SECRET) as good, WebhookReceiver(secret=SECRET, script=[500] * 6 + [200]) as flaky:
        webhook_config(tmp_path, monkeypatch, good.url, flaky.url)
        data = write_jsonl(tmp_path / "day.jsonl", day_of_windows(regress_last_hour=True))
        r = cli("alerts", "ingest", data, "--json")
        assert r.exit_code == 0, r.stderr
        assert r.json["kept"] == 24 and r.json["skipped"] == 0
        again = cli("alerts", "ingest", data, "--json").json  # the same windows: nothing double-counted
        assert again["kept"] == 0 and again["duplicates"] == 24

        r = cli("alerts", "check", "--json")
        assert r.exit_code == 0, r.stderr
        report = r.json
        raised = {(a["kind"], a["severity"], a["model_id"], a["version"]) for a in report["raised"]}
        assert raised == {
            ("latency", "critical", "ms-advanced-reasoning", "3.0.1"),
            ("drift", "critical", "ms-advanced-reasoning", "3.0.1"),
        }
        assert "p95 1900 ms > SLO 1200 ms" in next(a["message"] for a in report["raised"] if a["kind"] == "latency")
        # delivered, signed: the receiver checked each HMAC over the raw body itself
        assert len(good.requests) == 2 and all(q.signature_ok for q in good.requests)
        bodies = [json.loads(q.body) for q in good.requests]
        assert {b["kind"] for b in bodies} == {"latency", "drift"}
        assert all(q.headers.get("X-Modelreg-Timestamp") for q in good.requests)
        assert SECRET not in r.stdout + r.stderr
        # the 500-answering webhook: retried with backoff, then recorded failed
        assert report["deliveries"]["delivered"] == 2 and report["deliveries"]["failed"] == 2
        assert len(flaky.requests) == 6
        rows = [d for d in guide_registry.alert_deliveries() if d["url"] == flaky.url]
        assert {d["status"] for d in rows} == {"failed"} and all(d["last_error"] == "HTTP 500" for d in rows)

        # the next check: no duplicate alerts, the failed deliveries are retried (and now succeed)
        second = cli("alerts", "check", "--json").json
        assert second["raised"] == [] and second["resolved"] == []
        assert {a["kind"] for a in second["refreshed"]} == {"latency", "drift"}
        assert second["deliveries"]["delivered"] == 2 and second["deliveries"]["failed"] == 0
        assert len(flaky.requests) == 8
        third = cli("alerts", "check", "--json").json
        assert third["deliveries"]["results"] == []  # nothing left to send
        assert len(good.requests) == 2  # the good receiver is never sent the same alert twice
        assert all(q.signature_ok for q in flaky.requests)
        assert all(d["status"] == "delivered" for d in guide_registry.alert_deliveries())

    listed = cli("alerts", "list", "--json").json
    assert len(listed) == 2
    assert set(listed[0]) == {
        "id",
        "kind",
        "severity",
        "status",
        "model_id",
        "version",
        "message",
        "first_seen",
        "last_seen",
    }
    csv_lines = cli("alerts", "list", "--csv").stdout.splitlines()
    assert (
        csv_lines[0] == "id,kind,severity,status,model_id,version,message,first_seen,last_seen" and len(csv_lines) == 3
    )
    assert cli("alerts", "check", "--no-deliver", "--fail-on", "critical").exit_code == 6
    assert cli("alerts", "check", "--no-deliver", "--fail-on", "bogus").exit_code == 2

    # Prometheus, written atomically, parses and carries the numbers
    prom = tmp_path / "textfile" / "modelreg.prom"
    prom.parent.mkdir()
    r = cli("alerts", "export", "--format", "prometheus", "-o", prom)
    assert r.exit_code == 0, r.stderr
    families = parse_prometheus(prom.read_text())
    labels = {"model_id": "ms-advanced-reasoning", "version": "3.0.1"}
    p95 = [v for lab, v in families["modelreg_observed_latency_p95_ms"] if lab == labels]
    assert p95 == [1900.0]
    assert next(v for lab, v in families["modelreg_drift_psi"] if lab == labels) > 0.25
    crit = [v for lab, v in families["modelreg_open_alerts"] if lab == {**labels, "severity": "critical"}]
    assert crit == [2.0]
    assert ({**labels, "status": "APPROVED"}, 1.0) in families["modelreg_version_status"]
    assert not list(prom.parent.glob(".*.tmp"))

    # show draws the recent windows
    shown = cli("show", ADV)
    assert shown.exit_code == 0, shown.stderr
    assert "p95 latency" in shown.stdout and "1900 ms" in shown.stdout and any(c in shown.stdout for c in "▁█")
    assert "active alerts" in shown.stdout

    # ack / resolve; a cleared condition auto-resolves; the audit chain holds
    latency = next(a for a in listed if a["kind"] == "latency")
    assert cli("alerts", "ack", latency["id"]).exit_code == 0
    assert cli("alerts", "check", "--no-deliver", "--fail-on", "critical").exit_code == 6  # drift is still open
    drift_alert = next(a for a in listed if a["kind"] == "drift")
    assert cli("alerts", "resolve", drift_alert["id"]).exit_code == 0
    assert cli("alerts", "ack", drift_alert["id"]).exit_code == 4  # resolved: nothing to acknowledge
    # a healthy new hour: the latency alert resolves by itself; drift stays resolved
    rnd = random.Random(3)
    calm = window(24, sample=[round(rnd.gauss(0, 1), 4) for _ in range(500)])
    cli("alerts", "ingest", write_jsonl(tmp_path / "calm.jsonl", [calm]))
    monkeypatch.setenv("MODELREG_NOW", iso(T0 + timedelta(hours=26)))
    final = cli("alerts", "check", "--no-deliver", "--json").json
    assert [a["kind"] for a in final["resolved"]] == ["latency"] and final["raised"] == []
    assert cli("alerts", "list", "--json").json == []
    assert len(cli("alerts", "list", "--status", "all", "--json").json) == 2
    history = [e["action"] for e in cli("history", ADV, "--json").json]
    assert "alert.raise" in history and "alert.resolve" in history and "observations.ingest" in history
    assert cli("audit", "verify").exit_code == 0


def test_no_shift_does_not_alert_and_a_pinned_baseline_accepts_a_shift(guide_registry, tmp_path, monkeypatch):
    reg = guide_registry
    approved_at(reg, monkeypatch, ADV, T0)
    monkeypatch.setenv("MODELREG_NOW", iso(T0 + timedelta(hours=25)))
    rows = day_of_windows(regress_last_hour=False)
    reg.ingest_observations("".join(json.dumps(r) + "\n" for r in rows))
    report = reg.check_alerts()
    assert report["raised"] == [] and report["evaluated"] == [ADV]
    # a 2-sigma shift (latency fine) raises drift only
    rnd = random.Random(11)
    shifted = window(24, sample=[rnd.gauss(2.0, 1.0) for _ in range(500)])
    reg.ingest_observations(json.dumps(shifted))
    assert [(a["kind"], a["severity"]) for a in reg.check_alerts()["raised"]] == [("drift", "critical")]
    # pin the new distribution: the next check resolves the drift alert
    pinned = reg.pin_baseline(ADV, windows=1)
    assert pinned["values"] == 500 and pinned["source"] == "pinned"
    assert [a["kind"] for a in reg.check_alerts()["resolved"]] == ["drift"]


def test_error_rate_and_usage_anomaly_raise_and_clear(guide_registry, cli, monkeypatch, tmp_path):
    reg = guide_registry
    approved_at(reg, monkeypatch, ADV, T0)
    monkeypatch.setenv("MODELREG_NOW", iso(T0 + timedelta(hours=25)))
    rows = [window(h, requests=1000 + (h % 3) * 10) for h in range(12)]
    rows.append(window(12, requests=3500, errors=175))  # traffic x3.5 and 5% errors
    reg.ingest_observations("".join(json.dumps(r) + "\n" for r in rows))
    raised = {a["kind"]: a["severity"] for a in reg.check_alerts()["raised"]}
    assert raised == {"error_rate": "warning", "usage": "critical"}
    assert cli("alerts", "check", "--fail-on", "warning").exit_code == 6
    assert cli("alerts", "check", "--fail-on", "critical").exit_code == 6
    assert cli("alerts", "list", "--severity", "warning", "--json").json[0]["kind"] == "error_rate"
    reg.ingest_observations(json.dumps(window(13, requests=1010)))
    resolved = {a["kind"] for a in reg.check_alerts()["resolved"]}
    assert resolved == {"error_rate", "usage"}
    assert cli("alerts", "check", "--fail-on", "info").exit_code == 0


# ================================================================ advisories


def test_advisory_flags_3_0_1_not_3_0_2_and_blocks_promotion(guide_registry, cli, monkeypatch):
    reg = guide_registry
    for version in ("3.0.0", "3.0.2"):
        reg.register(
            {
                "provider": "mindstudio",
                "modelId": "ms-advanced-reasoning",
                "version": version,
                "capabilities": ["text-generation"],
                "endpoint": "http://127.0.0.1:9/v1",
                "performance": {"avgLatency": 850, "p95Latency": 1200, "costPerRequest": 0.03},
            }
        )
    approve(reg, "ms-advanced-reasoning@3.0.0")
    r = cli(
        "alerts",
        "advisory",
        "add",
        "CVE-2026-1234",
        "--model",
        "ms-advanced-reasoning",
        "--affected",
        ">=3.0.0,<3.0.2",
        "--severity",
        "high",
        "--summary",
        "prompt injection",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    assert [v["version"] for v in r.json["affected_versions"]] == ["3.0.0", "3.0.1"]
    # the promotion gate: 3.0.1 is refused (exit 5, naming the advisory), 3.0.2 goes through
    pass_all_checks(reg, ADV)
    pass_all_checks(reg, "ms-advanced-reasoning@3.0.2")
    r = cli("--actor", "bob", "promote", ADV)
    assert r.exit_code == 5 and "CVE-2026-1234" in r.stderr
    assert cli("--actor", "bob", "promote", "ms-advanced-reasoning@3.0.2").exit_code == 0
    # alerts: the live 3.0.0 is critical, TESTING 3.0.1 is info, 3.0.2 nothing
    raised = {a["version"]: a["severity"] for a in reg.check_alerts()["raised"] if a["kind"] == "security"}
    assert raised == {"3.0.0": "critical", "3.0.1": "info"}
    assert reg.check_alerts()["raised"] == []
    listed = cli("alerts", "advisory", "list", "--json").json
    assert listed[0]["advisory_id"] == "CVE-2026-1234" and listed[0]["status"] == "open"
    # bad input, unknown model, duplicate
    base = ["alerts", "advisory", "add", "CVE-2026-1234", "--severity", "high", "--summary", "x"]
    assert cli(*base, "--model", "ms-advanced-reasoning", "--affected", ">=3.0.0,<3.0.2").exit_code == 4
    assert cli(*base, "--model", "no-such-model", "--affected", ">=1").exit_code == 3
    r = cli(*base, "--model", "ms-standard", "--affected", "3.0.1")
    assert r.exit_code == 2 and "==3.0.1" in r.stderr
    assert (
        cli(*base[:4], "--severity", "dire", "--summary", "x", "--model", "ms-standard", "--affected", ">=1").exit_code
        == 2
    )
    # withdrawn: promotion unblocked, the security alerts resolve
    r = cli("alerts", "advisory", "withdraw", "CVE-2026-1234", "--model", "ms-advanced-reasoning")
    assert r.exit_code == 5 and "separation_of_duties" in r.stderr  # alice registered the version it blocks
    assert (
        cli(
            "--actor", "bob", "alerts", "advisory", "withdraw", "CVE-2026-1234", "--model", "ms-advanced-reasoning"
        ).exit_code
        == 0
    )
    assert {a["version"] for a in reg.check_alerts()["resolved"]} == {"3.0.0", "3.0.1"}
    assert cli("--actor", "bob", "promote", ADV).exit_code == 0


# ================================================================ bad input and faults


def test_bad_lines_are_reported_and_skipped_strict_keeps_nothing(guide_registry, cli, tmp_path):
    rows = [
        window(0),
        "{not json",
        window(1, model="no-such-model"),
        window(2, version="9.9.9"),
        window(3, errors=5000),
        window(4, requests=-1),
        "",
        window(5, requests=2**40),
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    r = cli("alerts", "ingest", path, "--strict")
    assert r.exit_code == 2 and "nothing kept" in r.stderr and "line 2" in r.stderr
    assert cli("alerts", "ingest", path, "--strict", "--json").exit_code == 2
    assert cli("show", ADV).stdout.count("p95 latency") == 0  # nothing was kept
    r = cli("alerts", "ingest", path, "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json["kept"] == 1 and r.json["skipped"] == 6
    lines = {e["line"]: e["message"] for e in r.json["errors"]}
    assert set(lines) == {2, 3, 4, 5, 6, 8}
    assert "invalid JSON" in lines[2] and "unknown model 'no-such-model'" in lines[3]
    assert "unknown version ms-advanced-reasoning@9.9.9" in lines[4] and "at most requests" in lines[5]
    assert "non-negative" in lines[6] and "at most 2147483647" in lines[8]
    assert "mixed.jsonl: line 3: unknown model" in r.stderr
    # nothing usable at all: exit 2
    only_bad = write_jsonl(tmp_path / "bad.jsonl", [window(0, model="nope")])
    assert cli("alerts", "ingest", only_bad).exit_code == 2
    # CSV, and a corrected window replaces the stored one instead of adding to it
    csv_path = tmp_path / "w.csv"
    csv_path.write_text(
        "model,version,window_start,window_end,requests,errors,latency_avg_ms,latency_p95_ms\n"
        f"ms-advanced-reasoning,3.0.1,{iso(T0)},{iso(T0 + timedelta(hours=1))},1300,3,640,980\n"
    )
    r = cli("alerts", "ingest", csv_path, "--json")
    assert r.exit_code == 0 and r.json["updated"] == 1 and r.json["kept"] == 0
    assert cli("alerts", "ingest", tmp_path / "missing.jsonl").exit_code == 2
    assert cli("alerts", "ingest", path, "--format", "xml").exit_code == 2


def test_ack_resolve_unknown_ids(registry, cli):
    assert cli("alerts", "ack", "999").exit_code == 3
    assert cli("alerts", "resolve", "999").exit_code == 3
    assert cli("alerts", "ack", "abc").exit_code == 2
    assert cli("alerts", "list", "--status", "weird").exit_code == 2
    assert cli("alerts", "list", "--severity", "loud").exit_code == 2
    assert cli("alerts", "baseline", "pin", "nope@1.0.0").exit_code == 3
    assert cli("alerts", "export", "--format", "statsd").exit_code == 2
    r = cli("alerts", "list")
    assert r.exit_code == 0 and "no alerts" in r.stderr


def test_lifecycle_notices_and_broken_fallbacks_raise_alerts(guide_registry, cli, monkeypatch):
    reg = guide_registry
    approve(reg, ADV)
    approve(reg, "ms-standard@2.0.0")
    reg.set_fallbacks("ms-advanced-reasoning", ["ms-standard"])
    reg.deprecate("ms-standard@2.0.0", reason="old", notice_days=90)
    from datetime import date

    monkeypatch.setenv("MODELREG_NOW", (date.today() + timedelta(days=85)).isoformat())
    reg.sweep()
    raised = {a["dedup_key"] if "dedup_key" in a else a["kind"]: a for a in reg.check_alerts()["raised"]}
    (notice,) = raised.values()
    assert notice["kind"] == "lifecycle" and notice["severity"] == "warning" and "retires on" in notice["message"]
    monkeypatch.setenv("MODELREG_NOW", (date.today() + timedelta(days=91)).isoformat())
    reg.sweep()
    report = reg.check_alerts()
    assert [a["kind"] for a in report["resolved"]] == ["lifecycle"]
    (broken,) = report["raised"]
    assert broken["kind"] == "lifecycle" and "ms-standard" in broken["message"] and broken["severity"] == "warning"


def test_escalation_reopens_an_acked_alert_and_notifies_by_min_severity(guide_registry, tmp_path, monkeypatch):
    reg = guide_registry
    approved_at(reg, monkeypatch, ADV, T0)
    monkeypatch.setenv("MODELREG_NOW", iso(T0 + timedelta(hours=25)))
    with WebhookReceiver(secret=SECRET) as critical_only:
        webhook_config(tmp_path, monkeypatch, critical_only.url, min_severity="critical")
        from modelreg import Registry

        reg = Registry.open(reg.db.url)  # picks up the webhook config
        try:
            reg.ingest_observations(json.dumps(window(0, p95=1300)))  # above SLO 1200: warning
            (alert,) = reg.check_alerts()["raised"]
            assert alert["severity"] == "warning" and critical_only.requests == []
            reg.ack_alert(alert["id"])
            reg.ingest_observations(json.dumps(window(1, p95=2000)))  # above 1.5x: critical
            report = reg.check_alerts()
            assert report["raised"] == [] and [(a["id"], a["severity"], a["status"]) for a in report["updated"]] == [
                (alert["id"], "critical", "open")
            ]
            assert len(critical_only.requests) == 1 and critical_only.requests[0].signature_ok
            # a missing secret is never sent unsigned; the failure names the variable, not a value
            monkeypatch.delenv("HOOK_SECRET")
            reg.ingest_observations(json.dumps(window(2, errors=900)))
            failed = reg.check_alerts()["deliveries"]["results"]
            assert [r["status"] for r in failed] == ["failed"] and "HOOK_SECRET" in failed[0]["error"]
            assert len(critical_only.requests) == 1
            history = json.dumps(reg.history("ms-advanced-reasoning"))
            assert "alert.escalate" in history and SECRET not in history
        finally:
            reg.close()
