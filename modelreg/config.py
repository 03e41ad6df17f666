"""Client settings: command-line flag > environment variable > config file > default.

The config file holds client settings only (the database URL, the actor on
SQLite); the rules the registry enforces (its policy) live in the registry
itself (`modelreg policy`), so a personal config file cannot change them.
Reading the config only needs tomllib, so `--help` and completion stay cheap.
"""

from __future__ import annotations

import getpass
import os
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from modelreg.errors import InvalidInput

_ACTOR = re.compile(r"^[^\x00-\x1f\x7f-\x9f]{1,128}\Z")
SETTABLE = {"database.url": "str", "actor": "str"}
SECRET_PARAMS = ("password", "passwd", "pass", "sslpassword", "token", "secret", "api_key", "apikey", "key")


def xdg_dir(kind: str, environ: Mapping[str, str]) -> Path:
    var, fallback = {
        "data": ("XDG_DATA_HOME", ".local/share"),
        "config": ("XDG_CONFIG_HOME", ".config"),
        "cache": ("XDG_CACHE_HOME", ".cache"),
    }[kind]
    if environ.get(var):
        return Path(environ[var]) / "modelreg"
    if not environ.get("HOME"):
        raise InvalidInput(
            f"neither {var} nor HOME is set: say where modelreg keeps its files (set HOME or {var}, or pass --db URL)"
        )
    return Path(environ["HOME"]) / fallback / "modelreg"


def default_database_url(environ: Mapping[str, str]) -> str:
    return f"sqlite:///{xdg_dir('data', environ) / 'registry.db'}"


def as_database_url(value: str) -> str:
    """A plain file path (`--db registry.db`, as sqlite-utils takes it) is a SQLite URL."""
    if "://" in value or value.startswith("sqlite:"):
        return value
    return f"sqlite:///{Path(value).expanduser().absolute()}"


def login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def normalize_actor(name: str) -> str:
    """Actors compare case- and whitespace-insensitively, so approver rules
    cannot be side-stepped with ' Alice' or 'ALICE'."""
    # NFKC first, so full-width or other compatibility look-alikes of a name are the same person
    try:
        canonical = " ".join(unicodedata.normalize("NFKC", str(name)).split()).casefold()
        canonical.encode("utf-8")
    except UnicodeError:
        raise InvalidInput(f"invalid actor {ascii(name)[:40]}: not valid text") from None
    if not canonical or not _ACTOR.match(canonical):
        raise InvalidInput(
            f"invalid actor {ascii(name)[:40]}: expected a non-empty name without control characters (max 128)"
        )
    return canonical


@dataclass
class Config:
    database_url: str
    config_path: Path
    actor: str
    sources: dict[str, str]  # setting -> where its value came from
    os_user: str = "unknown"

    @property
    def actor_source(self) -> str:
        return "default" if self.sources["actor"].startswith("default") else self.sources["actor"]

    @property
    def database_is_default(self) -> bool:
        return self.sources["database.url"] == "default"

    def shown(self) -> list[dict[str, Any]]:
        """Every effective setting with its source, secrets masked."""
        return [
            {"key": "database.url", "value": redact_url(self.database_url), "source": self.sources["database.url"]},
            {"key": "config", "value": str(self.config_path), "source": self.sources["config"]},
            {"key": "actor", "value": self.actor, "source": self.sources["actor"]},
        ]


def redact_url(url: str) -> str:
    """Hide every credential in a URL: the password of user:pass@, and query
    parameters that carry one (password=, sslpassword=, token=, ...)."""
    text = re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", str(url))
    base, sep, query = text.partition("?")
    if not sep:
        return text
    fragment = ""
    if "#" in query:
        query, _, fragment = query.partition("#")
        fragment = "#" + fragment
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        return base + "?***"
    masked = [(k, "***" if any(s in k.lower() for s in SECRET_PARAMS) else v) for k, v in pairs]
    return base + "?" + urlencode(masked, safe="*/:") + fragment


def read_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise InvalidInput(f"config file {path} is a directory") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"malformed config file {path}: {exc}") from None


def _check_file(path: Path, data: dict[str, Any]) -> None:
    for key in data:
        if key in ("policy", "alerts"):
            raise InvalidInput(
                f"config file {path}: [{key}] is not a client setting: the policy lives in the registry "
                "(`modelreg policy show`; an admin changes it with `modelreg policy apply FILE`)"
            )
        if key not in ("database", "actor"):
            raise InvalidInput(f"config file {path}: unknown key {key!r} (known: database.url, actor)")
    database = data.get("database", {})
    if not isinstance(database, dict) or set(database) - {"url"}:
        raise InvalidInput(f"config file {path}: [database] takes only 'url'")
    for key, value in (("database.url", database.get("url")), ("actor", data.get("actor"))):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidInput(f"config file {path}: key {key!r}: expected a non-empty string, got {value!r}")


def load_config(
    *,
    db: str | None = None,
    config_path: str | None = None,
    actor: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    env = os.environ if environ is None else environ
    sources: dict[str, str] = {}
    if config_path:
        path, sources["config"] = Path(config_path), "flag --config"
    elif env.get("MODELREG_CONFIG"):
        path, sources["config"] = Path(env["MODELREG_CONFIG"]), "env MODELREG_CONFIG"
    else:
        path, sources["config"] = xdg_dir("config", env) / "config.toml", "default"
    data = read_file(path)
    _check_file(path, data)
    file_src = f"file {path}"

    def pick(flag_value, flag, env_var, value_in_file, default):
        """flag > environment > config file > default, remembering the source."""
        if flag_value:
            return flag_value, f"flag {flag}"
        if env.get(env_var):
            return env[env_var], f"env {env_var}"
        if value_in_file is not None:
            return value_in_file, file_src
        return default()

    url, sources["database.url"] = pick(
        db, "--db", "MODELREG_DB", data.get("database", {}).get("url"), lambda: (default_database_url(env), "default")
    )
    url = as_database_url(url)
    os_user = login_name()
    who, sources["actor"] = pick(
        actor, "--actor", "MODELREG_ACTOR", data.get("actor"), lambda: (os_user, "default (login name)")
    )
    return Config(url, path, normalize_actor(who), sources, os_user=os_user)


def parse_setting(key: str, text: str) -> str:
    if key not in SETTABLE:
        if key.startswith(("policy.", "alerts.")):
            raise InvalidInput(
                f"{key} is not a client setting: the policy lives in the registry "
                f"(`modelreg policy set {key.split('.', 1)[1]} VALUE`)"
            )
        raise InvalidInput(f"unknown setting {key!r} (settable: {', '.join(sorted(SETTABLE))})")
    if not text:
        raise InvalidInput(f"invalid value for {key}: expected a non-empty string")
    if key == "actor":
        normalize_actor(text)
    return text


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
