"""The OpenAPI 3.1 document of the read-only API (`GET /v1/openapi.json`).

Schemas are closed (`additionalProperties: false`): tests validate every
route's real answers against this document, so a field added to a view
without being documented here fails them.
"""

from __future__ import annotations

from typing import Any

from modelreg.lifecycle.status import STAGES, STATUSES
from modelreg.server.params import DEFAULT_PAGE, MAX_OFFSET, MAX_PAGE
from modelreg.version import __version__

STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
ANY: dict[str, Any] = {}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return {"oneOf": [{"type": "null"}, schema]}
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*kinds, "null"]}


def obj(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": [k for k in properties if k not in optional],
    }


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


TIMESTAMP = {"type": "string", "description": "ISO 8601 UTC"}
DAY = {"type": "string", "format": "date"}
VERSION_FIELDS: dict[str, Any] = {
    "model_id": STR,
    "provider": STR,
    "version": STR,
    "status": {"type": "string", "enum": list(STATUSES)},
    "stage": {"type": "string", "enum": list(STAGES)},
    "capabilities": array(STR),
    "parameters": {
        "type": "object",
        "additionalProperties": obj(
            {"default": ANY, "range": {**array(NUM), "minItems": 2, "maxItems": 2}, "max": NUM},
            optional=("range", "max"),
        ),
    },
    "performance": obj({"avg_latency_ms": NUM, "p95_latency_ms": NUM, "cost_per_request_usd": NUM}),
    "compliance": obj({"data_residency": array(STR), "pii_handling": STR, "approved_domains": array(STR)}),
    "endpoint": nullable(STR),
    "endpoint_kind": nullable(STR),
    "description": STR,
    "registered_at": TIMESTAMP,
    "registered_by": STR,
    "approved_at": nullable(TIMESTAMP),
    "approved_by": nullable(STR),
    "deprecated_at": nullable(TIMESTAMP),
    "deprecation_reason": nullable(STR),
    "retire_on": nullable(DAY),
    "replacement": nullable(STR),
    "retired_at": nullable(TIMESTAMP),
    "checks": {"type": "object", "additionalProperties": ref("Check")},
    "rollout_weight": INT,
    "days_to_retirement": nullable(INT),
    "owner": STR,
    "contacts": array(STR),
    "labels": {"type": "object", "additionalProperties": STR, "description": "the version's labels over its model's"},
    "lineage": nullable(
        obj(
            {
                "artifact": nullable(obj({"uri": STR, "digest": STR})),
                "source": nullable(STR),
                "base_model": nullable(STR),
                "datasets": array(STR),
                "evaluations": array(obj({"name": STR, "metric": STR, "value": NUM, "dataset": nullable(STR)})),
            }
        )
    ),
    "card": nullable(obj({"sha256": STR, "size": INT, "set_at": TIMESTAMP, "set_by": STR})),
}
VERSION_OPTIONAL = ("days_to_retirement",)

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({"code": STR, "message": STR, "parameter": STR}, optional=("parameter",))}),
    "Check": obj(
        {
            "result": {"type": "string", "enum": ["pass", "fail"]},
            "actor": STR,
            "at": TIMESTAMP,
            "note": STR,
            "evidence": nullable(STR),
        }
    ),
    "Resolution": obj(
        {
            "model_id": STR,
            "version": STR,
            "provider": STR,
            "recommended_parameters": {"type": "object"},
            "fallbacks": array(obj({"model_id": STR, "version": STR})),
            "deprecation": nullable(
                obj({"retire_on": nullable(DAY), "replacement": nullable(STR), "deprecated_at": nullable(TIMESTAMP)})
            ),
            "rollout": obj({"role": {"type": "string", "enum": ["stable", "canary"]}, "weight": INT}),
            "broken_fallbacks": {**array(STR), "description": "fallback targets that resolve to nothing now"},
        }
    ),
    "Version": obj(VERSION_FIELDS, optional=VERSION_OPTIONAL),
    "VersionDetail": obj(
        {
            **VERSION_FIELDS,
            "benchmarks": array(
                obj(
                    {
                        "run_id": INT,
                        "endpoint": STR,
                        "started_at": TIMESTAMP,
                        "finished_at": TIMESTAMP,
                        "actor": STR,
                        "mode": STR,
                        "passed": {"type": "boolean"},
                        "aborted": {"type": "boolean"},
                        "latency_ms": nullable({"type": "object"}),
                        "error_rate": nullable(NUM),
                        "throughput_rps": nullable(NUM),
                    }
                )
            ),
            "observations": array(
                obj(
                    {
                        "window_start": TIMESTAMP,
                        "window_end": TIMESTAMP,
                        "requests": INT,
                        "errors": INT,
                        "error_rate": nullable(NUM),
                        "latency_avg_ms": NUM,
                        "latency_p95_ms": NUM,
                        "cost_usd": nullable(NUM),
                    }
                )
            ),
            "alerts": array(ref("Alert")),
            "consumers": {
                **array(obj({"consumer": STR, "requests": INT, "last_seen": TIMESTAMP})),
                "description": "consumers seen using this version in the last 7 days, busiest first",
            },
        },
        optional=VERSION_OPTIONAL,
    ),
    "Alert": obj(
        {
            "id": INT,
            "kind": STR,
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            "status": STR,
            "model_id": nullable(STR),
            "version": nullable(STR),
            "message": STR,
            "first_seen": TIMESTAMP,
            "last_seen": TIMESTAMP,
        }
    ),
    "Model": obj(
        {
            "model_id": STR,
            "provider": STR,
            "description": STR,
            "owner": STR,
            "contacts": array(STR),
            "labels": {"type": "object", "additionalProperties": STR},
            "created_at": TIMESTAMP,
            "fallbacks": array(STR),
            "production_default": nullable(STR),
            "canary": nullable(STR),
            "versions": array(ref("Version")),
        }
    ),
    "VersionPage": obj(
        {"items": array(ref("Version")), "total": INT, "limit": INT, "offset": INT, "next_offset": nullable(INT)}
    ),
    "Deprecations": obj(
        {
            "total": INT,
            "items": array(
                obj(
                    {
                        "model_id": STR,
                        "version": STR,
                        "provider": STR,
                        "deprecated_at": nullable(TIMESTAMP),
                        "retire_on": nullable(DAY),
                        "days_left": nullable(INT),
                        "replacement": nullable(STR),
                        "reason": nullable(STR),
                        "consumers": {
                            **array(STR),
                            "description": "consumers seen using this version in the last 7 days, busiest first",
                        },
                    }
                )
            ),
        }
    ),
    "Tree": {
        "type": "object",
        "description": "stage -> model_id -> versions, newest first",
        "propertyNames": {"enum": list(STAGES)},
        "additionalProperties": {
            "type": "object",
            "additionalProperties": array(
                obj(
                    {
                        "version": STR,
                        "status": {"type": "string", "enum": list(STATUSES)},
                        "checks_passed": array(STR),
                        "canary_weight": nullable(INT),
                        "days_to_retirement": nullable(INT),
                    }
                )
            ),
        },
    },
    "History": obj(
        {
            "items": array(
                obj(
                    {
                        "seq": INT,
                        "at": TIMESTAMP,
                        "actor": STR,
                        "os_user": nullable(STR),
                        "action": STR,
                        "target": STR,
                        "before": ANY,
                        "after": ANY,
                        "policy_version": nullable(INT),
                    }
                )
            )
        }
    ),
    "Health": obj(
        {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "database": {"type": "string", "enum": ["ok", "unreachable"]},
            "audit_seq": nullable(INT),
        }
    ),
}


def _query(name: str, schema: dict[str, Any], description: str, *, repeat: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": array(schema) if repeat else schema,
    }
    if repeat:
        out.update(style="form", explode=True)
    return out


SLUG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"}
BOOL = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"], "default": "false"}
FIND_PARAMS = [
    _query("provider", SLUG, "Only this provider."),
    _query("capability", SLUG, "Repeatable; every one must match.", repeat=True),
    _query("status", {"type": "string", "enum": list(STATUSES)}, "Only this status (case-insensitive)."),
    _query("stage", {"type": "string", "enum": list(STAGES)}, "Only this stage."),
    _query("domain", SLUG, "Approved for this domain."),
    _query("residency", SLUG, "Data may reside in this region."),
    _query("max_p95", {"type": "number", "minimum": 0}, "SLO p95 latency at most this, ms."),
    _query("max_cost", {"type": "number", "minimum": 0}, "Cost per request at most this, USD."),
    _query("model", STR, "Model id, or a glob with * and ?."),
    _query("include_retired", BOOL, "Also RETIRED and REJECTED versions."),
    _query("label", STR, "KEY=VALUE; repeatable; every one must match (the version's or its model's).", repeat=True),
    _query("owner", STR, "The model's owning team."),
    _query("base_model", STR, "Versions whose base model is this (model@version or an upstream name)."),
    _query("used_by", STR, "Only versions this consumer resolved in the last 7 days."),
]
RESOLVE_PARAMS = [
    _query("model", STR, "Model id, or a glob with * and ?."),
    _query("provider", SLUG, "Only this provider."),
    _query("capability", SLUG, "Repeatable; every one must match.", repeat=True),
    _query("domain", SLUG, "Approved for this domain."),
    _query("residency", SLUG, "Data may reside in this region."),
    _query(
        "key",
        {"type": "string", "minLength": 1, "maxLength": 256},
        "Caller key: picks the stable or the canary side by a stable hash.",
    ),
    _query("prerelease", BOOL, "Allow SemVer pre-releases."),
]
PAGE_PARAMS = [
    _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}, "Page size."),
    _query(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
        "Versions to skip (next_offset of the previous page).",
    ),
]
MODEL_ID = {"name": "model_id", "in": "path", "required": True, "schema": SLUG}
VERSION = {
    "name": "version",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "SemVer 2.0.0",
}

HEADERS = {
    "ETag": {"$ref": "#/components/headers/ETag"},
    "X-Modelreg-Audit-Seq": {"$ref": "#/components/headers/AuditSeq"},
}
DEPRECATION_HEADERS = {
    "Deprecation": {
        "description": "RFC 9745: @<unix seconds> the version was deprecated (DEPRECATED versions only)",
        "schema": STR,
    },
    "Sunset": {"description": "RFC 8594: HTTP-date of retire_on (DEPRECATED versions only)", "schema": STR},
    "Link": {"description": '<...>; rel="successor-version" when a replacement is set', "schema": STR},
}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def _get(
    summary: str,
    op_id: str,
    schema: dict[str, Any],
    parameters: list[dict[str, Any]],
    *,
    not_found: bool = False,
    extra_headers: dict[str, Any] | None = None,
    public: bool = False,
    registry_data: bool = True,
) -> dict[str, Any]:
    headers = HEADERS if registry_data else {"ETag": HEADERS["ETag"]}
    responses: dict[str, Any] = {
        "200": _json(schema, "OK", {**headers, **(extra_headers or {})}),
        "304": {"$ref": "#/components/responses/NotModified"},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "503": {"$ref": "#/components/responses/Unavailable"},
    }
    if not public:
        responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
    if not_found:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    op: dict[str, Any] = {"summary": summary, "operationId": op_id, "parameters": parameters, "responses": responses}
    if public:
        op["security"] = [{}]
    return {"get": op}


def document() -> dict[str, Any]:
    paths = {
        "/v1/resolve": _get(
            "The version an application should call (= `modelreg resolve --json`); 404 when nothing fits",
            "resolve",
            ref("Resolution"),
            RESOLVE_PARAMS,
            not_found=True,
            extra_headers=DEPRECATION_HEADERS,
        ),
        "/v1/models": _get(
            "Versions matching every filter (= `modelreg find --json`), paged by limit/offset",
            "findVersions",
            ref("VersionPage"),
            FIND_PARAMS + PAGE_PARAMS,
        ),
        "/v1/models/{model_id}": _get(
            "A model and all its versions (= `modelreg show MODEL --json`)",
            "getModel",
            ref("Model"),
            [MODEL_ID],
            not_found=True,
        ),
        "/v1/models/{model_id}/history": _get(
            "The audit trail of a model and its versions, oldest first",
            "modelHistory",
            ref("History"),
            [MODEL_ID],
            not_found=True,
        ),
        "/v1/models/{model_id}/versions/{version}": _get(
            "One version with checks, recent benchmarks, observations and alerts",
            "getVersion",
            ref("VersionDetail"),
            [MODEL_ID, VERSION],
            not_found=True,
            extra_headers=DEPRECATION_HEADERS,
        ),
        "/v1/models/{model_id}/versions/{version}/history": _get(
            "The audit trail of one version, oldest first",
            "versionHistory",
            ref("History"),
            [MODEL_ID, VERSION],
            not_found=True,
        ),
        "/v1/deprecations": _get(
            "Every DEPRECATED version: retire_on, days left, replacement", "deprecations", ref("Deprecations"), []
        ),
        "/v1/tree": _get(
            "The registry as stage -> model -> versions (= `modelreg tree --json`)",
            "tree",
            ref("Tree"),
            [_query("include_retired", BOOL, "Also the archived stage.")],
        ),
        "/v1/openapi.json": _get("This document", "openapi", {"type": "object"}, [], registry_data=False),
        "/metrics": {
            "get": {
                "summary": "Prometheus text exposition (= `modelreg alerts export --format prometheus`)",
                "operationId": "metrics",
                "parameters": [],
                "responses": {
                    "200": {"description": "OK", "headers": HEADERS, "content": {"text/plain": {"schema": STR}}},
                    "304": {"$ref": "#/components/responses/NotModified"},
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness and database reachability (never needs a token)",
                "operationId": "health",
                "parameters": [],
                "security": [{}],
                "responses": {
                    "200": _json(ref("Health"), "The database answers", HEADERS),
                    "304": {"$ref": "#/components/responses/NotModified"},
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    "503": _json(ref("Health"), "The database is unreachable"),
                },
            }
        },
    }
    error = ref("Error")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "modelreg read-only API",
            "version": __version__,
            "description": "Read-only HTTP API of a modelreg registry (`modelreg serve`). Every 200 carries an "
            "ETag derived from the registry's audit head; send it back in If-None-Match for a "
            '304. Errors are JSON: {"error": {"code", "message", "parameter"?}}; '
            "unknown query parameters are a 400 naming them.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Required only when the server runs with --require-token",
                }
            },
            "headers": {
                "ETag": {
                    "description": "Strong validator: audit head seq and a digest of head, day, route and query",
                    "schema": STR,
                },
                "AuditSeq": {
                    "description": "Sequence number of the audit head the answer was computed at",
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
            },
            "responses": {
                "NotModified": {
                    "description": "The If-None-Match ETag is current",
                    "headers": {"ETag": HEADERS["ETag"]},
                },
                "BadRequest": _json(error, "An unknown query parameter or a bad value (error.parameter names it)"),
                "Unauthorized": _json(error, "Missing or invalid bearer token (servers run with --require-token)"),
                "NotFound": _json(error, "Nothing matches"),
                "Unavailable": _json(error, "The registry database is unreachable; retried automatically"),
            },
        },
    }
