"""List scheduling: book patients one by one, each into its earliest feasible slot.

Used by the FIFO baseline (arrival order), as the scheduler's warm start (several
priority orders, the cheapest kept) and to place patients the optimiser left over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from veinline.planning._calendar import Booking, Calendar
from veinline.planning._problem import NO_DEADLINE, Problem

Schedule = dict[int, Booking | None]


def book_earliest(
    problem: Problem, calendar: Calendar, j: int, *, not_before: int = 0
) -> Booking | None:
    """Book patient j at the facility that lets it start first; None if nothing fits."""
    best: Booking | None = None
    for option in problem.options[j]:
        not_after = None if best is None else best.start - 1
        found = calendar.earliest(j, option, not_before=not_before, not_after=not_after)
        if found is not None and (best is None or found.start < best.start):
            best = found
    if best is not None:
        calendar.book(best)
    return best


def insert_in_order(
    problem: Problem, order: Iterable[int], calendar: Calendar | None = None
) -> Schedule:
    """Book patients in `order`, each at its earliest feasible slot."""
    calendar = calendar or Calendar(problem)
    return {j: book_earliest(problem, calendar, j) for j in order}


def schedule_cost(problem: Problem, schedule: Schedule) -> int:
    """Objective value of a schedule of the planned (non-fixed) patients."""
    total = 0
    for j in range(problem.size):
        booking = schedule.get(j)
        total += problem.unscheduled_cost(j) if booking is None else problem.cost(j, booking.start)
    return total


def priority_orders(problem: Problem) -> list[Sequence[int]]:
    """Booking orders to try for the warm start.

    Arrival order packs suites tightly; ranking by `earliest - spread * weight`
    lets higher-priority patients book ahead of those who arrived a few days
    before them; patients close to their latest date book first of all.
    """
    n = problem.size
    earliest = problem.earliest.astype(float)
    weight = problem.weight.astype(float)
    has_deadline = problem.latest_start < NO_DEADLINE
    slack = np.where(has_deadline, problem.latest_start - problem.earliest, 10_000).astype(float)
    ids = np.arange(n)
    orders: list[Sequence[int]] = [list(np.lexsort((ids, -weight, earliest)))]
    # Each order costs a full pass of list scheduling; big networks try fewer.
    spreads = (0.1, 0.25, 0.5) if n <= 3000 else (0.25,)
    for spread in spreads:
        key = earliest - spread * weight - np.where(slack < 14, 14 - slack, 0)
        orders.append(list(np.lexsort((ids, -weight, key))))
    return [[int(j) for j in order] for order in orders]


def warm_start(problem: Problem) -> Schedule:
    """The cheapest schedule among the `priority_orders`."""
    best: Schedule | None = None
    best_cost = 0
    for order in priority_orders(problem):
        schedule = insert_in_order(problem, order)
        cost = schedule_cost(problem, schedule)
        if best is None or cost < best_cost:
            best, best_cost = schedule, cost
    assert best is not None
    return best


def guided_schedule(
    problem: Problem,
    suggested_facility: npt.NDArray[np.int64],
    suggested_start: npt.NDArray[np.int64],
    *,
    strict: bool = True,
    slack: int = 0,
    jitter: npt.NDArray[np.float64] | None = None,
) -> Schedule:
    """List-schedule patients in the order of the start days the prices suggest.

    A patient with no suggested day (the prices would leave it out) books last. With
    `strict`, nobody books more than `slack` days before its suggested day, which keeps
    room the prices reserved for others; without, patients may fill earlier gaps.
    `jitter` (days, per patient) perturbs the booking order to sample other schedules.
    """
    n = problem.size
    key = np.where(
        suggested_start >= 0, suggested_start, problem.horizon + problem.earliest
    ).astype(np.float64)
    if jitter is not None:
        key = key + jitter
    order = np.lexsort((np.arange(n), -problem.weight, key))
    calendar = Calendar(problem)
    schedule: Schedule = {}
    for j in order:
        j = int(j)
        not_before = (
            max(int(suggested_start[j]) - slack, 0) if strict and suggested_start[j] >= 0 else 0
        )
        booking = None
        facility = int(suggested_facility[j])
        option = problem.option(j, facility) if facility >= 0 else None
        if option is not None and len(problem.options[j]) > 1:
            # The prices chose this facility (to spread the load): try it first, but
            # not at any price: within a week of the suggested day.
            found = calendar.earliest(
                j, option, not_before=not_before, not_after=int(suggested_start[j]) + 7
            )
            if found is not None:
                calendar.book(found)
                booking = found
        if booking is None:
            booking = book_earliest(problem, calendar, j, not_before=not_before)
        schedule[j] = booking
    return schedule
