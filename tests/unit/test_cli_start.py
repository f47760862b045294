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
)

# Imports the modules named first (none, but for the probe's own test), runs one command
# in-process, then prints its exit code and which of HEAVY are in sys.modules.
PROBE = """
import importlib, json, sys
heavy = json.loads(sys.argv[1])
for name in filter(None, sys.argv[2].split(",")):
    importlib.import_module(name)
sys.argv = ["veinline", *sys.argv[3:]]
import veinline.entrypoints.cli.main as cli
try:
    cli.main()
except SystemExit as stop:
    code = stop.code
else:
    code = 0
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(heavy))
sys.stderr.write(json.dumps({"code": code, "loaded": loaded}) + "\\n")
"""


def _probe(*args: str, database_url: str, preload: str = "") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), preload, *args],
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


def test_the_probe_sees_a_heavy_import() -> None:
    # An empty list above means the libraries were not loaded, not that nothing is seen.
    result = _probe("--help", database_url="sqlite://", preload="scipy.optimize")
    assert result["code"] == 0
    assert result["loaded"] == ["numpy", "scipy"]


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
