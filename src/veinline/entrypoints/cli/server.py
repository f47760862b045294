"""`veinline serve`: the JSON API and the web pages on one port."""

from __future__ import annotations

from typing import Annotated

import typer

from veinline.config import Settings
from veinline.entrypoints.cli.catalogue import load_demo_cases
from veinline.entrypoints.cli.context import cli_context

# More server processes than this only queue on the database and the CPU.
MAX_WORKERS = 32


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    demo: Annotated[bool, typer.Option(help="Load the seed catalogue and demo data.")] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_WORKERS,
            help="Server processes (uvicorn workers), each with its own connection pool; "
            "more than one needs PostgreSQL (VEINLINE_DATABASE_URL).",
        ),
    ] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (uvicorn's access log).")
    ] = True,
) -> None:
    """Run the server: JSON API under /api/v1 and the web pages, on one port.

    The database is migrated first; with --demo (the default) the seed catalogue and
    demo data are loaded (idempotent). In production on PostgreSQL, run one worker per
    CPU core (README, "Serving in production").
    """
    import uvicorn

    from veinline.adapters.seed import demo_command
    from veinline.entrypoints.http.app import create_app

    cli = cli_context()
    if workers > 1 and Settings.from_env().is_embedded:
        # The embedded SQLite file takes one writer at a time: several processes would
        # queue on its lock (and on each other's busy timeout), not serve more.
        cli.fail(
            f"--workers {workers} needs PostgreSQL: the embedded SQLite database is served "
            "by one worker. Set VEINLINE_DATABASE_URL to a PostgreSQL database, or run "
            "without --workers."
        )
    application = cli.app(migrate="always")
    if demo:
        with cli.friendly_errors():
            summary = cli.handle(demo_command())
            cli.out.print(f"demo data: {summary.total_created()} records created")
            load_demo_cases(application)
    settings = application.settings
    if workers > 1:
        # Each worker is a fresh process that bootstraps its own app from the same
        # environment (http/app.py, from_env); this one only starts and watches them.
        application.engine.dispose()
        uvicorn.run(
            "veinline.entrypoints.http.app:from_env",
            factory=True,
            workers=workers,
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            access_log=access_log,
        )
        return
    uvicorn.run(
        create_app(application),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        access_log=access_log,
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
