"""Backup and restore on SQLite and PostgreSQL: a round trip keeps every row and the
ledger tip and verifies; a non-empty target and a broken ledger are refused
(docs/security.md, "Backup and restore")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from tests.conftest import scratch_pg_database
from veinline.adapters import backup, database
from veinline.adapters.seed.cases import Driver, load_demo_cases
from veinline.bootstrap import App
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app

Run = Callable[..., Result]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    def invoke(url: str, *args: str) -> Result:
        monkeypatch.setenv("VEINLINE_DATABASE_URL", url)
        cli_context().forget()
        try:
            return CliRunner().invoke(cli_app, list(args))
        finally:
            cli_context().forget()

    yield invoke


@pytest.fixture
def with_cases(demo_app: App) -> App:
    """The demo catalogue and users plus demo cases in every state."""
    load_demo_cases(Driver(demo_app.bus, demo_app.user, demo_app.clock))
    return demo_app


@pytest.fixture
def scratch_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind to restore into, dropped afterwards."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'veinline.db'}"
        return
    with scratch_pg_database("veinline_restore") as url:
        yield url


def _snapshot(url: str) -> backup.Snapshot:
    engine = database.make_engine(url)
    try:
        return backup.snapshot(engine)
    finally:
        engine.dispose()


# The logical export is PostgreSQL's fallback (when pg_dump is absent); SQLite always
# uses its online backup API.
@pytest.mark.parametrize(
    ("database_url", "logical"),
    [
        ("sqlite", False),
        pytest.param("postgresql", False, marks=pytest.mark.postgres),
        pytest.param("postgresql", True, marks=pytest.mark.postgres),
    ],
    indirect=["database_url"],
    ids=["sqlite-native", "postgresql-native", "postgresql-logical"],
)
def test_a_backup_restores_into_a_fresh_database_with_every_row_and_the_ledger_tip(
    with_cases: App, scratch_url: str, tmp_path: Path, run: Run, logical: bool
) -> None:
    source_url = with_cases.settings.database_url
    assert not (logical and source_url.startswith("sqlite"))
    out = tmp_path / "veinline.backup"
    args = ["backup", "--out", str(out)] + (["--logical"] if logical else [])
    backed = run(source_url, *args)
    assert backed.exit_code == 0, backed.output
    assert "ledger verified" in backed.stdout
    before = _snapshot(source_url)
    assert before.ledger_seq is not None and before.counts["cases"] >= 10

    restored = run(scratch_url, "restore", str(out))
    assert restored.exit_code == 0, restored.output
    assert f"ledger tip #{before.ledger_seq} {before.ledger_hash}" in restored.stdout
    assert "ledger verified" in restored.stdout
    assert _snapshot(scratch_url) == before

    verified = run(scratch_url, "ledger", "verify")
    assert verified.exit_code == 0, verified.output
    assert f"{before.ledger_seq} entries checked" in verified.stdout


def test_restore_into_a_database_that_is_not_empty_is_refused_unless_replace(
    demo_app: App, scratch_url: str, tmp_path: Path, run: Run
) -> None:
    source_url = demo_app.settings.database_url
    out = tmp_path / "veinline.backup"
    assert run(source_url, "backup", "--out", str(out)).exit_code == 0
    before = _snapshot(source_url)
    refused = run(source_url, "restore", str(out))
    assert refused.exit_code == 2
    assert "the database is not empty" in refused.stderr
    assert _snapshot(source_url) == before
    replaced = run(source_url, "restore", "--replace", str(out))
    assert replaced.exit_code == 0, replaced.output
    assert _snapshot(source_url) == before


def test_backup_refuses_when_the_ledger_is_broken_unless_forced(
    demo_app: App, tmp_path: Path, run: Run
) -> None:
    with demo_app.engine.begin() as conn:
        conn.execute(text("UPDATE users SET printed_name = 'Someone Else' WHERE username = 'qa'"))
    out = tmp_path / "veinline.backup"
    refused = run(demo_app.settings.database_url, "backup", "--out", str(out))
    assert refused.exit_code == 1
    assert "backup refused: the ledger does not verify" in refused.stderr
    assert not out.exists()
    forced = run(demo_app.settings.database_url, "backup", "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert "warning" in forced.stderr
    assert out.exists()


def test_backup_will_not_overwrite_a_file_and_restore_refuses_what_is_not_a_backup(
    demo_app: App, scratch_url: str, tmp_path: Path, run: Run
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    refused = run(demo_app.settings.database_url, "backup", "--out", str(taken))
    assert refused.exit_code == 2
    assert taken.read_text() == "keep me"
    wrong = run(scratch_url, "restore", str(taken))
    assert wrong.exit_code == 2
    assert "is not a veinline backup" in wrong.stderr
