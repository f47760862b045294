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
import importlib
import sys
from collections.abc import Sequence
from typing import Annotated

import typer
import typer.core
from typer import _coercion
from typer._click import Context
from typer.models import CommandInfo

from veinline.domain.user import SYSTEM_USERNAME
from veinline.entrypoints.cli.context import cli_context


class _AsGiven(_coercion.RuntimeParam):
    """A `str` or `bool` parameter's value that already has that type, as given.

    Typer checks every parameter's value with a pydantic TypeAdapter that it builds on
    first use, and --help's flag is checked even when it is not given: so every command
    imported pydantic, about 0.1 s of its start, to be told that a name typed on the
    command line is a `str` and a flag a `bool`. A value of exactly the annotation's type
    is returned as it is (what Typer's adapter returns for it too); any other value (a
    flag set from an environment variable, bytes) goes through Typer's own coercion.
    tests/unit/test_cli_start.py checks that a plain command imports no pydantic.
    """

    def _coerce_value(
        self, value: object, param: typer.core._TyperParameter, ctx: Context
    ) -> object:
        if type(value) is self.annotation:
            return value
        return _coercion.build_runtime_param(param.type_descriptor)._coerce_value(
            value, param=param, ctx=ctx
        )


def _runtime_param(descriptor: _coercion.TypeDescriptor) -> _coercion.RuntimeParam:
    """Typer's coercion of one parameter, `_AsGiven` for a plain `str` or `bool` one."""
    plain = descriptor.file_annotation is None and descriptor.parameter_info.parser is None
    if plain and descriptor.annotation in (str, bool):
        return _AsGiven(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)
    return _coercion.build_runtime_param(descriptor)


# typer.core looks the builder up by this name when a parameter is first checked
# (uv.lock pins the Typer this was read from; tests/unit/test_cli_start.py fails if it
# moves).
typer.core.build_runtime_param = _runtime_param  # type: ignore[attr-defined]

_root = typer.Typer(
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


@_root.callback()
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


# Each command group's module, in the order of `veinline --help`, and the names it
# registers (groups and commands). A command imports only its own module (and what that
# imports); the whole app, every module, is built for the help, a misspelt name and the
# tests. tests/unit/test_cli_start.py checks the names against what each module registers.
GROUPS: dict[str, tuple[str, ...]] = {
    "server": ("serve",),
    "db": ("db",),
    "backup": ("backup", "restore"),
    "ledger": ("ledger", "sign"),
    "isbt": ("isbt",),
    "catalogue": ("catalog", "demo"),
    "users": ("user", "token"),
    "identifiers": ("identifier",),
    "journey": ("case", "custody", "shipment", "eligibility", "fhir", "label"),
    "manufacturing": ("process", "spec", "batch", "coa"),
    "inventory": ("inventory",),
    "trials": ("trial", "report"),
    "planning_records": ("planning",),
    "planning": ("plan", "replan"),
    "simulation": ("simulate", "sweep"),
    "jobs": ("job",),
    "reports": ("report",),
    "grading": ("grade",),
    "work": ("work",),
}


def _built(modules: Sequence[str]) -> typer.Typer:
    """The root app (its `--as` callback) with these modules' groups and commands."""
    root = copy.copy(_root)
    root.registered_groups = []
    root.registered_commands = []
    for name in modules:
        importlib.import_module(f"veinline.entrypoints.cli.{name}").register(root)
    return root


_whole: typer.Typer | None = None


def whole_app() -> typer.Typer:
    """Every group and command: `veinline --help`, and what the tests invoke."""
    global _whole
    if _whole is None:
        _whole = _built(list(GROUPS))
    return _whole


def __getattr__(name: str) -> typer.Typer:
    # `app`, the whole app, is built on first use (PEP 562), not on import.
    if name == "app":
        return whole_app()
    raise AttributeError(name)


def command_app(args: Sequence[str]) -> typer.Typer:
    """The root app holding only the group or command `args` name, or the whole app when
    they name none (no arguments, --help, a misspelt name). Only the module registering
    that name is imported, and Typer turns only that command into a Click command (it
    reads each function's signature on every start). What runs is the same."""
    name = _command_name(args)
    modules = [module for module, names in GROUPS.items() if name in names]
    if not modules:
        return whole_app()
    narrow = _built(modules)
    narrow.registered_groups = [i for i in narrow.registered_groups if i.name == name]
    narrow.registered_commands = [i for i in narrow.registered_commands if command_name(i) == name]
    return narrow


def command_name(info: CommandInfo) -> str | None:
    """A command's name as Typer gives it: its own, or its function's (`serve`)."""
    if info.name:
        return info.name
    callback = info.callback
    return callback.__name__.lower().replace("_", "-") if callback else None


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


__all__ = ["GROUPS", "command_app", "command_name", "main", "whole_app"]
