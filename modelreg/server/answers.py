"""What each route answers. These functions block on the database: the app
runs them in worker threads, once per (audit head, day, route, parameters),
and keeps the result (see cache.py).

Every route reads through the public facade (`reg.resolve`, `reg.find`, ...)
so an HTTP answer is exactly what the CLI's `--json` prints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from modelreg.errors import ModelregError
from modelreg.server.errors import JSON_TYPE, from_library

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Generation:
    """What every cached answer depends on: the audit head (moves with every
    committed change) and the day (views count days to retirement)."""

    seq: int
    hash: str
    day: str


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    etag: str | None = None
    resolved: tuple[str, str] | None = None  # (model_id, version) of a resolve, for usage counts
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.body) + 200


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def etag_for(gen: Generation, key: tuple) -> str:
    """Strong ETag: the head's seq, and a digest of head, day, route and query."""
    digest = hashlib.sha256(f"{gen.hash}|{gen.day}|{key!r}".encode()).hexdigest()[:20]
    return f'"{gen.seq}-{digest}"'


def version_path(model_id: str, version: str) -> str:
    return f"/v1/models/{quote(model_id, safe='')}/versions/{quote(version, safe='')}"


def deprecation_headers(version: dict[str, Any]) -> dict[str, str]:
    """RFC 9745 Deprecation, RFC 8594 Sunset and the successor link of a
    DEPRECATED version; nothing for any other status."""
    if version.get("status") != "DEPRECATED":
        return {}
    out: dict[str, str] = {}
    if version.get("deprecated_at"):
        moment = datetime.fromisoformat(version["deprecated_at"].replace("Z", "+00:00"))
        out["Deprecation"] = f"@{int(moment.timestamp())}"
    if version.get("retire_on"):
        sunset = datetime.combine(date.fromisoformat(version["retire_on"]), time(), tzinfo=UTC)
        out["Sunset"] = format_datetime(sunset, usegmt=True)
    if version.get("replacement"):
        model_id, _, successor = version["replacement"].partition("@")
        out["Link"] = f'<{version_path(model_id, successor)}>; rel="successor-version"'
    return out


# Each route: (reg, path arguments, query parameters) -> (body, content type, extra headers, resolved)
Result = tuple[Any, str, dict[str, str], "tuple[str, str] | None"]


def resolve(reg, args: dict, p: dict) -> Result:
    found = reg.resolve(
        model=p["model"],
        provider=p["provider"],
        capabilities=list(p["capability"]),
        domain=p["domain"],
        residency=p["residency"],
        key=p["key"],
        prerelease=p["prerelease"],
    )
    headers = {}
    if found.deprecation is not None:
        headers = deprecation_headers(reg.get_version(found.model_id, found.version))
    return found.to_dict(), JSON_TYPE, headers, (found.model_id, found.version)


def find_filters(p: dict) -> dict[str, Any]:
    return dict(
        provider=p["provider"],
        capabilities=list(p["capability"]),
        status=p["status"],
        stage=p["stage"],
        domain=p["domain"],
        residency=p["residency"],
        max_p95=p["max_p95"],
        max_cost=p["max_cost"],
        model=p["model"],
        include_retired=p["include_retired"],
        labels=list(p["label"]),
        owner=p["owner"],
        base_model=p["base_model"],
        used_by=p["used_by"],
    )


def models(reg, args: dict, p: dict) -> Result:
    offset, limit = p["offset"], p["limit"]
    rows, total = reg.find(offset=offset, limit=limit, **find_filters(p))
    following = offset + len(rows)
    body = {
        "items": rows,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if following < total and rows else None,
    }
    return body, JSON_TYPE, {}, None


def model(reg, args: dict, p: dict) -> Result:
    return reg.get_model(args["model_id"]), JSON_TYPE, {}, None


def version(reg, args: dict, p: dict) -> Result:
    found = reg.get_version(args["model_id"], args["version"])
    return found, JSON_TYPE, deprecation_headers(found), None


def history(reg, args: dict, p: dict) -> Result:
    return {"items": reg.history(args["model_id"], args.get("version"))}, JSON_TYPE, {}, None


def deprecations(reg, args: dict, p: dict) -> Result:
    items = reg.deprecations()
    return {"items": items, "total": len(items)}, JSON_TYPE, {}, None


def tree(reg, args: dict, p: dict) -> Result:
    return reg.tree(include_retired=p["include_retired"]), JSON_TYPE, {}, None


def metrics(reg, args: dict, p: dict) -> Result:
    return reg.export_prometheus(), PROMETHEUS_TYPE, {}, None


ROUTES: dict[str, Callable[[Any, dict, dict], Result]] = {
    "resolve": resolve,
    "models": models,
    "model": model,
    "version": version,
    "model_history": history,
    "version_history": history,
    "deprecations": deprecations,
    "tree": tree,
    "metrics": metrics,
}


def compute(reg, gen: Generation, key: tuple) -> Answer:
    """The answer for key = (route, path arguments, query parameters) at gen.
    Not-found and invalid-input answers are answers too (cached like any);
    an unavailable database raises (and nothing is cached)."""
    route, args, params = key
    try:
        body, ctype, extra, resolved = ROUTES[route](reg, dict(args), dict(params))
    except ModelregError as exc:
        err = from_library(exc)
        if err.status >= 500:
            raise
        return Answer(err.status, err.body(), {"Content-Type": JSON_TYPE})
    etag = etag_for(gen, key)
    payload = body.encode() if isinstance(body, str) else dumps(body)
    headers = {"Content-Type": ctype, "ETag": etag, "X-Modelreg-Audit-Seq": str(gen.seq), **extra}
    return Answer(200, payload, headers, etag, resolved)
