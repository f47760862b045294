from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.unit.planning.helpers import day, patient, tiny
from veinline.planning.feasibility import check_plan
from veinline.planning.plan_io import Plan
from veinline.planning.scenario import Scenario
from veinline.planning.scheduler import SolverOptions, plan

ONE = timedelta(days=1)


@pytest.fixture
def planned() -> tuple[Scenario, Plan]:
    fixed = {
        "patient": "P1",
        "facility": "F",
        "suite": 1,
        "apheresis_date": day(-2),
        "manufacturing_start": day(-1),
    }
    scenario = tiny(
        suites=2,
        qc=1,
        centre_capacity=1,
        patients=[patient("P1"), patient("P2"), patient("P3", ready=2)],
        fixed=[fixed],
        closures=[{"suite": 2, "first_day": day(20), "last_day": day(21)}],
    )
    return scenario, plan(scenario, options=SolverOptions(time_limit_s=1))


def _with(result: Plan, patient_id: str, **changes: Any) -> Plan:
    assignments = [
        a.model_copy(update=changes) if a.patient == patient_id else a for a in result.assignments
    ]
    return result.model_copy(update={"assignments": assignments})


def _kinds(result: Plan, scenario: Scenario) -> set[str]:
    return {v.kind for v in check_plan(result, scenario)}


def test_a_plan_from_the_scheduler_is_feasible(planned: tuple[Scenario, Plan]) -> None:
    scenario, result = planned
    assert check_plan(result, scenario) == []


def test_two_batches_in_one_suite_on_one_day_are_reported(
    planned: tuple[Scenario, Plan],
) -> None:
    scenario, result = planned
    p1 = result.assignment("P1")
    assert p1 is not None
    clash = _with(result, "P2", suite=p1.suite, facility=p1.facility)
    clash = _with(
        clash,
        "P2",
        apheresis_date=p1.manufacturing_start - ONE,
        manufacturing_start=p1.manufacturing_start,
        manufacturing_end=p1.manufacturing_end,
        release_date=p1.release_date,
        infusion_date=p1.infusion_date,
    )
    assert "suite" in _kinds(clash, scenario)


def test_a_batch_in_a_closed_suite_is_reported(planned: tuple[Scenario, Plan]) -> None:
    scenario, result = planned
    start = scenario.start_date + timedelta(days=17)
    moved = _with(
        result,
        "P3",
        suite=2,
        apheresis_date=start - ONE,
        manufacturing_start=start,
        manufacturing_end=start + 5 * ONE,
        release_date=start + 8 * ONE,
        infusion_date=start + 9 * ONE,
    )
    assert "closure" in _kinds(moved, scenario)


def test_manufacturing_before_the_cells_arrive_is_reported(
    planned: tuple[Scenario, Plan],
) -> None:
    scenario, result = planned
    p2 = result.assignment("P2")
    assert p2 is not None
    early = _with(result, "P2", apheresis_date=p2.manufacturing_start)
    assert "transport" in _kinds(early, scenario)


def test_collection_before_the_ready_date_is_reported(planned: tuple[Scenario, Plan]) -> None:
    scenario, result = planned
    p3 = result.assignment("P3")
    assert p3 is not None
    early = _with(result, "P3", apheresis_date=p3.apheresis_date - 3 * ONE)
    assert "precedence" in _kinds(early, scenario)


def test_too_many_collections_in_a_day_are_reported(planned: tuple[Scenario, Plan]) -> None:
    scenario, result = planned
    p2 = result.assignment("P2")
    assert p2 is not None
    # The centre collects one patient a day; put P3's collection on P2's day.
    crowded = _with(result, "P3", apheresis_date=p2.apheresis_date)
    assert "apheresis" in _kinds(crowded, scenario)


def test_too_many_batches_entering_qc_in_a_day_are_reported(
    planned: tuple[Scenario, Plan],
) -> None:
    scenario, result = planned
    p2 = result.assignment("P2")
    assert p2 is not None
    other = result.assignment("P1")
    assert other is not None
    shifted = _with(
        result,
        "P2",
        apheresis_date=other.manufacturing_end - 6 * ONE,
        manufacturing_start=other.manufacturing_end - 5 * ONE,
        manufacturing_end=other.manufacturing_end,
        release_date=other.release_date,
        infusion_date=other.infusion_date,
        suite=2,
    )
    assert "qc" in _kinds(shifted, scenario)


def test_changed_started_work_is_reported(planned: tuple[Scenario, Plan]) -> None:
    scenario, result = planned
    assert "fixed" in _kinds(_with(result, "P1", suite=2), scenario)


def test_wrong_process_dates_are_reported(planned: tuple[Scenario, Plan]) -> None:
    scenario, result = planned
    p2 = result.assignment("P2")
    assert p2 is not None
    assert "process" in _kinds(_with(result, "P2", release_date=p2.release_date - ONE), scenario)


def test_a_patient_left_out_of_the_plan_is_reported(planned: tuple[Scenario, Plan]) -> None:
    scenario, result = planned
    shorter = result.model_copy(
        update={"assignments": [a for a in result.assignments if a.patient != "P3"]}
    )
    violations = check_plan(shorter, scenario)
    assert [(v.kind, v.patient) for v in violations] == [("coverage", "P3")]
