"""Dynamic shell completion of model ids and `model@version` (a TAB press).

A TAB runs the whole CLI, so this module stays as cheap as `--help`: no
sqlmodel, sqlalchemy, httpx or rich. It reads the database directly (the
stdlib `sqlite3`, read-only, for SQLite; psycopg without SQLAlchemy for
PostgreSQL), and only what the TAB needs: the model ids, or once the text
has an '@' the live versions of that one model (an indexed lookup, however
large the registry). Each answer is kept in a cache file:

    $XDG_CACHE_HOME/modelreg/completion-<sha256(url)[:16]>.txt            model ids (mode 0600)
    $XDG_CACHE_HOME/modelreg/completion-<sha256(url)[:16]>-<sha256(model)[:16]>.txt   its versions

For SQLite the cache is reused while the database file and its -wal file are
unchanged (mtime and size, taken before the read), so a TAB after `register`
already sees the new version; for PostgreSQL it is reused for CACHE_TTL_S
seconds. RETIRED and REJECTED versions are not offered. Any failure gives no
candidates: completion never prints an error.

Use as typer's `autocompletion=` callback (typer passes `ctx` and
`incomplete` by name, so `--db URL` / `--config FILE` given before the
subcommand are honoured):

    target: str = typer.Argument(..., autocompletion=complete_target)
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from modelreg.lifecycle.status import ARCHIVED, STATUSES

CACHE_TTL_S = 60.0
CACHE_FORMAT = "modelreg-completion-v1"
SQLITE_TIMEOUT_S = 0.5
PG_CONNECT_TIMEOUT_S = 2


def complete_model(incomplete: str = "", ctx: Any = None) -> list[str]:
    """Model ids starting with `incomplete`."""
    try:
        prefix = incomplete or ""
        return [line for line in _candidates(ctx) if line.startswith(prefix)]
    except Exception:  # completion never fails loudly
        return []


def complete_target(incomplete: str = "", ctx: Any = None) -> list[str]:
    """Model ids, or `model@version` once the text contains '@'."""
    try:
        prefix = incomplete or ""
        model = prefix.partition("@")[0] if "@" in prefix else None
        return [line for line in _candidates(ctx, model) if line.startswith(prefix)]
    except Exception:
        return []


# -- where the database is -------------------------------------------------


def _database_url(ctx: Any) -> str:
    """The URL with the CLI's precedence: --db > MODELREG_DB > config file > default."""
    from modelreg.config import load_config

    db = config = None
    if ctx is not None:
        try:
            params = ctx.find_root().params or {}
            db, config = params.get("db"), params.get("config")
        except Exception:
            pass
    return load_config(db=db, config_path=config).database_url


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite[+driver]:///PATH[?query]` URL (None: not SQLite, or in memory)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite":
        return None
    path = rest[1:] if rest.startswith("/") else ""
    path = path.partition("?")[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def cache_file(url: str, model: str | None = None) -> Path:
    """The cache of the model ids (`model` None), or of one model's versions."""
    from modelreg.config import xdg_dir

    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    if model is not None:
        digest += "-" + hashlib.sha256(model.encode("utf-8")).hexdigest()[:16]
    return xdg_dir("cache", os.environ) / f"completion-{digest}.txt"


def _stat_sig(path: Path) -> str:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "-"
    return f"{st.st_mtime_ns}:{st.st_size}"


def _signature(db_file: Path) -> str:
    """What changes whenever the content may have: the database file and its
    WAL. An empty WAL holds nothing (a reader, this one included, creates
    one), so it counts as no WAL."""
    wal = _stat_sig(Path(str(db_file) + "-wal"))
    return f"{_stat_sig(db_file)}|{'-' if wal.endswith(':0') else wal}"


# -- the cache -------------------------------------------------------------


def _read_cache(path: Path, signature: str | None) -> list[str] | None:
    """The cached lines if still valid: same SQLite signature, or (no
    signature: PostgreSQL) younger than CACHE_TTL_S."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    header, _, body = text.partition("\n")
    parts = header.split(" ", 2)
    if len(parts) != 3 or parts[0] != CACHE_FORMAT:
        return None
    try:
        written = float(parts[1])
    except ValueError:
        return None
    if signature is not None:
        if parts[2] != signature:
            return None
    elif not (-1.0 <= time.time() - written < CACHE_TTL_S):  # (written is rounded to ms)
        return None
    return body.split("\n") if body else []


def _write_cache(path: Path, lines: list[str], signature: str | None) -> None:
    """Atomically (temp file + rename), mode 0600; best effort."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{CACHE_FORMAT} {time.time():.3f} {signature or '-'}\n")
                fh.write("\n".join(lines))
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        pass


# -- reading the database ----------------------------------------------------

_MODELS_SQL = "SELECT model_id FROM model ORDER BY model_id"
# one model's live versions, newest first: the (model_id, version_key DESC) index
_VERSIONS_SQL = (
    f"SELECT model_id, version FROM model_version WHERE model_id = {{p}} AND status NOT IN {tuple(ARCHIVED)!r} "
    "ORDER BY version_key DESC"
)


def _lines(rows, model: str | None) -> list[str]:
    return [m for (m,) in rows] if model is None else [f"{m}@{v}" for m, v in rows]


def _read_sqlite(db_file: Path, model: str | None = None) -> list[str]:
    import sqlite3

    uri = db_file.resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(SQLITE_TIMEOUT_S * 1000)}")
        if model is None:
            return _lines(conn.execute(_MODELS_SQL).fetchall(), None)
        return _lines(conn.execute(_VERSIONS_SQL.format(p="?"), (model,)).fetchall(), model)
    finally:
        conn.close()


def _read_postgres(url: str, model: str | None = None) -> list[str]:
    import psycopg

    scheme, _, rest = url.partition("://")
    conninfo = "postgresql://" + rest
    with (
        psycopg.connect(
            conninfo,
            connect_timeout=PG_CONNECT_TIMEOUT_S,
            options="-c statement_timeout=3000 -c default_transaction_read_only=on",
        ) as conn,
        conn.cursor() as cur,
    ):
        if model is None:
            return _lines(cur.execute(_MODELS_SQL).fetchall(), None)
        return _lines(cur.execute(_VERSIONS_SQL.format(p="%s"), (model,)).fetchall(), model)


def _candidates(ctx: Any = None, model: str | None = None) -> list[str]:
    """Every model id (`model` None), or the model's live `model@version`s,
    from the cache when valid."""
    url = _database_url(ctx)
    scheme = url.partition("://")[0].split("+", 1)[0]
    if scheme == "sqlite":
        db_file = sqlite_path(url)
        if db_file is None or not db_file.is_file():
            return []
        signature: str | None = _signature(db_file)  # before the read: a later write invalidates
        reader = lambda: _read_sqlite(db_file, model)  # noqa: E731
    elif scheme in ("postgresql", "postgres"):
        signature = None
        reader = lambda: _read_postgres(url, model)  # noqa: E731
    else:
        return []
    path = cache_file(url, model)
    cached = _read_cache(path, signature)
    if cached is not None:
        return cached
    lines = reader()
    _write_cache(path, lines, signature)
    return lines


def complete_status(incomplete: str = "", ctx: Any = None) -> list[str]:
    """The statuses (no database needed)."""
    prefix = (incomplete or "").upper()
    return [s for s in STATUSES if s.startswith(prefix)]
