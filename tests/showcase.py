"""A small registry with something in every view (issue 16): reviews with long
notes, benchmark runs, an approved and a deprecated version, a fallback, an
open alert and lifecycle events, all stamped at fixed times (the registry's
test clock), so what the CLI prints for it is the same on every run.

`seed(url)` fills a registry created by conftest's `new_registry`; `NOW` is
the moment to read it at (MODELREG_NOW). The OS login is pinned (LOGNAME) so
`history` shows the same "(os: ...)" everywhere. `use_showcase` does all of
it for a test (SQLite: what is printed does not depend on the backend).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from conftest import GUIDE_MANIFEST, new_registry

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = "2026-03-02T12:00:00Z"
OS_LOGIN = "ops"
ADV = "ms-advanced-reasoning@3.0.1"
STD = "ms-standard@2.0.0"
LONG_NOTE = "eval suite v12: 91% on the reasoning set, 88% on summarization; report in the wiki under evals/2026-03"


@contextmanager
def at(moment: datetime):
    """MODELREG_NOW = moment for the writes inside (restored after)."""
    saved = os.environ.get("MODELREG_NOW")
    os.environ["MODELREG_NOW"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MODELREG_NOW", None)
        else:
            os.environ["MODELREG_NOW"] = saved


def _window(hour: int, p95: float) -> dict:
    start = T0 + timedelta(hours=hour)
    return {
        "model": "ms-advanced-reasoning",
        "version": "3.0.1",
        "window_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "requests": 1200 + hour,
        "errors": hour % 3,
        "latency_avg_ms": 640.0,
        "latency_p95_ms": p95,
        "cost_usd": 31.2,
    }


def seed(url: str) -> None:
    from modelreg import Registry
    from modelreg.manifest import load_manifest_file

    saved_login = os.environ.get("LOGNAME")
    os.environ["LOGNAME"] = OS_LOGIN
    try:
        with at(T0):
            alice = Registry.open(url, actor="alice")
            alice.register_many(load_manifest_file(str(GUIDE_MANIFEST)))
        bob = Registry.open(url, actor="bob")
        try:
            for n, target in enumerate((ADV, STD)):
                with at(T0 + timedelta(minutes=30 + 10 * n)):
                    for check in ("evaluation", "security", "compliance"):
                        bob.review(target, check, True, note=LONG_NOTE if check == "evaluation" else "ok")
                    endpoint = bob.get_version(*target.split("@"))["endpoint"]
                    bob.record_benchmark(
                        target,
                        endpoint=endpoint,
                        settings={"requests": 200, "concurrency": 8},
                        results={
                            "latency_ms": {"p50": 121.4, "p95": 133.9, "p99": 140.2},
                            "error_rate": 0.0,
                            "throughput_rps": 64.2,
                        },
                        passed=True,
                    )
                with at(T0 + timedelta(hours=1, minutes=n)):
                    bob.promote(target)
            with at(T0 + timedelta(hours=2)):
                bob.deprecate(STD, reason="superseded by ms-advanced-reasoning", notice_days=90)
            with at(T0 + timedelta(hours=3)):
                bob.set_fallbacks("ms-advanced-reasoning", ["ms-standard"])
            with at(T0 + timedelta(hours=6)):
                rows = [_window(h, 980.0) for h in range(4)] + [_window(4, 1900.0)]
                bob.ingest_observations("".join(json.dumps(r) + "\n" for r in rows))
                bob.check_alerts(deliver=False)
        finally:
            bob.close()
            alice.close()
    finally:
        if saved_login is None:
            os.environ.pop("LOGNAME", None)
        else:
            os.environ["LOGNAME"] = saved_login


def use_showcase(tmp_path, monkeypatch) -> str:
    """A seeded SQLite showcase as the test's registry, read at NOW; its URL."""
    url = new_registry(f"sqlite:///{tmp_path / 'showcase.db'}")
    seed(url)
    monkeypatch.setenv("MODELREG_DB", url)
    monkeypatch.setenv("MODELREG_NOW", NOW)
    monkeypatch.setenv("LOGNAME", OS_LOGIN)
    return url
