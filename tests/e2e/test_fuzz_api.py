"""Schemathesis fuzzes every operation of the API's own OpenAPI document: no input a
client can send makes the server answer 5xx.

The app runs on a demo SQLite database; every request carries an administrator's
write-scoped API token, so the fuzzed input reaches the handlers behind authority, not
only the 401 at the door. The seed is fixed and each operation gets a bounded number
of examples, so a failure is reproducible and the run stays short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import FixedClock
from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.seed import demo_command
from veinline.bootstrap import bootstrap
from veinline.config import Settings
from veinline.entrypoints.http.app import create_app

SEED = 20260302
MAX_EXAMPLES = 10


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    application = bootstrap(
        Settings(database_url=f"sqlite:///{data_dir / 'veinline.db'}", data_dir=data_dir),
        clock=FixedClock(),
        hasher=Argon2Hasher(fast_for_tests=True),
        migrate="always",
    )
    application.bus.handle(demo_command(), actor=application.system_user())
    yield create_app(application)
    application.engine.dispose()


@pytest.fixture(scope="module")
def admin_headers(fuzzed_app: FastAPI) -> dict[str, str]:
    with TestClient(fuzzed_app) as client:
        answer = client.post(
            "/api/v1/auth/token",
            data={"username": "admin", "password": "veinline-demo", "scope": "write"},
        )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, read at collection time from an app on an empty
    in-memory database (the document does not depend on the data; the requests go to
    `fuzzed_app`)."""
    shell = bootstrap(Settings(database_url="sqlite://", data_dir=Path("data")), migrate="never")
    try:
        return create_app(shell).openapi()
    finally:
        shell.engine.dispose()


schema = schemathesis.openapi.from_dict(_openapi_document())


@schema.parametrize()
@seed(SEED)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(
    case: Any, fuzzed_app: FastAPI, admin_headers: dict[str, str]
) -> None:
    case.call_and_validate(app=fuzzed_app, headers=admin_headers, checks=[not_a_server_error])
