"""`veinline db`: create and upgrade the schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from veinline.entrypoints.cli.context import cli_context

if TYPE_CHECKING:
    from veinline.bootstrap import App

db_app = typer.Typer(help="Database schema: create and upgrade.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the newest migration (Alembic)."""
    cli = cli_context()
    application = cli.app(migrate="never")
    with cli.friendly_errors():
        application.migrate()
    cli.out.print(f"database at revision {_revision(application)}: {_where(application)}")


@db_app.command("status")
def db_status() -> None:
    """Show where the database is and whether its schema is current."""
    from veinline.adapters import database

    cli = cli_context()
    application = cli.app(migrate="never")
    current = database.current_revision(application.engine)
    head = database.head_revision(application.engine)
    cli.out.print(f"database: {_where(application)}")
    cli.out.print(f"revision: {current or 'none'} (newest: {head})")
    if current != head:
        raise typer.Exit(1)


def _revision(application: App) -> str:
    from veinline.adapters import database

    return database.current_revision(application.engine) or "none"


def _where(application: App) -> str:
    return application.engine.url.render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
