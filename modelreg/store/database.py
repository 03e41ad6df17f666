"""One way to open the database, and the one way to write to it.

SQLite: busy_timeout before anything else, WAL, and write transactions opened
with BEGIN IMMEDIATE (a deferred transaction that upgrades to a write fails at
once with "database is locked", whatever the busy timeout).
PostgreSQL: every write transaction first locks the audit chain's head row
(SELECT ... FOR UPDATE), which serialises writers the way BEGIN IMMEDIATE does
on SQLite: the chain never forks and check-then-act logic needs no extra
locking, at the price of one writer at a time (measured in tests/benchmarks).
Both: a bounded retry on lock timeouts, serialization failures (40001),
deadlocks (40P01) and unique violations (23505); past the budget, exit 7.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

from modelreg.errors import Conflict, DatabaseError, InvalidInput, ModelregError
from modelreg.config import redact_url
from modelreg.store import audit, schema

T = TypeVar("T")
SQLITE_BUSY_TIMEOUT_MS = 15000
WRITE_ATTEMPTS = 6
RETRYABLE_SQLSTATES = {"40001", "40P01", "23505", "55P03"}


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception:
        raise DatabaseError(f"invalid database URL {redact_url(url)!r}: expected sqlite:///PATH or postgresql+psycopg://user@host/db") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_path(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # created 0600 before SQLite touches it; SQLite gives -wal/-shm the same mode
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            except OSError as exc:
                raise DatabaseError(f"cannot create database file {path}: {exc.strerror}") from None
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN " + conn.get_execution_options().get("sqlite_begin", "DEFERRED"))

        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise DatabaseError("PostgreSQL URLs must use the psycopg 3 driver: postgresql+psycopg://user@host/db")
        return create_engine(url, connect_args={"connect_timeout": 5}, pool_pre_ping=False)
    raise DatabaseError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql+psycopg://...")


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        state = _sqlstate(exc)
        if state in RETRYABLE_SQLSTATES:
            return True
        message = str(getattr(exc, "orig", exc)).lower()
        return "database is locked" in message or "database is busy" in message or "database table is locked" in message
    return False


def describe(exc: BaseException, url: str) -> str:
    orig = getattr(exc, "orig", exc)
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return f"{first} ({redact_url(url)})"


class Tx:
    """A write transaction: the session, the clock and the audit trail."""

    def __init__(self, session: Session, actor: str, now: str):
        self.session = session
        self.actor = actor
        self.now = now
        self.events = audit.Appender(session)

    def audit(self, action: str, target: str, before: Any = None, after: Any = None) -> None:
        self.events.add(self.now, self.actor, action, target, before, after)


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = _make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        self.sqlite_path = _sqlite_path(url) if self.is_sqlite else None

    # -- schema ---------------------------------------------------------
    def ensure_schema(self) -> None:
        """Initialise an empty database (once, even when several processes
        start together); refuse a database at another revision."""
        try:
            state = self._schema_state()
            if state == "empty":
                self._initialise()
                state = self._schema_state()
        except DBAPIError as exc:
            raise DatabaseError(f"cannot open database: {describe(exc, self.url)}") from None
        if state == schema.HEAD:
            return
        if state == "foreign":
            raise DatabaseError(f"{redact_url(self.url)} holds tables that are not a modelreg registry")
        if state in schema.REVISIONS:
            raise DatabaseError(f"database schema is at revision {state}, this modelreg needs {schema.HEAD}: run `modelreg db upgrade`")
        raise DatabaseError(f"database schema revision {state} is newer than this modelreg ({schema.HEAD}): upgrade modelreg")

    def _schema_state(self) -> str:
        with self.engine.connect() as conn:
            return schema.current_revision(conn)

    def _initialise(self) -> None:
        with self.write_engine.connect() as conn:
            with conn.begin():
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": schema.INIT_LOCK_KEY})
                if schema.current_revision(conn) == "empty":
                    schema.upgrade(conn, schema.HEAD)

    def revision(self) -> str:
        try:
            return self._schema_state()
        except DBAPIError as exc:
            raise DatabaseError(f"cannot open database: {describe(exc, self.url)}") from None

    def upgrade(self, target: str = "head") -> tuple[str, str]:
        try:
            with self.write_engine.connect() as conn:
                with conn.begin():
                    if not self.is_sqlite:
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": schema.INIT_LOCK_KEY})
                    before = schema.current_revision(conn)
                    if before == "foreign":
                        raise DatabaseError(f"{redact_url(self.url)} holds tables that are not a modelreg registry")
                    if before != "empty" and before not in schema.REVISIONS:
                        raise DatabaseError(f"database schema revision {before} is newer than this modelreg "
                                            f"({schema.HEAD}): upgrade modelreg")
                    if (target != "head" and before in schema.REVISIONS
                            and schema.REVISIONS.index(target) < schema.REVISIONS.index(before)):
                        raise InvalidInput(f"database schema is at revision {before}, past {target}: "
                                           "downgrades are not supported")
                    schema.upgrade(conn, target)
                    return before, schema.current_revision(conn)
        except DBAPIError as exc:
            raise DatabaseError(f"upgrade failed: {describe(exc, self.url)}") from None

    # -- transactions ---------------------------------------------------
    def read(self) -> Session:
        return Session(self.engine)

    def run_read(self, fn: Callable[[Session], T]) -> T:
        try:
            with Session(self.engine) as session:
                return fn(session)
        except ModelregError:
            raise
        except DBAPIError as exc:
            raise DatabaseError(f"database error: {describe(exc, self.url)}") from None

    def write(self, fn: Callable[[Tx], T], *, actor: str, now: Callable[[], str], dry_run: bool = False) -> T:
        """Run fn in one write transaction with its audit events; retry on
        contention, turn exhausted retries into exit 7. A dry run does all
        the work and rolls it back."""
        last: BaseException | None = None
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with Session(self.write_engine, expire_on_commit=False) as session:
                    session.begin()
                    try:
                        if not self.is_sqlite:
                            session.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE"))
                        tx = Tx(session, actor, now())
                        result = fn(tx)
                        tx.events.flush()
                        session.flush()
                    except BaseException:
                        session.rollback()
                        raise
                    if dry_run:
                        session.rollback()
                    else:
                        session.commit()
                    return result
            except ModelregError:
                raise
            except DBAPIError as exc:
                if not is_retryable(exc):
                    if isinstance(exc, IntegrityError):
                        raise Conflict(f"conflicting change: {describe(exc, self.url)}") from None
                    if isinstance(exc, OperationalError):
                        raise DatabaseError(f"database error: {describe(exc, self.url)}") from None
                    raise
                last = exc
                time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))
        raise DatabaseError(f"database busy: gave up after {WRITE_ATTEMPTS} attempts: {describe(last, self.url)}")

    def refresh_statistics(self) -> None:
        """After a bulk load, let SQLite's planner see the new shape of the
        data (bounded work); PostgreSQL's autovacuum does this on its own."""
        if not self.is_sqlite:
            return
        with self.write_engine.connect() as conn:
            with conn.begin():
                conn.exec_driver_sql("PRAGMA analysis_limit = 1000")  # sampled: milliseconds at 100k versions
                conn.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self.engine.dispose()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

