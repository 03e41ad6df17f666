"""Resolution and the canary split, pinned by behaviour (issue 17).

A caller's side of a canary is a pure function of (model, key): the same in
every process, on every machine, after every restart. The buckets are pinned
to known values here (SHA-256 of the model and key), and two processes with
different PYTHONHASHSEED must resolve every key the same way (Python's own
`hash()` of a string changes with the seed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import approve, owner_sql

from modelreg.errors import InvalidInput, NotFound
from modelreg.routing import MAX_KEY, bucket

# bucket("chat", f"user-{i}") for i in 0..19
PINNED = [23, 97, 67, 39, 12, 71, 71, 62, 41, 50, 73, 87, 28, 77, 70, 71, 17, 33, 18, 20]
# a key in each bucket at the edges of the weights below
KEY_IN_BUCKET = {0: "user-214", 1: "user-116", 9: "user-72", 10: "user-84", 49: "user-260", 50: "user-9"}
KEY_IN_BUCKET |= {98: "user-175", 99: "user-315"}


def _version(reg, model, version, **over):
    spec = {
        "provider": "acme",
        "modelId": model,
        "version": version,
        "capabilities": ["chat"],
        "parameters": {"temperature": {"default": 0.2, "range": [0, 1]}, "tokens": {"default": 256, "max": 1024}},
        "endpoint": "http://127.0.0.1:9/v1",
        "performance": {"avgLatency": 100, "p95Latency": 200, "costPerRequest": 0.01},
    }
    spec.update(over)
    return reg.register(spec)


def test_canary_buckets_are_pinned():
    assert [bucket("chat", f"user-{i}") for i in range(20)] == PINNED
    assert {b: bucket("chat", key) for b, key in KEY_IN_BUCKET.items()} == {b: b for b in KEY_IN_BUCKET}
    assert (bucket("chat", ""), bucket("m", "k"), bucket("chat", "x" * MAX_KEY)) == (80, 46, 14)
    # the model is part of the hash, separated from the key: ("a", "bc") is not ("ab", "c")
    assert bucket("a", "bc") != bucket("ab", "c")


@pytest.fixture
def canary(registry):
    _version(registry, "chat", "1.0.0")
    _version(registry, "chat", "1.1.0", parameters={"temperature": {"default": 0.9, "range": [0, 1]}})
    approve(registry, "chat@1.0.0")
    approve(registry, "chat@1.1.0", canary=10)
    return registry


def test_a_key_goes_to_the_canary_exactly_when_its_bucket_is_below_the_weight(canary):
    for weight in (10, 1, 50, 99):
        if weight != 10:
            canary.rollout("chat", set_weight=weight)
        for b, key in KEY_IN_BUCKET.items():
            got = canary.resolve(model="chat", key=key)
            if b < weight:
                assert (got.version, got.rollout) == ("1.1.0", {"role": "canary", "weight": weight}), (weight, b)
                assert got.recommended_parameters == {"temperature": 0.9}
            else:
                assert (got.version, got.rollout) == ("1.0.0", {"role": "stable", "weight": 100 - weight}), (weight, b)
                assert got.recommended_parameters == {"temperature": 0.2, "tokens": 256}
    # no key: the production default, which names its share of the traffic
    assert canary.resolve(model="chat").rollout == {"role": "stable", "weight": 1}
    canary.rollout("chat", complete=True)
    assert canary.resolve(model="chat", key=KEY_IN_BUCKET[99]).rollout == {"role": "stable", "weight": 100}


def test_the_canary_share_is_served_through_filters_as_by_model(canary):
    by_filters = {canary.resolve(capabilities=["chat"], key=f"user-{i}").version for i in range(20)}
    by_model = {canary.resolve(model="chat", key=f"user-{i}").version for i in range(20)}
    expected = {"1.1.0" if b < 10 else "1.0.0" for b in PINNED}
    assert by_filters == by_model == expected


RESOLVE_KEYS = """
import json, sys
from modelreg import Registry
with Registry.open(sys.argv[1]) as reg:
    print(json.dumps([reg.resolve(model="chat", key=f"user-{i}").version for i in range(60)]))
"""


def test_canary_buckets_equal_across_processes_with_different_hash_seeds(canary, tmp_path):
    expected = [canary.resolve(model="chat", key=f"user-{i}").version for i in range(60)]
    assert expected[:20] == ["1.1.0" if b < 10 else "1.0.0" for b in PINNED]
    seen = []
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", RESOLVE_KEYS, canary.db.url],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=Path.cwd(),
        )
        assert proc.returncode == 0, proc.stderr
        seen.append(json.loads(proc.stdout))
    assert seen == [expected] * 3
    # the hash seed does change Python's own string hash: the test would see a hash()-based split
    hashes = {
        subprocess.run(
            [sys.executable, "-c", "print(hash('chat\\x00user-1'))"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(hashes) == 2


def test_keys_of_1_to_max_characters_only(canary):
    assert canary.resolve(model="chat", key="k" * MAX_KEY).model_id == "chat"
    for bad in ("", "k" * (MAX_KEY + 1)):
        with pytest.raises(InvalidInput, match="--key: expected 1 to 256 characters"):
            canary.resolve(model="chat", key=bad)


def test_resolution_names_everything_a_caller_needs(registry):
    _version(registry, "m", "1.0.0")
    _version(registry, "fb", "2.0.0")
    approve(registry, "m@1.0.0")
    approve(registry, "fb@2.0.0")
    registry.set_fallbacks("m", ["fb"])
    got = registry.resolve(model="m")
    assert got.to_dict() == {
        "model_id": "m",
        "version": "1.0.0",
        "provider": "acme",
        "recommended_parameters": {"temperature": 0.2, "tokens": 256},
        "fallbacks": [{"model_id": "fb", "version": "2.0.0"}],
        "deprecation": None,
        "rollout": {"role": "stable", "weight": 100},
        "broken_fallbacks": [],
    }
    assert (got.modelId, got.recommendedParameters) == ("m", {"temperature": 0.2, "tokens": 256})
    registry.deprecate("m@1.0.0", reason="old", notice_days=90, replacement="fb@2.0.0")
    flagged = registry.resolve(model="m").deprecation
    assert set(flagged) == {"retire_on", "replacement", "deprecated_at"}
    assert flagged["replacement"] == "fb@2.0.0" and flagged["retire_on"] > flagged["deprecated_at"][:10]


def test_not_found_names_the_filters(registry):
    with pytest.raises(NotFound) as nothing:
        registry.resolve(provider="acme", capabilities=["chat", "vision"], domain="d", residency="r")
    assert (
        str(nothing.value)
        == "no approved model matches (provider=acme, capabilities=chat,vision, domain=d, residency=r)"
    )
    with pytest.raises(NotFound) as nothing:
        registry.resolve()
    assert str(nothing.value) == "no approved model matches (no filters)"
    _version(registry, "m", "1.0.0")  # TESTING: never resolvable
    with pytest.raises(NotFound, match=r"\(model=m\)"):
        registry.resolve(model="m")


def test_a_pre_release_resolves_only_when_asked_for_or_made_the_default(registry):
    _version(registry, "m", "1.0.0")
    _version(registry, "m", "2.0.0-rc.1")
    approve(registry, "m@1.0.0")
    approve(registry, "m@2.0.0-rc.1", canary=50)  # approved, not the default
    assert registry.resolve(model="m").version == registry.resolve(model="m", prerelease=True).version == "1.0.0"
    registry.rollout("m", complete=True)  # now the default: served without asking
    assert registry.resolve(model="m").version == "2.0.0-rc.1"
    registry.rollback("m")
    assert registry.resolve(model="m").version == "1.0.0"


def test_the_highest_approved_version_serves_when_none_was_made_default():
    from modelreg.lifecycle import production

    class Row:
        def __init__(self, version, key, status="APPROVED", prerelease=False, default_since=None):
            self.version, self.version_key, self.status = version, key, status
            self.prerelease, self.default_since = prerelease, default_since

    rows = [Row("1.0.0", "a"), Row("1.2.0", "c"), Row("1.1.0", "b"), Row("2.0.0-rc.1", "d", prerelease=True)]
    assert production.choose(rows, None, model_has_approved=True).version == "1.2.0"
    assert production.choose(rows, None, model_has_approved=True, prerelease=True).version == "2.0.0-rc.1"
    assert production.choose(rows, "1.2.0", model_has_approved=True).version == "1.1.0"  # a canary never is
    rows[0].default_since = "2026-01-01T00:00:00Z"
    assert production.choose(rows, None, model_has_approved=True).version == "1.0.0"
    rows[2].default_since = "2026-02-01T00:00:00Z"
    assert production.choose(rows, None, model_has_approved=True).version == "1.1.0"  # the most recent default
    deprecated = [Row("1.0.0", "a", "DEPRECATED"), Row("3.0.0", "c", "DEPRECATED"), Row("2.0.0", "b", "TESTING")]
    assert production.choose(deprecated, None, model_has_approved=True) is None
    assert production.choose(deprecated, None, model_has_approved=False).version == "3.0.0"
    deprecated[0].default_since = "2026-01-01T00:00:00Z"
    assert production.choose(deprecated, None, model_has_approved=False).version == "1.0.0"
    assert production.production_default(deprecated, None).version == "1.0.0"
    assert production.production_default([*deprecated, Row("0.1.0", "0")], None).version == "0.1.0"
    assert production.choose([], None, model_has_approved=False) is None


@pytest.mark.parametrize(
    "version, status, canary, weight, default, share",
    [
        ("1.0.0", "APPROVED", None, None, "1.0.0", 100),
        ("1.0.0", "DEPRECATED", None, None, "1.0.0", 100),
        ("1.0.0", "TESTING", None, None, "1.0.0", 0),
        ("1.0.0", "RETIRED", None, None, "1.0.0", 0),
        ("1.0.0", "APPROVED", "1.1.0", 30, "1.0.0", 70),
        ("1.1.0", "APPROVED", "1.1.0", 30, "1.0.0", 30),
        ("1.1.0", "APPROVED", "1.1.0", None, "1.0.0", 0),
        ("1.0.0", "APPROVED", "1.1.0", None, "1.0.0", 100),
        ("0.9.0", "APPROVED", "1.1.0", 30, "1.0.0", 0),
        ("0.9.0", "APPROVED", None, None, "1.0.0", 0),
    ],
)
def test_rollout_weights(version, status, canary, weight, default, share):
    from modelreg.lifecycle.production import rollout_weight

    assert rollout_weight(version, status, canary, weight, default) == share


# -- the rule through each filter, and the canary's own match --------------------------------------


def test_a_key_reaches_the_canary_only_when_the_canary_itself_matches(registry):
    everywhere = {"dataResidency": ["us-east", "eu-west"]}
    _version(registry, "m", "1.0.0", compliance=everywhere)
    _version(registry, "m", "1.1.0", compliance={"dataResidency": ["us-east"]})
    _version(registry, "n", "1.1.0", compliance=everywhere)  # the canary's version number, in eu-west
    approve(registry, "m@1.0.0")
    approve(registry, "n@1.1.0")
    approve(registry, "m@1.1.0", canary=99)
    key = KEY_IN_BUCKET[0]
    assert registry.resolve(model="m", residency="us-east", key=key).version == "1.1.0"
    got = registry.resolve(model="m", residency="eu-west", key=key)
    assert (got.model_id, got.version, got.rollout) == ("m", "1.0.0", {"role": "stable", "weight": 1})


def test_provider_and_domain_choose_among_models(registry):
    _version(registry, "a", "1.0.0", provider="acme", compliance={"approvedDomains": ["legal"]})
    _version(registry, "b", "1.0.0", provider="beta", compliance={"approvedDomains": ["health"]})
    approve(registry, "a@1.0.0")
    approve(registry, "b@1.0.0")  # approved last: the newest across models
    assert registry.resolve().model_id == "b"
    assert registry.resolve(provider="acme").model_id == "a"
    assert registry.resolve(domain="legal").model_id == "a"
    assert registry.resolve(provider="beta", domain="health").model_id == "b"
    with pytest.raises(NotFound):
        registry.resolve(provider="acme", domain="health")


@pytest.mark.parametrize("pattern", ["?*", "*"])
def test_a_model_glob_takes_the_newest_approved_pick_not_the_newest_default(registry, pattern):
    # a's pick was made the default again most recently (a rollback), but b was approved after it
    for version in ("1.0.0", "2.0.0"):
        _version(registry, "a", version)
        approve(registry, f"a@{version}")
    _version(registry, "b", "1.0.0")
    approve(registry, "b@1.0.0")
    registry.rollback("a")
    assert registry.resolve(model="a").version == "1.0.0"
    got = registry.resolve(model=pattern)
    assert (got.model_id, got.version) == ("b", "1.0.0")


def test_resolve_serves_no_pre_release_unless_asked(registry):
    from modelreg import routing

    _version(registry, "m", "1.0.0-rc.1")
    approve(registry, "m@1.0.0-rc.1")
    # as a registry imported from elsewhere may hold it: approved, never made the default
    owner_sql(registry.db.url, "UPDATE model_version SET default_since = NULL")
    with pytest.raises(NotFound):
        registry.read(lambda s: routing.resolve(s, model="m"))
    assert registry.read(lambda s: routing.resolve(s, model="m", prerelease=True)).version == "1.0.0-rc.1"


def test_a_retired_fallback_is_named_broken_by_resolve_and_show(registry, monkeypatch):
    from datetime import date, timedelta

    for model in ("m", "fb", "gone"):
        _version(registry, model, "1.0.0")
        approve(registry, f"{model}@1.0.0")
    registry.set_fallbacks("m", ["gone@1.0.0", "fb"])
    registry.deprecate("gone@1.0.0", reason="old", notice_days=90)
    monkeypatch.setenv("MODELREG_NOW", (date.today() + timedelta(days=91)).isoformat())
    assert registry.sweep()["retired"] == ["gone@1.0.0"]
    got = registry.resolve(model="m")
    assert got.fallbacks == [{"model_id": "fb", "version": "1.0.0"}]
    assert got.broken_fallbacks == ["gone@1.0.0"]
    assert registry.show_fallbacks("m") == {
        "model_id": "m",
        "fallbacks": [
            {"target": "gone@1.0.0", "resolves_to": None, "status": None},
            {"target": "fb", "resolves_to": "fb@1.0.0", "status": "APPROVED"},
        ],
    }
