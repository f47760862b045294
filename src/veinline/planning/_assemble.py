"""Turn a schedule (patient index → booking) into the `Plan` every policy returns."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from veinline.planning._calendar import Booking
from veinline.planning._problem import Problem
from veinline.planning.objective import evaluate, priorities
from veinline.planning.plan_io import Assignment, Plan, Stat, Unscheduled


def fixed_assignments(problem: Problem) -> list[Assignment]:
    """The scenario's started work, as plan assignments."""
    scenario = problem.scenario
    result = []
    for work in problem.fixed:
        patient = scenario.patients_by_id[work.patient]
        product = scenario.products_by_code[patient.product]
        release = work.end + product.qc_days
        result.append(
            Assignment(
                patient=work.patient,
                apheresis_date=scenario.date_of(work.apheresis),
                facility=problem.facility_ids[work.facility],
                suite=work.suite + 1,
                manufacturing_start=scenario.date_of(work.start),
                manufacturing_end=scenario.date_of(work.end),
                release_date=scenario.date_of(release),
                infusion_date=scenario.date_of(release + product.ship_days),
                fixed=True,
            )
        )
    return result


def assignment_for(problem: Problem, j: int, booking: Booking) -> Assignment:
    """The plan assignment of planned patient j."""
    scenario = problem.scenario
    release = booking.end + int(problem.qc_days[j])
    infusion = booking.end + int(problem.tail[j])
    return Assignment(
        patient=problem.ids[j],
        apheresis_date=scenario.date_of(booking.apheresis),
        facility=problem.facility_ids[booking.facility],
        suite=booking.suite + 1,
        manufacturing_start=scenario.date_of(booking.start),
        manufacturing_end=scenario.date_of(booking.end),
        release_date=scenario.date_of(release),
        infusion_date=scenario.date_of(infusion),
    )


def unscheduled_reason(problem: Problem, j: int) -> str:
    """Why patient j could not be placed."""
    scenario = problem.scenario
    last_start = problem.horizon - int(problem.duration[j])
    if all(option.earliest > last_start for option in problem.options[j]):
        earliest = min(option.earliest for option in problem.options[j])
        return (
            "ready too late for the horizon: manufacturing could start "
            f"{scenario.date_of(earliest)} at the earliest, but must end by {scenario.end_date}"
        )
    return f"no suite, apheresis or QC capacity left before {scenario.end_date}"


def assemble(
    problem: Problem,
    schedule: Mapping[int, Booking | None],
    *,
    policy: Literal["optimal", "fifo", "replan"],
    bound: float | None,
    stats: dict[str, Stat],
) -> Plan:
    """The plan for `schedule`; `bound` covers the planned patients only (fixed work is added)."""
    scenario = problem.scenario
    assignments = fixed_assignments(problem)
    unscheduled = []
    for j in range(problem.size):
        booking = schedule.get(j)
        if booking is None:
            unscheduled.append(
                Unscheduled(patient=problem.ids[j], reason=unscheduled_reason(problem, j))
            )
        else:
            assignments.append(assignment_for(problem, j, booking))
    order = {pid: i for i, pid in enumerate(p.id for p in scenario.patients)}
    assignments.sort(key=lambda a: (a.manufacturing_start, order[a.patient]))
    objective, metrics = evaluate(
        scenario, assignments, [u.patient for u in unscheduled], problem.weights
    )
    plan_bound: int | None = None
    gap: float | None = None
    if bound is not None:
        fixed_cost, _ = evaluate(scenario, fixed_assignments(problem), [], problem.weights)
        # The objective is an integer, so any bound rounds up; the small slack absorbs
        # floating-point error in the dual sums.
        plan_bound = math.ceil(bound - 1e-6 * max(1.0, abs(bound))) + fixed_cost
        gap = 0.0 if objective == 0 else round((objective - plan_bound) / objective, 6)
    return Plan(
        policy=policy,
        start_date=scenario.start_date,
        horizon_days=scenario.horizon_days,
        assignments=assignments,
        unscheduled=unscheduled,
        objective=objective,
        bound=plan_bound,
        gap=gap,
        metrics=metrics,
        stats=stats,
        priorities=priorities(scenario, problem.weights),
    )
