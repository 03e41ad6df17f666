"""`modelreg token`: bearer tokens for `modelreg serve --require-token`."""

from __future__ import annotations

import typer

from modelreg.cli.app import app, open_registry
from modelreg.cli.output import Output, message, output_options

token_app = typer.Typer(
    help="Bearer tokens for `serve --require-token` (admin; only a hash is stored).\n\n"
    "Example: modelreg token create checkout-api",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(token_app, name="token", rich_help_panel="Administration")
TOKEN_FIELDS = ("name", "status", "created_at", "created_by", "revoked_at", "revoked_by")


@token_app.command("create")
@output_options((*TOKEN_FIELDS, "token"))
def token_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The consumer its requests count for, e.g. checkout-api."),
    out: Output = Output(),
) -> None:
    """Create a token and print it, once, on stdout (the registry keeps only its SHA-256).

    Example: TOKEN=$(modelreg token create checkout-api)
    """
    with open_registry(ctx) as reg:
        result = reg.create_token(name)
    if out.is_json:
        out.json(result)
        return
    typer.echo(result["token"])
    message(f"token {result['name']!r} created; it is shown only now: keep it in your secret store")


@token_app.command("revoke")
@output_options(TOKEN_FIELDS)
def token_revoke(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME"), out: Output = Output()) -> None:
    """Revoke a token: a running server refuses it (401) once the audit head moves, within a second.

    Example: modelreg token revoke checkout-api
    """
    with open_registry(ctx) as reg:
        result = reg.revoke_token(name)
    out.json(result) if out.is_json else message(f"token {result['name']!r} revoked")


@token_app.command("list")
@output_options(TOKEN_FIELDS, plain=True)
def token_list(ctx: typer.Context, out: Output = Output()) -> None:
    """Tokens by name, with who created or revoked them (never the tokens).

    Example: modelreg token list
    """
    with open_registry(ctx) as reg:
        rows = reg.list_tokens()
    out.rows(
        rows,
        [
            ("name", "NAME"),
            ("status", "STATUS"),
            ("created_at", "CREATED"),
            ("created_by", "BY"),
            ("revoked_at", "REVOKED"),
        ],
    )
