"""The OpenAPI 3.1 document is true: every route's real answers validate against it."""

from __future__ import annotations

from conftest import approve, as_actor
from serve_harness import OpenApiCheck, ServerThread, get

ADV = "ms-advanced-reasoning@3.0.1"
STD = "ms-standard@2.0.0"


def test_every_route_answers_as_documented(guide_registry):
    reg = guide_registry
    approve(reg, ADV)
    approve(reg, STD)
    reg.register(
        {
            "provider": "mindstudio",
            "modelId": "ms-standard",
            "version": "2.1.0",
            "capabilities": ["text-generation"],
            "endpoint": "http://127.0.0.1:9/v1",
            "performance": {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0},
        }
    )
    approve(reg, "ms-standard@2.1.0", canary=20)
    reg.set_fallbacks("ms-advanced-reasoning", ["ms-standard"])
    reg.ingest_observations(
        '{"model": "ms-standard", "version": "2.0.0", "window_start": "2026-01-01T00:00:00Z", '
        '"window_end": "2026-01-01T01:00:00Z", "requests": 100, "errors": 9, '
        '"latency_avg_ms": 900, "latency_p95_ms": 5000}\n'
    )
    reg.check_alerts(deliver=False)
    bob = as_actor(reg, "bob")
    try:
        bob.deprecate(ADV, reason="moving on", replacement=STD)
    finally:
        bob.close()
    with ServerThread(reg) as srv:
        check = OpenApiCheck(get(srv, "/v1/openapi.json").json())
        paths = [
            "/v1/resolve?provider=mindstudio",
            "/v1/resolve?model=ms-advanced-reasoning",
            "/v1/resolve?model=ms-standard&key=user-1&capability=text-generation",
            "/v1/resolve?provider=nobody",
            "/v1/resolve?bogus=1",
            "/v1/models",
            "/v1/models?include_retired=true&limit=1&offset=1",
            "/v1/models?limit=0",
            "/v1/models/ms-standard",
            "/v1/models/nope",
            "/v1/models/Bad!",
            "/v1/models/ms-standard/history",
            "/v1/models/nope/history",
            "/v1/models/ms-standard/versions/2.0.0",
            "/v1/models/ms-advanced-reasoning/versions/3.0.1",
            "/v1/models/ms-standard/versions/9.0.0",
            "/v1/models/ms-standard/versions/x",
            "/v1/models/ms-standard/versions/2.1.0/history",
            "/v1/models/ms-standard/versions/9.0.0/history",
            "/v1/deprecations",
            "/v1/deprecations?x=1",
            "/v1/tree",
            "/v1/tree?include_retired=yes",
            "/v1/tree?include_retired=maybe",
            "/metrics",
            "/metrics?x=1",
            "/healthz",
            "/healthz?x=1",
            "/v1/openapi.json",
            "/v1/openapi.json?x=1",
        ]
        for path in paths:
            response = get(srv, path)
            check.check(response)
            if response.status_code == 200:
                again = get(srv, path, headers={"If-None-Match": response.headers["ETag"]})
                assert again.status_code == 304, path
                check.check(again)
    with ServerThread(reg, verify=lambda token: None) as locked:
        for path in (
            "/v1/resolve",
            "/v1/models",
            "/v1/models/ms-standard",
            "/v1/tree",
            "/metrics",
            "/v1/deprecations",
            "/v1/openapi.json",
            "/v1/models/ms-standard/versions/2.0.0/history",
        ):
            response = get(locked, path)
            assert response.status_code == 401
            check.check(response)
    # every route was seen answering 200, 304 and at least one error
    for template in check.doc["paths"]:
        assert {(template, 200), (template, 304)} <= check.seen, template
        assert any((template, s) in check.seen for s in (400, 401, 404)), template
