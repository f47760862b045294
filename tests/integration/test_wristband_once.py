"""One open case per wristband at a treatment centre (docs/architecture.md, "Enrolment"),
on SQLite and PostgreSQL: the handler refuses a second enrolment with a clear message, the
database refuses it even when the handler's check is bypassed or raced, and the wristband
is free again once the case is cancelled or in follow-up."""

from __future__ import annotations

import dataclasses

import pytest

from tests.conftest import FixedClock
from tests.integration.test_concurrency import at_once
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.errors import Conflict
from veinline.services import commands, ledger
from veinline.services.unit_of_work import AbstractUnitOfWork

WRISTBAND = "WB-ONCE-1"
ELSEWHERE = dataclasses.replace(EQUE_CEL_HK, jurisdiction="CN", treatment_site="demo-sh-treatment")


@pytest.fixture
def driver(demo_app: App, clock: FixedClock) -> Driver:
    return Driver(demo_app.bus, demo_app.user, clock)


def _counts(app: App) -> tuple[int, int]:
    with app.uow() as uow:
        return len(uow.cases.list()), uow.ledger.count()


def test_a_second_open_case_with_the_same_wristband_is_refused_and_changes_nothing(
    demo_app: App, driver: Driver
) -> None:
    first = driver.enrol(EQUE_CEL_HK, patient_name="Ines Harrow", wristband=WRISTBAND)
    before = _counts(demo_app)
    with pytest.raises(Conflict) as refused:
        driver.enrol(EQUE_CEL_HK, patient_name="Ines Harrow", wristband=f"  {WRISTBAND} ")
    assert f"this wristband is already on case {first.id}, open at" in refused.value.message
    assert "Ines" not in refused.value.message
    assert refused.value.fields == {"wristband_id": f"already on open case {first.id}"}
    assert _counts(demo_app) == before
    # Another centre's wristband numbers are its own.
    assert driver.enrol(ELSEWHERE, patient_name="Other Person", wristband=WRISTBAND).id


@pytest.mark.parametrize("closed", [CaseState.CANCELLED, CaseState.FOLLOW_UP])
def test_a_cancelled_or_treated_patients_wristband_may_be_enrolled_again(
    driver: Driver, closed: CaseState
) -> None:
    first = driver.enrol(EQUE_CEL_HK, patient_name="Ines Harrow", wristband=WRISTBAND)
    driver.advance(first, EQUE_CEL_HK, closed)
    again = driver.enrol(EQUE_CEL_HK, patient_name="Ines Harrow", wristband=WRISTBAND)
    assert again.id != first.id and again.state is CaseState.ENROLLED


def test_the_database_refuses_the_duplicate_when_the_check_is_bypassed(
    demo_app: App, driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver.enrol(EQUE_CEL_HK, patient_name="Ines Harrow", wristband=WRISTBAND)
    before = _counts(demo_app)

    def nobody(self: AbstractUnitOfWork, wristband_id: str) -> list[Case]:
        return []

    # As if two enrolments had both looked before either was saved.
    monkeypatch.setattr(type(demo_app.uow()), "cases_with_wristband", nobody)
    with pytest.raises(Conflict, match="same record at the same time"):
        driver.enrol(EQUE_CEL_HK, patient_name="Ines Harrow", wristband=WRISTBAND)
    assert _counts(demo_app) == before


def test_enrolments_racing_with_one_wristband_make_one_case(demo_app: App) -> None:
    coordinator = demo_app.user("coordinator")

    def enrol(i: int) -> str:
        case = demo_app.bus.handle(
            commands.EnrolPatient(
                product_code="eque-cel",
                jurisdiction="HK",
                treatment_site="demo-hk-treatment",
                patient_name="Racing Patient",
                wristband_id=WRISTBAND,
                treating_physician="physician",
                consent_given=True,
                consent_date=demo_app.clock().date().isoformat(),
                patient_facts=dict(EQUE_CEL_HK.facts),
            ),
            actor=coordinator,
        )
        return str(case.id)

    outcomes = at_once(6, enrol)
    made = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(made) == 1 and len(refused) == 5
    assert all(isinstance(e, Conflict) for e in refused), refused
    with demo_app.uow() as uow:
        assert [c.id for c in uow.cases_with_wristband(WRISTBAND)] == made
    assert ledger.verify(demo_app.uow()).ok
