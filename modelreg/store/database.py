"""One way to open the database, and the one way to write to it.

SQLite: busy_timeout before anything else, WAL, and write transactions opened
with BEGIN IMMEDIATE (a deferred transaction that upgrades to a write fails at
once with "database is locked", whatever the busy timeout). A file that
cannot be written (read-only file system, a 0444 file) is opened read-only.
PostgreSQL: every write transaction first locks the audit chain's head row
(SELECT ... FOR UPDATE), which serialises writers the way BEGIN IMMEDIATE does
on SQLite: the chain never forks and check-then-act logic needs no extra
locking. Lock waits are bounded (lock_timeout), so a held lock ends in a
retry, not a hang.
Both: a bounded retry on lock timeouts, serialization failures (40001),
deadlocks (40P01) and unique violations (23505); past the budget, exit 7
naming what it waited for.

A write transaction (`Tx`) knows who acts (on PostgreSQL the authenticated
role, `session_user`; on SQLite the named actor and the OS user), which
roles they hold, the clock (the server's on PostgreSQL), and the policy in
force, loaded from the registry inside the transaction.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlmodel import Session

from modelreg import clock
from modelreg.config import redact_url
from modelreg.errors import AccessDenied, AuditBroken, Conflict, DatabaseError, InvalidInput, ModelregError
from modelreg.policy import Policy
from modelreg.store import audit, schema

T = TypeVar("T")
SQLITE_BUSY_TIMEOUT_MS = 15000
PG_LOCK_TIMEOUT_MS = 5000
PG_STATEMENT_TIMEOUT_MS = 120000
WRITE_ATTEMPTS = 6
RETRYABLE_SQLSTATES = {"40001", "40P01", "23505", "55P03"}
LOCK_TIMEOUT = "55P03"
ROLES = ("modelreg_reader", "modelreg_operator", "modelreg_approver", "modelreg_admin")


@dataclass(frozen=True)
class SqliteTarget:
    path: Path
    uri: bool  # the URL names a `file:` URI (sqlite:///file:PATH?mode=ro&uri=true)
    read_only: bool


def sqlite_target(url: str) -> SqliteTarget | None:
    """Where a sqlite URL's file is (None: not SQLite, or in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    database = parsed.database
    if str(parsed.query.get("uri", "")).lower() in ("true", "1") and database.startswith("file:"):
        location, _, query = database[len("file:") :].partition("?")
        options = {k: v[-1] for k, v in parse_qs(query).items()}
        mode = options.get("mode") or parsed.query.get("mode")
        return SqliteTarget(Path(location.removeprefix("//")), True, mode == "ro")
    return SqliteTarget(Path(database), False, False)


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _make_engine(url: str, *, read_only: bool) -> Engine:
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except (ArgumentError, ValueError):
        raise DatabaseError(
            f"invalid database URL {redact_url(url)!r}: expected sqlite:///PATH or postgresql+psycopg://user@host/db"
        ) from None
    if backend == "sqlite":
        timeout = parsed.query.get("timeout")
        if timeout is not None:
            try:
                float(str(timeout))
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"invalid database URL {redact_url(url)!r}: timeout must be a number of seconds"
                ) from None
        target = sqlite_target(url)
        connect_args: dict[str, Any] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine_url = url
        if target is not None and read_only and not target.uri:
            # the file cannot be written: open it read-only rather than fail to create a journal
            engine_url = f"sqlite:///file:{target.path.resolve().as_posix()}?mode=ro&uri=true"
        try:
            engine = create_engine(engine_url, connect_args=connect_args)
        except (ArgumentError, ValueError, TypeError) as exc:
            raise InvalidInput(f"invalid database URL {redact_url(url)!r}: {exc}") from None

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not read_only:
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


def sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        if sqlstate(exc) in RETRYABLE_SQLSTATES:
            return True
        message = str(getattr(exc, "orig", exc)).lower()
        return "database is locked" in message or "database is busy" in message or "database table is locked" in message
    return False


def describe(exc: BaseException | None, url: str) -> str:
    orig = getattr(exc, "orig", exc)
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return f"{first} ({redact_url(url)})"


def _denied(exc: DBAPIError, actor: str) -> ModelregError | None:
    """A server refusal (insufficient privilege, a guard trigger) as one line naming the role."""
    state = sqlstate(exc)
    if state not in ("42501", "P0001"):
        return None
    message = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if message.startswith("modelreg:"):
        return AccessDenied(message.removeprefix("modelreg:").strip())
    if "modelreg_begin" in message:  # the writer lock: only roles that write may take it
        return AccessDenied(
            f"{actor} may only read this registry: a write needs the operator, approver or admin role "
            f"(an admin runs `modelreg access grant {actor} operator`)"
        )
    return AccessDenied(f"{actor}: {message} (an admin can grant a role with `modelreg access grant {actor} ROLE`)")


class Tx:
    """A write transaction: the session, who acts, the clock, the policy in
    force and the audit events to append with it."""

    def __init__(
        self,
        session: Session,
        *,
        actor: str,
        os_user: str,
        now: str,
        policy: Policy,
        roles: frozenset[str],
        backend: str,
    ):
        self.session = session
        self.actor = actor
        self.os_user = os_user
        self.now = now
        self.policy = policy
        self.roles = roles
        self.backend = backend
        self.events = audit.Appender(session, server=backend == "postgresql")
        self.after_commit: list[Callable[[], None]] = []

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    def audit(self, action: str, target: str, before: Any = None, after: Any = None) -> None:
        self.events.add(
            self.now,
            self.actor,
            action,
            target,
            before,
            after,
            os_user=self.os_user,
            policy_version=self.policy.version,
        )


class Database:
    def __init__(self, url: str, *, create: bool = False):
        """`create`: this URL may be created when it does not exist yet (the
        default database on first write, or `db upgrade`); any other path that
        does not exist is an error, never a new empty registry."""
        self.url = url
        self.create = create
        self.sqlite = sqlite_target(url) if url.startswith("sqlite") else None
        self.read_only = False
        if self.sqlite is not None:
            path = self.sqlite.path
            if self.sqlite.uri:
                self.read_only = self.sqlite.read_only
            elif path.exists():
                self.read_only = not _writable(path)
        self.engine = _make_engine(url, read_only=self.read_only)
        self.backend = self.engine.dialect.name
        self.is_sqlite = self.backend == "sqlite"
        self.write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        self.writes = 0  # committed write transactions (dispose keeps SQLite's statistics fresh after any)
        self._ready = False
        self._policy_cache: tuple[int, Policy] | None = None

    # -- existence and schema ---------------------------------------------
    def _missing_file(self) -> bool:
        return self.sqlite is not None and not self.sqlite.path.exists()

    def _create_file(self) -> None:
        assert self.sqlite is not None
        path = self.sqlite.path
        if not self.create:
            raise DatabaseError(
                f"no registry at {path}: create one with `modelreg --db {redact_url(self.url)} db upgrade` "
                "(only the default path is created on first use)"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # created 0600 before SQLite touches it; SQLite gives -wal/-shm the same mode
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:
            raise DatabaseError(f"cannot create database file {path}: {exc.strerror}") from None

    def ensure_schema(self, *, for_write: bool = False) -> None:
        """The schema is at this modelreg's revision. An empty registry is
        initialised on the first write where creating it is allowed (once,
        even when several processes start together); reads never create."""
        if self._ready:
            return
        if self._missing_file():
            if not for_write:
                raise DatabaseError(
                    f"no registry at {self.sqlite.path} yet: `modelreg register` creates it on first use "
                    f"(or `modelreg db upgrade`)"
                    if self.create
                    else f"no registry at {self.sqlite.path}: create one with `modelreg --db "
                    f"{redact_url(self.url)} db upgrade` (only the default path is created on first use)"
                )
            self._create_file()
        try:
            state = self._schema_state()
            if state == "empty":
                if not for_write:
                    raise DatabaseError(
                        f"{redact_url(self.url)} holds no registry yet: `modelreg db upgrade` creates one"
                    )
                if self.read_only:
                    raise DatabaseError(f"{redact_url(self.url)} is read-only and holds no registry")
                self._initialise()
                state = self._schema_state()
        except DBAPIError as exc:
            denied = _denied(exc, self.role())
            if denied is not None:
                raise denied from None
            raise DatabaseError(f"cannot open database: {describe(exc, self.url)}") from None
        if state == schema.HEAD:
            self._ready = True
            return
        if state == "foreign":
            raise DatabaseError(f"{redact_url(self.url)} holds tables that are not a modelreg registry")
        if state in schema.REVISIONS:
            raise DatabaseError(
                f"database schema is at revision {state}, this modelreg needs {schema.HEAD}: run `modelreg db upgrade`"
            )
        raise DatabaseError(
            f"database schema revision {state} is newer than this modelreg ({schema.HEAD}): upgrade modelreg"
        )

    def _schema_state(self) -> str:
        with self.engine.connect() as conn:
            return schema.current_revision(conn)

    def _initialise(self) -> None:
        with self.write_engine.connect() as conn, conn.begin():
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": schema.INIT_LOCK_KEY})
            if schema.current_revision(conn) == "empty":
                schema.upgrade(conn, schema.HEAD)

    def revision(self) -> str:
        if self._missing_file():
            return "missing"
        try:
            return self._schema_state()
        except DBAPIError as exc:
            raise DatabaseError(f"cannot open database: {describe(exc, self.url)}") from None

    def upgrade(self, target: str = "head") -> tuple[str, str]:
        if self._missing_file():
            self.create = True
            self._create_file()
        if self.read_only:
            raise DatabaseError(f"{redact_url(self.url)} is read-only: cannot upgrade it")
        try:
            with self.write_engine.connect() as conn, conn.begin():
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": schema.INIT_LOCK_KEY})
                before = schema.current_revision(conn)
                if before == "foreign":
                    raise DatabaseError(f"{redact_url(self.url)} holds tables that are not a modelreg registry")
                if before != "empty" and before not in schema.REVISIONS:
                    raise DatabaseError(
                        f"database schema revision {before} is newer than this modelreg "
                        f"({schema.HEAD}): upgrade modelreg"
                    )
                if (
                    target != "head"
                    and before in schema.REVISIONS
                    and schema.REVISIONS.index(target) < schema.REVISIONS.index(before)
                ):
                    raise InvalidInput(
                        f"database schema is at revision {before}, past {target}: downgrades are not supported"
                    )
                schema.upgrade(conn, target)
                after = schema.current_revision(conn)
        except DBAPIError as exc:
            denied = _denied(exc, "this role")
            if denied is not None:
                raise DatabaseError(f"upgrade refused: {denied.message}") from None
            raise DatabaseError(f"upgrade failed: {describe(exc, self.url)}") from None
        self._ready = False
        return before, after

    def role(self, claimed: str | None = None) -> str:
        """Who the server will say acts: the URL's user on PostgreSQL."""
        if self.is_sqlite:
            return claimed or "this user"
        return make_url(self.url).username or claimed or "this role"

    # -- reading ----------------------------------------------------------
    def run_read(self, fn: Callable[[Session], T]) -> T:
        self.ensure_schema()
        try:
            with Session(self.engine) as session:
                return fn(session)
        except ModelregError:
            raise
        except DBAPIError as exc:
            denied = _denied(exc, self.role())
            if denied is not None:
                raise denied from None
            raise DatabaseError(f"database error: {describe(exc, self.url)}") from None

    # -- the one write path -------------------------------------------------
    def _begin(
        self,
        session: Session,
        *,
        claimed_actor: str,
        claimed_source: str,
        os_user: str,
        rehearsal: str | None,
        dry_run: bool,
    ) -> Tx:
        """Lock the writer, learn who acts, the clock and the policy."""
        if self.is_sqlite:
            actor, roles = claimed_actor, frozenset(ROLES)  # one trust domain: whoever can write the file
            now = clock.stamp(clock.now())
        else:
            session.execute(text(f"SET LOCAL lock_timeout = {PG_LOCK_TIMEOUT_MS}"))
            session.execute(text(f"SET LOCAL statement_timeout = {PG_STATEMENT_TIMEOUT_MS}"))
            # the writer lock (the audit head), who acts, the server's clock and roles: one round trip
            row = session.execute(text("SELECT seq, actor, now, roles FROM modelreg_begin()")).first()
            if row is None:  # no head row to lock: the schema creates it, so someone deleted it
                raise AuditBroken(audit.HEAD_MISSING)
            actor, now, roles = row[1], row[2], frozenset(row[3])
            if claimed_source != "default" and claimed_actor != actor:
                raise AccessDenied(
                    f"on PostgreSQL the actor is the authenticated role {actor!r}; "
                    f"{claimed_source} names {claimed_actor!r} (connect as that role instead)"
                )
        policy = self.current_policy(session)
        if rehearsal is not None:
            if not dry_run and not policy.test_clock:
                raise InvalidInput(
                    f"MODELREG_NOW={rehearsal} only rehearses: use it with --dry-run or read commands "
                    "(a real write is stamped with the real clock unless the policy enables test_clock)"
                )
            now = clock.stamp(clock.parse_instant(rehearsal, what="MODELREG_NOW"))
        tx = Tx(session, actor=actor, os_user=os_user, now=now, policy=policy, roles=roles, backend=self.backend)
        tx.events.check_head()
        return tx

    def current_policy(self, session: Session) -> Policy:
        row = session.execute(
            text("SELECT version, document FROM policy_version ORDER BY version DESC LIMIT 1")
        ).first()
        if row is None:
            return Policy()
        if self._policy_cache is not None and self._policy_cache[0] == row[0]:
            return self._policy_cache[1]
        try:
            policy = Policy.from_document(json.loads(row[1]), f"policy version {row[0]}")
        except (InvalidInput, ValueError) as exc:
            raise DatabaseError(f"the stored policy (version {row[0]}) is unreadable: {exc}") from None
        policy = _with_version(policy, row[0])
        self._policy_cache = (row[0], policy)
        return policy

    def write(
        self,
        fn: Callable[[Tx], T],
        *,
        actor: str,
        actor_source: str = "default",
        os_user: str = "unknown",
        dry_run: bool = False,
    ) -> T:
        """Run fn in one write transaction with its audit events; retry on
        contention, turn exhausted retries into exit 7. A dry run does all
        the work and rolls it back."""
        if self.read_only:
            raise DatabaseError(f"{redact_url(self.url)} is read-only: this command writes")
        self.ensure_schema(for_write=True)
        rehearsal = clock.rehearsal()

        def once() -> T:
            with Session(self.write_engine, expire_on_commit=False) as session:
                session.begin()
                try:
                    tx = self._begin(
                        session,
                        claimed_actor=actor,
                        claimed_source=actor_source,
                        os_user=os_user,
                        rehearsal=rehearsal,
                        dry_run=dry_run,
                    )
                    result = fn(tx)
                    session.flush()
                    tx.events.flush()
                    session.flush()
                except BaseException:
                    session.rollback()
                    raise
                if dry_run:
                    session.rollback()
                else:
                    session.commit()
                    for callback in tx.after_commit:
                        callback()
                return result

        return self._retrying(once, actor)

    def write_telemetry(self, fn: Callable[[Session], T]) -> T:
        """A short write that is not a change to the registry (usage counts):
        no writer lock, no audit event, no role beyond what the SQL itself
        needs; retried on contention like every write."""
        if self.read_only:
            raise DatabaseError(f"{redact_url(self.url)} is read-only: this command writes")
        self.ensure_schema()

        def once() -> T:
            with Session(self.write_engine, expire_on_commit=False) as session, session.begin():
                return fn(session)

        return self._retrying(once, None)

    def _retrying(self, once: Callable[[], T], actor: str | None) -> T:
        """Run one transaction, again on contention; a refusal is one line naming
        the role, exhausted retries exit 7."""
        last: BaseException | None = None
        for attempt in range(WRITE_ATTEMPTS):
            try:
                done = once()
                self.writes += 1
                return done
            except ModelregError:
                raise
            except DBAPIError as exc:
                denied = _denied(exc, self.role(actor))
                if denied is not None:
                    raise denied from None
                if not is_retryable(exc):
                    if isinstance(exc, IntegrityError):
                        raise Conflict(f"conflicting change: {describe(exc, self.url)}") from None
                    if isinstance(exc, (OperationalError, ProgrammingError)) or self.is_sqlite:
                        raise DatabaseError(f"database error: {describe(exc, self.url)}") from None
                    raise
                last = exc
                time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
        waited = (
            "another writer held the registry's write lock (the audit head) past "
            f"{PG_LOCK_TIMEOUT_MS // 1000} s each time"
            if sqlstate(last) == LOCK_TIMEOUT
            else describe(last, self.url)
        )
        raise DatabaseError(
            f"database busy: gave up after {WRITE_ATTEMPTS} attempts: {waited} ({redact_url(self.url)})"
        )

    def refresh_statistics(self) -> None:
        """Keep the planner's statistics fresh after bulk changes (bounded work)."""
        if self.read_only:
            return
        with self.write_engine.connect() as conn, conn.begin():
            _analyse(conn, sqlite=self.is_sqlite)

    def dispose(self) -> None:
        """Close the pool. A SQLite connection that wrote first checks the
        planner's statistics: when `model_version` has doubled (or passed 100
        rows) since the last ANALYZE, a sampled ANALYZE runs (milliseconds at
        100k versions), so a registry grown one version at a time plans its
        queries as well as one loaded in bulk. A write lock held elsewhere just
        skips it (50 ms at most); the next writer catches up."""
        if self.is_sqlite and self.writes and not self.read_only:
            try:
                with self.write_engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA busy_timeout = 50")
                    rows = conn.exec_driver_sql("SELECT count(*) FROM model_version").scalar() or 0
                    try:
                        stat = conn.exec_driver_sql(
                            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'model_version' LIMIT 1"
                        ).scalar()
                    except DBAPIError:  # never analysed: no sqlite_stat1 yet
                        stat = None
                    analysed = int(str(stat).split()[0]) if stat else 0
                    if rows >= max(2 * analysed, 100) and rows != analysed:
                        _analyse(conn, sqlite=True)
                        conn.commit()
            except DBAPIError:
                pass  # busy or damaged: statistics wait for the next writer
        self.engine.dispose()


def _analyse(conn, *, sqlite: bool) -> None:
    """Refresh the planner's statistics: sampled on SQLite (10,000 rows an index:
    about 0.2 s at 1M versions, whatever the size; 1,000 rows rated the
    provider index no better than the status index, because the first
    thousand rows name one provider), the tables `find` and `resolve` plan
    over on PostgreSQL."""
    if sqlite:
        conn.exec_driver_sql("PRAGMA analysis_limit = 10000")
        conn.exec_driver_sql("ANALYZE")
    else:
        conn.exec_driver_sql("ANALYZE model_version, version_attribute, model")


def _with_version(policy: Policy, version: int) -> Policy:
    from dataclasses import replace

    return replace(policy, version=version)
