"""Settings: command-line flag > environment variable > config file > default.

Reading the config only needs tomllib, so `--help` and completion stay cheap.
"""

from __future__ import annotations

import getpass
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from modelreg.errors import InvalidInput

DEFAULT_POLICY: dict[str, Any] = {
    "deprecation_notice_days": 90,
    "required_checks": ["evaluation", "security", "compliance", "benchmark"],
    "benchmark_max_age_days": 7,
    "separation_of_duties": True,
    "approvers": [],
    "notice_before_retirement_days": [30, 7, 1],
    "max_error_rate": 0.01,
}
DEFAULT_ALERTS: dict[str, Any] = {"error_rate_threshold": 0.01, "webhooks": []}

_ACTOR = re.compile(r"^[^\x00-\x1f\x7f]{1,128}\Z")
SEVERITIES = ("info", "warning", "critical")


def xdg_dir(kind: str, environ: Mapping[str, str]) -> Path:
    var, fallback = {"data": ("XDG_DATA_HOME", ".local/share"), "config": ("XDG_CONFIG_HOME", ".config"),
                     "cache": ("XDG_CACHE_HOME", ".cache")}[kind]
    base = environ.get(var) or str(Path(environ.get("HOME") or Path.home()) / fallback)
    return Path(base) / "modelreg"


def default_database_url(environ: Mapping[str, str]) -> str:
    return f"sqlite:///{xdg_dir('data', environ) / 'registry.db'}"


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def normalize_actor(name: str) -> str:
    """Actors compare case- and whitespace-insensitively, so approver rules
    cannot be side-stepped with ' Alice' or 'ALICE'."""
    # NFKC first, so full-width or other compatibility look-alikes of a name are the same person
    canonical = " ".join(unicodedata.normalize("NFKC", str(name)).split()).casefold()
    if not canonical or not _ACTOR.match(canonical):
        raise InvalidInput(f"invalid actor {str(name)[:40]!r}: expected a non-empty name without control characters (max 128)")
    return canonical


@dataclass
class Policy:
    deprecation_notice_days: int = 90
    required_checks: list[str] = field(default_factory=lambda: list(DEFAULT_POLICY["required_checks"]))
    benchmark_max_age_days: int = 7
    separation_of_duties: bool = True
    approvers: list[str] = field(default_factory=list)
    notice_before_retirement_days: list[int] = field(default_factory=lambda: [30, 7, 1])
    max_error_rate: float = 0.01


@dataclass
class Webhook:
    url: str
    secret_env: str | None = None
    min_severity: str = "warning"


@dataclass
class Config:
    database_url: str
    config_path: Path
    actor: str
    policy: Policy
    webhooks: list[Webhook]
    error_rate_threshold: float
    sources: dict[str, str]  # setting -> where its value came from

    def shown(self) -> list[dict[str, Any]]:
        """Every effective setting with its source, secrets masked."""
        rows = [
            {"key": "database.url", "value": redact_url(self.database_url), "source": self.sources["database.url"]},
            {"key": "config", "value": str(self.config_path), "source": self.sources["config"]},
            {"key": "actor", "value": self.actor, "source": self.sources["actor"]},
        ]
        for name in DEFAULT_POLICY:
            rows.append({"key": f"policy.{name}", "value": getattr(self.policy, name), "source": self.sources[f"policy.{name}"]})
        rows.append({"key": "alerts.error_rate_threshold", "value": self.error_rate_threshold,
                     "source": self.sources["alerts.error_rate_threshold"]})
        rows.append({"key": "alerts.webhooks", "value": [
            {"url": redact_url(w.url), "secret_env": w.secret_env, "min_severity": w.min_severity} for w in self.webhooks],
            "source": self.sources["alerts.webhooks"]})
        return rows


def redact_url(url: str) -> str:
    """Hide a password in a URL (postgresql+psycopg://user:***@host/db)."""
    return re.sub(r"(://[^:/@]+:)[^@/]*@", r"\1***@", url)


def read_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"malformed config file {path}: {exc}") from None


def _expect(path: Path, key: str, value: Any, kind: str) -> Any:
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        "bool": isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value,
        "str": isinstance(value, str) and value != "",
        "str-list": isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value),
        "int-list": isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value),
    }[kind]
    if not ok:
        want = {"int": "a non-negative integer", "bool": "true or false", "float": "a non-negative number",
                "str": "a non-empty string", "str-list": "a list of non-empty strings",
                "int-list": "a list of positive integers"}[kind]
        raise InvalidInput(f"config file {path}: key {key!r}: expected {want}, got {value!r}")
    return value


POLICY_KINDS = {
    "deprecation_notice_days": "int", "required_checks": "str-list", "benchmark_max_age_days": "int",
    "separation_of_duties": "bool", "approvers": "str-list", "notice_before_retirement_days": "int-list",
    "max_error_rate": "float",
}
SETTABLE = {"database.url": "str", "actor": "str", "alerts.error_rate_threshold": "float",
            **{f"policy.{k}": v for k, v in POLICY_KINDS.items()}}


def load_config(*, db: str | None = None, config_path: str | None = None, actor: str | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ
    sources: dict[str, str] = {}

    if config_path:
        path, sources["config"] = Path(config_path), "flag --config"
    elif env.get("MODELREG_CONFIG"):
        path, sources["config"] = Path(env["MODELREG_CONFIG"]), "env MODELREG_CONFIG"
    else:
        path, sources["config"] = xdg_dir("config", env) / "config.toml", "default"
    data = read_file(path)
    known_top = {"database", "actor", "policy", "alerts"}
    for key in data:
        if key not in known_top:
            raise InvalidInput(f"config file {path}: unknown key {key!r} (known: {', '.join(sorted(known_top))})")
    file_src = f"file {path}"

    database = data.get("database", {})
    if not isinstance(database, dict) or set(database) - {"url"}:
        raise InvalidInput(f"config file {path}: [database] takes only 'url'")
    def pick(flag_value, flag, env_var, table, key, default):
        """flag > environment > config file > default, remembering the source."""
        if flag_value:
            return flag_value, f"flag {flag}"
        if env.get(env_var):
            return env[env_var], f"env {env_var}"
        if key in table:
            return _expect(path, key if table is data else f"database.{key}", table[key], "str"), file_src
        return default()

    url, sources["database.url"] = pick(db, "--db", "MODELREG_DB", database, "url",
                                        lambda: (default_database_url(env), "default"))
    who, sources["actor"] = pick(actor, "--actor", "MODELREG_ACTOR", data, "actor",
                                 lambda: (_login_name(), "default (login name)"))
    who = normalize_actor(who)

    policy_data = data.get("policy", {})
    if not isinstance(policy_data, dict):
        raise InvalidInput(f"config file {path}: [policy] must be a table")
    policy = Policy()
    for key, value in policy_data.items():
        if key not in POLICY_KINDS:
            raise InvalidInput(f"config file {path}: unknown key 'policy.{key}' (known: {', '.join(POLICY_KINDS)})")
        setattr(policy, key, _expect(path, f"policy.{key}", value, POLICY_KINDS[key]))
    for key in DEFAULT_POLICY:
        sources[f"policy.{key}"] = file_src if key in policy_data else "default"
    policy.approvers = [normalize_actor(a) for a in policy.approvers]
    policy.required_checks = [c.strip().lower() for c in policy.required_checks]

    alerts = data.get("alerts", {})
    if not isinstance(alerts, dict) or set(alerts) - {"webhooks", "error_rate_threshold"}:
        raise InvalidInput(f"config file {path}: [alerts] takes 'webhooks' and 'error_rate_threshold'")
    threshold = _expect(path, "alerts.error_rate_threshold", alerts.get("error_rate_threshold", 0.01), "float")
    sources["alerts.error_rate_threshold"] = file_src if "error_rate_threshold" in alerts else "default"
    hooks = []
    raw_hooks = alerts.get("webhooks", [])
    if not isinstance(raw_hooks, list):
        raise InvalidInput(f"config file {path}: alerts.webhooks must be an array of tables ([[alerts.webhooks]])")
    for i, hook in enumerate(raw_hooks):
        where = f"alerts.webhooks[{i}]"
        if not isinstance(hook, dict) or "url" not in hook or set(hook) - {"url", "secret_env", "min_severity"}:
            raise InvalidInput(f"config file {path}: {where}: expected url, optional secret_env and min_severity")
        hook_url = _expect(path, f"{where}.url", hook["url"], "str")
        if not re.match(r"^https?://[^\s/]+", hook_url):
            raise InvalidInput(f"config file {path}: {where}.url: expected an http(s) URL, got {hook_url!r}")
        severity = hook.get("min_severity", "warning")
        if severity not in SEVERITIES:
            raise InvalidInput(f"config file {path}: {where}.min_severity: expected one of {', '.join(SEVERITIES)}")
        secret_env = hook.get("secret_env")
        if secret_env is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*\Z", str(secret_env)):
            raise InvalidInput(f"config file {path}: {where}.secret_env: expected an environment variable name")
        hooks.append(Webhook(hook_url, secret_env, severity))
    sources["alerts.webhooks"] = file_src if raw_hooks else "default"

    return Config(url, path, who, policy, hooks, float(threshold), sources)


def parse_setting(key: str, text: str) -> Any:
    """Turn `config set KEY VALUE` text into the TOML value the key expects."""
    kind = SETTABLE.get(key)
    if kind is None:
        raise InvalidInput(f"unknown setting {key!r} (settable: {', '.join(sorted(SETTABLE))})")
    value: Any
    try:
        if kind == "int":
            value = int(text)
        elif kind == "float":
            value = float(text)
        elif kind == "bool":
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                raise ValueError
            value = lowered in ("true", "yes", "on", "1")
        elif kind == "str-list":
            value = [part.strip() for part in text.split(",") if part.strip()]
        elif kind == "int-list":
            value = [int(part) for part in text.split(",") if part.strip()]
        else:
            value = text
    except ValueError:
        raise InvalidInput(f"invalid value {text!r} for {key}") from None
    _expect(Path("(command line)"), key, value, kind)
    if kind == "float" and value != value or value in (float("inf"),):
        raise InvalidInput(f"invalid value {text!r} for {key}")
    if key == "actor":
        normalize_actor(value)
    return value


def set_value(path: Path, key: str, text: str) -> Any:
    """Write one key into the TOML file, preserving every other key."""
    import tomli_w

    value = parse_setting(key, text)
    data = read_file(path)
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(tomli_w.dumps(data).encode())
    os.replace(tmp, path)
    return value
