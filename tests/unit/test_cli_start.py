"""The command line starts without the heavy libraries: each is imported by the commands
that use it (planning, simulation, reports, labels, FHIR, the server), never on every
start. Each case runs in a fresh interpreter, so what this process imported does not
count; it checks which modules were loaded, not how long it took.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "ortools",
    "scipy",
    "numpy",
    "pandas",
    "matplotlib",
    "lifelines",
    "dask",
    "distributed",
    "reportlab",
    "fhir",
    "uvicorn",
    "fastapi",
    "simpy",
    "alembic",
    # Typer checks parameters with pydantic unless cli/main.py's _AsGiven takes a plain
    # str or bool value as given; Rich only when something is printed through a console.
    "pydantic",
)
# veinline's own modules a reading command needs none of: every handler and command (the
# bus, built on first use), the job runner, the planner, the other command groups.
LAZY = (
    "veinline.services.messagebus",
    "veinline.services.commands",
    "veinline.services.jobs",
    "veinline.planning",
    "veinline.entrypoints.cli.journey",
    "veinline.entrypoints.cli.manufacturing",
)

# Imports the modules named first (none, but for the probe's own test), runs one command
# in-process, then prints its exit code and which of HEAVY are in sys.modules.
PROBE = """
import importlib, json, sys
heavy = json.loads(sys.argv[1])
watched = json.loads(sys.argv[2])
for name in filter(None, sys.argv[3].split(",")):
    importlib.import_module(name)
sys.argv = ["veinline", *sys.argv[4:]]
import veinline.entrypoints.cli.main as cli
try:
    cli.main()
except SystemExit as stop:
    code = stop.code
else:
    code = 0
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(heavy))
lazy = sorted(set(watched) & set(sys.modules))
rich = "rich" in sys.modules
sys.stderr.write(json.dumps({"code": code, "loaded": loaded, "lazy": lazy, "rich": rich}) + "\\n")
"""


def _probe(*args: str, database_url: str, preload: str = "") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), json.dumps(LAZY), preload, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "VEINLINE_DATABASE_URL": database_url,
            "PYTHONDONTWRITEBYTECODE": "1",
        },
    )
    result: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("isbt", "check-char", "G123417654321"),
        ("catalog", "list", "--json"),
    ],
    ids=["help", "isbt", "catalog-list"],
)
def test_a_command_that_needs_no_heavy_library_does_not_import_one(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'v.db'}"
    if args[0] == "catalog":
        # Migrate first (Alembic), so the command itself is a plain start.
        assert _probe("db", "upgrade", database_url=database_url)["code"] == 0
    result = _probe(*args, database_url=database_url)
    assert result["code"] == 0
    assert result["loaded"] == []
    if args != ("--help",):  # the help lists every group, so imports every group module
        assert result["lazy"] == []
        # Nothing printed through a console (JSON, a check character): no Rich.
        assert result["rich"] is False


def test_a_table_printed_imports_rich(tmp_path: Path) -> None:
    # The probe sees Rich when a command does print through a console.
    database_url = f"sqlite:///{tmp_path / 'v.db'}"
    assert _probe("db", "upgrade", database_url=database_url)["code"] == 0
    result = _probe("catalog", "list", database_url=database_url)
    assert result["code"] == 0
    assert result["rich"] is True
    assert result["loaded"] == []


def test_a_value_not_of_the_parameter_type_goes_through_typers_coercion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _AsGiven passes a str or bool value as it is; anything else (a flag from an
    # environment variable) is still parsed, or refused, by Typer's own coercion.
    import typer
    from typer.testing import CliRunner

    import veinline.entrypoints.cli.main  # noqa: F401 - installs _AsGiven

    probe = typer.Typer()

    @probe.command()
    def show(
        name: str,
        loud: bool = typer.Option(False, "--loud", envvar="VEINLINE_TEST_LOUD"),
    ) -> None:
        typer.echo(f"{name!r} {loud!r}")

    runner = CliRunner()
    assert runner.invoke(probe, ["ada"]).stdout == "'ada' False\n"
    assert runner.invoke(probe, ["ada", "--loud"]).stdout == "'ada' True\n"
    monkeypatch.setenv("VEINLINE_TEST_LOUD", "yes")
    assert runner.invoke(probe, ["ada"]).stdout == "'ada' True\n"
    monkeypatch.setenv("VEINLINE_TEST_LOUD", "perhaps")
    refused = runner.invoke(probe, ["ada"])
    assert refused.exit_code == 2
    assert "loud" in refused.output.lower()


def test_the_probe_sees_a_heavy_import() -> None:
    # An empty list above means the libraries were not loaded, not that nothing is seen.
    result = _probe("--help", database_url="sqlite://", preload="scipy.optimize")
    assert result["code"] == 0
    assert result["loaded"] == ["numpy", "scipy"]
    # The help lists every group: all their modules are imported for it.
    assert "veinline.entrypoints.cli.journey" in _names(result["lazy"])


def test_a_command_that_changes_a_record_builds_the_bus(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'v.db'}"
    result = _probe("catalog", "load", database_url=database_url)
    assert result["code"] == 0
    assert {"veinline.services.messagebus", "veinline.services.commands"} <= _names(result["lazy"])


def _names(found: object) -> set[str]:
    assert isinstance(found, list)
    return {str(name) for name in found}


def test_each_group_module_registers_the_names_the_start_looks_up() -> None:
    import importlib

    import typer

    from veinline.entrypoints.cli.main import GROUPS, command_name

    for module, names in GROUPS.items():
        probe = typer.Typer()
        importlib.import_module(f"veinline.entrypoints.cli.{module}").register(probe)
        registered = [i.name for i in probe.registered_groups] + [
            command_name(i) for i in probe.registered_commands
        ]
        assert sorted(str(n) for n in registered) == sorted(names), module


def test_the_root_app_holds_only_the_group_asked_for() -> None:
    from veinline.entrypoints.cli.main import app, command_app

    narrow = command_app(["--as", "catalog", "isbt", "check-char", "G123417654321"])
    assert [info.name for info in narrow.registered_groups] == ["isbt"]
    assert narrow.registered_commands == []
    assert narrow.registered_callback is app.registered_callback
    assert [info.name for info in command_app(["plan", "--help"]).registered_commands] == ["plan"]
    # No name, or one that is not registered: the whole app (its help, its suggestion).
    for args in ([], ["--help"], ["catlog", "list"]):
        assert command_app(args) is app
    assert len(app.registered_groups) > 1
