"""Registration manifests: the guide's registration API as a validated spec.

Keys are the guide's camelCase (modelId, avgLatency, ...) or snake_case; unknown
keys are refused so a typo never silently drops a field.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from modelreg.errors import InvalidInput
from modelreg.metadata import (
    CARD_MAX_BYTES,
    LINEAGE_KEYS,
    Lineage,
    check_card,
    check_contacts,
    check_labels,
    check_owner,
    lineage_from,
    parse_artifact_flag,
    parse_label_flags,
)
from modelreg.semver import SemVer

SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")  # \Z: "$" would accept a trailing newline
PII_CHOICES = ("compliant", "restricted", "none")
ENDPOINT_KINDS = ("openai-chat", "json")

TOP_KEYS = {
    "provider": "provider",
    "modelId": "model_id",
    "model_id": "model_id",
    "version": "version",
    "capabilities": "capabilities",
    "parameters": "parameters",
    "performance": "performance",
    "compliance": "compliance",
    "endpoint": "endpoint",
    "endpointKind": "endpoint_kind",
    "endpoint_kind": "endpoint_kind",
    "description": "description",
    "experimental": "experimental",
    "owner": "owner",
    "contacts": "contacts",
    "labels": "labels",
    "modelCard": "model_card",
    "model_card": "model_card",
    **LINEAGE_KEYS,
}
PERFORMANCE_KEYS = {
    "avgLatency": "avg_latency_ms",
    "avg_latency": "avg_latency_ms",
    "avg_latency_ms": "avg_latency_ms",
    "avgLatencyMs": "avg_latency_ms",
    "p95Latency": "p95_latency_ms",
    "p95_latency": "p95_latency_ms",
    "p95_latency_ms": "p95_latency_ms",
    "p95LatencyMs": "p95_latency_ms",
    "costPerRequest": "cost_per_request_usd",
    "cost_per_request": "cost_per_request_usd",
    "cost_per_request_usd": "cost_per_request_usd",
    "costPerRequestUsd": "cost_per_request_usd",
}
COMPLIANCE_KEYS = {
    "dataResidency": "data_residency",
    "data_residency": "data_residency",
    "piiHandling": "pii_handling",
    "pii_handling": "pii_handling",
    "approvedDomains": "approved_domains",
    "approved_domains": "approved_domains",
}


@dataclass
class Parameter:
    default: float
    range: tuple[float, float] | None = None
    max: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"default": self.default}
        if self.range is not None:
            out["range"] = list(self.range)
        if self.max is not None:
            out["max"] = self.max
        return out


@dataclass
class VersionSpec:
    model_id: str
    version: str
    provider: str
    capabilities: list[str]
    avg_latency_ms: float
    p95_latency_ms: float
    cost_per_request_usd: float
    parameters: dict[str, Parameter] = field(default_factory=dict)
    data_residency: list[str] = field(default_factory=list)
    pii_handling: str = "none"
    approved_domains: list[str] = field(default_factory=list)
    endpoint: str | None = None
    endpoint_kind: str | None = None
    description: str = ""
    experimental: bool = False
    owner: str | None = None  # the model's owning team (None: the registering actor, or unchanged)
    contacts: list[str] | None = None  # the model's contacts (None: unchanged)
    labels: dict[str, str] = field(default_factory=dict)  # the version's labels
    lineage: Lineage = field(default_factory=Lineage)
    card: str | None = None  # the Markdown of the model card (`modelCard = "FILE.md"`), stored at registration

    @property
    def semver(self) -> SemVer:
        return SemVer.parse(self.version)

    @property
    def target(self) -> str:
        return f"{self.model_id}@{self.version}"


def _number(where: str, value: Any, *, non_negative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
        raise InvalidInput(f"{where}: expected a number, got {_show(value)}")
    if non_negative and value < 0:
        raise InvalidInput(f"{where}: expected a non-negative number, got {value}")
    return value


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float (e.g. 10**400 in JSON)
        return False


def _escaped(value: Any) -> str:
    return repr(str(value))[1:-1][:80]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Providers, capabilities, residencies and domains are stored lower-case;
    input in any case means the same slug (only A-Z fold: no Unicode tricks)."""
    return text.translate(_ASCII_LOWER)


def check_slug(where: str, value: Any, what: str = "a slug") -> str:
    if not isinstance(value, str) or not SLUG.match(value):
        raise InvalidInput(f"{where}: expected {what} matching [a-z0-9][a-z0-9._-]{{0,63}}, got {_show(value)}")
    return value


def _slug_list(where: str, value: Any, *, non_empty: bool = False) -> list[str]:
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: expected a list of slugs, got {_show(value)}")
    if non_empty and not value:
        raise InvalidInput(f"{where}: expected at least one entry")
    items = [check_slug(f"{where}[{i}]", ascii_lower(v) if isinstance(v, str) else v) for i, v in enumerate(value)]
    return sorted(set(items))


def check_endpoint(where: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > 2048:
        raise InvalidInput(f"{where}: expected an http(s) URL, got {_show(value)}")
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise InvalidInput(f"{where}: expected an http(s) URL, got {_show(value)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise InvalidInput(f"{where}: expected an http(s) URL, got {_show(value)}")
    if parts.username or parts.password:
        raise InvalidInput(f"{where}: credentials in the URL are not stored; use --api-key-env at benchmark time")
    return value


def _is_secret_param(name: str) -> bool:
    """Query parameters such as api-key=, access_token=, sig= (but not max_tokens=)."""
    return re.search(r"(key|token|secret|password|passwd|sig|signature|auth)$", name.lower()) is not None


def endpoint_identity(url: str) -> str:
    """An endpoint URL as it is stored and compared: no user:password@, and
    the values of secret-looking query parameters as ***. Idempotent, so a
    benchmark run's stored endpoint equals the identity of the registered one
    exactly when it measured the registered endpoint."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(_is_secret_param(k) for k, _ in pairs):
            parts = parts._replace(
                query=urlencode([(k, "***" if _is_secret_param(k) else v) for k, v in pairs], safe="*")
            )
    if parts.username is None and parts.password is None:
        return parts.geturl()
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    try:
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        pass
    return parts._replace(netloc=netloc).geturl()


def _parameters(where: str, value: Any) -> dict[str, Parameter]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected a table of parameters, got {_show(value)}")
    out = {}
    for name, spec in value.items():
        here = f"{where}.{name}"
        check_slug(here, name, "a parameter name")
        if not isinstance(spec, dict):
            raise InvalidInput(f"{here}: expected {{default, range | max}}, got {_show(spec)}")
        unknown = set(spec) - {"default", "range", "max"}
        if unknown:
            raise InvalidInput(f"{here}: unknown key {sorted(unknown)[0]!r} (expected default, range or max)")
        if "default" not in spec:
            raise InvalidInput(f"{here}: missing key 'default'")
        default = _number(f"{here}.default", spec["default"])
        param = Parameter(default)
        if "range" in spec and "max" in spec:
            raise InvalidInput(f"{here}: give either range or max, not both")
        if "range" in spec:
            rng = spec["range"]
            if not isinstance(rng, (list, tuple)) or len(rng) != 2:
                raise InvalidInput(f"{here}.range: expected [low, high], got {_show(rng)}")
            lo, hi = _number(f"{here}.range[0]", rng[0]), _number(f"{here}.range[1]", rng[1])
            if lo > hi:
                raise InvalidInput(f"{here}.range: low {lo} is above high {hi}")
            if not lo <= default <= hi:
                raise InvalidInput(f"{here}.default: {default} is outside its range [{lo}, {hi}]")
            param.range = (lo, hi)
        if "max" in spec:
            mx = _number(f"{here}.max", spec["max"])
            if default > mx:
                raise InvalidInput(f"{here}.default: {default} is above its max {mx}")
            param.max = mx
        out[name] = param
    return out


def _table(where: str, value: Any, aliases: dict[str, str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected a table, got {_show(value)}")
    out = {}
    for key, item in value.items():
        if key not in aliases:
            known = ", ".join(k for k in aliases if not ("_" in k and k[0].islower() and any(c.isupper() for c in k)))
            raise InvalidInput(f"{where}: unknown key {key!r} (known: {known})")
        canonical = aliases[key]
        if canonical in out:
            raise InvalidInput(f"{where}: key {key!r} given twice (camelCase and snake_case)")
        out[canonical] = item
    return out


FLAG_OF = {
    "modelId": "MODEL_ID",
    "version": "--version",
    "provider": "--provider",
    "capabilities": "--capability",
    "performance.avgLatency": "--avg-latency",
    "performance.p95Latency": "--p95-latency",
    "performance.costPerRequest": "--cost",
    "parameters": "--param",
    "compliance.dataResidency": "--residency",
    "compliance.approvedDomains": "--domain",
    "compliance.piiHandling": "--pii",
    "endpoint": "--endpoint",
    "endpointKind": "--endpoint-kind",
    "description": "--description",
    "experimental": "--experimental",
    "owner": "--owner",
    "contacts": "--contact",
    "labels": "--label",
    "artifact": "--artifact",
    "source": "--source",
    "baseModel": "--base-model",
    "datasets": "--dataset",
    "modelCard": "--card",
}


def parse_version_spec(
    entry: Any, where: str = "manifest", *, flags: bool = False, base_dir: Path | None = None
) -> VersionSpec:
    """Validate one manifest entry (or the flags of `register`, with
    flags=True); InvalidInput names `where` and the key (or the flag). A
    `modelCard` file is read relative to `base_dir` (the manifest's folder;
    the working directory when None)."""

    def key(name: str) -> str:
        return FLAG_OF.get(name, name) if flags else f"{where}: key '{name}'"

    data = _table(where, entry, TOP_KEYS)
    for required in ("provider", "model_id", "version", "capabilities", "performance"):
        if required not in data:
            camel = {"model_id": "modelId"}.get(required, required)
            raise InvalidInput(f"{where}: missing key {camel!r}")
    model_id = check_slug(key("modelId"), data["model_id"], "a model id")
    if not isinstance(data["version"], str):
        raise InvalidInput(f'{key("version")}: expected a SemVer string such as "3.0.1", got {_show(data["version"])}')
    try:
        version = str(SemVer.parse(data["version"]))
    except InvalidInput as exc:
        raise InvalidInput(f"{key('version')}: {exc.message}") from None
    provider = check_slug(
        key("provider"),
        ascii_lower(data["provider"]) if isinstance(data["provider"], str) else data["provider"],
        "a provider slug",
    )
    capabilities = _slug_list(key("capabilities"), data["capabilities"], non_empty=True)

    perf = _table(key("performance"), data["performance"], PERFORMANCE_KEYS)
    for required, camel in (
        ("avg_latency_ms", "avgLatency"),
        ("p95_latency_ms", "p95Latency"),
        ("cost_per_request_usd", "costPerRequest"),
    ):
        if required not in perf:
            raise InvalidInput(f"{where}: missing key 'performance.{camel}'")
    avg = _number(key("performance.avgLatency"), perf["avg_latency_ms"], non_negative=True)
    p95 = _number(key("performance.p95Latency"), perf["p95_latency_ms"], non_negative=True)
    cost = _number(key("performance.costPerRequest"), perf["cost_per_request_usd"], non_negative=True)

    spec = VersionSpec(model_id, version, provider, capabilities, avg, p95, cost)
    if "parameters" in data:
        spec.parameters = _parameters(key("parameters"), data["parameters"])
    if "compliance" in data:
        comp = _table(key("compliance"), data["compliance"], COMPLIANCE_KEYS)
        if "data_residency" in comp:
            spec.data_residency = _slug_list(key("compliance.dataResidency"), comp["data_residency"])
        if "approved_domains" in comp:
            spec.approved_domains = _slug_list(key("compliance.approvedDomains"), comp["approved_domains"])
        if "pii_handling" in comp:
            if comp["pii_handling"] not in PII_CHOICES:
                raise InvalidInput(
                    f"{key('compliance.piiHandling')}: expected one of {', '.join(PII_CHOICES)}, "
                    f"got {_show(comp['pii_handling'])}"
                )
            spec.pii_handling = comp["pii_handling"]
    if data.get("endpoint") is not None:
        spec.endpoint = check_endpoint(key("endpoint"), data["endpoint"])
    if data.get("endpoint_kind") is not None:
        if data["endpoint_kind"] not in ENDPOINT_KINDS:
            raise InvalidInput(
                f"{key('endpointKind')}: expected one of {', '.join(ENDPOINT_KINDS)}, "
                f"got {_show(data['endpoint_kind'])}"
            )
        spec.endpoint_kind = data["endpoint_kind"]
    elif spec.endpoint:
        spec.endpoint_kind = "openai-chat"
    if "description" in data:
        if not isinstance(data["description"], str) or len(data["description"]) > 4000:
            raise InvalidInput(f"{key('description')}: expected text up to 4000 characters")
        spec.description = data["description"]
    if "experimental" in data:
        if not isinstance(data["experimental"], bool):
            raise InvalidInput(f"{key('experimental')}: expected true or false, got {_show(data['experimental'])}")
        spec.experimental = data["experimental"]
    if data.get("owner") is not None:
        spec.owner = check_owner(key("owner"), data["owner"])
    if data.get("contacts") is not None:
        spec.contacts = check_contacts(key("contacts"), data["contacts"])
    if data.get("labels") is not None:
        spec.labels = check_labels(key("labels"), data["labels"])
    spec.lineage = lineage_from(key, data)
    if data.get("model_card") is not None:
        spec.card = read_card(key("modelCard"), data["model_card"], base_dir)
    return spec


def read_card(where: str, value: Any, base_dir: Path | None) -> str:
    """The Markdown of a model card file named in a manifest (or by --card), checked (at most 1 MB)."""
    from modelreg.textfile import read_text

    if not isinstance(value, str) or not value.strip() or len(value) > 4096 or "\x00" in value:
        raise InvalidInput(f"{where}: expected the path of a Markdown file, got {_show(value)}")
    path = Path(value) if base_dir is None else base_dir / value
    try:
        text = read_text(str(path), "a Markdown model card", limit=CARD_MAX_BYTES, stdin=False)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}") from None
    return check_card(where, text)[0]


_PARAM_FLAG = re.compile(r"^(?P<name>[^=]+)=(?P<default>[^:]+)(?::(?:(?P<lo>[^.]+)\.\.(?P<hi>.+)|max=(?P<max>.+)))?\Z")


def _flag_number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{where}: {text!r} is not a finite number")
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def parse_param_flag(text: str) -> tuple[str, dict[str, Any]]:
    """`--param NAME=DEFAULT[:LO..HI | :max=N]` -> (name, {default, range | max})."""
    match = _PARAM_FLAG.match(text)
    if not match:
        raise InvalidInput(f"--param {text[:60]!r}: expected NAME=DEFAULT[:LO..HI | :max=N], e.g. temperature=0.7:0..1")
    where = f"--param {match['name'][:40]}"
    spec: dict[str, Any] = {"default": _flag_number(match["default"], where)}
    if match["lo"] is not None:
        spec["range"] = [_flag_number(match["lo"], where), _flag_number(match["hi"], where)]
    if match["max"] is not None:
        spec["max"] = _flag_number(match["max"], where)
    return match["name"], spec


def spec_from_flags(
    *,
    model_id: str,
    version: str | None,
    provider: str | None,
    capabilities: Sequence[str],
    params: Sequence[str] = (),
    avg_latency_ms: float | None,
    p95_latency_ms: float | None,
    cost_per_request_usd: float | None,
    residency: Sequence[str] = (),
    pii: str | None = None,
    domains: Sequence[str] = (),
    endpoint: str | None = None,
    endpoint_kind: str | None = None,
    description: str | None = None,
    experimental: bool = False,
    labels: Sequence[str] = (),
    owner: str | None = None,
    contacts: Sequence[str] = (),
    artifact: str | None = None,
    source: str | None = None,
    base_model: str | None = None,
    datasets: Sequence[str] = (),
    card: str | None = None,
) -> VersionSpec:
    """`register MODEL --version V ...`: the same typed spec (and the same
    validation, naming the flag) that a manifest entry gives."""
    missing = [
        flag
        for flag, value in (
            ("--version", version),
            ("--provider", provider),
            ("--capability", list(capabilities)),
            ("--avg-latency", avg_latency_ms),
            ("--p95-latency", p95_latency_ms),
            ("--cost", cost_per_request_usd),
        )
        if value in (None, [])
    ]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")
    fields: dict[str, Any] = {
        "model_id": model_id,
        "version": version,
        "provider": provider,
        "capabilities": list(capabilities),
        "performance": {
            "avg_latency_ms": avg_latency_ms,
            "p95_latency_ms": p95_latency_ms,
            "cost_per_request_usd": cost_per_request_usd,
        },
        "experimental": experimental,
    }
    parsed_params = [parse_param_flag(p) for p in params]
    names = [name for name, _ in parsed_params]
    if len(set(names)) != len(names):
        raise InvalidInput(f"--param {next(n for n in names if names.count(n) > 1)!r} is given twice")
    if parsed_params:
        fields["parameters"] = dict(parsed_params)
    compliance: dict[str, Any] = {}
    if residency:
        compliance["data_residency"] = list(residency)
    if domains:
        compliance["approved_domains"] = list(domains)
    if pii is not None:
        compliance["pii_handling"] = pii
    if compliance:
        fields["compliance"] = compliance
    for key, value in (
        ("endpoint", endpoint),
        ("endpoint_kind", endpoint_kind),
        ("description", description),
        ("owner", owner),
        ("source", source),
        ("base_model", base_model),
        ("model_card", card),
    ):
        if value is not None:
            fields[key] = value
    if labels:
        fields["labels"] = parse_label_flags(labels)
    if contacts:
        fields["contacts"] = list(contacts)
    if datasets:
        fields["datasets"] = list(datasets)
    if artifact is not None:
        fields["artifact"] = parse_artifact_flag(artifact)
    return parse_version_spec(fields, "flags", flags=True)


def parse_manifest_document(document: Any, source: str, base_dir: Path | None = None) -> list[VersionSpec]:
    """One version, or many under `models`; top-level keys outside `models`
    act as shared defaults for each entry (e.g. a common provider)."""
    if not isinstance(document, dict):
        raise InvalidInput(f"{source}: expected a table/object at the top level")
    if "models" in document:
        entries = document["models"]
        if not isinstance(entries, list) or not entries:
            raise InvalidInput(f"{source}: key 'models': expected a non-empty list of model versions")
        shared = {k: v for k, v in document.items() if k != "models"}
        specs = []
        seen: dict[tuple[str, str], int] = {}
        for i, entry in enumerate(entries):
            label = f"{source}: models[{i}]"
            if isinstance(entry, dict) and entry.get("modelId", entry.get("model_id")):
                # repr-escaped: a stray newline or escape sequence in the file stays on one error line
                label += f" ({_escaped(entry.get('modelId', entry.get('model_id')))}@{_escaped(entry.get('version'))})"
            merged = {**shared, **entry} if isinstance(entry, dict) else entry
            spec = parse_version_spec(merged, label, base_dir=base_dir)
            key = (spec.model_id, spec.version)
            if key in seen:
                raise InvalidInput(f"{label}: {spec.target} is already listed as models[{seen[key]}]")
            seen[key] = i
            specs.append(spec)
        return specs
    return [parse_version_spec(document, source, base_dir=base_dir)]


class DuplicateKey(ValueError):
    pass


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads hook: a key given twice is an error, not "the last one wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def load_manifest_file(path: str) -> list[VersionSpec]:
    from modelreg.textfile import read_text

    file = Path(path)
    text = read_text(path, "a TOML or JSON manifest")
    as_json = file.suffix.lower() == ".json" or (
        file.suffix.lower() != ".toml" and text.lstrip().startswith(("{", "["))
    )
    try:
        document = json.loads(text, object_pairs_hook=no_duplicate_keys) if as_json else tomllib.loads(text)
    except DuplicateKey as exc:
        raise InvalidInput(f"{path}: key {str(exc)[:60]!r} is given twice in one object") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: malformed TOML: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{path}: nested too deeply") from None
    except ValueError:  # e.g. an integer longer than Python's 4300-digit conversion limit
        raise InvalidInput(f"{path}: malformed {'JSON' if as_json else 'TOML'}: a value is too large to read") from None
    return parse_manifest_document(document, path, None if path == "-" else file.parent)
