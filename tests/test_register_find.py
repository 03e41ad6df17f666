"""Submission (register from flags and manifests), find, show, tree."""

import json

import pytest
from conftest import GUIDE_MANIFEST, new_registry, register_flags, run_cli

FLAGS = [
    "register",
    "ms-standard",
    "--version",
    "2.1.0",
    "--provider",
    "mindstudio",
    "--capability",
    "text-generation",
    "--capability",
    "summarization",
    "--param",
    "temperature=0.5:0..1",
    "--param",
    "tokens=1024:max=2048",
    "--avg-latency",
    "400",
    "--p95-latency",
    "700",
    "--cost",
    "0.01",
    "--residency",
    "us-east",
    "--pii",
    "compliant",
    "--domain",
    "customer-service",
    "--endpoint",
    "http://127.0.0.1:8700/v1/chat/completions",
]


def test_register_from_flags_matches_manifest_shape(cli):
    r = cli(*FLAGS, "--json")
    assert r.exit_code == 0, r.stderr
    shown = cli("show", "ms-standard@2.1.0", "--json").json
    assert shown["status"] == "TESTING" and shown["stage"] == "staging"
    assert shown["parameters"] == {
        "temperature": {"default": 0.5, "range": [0, 1]},
        "tokens": {"default": 1024, "max": 2048},
    }
    assert shown["performance"] == {"avg_latency_ms": 400, "p95_latency_ms": 700, "cost_per_request_usd": 0.01}
    assert shown["compliance"] == {
        "data_residency": ["us-east"],
        "pii_handling": "compliant",
        "approved_domains": ["customer-service"],
    }
    assert shown["endpoint_kind"] == "openai-chat" and shown["registered_by"] == "alice"
    for key in (
        "model_id",
        "provider",
        "version",
        "status",
        "stage",
        "capabilities",
        "parameters",
        "performance",
        "compliance",
        "endpoint",
        "endpoint_kind",
        "registered_at",
        "registered_by",
        "approved_at",
        "approved_by",
        "deprecated_at",
        "retire_on",
        "replacement",
        "retired_at",
        "checks",
        "rollout_weight",
    ):
        assert key in shown


def test_duplicate_version_is_a_conflict(cli):
    assert cli(*FLAGS).exit_code == 0
    r = cli(*FLAGS)
    assert r.exit_code == 4 and "already registered" in r.stderr and r.stderr.count("\n") == 1


def test_manifest_json_snake_case_and_models_list(cli, tmp_path):
    doc = {
        "provider": "acme",
        "models": [
            {
                "model_id": "a-model",
                "version": "1.0.0",
                "capabilities": ["chat"],
                "performance": {"avg_latency_ms": 1, "p95_latency_ms": 2, "cost_per_request_usd": 0},
            },
            {
                "modelId": "a-model",
                "version": "1.0.1-rc.1",
                "capabilities": ["chat"],
                "performance": {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0},
            },
        ],
    }
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    assert cli("register", "--file", path).exit_code == 0
    versions = [v["version"] for v in cli("find", "--model", "a-*", "--json").json]
    assert versions == ["1.0.1-rc.1", "1.0.0"]  # SemVer order, newest first


def test_semver_ordering_in_find(cli, tmp_path):
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0"]
    doc = {
        "provider": "p",
        "models": [
            {
                "modelId": "m",
                "version": v,
                "capabilities": ["c"],
                "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
            }
            for v in reversed(order)
        ],
    }
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    assert cli("register", "--file", path).exit_code == 0
    assert [v["version"] for v in cli("find", "--json", "--limit", "0").json] == list(reversed(order))


@pytest.mark.parametrize(
    "mutation, key",
    [
        (lambda d: d["models"][1]["performance"].__setitem__("avgLatency", -1), "performance.avgLatency"),
        (lambda d: d["models"][1].__setitem__("version", "1.0"), "version"),
        (lambda d: d["models"][1].__setitem__("colour", "red"), "colour"),
        (lambda d: d["models"][1]["parameters"]["temperature"].__setitem__("default", 3), "parameters.temperature"),
        (lambda d: d["models"][1].__setitem__("capabilities", "chat"), "capabilities"),
    ],
)
def test_one_bad_entry_writes_nothing(cli, tmp_path, mutation, key):
    good = {
        "modelId": "ok-model",
        "version": "1.0.0",
        "provider": "p",
        "capabilities": ["chat"],
        "performance": {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0},
    }
    doc = {
        "models": [
            good,
            {
                **good,
                "modelId": "bad-model",
                "parameters": {"temperature": {"default": 0.5, "range": [0, 1]}},
                "performance": dict(good["performance"]),
            },
        ]
    }
    mutation(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    r = cli("register", "--file", path)
    assert r.exit_code == 2, r.stderr
    assert str(path) in r.stderr and "models[1]" in r.stderr and key.split(".")[0] in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert cli("find", "--json").json == []


def test_find_filters(cli, tmp_path):
    assert cli("register", "--file", GUIDE_MANIFEST).exit_code == 0
    ids = lambda *a: sorted({v["model_id"] for v in cli("find", "--json", *a).json})
    assert ids("--capability", "reasoning") == ["ms-advanced-reasoning", "ms-research-prototype"]
    assert ids("--capability", "reasoning", "--capability", "summarization") == ["ms-advanced-reasoning"]
    assert ids("--domain", "customer-service") == ["ms-advanced-reasoning", "ms-standard"]
    assert ids("--residency", "eu-west") == ["ms-advanced-reasoning"]
    assert ids("--max-p95", "1000") == ["ms-standard"]
    assert ids("--max-cost", "0.03") == ["ms-advanced-reasoning", "ms-standard"]
    assert ids("--status", "EXPERIMENTAL") == ["ms-research-prototype"]
    assert ids("--stage", "staging") == ["ms-advanced-reasoning", "ms-standard"]
    assert ids("--model", "ms-*-reasoning") == ["ms-advanced-reasoning"]
    assert ids("--provider", "nobody") == []
    csv_out = cli("find", "--csv").stdout.splitlines()
    assert csv_out[0].startswith("model_id,version,status") and len(csv_out) == 4
    r = cli("find", "--limit", "1", "--plain")
    assert len(r.stdout.splitlines()) == 1 and "showing 1 of 3" in r.stderr


def test_show_model_and_tree(cli):
    cli("register", "--file", GUIDE_MANIFEST)
    model = cli("show", "ms-advanced-reasoning", "--json").json
    assert model["provider"] == "mindstudio" and [v["version"] for v in model["versions"]] == ["3.0.1"]
    text = cli("tree").stdout
    assert "Enterprise Model Registry" in text and "Staging Models" in text and "3.0.1 [TESTING]" in text
    assert cli("show", "nope").exit_code == 3
    assert cli("show", "ms-standard@9.9.9").exit_code == 3
    table = cli("show", "ms-advanced-reasoning@3.0.1")
    assert table.exit_code == 0 and "temperature=0.7" in table.stdout


def test_library_api(registry):
    from modelreg.manifest import load_manifest_file

    registry.register_many(load_manifest_file(str(GUIDE_MANIFEST)))
    found = registry.find_models(provider="mindstudio", capabilities=["reasoning"], status="TESTING")
    assert [v["model_id"] for v in found] == ["ms-advanced-reasoning"]
    version = registry.register(
        {
            "provider": "mindstudio",
            "modelId": "ms-standard",
            "version": "2.0.1",
            "capabilities": ["text-generation"],
            "performance": {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0},
        }
    )
    assert version["status"] == "TESTING"


def test_bulk_registration_is_one_transaction(registry, monkeypatch):
    from modelreg.errors import Conflict
    from modelreg.lifecycle import events
    from modelreg.manifest import parse_manifest_document

    doc = {
        "provider": "bulk",
        "models": [
            {
                "modelId": f"m{i % 50}",
                "version": f"1.{i}.0",
                "capabilities": ["c", f"k{i % 7}"],
                "performance": {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0},
            }
            for i in range(3000)
        ],
    }
    specs = parse_manifest_document(doc, "bulk")

    # a failure after every row was written (here: emitting the lifecycle events) undoes all of them
    def fail(*args, **kwargs):
        raise RuntimeError("injected after the inserts")

    with monkeypatch.context() as patch:
        patch.setattr(events, "emit_many", fail)
        with pytest.raises(RuntimeError, match="injected"):
            registry.register_many(specs)
    assert registry.find(include_retired=True, limit=1)[1] == 0
    assert registry.verify_audit().events == 0

    # the last entry already registered: the 2999 before it are refused with it
    registry.register(doc["models"][-1] | {"provider": "bulk"})
    with pytest.raises(Conflict, match=r"m49@1\.2999\.0 is already registered"):
        registry.register_many(specs)
    assert registry.find(include_retired=True, limit=1)[1] == 1
    assert registry.verify_audit().events == 1

    registry.register_many(specs[:-1])
    versions, total = registry.find(capabilities=["k3"], limit=5)
    assert total == len([i for i in range(3000) if i % 7 == 3]) and len(versions) == 5
    assert registry.verify_audit().events == 3000


def test_sqlite_statistics_stay_fresh_when_the_registry_grows_one_version_at_a_time(tmp_path):
    """Issue 15: only bulk calls refreshed the planner's statistics, so a registry
    built one `register` at a time planned `find` without them."""
    import sqlite3

    path = tmp_path / "grown.db"
    url = new_registry(f"sqlite:///{path}")

    def analysed() -> int:
        with sqlite3.connect(path) as conn:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
                return 0
            row = conn.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'model_version' LIMIT 1").fetchone()
            return int(row[0].split()[0]) if row else 0

    for i in range(99):
        assert run_cli("--db", url, *register_flags(f"one{i}", "1.0.0")).exit_code == 0
    assert analysed() == 0  # small registries are not analysed on every write
    assert run_cli("--db", url, *register_flags("one99", "1.0.0")).exit_code == 0
    assert analysed() == 100  # the 100th version: analysed once, by the command that wrote it
    assert run_cli("--db", url, "find", "--limit", "1").exit_code == 0
    assert analysed() == 100  # reads never write statistics
