"""An independent check that a plan can be carried out: it shares no code with the planners.

Every plan the tests produce (optimal, FIFO, replanned) goes through `check_plan`,
which recomputes everything from the scenario with plain loops over days:

* coverage: every patient is planned or listed as unscheduled, exactly once;
* references: facility, suite and the centre's transport route exist;
* process times: end = start + manufacturing days, release = end + QC days,
  infusion = release + shipping days (a recorded slip may lengthen manufacturing);
* precedence: collection on or after the ready date and the plan start (and, after a
  batch failure, after the failure), manufacturing no earlier than collection plus
  transport, the batch ending within the horizon;
* capacity: one batch per suite per day, no batch in a closed suite, apheresis and
  QC intake per day within capacity;
* fixed work: every started batch of the scenario kept exactly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from veinline.planning.events import BatchFailure, Slip, parse_event
from veinline.planning.plan_io import Plan
from veinline.planning.scenario import Scenario


@dataclass(frozen=True)
class Violation:
    """One way a plan breaks the scenario's rules."""

    kind: str
    patient: str | None
    message: str

    def __str__(self) -> str:
        who = f" [{self.patient}]" if self.patient else ""
        return f"{self.kind}{who}: {self.message}"


def check_plan(plan: Plan, scenario: Scenario) -> list[Violation]:
    """Every violation of `scenario` by `plan` (an empty list means the plan is feasible)."""
    found: list[Violation] = []

    def add(kind: str, patient: str | None, message: str) -> None:
        found.append(Violation(kind, patient, message))

    if plan.start_date != scenario.start_date or plan.horizon_days != scenario.horizon_days:
        add("calendar", None, "plan and scenario do not share start date and horizon")
    events = [parse_event(e) for e in plan.events]
    failed_after: dict[str, date] = {}
    slipped_end: dict[str, date] = {}
    for event in events:
        if isinstance(event, BatchFailure):
            failed_after[event.patient] = event.date
        elif isinstance(event, Slip):
            slipped_end[event.patient] = event.new_manufacturing_end

    patients = {p.id: p for p in scenario.patients}
    seen = Counter([a.patient for a in plan.assignments] + [u.patient for u in plan.unscheduled])
    for pid, count in seen.items():
        if pid not in patients:
            add("coverage", pid, "not a patient of the scenario")
        elif count > 1:
            add("coverage", pid, f"appears {count} times in the plan")
    for pid in patients:
        if pid not in seen:
            add("coverage", pid, "neither planned nor listed as unscheduled")

    facilities = {f.id: f for f in scenario.facilities}
    centres = {c.id: c for c in scenario.apheresis_centres}
    products = {p.code: p for p in scenario.products}
    fixed = {f.patient: f for f in scenario.fixed}
    horizon_end = scenario.start_date + timedelta(days=scenario.horizon_days)
    suite_days: dict[tuple[str, int, date], str] = {}
    collections: Counter[tuple[str, date]] = Counter()
    intake: Counter[tuple[str, date]] = Counter()
    closed: set[tuple[str, int, date]] = set()
    for site in scenario.facilities:
        for closure in site.closures:
            day = closure.first_day
            while day <= closure.last_day:
                closed.add((site.id, closure.suite, day))
                day += timedelta(days=1)

    for a in plan.assignments:
        patient = patients.get(a.patient)
        if patient is None:
            continue
        product = products[patient.product]
        centre = centres[patient.centre]
        facility = facilities.get(a.facility)
        if facility is None:
            add("reference", a.patient, f"unknown facility {a.facility}")
            continue
        if not 1 <= a.suite <= facility.suites:
            add("reference", a.patient, f"facility {a.facility} has no suite {a.suite}")
        work = fixed.get(a.patient)
        expected_end = a.manufacturing_start + timedelta(days=product.manufacturing_days)
        if a.patient in slipped_end:
            expected_end = slipped_end[a.patient]
        elif work is not None and work.manufacturing_end is not None:
            expected_end = work.manufacturing_end
        if a.manufacturing_end != expected_end:
            add(
                "process",
                a.patient,
                f"manufacturing ends {a.manufacturing_end}, expected {expected_end}",
            )
        if a.release_date != a.manufacturing_end + timedelta(days=product.qc_days):
            add("process", a.patient, f"release {a.release_date} is not end + {product.qc_days}")
        if a.infusion_date != a.release_date + timedelta(days=product.ship_days):
            add(
                "process",
                a.patient,
                f"infusion {a.infusion_date} is not release + {product.ship_days}",
            )
        if work is not None:
            kept = (
                work.facility == a.facility
                and work.suite == a.suite
                and work.apheresis_date == a.apheresis_date
                and work.manufacturing_start == a.manufacturing_start
            )
            if not kept:
                add("fixed", a.patient, "started work was changed")
        else:
            if a.apheresis_date < patient.ready_date:
                add("precedence", a.patient, f"collected {a.apheresis_date} before ready date")
            if a.apheresis_date < scenario.start_date:
                add("precedence", a.patient, "collected before the plan starts")
            if a.manufacturing_end > horizon_end and a.patient not in slipped_end:
                add("horizon", a.patient, f"batch ends {a.manufacturing_end} after {horizon_end}")
        if a.patient in failed_after and a.apheresis_date <= failed_after[a.patient]:
            add(
                "precedence",
                a.patient,
                f"re-collection {a.apheresis_date} not after the failure {failed_after[a.patient]}",
            )
        transport = centre.transport_days.get(a.facility)
        if transport is None:
            add("transport", a.patient, f"centre {centre.id} does not ship to {a.facility}")
        elif a.manufacturing_start < a.apheresis_date + timedelta(days=transport):
            add(
                "transport",
                a.patient,
                f"manufacturing starts {a.manufacturing_start}, before collection "
                f"{a.apheresis_date} + {transport} transport days",
            )
        day = a.manufacturing_start
        while day < a.manufacturing_end:
            key = (a.facility, a.suite, day)
            if key in suite_days:
                add(
                    "suite",
                    a.patient,
                    f"suite {a.suite} of {a.facility} double-booked on {day} "
                    f"with {suite_days[key]}",
                )
            suite_days[key] = a.patient
            if key in closed:
                add("closure", a.patient, f"suite {a.suite} of {a.facility} is closed on {day}")
            day += timedelta(days=1)
        collections[(centre.id, a.apheresis_date)] += 1
        intake[(a.facility, a.manufacturing_end)] += 1

    for (centre_id, day), count in collections.items():
        if count > centres[centre_id].daily_capacity:
            add("apheresis", None, f"centre {centre_id} collects {count} patients on {day}")
    for (facility_id, day), count in intake.items():
        cap = scenario.qc.daily_capacity.get(facility_id)
        if cap is not None and count > cap:
            add("qc", None, f"QC of {facility_id} takes in {count} batches on {day}")
    planned = {a.patient for a in plan.assignments}
    for pid in fixed:
        if pid not in planned:
            add("fixed", pid, "started work is missing from the plan")
    return found
