"""Reading a registry file: validation into the canonical document.

Anything wrong is InvalidInput (exit 2) naming the file and the key path;
nothing is written. Timestamps may be any ISO 8601 instant (or a TOML
datetime) and are normalised.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, date, datetime
from typing import Any

from modelreg import clock
from modelreg.errors import InvalidInput
from modelreg.lifecycle.evidence import check_name
from modelreg.lifecycle.status import STATUSES
from modelreg.manifest import SLUG, parse_version_spec
from modelreg.metadata import check_card, check_contacts, check_labels
from modelreg.regfile.document import (
    ADVISORY_KEYS,
    CARD_KEYS,
    CHECK_KEYS,
    FORMAT,
    LIFECYCLE_KEYS,
    LINEAGE_KEYS,
    MAX_TEXT,
    METADATA_KEYS,
    MODEL_KEYS,
    NOTICE_KEYS,
    RECORD_KEYS,
    RUN_KEYS,
    SPEC_KEYS,
    STAMP_KEYS,
    finish_version,
    path_text,
    payload_to_file,
)
from modelreg.semver import SemVer
from modelreg.targets import parse_target
from modelreg.version_ranges import parse_advisory_severity, parse_affected


# -- reading a file: validation into the canonical document ------------------------
class _Reader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: list[str], text_: str) -> InvalidInput:
        at = path_text(where) if where else "top level"
        return InvalidInput(f"{self.source}: {at}: {text_}")

    @staticmethod
    def show(value: Any) -> str:
        text_ = repr(value)
        return text_ if len(text_) <= 40 else text_[:37] + "..."

    def table(self, where: list[str], value: Any, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table, got {self.show(value)}")
        for key in value:
            if key not in allowed:
                raise self.fail(where, f"unknown key {key!r} (known: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                raise self.fail(where, f"missing key {key!r}")
        return value

    def string(self, where: list[str], value: Any, *, limit: int = MAX_TEXT, empty: bool = True) -> str:
        if not isinstance(value, str) or len(value) > limit or (not empty and not value.strip()):
            raise self.fail(
                where,
                f"expected {'non-empty ' if not empty else ''}text (at most {limit} characters), got {self.show(value)}",
            )
        return value

    def actor(self, where: list[str], value: Any) -> str:
        text_ = self.string(where, value, limit=128, empty=False)
        if any(ord(c) < 32 for c in text_):
            raise self.fail(where, "expected an actor name without control characters")
        return text_

    def instant(self, where: list[str], value: Any) -> str:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        elif isinstance(value, str) and len(value) > 10:
            try:
                moment = clock.parse_instant(value)
            except InvalidInput:
                raise self.fail(
                    where, f"expected an ISO 8601 time such as 2026-03-01T12:00:00Z, got {self.show(value)}"
                ) from None
        else:
            raise self.fail(where, f"expected an ISO 8601 time such as 2026-03-01T12:00:00Z, got {self.show(value)}")
        return clock.stamp(moment)

    def day(self, where: list[str], value: Any) -> str:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise self.fail(where, f"expected a date YYYY-MM-DD, got {self.show(value)}")

    def integer(self, where: list[str], value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(where, f"expected a whole number from {lo} to {hi}, got {self.show(value)}")
        return value

    def boolean(self, where: list[str], value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {self.show(value)}")
        return value

    def choice(self, where: list[str], value: Any, choices: tuple[str, ...]) -> str:
        if value not in choices or not isinstance(value, str):
            raise self.fail(where, f"expected one of {', '.join(choices)}, got {self.show(value)}")
        return value

    def records(self, where: list[str], value: Any) -> list:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list of tables, got {self.show(value)}")
        return value

    def payload(self, where: list[str], value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except (ValueError, RecursionError):
                raise self.fail(where, "expected a table or JSON text") from None
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table, got {self.show(value)}")

        def check(v: Any, depth: int) -> None:
            if depth > 32:
                raise self.fail(where, "nested too deeply")
            if isinstance(v, dict):
                for item in v.values():
                    check(item, depth + 1)
            elif isinstance(v, list):
                for item in v:
                    check(item, depth + 1)
            elif v is not None and not isinstance(v, (str, int, float, bool)):
                raise self.fail(
                    where, f"expected JSON-like values (text, numbers, booleans, lists, tables), got {self.show(v)}"
                )

        check(value, 0)
        return payload_to_file(value)

    # -- the document ------------------------------------------------------
    def document(self, raw: Any) -> dict[str, Any]:
        top = self.table([], raw, ("format", "models", "advisories"), ("format",))
        if isinstance(top["format"], bool) or top["format"] != FORMAT:
            raise self.fail(
                ["format"], f"unknown format {self.show(top['format'])}: this modelreg reads format {FORMAT}"
            )
        doc: dict[str, Any] = {"format": FORMAT}
        advisories = []
        seen = set()
        for i, item in enumerate(self.records(["advisories"], top.get("advisories", []))):
            adv = self.advisory(["advisories", str(i)], item)
            key = (adv["model_id"], adv["advisory_id"])
            if key in seen:
                raise self.fail(["advisories", str(i)], f"advisory {key[1]} for {key[0]} is listed twice")
            seen.add(key)
            advisories.append(adv)
        if advisories:
            doc["advisories"] = sorted(advisories, key=lambda a: (a["model_id"], a["advisory_id"]))
        models_raw = top.get("models", {})
        if not isinstance(models_raw, dict):
            raise self.fail(["models"], f"expected a table of models, got {self.show(models_raw)}")
        models = {}
        for model_id in sorted(models_raw):
            if not SLUG.match(model_id):
                raise self.fail(["models", model_id], "expected a model id matching [a-z0-9][a-z0-9._-]{0,63}")
            models[model_id] = self.model(["models", model_id], model_id, models_raw[model_id])
        doc["models"] = models
        return doc

    def advisory(self, where: list[str], raw: Any) -> dict[str, Any]:
        t = self.table(
            where, raw, ADVISORY_KEYS, ("model_id", "advisory_id", "affected", "severity", "created_at", "created_by")
        )
        model_id = t["model_id"]
        if not isinstance(model_id, str) or not SLUG.match(model_id):
            raise self.fail(where + ["model_id"], f"expected a model id, got {self.show(model_id)}")
        try:
            parse_affected(self.string(where + ["affected"], t["affected"], limit=400))
            severity = parse_advisory_severity(self.string(where + ["severity"], t["severity"], limit=16))
        except InvalidInput as exc:
            raise self.fail(where, exc.message) from None
        return {
            "model_id": model_id,
            "advisory_id": self.string(where + ["advisory_id"], t["advisory_id"], limit=64, empty=False),
            "affected": t["affected"],
            "severity": severity,
            "summary": self.string(where + ["summary"], t.get("summary", "")),
            "status": self.choice(where + ["status"], t.get("status", "open"), ("open", "withdrawn")),
            "created_at": self.instant(where + ["created_at"], t["created_at"]),
            "created_by": self.actor(where + ["created_by"], t["created_by"]),
        }

    def model(self, where: list[str], model_id: str, raw: Any) -> dict[str, Any]:
        t = self.table(where, raw, MODEL_KEYS, ("provider", "owner", "created_at"))
        provider = t["provider"]
        if not isinstance(provider, str) or not SLUG.match(provider):
            raise self.fail(where + ["provider"], f"expected a provider slug, got {self.show(provider)}")
        fallbacks = t.get("fallbacks", [])
        if not isinstance(fallbacks, list) or len(fallbacks) > 16:
            raise self.fail(
                where + ["fallbacks"],
                f"expected a list of up to 16 targets (model or model@version), got {self.show(fallbacks)}",
            )
        normalized = []
        for i, target in enumerate(fallbacks):
            try:
                mid, ver = parse_target(target, version_required=False)
            except InvalidInput as exc:
                raise self.fail(where + ["fallbacks", str(i)], exc.message) from None
            normalized.append(f"{mid}@{ver}" if ver else mid)
        if len(set(normalized)) != len(normalized):
            raise self.fail(where + ["fallbacks"], "a target is listed twice")
        versions_raw = t.get("versions", {})
        if not isinstance(versions_raw, dict):
            raise self.fail(where + ["versions"], f"expected a table of versions, got {self.show(versions_raw)}")
        parsed = []
        for version in versions_raw:
            try:
                sv = SemVer.parse(version)
            except InvalidInput as exc:
                raise self.fail(where + ["versions", version], exc.message) from None
            parsed.append((sv, version))
        versions = {}
        for _sv, version in sorted(parsed, key=lambda p: (p[0]._key(), p[1])):
            versions[version] = self.version(
                where + ["versions", version], model_id, provider, version, versions_raw[version]
            )
        extra: dict[str, Any] = {}
        if t.get("contacts"):
            extra["contacts"] = check_contacts(f"{self.source}: {path_text(where + ['contacts'])}", t["contacts"])
        if t.get("labels"):
            extra["labels"] = check_labels(f"{self.source}: {path_text(where + ['labels'])}", t["labels"])
        return {
            "provider": provider,
            "owner": self.actor(where + ["owner"], t["owner"]),
            **extra,
            "created_at": self.instant(where + ["created_at"], t["created_at"]),
            "description": self.string(where + ["description"], t.get("description", "")),
            "fallbacks": normalized,
            "versions": versions,
        }

    def version(self, where: list[str], model_id: str, provider: str, version: str, raw: Any) -> dict[str, Any]:
        t = self.table(
            where,
            raw,
            LIFECYCLE_KEYS + SPEC_KEYS + LINEAGE_KEYS + METADATA_KEYS + RECORD_KEYS,
            ("capabilities", "performance"),
        )
        manifest = {k: t[k] for k in SPEC_KEYS + LINEAGE_KEYS if k in t}
        manifest.update(model_id=model_id, version=version, provider=provider)
        try:
            spec = parse_version_spec(manifest, f"{self.source}: {path_text(where)}")
        except InvalidInput:
            raise
        except (TypeError, ValueError, RecursionError):
            raise self.fail(where, "invalid manifest values") from None
        out: dict[str, Any] = {"status": self.choice(where + ["status"], t.get("status", "TESTING"), STATUSES)}
        for key in STAMP_KEYS:
            if key not in t:
                continue
            value, here = t[key], where + [key]
            if key.endswith("_at") or key == "default_since":
                out[key] = self.instant(here, value)
            elif key.endswith("_by"):
                out[key] = self.actor(here, value)
            elif key == "canary_weight":
                out[key] = self.integer(here, value, 1, 99)
            elif key == "retire_on":
                out[key] = self.day(here, value)
            elif key == "replacement":
                try:
                    rm, rv = parse_target(value)
                except InvalidInput as exc:
                    raise self.fail(here, exc.message) from None
                out[key] = f"{rm}@{rv}"
            else:  # deprecation_reason
                out[key] = self.string(here, value, limit=2000, empty=False)
        out["description"] = spec.description
        out["capabilities"] = spec.capabilities
        out["endpoint"] = spec.endpoint
        out["endpoint_kind"] = spec.endpoint_kind
        out["parameters"] = {n: spec.parameters[n].to_dict() for n in sorted(spec.parameters)} or None
        out["performance"] = {
            "avg_latency_ms": spec.avg_latency_ms,
            "p95_latency_ms": spec.p95_latency_ms,
            "cost_per_request_usd": spec.cost_per_request_usd,
        }
        out["compliance"] = {
            "data_residency": spec.data_residency,
            "pii_handling": spec.pii_handling,
            "approved_domains": spec.approved_domains,
        }
        lineage = spec.lineage.to_dict()
        out.update({k: lineage[k] or None for k in LINEAGE_KEYS})
        if out["evaluations"]:
            out["evaluations"] = [{k: v for k, v in e.items() if v is not None} for e in out["evaluations"]]
        out = {k: out.get(k) for k in LIFECYCLE_KEYS + SPEC_KEYS + LINEAGE_KEYS if out.get(k) is not None}
        if t.get("labels"):
            out["labels"] = check_labels(f"{self.source}: {path_text(where + ['labels'])}", t["labels"])
        if t.get("card"):
            out["card"] = self.card(where + ["card"], t["card"])
        checks = [
            self.check(where + ["checks", str(i)], c)
            for i, c in enumerate(self.records(where + ["checks"], t.get("checks", [])))
        ]
        runs = [
            self.run(where + ["benchmarks", str(i)], r)
            for i, r in enumerate(self.records(where + ["benchmarks"], t.get("benchmarks", [])))
        ]
        if len({r["run_id"] for r in runs}) != len(runs):
            raise self.fail(where + ["benchmarks"], "a run_id is listed twice")
        notices = [
            self.notice(where + ["retirement_notices", str(i)], n)
            for i, n in enumerate(self.records(where + ["retirement_notices"], t.get("retirement_notices", [])))
        ]
        if len({(n["retire_on"], n["days_before"]) for n in notices}) != len(notices):
            raise self.fail(where + ["retirement_notices"], "a notice is listed twice")
        return finish_version(out, checks, runs, notices)

    def card(self, where: list[str], raw: Any) -> dict[str, Any]:
        t = self.table(where, raw, CARD_KEYS, ("body",))
        body, digest, _size = check_card(f"{self.source}: {path_text(where + ['body'])}", t["body"])
        if "sha256" in t and t["sha256"] != digest:
            raise self.fail(where + ["sha256"], "does not match the card's body (edited?)")
        out = {"sha256": digest}
        if "set_at" in t:
            out["set_at"] = self.instant(where + ["set_at"], t["set_at"])
        if "set_by" in t:
            out["set_by"] = self.actor(where + ["set_by"], t["set_by"])
        out["body"] = body
        return out

    def check(self, where: list[str], raw: Any) -> dict[str, Any]:
        t = self.table(where, raw, CHECK_KEYS, ("name", "result", "actor", "at"))
        try:
            name = check_name(t["name"])
        except InvalidInput as exc:
            raise self.fail(where + ["name"], exc.message) from None
        if name != t["name"]:
            raise self.fail(where + ["name"], f"expected a lower-case check name, got {self.show(t['name'])}")
        out = {
            "name": name,
            "result": self.choice(where + ["result"], t["result"], ("pass", "fail")),
            "actor": self.actor(where + ["actor"], t["actor"]),
            "at": self.instant(where + ["at"], t["at"]),
            "note": self.string(where + ["note"], t.get("note", ""), limit=2000),
        }
        if "evidence" in t:
            out["evidence"] = self.string(where + ["evidence"], t["evidence"], limit=400)
        return out

    def run(self, where: list[str], raw: Any) -> dict[str, Any]:
        t = self.table(
            where, raw, RUN_KEYS, ("run_id", "endpoint", "actor", "started_at", "finished_at", "mode", "passed")
        )
        return {
            "run_id": self.integer(where + ["run_id"], t["run_id"], 1, 2**31 - 1),
            "endpoint": self.string(where + ["endpoint"], t["endpoint"], limit=2048, empty=False),
            "actor": self.actor(where + ["actor"], t["actor"]),
            "started_at": self.instant(where + ["started_at"], t["started_at"]),
            "finished_at": self.instant(where + ["finished_at"], t["finished_at"]),
            "mode": self.choice(where + ["mode"], t["mode"], ("closed", "open")),
            "passed": self.boolean(where + ["passed"], t["passed"]),
            "aborted": self.boolean(where + ["aborted"], t.get("aborted", False)),
            "settings": self.payload(where + ["settings"], t.get("settings", {})),
            "results": self.payload(where + ["results"], t.get("results", {})),
        }

    def notice(self, where: list[str], raw: Any) -> dict[str, Any]:
        t = self.table(where, raw, NOTICE_KEYS, NOTICE_KEYS)
        return {
            "retire_on": self.day(where + ["retire_on"], t["retire_on"]),
            "days_before": self.integer(where + ["days_before"], t["days_before"], 0, 36500),
            "raised_at": self.instant(where + ["raised_at"], t["raised_at"]),
        }


def parse_document(raw: Any, source: str = "file") -> dict[str, Any]:
    """A loaded TOML value -> the canonical document; InvalidInput (exit 2) on any problem."""
    return _Reader(source).document(raw)


def read_file(path: str) -> dict[str, Any]:
    """Read and validate a registry file ('-' for stdin)."""
    from modelreg.textfile import read_text

    content = read_text(path, "a registry file (TOML)")
    try:
        raw = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: malformed TOML: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{path}: nested too deeply") from None
    return parse_document(raw, path)
