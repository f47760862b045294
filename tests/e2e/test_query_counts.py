"""How many statements a request sends to the database, whatever the record's history
(NetBox-style query-count baselines), on SQLite and PostgreSQL.

Each test counts the statements of one request on a record with a little history and
again with much more; the two counts must be equal (no query per item of history) and
within the path's bound, so a change that adds a round trip fails here and says so.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.e2e.pages import sign_in_page
from veinline.adapters.seed.cases import (
    EQUE_CEL_HK,
    Driver,
    barcode,
    load_demo_cases,
    steady_log,
)
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.entrypoints.http.app import create_app
from veinline.services import commands, jobs


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
        # The request's statements, not the background job runner's polling.
        if not threading.current_thread().name.startswith(jobs.THREAD_PREFIX):
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


# ------------------------------------------------------------------ reads

# A case read: the case, its centre, its product, a page of custody events, its
# shipments, a page of incidents, a page of assessments, a page of ledger entries (one
# joined statement); the API adds the token, the page the session and its own lookups.
# Measured: API 9 on PostgreSQL, 11 on SQLite (its BEGINs); page 13 and 15. Before
# paging: 13 statements with one event and 62 with fifty (one per record's entries).
CASE_API_BOUND = 11
CASE_PAGE_BOUND = 15
# A batch read: the batch, its case, its release record, the names and sites it shows
# (the steps and their entries are the batch's own columns). Measured: API 4 on
# PostgreSQL, 6 on SQLite; page 10 and 12.
BATCH_API_BOUND = 6
BATCH_PAGE_BOUND = 12


def _counted(app: App, read: Any) -> tuple[int, Any]:
    with counting(app) as statements:
        answer = read()
    assert answer.status_code == 200, answer.text
    return len(statements), answer


def test_a_case_reads_in_as_many_statements_with_fifty_events_as_with_one(
    client: TestClient, demo_app: App, driver: Driver
) -> None:
    few, many = _collected(driver, "few"), _collected(driver, "many")
    _scans(demo_app, few, 1)
    _scans(demo_app, many, 50)
    coordinator = _token(client, "coordinator")
    api = [
        _counted(demo_app, lambda c=c: client.get(f"/api/v1/cases/{c.id}", headers=coordinator))
        for c in (few, many)
    ]
    assert api[0][0] == api[1][0] <= CASE_API_BOUND, [n for n, _ in api]
    sign_in_page(client, "coordinator")
    page = [_counted(demo_app, lambda c=c: client.get(f"/cases/{c.id}")) for c in (few, many)]
    assert page[0][0] == page[1][0] <= CASE_PAGE_BOUND, [n for n, _ in page]
    # What was counted is the history itself: one event on the first, fifty on a page.
    assert len(api[0][1].json()["custody"]) == 1
    assert len(api[1][1].json()["custody"]) == 50
    assert 'data-testid="history-pager"' in page[1][1].text


def test_a_case_history_comes_newest_first_a_page_at_a_time(
    client: TestClient, demo_app: App, driver: Driver
) -> None:
    case = _collected(driver, "paged")
    _scans(demo_app, case, 7)
    coordinator = _token(client, "coordinator")

    def read(page: int) -> dict[str, Any]:
        answer = client.get(
            f"/api/v1/cases/{case.id}?history_page={page}&history_limit=3", headers=coordinator
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    pages = [read(n) for n in (1, 2, 3)]
    ids = [[e["id"] for e in p["custody"]] for p in pages]
    assert ids == [
        [f"{case.id}-E{n:03d}" for n in (7, 6, 5)],
        [f"{case.id}-E{n:03d}" for n in (4, 3, 2)],
        [f"{case.id}-E001"],
    ]
    assert [p["history"]["older"]["custody"] for p in pages] == [True, True, False]
    # The ledger is paged the same way: newest first, the pages not overlapping.
    seqs = [e["seq"] for p in pages for e in p["ledger"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(set(seqs))
    assert all(len(p["ledger"]) <= 3 for p in pages)
    too_long = client.get(f"/api/v1/cases/{case.id}?history_limit=201", headers=coordinator)
    assert too_long.status_code == 422


def test_a_batch_reads_in_as_many_statements_with_every_step_done_as_with_none(
    client: TestClient, demo_app: App, driver: Driver
) -> None:
    batches = []
    for name, steps in (("fresh", 0), ("done", None)):
        case = driver.enrol(EQUE_CEL_HK, patient_name=f"Batch {name}", wristband=f"WB-B-{name}")
        case = driver.advance(case, EQUE_CEL_HK, CaseState.MANUFACTURING)
        batch = driver.run_steps(case, count=steps)
        batches.append(batch)
    assert sum(len(s.entries) for s in batches[1].steps) > 10
    operator = _token(client, "operator")
    api = [
        _counted(demo_app, lambda b=b: client.get(f"/api/v1/batches/{b.id}", headers=operator))
        for b in batches
    ]
    assert api[0][0] == api[1][0] <= BATCH_API_BOUND, [n for n, _ in api]
    sign_in_page(client, "operator")
    page = [_counted(demo_app, lambda b=b: client.get(f"/batches/{b.id}")) for b in batches]
    assert page[0][0] == page[1][0] <= BATCH_PAGE_BOUND, [n for n, _ in page]


# A shipment read: the token, the shipment, its case (API 3 on PostgreSQL, 5 on SQLite).
SHIPMENT_API_BOUND = 5


def test_a_shipment_reads_in_as_many_statements_with_many_readings_as_with_few(
    client: TestClient, demo_app: App, driver: Driver
) -> None:
    courier = _token(client, "courier")
    shipments = []
    for name, hours in (("short", 0.25), ("long", 60.0)):
        case = _collected(driver, f"ship-{name}")
        with demo_app.uow() as uow:
            shipment = uow.shipments.find(case_id=case.id)[0]
        csv = steady_log(shipment, demo_app.clock(), hours=hours)
        demo_app.bus.handle(
            commands.ImportLoggerData(shipment.id, csv), actor=demo_app.user("courier")
        )
        shipments.append(shipment.id)
    reads = [
        _counted(demo_app, lambda s=s: client.get(f"/api/v1/shipments/{s}", headers=courier))
        for s in shipments
    ]
    assert reads[0][0] == reads[1][0] <= SHIPMENT_API_BOUND, [n for n, _ in reads]
    short, long = (answer.json() for _, answer in reads)
    assert short["reading_count"] == 2 and len(short["readings"]) == 2
    # 241 readings: the newest 200, newest first, and more on the next page.
    assert long["reading_count"] == 241 and len(long["readings"]) == 200
    assert long["readings"][0]["at"] > long["readings"][-1]["at"]
    assert long["readings_page"]["older"] is True
    rest = client.get(f"/api/v1/shipments/{shipments[1]}?readings_page=2", headers=courier)
    assert len(rest.json()["readings"]) == 41 and rest.json()["readings_page"]["older"] is False


# ------------------------------------------------------------------ work queues

# A work queue reads each kind of record that can wait in one statement (the sites'
# zones, early cases as heads, cases in flight, their shipments, follow-up assessments,
# shipments in transit and their cases, toxicities, unfinished batches, their release
# records and cases); the API adds the token, the home page the session, the catalogue
# and the sites it shows. Measured: API 10–14 statements on PostgreSQL and 12–16 on
# SQLite, by role; the coordinator's home page 14 and 16. Before: one per batch (its
# case) on top of every case, shipment and assessment, whatever their state.
WORK_API_BOUND = 16
WORK_PAGE_BOUND = 16
_QUEUE_USERS = ("coordinator", "physician", "nurse", "courier", "qa", "operator", "planner")


def _more_cases(driver: Driver, first: int, count: int) -> None:
    """`count` more cases: eligible (a coordinator's, a planner's) and, one in twenty,
    enrolled (a physician's) or collected (a courier's pickup)."""
    for n in range(first, first + count):
        case = driver.enrol(EQUE_CEL_HK, patient_name=f"Queue {n}", wristband=f"WB-WQ{n}")
        if n % 20 == 19:
            driver.advance(case, EQUE_CEL_HK, CaseState.COLLECTED)
        elif n % 20 != 18:
            driver.advance(case, EQUE_CEL_HK, CaseState.ELIGIBLE)


def test_a_work_queue_sends_as_many_statements_with_sixty_cases_as_with_five(
    client: TestClient, demo_app: App, driver: Driver
) -> None:
    load_demo_cases(driver)  # one case in every state: every kind of record is read
    tokens = {name: _token(client, name) for name in _QUEUE_USERS}

    def counts() -> tuple[dict[str, int], dict[str, int], int, str]:
        api: dict[str, int] = {}
        totals: dict[str, int] = {}
        for name, token in tokens.items():
            n, answer = _counted(demo_app, lambda t=token: client.get("/api/v1/me/work", headers=t))
            api[name], totals[name] = n, answer.json()["total"]
        sign_in_page(client, "coordinator")
        page, home = _counted(demo_app, lambda: client.get("/"))
        return api, totals, page, home.text

    _more_cases(driver, 0, 5)
    few_api, few_totals, few_page, _ = counts()
    _more_cases(driver, 5, 55)
    many_api, many_totals, many_page, home = counts()
    assert few_api == many_api, (few_api, many_api)
    assert max(many_api.values()) <= WORK_API_BOUND, many_api
    assert few_page == many_page <= WORK_PAGE_BOUND, (few_page, many_page)
    # What was counted is the queues themselves: the 55 more cases, each in its queue.
    assert many_totals["coordinator"] - few_totals["coordinator"] == 55 - 6
    assert many_totals["physician"] - few_totals["physician"] == 3
    assert many_totals["courier"] - few_totals["courier"] == 3
    # The home page shows the first 50 of them and the way to the rest.
    assert many_totals["coordinator"] > 50
    assert home.count('data-action="') == 50 and 'data-testid="pager"' in home
