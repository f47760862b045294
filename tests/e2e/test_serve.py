"""`veinline serve --workers N`: several server processes on PostgreSQL, refused on the
embedded SQLite database, on both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from veinline.bootstrap import App
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.entrypoints.http.app import from_env


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, app: App) -> Iterator[list[tuple[Any, dict[str, Any]]]]:
    """What `uvicorn.run` was asked to serve (nothing listens in the test)."""
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: calls.append((target, options)))
    monkeypatch.setenv("VEINLINE_DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("VEINLINE_DATA_DIR", str(app.settings.data_dir))
    cli_context().forget()
    yield calls
    cli_context().forget()


def test_several_workers_serve_postgresql_and_are_refused_on_the_embedded_database(
    served: list[tuple[Any, dict[str, Any]]], app: App
) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--no-demo", "--workers", "2"])
    if app.settings.is_embedded:
        assert result.exit_code == 2
        assert "--workers 2 needs PostgreSQL" in result.stderr
        assert served == []
        return
    assert result.exit_code == 0, result.output
    [(target, options)] = served
    # Each worker process builds its own app from the environment.
    assert target == "veinline.entrypoints.http.app:from_env"
    assert options["factory"] is True and options["workers"] == 2
    worker = from_env()
    try:
        with TestClient(worker) as client:
            assert client.get("/login").status_code == 200
    finally:
        worker.state.veinline.engine.dispose()


def test_one_worker_serves_either_database_in_this_process(
    served: list[tuple[Any, dict[str, Any]]],
) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--no-demo", "--no-access-log"])
    assert result.exit_code == 0, result.output
    [(target, options)] = served
    assert not isinstance(target, str)  # the app itself, not an import string
    assert "workers" not in options and options["access_log"] is False
