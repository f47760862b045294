"""`veinline identifier`: issue DINs and chain-of-identity identifiers."""

from __future__ import annotations

from typing import Annotated

import typer

from veinline.domain.identifiers import IdentifierKind
from veinline.entrypoints.cli.context import cli_context
from veinline.services import commands

identifier_app = typer.Typer(
    help="Issue DINs and chain-of-identity identifiers.", no_args_is_help=True
)


@identifier_app.command("issue")
def identifier_issue(
    kind: Annotated[str, typer.Argument(help="din or coi.")],
    fin: Annotated[str, typer.Option(help="Facility identification number, e.g. A9995.")],
    purpose: Annotated[str, typer.Option(help="What the identifier is for.")],
) -> None:
    """Issue the next DIN (with its check character) or CoI identifier of a facility."""
    cli = cli_context()
    try:
        parsed = IdentifierKind(kind.lower())
    except ValueError:
        cli.fail(f"kind must be din or coi, not {kind!r}")
    issued = cli.handle(commands.IssueIdentifier(kind=parsed, fin=fin.upper(), purpose=purpose))
    suffix = f" (check character {issued.check_character})" if issued.check_character else ""
    cli.out.print(f"{issued.value}{suffix}", highlight=False)
    cli.out.print(f"barcode data: {issued.barcode_data}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(identifier_app, name="identifier")
