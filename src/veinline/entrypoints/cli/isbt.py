"""`veinline isbt`: check characters, validation and barcode parsing (no database)."""

from __future__ import annotations

from typing import Annotated

import typer

from veinline.domain import isbt128
from veinline.entrypoints.cli.context import cli_context

isbt_app = typer.Typer(
    help="ISBT 128 identity: check characters, validation and barcode parsing (no database).",
    no_args_is_help=True,
)


@isbt_app.command("check-char")
def isbt_check_char(
    din: Annotated[str, typer.Argument(help="The 13-character DIN, e.g. A999921123456.")],
) -> None:
    """Print the ISO/IEC 7064 MOD 37-2 check character of a DIN."""
    with cli_context().friendly_errors():
        print(isbt128.check_character(din))


@isbt_app.command("validate")
def isbt_validate(
    text: Annotated[str, typer.Argument(help="A DIN followed by its check character.")],
) -> None:
    """Exit 0 if the check character matches the DIN, 1 if it does not, 2 if malformed."""
    cli = cli_context()
    with cli.friendly_errors():
        valid = isbt128.validate_with_check(text)
    if valid:
        print(f"{text}: valid")
        return
    expected = isbt128.check_character(text[:13])
    cli.err.print(
        f"{text}: check character {text[13:]!r} does not match; expected {expected!r}",
        highlight=False,
    )
    raise typer.Exit(1)


@isbt_app.command("parse")
def isbt_parse(
    data: Annotated[str, typer.Argument(help="Barcode data, e.g. =A99992112345600 or =+03000...")],
) -> None:
    """Decode ISBT 128 barcode data (single, concatenated or compound) into JSON.

    Exits 1 when a check character (type 3 DIN flags) does not match its data, 2 when
    the data is malformed.
    """
    cli = cli_context()
    with cli.friendly_errors():
        try:
            structures = isbt128.parse(data)
        except isbt128.CheckCharacterMismatch as exc:
            # A failed check, like `isbt validate`: the message quotes the DIN, not the input.
            cli.fail(exc.message, code=1)
    cli.print_json([s.to_dict() for s in structures])


def register(app: typer.Typer) -> None:
    app.add_typer(isbt_app, name="isbt")
