"""Registry as code: export / import / diff, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import tomllib
from datetime import date, timedelta

import pytest
import tomli_w
from conftest import approve, drop_pg_database, new_registry, pass_all_checks, pg_database_url, run_cli, user_url
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelreg import clock

ADV = "ms-advanced-reasoning@3.0.1"


def _version(reg, model, version, **over):
    spec = {
        "provider": "mindstudio",
        "modelId": model,
        "version": version,
        "capabilities": ["text-generation"],
        "parameters": {"temperature": {"default": 0.7, "range": [0, 1]}, "tokens": {"default": 512, "max": 4096}},
        "performance": {"avgLatency": 100, "p95Latency": 200, "costPerRequest": 0.01},
        "compliance": {"dataResidency": ["eu-west"], "piiHandling": "compliant", "approvedDomains": ["support"]},
        "endpoint": "http://127.0.0.1:9/v1/chat/completions",
    }
    spec.update(over)
    return reg.register(spec)


def _day(n: int) -> str:
    return (date.today() + timedelta(days=n)).isoformat()


@pytest.fixture
def second_db(backend, tmp_path):
    """Another, empty database on the same backend."""
    url = f"sqlite:///{tmp_path / 'second.db'}" if backend == "sqlite" else new_registry(pg_database_url("rf"))
    yield url
    if backend == "postgres":
        drop_pg_database(url)


def _audit_count(url: str) -> int:
    from modelreg import Registry

    with Registry.open(url) as reg:
        return reg.verify_audit().events


def _export(url: str) -> str:
    r = run_cli("--db", url, "export")
    assert r.exit_code == 0, r.stderr
    return r.stdout


def build_history(registry, cli):
    """Guide models, reviews, benchmarks, promotions, a canary, a deprecation with
    replacement and notices, a retirement, a rejection, fallbacks, an advisory."""
    from conftest import GUIDE_MANIFEST

    from modelreg.manifest import load_manifest_file
    from modelreg.store.monitoring_tables import Advisory

    registry.register_many(load_manifest_file(str(GUIDE_MANIFEST)))
    approve(registry, "ms-standard@2.0.0")
    approve(registry, ADV)
    _version(registry, "ms-advanced-reasoning", "3.1.0-rc.1", description="next")
    pass_all_checks(registry, "ms-advanced-reasoning@3.1.0-rc.1")
    assert cli("--actor", "bob", "promote", "ms-advanced-reasoning@3.1.0-rc.1", "--canary", "10").exit_code == 0
    _version(registry, "ms-standard", "2.1.0")
    approve(registry, "ms-standard@2.1.0")
    _version(registry, "old", "1.0.0")
    approve(registry, "old@1.0.0")
    registry.deprecate("old@1.0.0", reason="superseded", notice_days=90)
    assert cli("deprecate", "--sweep", env={"MODELREG_NOW": _day(90)}).exit_code == 0  # old@1.0.0 retires
    r = cli(
        "deprecate",
        "ms-standard@2.0.0",
        "--reason",
        "use 2.1",
        "--notice-days",
        "90",
        "--replacement",
        "ms-standard@2.1.0",
    )
    assert r.exit_code == 0, r.stderr
    assert cli("deprecate", "--sweep", env={"MODELREG_NOW": _day(65)}).exit_code == 0  # a 30-day notice
    _version(registry, "ms-standard", "2.2.0")
    assert (
        cli("review", "ms-standard@2.2.0", "--check", "evaluation", "--fail", "--reject", "--note", "bad").exit_code
        == 0
    )
    assert cli("fallback", "set", "ms-advanced-reasoning", "ms-standard", "old@1.0.0").exit_code in (0, 5)
    assert cli("fallback", "set", "ms-advanced-reasoning", "ms-standard").exit_code == 0

    def add_advisory(tx):
        tx.session.add(
            Advisory(
                advisory_id="CVE-2026-0001",
                model_id="ms-research-prototype",
                affected=">=0",
                severity="high",
                summary="prompt injection",
                created_at=tx.now,
                created_by=tx.actor,
            )
        )
        tx.audit("advisory.add", "ms-research-prototype", None, {"advisory_id": "CVE-2026-0001"})

    registry.write(add_advisory)
    # metadata (revision 0006): labels of a model and a version, a model card (the guide's manifest gave lineage)
    assert cli("label", "set", "ms-standard", "team=core").exit_code == 0
    assert cli("label", "set", "ms-standard@2.1.0", "tier=silver").exit_code == 0
    registry.set_card("ms-standard@2.1.0", text="# ms-standard 2.1.0\n\nIntended use: summaries.\n")


def test_db_copy_moves_the_registry_verbatim(registry, cli, db_url, second_db, tmp_path):
    build_history(registry, cli)
    path = tmp_path / "registry.toml"
    r = cli("export", "-f", path)
    assert r.exit_code == 0, r.stderr
    text = path.read_text()
    assert text == _export(db_url)  # stdout and -f agree; deterministic
    doc = tomllib.loads(text)
    assert doc["format"] == 1
    v = doc["models"]["ms-standard"]["versions"]["2.0.0"]
    assert v["status"] == "DEPRECATED" and v["replacement"] == "ms-standard@2.1.0" and v["retirement_notices"]
    assert doc["models"]["ms-advanced-reasoning"]["versions"]["3.1.0-rc.1"]["canary_weight"] == 10
    assert doc["models"]["old"]["versions"]["1.0.0"]["status"] == "RETIRED"
    assert doc["models"]["ms-standard"]["versions"]["2.2.0"]["status"] == "REJECTED"
    assert doc["models"]["ms-advanced-reasoning"]["fallbacks"] == ["ms-standard"]
    assert doc["advisories"][0]["advisory_id"] == "CVE-2026-0001"
    assert doc["models"]["ms-standard"]["labels"] == {"team": "core"}
    assert doc["models"]["ms-standard"]["versions"]["2.1.0"]["card"]["body"].startswith("# ms-standard")
    assert doc["models"]["ms-advanced-reasoning"]["versions"]["3.0.1"]["artifact"]["digest"].startswith("sha256:")
    assert doc["models"]["ms-standard"]["versions"]["2.1.0"]["benchmarks"][0]["results"]["latency_ms"]["p95"] == 200

    head = run_cli("audit", "head").stdout.strip()
    target = second_db
    r = run_cli("db", "copy", db_url, target, "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json["head"] == head  # the chain was copied row for row and verifies on both sides
    copied = user_url(target, "alice") if target.startswith("postgresql") else target
    assert _export(copied) == text  # timestamps, actors, evidence: verbatim
    assert run_cli("--db", copied, "audit", "verify", "--head", head).exit_code == 0
    from modelreg import Registry

    with Registry.open(copied) as other:
        assert other.resolve(model="ms-standard").version == "2.1.0"
        assert other.resolve(model="ms-advanced-reasoning").rollout == {"role": "stable", "weight": 90}
        # run ids were kept; the next run gets a fresh one on both backends
        run_id = other.record_benchmark(
            "ms-standard@2.1.0", endpoint="http://x/v1", settings={}, results={}, passed=True
        )
        assert run_id > max(
            r["run_id"] for m in doc["models"].values() for v in m["versions"].values() for r in v.get("benchmarks", [])
        )
    # only into an empty registry
    r = run_cli("db", "copy", db_url, target)
    assert r.exit_code == 4 and "empty" in r.stderr
    assert run_cli("--db", db_url, "diff", path, "--exit-code").exit_code == 0


def test_import_never_accepts_evidence_from_a_file(guide_registry, cli, db_url, tmp_path):
    """A forged file: APPROVED, approved by someone else, invented reviews and a benchmark
    run against an endpoint that never existed. Refused, nothing written, not resolvable."""
    text = _export(db_url)
    now = clock.stamp(clock.now())

    def forge(doc):
        v = doc["models"]["ms-standard"]["versions"]["2.0.0"]
        v.update(status="APPROVED", approved_by="carol", approved_at=now, default_since=now)
        v["checks"] = [
            {"name": n, "result": "pass", "actor": "carol", "at": now, "note": "trust me"}
            for n in ("evaluation", "security", "compliance", "benchmark")
        ]
        v["benchmarks"] = [
            {
                "run_id": 77,
                "endpoint": "http://never.existed/v1",
                "actor": "carol",
                "started_at": now,
                "finished_at": now,
                "mode": "closed",
                "passed": True,
            }
        ]

    forged = tmp_path / "forged.toml"
    forged.write_text(_mutate(text, forge))
    before = _audit_count(db_url)
    for actor in ("alice", "bob"):
        r = cli("--actor", actor, "import", forged, "--json")
        assert r.exit_code == 5, r.stderr
        (refusal,) = r.json["refused"]
        assert refusal["target"] == "ms-standard@2.0.0" and "evaluation" in refusal["reason"]
        assert any("not evidence here" in w for w in r.json["warnings"])
    assert guide_registry.get_version("ms-standard", "2.0.0")["status"] == "TESTING"
    assert cli("resolve", "--model", "ms-standard").exit_code == 3
    assert _audit_count(db_url) == before


def _mutate(text: str, fn) -> str:
    doc = tomllib.loads(text)
    fn(doc)
    return tomli_w.dumps(doc)


def test_import_refuses_status_jumps_and_writes_nothing(guide_registry, cli, db_url, tmp_path):
    text = _export(db_url)
    audit_before = _audit_count(db_url)

    def jump(doc):
        doc["models"]["ms-advanced-reasoning"]["versions"]["3.0.1"]["status"] = "RETIRED"  # TESTING -> RETIRED
        doc["models"]["ms-standard"]["versions"]["2.0.0"]["status"] = "APPROVED"  # no checks, no benchmark
        doc["models"]["ms-standard"]["description"] = "would change"
        new = dict(doc["models"]["ms-standard"]["versions"]["2.0.0"], status="APPROVED")
        doc["models"]["ms-standard"]["versions"]["3.0.0"] = new  # approved, but no recorded history

    bad = tmp_path / "bad.toml"
    bad.write_text(_mutate(text, jump))
    r = cli("import", bad, "--json")
    assert r.exit_code == 5
    refused = {e["target"]: e["reason"] for e in r.json["refused"]}
    assert "cannot be promoted" in refused[ADV] and "evaluation" in refused[ADV]
    assert "evaluation" in refused["ms-standard@2.0.0"] and "benchmark" in refused["ms-standard@2.0.0"]
    assert "evaluation" in refused["ms-standard@3.0.0"]  # registered now, approved only on this registry's evidence
    assert r.json["changed"] and r.json["applied"] is False
    assert _export(db_url) == text and _audit_count(db_url) == audit_before
    assert "nothing was written" in r.stderr


def test_import_promotes_through_the_gates_as_the_importing_actor(guide_registry, cli, db_url, tmp_path):
    text = _export(db_url)
    path = tmp_path / "promote.toml"
    path.write_text(
        _mutate(text, lambda doc: doc["models"]["ms-advanced-reasoning"]["versions"]["3.0.1"].update(status="APPROVED"))
    )
    r = cli("import", path, "--json")
    assert r.exit_code == 5 and "evaluation" in r.json["refused"][0]["reason"]  # no evidence recorded here yet
    pass_all_checks(guide_registry, ADV)  # bob records the reviews and a benchmark run, here
    r = cli("import", path, "--json")  # alice registered it: separation of duties
    assert r.exit_code == 5 and "separation_of_duties" in r.json["refused"][0]["reason"]
    assert guide_registry.get_version("ms-advanced-reasoning", "3.0.1")["status"] == "TESTING"
    r = cli("--actor", "bob", "import", path, "--json")
    assert r.exit_code == 0, r.stderr
    assert "TESTING -> APPROVED by bob" in r.json["changed"][0]["reason"]
    v = guide_registry.get_version("ms-advanced-reasoning", "3.0.1")
    assert v["status"] == "APPROVED" and v["approved_by"] == "bob"
    assert guide_registry.history("ms-advanced-reasoning", "3.0.1")[-1]["action"] == "promote"


def test_dry_run_writes_nothing(guide_registry, cli, db_url, tmp_path):
    text = _export(db_url)

    def add(doc):
        doc["models"]["brand-new"] = {
            "provider": "acme",
            "owner": "alice",
            "created_at": "2026-01-01T00:00:00Z",
            "versions": {
                "1.0.0": {
                    "capabilities": ["chat"],
                    "performance": {"avg_latency_ms": 1, "p95_latency_ms": 2, "cost_per_request_usd": 0},
                }
            },
        }
        doc["models"]["ms-standard"]["versions"]["2.0.0"]["status"] = "RETIRED"

    path = tmp_path / "plan.toml"
    path.write_text(_mutate(text, add))
    before = _audit_count(db_url)
    r = cli("import", path, "--dry-run", "--json")
    assert r.exit_code == 5 and r.json["dry_run"] is True and r.json["applied"] is False  # as the real run would
    assert {e["target"] for e in r.json["added"]} == {"brand-new", "brand-new@1.0.0"}
    assert [e["target"] for e in r.json["refused"]] == ["ms-standard@2.0.0"]
    r = cli("import", path, "--dry-run")
    assert r.exit_code == 5 and "brand-new@1.0.0" in r.stdout and "would be REFUSED" in r.stderr
    assert _export(db_url) == text and _audit_count(db_url) == before
    # without the refused change it applies; the new version is registered now by the importer
    path.write_text(
        _mutate(path.read_text(), lambda d: d["models"]["ms-standard"]["versions"]["2.0.0"].update(status="TESTING"))
    )
    assert cli("import", path).exit_code == 0
    v = guide_registry.get_version("brand-new", "1.0.0")
    assert v["status"] == "TESTING" and v["registered_by"] == "alice"


def test_diff_shows_changes(guide_registry, cli, db_url, tmp_path):
    text = _export(db_url)
    path = tmp_path / "r.toml"
    path.write_text(text)
    r = cli("diff", path, "--json")
    assert r.exit_code == 0 and r.json == {"identical": True, "differences": []}

    def edit(doc):
        doc["models"]["ms-standard"]["versions"]["2.0.0"]["status"] = "APPROVED"
        doc["models"]["ms-standard"]["versions"]["2.0.0"]["performance"]["p95_latency_ms"] = 650
        del doc["models"]["ms-research-prototype"]
        doc["models"]["ms-standard"]["versions"]["9.0.0"] = doc["models"]["ms-standard"]["versions"]["2.0.0"]

    path.write_text(_mutate(text, edit))
    r = cli("diff", path, "--json")
    assert r.exit_code == 0
    got = {(d["path"], d["change"]): (d["file"], d["database"]) for d in r.json["differences"]}
    assert got[('models.ms-standard.versions."2.0.0".status', "changed")] == ("APPROVED", "TESTING")
    assert got[('models.ms-standard.versions."2.0.0".performance.p95_latency_ms', "changed")] == (650, 700.0)
    assert ("models.ms-research-prototype", "only in database") in got
    assert got[('models.ms-standard.versions."9.0.0"', "only in file")][0]["status"] == "APPROVED"
    assert len(got) == 4
    r = cli("diff", path, "--exit-code")
    assert r.exit_code == 4 and "p95_latency_ms" in r.stdout and "4 difference(s)" in r.stderr


# -- mangled files: exit 2, one line, nothing written ------------------------------
def _nodes(value, path=()):
    """Every (path, value) below the root, not descending into benchmark payloads."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        here = path + (key,)
        yield here, item
        if key not in ("settings", "results"):
            yield from _nodes(item, here)


def _kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "str", list: "list", dict: "dict"}.get(type(value), "other")


WRONG = {"str": "not json here", "number": 7, "bool": True, "list": [1], "dict": {"k": 1}}


def _set(doc, path, value):
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@st.composite
def mangled(draw, text: str):
    doc = tomllib.loads(text)
    kind = draw(st.sampled_from(["wrong-type", "unknown-key", "bad-line", "duplicate-line", "format"]))
    if kind == "wrong-type":
        path, value = draw(st.sampled_from(list(_nodes(doc))))
        replacement = draw(st.sampled_from([k for k in WRONG if k != _kind(value)]))
        _set(doc, path, WRONG[replacement])
        return tomli_w.dumps(doc)
    if kind == "unknown-key":
        tables = [p for p, v in _nodes(doc) if isinstance(v, dict) and "settings" not in p and "results" not in p]
        path = draw(st.sampled_from([()] + tables))
        node = doc
        for key in path:
            node = node[key]
        node["zz_unknown"] = 1
        return tomli_w.dumps(doc)
    lines = text.splitlines()
    if kind == "bad-line":
        at = draw(st.integers(0, len(lines)))
        return "\n".join(lines[:at] + ["oops ="] + lines[at:]) + "\n"
    if kind == "duplicate-line":
        keyed = [i for i, line in enumerate(lines) if re.match(r"^[A-Za-z_]+ = ", line)]
        at = draw(st.sampled_from(keyed))
        return "\n".join(lines[: at + 1] + [lines[at]] + lines[at + 1 :]) + "\n"
    doc["format"] = draw(st.sampled_from([0, 2, 99]))
    return tomli_w.dumps(doc)


def test_mangled_files_exit_2_and_write_nothing(guide_registry, db_url, tmp_path):
    approve(guide_registry, "ms-standard@2.0.0")
    text = _export(db_url)
    before = _audit_count(db_url)
    path = tmp_path / "mangled.toml"

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(mangled(text))
    def check(content):
        path.write_text(content)
        r = run_cli("import", path)
        assert r.exit_code == 2, (r.exit_code, r.stderr, content)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")
        assert run_cli("diff", path).exit_code == 2

    check()
    assert _export(db_url) == text and _audit_count(db_url) == before
    path.write_text("format = 1\n[models.x\n")
    r = run_cli("import", path)
    assert r.exit_code == 2 and "malformed TOML" in r.stderr
