"""`veinline work`: what waits on the acting user now, and their alerts (the home
page's queue; docs/architecture.md, "Work queues")."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from veinline.entrypoints.cli.context import cli_context

_URGENCY = {2: "urgent", 1: "today", 0: ""}
# A page's size, as every list's (services/unit_of_work.py, PAGE_SIZE and MAX_PAGE_SIZE;
# not imported here, so that `veinline --help` does not load the services).
_PAGE_SIZE = 50
_MAX_PAGE_SIZE = 100


def work_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the queue as JSON (as GET /api/v1/me/work).")
    ] = False,
    page: Annotated[int, typer.Option("--page", min=1, help="Which page of the queue.")] = 1,
    limit: Annotated[
        int,
        typer.Option("--limit", min=1, max=_MAX_PAGE_SIZE, help="Items a page (at most 100)."),
    ] = _PAGE_SIZE,
) -> None:
    """List what waits on you now, most urgent first, then oldest first, a page at a time
    (--limit items, --page N).

    Shows the cases, batches, shipments, deviations, QC tests, releases, follow-up
    visits and IND safety reports waiting on your action at the sites you work at, with
    why each waits and where it is done, and the alerts you must see (a grade 3 or
    higher CRS or ICANS, a shipment whose receipt is blocked, an overdue safety report).
    Act as someone with --as (e.g. `veinline --as qa work`).
    """
    from veinline.entrypoints.views.work import work_queue

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors():
        user = application.user(cli.acting_user)
        with application.uow() as uow:
            queue = work_queue(uow, user, application.clock(), page=page, page_size=limit)
    if as_json:
        cli.print_json(queue)
        return
    _print(queue)


def _print(queue: dict[str, Any]) -> None:
    from rich.table import Table

    cli = cli_context()
    for alert in queue["alerts"]:
        cli.out.print(f"[bold red]alert:[/] {alert['message']}", highlight=False)
    if not queue["items"]:
        cli.out.print(f"Nothing waits on {queue['user']} ({queue['role_label']}) now.")
        return
    table = Table(title=f"Waiting on {queue['user']} ({queue['role_label']})")
    for column in ("", "What", "Why", "Since", "Where"):
        table.add_column(column)
    for item in queue["items"]:
        table.add_row(
            _URGENCY.get(int(item["urgency"]), ""),
            str(item["title"]),
            str(item["why"]),
            str(item["since"] or ""),
            str(item["href"]),
        )
    cli.out.print(table)
    if queue["pages"] > 1:
        limit = f" --limit {queue['page_size']}" if queue["page_size"] != _PAGE_SIZE else ""
        after = (
            f"; next: veinline work --page {queue['page'] + 1}{limit}"
            if queue["page"] < queue["pages"]
            else ""
        )
        cli.out.print(
            f"Page {queue['page']} of {queue['pages']}, {queue['total']} items in all{after}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.command("work")(work_command)
