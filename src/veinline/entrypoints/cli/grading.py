"""`veinline grade`: clinical grading from JSON (CRS, ICANS, MAGIC aGVHD, RECIST, IMWG).

`veinline grade KIND --help` adds the input fields of KIND to the help, as the domain
declares them (`veinline.domain.grading.fields`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperCommand

from veinline.domain.errors import DomainError
from veinline.domain.grading import KINDS, Field, fields, grade, title

if TYPE_CHECKING:
    # Typer carries its own Click; its commands take that Click's context and formatter.
    from typer._click import Context, HelpFormatter

_INPUT_OPTIONS = ("--input", "-i")


def _read(source: str) -> object:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"the input is not JSON: {exc}") from None


def _kind_in(args: Sequence[str]) -> str | None:
    """The KIND argument among the command's arguments, before Click has read them."""
    after_option = False
    for arg in args:
        if after_option:
            after_option = False
        elif arg in _INPUT_OPTIONS:
            after_option = True
        elif not arg.startswith("-"):
            return arg
    return None


def _field_lines(declared: Sequence[Field], prefix: str = "") -> Iterator[str]:
    for field in declared:
        yield f"{prefix}{field.summary()}"
        yield from _field_lines(field.fields, prefix=f"{prefix}{field.name}.")


class GradeCommand(TyperCommand):
    """The `grade` command, whose help lists the fields of the kind it is asked about."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        ctx.meta["grade_kind"] = _kind_in(args)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        kind = ctx.meta.get("grade_kind")
        if kind not in KINDS:
            return
        with formatter.section(f"Fields of {kind}"):
            formatter.write_text(title(kind))
            formatter.write_paragraph()
            for line in _field_lines(fields(kind)):
                formatter.write_text(line)


def grade_command(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")],
    source: Annotated[
        str, typer.Option(*_INPUT_OPTIONS, help="JSON file with the findings; - for stdin.")
    ] = "-",
) -> None:
    """Grade one assessment and print JSON with the grade and the reasons.

    Examples: `veinline grade crs --input day3.json`;
    `echo '{"ice_score": 7, ...}' | veinline grade icans`.
    A missing field the answer depends on is an error naming it (exit 2).
    `veinline grade KIND --help` lists the fields of KIND.
    """
    try:
        data = _read(source)
    except OSError as exc:
        typer.echo(f"error: cannot read {source}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except typer.BadParameter as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(data, dict):
        typer.echo("error: the input must be a JSON object", err=True)
        raise typer.Exit(2)
    try:
        result = grade(kind, data)
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")


def register(app: typer.Typer) -> None:
    app.command("grade", cls=GradeCommand)(grade_command)
