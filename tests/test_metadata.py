"""Issue 14: what a model version carries beyond the guide's fields, on both
backends: owner and contacts, labels, lineage, the model card; manifests,
find, show, lineage, export/import/diff; bad input refused (exit 2, one
line naming the field, nothing written)."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import approve, as_actor, new_registry, pass_all_checks, register_flags, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DIGEST = "sha256:" + "ab" * 32
MANIFEST = f"""
provider = "mindstudio"
modelId = "ms-advanced-reasoning"
version = "3.0.1"
capabilities = ["text-generation", "reasoning"]
endpoint = "http://127.0.0.1:8700/v1/chat/completions"
owner = "reasoning-team"
contacts = ["oncall@example.com", "@reasoning"]
baseModel = "llama-3.1-8b"
source = "https://mlflow.internal/#/experiments/3/runs/42"
datasets = ["s3://datasets/support-tickets-2026"]
[labels]
tier = "gold"
cost-center = "cc-17"
[artifact]
uri = "oci://registry.internal/ms-advanced-reasoning"
digest = "{DIGEST}"
[[evaluations]]
name = "mmlu"
metric = "accuracy"
value = 0.81
dataset = "mmlu"
[performance]
avgLatency = 850
p95Latency = 1200
costPerRequest = 0.03
"""
SNAKE = """
provider = "mindstudio"
model_id = "ms-child"
version = "1.0.0"
capabilities = ["reasoning"]
base_model = "ms-advanced-reasoning@3.0.1"
[labels]
tier = "silver"
[performance]
avg_latency = 1
p95_latency = 2
cost_per_request = 0
"""
CARD = "# ms-advanced-reasoning\n\n## Intended use\nSupport.\n\n## Limitations\nEnglish only.\n"


@pytest.fixture
def meta(cli, tmp_path):
    (tmp_path / "m.toml").write_text(MANIFEST)
    (tmp_path / "c.toml").write_text(SNAKE)
    assert cli("register", "-f", tmp_path / "m.toml").exit_code == 0
    assert cli("register", "-f", tmp_path / "c.toml").exit_code == 0
    return tmp_path


def test_manifest_carries_owner_labels_lineage(meta, cli):
    v = cli("show", "ms-advanced-reasoning@3.0.1", "--json").json
    assert v["owner"] == "reasoning-team"
    assert v["contacts"] == ["oncall@example.com", "@reasoning"]
    assert v["labels"] == {"cost-center": "cc-17", "tier": "gold"}
    assert v["lineage"] == {
        "artifact": {"uri": "oci://registry.internal/ms-advanced-reasoning", "digest": DIGEST},
        "source": "https://mlflow.internal/#/experiments/3/runs/42",
        "base_model": "llama-3.1-8b",
        "datasets": ["s3://datasets/support-tickets-2026"],
        "evaluations": [{"name": "mmlu", "metric": "accuracy", "value": 0.81, "dataset": "mmlu"}],
    }
    assert v["card"] is None
    text = cli("show", "ms-advanced-reasoning@3.0.1").stdout
    for shown in ("reasoning-team", "tier=gold", DIGEST, "llama-3.1-8b", "mmlu: accuracy 0.81"):
        assert shown in text
    child = cli("show", "ms-child@1.0.0", "--json").json
    assert child["labels"] == {"tier": "silver"} and child["lineage"]["base_model"] == "ms-advanced-reasoning@3.0.1"


def test_find_by_label_owner_and_base_model(meta, cli):
    def found(*args):
        result = cli("find", *args, "--json")
        assert result.exit_code == 0, result.stderr
        return [f"{v['model_id']}@{v['version']}" for v in result.json]

    assert found("--label", "tier=gold") == ["ms-advanced-reasoning@3.0.1"]
    assert found("--label", "tier=gold", "--label", "cost-center=cc-17") == ["ms-advanced-reasoning@3.0.1"]
    assert found("--label", "tier=gold", "--label", "cost-center=other") == []
    assert found("--owner", "reasoning-team") == ["ms-advanced-reasoning@3.0.1"]
    assert found("--base-model", "ms-advanced-reasoning@3.0.1") == ["ms-child@1.0.0"]
    # a model's label applies to its versions unless a version sets that key itself
    assert cli("label", "set", "ms-child", "team=search", "tier=bronze").exit_code == 0
    assert found("--label", "team=search") == ["ms-child@1.0.0"]
    assert found("--label", "tier=bronze") == []
    assert found("--label", "tier=silver") == ["ms-child@1.0.0"]


def test_label_set_unset_is_audited(meta, cli):
    result = cli("label", "set", "ms-child@1.0.0", "tier=gold", "env=prod", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["labels"] == {"env": "prod", "tier": "gold"}
    assert cli("label", "unset", "ms-child@1.0.0", "env", "--json").json["labels"] == {"tier": "gold"}
    actions = [e["action"] for e in cli("history", "ms-child@1.0.0", "--json").json]
    assert actions[-2:] == ["label.set", "label.unset"]
    assert cli("label", "set", "ms-child", "team=a").exit_code == 0
    # every change was covered by modelreg's own event (PostgreSQL records uncovered raw SQL as sql.*)
    everything = cli("history", "ms-child", "--json").json + cli("history", "ms-advanced-reasoning", "--json").json
    assert not [e["action"] for e in everything if e["action"].startswith("sql.")]
    assert cli("audit", "verify").exit_code == 0
    assert cli("label", "set", "nope@1.0.0", "a=b").exit_code == 3


def test_card_set_show_and_gate(meta, cli, registry, tmp_path):
    registry.set_policy("require_model_card", "true")
    target = "ms-advanced-reasoning@3.0.1"
    pass_all_checks(registry, target)
    bob = as_actor(registry, "bob")
    try:
        with pytest.raises(Exception) as refused:
            bob.promote(target)
        assert "no model card" in " ".join(getattr(refused.value, "details", []))
    finally:
        bob.close()
    (tmp_path / "CARD.md").write_text(CARD)
    result = cli("card", "set", target, tmp_path / "CARD.md", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["sha256"] == hashlib.sha256(CARD.encode()).hexdigest()
    assert cli("card", "show", target).stdout == CARD
    assert cli("show", target, "--json").json["card"]["size"] == len(CARD.encode())
    approve(registry, target)
    assert cli("show", target, "--json").json["status"] == "APPROVED"
    assert cli("card", "show", "ms-child@1.0.0").exit_code == 3


def test_oversized_card_is_refused(meta, cli, tmp_path):
    big = tmp_path / "big.md"
    big.write_text("x" * (1024 * 1024 + 1))
    result = cli("card", "set", "ms-child@1.0.0", big)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "big.md" in result.stderr
    assert cli("show", "ms-child@1.0.0", "--json").json["card"] is None


def test_lineage_command(meta, cli):
    assert cli(*register_flags("ms-grandchild", "1.0.0", "--base-model", "ms-child@1.0.0")).exit_code == 0
    data = cli("lineage", "ms-child@1.0.0", "--json").json
    assert [a["base_model"] for a in data["derives_from"]] == ["ms-advanced-reasoning@3.0.1", "llama-3.1-8b"]
    assert [a["registered"] for a in data["derives_from"]] == [True, False]
    assert [d["target"] for d in data["derived"]] == ["ms-grandchild@1.0.0"]
    top = cli("lineage", "ms-advanced-reasoning@3.0.1", "--json").json
    assert [(d["target"], d["depth"]) for d in top["derived"]] == [("ms-child@1.0.0", 1), ("ms-grandchild@1.0.0", 2)]


def test_deprecation_event_names_owner_and_contacts(meta, cli, registry):
    target = "ms-advanced-reasoning@3.0.1"
    approve(registry, target)
    bob = as_actor(registry, "bob")
    try:
        bob.deprecate(target, reason="superseded", notice_days=90)
    finally:
        bob.close()
    events = cli("events", "list", "--json").json
    payload = next(e["payload"] for e in events if e["type"] == "version.deprecated")
    assert payload["owner"] == "reasoning-team" and payload["contacts"] == ["oncall@example.com", "@reasoning"]


def test_export_import_diff_round_trip(meta, cli, tmp_path, backend):
    (tmp_path / "CARD.md").write_text(CARD)
    assert cli("card", "set", "ms-advanced-reasoning@3.0.1", tmp_path / "CARD.md").exit_code == 0
    assert cli("label", "set", "ms-advanced-reasoning", "team=search").exit_code == 0
    exported = cli("export").stdout
    (tmp_path / "e.toml").write_text(exported)
    assert cli("diff", tmp_path / "e.toml", "--exit-code").exit_code == 0
    # the file is desired state: labels follow it
    edited = exported.replace('team = "search"', 'team = "ranking"')
    (tmp_path / "e2.toml").write_text(edited)
    assert cli("import", tmp_path / "e2.toml").exit_code == 0
    assert cli("show", "ms-advanced-reasoning", "--json").json["labels"] == {"team": "ranking"}
    # lineage is immutable: a change is a new version
    (tmp_path / "e3.toml").write_text(edited.replace("llama-3.1-8b", "llama-3.1-70b"))
    refused = cli("import", tmp_path / "e3.toml")
    assert refused.exit_code == 5 and "base_model" in refused.stderr
    if backend == "sqlite":
        fresh = new_registry(f"sqlite:///{tmp_path / 'fresh.db'}")
        assert run_cli("--db", fresh, "import", tmp_path / "e.toml").exit_code == 0
        again = run_cli("--db", fresh, "show", "ms-advanced-reasoning@3.0.1", "--json").json
        assert again["labels"] == {"cost-center": "cc-17", "team": "search", "tier": "gold"}
        assert again["card"]["sha256"] == hashlib.sha256(CARD.encode()).hexdigest()
        assert again["lineage"]["artifact"]["digest"] == DIGEST


def test_reader_may_not_write_labels_on_postgres(meta, cli, db_url, backend):
    if backend != "postgres":
        pytest.skip("roles are enforced on PostgreSQL")
    result = cli("--actor", "remy", "label", "set", "ms-child@1.0.0", "a=b")
    assert result.exit_code == 0  # remy holds every role (conftest); a reader-only role is refused below
    from conftest import pg_user, user_url
    from sqlalchemy import create_engine, text

    pg_user("rex", ("reader",))
    engine = create_engine(user_url(db_url, "rex"))
    try:
        with pytest.raises(Exception, match=r"permission denied|may not"), engine.begin() as conn:
            conn.execute(text("INSERT INTO label VALUES ('ms-child', '1.0.0', 'x', 'y')"))
    finally:
        engine.dispose()


# -- bad input: exit 2, one line naming the field, nothing written ----------------------------------
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
hex_chars = "0123456789abcdef"


def _refused(result, field: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, result.stderr
    assert field in result.stderr, result.stderr


@pytest.fixture(scope="module")
def bad_input_db(tmp_path_factory):
    return new_registry(f"sqlite:///{tmp_path_factory.mktemp('bad') / 'r.db'}")


def _unchanged(url: str):
    path = url.removeprefix("sqlite:///")
    return open(path, "rb").read()


@given(digest=st.one_of(st.text(max_size=80), st.text(hex_chars, max_size=70).map(lambda h: "sha256:" + h)))
@SETTINGS
def test_bad_digest_is_refused(bad_input_db, digest):
    if len(digest) == 71 and digest.startswith("sha256:") and all(c in hex_chars for c in digest[7:]):
        return
    before = _unchanged(bad_input_db)
    result = run_cli("--db", bad_input_db, *register_flags("m", "1.0.0", "--artifact", f"oci://r/i@{digest}"))
    _refused(result, "--artifact")
    assert _unchanged(bad_input_db) == before


@given(label=st.text(max_size=70))
@SETTINGS
def test_bad_label_is_refused(bad_input_db, label):
    key, sep, value = label.partition("=")
    import re

    if (
        sep
        and re.fullmatch(r"[a-z0-9][a-z0-9._/-]{0,62}", key)
        and not any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        return
    before = _unchanged(bad_input_db)
    result = run_cli("--db", bad_input_db, *register_flags("m", "1.0.0", "--label", label))
    _refused(result, "--label")
    assert _unchanged(bad_input_db) == before


@given(
    uri=st.one_of(st.text(max_size=40), st.sampled_from(["no-scheme", "://x", "a b://c", "http://x:99999", " s3://b"]))
)
@SETTINGS
def test_bad_source_uri_is_refused(bad_input_db, uri):
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(uri)
        _ = parts.port
        ok = (
            bool(parts.scheme)
            and (parts.netloc or parts.path)
            and uri == uri.strip()
            and not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in uri)
            and parts.scheme[0].isalpha()
            and parts.scheme.isascii()
        )
    except ValueError:
        ok = False
    if ok:
        return
    before = _unchanged(bad_input_db)
    _refused(run_cli("--db", bad_input_db, *register_flags("m", "1.0.0", "--source", uri)), "--source")
    assert _unchanged(bad_input_db) == before


@given(
    key=st.sampled_from(["labels", "artifact", "evaluations", "datasets", "contacts", "baseModel"]),
    value=st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), min_size=1, max_size=2)),
)
@SETTINGS
def test_bad_manifest_metadata_is_refused(bad_input_db, tmp_path_factory, key, value):
    if key == "baseModel" and isinstance(value, str) and value and value.strip() == value and " " not in value:
        return
    path = tmp_path_factory.mktemp("m") / "m.json"
    manifest = json.loads(
        '{"provider": "p", "modelId": "m", "version": "1.0.0", "capabilities": ["c"],'
        ' "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0}}'
    )
    manifest[key] = value
    path.write_text(json.dumps(manifest))
    before = _unchanged(bad_input_db)
    _refused(run_cli("--db", bad_input_db, "register", "-f", path), key)
    assert _unchanged(bad_input_db) == before


def test_a_new_user_registers_from_one_manifest_with_a_card(cli, registry, tmp_path):
    """The issue's 'done when': owner, labels, artifact digest and a card from one manifest;
    found by label and owner; its lineage seen; approval refused while the policy requires a
    card that is missing (a version registered without one)."""
    (tmp_path / "ms-advanced-reasoning.md").write_text(CARD)
    (tmp_path / "m.toml").write_text(MANIFEST.replace("[labels]", 'modelCard = "ms-advanced-reasoning.md"\n[labels]'))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "n.toml").write_text(MANIFEST.replace('"3.0.1"', '"3.0.2"'))
    import os

    cwd = os.getcwd()
    os.chdir(elsewhere)  # the card is read beside the manifest, not from the working directory
    try:
        assert cli("register", "-f", tmp_path / "m.toml").exit_code == 0
        assert cli("register", "-f", "n.toml").exit_code == 0
    finally:
        os.chdir(cwd)
    assert cli("card", "show", "ms-advanced-reasoning@3.0.1").stdout == CARD
    found = cli("find", "--label", "tier=gold", "--owner", "reasoning-team", "--json").json
    assert [v["version"] for v in found] == ["3.0.2", "3.0.1"]
    assert cli("lineage", "ms-advanced-reasoning@3.0.1", "--json").json["lineage"]["artifact"]["digest"] == DIGEST
    registry.set_policy("require_model_card", "true")
    approve(registry, "ms-advanced-reasoning@3.0.1")
    pass_all_checks(registry, "ms-advanced-reasoning@3.0.2")
    refused = cli("--actor", "bob", "promote", "ms-advanced-reasoning@3.0.2")
    assert refused.exit_code == 5 and "no model card is recorded" in refused.stderr


def test_missing_card_file_in_a_manifest_is_refused(cli, tmp_path):
    (tmp_path / "m.toml").write_text(MANIFEST.replace("[labels]", 'modelCard = "nope.md"\n[labels]'))
    result = cli("register", "-f", tmp_path / "m.toml")
    _refused(result, "modelCard")
    assert cli("find", "--json").json == []


def test_find_filters_over_http(meta, cli, registry):
    from serve_harness import ServerThread, get

    with ServerThread(registry) as srv:
        page = get(srv, "/v1/models", params={"label": "tier=gold", "owner": "reasoning-team"}).json()
        assert [v["version"] for v in page["items"]] == ["3.0.1"] and page["items"][0]["labels"]["tier"] == "gold"
        page = get(srv, "/v1/models", params={"base_model": "ms-advanced-reasoning@3.0.1"}).json()
        assert [v["model_id"] for v in page["items"]] == ["ms-child"]
        bad = get(srv, "/v1/models", params={"label": "Tier"})
        assert bad.status_code == 400 and bad.json()["error"]["parameter"] == "label"
        over_http = {"MODELREG_DB": srv.base}
        direct, remote = cli("find", "--label", "tier=silver"), cli("find", "--label", "tier=silver", env=over_http)
        assert (remote.exit_code, remote.stdout) == (0, direct.stdout)
        refused = cli("label", "set", "ms-child", "a=b", env=over_http)
        assert refused.exit_code == 2 and "read-only" in refused.stderr
