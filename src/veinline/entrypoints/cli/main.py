"""The `veinline` command line: the root Typer app and `main()`.

Every command that changes a record acts as a named user (`--as`, or the
VEINLINE_USER variable; the `system` service account by default) and goes through the
message bus, so its ledger entry is written in the same transaction.
Exit codes: 0 done, 1 a check failed (ledger broken, check character wrong),
2 bad input or a refused request. Each command group lives in its own module and
registers itself here; what they share is `context.CliContext`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from veinline.domain.user import SYSTEM_USERNAME
from veinline.entrypoints.cli import (
    backup,
    catalogue,
    db,
    grading,
    identifiers,
    isbt,
    journey,
    ledger,
    manufacturing,
    planning,
    planning_records,
    server,
    simulation,
    trials,
    users,
)
from veinline.entrypoints.cli.context import cli_context

app = typer.Typer(
    name="veinline",
    help=(
        "veinline carries a patient's cells from the treatment centre through collection,\n"
        "manufacturing, QC, release, shipping and infusion, keeping the chain of identity\n"
        "and custody and a ledger that stands in an inspection.\n\n"
        "Start the server with `veinline serve`; see each command's --help."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _global(
    acting_user: Annotated[
        str,
        typer.Option(
            "--as",
            envvar="VEINLINE_USER",
            help="The user the command acts as; every ledger entry names them.",
        ),
    ] = SYSTEM_USERNAME,
) -> None:
    cli_context().act_as(acting_user)


# The order of registration is the order of `veinline --help`.
for group in (
    server,
    db,
    backup,
    ledger,
    isbt,
    catalogue,
    users,
    identifiers,
    journey,
    manufacturing,
    trials,
    planning_records,
    planning,
    simulation,
    grading,
):
    group.register(app)


def main() -> None:
    app()


__all__ = ["app", "main"]
