"""Site scope through the CLI, the pages and the scan API: a user of one site neither sees
nor changes another site's patients; a hand-off is recorded where it happened."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from veinline.adapters.seed import DEMO_PASSWORD
from veinline.adapters.seed.cases import EQUE_CEL_HK, ZEVOR_CEL_US, Driver, barcode
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.errors import NotAllowed
from veinline.domain.user import Role
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.entrypoints.http.app import create_app
from veinline.services import commands, ledger

Run = Callable[..., Result]


@pytest.fixture
def run(demo_app: App, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)

    def invoke(*args: str) -> Result:
        cli_context().forget()
        return CliRunner().invoke(cli_app, list(args))

    yield invoke
    cli_context().forget()


@pytest.fixture
def driver(demo_app: App) -> Driver:
    return Driver(demo_app.bus, demo_app.user, demo_app.clock)


def _two_cases(driver: Driver, state: CaseState) -> tuple[Case, Case]:
    hk = driver.enrol(EQUE_CEL_HK, patient_name="HARBOUR PATIENT", wristband="WB-HK-9")
    us = driver.enrol(ZEVOR_CEL_US, patient_name="PIEDMONT PATIENT", wristband="WB-US-9")
    return driver.advance(hk, EQUE_CEL_HK, state), driver.advance(us, ZEVOR_CEL_US, state)


def test_the_cli_lists_and_shows_only_the_users_sites_cases(
    run: Run, driver: Driver, demo_app: App
) -> None:
    hk, us = _two_cases(driver, CaseState.MANUFACTURING)
    listed = run("--as", "coordinator.hk", "case", "list")
    assert listed.exit_code == 0, listed.stderr
    assert hk.id in listed.stdout and "HARBOUR PATIENT" in listed.stdout
    assert us.id not in listed.stdout and "PIEDMONT" not in listed.stdout
    refused = run("--as", "coordinator.hk", "case", "show", us.id)
    assert refused.exit_code == 2
    assert "not at the sites of case" in refused.stderr and "PIEDMONT" not in refused.stderr
    # The Suzhou operator sees the Hong Kong batch only, and no patient's name.
    batches = json.loads(run("--as", "operator.suzhou", "batch", "list").stdout)
    assert [b["case"] for b in batches] == [hk.id]
    shown = run("--as", "operator.suzhou", "case", "show", hk.id, "--json")
    assert "HARBOUR PATIENT" not in shown.stdout and hk.coi in shown.stdout
    # The system account (no --as) acts on no patient.
    system = run("case", "list")
    assert system.exit_code == 2 and "may not read patients' records" in system.stderr


def test_an_administrator_grants_and_revokes_a_site_and_the_ledger_says_so(
    run: Run, driver: Driver, demo_app: App
) -> None:
    _, us = _two_cases(driver, CaseState.ELIGIBLE)
    made = run(
        "--as", "admin", "user", "create", "relief", "--name", "Relief Coordinator",
        "--role", "coordinator", "--site", "demo-hk-treatment", "--password", DEMO_PASSWORD,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert us.id not in run("--as", "relief", "case", "list").stdout
    granted = run("--as", "admin", "user", "grant", "relief", "demo-nc-treatment")
    assert granted.exit_code == 0, granted.stderr
    assert "demo-nc-treatment (Treatment-centre coordinator)" in granted.stdout
    assert us.id in run("--as", "relief", "case", "list").stdout
    # Only an administrator grants; an unknown site is refused and nothing changes.
    assert run("--as", "coordinator", "user", "grant", "relief", "demo-sh-treatment").exit_code == 2
    unknown = run("--as", "admin", "user", "grant", "relief", "nowhere")
    assert unknown.exit_code == 2 and "site nowhere is not in the catalogue" in unknown.stderr
    revoked = run("--as", "admin", "user", "revoke", "relief", "demo-nc-treatment")
    assert revoked.exit_code == 0, revoked.stderr
    assert us.id not in run("--as", "relief", "case", "list").stdout
    home = run("--as", "admin", "user", "revoke", "relief", "demo-hk-treatment")
    assert home.exit_code == 2 and "home site" in home.stderr
    with demo_app.uow() as uow:
        actions = [e.action for e in uow.ledger.for_entity("relief", "user")]
    assert actions == ["user.created", "user.site_granted", "user.site_revoked"]
    assert ledger.verify(demo_app.uow()).ok


def test_a_hand_off_is_recorded_where_it_happened_and_checked_against_the_scanner(
    demo_app: App, driver: Driver
) -> None:
    hk, _ = _two_cases(driver, CaseState.COLLECTED)
    with TestClient(create_app(demo_app)) as client:

        def scan(user: str, site: str | None) -> tuple[int, dict[str, object]]:
            token = client.post(
                "/api/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD}
            ).json()["access_token"]
            answer = client.post(
                "/api/v1/custody/scans",
                json={
                    "case_id": hk.id,
                    "point": "apheresis_pickup",
                    "data": barcode(hk),
                    "site_code": site,
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            return answer.status_code, answer.json()

        # An invented place, and a real one where the material is not, are refused.
        status, body = scan("courier.hk", "an-invented-site")
        assert status == 403 and "happens at demo-hk-apheresis" in str(body["message"])
        status, body = scan("courier.hk", "demo-suzhou-manufacturing")
        assert status == 403 and "where the material is expected" in str(body["message"])
        # The US-only courier of the demo network would be refused by site; the Hong Kong
        # courier's scan is recorded at the apheresis unit, the expected place.
        status, body = scan("courier.hk", None)
        assert status == 201, body
        assert body["site_code"] == "demo-hk-apheresis"
    with demo_app.uow() as uow:
        events = uow.custody_events.find(case_id=hk.id)
    assert [e.site_code for e in events if e.point.value == "apheresis_pickup"] == [
        "demo-hk-apheresis"
    ]


def test_pages_show_only_the_users_sites_and_refuse_another_sites_case(
    demo_app: App, driver: Driver
) -> None:
    hk, us = _two_cases(driver, CaseState.ELIGIBLE)
    with TestClient(create_app(demo_app)) as client:
        login = client.get("/login")
        token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        client.post(
            "/login",
            data={"username": "coordinator.us", "password": DEMO_PASSWORD, "csrf_token": token},
        )
        board = client.get("/cases").text
        assert us.id in board and hk.id not in board and "HARBOUR" not in board
        page = client.get(f"/cases/{hk.id}")
        assert page.status_code == 403 and "HARBOUR" not in page.text
        enrol = client.get("/cases/new").text
        assert "demo-nc-treatment" in enrol and "demo-hk-treatment" not in enrol


def test_a_collection_and_an_infusion_are_made_by_the_staff_of_their_place(
    demo_app: App, driver: Driver
) -> None:
    hk, _ = _two_cases(driver, CaseState.APHERESIS_BOOKED)
    admin = demo_app.user("admin")
    # A nurse of the Hong Kong centre only: not of its apheresis unit.
    demo_app.bus.handle(
        commands.CreateUser(
            "ward.nurse", "Ward Nurse", Role.APHERESIS_NURSE, "demo-hk-treatment",
            password=DEMO_PASSWORD,
        ),
        actor=admin,
    )  # fmt: skip
    now = demo_app.clock().isoformat()
    with pytest.raises(NotAllowed, match="you do not work at demo-hk-apheresis"):
        demo_app.bus.handle(commands.Collect(hk.id, now, 150.0), actor=demo_app.user("ward.nurse"))
    collected = demo_app.bus.handle(
        commands.Collect(hk.id, now, 150.0), actor=demo_app.user("nurse.hk")
    )
    assert collected.current_collection.site == "demo-hk-apheresis"
