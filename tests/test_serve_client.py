"""Registry.open("http://...") and MODELREG_DB=http://...: a read-only registry
over the API that returns what the database-backed one does."""

from __future__ import annotations

import pytest
from conftest import approve, as_actor, run_cli
from serve_harness import ServerThread

from modelreg.errors import ExitCode, InvalidInput, NotFound

ADV = "ms-advanced-reasoning@3.0.1"
STD = "ms-standard@2.0.0"


@pytest.fixture
def busy_registry(guide_registry):
    """Approved, canary, deprecated and fallback states to compare."""
    reg = guide_registry
    approve(reg, ADV)
    approve(reg, STD)
    reg.register(
        {
            "provider": "mindstudio",
            "modelId": "ms-standard",
            "version": "2.1.0",
            "capabilities": ["text-generation", "summarization"],
            "endpoint": "http://127.0.0.1:9/v1",
            "performance": {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0},
        }
    )
    approve(reg, "ms-standard@2.1.0", canary=30)
    reg.set_fallbacks("ms-advanced-reasoning", ["ms-standard"])
    bob = as_actor(reg, "bob")
    try:
        bob.deprecate(ADV, reason="moving on", replacement=STD)
    finally:
        bob.close()
    for i in range(5):
        reg.register(
            {
                "provider": "acme",
                "modelId": f"acme-{i}",
                "version": f"0.{i}.0",
                "capabilities": ["chat"],
                "endpoint": "http://127.0.0.1:9/v1",
                "performance": {"avgLatency": 1, "p95Latency": 2 + i, "costPerRequest": 0.001 * i},
            }
        )
    return reg


def test_http_registry_returns_what_the_database_does(busy_registry, monkeypatch):
    from modelreg import Registry
    from modelreg import remote as remote_module

    reg = busy_registry
    with ServerThread(reg) as srv, Registry.open(srv.base) as remote:
        assert isinstance(remote, remote_module.RemoteRegistry)
        assert remote.find() == reg.find()
        assert remote.find(limit=2) == reg.find(limit=2)
        assert remote.find(include_retired=True, max_p95=4.5, max_cost=0.01) == reg.find(
            include_retired=True, max_p95=4.5, max_cost=0.01
        )
        assert remote.find(model="acme-*", provider="acme", capabilities=["chat"], stage="staging") == reg.find(
            model="acme-*", provider="acme", capabilities=["chat"], stage="staging"
        )
        monkeypatch.setattr(remote_module, "PAGE", 2)  # page through the API two at a time
        assert remote.find() == reg.find() and remote.find(limit=5) == reg.find(limit=5)
        assert remote.find_models(
            provider="mindstudio", capabilities=["summarization"], status="APPROVED"
        ) == reg.find_models(provider="mindstudio", capabilities=["summarization"], status="APPROVED")
        for filters in (
            {"provider": "mindstudio", "capabilities": ["text-generation"]},
            {"model": "ms-standard", "key": "user-7"},
            {"model": "ms-standard", "key": "user-8"},
            {"model": "ms-advanced-reasoning"},
        ):
            assert remote.resolve(**filters) == reg.resolve(**filters)
            assert remote.get_latest_approved(**filters) == reg.get_latest_approved(**filters)
        found = remote.get_latest_approved(provider="mindstudio", capabilities=["text-generation"])
        assert found.model_id and found.recommendedParameters == found.recommended_parameters
        for model_id in ("ms-advanced-reasoning", "ms-standard", "acme-3"):
            assert remote.get_model(model_id) == reg.get_model(model_id)
            assert remote.history(model_id) == reg.history(model_id)
        for model_id, version in (("ms-advanced-reasoning", "3.0.1"), ("ms-standard", "2.1.0")):
            assert remote.get_version(model_id, version) == reg.get_version(model_id, version)
            assert remote.history(model_id, version) == reg.history(model_id, version)
        assert remote.tree() == reg.tree() and remote.tree(include_retired=True) == reg.tree(include_retired=True)
        assert remote.export_prometheus() == reg.export_prometheus()
        assert [d["version"] for d in remote.deprecations()] == ["3.0.1"]
        # errors are the library's
        with pytest.raises(NotFound):
            remote.get_model("nope")
        with pytest.raises(NotFound, match="no approved model matches"):
            remote.resolve(provider="nobody")
        with pytest.raises(InvalidInput, match=r"^--status: expected one of"):
            remote.find(status="LIVE")
        with pytest.raises(InvalidInput, match="--limit"):
            remote.find(limit=-1)


def test_writes_through_http_are_refused_with_exit_2(registry):
    from modelreg import Registry
    from modelreg.remote import ReadOnlyRegistry

    with ServerThread(registry) as srv, Registry.open(srv.base) as remote:
        for call in (
            lambda: remote.promote(ADV),
            lambda: remote.register({}),
            lambda: remote.sweep(),
            lambda: remote.set_fallbacks("a", ["b"]),
        ):
            with pytest.raises(ReadOnlyRegistry, match="read-only modelreg server") as caught:
                call()
            assert caught.value.exit_code == ExitCode.INVALID == 2
        with pytest.raises(ReadOnlyRegistry, match="not offered"):
            remote.list_alerts()
        assert not hasattr(remote, "db") and not hasattr(remote, "no_such_method")


def test_every_registry_method_is_served_refused_or_named_not_offered():
    from modelreg.registry import Registry
    from modelreg.remote import NOT_OFFERED, WRITE_METHODS, RemoteRegistry

    public = {n for n in dir(Registry) if not n.startswith("_") and callable(getattr(Registry, n))}
    served = {n for n in dir(RemoteRegistry) if not n.startswith("_")}
    assert public - served - WRITE_METHODS - NOT_OFFERED == set()


def test_cli_reads_through_a_server(busy_registry):
    with ServerThread(busy_registry) as srv:
        over_http = {"MODELREG_DB": srv.base}
        for args in (
            ["find", "--json"],
            ["find", "--limit", "2"],
            ["show", ADV, "--json"],
            ["show", "ms-standard"],
            ["resolve", "--model", "ms-standard", "--key", "k1"],
            ["tree"],
            ["history", "ms-standard"],
        ):
            direct, remote = run_cli(*args), run_cli(*args, env=over_http)
            assert direct.exit_code == 0, (args, direct.stderr)
            assert (remote.exit_code, remote.stdout, remote.stderr) == (0, direct.stdout, direct.stderr), args
        r = run_cli("resolve", "--provider", "nobody", env=over_http)
        assert r.exit_code == 3 and r.stderr.startswith("error: no approved model matches")
        r = run_cli("find", "--max-p95", "-1", env=over_http)
        assert r.exit_code == 2 and r.stderr.startswith("error: --max-p95:") and r.stderr.count("\n") == 1
        r = run_cli("--actor", "bob", "promote", "ms-research-prototype@0.1.0", env=over_http)
        assert r.exit_code == 2 and r.stderr.count("\n") == 1
        assert r.stderr.startswith(
            f"error: {srv.base} is a read-only modelreg server: `promote` needs the registry database"
        )
    r = run_cli("find", env=over_http)  # the server is gone
    assert r.exit_code == 7 and r.stderr.startswith(f"error: cannot reach the modelreg server at {srv.base}")
