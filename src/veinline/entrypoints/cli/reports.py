"""`veinline report`: counts over the network's records, without patient data."""

from __future__ import annotations

from typing import Annotated

import typer

from veinline.entrypoints.cli.context import cli_context

report_app = typer.Typer(help="Reports over the network's records.", no_args_is_help=True)


@report_app.command("bookings")
def report_bookings(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Apheresis bookings: first bookings, reschedules by coded reason (patient unwell,
    slot moved by the facility, logistics, ...), back-entries, per apheresis unit."""
    from rich.table import Table

    from veinline.entrypoints.views.bookings import booking_report

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors():
        report = booking_report(application.uow(), application.user(cli.acting_user))
    if as_json:
        cli.print_json(report)
        return
    cli.out.print(
        f"{report['bookings']} bookings of {report['cases']} cases; "
        f"{report['reschedules']} rescheduled (rate {report['reschedule_rate']:.1%}); "
        f"{report['back_entries']} entered after the fact"
    )
    reasons = Table("reason", "count", title="Reschedules by reason")
    for row in report["by_reason"]:
        reasons.add_row(row["label"], str(row["count"]))
    cli.out.print(reasons)
    units = Table("apheresis unit", "booked", "rescheduled")
    for row in report["by_apheresis_site"]:
        units.add_row(row["site"], str(row["booked"]), str(row["rescheduled"]))
    cli.out.print(units)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
