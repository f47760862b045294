"""The work queue: what waits on the signed-in user's action now, and the alerts they
must see (docs/architecture.md, "Work queues").

Read-only. What is listed follows the same two tables as every other offer: the
authority table (`services/authority.py`: who may do it, at which sites; a record the
user may not read is never listed) and the records' state tables (what can be done to
the record now). Each item says why it waits and links to the page where the action is
taken; items are ordered most urgent first, then oldest first, and shown a page at a time
with the counts of the whole queue.

It reads only what can be waiting on the user, each kind in one query of the unit of
work (`case_heads`, `cases_in`, `shipments_in_transit`, `toxicities`,
`unfinished_batches`, ...): cases in the states whose arrows the user's roles take, at
the sites they reach; early cases (to confirm, book, collect, plan) as light heads
without patient data; shipments in transit; unfinished batches; grade 3 or higher
toxicities. The count of statements does not grow with the number of cases.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from veinline.domain.assessment import Assessment, AssessmentKind
from veinline.domain.batch import Batch, BatchStatus, Severity, StepStatus
from veinline.domain.case import TRANSITIONS, Action, Case, CaseState, local_date
from veinline.domain.custody import POINTS, CustodyPoint, open_points
from veinline.domain.release import Disposition, ReleaseAction, ReleaseRecord
from veinline.domain.shipment import Shipment, ShipmentStatus
from veinline.domain.user import Role, User
from veinline.services import authority, commands, places
from veinline.services.authority import Read, Where
from veinline.services.unit_of_work import (
    PAGE_SIZE,
    AbstractUnitOfWork,
    CaseHead,
    bounded_page,
)

# How urgent an item is: the queue is sorted on it first.
ROUTINE = 0
TODAY = 1
URGENT = 2

# CTCAE-style grade from which a CRS or ICANS assessment raises an alert (grade 3 is
# "severe" in the ASTCT consensus grading the domain implements).
ALERT_GRADE = 3

# The case's arrows a queue lists as the user's own action. Cancelling is always open
# and waits on nobody; release and the QC outcome are listed from the batch's side
# (the QC and release items); the custody arrows are listed as the scans that fire them.
_CASE_ACTIONS: dict[Action, str] = {
    Action.CONFIRM_ELIGIBILITY: "enrolled: eligibility waits on a physician's confirmation",
    Action.BOOK_APHERESIS: "eligible: apheresis is not booked yet",
    Action.COLLECT: "apheresis booked for {date}: collect the cells",
    Action.START_MANUFACTURING: "received at the facility: manufacturing is not started",
    Action.COMPLETE_MANUFACTURING: "every step of batch {batch} is signed: complete "
    "manufacturing (bags and expiry)",
    Action.RECOLLECT: "out of specification: recollect, or wait for QA's conditional release",
    Action.INFUSE: "the product is at the treatment centre: bedside check and infusion",
    Action.START_FOLLOW_UP: "infused: start the follow-up schedule",
}

_SCAN_WHY: dict[CustodyPoint, str] = {
    CustodyPoint.APHERESIS_PICKUP: "collected at {origin}: pick up the apheresis material",
    CustodyPoint.MANUFACTURING_RECEIPT: "in transit to {destination}: scan it in on arrival",
    CustodyPoint.PRODUCT_PICKUP: "released: pick up the product at {origin}",
    CustodyPoint.SITE_RECEIPT: "in transit to {destination}: scan it in on arrival",
}


@dataclass(frozen=True)
class WorkItem:
    """One thing waiting on this user."""

    kind: str  # case, batch, shipment, deviation, qc, release, visit, safety_report
    record: str  # the id of the record that waits
    action: str  # what to do, by name (an action, a scan point, a batch action)
    title: str
    why: str
    href: str
    since: str | None = None  # ISO date or moment it has waited since, if known
    urgency: int = ROUTINE
    case_id: str | None = None
    overdue: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Alert:
    """Something this user must see at once, whether or not it is theirs to act on."""

    kind: str  # toxicity, blocked_shipment, safety_report
    record: str
    message: str
    href: str
    severity: str = "critical"  # critical or warning
    case_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _case_href(case_id: str, anchor: str = "") -> str:
    return f"/cases/{quote(case_id)}" + (f"#{anchor}" if anchor else "")


def _batch_href(batch_id: str, anchor: str = "") -> str:
    return f"/batches/{quote(batch_id)}" + (f"#{anchor}" if anchor else "")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="minutes") if moment else None


# Cases early in the journey, read as heads (`CaseHead`): what waits on them (confirm,
# book, collect, plan) is worded from the head alone, and a busy centre has thousands.
_HEAD_STATES = frozenset({CaseState.ENROLLED, CaseState.ELIGIBLE, CaseState.APHERESIS_BOOKED})
_FOLLOWED = frozenset({CaseState.INFUSED, CaseState.FOLLOW_UP})
_TOXICITIES = (AssessmentKind.CRS, AssessmentKind.ICANS)


def _plans(user: User) -> bool:
    """Whether the user's home lists the cases to plan (planners only)."""
    return user.role is Role.PLANNER and authority.may(user, commands.SetPlannedDates)


def _head_states(user: User) -> frozenset[CaseState]:
    """The early states in which something can wait on this user somewhere."""
    planner = _plans(user)
    found = set()
    if authority.may(user, commands.ConfirmEligibility):
        found.add(CaseState.ENROLLED)
    if planner or authority.may(user, commands.BookApheresis):
        found.add(CaseState.ELIGIBLE)
    if planner or authority.may(user, commands.Collect):
        found.add(CaseState.APHERESIS_BOOKED)
    return frozenset(found)


def _whole_states(user: User) -> frozenset[CaseState]:
    """The later states in which a case can wait on this user somewhere: an arrow the
    queue lists, a scan, a follow-up visit. Cases in them are read whole, with their
    shipments (a case in flight; the follow-up cases with their assessments)."""
    found = set()
    for state in CaseState:
        if state in _HEAD_STATES:
            continue
        listed = [a for a in TRANSITIONS.available(state) if a in _CASE_ACTIONS]
        scans = [p for p in open_points(state) if p in _SCAN_WHY]
        if (
            any(authority.may(user, s) for a in listed for s in authority.CASE_ACTIONS[a])
            or any(authority.may(user, p) for p in scans)
            or (state in _FOLLOWED and any(authority.may(user, k) for k in AssessmentKind))
        ):
            found.add(state)
    return frozenset(found)


class _Context:
    """What one queue needs looked up once: only the records that can wait on this user
    (one query each), the sites' zones, the clock."""

    def __init__(self, uow: AbstractUnitOfWork, user: User, now: datetime) -> None:
        self.uow = uow
        self.user = user
        self.now = now
        self.zones = {s.code: s.timezone for s in uow.sites.list()}
        self.reach, self.full = authority.reach(user, Read.CASE)
        # A booked case waits for collection from its day at the unit: no unit's date
        # is later than tomorrow's in UTC (the exact day is checked per case).
        tomorrow = (now.astimezone(UTC).date() + timedelta(days=1)).isoformat()
        self.heads = uow.case_heads(
            _head_states(user), self.reach, booked_by="" if _plans(user) else tomorrow
        )
        self.cases = {c.id: c for c in uow.cases_in(_whole_states(user), self.reach)}
        self.batches = uow.unfinished_batches(authority.reach(user, Read.BATCH)[0])
        self.records = {r.batch_id: r for r in uow.release_records_of(b.id for b in self.batches)}
        # The batches' cases: their sites (`places.of_batch` finds them read) and state.
        self.batch_cases = {
            c.id: c
            for c in uow.cases_of(b.case_id for b in self.batches if b.case_id)
            if authority.visible(user, Read.CASE, Where.of_case(c))
        }
        # Read once for the whole queue, not once per case.
        self._shipments: dict[str, list[Shipment]] = {}
        for shipment in uow.shipments_of(self.cases):
            if shipment.case_id is not None:
                self._shipments.setdefault(shipment.case_id, []).append(shipment)
        followed = [c.id for c in self.cases.values() if c.state in _FOLLOWED]
        self._assessments: dict[str, list[Assessment]] = {}
        for assessment in uow.assessments_of(followed):
            self._assessments.setdefault(assessment.case_id, []).append(assessment)
        self._arrows: dict[
            tuple[CaseState, str | None, str | None, str | None, str | None], list[Action]
        ] = {}

    def arrows(self, state: CaseState, where: Where) -> list[Action]:
        """The user's arrows on a case in `state` at these sites, asked once per state
        and sites (not per case: the record's name is left out of the key)."""
        key = (state, where.treatment, where.apheresis, where.facility, where.depot)
        if key not in self._arrows:
            self._arrows[key] = authority.arrows(self.user, state, where)
        return self._arrows[key]

    def today_at(self, site: str | None) -> date:
        return local_date(self.now, self.zones.get(site or "", "UTC"))

    def shipments(self, case: Case) -> list[Shipment]:
        """The case's shipments, in the repository's order (as `find` gives them)."""
        return self._shipments.get(case.id, [])

    def assessments(self, case: Case) -> list[Assessment]:
        return self._assessments.get(case.id, [])


def work_queue(
    uow: AbstractUnitOfWork,
    user: User,
    now: datetime,
    *,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> dict[str, Any]:
    """The user's queue and alerts, JSON-ready (the home page, `GET /api/v1/me/work` and
    `veinline work` show the same): one page of the items, most urgent first, with the
    counts of the whole queue; every alert."""
    context = _Context(uow, user, now)
    items: list[WorkItem] = []
    alerts: list[Alert] = []
    for head in context.heads:
        items += _head_items(context, head)
    for case in context.cases.values():
        items += _case_items(context, case)
    blocked, held = _blocked_shipments(context)
    items += blocked
    alerts += held + _toxicity_alerts(context)
    items += _planning_items(context)
    items += _batch_items(context)
    items += _release_items(context)
    items += _followup_items(context)
    items.sort(key=lambda i: (-i.urgency, i.since or "9999", i.record, i.action))
    alerts += [_overdue_alert(i) for i in items if i.kind == "safety_report" and i.overdue]
    alerts.sort(key=lambda a: (a.severity != "critical", a.record))
    page, size = bounded_page(page, page_size)
    pages = max(1, -(-len(items) // size))
    page = min(page, pages)
    return {
        "user": user.username,
        "role": user.role.value,
        "role_label": user.role.label,
        "home": _home_kind(user),
        "generated_at": _iso(now),
        "items": [i.to_dict() for i in items[(page - 1) * size : page * size]],
        "alerts": [a.to_dict() for a in alerts],
        "counts": _counts(items),
        "total": len(items),
        "page": page,
        "page_size": size,
        "pages": pages,
    }


def _home_kind(user: User) -> str:
    """Which home page the role gets: a queue of records, or a planner's or an
    administrator's home."""
    if user.role is Role.PLANNER:
        return "planner"
    if user.role is Role.ADMIN:
        return "admin"
    return "queue"


def _counts(items: list[WorkItem]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return counts


# ------------------------------------------------------------------ cases and custody


def _arrow_items(context: _Context, case: Case | CaseHead, where: Where) -> list[WorkItem]:
    found: list[WorkItem] = []
    for action in context.arrows(case.state, where):
        why = _CASE_ACTIONS.get(action)
        if why is None:
            continue
        item = _case_action_item(context, case, action, why)
        if item is not None:
            found.append(item)
    return found


def _head_items(context: _Context, head: CaseHead) -> list[WorkItem]:
    """An early case's arrows (confirm, book, collect): no scan or shipment waits yet."""
    where = Where(
        f"case {head.id}",
        treatment=head.treatment_site,
        apheresis=head.apheresis_site,
        facility=head.manufacturing_site,
    )
    return _arrow_items(context, head, where)


def _case_items(context: _Context, case: Case) -> list[WorkItem]:
    where = Where.of_case(case)
    found = _arrow_items(context, case, where)
    shipments = context.shipments(case)
    for point in authority.scan_points(context.user, case.state, where):
        item = _scan_item(context, case, point, shipments)
        if item is not None:
            found.append(item)
    return found


def _blocked_shipments(context: _Context) -> tuple[list[WorkItem], list[Alert]]:
    """Shipments in transit whose receipt is blocked: QA's disposition waits (an item),
    and QA and whoever waits to scan it in are alerted."""
    user = context.user
    shipments = [s for s in context.uow.shipments_in_transit(context.reach) if _held(s)]
    cases = {c.id: c for c in context.uow.cases_of(s.case_id for s in shipments if s.case_id)}
    receivers = [CustodyPoint.MANUFACTURING_RECEIPT, CustodyPoint.SITE_RECEIPT]
    items: list[WorkItem] = []
    alerts: list[Alert] = []
    for shipment in shipments:
        case = cases.get(shipment.case_id or "")
        if case is None:
            continue
        where = Where.of_case(case)
        disposes = authority.may(user, commands.DisposeExcursion, where)
        if disposes and shipment.disposition is None:
            items.append(
                WorkItem(
                    kind="shipment",
                    record=shipment.id,
                    action="dispose_excursion",
                    title=f"Disposition · shipment {shipment.id}",
                    why=f"receipt blocked ({shipment.question}): QA accepts or rejects "
                    "it by signature",
                    href=_case_href(case.id, f"shipment-{shipment.id}"),
                    since=_iso(shipment.dispatched_at or shipment.created_at),
                    urgency=URGENT,
                    case_id=case.id,
                )
            )
        # For QA, who answers it, and for whoever waits to scan it in.
        if disposes or any(authority.may(user, p, where) for p in receivers):
            alerts.append(
                Alert(
                    kind="blocked_shipment",
                    record=shipment.id,
                    message=f"shipment {shipment.id} of case {case.id}: receipt blocked "
                    f"({shipment.question}"
                    f"{', rejected by QA' if shipment.disposition else ''})",
                    href=_case_href(case.id, "shipments"),
                    case_id=case.id,
                )
            )
    return items, alerts


def _held(shipment: Shipment) -> bool:
    """A shipment on its way whose receipt is blocked (domain/shipment.py `blocked`): an
    excursion, or a cryopreserved product with no logger readings. One not dispatched
    yet has no readings to miss."""
    return shipment.blocked and shipment.status is ShipmentStatus.IN_TRANSIT


def _case_action_item(
    context: _Context, case: Case | CaseHead, action: Action, why: str
) -> WorkItem | None:
    since: str | None = None
    urgency = ROUTINE
    title = f"{action.value.replace('_', ' ').capitalize()} · case {case.id}"
    if action is Action.CONFIRM_ELIGIBILITY:
        since = _iso(case.enrolled_at)
    elif action is Action.BOOK_APHERESIS:
        if case.state is not CaseState.ELIGIBLE:
            return None  # a booked case is rescheduled from its page, not from a queue
        since = _iso(case.enrolled_at)
    elif action is Action.COLLECT:
        if not case.apheresis_date:
            return None
        booked = date.fromisoformat(case.apheresis_date)
        today = context.today_at(case.apheresis_site)
        if booked > today:
            return None  # not today's: the queue holds what waits now
        urgency = URGENT if booked < today else TODAY
        since = booked.isoformat()
        why = why.format(date="today" if booked == today else f"{booked} (overdue)")
    elif not isinstance(case, Case):
        return None  # a head's state has no other arrow a queue lists
    elif action is Action.START_MANUFACTURING:
        received = [c.collected_at for c in case.collections[-1:]]
        since = _iso(received[0]) if received else None
    elif action is Action.COMPLETE_MANUFACTURING:
        batch = context.uow.batches.get(case.batch_id) if case.batch_id else None
        if batch is None or not _finished(batch):
            return None  # offered once every step is signed (the case page says the same)
        since = _iso(max((s.completed_at for s in batch.steps if s.completed_at), default=None))
        why = why.format(batch=batch.id)
    elif action is Action.INFUSE:
        urgency = TODAY
    elif action is Action.START_FOLLOW_UP and case.infusion is not None:
        since = _iso(case.infusion.infusion_started_at)
    return WorkItem(
        kind="case",
        record=case.id,
        action=action.value,
        title=title,
        why=why,
        href=_case_href(case.id, f"action-{action.value}"),
        since=since,
        urgency=urgency,
        case_id=case.id,
    )


def _finished(batch: Batch) -> bool:
    """Every step of the batch completed (the batch record is then complete):
    manufacturing may be completed."""
    return batch.status is BatchStatus.COMPLETED


def _scan_item(
    context: _Context, case: Case, point: CustodyPoint, shipments: list[Shipment]
) -> WorkItem | None:
    leg = POINTS[point].shipment_leg
    why = _SCAN_WHY.get(point)
    if leg is None or why is None:
        return None
    shipment = next((s for s in reversed(shipments) if s.leg.value == leg), None)
    pickup = point in (CustodyPoint.APHERESIS_PICKUP, CustodyPoint.PRODUCT_PICKUP)
    if shipment is None:
        if not pickup:
            return None
        origin = case.apheresis_site if leg == "apheresis" else case.manufacturing_site
        destination = None
    else:
        if pickup and shipment.status is not ShipmentStatus.CREATED:
            return None
        if not pickup and shipment.status is not ShipmentStatus.IN_TRANSIT:
            return None
        if not pickup and shipment.blocked:
            return None  # QA answers first: the QA reviewer's queue has it
        origin, destination = shipment.from_site, shipment.to_site
    since = _iso(shipment.dispatched_at or shipment.created_at) if shipment else None
    return WorkItem(
        kind="shipment",
        record=shipment.id if shipment else case.id,
        action=point.value,
        title=f"{point.label} · case {case.id}",
        why=why.format(origin=origin or "its origin", destination=destination or "its site"),
        href=_case_href(case.id, "action-scan"),
        since=since,
        urgency=TODAY if pickup else ROUTINE,
        case_id=case.id,
    )


def _toxicity_alerts(context: _Context) -> list[Alert]:
    """A CRS or ICANS of grade 3 or higher: the care team's, so only those who see the
    patient's data at the case's sites see it (`authority.reach`, full data)."""
    found: list[Alert] = []
    for assessment in context.uow.toxicities(context.full, _TOXICITIES, ALERT_GRADE):
        grade = assessment.result.get("grade")
        found.append(
            Alert(
                kind="toxicity",
                record=assessment.id,
                message=f"case {assessment.case_id}: {assessment.kind.label} grade {grade} "
                f"on {assessment.assessed_on}",
                href=_case_href(assessment.case_id, "followup"),
                case_id=assessment.case_id,
            )
        )
    return found


def _planning_items(context: _Context) -> list[WorkItem]:
    """A planner's home: cases on their way to collection with no planned dates."""
    if not _plans(context.user):
        return []
    return [
        WorkItem(
            kind="case",
            record=case.id,
            action="plan",
            title=f"Plan · case {case.id}",
            why=f"{case.state.label.lower()}: no planned manufacturing and infusion dates",
            href="/planning",
            since=_iso(case.enrolled_at),
            case_id=case.id,
        )
        for case in context.heads
        if case.state in (CaseState.ELIGIBLE, CaseState.APHERESIS_BOOKED) and not case.planned
    ]


# ------------------------------------------------------------------ batches


def _batch_items(context: _Context) -> list[WorkItem]:
    user = context.user
    found: list[WorkItem] = []
    for batch in context.batches:
        where = places.of_batch(context.uow, batch)
        if batch.status is BatchStatus.IN_PROGRESS:
            found += _floor_items(context, batch, where)
        record_open = batch.status in (BatchStatus.IN_PROGRESS, BatchStatus.COMPLETED)
        if record_open and authority.may(user, commands.VerifyCorrection, where):
            for entry in batch.unverified_corrections():
                if entry.entered_by == user.username:
                    continue  # a second person verifies
                found.append(
                    WorkItem(
                        kind="batch",
                        record=batch.id,
                        action="verify_correction",
                        title=f"Verify correction #{entry.seq} · batch {batch.id}",
                        why=f"{entry.parameter} corrected after signature: a second "
                        "person verifies it",
                        href=_batch_href(batch.id),
                        since=_iso(entry.entered_at),
                        case_id=batch.case_id,
                    )
                )
        if authority.may(user, commands.InvestigateDeviation, where):
            for deviation in batch.open_deviations():
                serious = deviation.severity in (Severity.MAJOR, Severity.CRITICAL)
                found.append(
                    WorkItem(
                        kind="deviation",
                        record=deviation.id,
                        action="investigate_deviation",
                        title=f"Deviation {deviation.id} · batch {batch.id}",
                        why=f"{deviation.severity.label.lower()} deviation "
                        f"{deviation.state.label.lower()}: {deviation.description}",
                        href=_batch_href(batch.id, "deviations"),
                        since=_iso(deviation.raised_at),
                        urgency=URGENT if serious else ROUTINE,
                        case_id=batch.case_id,
                    )
                )
    return found


def _floor_items(context: _Context, batch: Batch, where: Where) -> list[WorkItem]:
    """Steps to start, record and sign (operators), and steps to verify (a second person)."""
    user = context.user
    found: list[WorkItem] = []
    if authority.may(user, commands.StartStep, where):
        running = [s for s in batch.steps if s.status is StepStatus.IN_PROGRESS]
        pending = next((s for s in batch.steps if s.status is StepStatus.PENDING), None)
        before_done = pending is not None and all(
            s.status is StepStatus.COMPLETED for s in batch.steps if s.position < pending.position
        )
        for step in running:
            found.append(
                WorkItem(
                    kind="batch",
                    record=batch.id,
                    action="complete_step",
                    title=f"{step.title} · batch {batch.id}",
                    why="running: record its values and sign it as performed"
                    + (f" ({len(step.missing())} values missing)" if step.missing() else ""),
                    href=_batch_href(batch.id, "steps"),
                    since=_iso(step.started_at),
                    case_id=batch.case_id,
                )
            )
        if pending is not None and before_done and not running:
            found.append(
                WorkItem(
                    kind="batch",
                    record=batch.id,
                    action="start_step",
                    title=f"Start {pending.title} · batch {batch.id}",
                    why="the step before it is complete: the next step waits to start",
                    href=_batch_href(batch.id, "steps"),
                    since=_iso(batch.started_at),
                    case_id=batch.case_id,
                )
            )
    if authority.may(user, commands.VerifyStep, where):
        for step in batch.steps:
            if step.status is not StepStatus.AWAITING_VERIFICATION:
                continue
            if user.username in step.people():
                continue  # a second person verifies
            found.append(
                WorkItem(
                    kind="batch",
                    record=batch.id,
                    action="verify_step",
                    title=f"Verify {step.title} · batch {batch.id}",
                    why="signed as performed: a second person verifies it",
                    href=_batch_href(batch.id, "steps"),
                    since=_iso(step.completed_at or step.started_at),
                    case_id=batch.case_id,
                )
            )
    return found


# ------------------------------------------------------------------ QC and release


def _release_items(context: _Context) -> list[WorkItem]:
    user = context.user
    found: list[WorkItem] = []
    for batch in context.batches:
        where = places.of_batch(context.uow, batch)
        record = context.records.get(batch.id)
        case = context.batch_cases.get(batch.case_id or "")
        if record is None:
            # Results are entered once manufacturing is completed and the case is in QC.
            if (
                batch.status is BatchStatus.COMPLETED
                and case is not None
                and case.state is CaseState.IN_QC
                and authority.may(user, commands.EnterResult, where)
            ):
                found.append(_qc_item(batch, "no results entered yet", batch.completed_at))
            continue
        if record.disposition.final:
            continue
        missing = record.missing_tests()
        if missing and authority.may(user, commands.EnterResult, where):
            names = ", ".join(t.name for t in missing[:3]) + ("…" if len(missing) > 3 else "")
            found.append(
                _qc_item(batch, f"{len(missing)} results missing: {names}", batch.completed_at)
            )
        found += _decision_items(context, batch, record, case, where)
    return found


def _qc_item(batch: Batch, why: str, since: datetime | None) -> WorkItem:
    return WorkItem(
        kind="qc",
        record=batch.id,
        action="enter_result",
        title=f"QC results · batch {batch.id}",
        why=why,
        href=_batch_href(batch.id, "results"),
        since=_iso(since),
        case_id=batch.case_id,
    )


def _decision_items(
    context: _Context,
    batch: Batch,
    record: ReleaseRecord,
    case: Case | None,
    where: Where,
) -> list[WorkItem]:
    user = context.user
    actions = authority.release_actions(user, record, where)
    found: list[WorkItem] = []
    since = _iso(batch.completed_at)
    # Only the case's treating physician acknowledges (a person-level rule of the record).
    treating = case is not None and case.treating_physician == user.username
    if ReleaseAction.ACKNOWLEDGE in actions and record.acknowledgement is None and treating:
        found.append(
            WorkItem(
                kind="release",
                record=batch.id,
                action="acknowledge",
                title=f"Acknowledge OOS results · batch {batch.id}",
                why="results out of specification: the treating physician acknowledges "
                "them before a conditional release",
                href=_batch_href(batch.id, "decision"),
                since=since,
                urgency=URGENT,
                case_id=batch.case_id,
            )
        )
    if ReleaseAction.OPEN_INVESTIGATION in actions and not record.investigation:
        found.append(
            WorkItem(
                kind="qc",
                record=batch.id,
                action="open_investigation",
                title=f"Open an OOS investigation · batch {batch.id}",
                why="results out of specification: no investigation is open",
                href=_batch_href(batch.id, "decision"),
                since=since,
                urgency=URGENT,
                case_id=batch.case_id,
            )
        )
    if ReleaseAction.RELEASE in actions and record.disposition is Disposition.READY_FOR_RELEASE:
        # Never "ready" while a major or critical deviation is open: it holds the release.
        holding = [
            d for d in batch.open_deviations() if d.severity in (Severity.MAJOR, Severity.CRITICAL)
        ]
        if holding:
            found.append(
                WorkItem(
                    kind="release",
                    record=batch.id,
                    action="close_deviation",
                    title=f"Release held · batch {batch.id}",
                    why=f"all results pass, but {holding[0].severity.label.lower()} deviation "
                    f"{holding[0].id} is open: close it before release",
                    href=_batch_href(batch.id, "deviations"),
                    since=since,
                    urgency=URGENT,
                    case_id=batch.case_id,
                )
            )
        else:
            found.append(
                WorkItem(
                    kind="release",
                    record=batch.id,
                    action="release",
                    title=f"Release · batch {batch.id}",
                    why="every result passes: QA's release decision"
                    + (" (a deviation is still open)" if batch.open_deviations() else ""),
                    href=_batch_href(batch.id, "decision"),
                    since=since,
                    case_id=batch.case_id,
                )
            )
    return found


# ------------------------------------------------------------------ follow-up and safety


def _followup_items(context: _Context) -> list[WorkItem]:
    from veinline.domain.followup import FollowUpSchedule, VisitStatus

    user = context.user
    found: list[WorkItem] = []
    for case in context.cases.values():
        if case.infusion is None or case.state not in (CaseState.INFUSED, CaseState.FOLLOW_UP):
            continue
        where = Where.of_case(case)
        if not any(authority.may(user, kind, where) for kind in AssessmentKind):
            continue
        product = context.uow.products.get(case.product_code)
        if product is None:
            continue
        assessments = context.assessments(case)
        today = context.today_at(case.treatment_site)
        infused_on = local_date(
            case.infusion.infusion_started_at, context.zones.get(case.treatment_site, "UTC")
        )
        done = {date.fromisoformat(a.assessed_on) for a in assessments}
        schedule = FollowUpSchedule.for_modality(product.modality)
        for visit in schedule.visits_due(infused_on, done, max(today, infused_on)):
            if visit.status not in (VisitStatus.DUE, VisitStatus.OVERDUE):
                continue
            overdue = visit.status is VisitStatus.OVERDUE
            found.append(
                WorkItem(
                    kind="visit",
                    record=f"{case.id}/{visit.id}",
                    action="assess",
                    title=f"Follow-up visit {visit.id} · case {case.id}",
                    why=f"{visit.status.label.lower()}: planned for {visit.target.isoformat()}",
                    href=_case_href(case.id, "followup"),
                    since=visit.target.isoformat(),
                    urgency=URGENT if overdue else TODAY,
                    case_id=case.id,
                    overdue=overdue,
                )
            )
        if authority.may(user, AssessmentKind.ADVERSE_EVENT, where):
            found += _safety_items(context, case, assessments, today)
    return found


def _safety_items(
    context: _Context, case: Case, assessments: list[Any], today: date
) -> list[WorkItem]:
    """Adverse events the domain judged expedited (21 CFR 312.32(c)): veinline records
    no submission, so each stays listed with its due date (docs/architecture.md,
    "Work queues")."""
    found: list[WorkItem] = []
    for assessment in assessments:
        due_text = assessment.result.get("expedited_report_due")
        if assessment.kind is not AssessmentKind.ADVERSE_EVENT or not due_text:
            continue
        due = date.fromisoformat(str(due_text))
        overdue = due < today
        found.append(
            WorkItem(
                kind="safety_report",
                record=assessment.id,
                action="report",
                title=f"IND safety report · case {case.id}",
                why=f"{assessment.result.get('term')} grade {assessment.result.get('grade')}: "
                f"expedited report due by {due.isoformat()} (21 CFR 312.32(c))"
                + (", overdue" if overdue else ""),
                href=_case_href(case.id, "followup"),
                since=due.isoformat(),
                urgency=URGENT if overdue or due == today else TODAY,
                case_id=case.id,
                overdue=overdue,
            )
        )
    return found


def _overdue_alert(item: WorkItem) -> Alert:
    """An IND safety report past its due date is an alert as well as an item."""
    return Alert(
        kind="safety_report",
        record=item.record,
        message=f"{item.title}: {item.why}",
        href=item.href,
        case_id=item.case_id,
    )
