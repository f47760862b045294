"""`veinline grade`: clinical grading from JSON (CRS, ICANS, MAGIC aGVHD, RECIST, IMWG)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from veinline.domain.errors import DomainError
from veinline.domain.grading import KINDS, grade


def _read(source: str) -> object:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"the input is not JSON: {exc}") from None


def register(app: typer.Typer) -> None:
    @app.command("grade")
    def grade_command(
        kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")],
        source: Annotated[
            str, typer.Option("--input", "-i", help="JSON file with the findings; - for stdin.")
        ] = "-",
    ) -> None:
        """Grade one assessment and print JSON with the grade and the reasons.

        Examples: `veinline grade crs --input day3.json`;
        `echo '{"ice_score": 7, ...}' | veinline grade icans`.
        A missing field the answer depends on is an error naming it (exit 2).
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
