"""`veinline user`: users, their roles and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from veinline.domain.sign_in import TOKEN_ID_LENGTH, TokenKind, TokenScope
from veinline.domain.user import Role, User
from veinline.entrypoints.cli.context import cli_context
from veinline.services import commands

user_app = typer.Typer(help="Users, their roles and API tokens.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name, lower case.")],
    name: Annotated[str, typer.Option(help="Printed name, shown with signatures.")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(r.value for r in Role)}.")],
    site: Annotated[str | None, typer.Option(help="Site code the user works at.")] = None,
    password: Annotated[
        str | None,
        typer.Option(envvar="VEINLINE_NEW_PASSWORD", help="Password (prompted when absent)."),
    ] = None,
    also_at: Annotated[
        list[str] | None,
        typer.Option(
            "--also-at",
            help="Another site the user works at: SITE (same role) or SITE:ROLE; repeatable.",
        ),
    ] = None,
) -> None:
    """Create a user with a role (and a password to sign in and sign with).

    A user sees and acts on the records of the sites they work at only: their site, and
    each --also-at site (e.g. --site demo-hk-treatment --also-at demo-hk-apheresis)."""
    cli = cli_context()
    with cli.friendly_errors():
        parsed_role = Role.parse(role)
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    user = cli.handle(
        commands.CreateUser(
            username=username,
            printed_name=name,
            role=parsed_role,
            site_code=site,
            password=password,
            also_at=list(also_at or []),
        )
    )
    cli.out.print(f"created {user.username} ({user.role.label})")


@user_app.command("grant")
def user_grant(
    username: Annotated[str, typer.Argument(help="The user.")],
    site: Annotated[str, typer.Argument(help="The site code they will also work at.")],
    role: Annotated[
        str | None, typer.Option(help="Their role there (default: their own role).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (ledgered).")] = "works at one more site",
) -> None:
    """Let a user work at one more site: they then see and act on its records."""
    cli = cli_context()
    with cli.friendly_errors():
        parsed = Role.parse(role) if role else None
    user = cli.handle(commands.GrantSite(username, site, parsed, reason))
    cli.out.print(f"{user.username} works at {_sites(user)}", highlight=False)


@user_app.command("revoke")
def user_revoke(
    username: Annotated[str, typer.Argument(help="The user.")],
    site: Annotated[str, typer.Argument(help="The site they no longer work at.")],
    reason: Annotated[str, typer.Option(help="Why (ledgered).")] = "no longer works there",
) -> None:
    """Withdraw a user's work at one site (not their home site: deactivate them instead)."""
    cli = cli_context()
    user = cli.handle(commands.RevokeSite(username, site, reason))
    cli.out.print(f"{user.username} works at {_sites(user) or 'no site'}", highlight=False)


def _sites(user: User) -> str:
    return ", ".join(f"{m.site_code} ({m.role.label})" for m in user.memberships)


@user_app.command("list")
def user_list() -> None:
    """List users and their roles."""
    cli = cli_context()
    with cli.app().uow() as uow:
        users = uow.users.list()
    table = Table()
    for column in ("user", "printed name", "role", "sites", "active"):
        table.add_column(column)
    for u in users:
        table.add_row(
            u.username,
            u.printed_name,
            u.role.label,
            _sites(u) or "-",
            "yes" if u.active else "no",
        )
    cli.out.print(table)


@user_app.command("token")
def user_token(
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    password: Annotated[
        str | None, typer.Option(envvar="VEINLINE_PASSWORD", help="The user's password.")
    ] = None,
    scope: Annotated[str, typer.Option(help="read (GET only) or write.")] = "write",
) -> None:
    """Sign in and print an API token (Authorization: Bearer TOKEN)."""
    from veinline.services import auth

    cli = cli_context()
    application = cli.app()
    if password is None:
        password = typer.prompt("password", hide_input=True)
    with cli.friendly_errors():
        wanted = TokenScope.parse(scope)
        user = auth.authenticate(
            application.uow(),
            username,
            password,
            hasher=application.hasher,
            clock=application.clock,
        )
    print(
        auth.issue_token(
            application.uow(), user, kind=TokenKind.API, clock=application.clock, scope=wanted
        )
    )


@user_app.command("password")
def user_password(
    old: Annotated[
        str | None, typer.Option(envvar="VEINLINE_PASSWORD", help="Your current password.")
    ] = None,
    new: Annotated[
        str | None,
        typer.Option(envvar="VEINLINE_NEW_PASSWORD", help="The new password (prompted)."),
    ] = None,
) -> None:
    """Change your own password (the --as user's), proving the current one; every
    session and API token of yours is revoked."""
    cli = cli_context()
    if old is None:
        old = typer.prompt("current password", hide_input=True)
    if new is None:
        new = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    user = cli.handle(
        commands.ChangePassword(username=cli.acting_user, old_password=old, new_password=new)
    )
    cli.out.print(f"password of {user.username} changed; every token of theirs is revoked")


@user_app.command("set-password")
def user_set_password(
    username: Annotated[str, typer.Argument(help="The user whose password is reset.")],
    password: Annotated[
        str | None,
        typer.Option(envvar="VEINLINE_NEW_PASSWORD", help="The new password (prompted)."),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger).")] = "password reset",
) -> None:
    """Reset a user's password (an administrator): their tokens are revoked and a lockout
    of the name is cleared; the user changes it with `veinline user password`."""
    cli = cli_context()
    if password is None:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    user = cli.handle(commands.SetPassword(username=username, password=password, reason=reason))
    cli.out.print(f"password of {user.username} set; their tokens are revoked")


@user_app.command("deactivate")
def user_deactivate(
    username: Annotated[str, typer.Argument(help="The user whose access ends.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger).")],
) -> None:
    """Deactivate a user (an administrator): no sign-in, no signature, tokens revoked."""
    cli = cli_context()
    user = cli.handle(commands.DeactivateUser(username=username, reason=reason))
    cli.out.print(f"deactivated {user.username}; their tokens are revoked")


token_app = typer.Typer(help="Your sessions and API tokens: list and revoke.", no_args_is_help=True)


@token_app.command("list")
def token_list() -> None:
    """List the --as user's live sessions and API tokens (ids, never the tokens)."""
    from veinline.services import auth

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors():
        user = application.user(cli.acting_user)
    tokens = auth.tokens_of(application.uow(), user, clock=application.clock)
    table = Table()
    table.add_column("id", no_wrap=True, min_width=TOKEN_ID_LENGTH)
    for column in ("kind", "scope", "created", "last used", "expires"):
        table.add_column(column, no_wrap=True)

    def when(moment: datetime | None) -> str:
        return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"

    for token in tokens:
        table.add_row(
            token.id,
            token.kind.value,
            token.scope.value if token.scope else "-",
            when(token.created_at),
            when(token.last_used_at),
            when(token.expires_at),
        )
    cli.out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The id `veinline token list` shows.")],
) -> None:
    """Revoke one of the --as user's tokens."""
    from veinline.services import auth

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors():
        user = application.user(cli.acting_user)
        revoked = auth.revoke_token_by_id(application.uow(), user, token_id)
    cli.out.print(f"revoked {revoked.kind.value} token {revoked.id}")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
