"""How many statements a request sends to the database, whatever the record's history
(NetBox-style query-count baselines), on SQLite and PostgreSQL.

Each test counts the statements of one request on a record with a little history and
again with much more; the two counts must be equal (no query per item of history) and
within the path's bound, so a change that adds a round trip fails here and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver, barcode
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.entrypoints.http.app import create_app
from veinline.services import commands


class Statements:
    """The statements sent through an engine while counting."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __len__(self) -> int:
        return len(self.sent)

    def __str__(self) -> str:
        return "\n".join(" ".join(s.split())[:160] for s in self.sent)


@contextmanager
def counting(app: App) -> Iterator[Statements]:
    seen = Statements()

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.sent.append(statement)

    event.listen(app.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(app.engine, "before_cursor_execute", note)


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


@pytest.fixture
def driver(demo_app: App) -> Driver:
    return Driver(demo_app.bus, demo_app.user, demo_app.clock)


def _token(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/token", data={"username": username, "password": "veinline-demo"}
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _collected(driver: Driver, name: str) -> Case:
    case = driver.enrol(EQUE_CEL_HK, patient_name=f"Count {name}", wristband=f"WB-{name}")
    return driver.advance(case, EQUE_CEL_HK, CaseState.COLLECTED)


def _scans(demo_app: App, case: Case, count: int) -> None:
    nurse = demo_app.user("nurse")
    for _ in range(count):
        demo_app.bus.handle(commands.ScanCustody(case.id, "collection", barcode(case)), actor=nurse)


# A custody scan: the token and its user in one query; then, in the handler's one
# transaction, the case under its lock, the case's event counter, the event and the
# ledger entry (PostgreSQL: lock and append in one call). SQLite adds its two
# BEGIN IMMEDIATE and its ledger append checks the tip in the INSERT itself.
SCAN_BOUND = {"postgresql": 5, "sqlite": 7}


def test_a_custody_scan_sends_as_many_statements_after_fifty_events_as_after_one(
    client: TestClient, demo_app: App, driver: Driver
) -> None:
    nurse = _token(client, "nurse")
    counts = []
    for prior in (1, 50):
        case = _collected(driver, f"scan{prior}")
        _scans(demo_app, case, prior)
        body = {"case_id": case.id, "point": "collection", "data": barcode(case)}
        client.post("/api/v1/custody/scans", headers=nurse, json=body)  # warm: token touched
        with counting(demo_app) as statements:
            answer = client.post("/api/v1/custody/scans", headers=nurse, json=body)
        assert answer.status_code == 201, answer.text
        assert answer.json()["id"] == f"{case.id}-E{prior + 2:03d}"
        counts.append(len(statements))
        bound = SCAN_BOUND[demo_app.engine.dialect.name]
        assert len(statements) <= bound, f"{len(statements)} > {bound}:\n{statements}"
    assert counts[0] == counts[1]
