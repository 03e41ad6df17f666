"""Administration: database schema and copies, client configuration, the
registry's policy, access (PostgreSQL roles), audit verification."""

from __future__ import annotations

from typing import Optional

import typer

from modelreg.cli.app import app, load_config, open_registry, options
from modelreg.cli.output import Output, TerminalView, message, output_options, safe

db_app = typer.Typer(
    help="Schema migrations (alembic), integrity checks and verbatim copies.\n\nExample: modelreg db upgrade",
    no_args_is_help=True,
    rich_markup_mode=None,
)
config_app = typer.Typer(
    help="Client settings: flag > env > file > default.\n\nExample: modelreg config show",
    no_args_is_help=True,
    rich_markup_mode=None,
)
audit_app = typer.Typer(
    help="The hash-chained audit trail.\n\nExample: modelreg audit verify", no_args_is_help=True, rich_markup_mode=None
)
policy_app = typer.Typer(
    help="The registry's policy (stored in the registry, versioned, audited).\n\nExample: modelreg policy show",
    no_args_is_help=True,
    rich_markup_mode=None,
)
access_app = typer.Typer(
    help="Who holds which role (PostgreSQL).\n\nExample: modelreg access grant alice approver",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(db_app, name="db", rich_help_panel="Administration")
app.add_typer(config_app, name="config", rich_help_panel="Administration")
app.add_typer(policy_app, name="policy", rich_help_panel="Administration")
app.add_typer(access_app, name="access", rich_help_panel="Administration")
app.add_typer(audit_app, name="audit", rich_help_panel="Audit")

POLICY_FIELDS = ("version", "policy", "alerts", "test_clock")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create the registry, or upgrade its schema to the newest revision (explicit; never automatic on a non-empty database).

    Example: modelreg db upgrade

    On PostgreSQL this also creates the group roles (modelreg_reader, _operator, _approver,
    _admin) and installs the grants, guards and audit triggers; a role that may not create
    roles gets the SQL to hand to a database administrator, and nothing is changed.
    """
    from modelreg.config import redact_url
    from modelreg.errors import InvalidInput
    from modelreg.store.database import Database
    from modelreg.store.schema import REVISIONS

    if revision != "head" and revision not in REVISIONS:
        raise InvalidInput(f"unknown revision {revision!r} (known: {', '.join(REVISIONS)}, head)")
    cfg = load_config(ctx)
    database = Database(cfg.database_url, create=True)
    before, after = database.upgrade(revision)
    database.dispose()
    url = redact_url(cfg.database_url)
    message(f"{url}: {before} -> {after}" if before != after else f"{url}: already at {after}")


@db_app.command("status")
@output_options(("url", "revision", "head", "up_to_date"))
def db_status(ctx: typer.Context, out: Output = Output()) -> None:
    """Show the database URL, its schema revision and the revision this modelreg needs.

    Example: modelreg db status
    """
    from modelreg.config import redact_url
    from modelreg.store.database import Database
    from modelreg.store.schema import HEAD, REVISIONS

    cfg = load_config(ctx)
    database = Database(cfg.database_url)
    current = database.revision()
    database.dispose()
    data = {"url": redact_url(cfg.database_url), "revision": current, "head": HEAD, "up_to_date": current == HEAD}
    if out.is_json:
        out.json(data)
        return
    state = (
        "up to date"
        if current == HEAD
        else "no registry yet (created on first write, or `modelreg db upgrade`)"
        if current in ("empty", "missing")
        else "run `modelreg db upgrade`"
        if current in REVISIONS
        else "not a modelreg registry"
        if current == "foreign"
        else "newer than this modelreg: upgrade modelreg"
    )
    message(f"{data['url']}\nrevision {current}, head {HEAD}: {state}")


@db_app.command("check")
@output_options(("ok", "storage", "audit", "statuses"))
def db_check(ctx: typer.Context, out: Output = Output()) -> None:
    """Check the database: storage integrity (SQLite's integrity_check), the audit chain, stored statuses.

    Example: modelreg db check

    Exit 0 when everything holds, 7 when the storage is damaged, 1 when the audit chain is broken.
    """
    with open_registry(ctx) as reg:
        report = reg.check_database()
    if out.is_json:
        out.json(report)
    else:
        message(f"storage: {report['storage']}")
        message(f"audit chain: {report['audit']}")
        message(f"statuses: {report['statuses']}")
    reg.raise_for_check(report)


@db_app.command("copy")
@output_options(("tables", "events", "head"))
def db_copy(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="SRC_URL"),
    target: str = typer.Argument(..., metavar="DST_URL"),
    out: Output = Output(),
) -> None:
    """Copy a registry verbatim into an empty one (history included; the audit chain is verified on both sides).

    Example: modelreg db copy sqlite:///registry.db postgresql+psycopg://admin@db/registry

    The target must be empty (a new SQLite file is created). On PostgreSQL, an admin's act.
    """
    from modelreg.config import load_config as load
    from modelreg.store import copy
    from modelreg.store.database import Database

    opts = options(ctx)
    cfg = load(db=target, actor=opts.actor, config_path=opts.config)
    src, dst = Database(source), Database(target, create=True)
    try:
        result = copy.copy(src, dst, actor=cfg.actor, actor_source=cfg.actor_source, os_user=cfg.os_user)
    finally:
        src.dispose()
        dst.dispose()
    if out.is_json:
        out.json(result)
    else:
        message(
            f"copied {sum(result['tables'].values())} rows and {result['events']} audit events; "
            f"the chains match at {result['head']}"
        )


@config_app.command("show")
@output_options(("key", "value", "source"), plain=True)
def config_show(ctx: typer.Context, out: Output = Output()) -> None:
    """Print each effective client setting and where it came from (the policy: `modelreg policy show`).

    Example: modelreg config show
    """
    out.rows(load_config(ctx).shown(), [("key", "KEY"), ("value", "VALUE"), ("source", "SOURCE")])


@config_app.command("set")
def config_set(ctx: typer.Context, key: str = typer.Argument(...), value: str = typer.Argument(...)) -> None:
    """Write a client setting (database.url, actor) into the config file, keeping every other key.

    Example: modelreg config set database.url postgresql+psycopg://alice@db/registry
    """
    from modelreg.config import redact_url, set_value

    cfg = load_config(ctx)
    stored = set_value(cfg.config_path, key, value)
    message(f"{cfg.config_path}: {key} = {redact_url(stored)!r}")


@policy_app.command("show")
@output_options(POLICY_FIELDS)
def policy_show(ctx: typer.Context, out: Output = Output()) -> None:
    """Print the policy in force, its version, and whether a test clock is enabled.

    Example: modelreg policy show
    """
    with open_registry(ctx) as reg:
        policy = reg.policy()
    doc = policy.to_document()
    if out.is_json:
        out.json({"version": policy.version, **doc, "test_clock": policy.test_clock})
        return
    import tomli_w

    text = tomli_w.dumps(doc)
    import sys

    sys.stdout.write(
        f"# policy version {policy.version}"
        + (" (TEST CLOCK ENABLED: MODELREG_NOW stamps real writes)" if policy.test_clock else "")
        + "\n"
        + safe(text, multiline=True)
    )


@policy_app.command("set")
@output_options(("version", "changed", "before", "after"))
def policy_set(
    ctx: typer.Context, key: str = typer.Argument(...), value: str = typer.Argument(...), out: Output = Output()
) -> None:
    """Change one policy key (lists comma-separated); an admin's act on PostgreSQL, audited with before/after.

    Example: modelreg policy set approvers alice,bob
    """
    with open_registry(ctx) as reg:
        result = reg.set_policy(key, value)
    if out.is_json:
        out.json(result)
    elif result["changed"]:
        message(
            f"policy version {result['version']}: "
            + ", ".join(f"{k}: {result['before'][k]!r} -> {v!r}" for k, v in result["after"].items())
        )
    else:
        message(f"policy unchanged (version {result['version']})")


@policy_app.command("apply")
@output_options(("version", "changed", "before", "after"))
def policy_apply(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; change nothing."),
    out: Output = Output(),
) -> None:
    """Replace the policy with a TOML file ([policy] and [alerts] tables; keys left out take their defaults).

    Example: modelreg policy apply policy.toml --dry-run
    """
    import tomllib

    from modelreg.errors import InvalidInput
    from modelreg.textfile import read_text

    text = read_text(file, "a policy file (TOML)")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{file}: malformed TOML: {exc}") from None
    with open_registry(ctx) as reg:
        result = reg.apply_policy(document, source=file, dry_run=dry_run)
    if out.is_json:
        out.json(result)
        return
    prefix = "dry run: would write" if dry_run else "wrote"
    if result["changed"]:
        message(
            f"{prefix} policy version {result['version']}: "
            + ", ".join(f"{k}: {result['before'][k]!r} -> {v!r}" for k, v in result["after"].items())
        )
    else:
        message(f"policy unchanged (version {result['version']})")


@policy_app.command("history")
@output_options(("version", "created_at", "created_by", "document"), plain=True)
def policy_history(ctx: typer.Context, out: Output = Output()) -> None:
    """Every version of the policy, oldest first.

    Example: modelreg policy history
    """
    with open_registry(ctx) as reg:
        rows = reg.policy_history()
    out.rows(
        rows,
        [("version", "VERSION"), ("created_at", "CREATED"), ("created_by", "BY")],
        view=TerminalView(times=("created_at",)),
    )


@access_app.command("grant")
def access_grant(
    ctx: typer.Context,
    user: str = typer.Argument(..., metavar="USER"),
    role: str = typer.Argument(..., metavar="ROLE", help="reader | operator | approver | admin"),
) -> None:
    """Give a PostgreSQL login role one of modelreg's roles (admin only; audited).

    Example: modelreg access grant alice approver
    """
    _change_access(ctx, user, role, grant=True)


@access_app.command("revoke")
def access_revoke(
    ctx: typer.Context,
    user: str = typer.Argument(..., metavar="USER"),
    role: str = typer.Argument(..., metavar="ROLE", help="reader | operator | approver | admin"),
) -> None:
    """Take one of modelreg's roles from a PostgreSQL login role (admin only; audited).

    Example: modelreg access revoke alice approver
    """
    _change_access(ctx, user, role, grant=False)


def _change_access(ctx: typer.Context, user: str, role: str, *, grant: bool) -> None:
    with open_registry(ctx) as reg:
        result = reg.access(user, role, grant=grant)
    message(f"{result['user']} {'now holds' if grant else 'no longer holds'} {result['role']}")


@access_app.command("list")
@output_options(("user", "roles"), plain=True)
def access_list(ctx: typer.Context, out: Output = Output()) -> None:
    """Who holds which modelreg role.

    Example: modelreg access list
    """
    with open_registry(ctx) as reg:
        rows = reg.access_list()
    out.rows(rows, [("user", "USER"), ("roles", "ROLES")])


@audit_app.command("verify")
@output_options(("ok", "events", "first_bad", "reason", "head", "test_clock"))
def audit_verify(
    ctx: typer.Context,
    head: Optional[str] = typer.Option(
        None, "--head", help="Also prove that the chain up to this recorded head was not rewritten.", metavar="SEQ:HASH"
    ),
    out: Output = Output(),
) -> None:
    """Verify the audit hash chain; exit 1 naming the first bad event.

    Example: modelreg audit verify --head 1042:9f86d081884c7d65...
    """
    from modelreg.errors import AuditBroken

    with open_registry(ctx) as reg:
        result = reg.verify_audit(anchor=head)
        test_clock = reg.policy().test_clock
    data = {
        "ok": result.ok,
        "events": result.events,
        "first_bad": result.first_bad,
        "reason": result.reason,
        "head": f"{result.head[0]}:{result.head[1]}" if result.head else None,
        "test_clock": test_clock,
    }
    if out.is_json:
        out.json(data)
    if not result.ok:
        raise AuditBroken(f"audit chain broken at event {result.first_bad}: {result.reason}")
    if not out.is_json:
        anchored = f"; anchored at {head.split(':')[0]}" if head else ""
        clock_note = "; NOTE: the policy enables a test clock (MODELREG_NOW stamps real writes)" if test_clock else ""
        message(f"audit chain intact: {result.events} events{anchored}{clock_note}")


@audit_app.command("head")
@output_options(("seq", "hash", "head"))
def audit_head(ctx: typer.Context, out: Output = Output()) -> None:
    """Print the chain's head as SEQ:HASH, to keep elsewhere and check later with `audit verify --head`.

    Example: modelreg audit head >> /var/lib/modelreg/heads.txt
    """
    import sys

    with open_registry(ctx) as reg:
        seq, digest = reg.audit_head()
    if out.is_json:
        out.json({"seq": seq, "hash": digest, "head": f"{seq}:{digest}"})
    else:
        sys.stdout.write(f"{seq}:{digest}\n")
