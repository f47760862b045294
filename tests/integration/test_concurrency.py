"""Many clients at once on one case, on SQLite and PostgreSQL (where writes really run in
parallel): identifiers never collide, no incident is lost, a stale write is refused and
a retried request is answered once (docs/security.md, "Concurrency")."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FixedClock
from veinline.adapters.seed.cases import DEMO_PASSWORD, EQUE_CEL_HK, Driver, barcode
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.custody import IdentityMismatch
from veinline.domain.errors import Conflict, DomainError
from veinline.services import commands, ledger

T = TypeVar("T")

CRS_GRADE_1 = {
    "temperature_c": 38.4,
    "fever_masked_by_treatment": False,
    "hypotension": False,
    "vasopressors": [],
    "oxygen": {"device": "none"},
    "death_from_crs": False,
}


@pytest.fixture
def driver(demo_app: App, clock: FixedClock) -> Driver:
    return Driver(demo_app.bus, demo_app.user, clock)


def _at(driver: Driver, state: CaseState) -> Case:
    case = driver.enrol(EQUE_CEL_HK, patient_name="Many Hands", wristband="WB-C001")
    return driver.advance(case, EQUE_CEL_HK, state)


def at_once(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run `work(i)` in `count` threads released together; each outcome or its error."""
    barrier = threading.Barrier(count)

    def one(i: int) -> T | BaseException:
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # the outcome is what the test inspects
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def _errors(outcomes: list[Any]) -> list[BaseException]:
    return [o for o in outcomes if isinstance(o, BaseException)]


def test_twenty_concurrent_assessments_on_one_case_are_twenty_records(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, CaseState.INFUSED)
    today = demo_app.clock().date().isoformat()
    nurse = demo_app.user("nurse")

    def assess(_: int) -> str:
        record = demo_app.bus.handle(
            commands.RecordAssessment(case.id, "crs", today, CRS_GRADE_1), actor=nurse
        )
        return str(record.id)

    outcomes = at_once(20, assess)
    assert _errors(outcomes) == []
    assert sorted(str(o) for o in outcomes) == [f"{case.id}-A{n:03d}" for n in range(1, 21)]
    with demo_app.uow() as uow:
        assert len(uow.assessments.find(case_id=case.id)) == 20
    assert ledger.verify(demo_app.uow()).ok


def test_ten_concurrent_mismatched_scans_are_ten_incidents(demo_app: App, driver: Driver) -> None:
    case = _at(driver, CaseState.COLLECTED)
    courier = demo_app.user("courier")
    assert case.current_din is not None
    wrong = f"={case.current_din[:-1]}9" + f"00&/{case.coi}"

    def scan(_: int) -> object:
        return demo_app.bus.handle(
            commands.ScanCustody(case.id, "apheresis_pickup", wrong), actor=courier
        )

    outcomes = at_once(10, scan)
    assert all(isinstance(o, IdentityMismatch) for o in outcomes), outcomes
    with demo_app.uow() as uow:
        incidents = sorted(i.id for i in uow.incidents.find(case_id=case.id))
        assert uow.custody_events.find(case_id=case.id) == []
    assert incidents == [f"{case.id}-X{n:03d}" for n in range(1, 11)]
    assert ledger.verify(demo_app.uow()).ok


def test_concurrent_scans_of_one_hand_off_record_it_once(demo_app: App, driver: Driver) -> None:
    case = _at(driver, CaseState.COLLECTED)
    courier = demo_app.user("courier")

    def scan(_: int) -> object:
        return demo_app.bus.handle(
            commands.ScanCustody(case.id, "apheresis_pickup", barcode(case)), actor=courier
        )

    outcomes = at_once(8, scan)
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = _errors(outcomes)
    # The case lock serialises them: one hand-off, the rest refused in the case's words.
    assert len(done) == 1
    assert all(isinstance(e, DomainError) for e in refused), refused
    with demo_app.uow() as uow:
        assert len(uow.custody_events.find(case_id=case.id)) == 1
    assert ledger.verify(demo_app.uow()).ok


def test_a_change_made_from_a_stale_version_is_refused(demo_app: App, driver: Driver) -> None:
    case = _at(driver, CaseState.ELIGIBLE)
    coordinator = demo_app.user("coordinator")
    stale = case.version
    demo_app.bus.handle(
        commands.SetPlannedDates(case.id, {"suite": "A"}, expected_version=stale),
        actor=coordinator,
    )
    with pytest.raises(Conflict, match=f"is at version {stale + 1}, not {stale}"):
        demo_app.bus.handle(
            commands.SetPlannedDates(case.id, {"suite": "B"}, expected_version=stale),
            actor=coordinator,
        )
    with demo_app.uow() as uow:
        stored = uow.cases.get(case.id)
        assert stored is not None and stored.planned["suite"] == "A"
        assert stored.version == stale + 1


# PostgreSQL only: SQLite runs one writing transaction at a time, so this race cannot
# happen there (the second transaction waits for the first instead).
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_concurrent_write_to_a_record_read_before_it_is_refused_not_lost(
    demo_app: App, driver: Driver
) -> None:
    assert demo_app.engine.dialect.name == "postgresql"
    case = _at(driver, CaseState.ELIGIBLE)
    # Two transactions read the case at the same version; the second to write loses
    # the race and is refused instead of overwriting the first (no row lock taken).
    first, second = demo_app.uow(), demo_app.uow()
    with first:
        mine = first.cases.get(case.id)
        assert mine is not None
        with pytest.raises(Conflict, match="changed by someone else"), second:
            theirs = second.cases.get(case.id)
            assert theirs is not None and theirs.version == mine.version
            mine.planned = {**mine.planned, "suite": "first"}
            mine.version += 1
            first.commit()
            theirs.planned = {**theirs.planned, "suite": "second"}
            theirs.version += 1
            second.commit()
    with demo_app.uow() as uow:
        stored = uow.cases.get(case.id)
        assert stored is not None and stored.planned["suite"] == "first"


# ---------------------------------------------------------------- over HTTP, with keys


def _client(app: App) -> TestClient:
    from veinline.entrypoints.http.app import create_app

    return TestClient(create_app(app))


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_a_retried_scan_with_the_same_key_is_recorded_once_and_answered_alike(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, CaseState.COLLECTED)
    client = _client(demo_app)
    headers = {**_token(client, "courier"), "Idempotency-Key": "scan-0001"}
    body = {"case_id": case.id, "point": "apheresis_pickup", "data": barcode(case)}
    first = client.post("/api/v1/custody/scans", json=body, headers=headers)
    again = client.post("/api/v1/custody/scans", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    with demo_app.uow() as uow:
        assert [e.id for e in uow.custody_events.find(case_id=case.id)] == [first.json()["id"]]
    other = client.post(
        "/api/v1/custody/scans", json={**body, "site_code": "elsewhere"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_key_reused"
    assert "used for a different request" in other.json()["message"]
    assert ledger.verify(demo_app.uow()).ok


def test_ten_concurrent_retries_of_one_scan_record_one_hand_off(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, CaseState.COLLECTED)
    # One app for all the clients (as a server has); each request is its own.
    client = _client(demo_app)
    headers = {**_token(client, "courier"), "Idempotency-Key": "scan-burst"}
    body = {"case_id": case.id, "point": "apheresis_pickup", "data": barcode(case)}

    def scan(_: int) -> tuple[int, Any]:
        response = client.post("/api/v1/custody/scans", json=body, headers=headers)
        return response.status_code, response.json()

    outcomes = at_once(10, scan)
    assert _errors(outcomes) == []
    assert {status for status, _ in outcomes} == {201}  # type: ignore[misc]
    assert len({str(answer) for _, answer in outcomes}) == 1  # type: ignore[misc]
    with demo_app.uow() as uow:
        assert len(uow.custody_events.find(case_id=case.id)) == 1
    assert ledger.verify(demo_app.uow()).ok


def test_a_retried_mismatched_scan_is_one_incident_and_the_same_refusal(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, CaseState.COLLECTED)
    assert case.current_din is not None
    client = _client(demo_app)
    headers = {**_token(client, "courier"), "Idempotency-Key": "scan-wrong"}
    wrong = f"={case.current_din[:-1]}9" + f"00&/{case.coi}"
    body = {"case_id": case.id, "point": "apheresis_pickup", "data": wrong}
    first = client.post("/api/v1/custody/scans", json=body, headers=headers)
    again = client.post("/api/v1/custody/scans", json=body, headers=headers)
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    with demo_app.uow() as uow:
        assert len(uow.incidents.find(case_id=case.id)) == 1


def test_twenty_concurrent_assessments_over_http_are_twenty_records(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, CaseState.INFUSED)
    client = _client(demo_app)
    headers = _token(client, "nurse")
    today = demo_app.clock().date().isoformat()

    def assess(i: int) -> tuple[int, Any]:
        response = client.post(
            f"/api/v1/cases/{case.id}/assessments",
            json={"kind": "crs", "assessed_on": today, "inputs": CRS_GRADE_1},
            headers={**headers, "Idempotency-Key": f"assess-{i}"},
        )
        return response.status_code, response.json()

    outcomes = at_once(20, assess)
    assert _errors(outcomes) == []
    assert [status for status, _ in outcomes] == [201] * 20  # type: ignore[misc]
    ids = sorted(answer["id"] for _, answer in outcomes)  # type: ignore[misc]
    assert ids == [f"{case.id}-A{n:03d}" for n in range(1, 21)]


def test_an_action_on_a_stale_version_is_refused_with_409(demo_app: App, driver: Driver) -> None:
    case = _at(driver, CaseState.ELIGIBLE)
    client = _client(demo_app)
    headers = _token(client, "coordinator")
    url = f"/api/v1/cases/{case.id}/actions/plan"
    fresh = client.post(
        url, json={"planned": {"suite": "A"}, "expected_version": case.version}, headers=headers
    )
    assert fresh.status_code == 200, fresh.text
    stale = client.post(
        url, json={"planned": {"suite": "B"}, "expected_version": case.version}, headers=headers
    )
    assert stale.status_code == 409
    assert "reload it and try again" in stale.json()["message"]


def test_concurrent_drafts_of_one_document_are_refused_not_failed(demo_app: App) -> None:
    operator = demo_app.user("operator")

    def draft(_: int) -> object:
        return demo_app.bus.handle(
            commands.DraftProcess("eque-cel", "demo-suzhou-manufacturing"), actor=operator
        )

    outcomes = at_once(6, draft)
    # Each draft takes the next version number; one that raced another for the same
    # number is refused as a Conflict (409), never a server error.
    assert all(isinstance(e, Conflict) for e in _errors(outcomes)), _errors(outcomes)
    drafted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(drafted) >= 1
    with demo_app.uow() as uow:
        numbers = [
            t.number
            for t in uow.process_templates.list()
            if (t.product_code, t.site) == ("eque-cel", "demo-suzhou-manufacturing")
        ]
    assert len(numbers) == len(set(numbers)) == len(drafted)
    assert ledger.verify(demo_app.uow()).ok
