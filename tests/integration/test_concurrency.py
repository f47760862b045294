"""Many clients at once on one case, on SQLite and PostgreSQL (where writes really run in
parallel): identifiers never collide, no incident is lost, a stale write is refused and
a retried request is answered once (docs/security.md, "Concurrency")."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from tests.conftest import FixedClock
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.custody import IdentityMismatch
from veinline.domain.errors import DomainError
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
    from veinline.adapters.seed.cases import barcode

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
