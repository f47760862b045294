"""`veinline db generate-key` and `veinline db rotate-key` with the SQLite key file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import FixedClock
from veinline.adapters import crypto
from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import bootstrap
from veinline.config import Settings
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.services import ledger


def test_generate_key_prints_environment_lines_that_load() -> None:
    result = CliRunner().invoke(cli_app, ["db", "generate-key", "--key-id", "prod-1"])
    assert result.exit_code == 0, result.output
    env = dict(line.split("=", 1) for line in result.stdout.split())
    assert set(env) == {crypto.DATA_KEY, crypto.DIGEST_KEY}
    assert crypto.Keyring.from_env(env).current.key_id == "prod-1"
    only = CliRunner().invoke(cli_app, ["db", "generate-key", "--data-only"])
    assert only.stdout.startswith(crypto.DATA_KEY + "=") and crypto.DIGEST_KEY not in only.stdout


def test_rotate_key_with_the_key_file_reseals_ledgers_once_and_keeps_the_data_readable(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (crypto.DATA_KEY, crypto.DATA_KEY_OLD, crypto.DIGEST_KEY):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'veinline.db'}"
    monkeypatch.setenv("VEINLINE_DATABASE_URL", url)
    settings = Settings(database_url=url, data_dir=tmp_path)
    app = bootstrap(settings, clock=clock, hasher=Argon2Hasher(fast_for_tests=True))
    app.bus.handle(demo_command(), actor=app.system_user())
    case = Driver(app.bus, app.user, clock).enrol(
        EQUE_CEL_HK, patient_name="Ilse Brandvold", wristband="WB-IB-1"
    )
    app.engine.dispose()
    key_file = tmp_path / crypto.KEY_FILE_NAME
    first = crypto.read_key_file(key_file)[crypto.DATA_KEY].split(":")[0]

    cli_context().forget()
    result = CliRunner().invoke(cli_app, ["db", "rotate-key", "--new-key"])
    cli_context().forget()
    assert result.exit_code == 0, result.output
    assert "re-sealed" in result.stdout and f"were under {first}" in result.stdout
    keys = crypto.read_key_file(key_file)
    assert crypto.DATA_KEY_OLD not in keys
    assert keys[crypto.DATA_KEY].split(":")[0] != first

    again = CliRunner().invoke(cli_app, ["db", "rotate-key"])
    cli_context().forget()
    assert again.exit_code == 0, again.output
    assert "nothing to re-seal" in again.stdout

    reopened = bootstrap(settings, clock=clock, hasher=Argon2Hasher(fast_for_tests=True))
    try:
        with reopened.uow() as uow:
            stored = uow.cases.get(case.id)
            rotations = [e for e in uow.ledger.entries() if e.action == "data_key.rotated"]
        assert stored is not None and stored.patient_name == "Ilse Brandvold"
        assert len(rotations) == 1
        assert ledger.verify(reopened.uow()).ok
    finally:
        reopened.engine.dispose()
