"""`veinline user`: users, their roles and API tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from veinline.domain.user import Role
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
) -> None:
    """Create a user with a role (and a password to sign in and sign with)."""
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
        )
    )
    cli.out.print(f"created {user.username} ({user.role.label})")


@user_app.command("list")
def user_list() -> None:
    """List users and their roles."""
    cli = cli_context()
    with cli.app().uow() as uow:
        users = uow.users.list()
    table = Table()
    for column in ("user", "printed name", "role", "site", "active"):
        table.add_column(column)
    for u in users:
        table.add_row(
            u.username,
            u.printed_name,
            u.role.label,
            u.site_code or "-",
            "yes" if u.active else "no",
        )
    cli.out.print(table)


@user_app.command("token")
def user_token(
    username: Annotated[str, typer.Argument(help="The user the token acts as.")],
    password: Annotated[
        str | None, typer.Option(envvar="VEINLINE_PASSWORD", help="The user's password.")
    ] = None,
) -> None:
    """Sign in and print an API token (Authorization: Bearer TOKEN)."""
    from veinline.services import auth

    cli = cli_context()
    application = cli.app()
    if password is None:
        password = typer.prompt("password", hide_input=True)
    with cli.friendly_errors():
        user = auth.authenticate(application.uow(), username, password, hasher=application.hasher)
    print(auth.issue_token(application.uow(), user, kind="api", clock=application.clock))


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
