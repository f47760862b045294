"""The bookings report counts first bookings and reschedules by coded reason, through the
API and the CLI, and is refused to roles that read no reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import FixedClock
from veinline.adapters.seed.cases import DEMO_PASSWORD, EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import CaseState
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.entrypoints.http.app import create_app


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _as(client: TestClient, username: str) -> dict[str, str]:
    token = client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_a_rescheduled_booking_is_on_the_timeline_and_counted_in_the_report(
    client: TestClient, demo_app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)
    driver = Driver(demo_app.bus, demo_app.user, clock)
    before = client.get("/api/v1/reports/bookings", headers=_as(client, "planner")).json()
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Report Patient", wristband="WB-REP-1"),
        EQUE_CEL_HK,
        CaseState.APHERESIS_BOOKED,
    )
    later = (clock() + timedelta(days=10)).date().isoformat()
    moved = client.post(
        f"/api/v1/cases/{case.id}/actions/book_apheresis",
        headers=_as(client, "coordinator"),
        json={
            "apheresis_site": EQUE_CEL_HK.apheresis_site,
            "apheresis_date": later,
            "manufacturing_site": EQUE_CEL_HK.manufacturing_site,
            "reschedule_reason": "patient_unwell",
        },
    )
    assert moved.status_code == 200, moved.text
    history = client.get(
        f"/api/v1/ledger/history/case/{case.id}", headers=_as(client, "coordinator")
    )
    assert history.status_code == 200, history.text
    assert "rescheduled (patient_unwell)" in history.text  # the timeline names the code
    report = client.get("/api/v1/reports/bookings", headers=_as(client, "planner")).json()
    assert report["bookings"] == before["bookings"] + 1
    assert report["reschedules"] == before["reschedules"] + 1
    reasons = {r["reason"]: r["count"] for r in report["by_reason"]}
    assert reasons["patient_unwell"] >= 1
    unit = next(u for u in report["by_apheresis_site"] if u["site"] == EQUE_CEL_HK.apheresis_site)
    assert unit["rescheduled"] >= 1
    refused = client.get("/api/v1/reports/bookings", headers=_as(client, "operator"))
    assert refused.status_code == 403

    cli_context().forget()
    result = CliRunner().invoke(cli_app, ["--as", "planner", "report", "bookings", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["reschedules"] == report["reschedules"]
    table = CliRunner().invoke(cli_app, ["--as", "planner", "report", "bookings"])
    assert "Patient unwell" in table.stdout
    cli_context().forget()
