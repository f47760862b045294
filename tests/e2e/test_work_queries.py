"""The work queue's reads (docs/architecture.md, "Work queues") on SQLite and
PostgreSQL: each query of the SQL unit of work finds what the port's reading of every
record finds (`AbstractUnitOfWork`, which the fakes use), for every demo role; and the
API's queue comes a page at a time, the pages adding up to the whole queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.e2e.pages import DEMO_PASSWORD
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver, load_demo_cases
from veinline.bootstrap import App
from veinline.domain.assessment import AssessmentKind
from veinline.domain.batch import BatchStatus
from veinline.domain.case import CaseState
from veinline.entrypoints.http.app import create_app
from veinline.services import authority, commands
from veinline.services.authority import Read
from veinline.services.unit_of_work import AbstractUnitOfWork

ROLES = (
    "coordinator",
    "physician",
    "physician.us",
    "nurse",
    "courier",
    "operator",
    "qc",
    "qa",
    "qa2",
    "planner",
    "admin",
)

CRS_GRADE_3 = {
    "temperature_c": 39.2,
    "fever_masked_by_treatment": False,
    "hypotension": True,
    "vasopressors": ["norepinephrine"],
    "oxygen": {"device": "none"},
    "death_from_crs": False,
}


@pytest.fixture
def cases_app(demo_app: App) -> App:
    """The demo cases, a few more, a grade 3 CRS, and an aborted batch with its deviation
    still open."""
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    load_demo_cases(driver)
    for n in range(4):
        case = driver.enrol(EQUE_CEL_HK, patient_name=f"Query {n}", wristband=f"WB-QQ{n}")
        driver.advance(case, EQUE_CEL_HK, (CaseState.ENROLLED, CaseState.ELIGIBLE)[n % 2])
    # An aborted batch's deviations still need closing: it stays in QA's queue.
    aborted = driver.enrol(EQUE_CEL_HK, patient_name="Query aborted", wristband="WB-QQA")
    aborted = driver.advance(aborted, EQUE_CEL_HK, CaseState.MANUFACTURING)
    for command in (
        commands.RaiseDeviation(str(aborted.batch_id), "incubator alarm ignored", "major"),
        commands.AbortBatch(str(aborted.batch_id), "the incubator failed"),
    ):
        demo_app.bus.handle(command, actor=demo_app.user("qa"))
    with demo_app.uow() as uow:
        infused = uow.cases.find(state=CaseState.INFUSED)[0]
    today = demo_app.clock().date().isoformat()
    physician = demo_app.user("physician")
    demo_app.bus.handle(
        commands.RecordAssessment(infused.id, "crs", today, CRS_GRADE_3), actor=physician
    )
    return demo_app


def test_each_work_query_finds_what_reading_every_record_finds(cases_app: App) -> None:
    port = AbstractUnitOfWork
    every = frozenset(CaseState)
    users = {name: cases_app.user(name) for name in ROLES}
    with cases_app.uow() as uow:
        # What the queries are asked for is there: the fixture's records are found.
        assert uow.toxicities(
            authority.reach(users["physician"], Read.CASE)[1], (AssessmentKind.CRS,), 3
        )
        qa = authority.reach(users["qa"], Read.BATCH)[0]
        aborted = [b for b in uow.unfinished_batches(qa) if b.status is BatchStatus.ABORTED]
        assert len(aborted) == 1 and aborted[0].open_deviations()
        for username, user in users.items():
            reach, full = authority.reach(user, Read.CASE)
            batches = authority.reach(user, Read.BATCH)[0]
            ids = [c.id for c in uow.cases.list()]
            for booked_by in ("", "2000-01-01", "2100-01-01"):
                assert uow.case_heads(every, reach, booked_by=booked_by) == port.case_heads(
                    uow, every, reach, booked_by=booked_by
                ), (username, booked_by)
            found = [c.id for c in uow.cases_in(every, reach)]
            assert found == [c.id for c in port.cases_in(uow, every, reach)], username
            assert [c.id for c in uow.cases_of(ids[:5])] == [
                c.id for c in port.cases_of(uow, ids[:5])
            ]
            assert [s.id for s in uow.shipments_of(found)] == [
                s.id for s in port.shipments_of(uow, found)
            ], username
            assert [s.id for s in uow.shipments_in_transit(reach)] == [
                s.id for s in port.shipments_in_transit(uow, reach)
            ], username
            assert [a.id for a in uow.assessments_of(found)] == [
                a.id for a in port.assessments_of(uow, found)
            ], username
            kinds = (AssessmentKind.CRS, AssessmentKind.ICANS)
            for grade in (0, 3):
                assert [a.id for a in uow.toxicities(full, kinds, grade)] == [
                    a.id for a in port.toxicities(uow, full, kinds, grade)
                ], (username, grade)
            unfinished = [b.id for b in uow.unfinished_batches(batches)]
            assert set(unfinished) == {b.id for b in port.unfinished_batches(uow, batches)}
            assert unfinished == sorted(unfinished)
            assert [r.batch_id for r in uow.release_records_of(unfinished)] == [
                r.batch_id for r in port.release_records_of(uow, unfinished)
            ], username


@pytest.fixture
def client(cases_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(cases_app)) as test_client:
        yield test_client


def test_the_api_gives_the_queue_a_page_at_a_time(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/auth/token", data={"username": "coordinator", "password": DEMO_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    whole = client.get("/api/v1/me/work?page_size=100", headers=headers).json()
    assert whole["total"] == len(whole["items"]) >= 4 and whole["pages"] == 1
    assert whole["previous"] is None and whole["next"] is None
    seen = []
    address: str | None = "/api/v1/me/work?page_size=2"
    while address is not None:
        page = client.get(address, headers=headers).json()
        assert len(page["items"]) <= 2 and page["total"] == whole["total"]
        assert page["counts"] == whole["counts"] and page["alerts"] == whole["alerts"]
        seen += page["items"]
        address = page["next"]
    assert seen == whole["items"]  # most urgent first across the pages, none twice
    last = client.get(f"/api/v1/me/work?page_size=2&page={page['pages']}", headers=headers)
    assert last.json()["previous"] == f"/api/v1/me/work?page={page['pages'] - 1}&page_size=2"
    # Past the last page: the last page; more than 100 a page is refused.
    beyond = client.get("/api/v1/me/work?page_size=2&page=999", headers=headers).json()
    assert beyond["page"] == page["pages"] and beyond["items"] == page["items"]
    assert client.get("/api/v1/me/work?page_size=101", headers=headers).status_code == 422
    default = client.get("/api/v1/me/work", headers=headers).json()
    assert default["page_size"] == 50 and default["items"] == whole["items"][:50]
