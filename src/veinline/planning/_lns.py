"""Large-neighbourhood search with CP-SAT: re-solve a few suites over a few weeks exactly.

Each step frees the batches that start inside a time window on a subset of one
facility's suites, keeps every other booking where it is, and asks CP-SAT for the
cheapest way to put the freed patients back: one start variable per patient, one
optional interval per suite it may use, no overlap per suite with the kept batches
and the closures, and cumulative limits for the apheresis chairs and the QC intake
left over by the kept batches. The window model is exact, so an accepted step keeps
the plan feasible, suite by suite.

Windows are drawn from a seeded generator, centred on the patients whose waiting
costs most, so runs are reproducible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from veinline.planning._calendar import Booking, Calendar
from veinline.planning._greedy import Schedule, schedule_cost
from veinline.planning._problem import Problem

WINDOW_DAYS = 28
SLACK_DAYS = 10
MAX_FREED = 28
#: At most this many suites are re-solved at once (the model grows with suites x days).
MAX_SUITES = 10
DETERMINISTIC_LIMIT = 0.5


@dataclass
class LnsResult:
    """The improved schedule and the work done."""

    schedule: Schedule
    cost: int
    windows: int
    improvements: int
    wall_time_s: float


def improve(
    problem: Problem,
    schedule: Schedule,
    *,
    deadline: float,
    max_windows: int,
    workers: int,
    seed: int,
    stop_at: Callable[[int], bool],
    on_improvement: Callable[[int], None] | None = None,
    movable: set[int] | None = None,
    extra_cost: Callable[[int, int], int] | None = None,
    focus: list[int] | None = None,
) -> LnsResult:
    """Improve `schedule` window by window until the deadline, the work limit or `stop_at`.

    `movable` limits which patients may be freed; `extra_cost(j, start)` adds a cost
    per patient and start day (replanning uses it to charge moves); the first windows
    are centred on the patients in `focus`, in order.
    """
    started = time.perf_counter()
    schedule = dict(schedule)
    calendar = Calendar(problem)
    for booking in schedule.values():
        if booking is not None:
            calendar.book(booking)

    def cost_of(j: int, booking: Booking | None) -> int:
        if booking is None:
            base = problem.unscheduled_cost(j)
            return base + (extra_cost(j, -1) if extra_cost else 0)
        base = problem.cost(j, booking.start)
        return base + (extra_cost(j, booking.start) if extra_cost else 0)

    costs = np.array([cost_of(j, schedule.get(j)) for j in range(problem.size)], dtype=np.float64)
    total = int(costs.sum()) if extra_cost else schedule_cost(problem, schedule)
    rng = np.random.default_rng(seed)
    if focus is None:
        # Patients missing their latest date (or left out) first: each is worth a miss.
        missing = [
            j
            for j in (movable if movable is not None else range(problem.size))
            if costs[j] >= problem.miss_cost
        ]
        focus = sorted(missing, key=lambda j: (-costs[j], j))
    candidates = np.array(
        sorted(movable) if movable is not None else range(problem.size), dtype=np.int64
    )
    floor = np.array(
        [problem.cost(int(j), int(problem.earliest[j])) for j in candidates], dtype=np.float64
    )
    windows = improvements = 0
    for windows in range(1, max_windows + 1):
        if time.perf_counter() >= deadline or stop_at(total) or candidates.size == 0:
            windows -= 1
            break
        # Centre the window on a patient drawn by how much its waiting costs.
        excess = costs[candidates] - floor
        weights = np.maximum(excess, 0.0) + 1.0
        if focus and windows <= len(focus):
            pick = focus[windows - 1]
        else:
            pick = int(candidates[rng.choice(candidates.size, p=weights / weights.sum())])
        booking = schedule.get(pick)
        facility = (
            booking.facility
            if booking is not None
            else problem.options[pick][int(rng.integers(len(problem.options[pick])))].facility
        )
        anchor_lo = int(problem.earliest[pick])
        anchor_hi = booking.start if booking is not None else anchor_lo + WINDOW_DAYS
        lo = max(0, anchor_lo - int(rng.integers(0, WINDOW_DAYS // 2)))
        hi = max(lo + WINDOW_DAYS, anchor_hi + 1)
        freed = _choose_freed(problem, schedule, facility, lo, hi, pick, rng, movable)
        if not freed:
            continue
        old = {j: schedule.get(j) for j in freed}
        old_cost = int(sum(costs[j] for j in freed))
        for b in old.values():
            if b is not None:
                calendar.release(b)
        suites = sorted(
            {b.suite for b in old.values() if b is not None}
            | _extra_suites(problem, facility, old, rng)
        )
        new = _solve_window(
            problem,
            calendar,
            freed,
            facility,
            suites,
            lo,
            hi + SLACK_DAYS,
            old,
            workers=workers,
            seed=seed + windows,
            deadline=deadline,
            extra_cost=extra_cost,
        )
        new_cost = old_cost if new is None else sum(cost_of(j, new[j]) for j in freed)
        if new is not None and new_cost < old_cost:
            for j in freed:
                schedule[j] = new[j]
                costs[j] = cost_of(j, new[j])
                if new[j] is not None:
                    calendar.book(new[j])  # type: ignore[arg-type]
            total += new_cost - old_cost
            improvements += 1
            if on_improvement is not None:
                on_improvement(total)
        else:
            for b in old.values():
                if b is not None:
                    calendar.book(b)
    return LnsResult(schedule, total, windows, improvements, time.perf_counter() - started)


def _choose_freed(
    problem: Problem,
    schedule: Schedule,
    facility: int,
    lo: int,
    hi: int,
    pick: int,
    rng: np.random.Generator,
    movable: set[int] | None,
) -> list[int]:
    inside: dict[int, list[int]] = {}
    for j, booking in schedule.items():
        if movable is not None and j not in movable:
            continue
        if booking is not None and booking.facility == facility and lo <= booking.start < hi:
            inside.setdefault(booking.suite, []).append(j)
    freed: list[int] = [pick]
    own = schedule.get(pick)
    suites = list(inside)
    rng.shuffle(suites)
    if own is not None and own.suite in inside:
        suites.remove(own.suite)
        suites.insert(0, own.suite)
    for count, suite in enumerate(suites):
        group = [j for j in inside[suite] if j != pick]
        if count >= MAX_SUITES - 2 or (len(freed) + len(group) > MAX_FREED and len(freed) > 1):
            break
        freed.extend(group)
    # Patients left out of the plan who could use this facility in the window.
    for j, booking in schedule.items():
        if len(freed) >= MAX_FREED + 4:
            break
        if booking is None and j != pick and (movable is None or j in movable):
            option = problem.option(j, facility)
            if option is not None and option.earliest < hi:
                freed.append(j)
    return freed


def _extra_suites(
    problem: Problem, facility: int, old: dict[int, Booking | None], rng: np.random.Generator
) -> set[int]:
    """Two more suites, so the freed batches can also move sideways."""
    count = problem.suites[facility]
    return {int(s) for s in rng.choice(count, size=min(2, count), replace=False)}


def _solve_window(
    problem: Problem,
    calendar: Calendar,
    freed: list[int],
    facility: int,
    suites: list[int],
    lo: int,
    hi: int,
    old: dict[int, Booking | None],
    *,
    workers: int,
    seed: int,
    deadline: float,
    extra_cost: Callable[[int, int], int] | None,
) -> dict[int, Booking | None] | None:
    """Time-indexed model of the window: one Boolean per patient, suite and start day
    that fits between the kept batches and closures (tight LP, solved in milliseconds)."""
    horizon = problem.horizon
    model = cp_model.CpModel()
    free_run = calendar.run[facility]
    objective: list[cp_model.LinearExprT] = []
    choices: dict[int, list[tuple[int, int, cp_model.IntVar]]] = {}
    skipped: dict[int, cp_model.IntVar] = {}
    running: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    collects: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    intake: dict[int, list[cp_model.IntVar]] = {}
    for j in freed:
        option = problem.option(j, facility)
        p = int(problem.duration[j])
        k = int(problem.centre[j])
        skip = model.new_bool_var("")
        skipped[j] = skip
        objective.append(_skip_cost(problem, j, extra_cost) * skip)
        prior = old.get(j)
        literals = [skip]
        picks: list[tuple[int, int, cp_model.IntVar]] = []
        if option is not None:
            first = max(option.earliest, lo)
            last = min(hi, horizon - p)
            for t in range(first, last + 1):
                cost = problem.cost(j, t) + (extra_cost(j, t) if extra_cost else 0)
                for s in suites:
                    if free_run[s, t] < p:
                        continue
                    x = model.new_bool_var("")
                    picks.append((s, t, x))
                    literals.append(x)
                    objective.append(cost * x)
                    for d in range(t, t + p):
                        running.setdefault((s, d), []).append(x)
                    collects.setdefault((k, t - option.transport), []).append(x)
                    intake.setdefault(t + p, []).append(x)
                    model.add_hint(x, prior is not None and prior.suite == s and prior.start == t)
        model.add_exactly_one(literals)
        choices[j] = picks
        model.add_hint(
            skip,
            prior is None or not any(prior.suite == s and prior.start == t for s, t, _ in picks),
        )
    for xs in running.values():
        if len(xs) > 1:
            model.add_at_most_one(xs)
    for (k, d), xs in collects.items():
        room = int(problem.centre_capacity[k] - calendar.centre_load[k, d])
        if len(xs) > room:
            model.add(sum(xs) <= max(room, 0))
    cap_qc = problem.qc_capacity[facility]
    if cap_qc is not None:
        for d, xs in intake.items():
            room = int(cap_qc - calendar.qc_load[facility, d])
            if len(xs) > room:
                model.add(sum(xs) <= max(room, 0))
    model.minimize(sum(objective))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    solver.parameters.max_deterministic_time = DETERMINISTIC_LIMIT
    # The deterministic limit is what stops a window (so a seed gives the same plan on a
    # busy machine); the wall clock only guards the overall deadline.
    solver.parameters.max_time_in_seconds = max(0.05, min(30.0, deadline - time.perf_counter()))
    # The window is small and its LP tight: heavy presolve costs more than it saves.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    solver.parameters.max_presolve_iterations = 1
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    result: dict[int, Booking | None] = {}
    for j in freed:
        result[j] = None
        for s, t, x in choices[j]:
            if solver.boolean_value(x):
                option = problem.option(j, facility)
                assert option is not None
                p = int(problem.duration[j])
                result[j] = Booking(
                    facility, s, t - option.transport, t, t + p, int(problem.centre[j])
                )
                break
    return result


def _skip_cost(problem: Problem, j: int, extra_cost: Callable[[int, int], int] | None) -> int:
    return problem.unscheduled_cost(j) + (extra_cost(j, -1) if extra_cost else 0)


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a boolean row."""
    padded = np.concatenate([[False], row.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
