"""The first-come-first-served baseline: what booking slots on paper gives.

Patients book in the order they joined the waiting list (`waitlisted_since`, or the
ready date when no list date is known; then ready date, then id), each taking the
earliest slot still free that its centre, a suite and QC can all serve. No one is
moved for anyone who comes later, whatever their urgency or deadline. The plan has
the same shape as the optimal one, so the two can be compared metric by metric.
"""

from __future__ import annotations

import time

from veinline.planning._assemble import assemble
from veinline.planning._greedy import insert_in_order
from veinline.planning._problem import compile_problem
from veinline.planning.plan_io import Plan
from veinline.planning.scenario import Scenario
from veinline.planning.weights import TriageWeights


def fifo_plan(scenario: Scenario, *, weights: TriageWeights | None = None) -> Plan:
    """Book every patient first come, first served (`weights` only score the result)."""
    started = time.perf_counter()
    problem = compile_problem(scenario, weights)
    patients = [scenario.patients_by_id[pid] for pid in problem.ids]
    order = sorted(
        range(problem.size),
        key=lambda j: (
            patients[j].waitlisted_since or patients[j].ready_date,
            patients[j].ready_date,
            patients[j].id,
        ),
    )
    schedule = insert_in_order(problem, order)
    return assemble(
        problem,
        schedule,
        policy="fifo",
        bound=None,
        stats={
            "solver": "first-come-first-served",
            "wall_time_s": round(time.perf_counter() - started, 3),
        },
    )
