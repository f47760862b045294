from __future__ import annotations

import pytest

from tests.unit.planning.helpers import day, patient, tiny
from veinline.planning.feasibility import check_plan
from veinline.planning.fifo import fifo_plan
from veinline.planning.generate import small
from veinline.planning.objective import evaluate
from veinline.planning.scheduler import SolverOptions, plan

QUICK = SolverOptions(time_limit_s=1.0)
#: Stops on its work limits long before the time limit, so runs are reproducible.
BY_WORK = SolverOptions(time_limit_s=60.0, max_dual_iterations=60, max_windows=8)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_optimal_plan_passes_the_feasibility_checker(seed: int) -> None:
    scenario = small(seed=seed, suites=(2, 2), centres=4)
    result = plan(scenario, options=QUICK)
    assert check_plan(result, scenario) == []


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_plan_misses_fewer_deadlines_than_fifo_when_fifo_misses_some(seed: int) -> None:
    scenario = small(seed=seed)
    baseline = fifo_plan(scenario)
    assert baseline.metrics.missed_deadline > 0
    optimal = plan(scenario, options=QUICK)
    assert optimal.metrics.missed_deadline < baseline.metrics.missed_deadline
    assert optimal.objective < baseline.objective


def test_the_bound_is_below_the_objective_and_the_gap_says_how_far() -> None:
    result = plan(small(seed=5), options=QUICK)
    assert result.bound is not None and result.gap is not None
    assert 0 < result.bound <= result.objective
    assert result.gap == pytest.approx(
        (result.objective - result.bound) / result.objective, abs=1e-6
    )


def test_the_reported_objective_is_the_independent_evaluation() -> None:
    scenario = small(seed=6)
    result = plan(scenario, options=QUICK)
    objective, metrics = evaluate(
        scenario, result.assignments, [u.patient for u in result.unscheduled]
    )
    assert (result.objective, result.metrics) == (objective, metrics)


def test_an_uncrowded_plan_is_proven_optimal() -> None:
    scenario = tiny(suites=3, patients=[patient("P1"), patient("P2"), patient("P3", ready=4)])
    result = plan(scenario, options=QUICK)
    assert (result.objective, result.bound, result.gap) == (0, 0, 0.0)
    assert result.stats["stopped_by"] == "gap"


def test_manufacturing_waits_for_transport_and_dates_follow_the_process() -> None:
    result = plan(tiny(transport=2, patients=[patient("P1", ready=3)]), options=QUICK)
    (booking,) = result.assignments
    assert booking.apheresis_date.isoformat() == day(3)
    assert booking.manufacturing_start.isoformat() == day(5)
    assert booking.manufacturing_end.isoformat() == day(10)
    assert booking.release_date.isoformat() == day(13)
    assert booking.infusion_date.isoformat() == day(14)


def test_a_closed_suite_takes_no_batch() -> None:
    closure = {"suite": 1, "first_day": day(3), "last_day": day(4)}
    result = plan(tiny(closures=[closure]), options=QUICK)
    (booking,) = result.assignments
    assert booking.manufacturing_start.isoformat() == day(5)


def test_the_patient_nearest_its_latest_date_goes_first() -> None:
    scenario = tiny(
        patients=[
            patient("P1", urgency=5),
            patient("P2", urgency=1, latest_infusion_date=day(10)),
        ]
    )
    result = plan(scenario, options=QUICK)
    first = min(result.assignments, key=lambda a: a.manufacturing_start)
    assert first.patient == "P2"
    assert result.metrics.missed_deadline == 0


def test_apheresis_capacity_spreads_collections_over_days() -> None:
    scenario = tiny(suites=2, centre_capacity=1, patients=[patient("P1"), patient("P2")])
    result = plan(scenario, options=QUICK)
    assert len({a.apheresis_date for a in result.assignments}) == 2
    assert check_plan(result, scenario) == []


def test_qc_intake_limits_batches_ending_on_one_day() -> None:
    scenario = tiny(suites=2, qc=1, patients=[patient("P1"), patient("P2")])
    result = plan(scenario, options=QUICK)
    assert len({a.manufacturing_end for a in result.assignments}) == 2
    assert check_plan(result, scenario) == []


def test_started_work_is_kept_as_it_is() -> None:
    fixed = {
        "patient": "P1",
        "facility": "F",
        "suite": 1,
        "apheresis_date": day(-3),
        "manufacturing_start": day(-2),
    }
    scenario = tiny(patients=[patient("P1"), patient("P2")], fixed=[fixed])
    result = plan(scenario, options=QUICK)
    kept = result.assignment("P1")
    assert kept is not None and kept.fixed and kept.manufacturing_start.isoformat() == day(-2)
    other = result.assignment("P2")
    assert other is not None and other.manufacturing_start.isoformat() == day(3)
    assert check_plan(result, scenario) == []


def test_a_patient_ready_too_late_is_listed_with_the_reason() -> None:
    scenario = tiny(horizon=20, patients=[patient("P1"), patient("P2", ready=18)])
    result = plan(scenario, options=QUICK)
    (left,) = result.unscheduled
    assert left.patient == "P2"
    assert left.reason.startswith("ready too late for the horizon")


def test_the_same_seed_and_workers_give_the_same_plan() -> None:
    scenario = small(seed=7)
    first = plan(scenario, options=BY_WORK)
    second = plan(scenario, options=BY_WORK)
    assert first.stats["stopped_by"] in ("gap", "work")
    assert first.assignments == second.assignments


def test_the_plan_reports_solver_settings_and_priorities() -> None:
    scenario = small(seed=8)
    result = plan(scenario, options=SolverOptions(time_limit_s=0.5, seed=3, workers=2))
    assert result.stats["random_seed"] == 3
    assert result.stats["num_workers"] == 2
    assert isinstance(result.stats["first_plan_s"], float)
    assert len(result.priorities) == len(scenario.patients)
    assert result.priorities[0].score >= result.priorities[-1].score
