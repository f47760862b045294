from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.planning.helpers import day, patient, tiny
from veinline.domain.errors import InvalidInput
from veinline.planning.events import BatchFailure, Slip, parse_event
from veinline.planning.feasibility import check_plan
from veinline.planning.generate import small
from veinline.planning.plan_io import Plan
from veinline.planning.replan import ReplanOptions, replan
from veinline.planning.scenario import Scenario
from veinline.planning.scheduler import SolverOptions, plan

ONE = timedelta(days=1)


@pytest.fixture(scope="module")
def crowded() -> tuple[Scenario, Plan]:
    scenario = small(seed=11, patients=40, suites=(6,))
    return scenario, plan(scenario, options=SolverOptions(time_limit_s=1))


def _middle(result: Plan, index: int = 0) -> str:
    ordered = sorted(result.assignments, key=lambda a: a.manufacturing_start)
    return ordered[len(ordered) // 2 + index].patient


def test_a_failed_patient_is_collected_again_after_the_failure(
    crowded: tuple[Scenario, Plan],
) -> None:
    scenario, before = crowded
    victim = before.assignment(_middle(before))
    assert victim is not None
    failed_on = victim.manufacturing_start + 3 * ONE
    after = replan(before, scenario, BatchFailure(patient=victim.patient, date=failed_on))
    again = after.assignment(victim.patient)
    assert again is not None and again.apheresis_date > failed_on
    assert check_plan(after, scenario) == []
    (move,) = [m for m in after.moves if m.patient == victim.patient]
    assert move.reason.startswith(f"batch failed on {failed_on}")


def test_work_under_way_stays_as_planned(crowded: tuple[Scenario, Plan]) -> None:
    scenario, before = crowded
    victim = before.assignment(_middle(before, 1))
    assert victim is not None
    today = victim.manufacturing_start + 2 * ONE
    after = replan(before, scenario, BatchFailure(patient=victim.patient, date=today))
    for item in before.assignments:
        if item.apheresis_date <= today and item.patient != victim.patient:
            kept = after.assignment(item.patient)
            assert kept is not None
            assert kept.model_copy(update={"fixed": False}) == item
            assert kept.fixed


def test_only_patients_listed_as_moved_changed(crowded: tuple[Scenario, Plan]) -> None:
    scenario, before = crowded
    victim = before.assignment(_middle(before, 2))
    assert victim is not None
    after = replan(
        before, scenario, BatchFailure(patient=victim.patient, date=victim.manufacturing_start)
    )
    moved = {m.patient for m in after.moves}
    for item in before.assignments:
        now = after.assignment(item.patient)
        same = now is not None and now.model_copy(update={"fixed": False}) == item.model_copy(
            update={"fixed": False}
        )
        assert same or item.patient in moved
    assert all(m.reason for m in after.moves)
    assert after.stats["moved"] == len(after.moves)


def test_a_slip_pushes_the_next_batch_in_the_suite() -> None:
    scenario = tiny(horizon=40, patients=[patient("P1"), patient("P2", ready=4)])
    before = plan(scenario, options=SolverOptions(time_limit_s=1))
    p1, p2 = before.assignment("P1"), before.assignment("P2")
    assert p1 is not None and p2 is not None
    assert p2.manufacturing_start == p1.manufacturing_end
    slip = Slip(
        patient="P1",
        date=p1.manufacturing_start + ONE,
        new_manufacturing_end=p1.manufacturing_end + 2 * ONE,
    )
    after = replan(before, scenario, slip)
    assert check_plan(after, scenario) == []
    new_p1, new_p2 = after.assignment("P1"), after.assignment("P2")
    assert new_p1 is not None and new_p1.manufacturing_end == slip.new_manufacturing_end
    assert new_p1.infusion_date == p1.infusion_date + 2 * ONE
    assert new_p2 is not None and new_p2.manufacturing_start == slip.new_manufacturing_end
    reasons = {m.patient: m.reason for m in after.moves}
    assert reasons["P1"].startswith("batch slipped")
    assert reasons["P2"].startswith("displaced by the slip of P1")


def test_a_patient_with_room_elsewhere_is_not_moved() -> None:
    scenario = tiny(suites=2, horizon=40, patients=[patient("P1"), patient("P2")])
    before = plan(scenario, options=SolverOptions(time_limit_s=1))
    p1 = before.assignment("P1")
    assert p1 is not None
    after = replan(before, scenario, BatchFailure(patient="P1", date=p1.manufacturing_start + ONE))
    assert [m.patient for m in after.moves] == ["P1"]


def test_events_accumulate_over_replans(crowded: tuple[Scenario, Plan]) -> None:
    scenario, before = crowded
    first = before.assignment(_middle(before))
    assert first is not None
    once = replan(
        before, scenario, BatchFailure(patient=first.patient, date=first.manufacturing_start)
    )
    second = once.assignment(_middle(once, 3))
    assert second is not None
    twice = replan(
        once,
        scenario,
        Slip(
            patient=second.patient,
            date=second.manufacturing_start,
            new_manufacturing_end=second.manufacturing_end + 3 * ONE,
        ),
        options=ReplanOptions(seed=1),
    )
    assert [e["type"] for e in twice.events] == ["batch_failure", "slip"]
    assert check_plan(twice, scenario) == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"type": "batch_failure", "patient": "NOPE", "date": day(20)}, "has no booking"),
        ({"type": "batch_failure", "patient": "P1", "date": day(-9)}, "before the plan starts"),
        (
            {"type": "slip", "patient": "P1", "date": day(2), "new_manufacturing_end": day(3)},
            "is not later than the planned end",
        ),
    ],
)
def test_an_impossible_event_is_refused(event: dict[str, str], message: str) -> None:
    scenario = tiny()
    before = plan(scenario, options=SolverOptions(time_limit_s=0.5))
    with pytest.raises(InvalidInput, match=message):
        replan(before, scenario, parse_event(event))


def test_an_event_of_unknown_type_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput, match="type"):
        parse_event({"type": "flood", "patient": "P1", "date": day(1)})
