"""Replanning after a batch failure or a slip, moving as few patients as possible.

What stays: every batch whose cells were collected on or before the event date
(work under way), and the scenario's fixed work. What must change: after a failure,
the patient is collected again after the failure date; after a slip, the batch keeps
its suite until the new end, so whoever was booked next in that suite must go
elsewhere. Everyone else keeps their booking unless moving them pays off.

The new plan minimises the plan objective plus a charge for stability: `move_cost`
for each patient whose collection, facility, suite or start changes, and
`shift_cost` per day its start moves. With the defaults a patient is moved only if
that saves at least a day of top-priority waiting (or a missed date) for someone
else. The search starts from the old plan with the displaced patients booked into
their earliest free slot, then lets CP-SAT re-solve windows around the event
(`_lns`). Every move is listed with its reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date, timedelta

from veinline.domain.errors import InvalidInput
from veinline.planning._assemble import assemble
from veinline.planning._calendar import Booking, Calendar
from veinline.planning._greedy import Schedule, book_earliest
from veinline.planning._lns import improve
from veinline.planning._problem import Option, Problem, compile_problem
from veinline.planning.events import BatchFailure, Slip
from veinline.planning.plan_io import Assignment, Move, Plan
from veinline.planning.scenario import FixedAssignment, Scenario
from veinline.planning.weights import TriageWeights


@dataclass(frozen=True)
class ReplanOptions:
    """Stability charges and search limits of a replan."""

    move_cost: int = 100
    """Charge per patient whose booking changes."""
    shift_cost: int = 5
    """Charge per day a moved patient's manufacturing start shifts."""
    time_limit_s: float = 0.6
    workers: int = 1
    seed: int = 0
    max_windows: int = 12


def replan(
    plan: Plan,
    scenario: Scenario,
    event: BatchFailure | Slip,
    *,
    options: ReplanOptions | None = None,
    weights: TriageWeights | None = None,
) -> Plan:
    """A new plan after `event`, listing who moved and why in `moves`."""
    options = options or ReplanOptions()
    started = time.perf_counter()
    _check_inputs(plan, scenario, event)
    today = event.date
    old = {a.patient: a for a in plan.assignments}
    target = old[event.patient]
    # Work under way stays: collected on or before the event date.
    under_way: list[FixedAssignment] = []
    for item in plan.assignments:
        if item.patient == event.patient and isinstance(event, BatchFailure):
            continue
        if item.apheresis_date <= today or item.patient in scenario.fixed_by_patient:
            end = item.manufacturing_end
            if item.patient == event.patient and isinstance(event, Slip):
                end = event.new_manufacturing_end
            under_way.append(
                FixedAssignment(
                    patient=item.patient,
                    facility=item.facility,
                    suite=item.suite,
                    apheresis_date=item.apheresis_date,
                    manufacturing_start=item.manufacturing_start,
                    manufacturing_end=end if end != _normal_end(scenario, item) else None,
                )
            )
    working = scenario.model_copy(update={"fixed": under_way})
    # `model_copy` keeps cached indexes; rebuild so lookups see the new fixed list.
    working = Scenario.model_validate(working.model_dump())
    problem = compile_problem(working, weights)
    _restrict_to_future(problem, today, event)
    old_booking = _old_bookings(problem, old)
    schedule, displaced = _repair(problem, old_booking, event)
    if isinstance(event, BatchFailure):
        # The failed patient must move whatever it costs; stability charges are for others.
        old_booking.pop(problem.index[event.patient], None)

    def stability(j: int, start: int) -> int:
        before = old_booking.get(j)
        if before is None:
            return 0
        if start < 0:
            return options.move_cost + options.shift_cost * problem.horizon
        if start == before.start:
            return 0
        return options.move_cost + options.shift_cost * abs(start - before.start)

    movable = set(range(problem.size))
    lns = improve(
        problem,
        schedule,
        deadline=started + options.time_limit_s,
        max_windows=options.max_windows,
        workers=options.workers,
        seed=options.seed,
        stop_at=lambda cost: False,
        movable=movable,
        extra_cost=stability,
        focus=sorted(
            (j for j in range(problem.size) if j in displaced or schedule.get(j) is None),
            key=lambda j: -int(problem.weight[j]),
        ),
    )
    schedule = lns.schedule
    events = [*plan.events, event.model_dump(mode="json")]
    new_plan = assemble(
        problem,
        schedule,
        policy="replan",
        bound=None,
        stats={
            "solver": "repair+ortools-cp-sat-lns",
            "wall_time_s": round(time.perf_counter() - started, 3),
            "lns_windows": lns.windows,
            "lns_improvements": lns.improvements,
            "move_cost": options.move_cost,
            "shift_cost": options.shift_cost,
            "num_workers": options.workers,
            "random_seed": options.seed,
        },
    )
    moves = _moves(new_plan, old, event, target, displaced, problem)
    stats = dict(new_plan.stats)
    stats["moved"] = len(moves)
    return new_plan.model_copy(update={"moves": moves, "events": events, "stats": stats})


def _normal_end(scenario: Scenario, item: Assignment) -> date:
    product = scenario.products_by_code[scenario.patients_by_id[item.patient].product]
    return item.manufacturing_start + timedelta(days=product.manufacturing_days)


def _check_inputs(plan: Plan, scenario: Scenario, event: BatchFailure | Slip) -> None:
    if plan.start_date != scenario.start_date or plan.horizon_days != scenario.horizon_days:
        raise InvalidInput("the plan was not made for this scenario (start date or horizon differ)")
    unknown = {a.patient for a in plan.assignments} - set(scenario.patients_by_id)
    if unknown:
        raise InvalidInput(f"the plan names patients the scenario lacks: {sorted(unknown)[:5]}")
    booked = plan.assignment(event.patient)
    if booked is None:
        raise InvalidInput(f"event.patient: {event.patient!r} has no booking in the plan")
    if event.date < plan.start_date:
        raise InvalidInput(f"event.date: {event.date} is before the plan starts")
    if isinstance(event, BatchFailure):
        if event.date < booked.apheresis_date:
            raise InvalidInput(
                f"event.date: a batch cannot fail ({event.date}) before its cells are "
                f"collected ({booked.apheresis_date})"
            )
    else:
        if event.new_manufacturing_end <= booked.manufacturing_end:
            raise InvalidInput(
                f"event.new_manufacturing_end: {event.new_manufacturing_end} is not later "
                f"than the planned end {booked.manufacturing_end}"
            )
        if event.date < booked.apheresis_date:
            raise InvalidInput(
                f"event.date: a batch cannot slip ({event.date}) before its cells are "
                f"collected ({booked.apheresis_date})"
            )


def _restrict_to_future(problem: Problem, today: date, event: BatchFailure | Slip) -> None:
    """Nothing not yet collected may be collected on or before the event date."""
    first_day = problem.scenario.day(today) + 1
    for j in range(problem.size):
        options = []
        for option in problem.options[j]:
            earliest = max(option.earliest, first_day + option.transport)
            options.append(replace(option, earliest=earliest))
        problem.options[j] = options


def _old_bookings(problem: Problem, old: dict[str, Assignment]) -> dict[int, Booking]:
    scenario = problem.scenario
    facility_index = {fid: i for i, fid in enumerate(problem.facility_ids)}
    result = {}
    for j, pid in enumerate(problem.ids):
        item = old.get(pid)
        if item is None:
            continue
        result[j] = Booking(
            facility=facility_index[item.facility],
            suite=item.suite - 1,
            apheresis=scenario.day(item.apheresis_date),
            start=scenario.day(item.manufacturing_start),
            end=scenario.day(item.manufacturing_end),
            centre=int(problem.centre[j]),
        )
    return result


def _repair(
    problem: Problem, old: dict[int, Booking], event: BatchFailure | Slip
) -> tuple[Schedule, dict[int, str]]:
    """Keep every old booking that still fits; book the rest at their earliest slot."""
    calendar = Calendar(problem)
    schedule: Schedule = {}
    displaced: dict[int, str] = {}
    for j in sorted(old, key=lambda j: (old[j].start, j)):
        booking = old[j]
        option = problem.option(j, booking.facility)
        ok = (
            option is not None
            and booking.start >= option.earliest
            and booking.end <= problem.horizon
            and calendar.fits(booking.facility, booking.suite, booking.start, booking.end)
            and calendar.centre_has_room(booking.centre, booking.apheresis)
            and calendar.qc_has_room(booking.facility, booking.end)
        )
        if ok:
            calendar.book(booking)
            schedule[j] = booking
        else:
            displaced[j] = _why_displaced(problem, calendar, booking, option)
    for j in range(problem.size):
        if j not in schedule and j not in displaced and j in old:
            displaced[j] = "booking no longer fits"
    pending = sorted(
        [j for j in range(problem.size) if j not in schedule],
        key=lambda j: (-int(problem.weight[j]), int(problem.earliest[j]), j),
    )
    for j in pending:
        schedule[j] = book_earliest(problem, calendar, j)
    return schedule, displaced


def _why_displaced(
    problem: Problem, calendar: Calendar, booking: Booking, option: Option | None
) -> str:
    scenario = problem.scenario
    if option is None or booking.start < option.earliest:
        return "its collection date has passed or falls on the event date"
    if not calendar.fits(booking.facility, booking.suite, booking.start, booking.end):
        return (
            f"suite {booking.suite + 1} of {problem.facility_ids[booking.facility]} is no longer "
            f"free from {scenario.date_of(booking.start)}"
        )
    if not calendar.centre_has_room(booking.centre, booking.apheresis):
        return f"apheresis capacity is taken on {scenario.date_of(booking.apheresis)}"
    return f"QC intake is full on {scenario.date_of(booking.end)}"


def _moves(
    plan: Plan,
    old: dict[str, Assignment],
    event: BatchFailure | Slip,
    target: Assignment,
    displaced: dict[int, str],
    problem: Problem,
) -> list[Move]:
    new = {a.patient: a for a in plan.assignments}
    displaced_ids = {problem.ids[j]: why for j, why in displaced.items()}
    moves = []
    for pid, before in old.items():
        after = new.get(pid)
        if after is not None and _same_slot(before, after):
            continue
        if pid == event.patient:
            if isinstance(event, BatchFailure):
                reason = (
                    f"batch failed on {event.date}: cells must be collected again after the failure"
                )
            else:
                reason = (
                    f"batch slipped: manufacturing ends {event.new_manufacturing_end} "
                    f"instead of {target.manufacturing_end}"
                )
        elif pid in displaced_ids:
            reason = (
                f"displaced by the {_event_name(event)} of {event.patient}: " + displaced_ids[pid]
            )
        else:
            reason = _why_moved(pid, before, after, new, old, event)
        shift = None if after is None else (after.infusion_date - before.infusion_date).days
        moves.append(Move(patient=pid, reason=reason, before=before, after=after, shift_days=shift))
    for pid, after in new.items():
        if pid not in old:
            moves.append(
                Move(
                    patient=pid,
                    reason=f"a slot opened after the {_event_name(event)} of {event.patient}",
                    before=None,
                    after=after,
                    shift_days=None,
                )
            )
    return moves


def _event_name(event: BatchFailure | Slip) -> str:
    return "batch failure" if isinstance(event, BatchFailure) else "slip"


def _same_slot(a: Assignment, b: Assignment) -> bool:
    return (
        a.facility == b.facility
        and a.suite == b.suite
        and a.apheresis_date == b.apheresis_date
        and a.manufacturing_start == b.manufacturing_start
        and a.manufacturing_end == b.manufacturing_end
    )


def _why_moved(
    pid: str,
    before: Assignment,
    after: Assignment | None,
    new: dict[str, Assignment],
    old: dict[str, Assignment],
    event: BatchFailure | Slip,
) -> str:
    if after is None:
        return f"no slot left before the horizon ends after the {_event_name(event)}"
    # Who took this patient's old suite-days?
    for other, item in new.items():
        if other == pid or item.facility != before.facility or item.suite != before.suite:
            continue
        overlap = (
            item.manufacturing_start < before.manufacturing_end
            and before.manufacturing_start < item.manufacturing_end
        )
        previous = old.get(other)
        if overlap and (previous is None or not _same_slot(previous, item)):
            return (
                f"made room for {other} in suite {before.suite} of {before.facility}; "
                "the new plan has a lower priority-weighted cost"
            )
    direction = "earlier" if after.infusion_date < before.infusion_date else "later"
    return (
        f"moved {direction} to lower priority-weighted waiting after the "
        f"{_event_name(event)} of {event.patient}"
    )
