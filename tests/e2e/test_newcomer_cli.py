"""What a newcomer meets first on the command line: where the database is (never a
silent new one in whatever folder the command was typed in), a hint to load the
catalogue on an empty database, and signatures that ask only the password of the user
`--as` names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from veinline.config import Settings, default_data_dir
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty data folder for the embedded database, chosen by VEINLINE_DATA_DIR."""
    folder = tmp_path / "data"
    monkeypatch.delenv("VEINLINE_DATABASE_URL", raising=False)
    monkeypatch.setenv("VEINLINE_DATA_DIR", str(folder))
    cli_context().forget()
    yield folder
    cli_context().forget()


def _run(*args: str, stdin: str | None = None) -> Result:
    cli_context().forget()
    return CliRunner().invoke(cli_app, list(args), input=stdin)


def test_the_database_is_the_checkouts_whatever_folder_a_command_is_typed_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_data_dir({}) == REPOSITORY / "data"
    settings = Settings.from_env({})
    assert settings.data_dir == REPOSITORY / "data"
    assert settings.embedded_file == REPOSITORY / "data" / "veinline.db"
    assert Settings.from_env({"VEINLINE_DATA_DIR": "elsewhere"}).data_dir == Path("elsewhere")


def test_a_new_database_is_announced_once_and_an_empty_catalogue_says_how_to_load_it(
    fresh: Path, tmp_path: Path
) -> None:
    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps({"age_years": 61}), encoding="utf-8")
    first = _run(
        "eligibility", "check", "--product", "eque-cel", "--jurisdiction", "HK",
        "--patient", str(patient),
    )  # fmt: skip
    assert "creating a new, empty database at" in first.stderr
    assert str((fresh / "veinline.db").resolve()) in first.stderr.replace("\n", "")
    assert first.exit_code == 2
    assert "the catalogue is empty; load it with `veinline catalog load`" in first.stderr
    again = _run(
        "eligibility", "check", "--product", "eque-cel", "--jurisdiction", "HK",
        "--patient", str(patient),
    )  # fmt: skip
    assert "creating a new" not in again.stderr
    loaded = _run("catalog", "load")
    assert loaded.exit_code == 0, loaded.stderr
    unknown = _run(
        "eligibility", "check", "--product", "nothing", "--jurisdiction", "HK",
        "--patient", str(patient),
    )  # fmt: skip
    assert "there is no product 'nothing'" in unknown.stderr
    assert "catalogue is empty" not in unknown.stderr


def test_a_signature_asks_only_the_password_of_the_user_named_with_as(fresh: Path) -> None:
    assert _run("demo", "load").exit_code == 0
    signed = _run(
        "--as", "qa", "sign", "product", "eque-cel", "--meaning", "reviewed",
        stdin="veinline-demo\n",
    )  # fmt: skip
    assert signed.exit_code == 0, signed.stdout + signed.stderr
    assert "signing as qa" in signed.stderr and "user name" not in signed.stdout + signed.stderr
    wrong = _run(
        "--as", "qa", "sign", "product", "eque-cel", "--meaning", "reviewed",
        stdin="not the password\n",
    )  # fmt: skip
    assert wrong.exit_code == 2 and "password is wrong" in wrong.stderr
