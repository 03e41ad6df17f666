"""The registry's policy: what the gates, notices and alerts require.

The policy lives in the database (table `policy_version`, one row per
version, never updated in place); this module is its one definition: the
keys, their types and defaults, the document form that `policy apply`
reads and `policy show` prints, and `policy set KEY VALUE` parsing.
Webhook settings are parsed here and nowhere else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from modelreg.config import normalize_actor
from modelreg.errors import InvalidInput

SEVERITIES = ("info", "warning", "critical")
EVENT_TYPES = (
    "version.registered",
    "review.recorded",
    "version.approved",
    "rollout.changed",
    "version.rolled_back",
    "version.deprecated",
    "deprecation.cancelled",
    "version.retired",
    "advisory.added",
    "advisory.withdrawn",
    "policy.changed",
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_CHECK = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")
MAX_DAYS = 36500


@dataclass(frozen=True)
class Webhook:
    """Where alerts (at or above min_severity) and lifecycle events go, signed
    with the key in the environment variable `secret_env` (never stored)."""

    url: str
    secret_env: str
    min_severity: str = "warning"
    events: tuple[str, ...] = ("*",)

    def wants_event(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "secret_env": self.secret_env,
            "min_severity": self.min_severity,
            "events": list(self.events),
        }


@dataclass(frozen=True)
class Policy:
    deprecation_notice_days: int = 90
    required_checks: tuple[str, ...] = ("evaluation", "security", "compliance", "benchmark")
    benchmark_max_age_days: int = 7
    separation_of_duties: bool = True
    approvers: tuple[str, ...] = ()
    notice_before_retirement_days: tuple[int, ...] = (30, 7, 1)
    max_error_rate: float = 0.01
    require_model_card: bool = False
    test_clock: bool = False
    error_rate_threshold: float = 0.01
    webhooks: tuple[Webhook, ...] = ()
    version: int = 0  # which stored version this is (0: the built-in defaults)

    # -- the document form ([policy] + [alerts], as `policy apply` reads it) ----
    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"policy": {k: _plain(getattr(self, k)) for k in POLICY_KEYS}}
        doc["alerts"] = {
            "error_rate_threshold": self.error_rate_threshold,
            "webhooks": [w.to_dict() for w in self.webhooks],
        }
        return doc

    def canonical(self) -> str:
        return json.dumps(self.to_document(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_document(cls, doc: Any, where: str = "policy") -> Policy:
        if not isinstance(doc, dict):
            raise InvalidInput(f"{where}: expected a table with [policy] and [alerts]")
        unknown = sorted(set(doc) - {"policy", "alerts"})
        if unknown:
            raise InvalidInput(f"{where}: unknown table {unknown[0]!r} (expected [policy] and [alerts])")
        values: dict[str, Any] = {}
        table = doc.get("policy", {})
        if not isinstance(table, dict):
            raise InvalidInput(f"{where}: [policy] must be a table")
        for key, value in table.items():
            if key not in POLICY_KEYS:
                raise InvalidInput(f"{where}: unknown key 'policy.{key}' (known: {', '.join(POLICY_KEYS)})")
            values[key] = _check(f"{where}: policy.{key}", key, value)
        alerts = doc.get("alerts", {})
        if not isinstance(alerts, dict) or set(alerts) - {"error_rate_threshold", "webhooks"}:
            raise InvalidInput(f"{where}: [alerts] takes error_rate_threshold and [[alerts.webhooks]]")
        if "error_rate_threshold" in alerts:
            values["error_rate_threshold"] = _check(
                f"{where}: alerts.error_rate_threshold", "error_rate_threshold", alerts["error_rate_threshold"]
            )
        if "webhooks" in alerts:
            values["webhooks"] = parse_webhooks(alerts["webhooks"], where=f"{where}: alerts.webhooks")
        return cls(**values)

    def with_setting(self, key: str, text: str) -> Policy:
        """`policy set KEY VALUE`: this policy with one key changed (from text)."""
        name = key.removeprefix("policy.").removeprefix("alerts.")
        if name not in SETTABLE or (key.startswith("alerts.") and name != "error_rate_threshold"):
            raise InvalidInput(
                f"unknown policy key {key!r} (settable: {', '.join(SETTABLE)}; webhooks: `modelreg policy apply FILE`)"
            )
        return replace(self, **{name: _check(f"policy {key}", name, _from_text(name, text))})

    def changes_from(self, other: Policy) -> tuple[dict[str, Any], dict[str, Any]]:
        """(before, after) of the keys that differ, for the audit trail."""
        before, after = {}, {}
        for name in SETTABLE + ("webhooks",):
            old, new = _plain(getattr(other, name)), _plain(getattr(self, name))
            if old != new:
                before[name], after[name] = old, new
        return before, after


KINDS: dict[str, str] = {
    "deprecation_notice_days": "days",
    "required_checks": "checks",
    "benchmark_max_age_days": "days",
    "separation_of_duties": "bool",
    "approvers": "actors",
    "notice_before_retirement_days": "day-list",
    "max_error_rate": "fraction",
    "require_model_card": "bool",
    "test_clock": "bool",
    "error_rate_threshold": "fraction",
}
POLICY_KEYS = tuple(k for k in KINDS if k != "error_rate_threshold")
SETTABLE = tuple(KINDS)
_WANT = {
    "days": f"whole days from 0 to {MAX_DAYS}",
    "checks": "a list of check names (slugs)",
    "bool": "true or false",
    "actors": "a list of names",
    "day-list": f"a list of whole days from 1 to {MAX_DAYS}",
    "fraction": "a number from 0 to 1",
}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Webhook):
        return value.to_dict()
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(where: str, key: str, value: Any) -> Any:
    kind = KINDS[key]
    bad = InvalidInput(f"{where}: expected {_WANT[kind]}, got {json.dumps(value, default=str)[:60]}")
    if kind == "days":
        if not _is_int(value) or not 0 <= value <= MAX_DAYS:
            raise bad
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == "fraction":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise bad
        return float(value)
    if not isinstance(value, (list, tuple)):
        raise bad
    if kind == "day-list":
        if not all(_is_int(v) and 1 <= v <= MAX_DAYS for v in value):
            raise bad
        return tuple(sorted(set(value), reverse=True))
    if kind == "checks":
        names = [v.strip().lower() for v in value if isinstance(v, str)]
        if len(names) != len(value) or not all(_CHECK.match(n) for n in names):
            raise bad
        return tuple(dict.fromkeys(names))
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise bad
    try:
        return tuple(dict.fromkeys(normalize_actor(v) for v in value))
    except InvalidInput:
        raise bad from None


def _from_text(key: str, text: str) -> Any:
    kind = KINDS[key]
    raw = text.strip()
    try:
        if kind == "days":
            return int(raw)
        if kind == "fraction":
            value = float(raw)
            if value != value:
                raise ValueError
            return value
        if kind == "bool":
            lowered = raw.lower()
            if lowered not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                raise ValueError
            return lowered in ("true", "yes", "on", "1")
        if kind == "day-list":
            return [int(part) for part in raw.split(",") if part.strip()]
        return [part.strip() for part in raw.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(f"invalid value {text[:60]!r} for policy key {key}: expected {_WANT[kind]}") from None


def parse_webhooks(entries: Any, *, where: str = "alerts.webhooks") -> tuple[Webhook, ...]:
    """The [[alerts.webhooks]] tables -> Webhooks (InvalidInput names the key)."""
    if not isinstance(entries, list):
        raise InvalidInput(f"{where}: expected an array of tables ([[alerts.webhooks]])")
    hooks = []
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{at}: expected a table with url, secret_env, min_severity, events")
        unknown = sorted(set(entry) - {"url", "secret_env", "min_severity", "events"})
        if unknown:
            raise InvalidInput(f"{at}: unknown key {unknown[0]!r} (expected url, secret_env, min_severity, events)")
        url = entry.get("url")
        if (
            not isinstance(url, str)
            or not re.match(r"^https?://[^\s/?#]+", url)
            or len(url) > 2048
            or any(c.isspace() or ord(c) < 32 for c in url)
        ):
            raise InvalidInput(f"{at}.url: expected an http(s) URL")
        secret_env = entry.get("secret_env")
        if not isinstance(secret_env, str) or not _ENV_NAME.match(secret_env):
            raise InvalidInput(
                f"{at}.secret_env: expected the name of an environment variable (the key is never stored)"
            )
        severity = entry.get("min_severity", "warning")
        if severity not in SEVERITIES:
            raise InvalidInput(f"{at}.min_severity: expected one of {', '.join(SEVERITIES)}")
        events = entry.get("events", ["*"])
        if not isinstance(events, list) or not all(e == "*" or e in EVENT_TYPES for e in events):
            raise InvalidInput(
                f"{at}.events: expected a list of event types ({', '.join(EVENT_TYPES)}), "
                '["*"] for all, or [] for alerts only'
            )
        hooks.append(Webhook(url, secret_env, severity, tuple(dict.fromkeys(events))))
    return tuple(hooks)


DEFAULT = Policy()
