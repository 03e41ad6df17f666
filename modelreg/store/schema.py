"""Schema revisions: reading the current one cheaply, upgrading with alembic.

HEAD must equal the newest alembic revision (a test checks it); keeping it
here means opening the database does not import alembic.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]  # oldest first
HEAD = REVISIONS[-1]
INIT_LOCK_KEY = 7_270_101  # pg_advisory_xact_lock key guarding initialisation
MIGRATIONS = Path(__file__).with_name("migrations")


def current_revision(conn) -> str:
    """'empty', 'foreign' (tables but no alembic_version), or the revision id."""
    # the common case in one query; the inspector only when that table is missing
    if conn.dialect.name == "sqlite":
        found = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        ).first()
    else:
        found = conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is not None or None
    if found:
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return row[0] if row else "empty"
    return "foreign" if inspect(conn).get_table_names() else "empty"


def alembic_config(conn=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(conn, target: str = "head") -> None:
    """Upgrade on an open connection, inside the caller's transaction."""
    from alembic import command

    command.upgrade(alembic_config(conn), target)


def script_head() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())
