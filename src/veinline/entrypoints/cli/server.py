"""`veinline serve`: the JSON API and the web pages on one port."""

from __future__ import annotations

from typing import Annotated

import typer

from veinline.entrypoints.cli.catalogue import load_demo_cases
from veinline.entrypoints.cli.context import cli_context


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    demo: Annotated[bool, typer.Option(help="Load the seed catalogue and demo data.")] = True,
) -> None:
    """Run the server: JSON API under /api/v1 and the web pages, on one port.

    The database is migrated first; with --demo (the default) the seed catalogue and
    demo data are loaded (idempotent).
    """
    import uvicorn

    from veinline.adapters.seed import demo_command
    from veinline.entrypoints.http.app import create_app

    cli = cli_context()
    application = cli.app(migrate="always")
    if demo:
        with cli.friendly_errors():
            summary = cli.handle(demo_command())
            cli.out.print(f"demo data: {summary.total_created()} records created")
            load_demo_cases(application)
    settings = application.settings
    uvicorn.run(
        create_app(application),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
