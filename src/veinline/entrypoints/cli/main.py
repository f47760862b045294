"""The `veinline` command line: the root Typer app and `main()`.

Every command that changes a record acts as a named user (`--as`, or the
VEINLINE_USER variable; the `system` service account by default) and goes through the
message bus, so its ledger entry is written in the same transaction.
Exit codes: 0 done, 1 a check failed (ledger broken, check character wrong),
2 bad input or a refused request. Each command group lives in its own module and
registers itself here; what they share is `context.CliContext`.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from veinline.domain.user import SYSTEM_USERNAME
from veinline.entrypoints.cli import (
    backup,
    catalogue,
    db,
    grading,
    identifiers,
    inventory,
    isbt,
    jobs,
    journey,
    ledger,
    manufacturing,
    planning,
    planning_records,
    reports,
    server,
    simulation,
    trials,
    users,
    work,
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
    inventory,
    trials,
    planning_records,
    planning,
    simulation,
    jobs,
    reports,
    grading,
    work,
):
    group.register(app)


def command_app(args: Sequence[str]) -> typer.Typer:
    """The root app holding only the group or command `args` name, or the whole app when
    they name none (no arguments, --help, a misspelt name). Typer turns every registered
    command into a Click command on each start, reading each function's signature; doing
    it for the one command asked for keeps the start short. What runs is the same."""
    name = _command_name(args)
    groups = [info for info in app.registered_groups if info.name == name]
    commands = [info for info in app.registered_commands if info.name == name]
    if name is None or not (groups or commands):
        return app
    narrow = copy.copy(app)
    narrow.registered_groups = groups
    narrow.registered_commands = commands
    return narrow


def _command_name(args: Sequence[str]) -> str | None:
    """The first word that is neither the root's option nor its value."""
    words = iter(args)
    for word in words:
        if word == "--as":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main() -> None:
    command_app(sys.argv[1:])()


__all__ = ["app", "command_app", "main"]
