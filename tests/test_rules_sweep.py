"""The cron sweep (`deprecate --sweep`): what it retires and announces, and
that cron learns of a database it cannot use by exit code 7 (unreachable, or
locked past the retry budget), with one line on stderr and nothing on stdout."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

import pytest
from conftest import approve, new_registry, run_cli, run_process, small_spec

from modelreg.store import database

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # hold the write lock until the test closes stdin
conn.execute("ROLLBACK")
"""


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://nobody@127.0.0.1:1/registry",  # nothing listens on port 1
        "sqlite:////nonexistent-dir/registry.db",
    ],
)
def test_sweep_exits_7_on_an_unreachable_database(url):
    r = run_process("deprecate", "--sweep", "--json", env={"MODELREG_DB": url}, timeout=60)
    assert r.exit_code == 7, r.stderr
    assert r.stdout == "" and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1


def test_sweep_exits_7_on_a_directory_instead_of_a_database(tmp_path):
    r = run_cli("--db", f"sqlite:///{tmp_path}", "deprecate", "--sweep")
    assert r.exit_code == 7 and r.stderr.startswith("error: cannot open database")


def test_sweep_exits_7_on_a_database_locked_past_the_retry_budget(tmp_path, monkeypatch):
    path = tmp_path / "registry.db"
    url = new_registry(f"sqlite:///{path}")
    # the budget of a real run is 6 attempts of 15 s each; the rule is the same at 2 x 0.2 s
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(database, "WRITE_ATTEMPTS", 2)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        r = run_cli("--db", url, "deprecate", "--sweep", "--json")
        assert r.exit_code == 7, r.stderr
        assert r.stdout == ""
        assert r.stderr.startswith("error: database busy: gave up after 2 attempts") and "locked" in r.stderr
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    r = run_cli("--db", url, "deprecate", "--sweep", "--json")  # the lock is gone: the same sweep works
    assert r.exit_code == 0 and r.json["retired"] == []


# -- what the sweep does ------------------------------------------------------------------------------


def _day(n: int) -> str:
    return (date.today() + timedelta(days=n)).isoformat()


@pytest.fixture
def deprecated(registry):
    """m@1.0.0 deprecated today with 90 days' notice, replaced by m@2.0.0."""
    for version in ("1.0.0", "2.0.0"):
        registry.register(small_spec("m", version))
        approve(registry, f"m@{version}")
    registry.deprecate("m@1.0.0", reason="old", notice_days=90, replacement="m@2.0.0")
    return registry


def sweep(registry, monkeypatch, day: int, *, dry_run: bool = False) -> dict:
    monkeypatch.setenv("MODELREG_NOW", _day(day))
    return registry.sweep(dry_run=dry_run)


@pytest.mark.parametrize(
    "day, announced",
    [(59, []), (60, [30]), (61, [30]), (83, [7]), (84, [7]), (88, [7]), (89, [1]), (90, [])],
)
def test_each_notice_is_raised_when_its_threshold_is_reached(deprecated, monkeypatch, day, announced):
    """Thresholds 30, 7 and 1 days before retire_on (today + 90), swept once on `day`."""
    report = sweep(deprecated, monkeypatch, day)
    assert [n["threshold_days"] for n in report["notices"]] == announced
    for notice in report["notices"]:
        assert notice == {
            "target": "m@1.0.0",
            "days_left": 90 - day,
            "threshold_days": announced[0],
            "retire_on": _day(90),
            "replacement": "m@2.0.0",
            "consumers": [],  # nobody resolved it (the consumers issue): the notice says so
            "owner": "alice",  # who to tell (issue 14): the owner and contacts of the model
            "contacts": [],
        }
    assert report["retired"] == (["m@1.0.0"] if day >= 90 else [])
    assert report["unchanged"] == (1 if day < 60 else 0)
    assert report["as_of"].startswith(_day(day)) and report["dry_run"] is False


def test_notices_are_raised_once_and_passed_over_ones_never_late(deprecated, monkeypatch):
    assert [n["threshold_days"] for n in sweep(deprecated, monkeypatch, 85)["notices"]] == [7]  # 30 passed over
    assert sweep(deprecated, monkeypatch, 85)["notices"] == []
    assert sweep(deprecated, monkeypatch, 86)["notices"] == []  # 30 is never raised late
    assert sweep(deprecated, monkeypatch, 86)["unchanged"] == 1
    assert [n["threshold_days"] for n in sweep(deprecated, monkeypatch, 89)["notices"]] == [1]
    notices = [e for e in deprecated.history("m", "1.0.0") if e["action"] == "retirement.notice"]
    assert sorted(e["after"]["days_before"] for e in notices) == [1, 7, 30]  # recorded once each


def test_a_dry_run_reports_and_changes_nothing(deprecated, monkeypatch):
    rehearsal = sweep(deprecated, monkeypatch, 90, dry_run=True)
    assert rehearsal["retired"] == ["m@1.0.0"] and rehearsal["dry_run"] is True
    assert deprecated.get_version("m", "1.0.0")["status"] == "DEPRECATED"
    assert sweep(deprecated, monkeypatch, 61, dry_run=True)["notices"] != []
    assert [n["threshold_days"] for n in sweep(deprecated, monkeypatch, 61)["notices"]] == [30]


def test_retirement_is_on_the_day_and_only_of_deprecated_versions(deprecated, monkeypatch):
    assert sweep(deprecated, monkeypatch, 89)["retired"] == []
    assert sweep(deprecated, monkeypatch, 90)["retired"] == ["m@1.0.0"]
    assert deprecated.get_version("m", "1.0.0")["status"] == "RETIRED"
    assert deprecated.get_version("m", "2.0.0")["status"] == "APPROVED"
    assert sweep(deprecated, monkeypatch, 91)["retired"] == []
    retire = [e for e in deprecated.history("m", "1.0.0") if e["action"] == "retire"]
    assert [(e["before"], e["after"]) for e in retire] == [
        ({"status": "DEPRECATED", "retire_on": _day(90)}, {"status": "RETIRED"})
    ]


def test_a_late_sweep_retires_everything_due_and_reports_broken_fallbacks(registry, monkeypatch):
    for model in ("a", "b", "c"):
        registry.register(small_spec(model, "1.0.0"))
        approve(registry, f"{model}@1.0.0")
    registry.set_fallbacks("c", ["a", "b@1.0.0"])
    registry.deprecate("a@1.0.0", reason="old", notice_days=90)
    registry.deprecate("b@1.0.0", reason="old", notice_days=120)
    report = sweep(registry, monkeypatch, 200)
    assert sorted(report["retired"]) == ["a@1.0.0", "b@1.0.0"] and report["notices"] == []
    assert report["broken_fallbacks"] == [{"model_id": "c", "target": "a"}, {"model_id": "c", "target": "b@1.0.0"}]
