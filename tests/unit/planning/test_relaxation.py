"""The LP relaxation behind the planner's bound (`_lp`), against answers worked out on paper."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pytest

from tests.unit.planning.helpers import patient, tiny
from veinline.planning._lagrangian import LagrangianDual, capacity_for
from veinline.planning._lp import relax, solve_relaxation
from veinline.planning._problem import Problem, compile_problem
from veinline.planning.feasibility import check_plan
from veinline.planning.fifo import fifo_plan
from veinline.planning.generate import small
from veinline.planning.scheduler import SolverOptions, plan

#: One suite, three patients ready on day 0, five days of manufacturing, one day of
#: transport: the only sensible starts are days 1, 6 and 11, so the best plan makes
#: the patients wait 0 + 5 + 10 days. One suite's rows form an interval matrix, so
#: the LP's optimum is that plan.
QUEUE = [patient("P1"), patient("P2"), patient("P3")]


def _dual(problem: Problem, window: int) -> LagrangianDual:
    return LagrangianDual(problem, range(problem.size), capacity_for(problem), daily_days=window)


def test_one_crowded_suite_is_proven_optimal_by_the_lp() -> None:
    problem = compile_problem(tiny(patients=QUEUE))
    relaxation = solve_relaxation(_dual(problem, 70), time_limit_s=10)
    assert relaxation is not None
    weight = int(problem.weight[0])
    assert set(problem.weight.tolist()) == {weight}
    assert relaxation.value == pytest.approx(15 * weight)
    assert relaxation.bound == pytest.approx(15 * weight)
    assert sorted(relaxation.suggested_start.tolist()) == [1, 6, 11]
    assert relaxation.fractional == 0


def test_the_planner_closes_the_gap_where_the_lp_is_exact() -> None:
    result = plan(tiny(patients=QUEUE), options=SolverOptions(time_limit_s=5))
    assert result.bound == result.objective
    assert result.stats["stopped_by"] == "gap"
    assert result.stats["solver"] == "ortools-cp-sat-lns+lp"


def test_a_window_too_short_still_gives_a_valid_bound() -> None:
    """With start days up to day 6 only, the LP must leave a patient out and its value
    overshoots the best plan; the bound prices the later days and stays below it."""
    scenario = tiny(patients=QUEUE)
    problem = compile_problem(scenario)
    relaxation = solve_relaxation(_dual(problem, 2), time_limit_s=10)
    assert relaxation is not None
    best = plan(scenario, options=SolverOptions(time_limit_s=5)).objective
    assert relaxation.value > best
    assert relaxation.bound <= best
    assert (relaxation.suggested_start == -1).sum() == 1


def test_windows_widen_until_no_later_start_day_would_pay() -> None:
    problem = compile_problem(tiny(patients=QUEUE))
    relaxation = relax(problem, capacity_for(problem), window=2, time_limit_s=10)
    assert relaxation is not None and relaxation.rounds >= 2
    weight = int(problem.weight[0])
    assert relaxation.value == pytest.approx(15 * weight)
    assert relaxation.bound == pytest.approx(15 * weight)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_lp_bound_is_no_weaker_than_subgradient_ascent_and_below_every_plan(
    seed: int,
) -> None:
    scenario = small(seed=seed, suites=(2, 2), centres=4)
    lp = plan(scenario, options=SolverOptions(time_limit_s=1, target_gap=0.0))
    ascent = plan(
        scenario,
        options=SolverOptions(time_limit_s=1, target_gap=0.0, relaxation="subgradient"),
    )
    assert lp.bound is not None and ascent.bound is not None
    assert lp.bound >= ascent.bound - 1e-6 * max(1.0, ascent.bound)
    for other in (lp, ascent, fifo_plan(scenario)):
        assert lp.bound <= other.objective
    assert check_plan(ascent, scenario) == []
    assert check_plan(lp, scenario) == []


def test_an_lp_out_of_time_gives_way_to_the_subgradient_ascent() -> None:
    problem = compile_problem(small(seed=4))
    assert solve_relaxation(_dual(problem, 42), time_limit_s=0.0) is None
    result = plan(small(seed=4), options=SolverOptions(time_limit_s=2, dual_share=0.0))
    assert result.stats["solver"] == "ortools-cp-sat-lns+subgradient"
    assert "dual_iterations" in result.stats
    assert result.bound is not None and result.bound <= result.objective


@pytest.mark.parametrize(("seed", "patients", "suites"), [(2, 30, 3), (8, 24, 2)])
def test_the_rounded_suggestion_is_whole_and_keeps_every_aggregate_capacity(
    seed: int, patients: int, suites: int
) -> None:
    problem = compile_problem(small(seed=seed, patients=patients, suites=(suites,)))
    room = capacity_for(problem)
    relaxation = relax(problem, room, window=42, time_limit_s=10)
    assert relaxation is not None and relaxation.rounded
    assert relaxation.fractional > 0, "a crowded facility splits some patients"
    suite = np.zeros_like(room.suite)
    qc = np.zeros_like(room.qc)
    centre = np.zeros_like(room.centre)
    cost = 0
    for j in range(problem.size):
        start = int(relaxation.suggested_start[j])
        if start < 0:
            cost += problem.unscheduled_cost(j)
            continue
        f = int(relaxation.suggested_facility[j])
        option = problem.option(j, f)
        assert option is not None and start >= option.earliest
        end = start + int(problem.duration[j])
        suite[f, start:end] += 1
        qc[f, end] += 1
        centre[problem.centre[j], start - option.transport] += 1
        cost += problem.cost(j, start)
    assert (suite <= room.suite).all()
    assert (qc <= room.qc).all()
    assert (centre <= room.centre).all()
    assert relaxation.bound <= relaxation.value <= cost


@pytest.mark.parametrize("method", ["lp", "subgradient"])
def test_a_scenario_where_nobody_fits_is_bounded_exactly(
    method: Literal["lp", "subgradient"],
) -> None:
    scenario = tiny(horizon=20, patients=[patient("P1", ready=18), patient("P2", ready=19)])
    result = plan(scenario, options=SolverOptions(time_limit_s=2, relaxation=method))
    assert [u.patient for u in result.unscheduled] == ["P1", "P2"]
    assert result.bound == result.objective > 0
