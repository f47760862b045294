"""The case: one autologous patient's journey, vein to vein, as a state table.

Every arrow of the journey (docs/architecture.md, "The case") is a row of TRANSITIONS;
the guards (`guard_<action>`) say what else must be true, and the authority table
(`veinline.services.authority`) who may fire it. A refused transition raises before
anything changes (21 CFR 11.10(f): operational checks enforce the permitted sequence of
steps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from veinline.domain.case_parts import Collection, Infusion, Manufacturing, ReleaseOutcome
from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject, snapshot_time
from veinline.domain.state_table import StateTable, arrow
from veinline.domain.style import Styled, styled


class CaseState(Styled):
    """Where a patient's cells are in the journey."""

    ENROLLED = "enrolled"
    ELIGIBLE = "eligible"
    APHERESIS_BOOKED = "apheresis_booked"
    COLLECTED = "collected"
    AT_MANUFACTURING = "at_manufacturing"
    MANUFACTURING = "manufacturing"
    IN_QC = "in_qc"
    RELEASED = "released"
    OUT_OF_SPECIFICATION = "out_of_specification"
    SHIPPED = "shipped"
    RECEIVED_AT_SITE = "received_at_site"
    INFUSED = "infused"
    FOLLOW_UP = "follow_up"
    CANCELLED = "cancelled"


# A wristband is held by one case at its treatment centre from enrolment until the case
# is cancelled or its follow-up starts (treatment done): then the patient may be enrolled
# again with the same wristband (docs/architecture.md, "Enrolment"; migration 0016
# enforces it in the database with the same states).
WRISTBAND_FREED = frozenset({CaseState.CANCELLED, CaseState.FOLLOW_UP})


# Each state's label and colour, declared once (shown on the case board and timeline).
STATE_STYLE = styled(
    CaseState,
    {
        CaseState.ENROLLED: ("Enrolled", "#6b7280"),
        CaseState.ELIGIBLE: ("Eligible", "#2563eb"),
        CaseState.APHERESIS_BOOKED: ("Apheresis booked", "#0e7490"),
        CaseState.COLLECTED: ("Collected", "#0f766e"),
        CaseState.AT_MANUFACTURING: ("At manufacturing", "#7c3aed"),
        CaseState.MANUFACTURING: ("Manufacturing", "#9333ea"),
        CaseState.IN_QC: ("In QC", "#c026d3"),
        CaseState.RELEASED: ("Released", "#15803d"),
        CaseState.OUT_OF_SPECIFICATION: ("Out of specification", "#dc2626"),
        CaseState.SHIPPED: ("Shipped", "#c2410c"),
        CaseState.RECEIVED_AT_SITE: ("Received at site", "#a16207"),
        CaseState.INFUSED: ("Infused", "#166534"),
        CaseState.FOLLOW_UP: ("Follow-up", "#14532d"),
        CaseState.CANCELLED: ("Cancelled", "#374151"),
    },
)

BEFORE_INFUSION = frozenset(CaseState) - {
    CaseState.INFUSED,
    CaseState.FOLLOW_UP,
    CaseState.CANCELLED,
}


class Action(StrEnum):
    """Something a user does to a case; one row of the transition table each."""

    CONFIRM_ELIGIBILITY = "confirm_eligibility"
    BOOK_APHERESIS = "book_apheresis"
    COLLECT = "collect"
    RECEIVE_AT_MANUFACTURING = "receive_at_manufacturing"
    START_MANUFACTURING = "start_manufacturing"
    COMPLETE_MANUFACTURING = "complete_manufacturing"
    RELEASE = "release"
    FAIL_SPECIFICATION = "fail_specification"
    CONDITIONAL_RELEASE = "conditional_release"
    RECOLLECT = "recollect"
    SHIP = "ship"
    RECEIVE_AT_SITE = "receive_at_site"
    INFUSE = "infuse"
    START_FOLLOW_UP = "start_follow_up"
    CANCEL = "cancel"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class RescheduleReason(StrEnum):
    """Why a booked apheresis moves: coded, so that rescheduling can be counted."""

    PATIENT_UNWELL = "patient_unwell"
    PATIENT_REQUEST = "patient_request"
    APHERESIS_UNAVAILABLE = "apheresis_unavailable"
    MANUFACTURING_SLOT = "manufacturing_slot"
    LOGISTICS = "logistics"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "patient_unwell": "Patient unwell",
            "patient_request": "Patient's request",
            "apheresis_unavailable": "Apheresis unit unavailable",
            "manufacturing_slot": "Manufacturing slot moved",
            "logistics": "Transport or logistics",
            "other": "Other (say why)",
        }[self.value]

    @classmethod
    def parse(cls, text: str | None) -> RescheduleReason:
        try:
            return cls((text or "").strip())
        except ValueError:
            codes = ", ".join(r.value for r in cls)
            raise InvalidInput(
                f"a booked case is rescheduled with a reason: one of {codes}"
            ) from None


_RESCHEDULED = re.compile(r"^rescheduled \((?P<code>[a-z_]+)")


def reschedule_note(
    code: RescheduleReason, note: str, from_date: str | None, from_site: str | None
) -> str:
    """How a rescheduled booking is written in the ledger (the case's timeline); the coded
    reason leads, so `rescheduled_for` can count it in reports."""
    extra = f": {note.strip()}" if note.strip() else ""
    return f"rescheduled ({code.value}{extra}) from {from_date} at {from_site}; "


def rescheduled_for(reason: str) -> RescheduleReason | None:
    """The coded reason of a booking's ledger entry, or None for a first booking."""
    found = _RESCHEDULED.match(reason)
    if found is None:
        return None
    try:
        return RescheduleReason(found["code"])
    except ValueError:
        return None


S = CaseState
# Each arrow of the journey (docs/architecture.md, "The case"); who may fire it is the
# authority table's business, what else must be true is the handler's guard.
TRANSITIONS: StateTable[Action, CaseState] = StateTable(
    "case",
    Action,
    {
        Action.CONFIRM_ELIGIBILITY: arrow({S.ENROLLED}, S.ELIGIBLE),
        # A booked case is rescheduled by booking it again, with a coded reason.
        Action.BOOK_APHERESIS: arrow({S.ELIGIBLE, S.APHERESIS_BOOKED}, S.APHERESIS_BOOKED),
        Action.COLLECT: arrow({S.APHERESIS_BOOKED}, S.COLLECTED),
        Action.RECEIVE_AT_MANUFACTURING: arrow({S.COLLECTED}, S.AT_MANUFACTURING),
        Action.START_MANUFACTURING: arrow({S.AT_MANUFACTURING}, S.MANUFACTURING),
        Action.COMPLETE_MANUFACTURING: arrow({S.MANUFACTURING}, S.IN_QC),
        Action.RELEASE: arrow({S.IN_QC}, S.RELEASED),
        Action.FAIL_SPECIFICATION: arrow({S.IN_QC}, S.OUT_OF_SPECIFICATION),
        Action.CONDITIONAL_RELEASE: arrow({S.OUT_OF_SPECIFICATION}, S.RELEASED),
        Action.RECOLLECT: arrow({S.OUT_OF_SPECIFICATION}, S.ELIGIBLE),
        Action.SHIP: arrow({S.RELEASED}, S.SHIPPED),
        Action.RECEIVE_AT_SITE: arrow({S.SHIPPED}, S.RECEIVED_AT_SITE),
        Action.INFUSE: arrow({S.RECEIVED_AT_SITE}, S.INFUSED),
        Action.START_FOLLOW_UP: arrow({S.INFUSED}, S.FOLLOW_UP),
        Action.CANCEL: arrow(BEFORE_INFUSION, S.CANCELLED),
    },
)


@dataclass(eq=False)
class Case:
    """One autologous patient journey, from enrolment to follow-up."""

    ENTITY_TYPE = "case"

    id: str
    product_code: str
    jurisdiction: str
    treatment_site: str
    patient_name: str
    wristband_id: str
    treating_physician: str
    coi: str
    enrolled_at: datetime
    enrolled_by: str
    consent: JsonObject
    eligibility: JsonObject
    patient_facts: JsonObject
    state: CaseState = CaseState.ENROLLED
    weight_kg: float | None = None
    apheresis_site: str | None = None
    apheresis_date: str | None = None
    manufacturing_site: str | None = None
    planned: JsonObject = field(default_factory=dict)
    collections: list[Collection] = field(default_factory=list)
    manufacturing: Manufacturing | None = None
    release: ReleaseOutcome | None = None
    infusion: Infusion | None = None
    cancellation: JsonObject | None = None
    # Label reconciliation: labels issued, used and destroyed (see domain.labels.reconcile).
    labels: JsonObject = field(default_factory=dict)
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "product_code": self.product_code,
            "jurisdiction": self.jurisdiction,
            "treatment_site": self.treatment_site,
            "patient_name": self.patient_name,
            "wristband_id": self.wristband_id,
            "treating_physician": self.treating_physician,
            "coi": self.coi,
            "enrolled_at": snapshot_time(self.enrolled_at),
            "enrolled_by": self.enrolled_by,
            "consent": dict(self.consent),
            "eligibility": dict(self.eligibility),
            "patient_facts": dict(self.patient_facts),
            "state": self.state.value,
            "weight_kg": self.weight_kg,
            "apheresis_site": self.apheresis_site,
            "apheresis_date": self.apheresis_date,
            "manufacturing_site": self.manufacturing_site,
            "planned": dict(self.planned),
            "collections": [c.to_dict() for c in self.collections],
            "manufacturing": self.manufacturing.to_dict() if self.manufacturing else {},
            "release": self.release.to_dict() if self.release else {},
            "infusion": self.infusion.to_dict() if self.infusion else {},
            "cancellation": dict(self.cancellation) if self.cancellation else None,
            "labels": dict(self.labels),
            "version": self.version,
        }

    # ------------------------------------------------------------ reading

    @property
    def current_collection(self) -> Collection | None:
        return self.collections[-1] if self.collections else None

    @property
    def current_din(self) -> str | None:
        collection = self.current_collection
        return collection.din if collection else None

    @property
    def batch_id(self) -> str | None:
        """The batch now making (or that made) this case's product, if any."""
        return self.manufacturing.batch_id if self.manufacturing else None

    def available_actions(self) -> list[Action]:
        """The actions the state table allows now (whoever may take them)."""
        return TRANSITIONS.available(self.state)

    def patient_label(self, *, full_data: bool) -> str:
        """The patient as a viewer may see them: the name only with full patient data."""
        if not full_data:
            return self.coi
        return f"{self.patient_name} ({self.wristband_id})"

    # ------------------------------------------------------------ changing

    def fire(self, action: Action, **changes: Any) -> None:
        """Check the state, then move to the action's target state with these changes."""
        target = TRANSITIONS.fire(
            action,
            self.state,
            lambda: (
                f"case {self.id} is {self.state.label.lower()}: it cannot be {_past(action)} now"
            ),
        )
        for name, value in changes.items():
            if not hasattr(self, name):
                raise AttributeError(name)
            setattr(self, name, value)
        self.state = target
        self.version += 1


def _past(action: Action) -> str:
    words = {
        Action.CONFIRM_ELIGIBILITY: "confirmed eligible",
        Action.BOOK_APHERESIS: "booked for apheresis",
        Action.COLLECT: "collected",
        Action.RECEIVE_AT_MANUFACTURING: "received at manufacturing",
        Action.START_MANUFACTURING: "started in manufacturing",
        Action.COMPLETE_MANUFACTURING: "completed in manufacturing",
        Action.RELEASE: "released",
        Action.FAIL_SPECIFICATION: "marked out of specification",
        Action.CONDITIONAL_RELEASE: "released conditionally",
        Action.RECOLLECT: "sent back for re-collection",
        Action.SHIP: "shipped",
        Action.RECEIVE_AT_SITE: "received at the treatment site",
        Action.INFUSE: "infused",
        Action.START_FOLLOW_UP: "moved to follow-up",
        Action.CANCEL: "cancelled",
    }
    return words[action]


def check_case_id(case_id: str) -> str:
    if not case_id or len(case_id) > 40:
        raise InvalidInput("a case id has 1 to 40 characters")
    return case_id


def parse_date(text: str, field_name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field_name} must be a date like 2026-03-14, not {text!r}") from None


def parse_moment(text: str, field_name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        message = f"{field_name} must be a date and time like 2026-03-14T09:30+08:00, not {text!r}"
        raise InvalidInput(message, fields={field_name: message}) from None
    if moment.tzinfo is None:
        message = f"{field_name} needs a time zone (e.g. +08:00 or Z): {text!r}"
        raise InvalidInput(message, fields={field_name: message})
    return moment


def local_date(moment: datetime, zone: str) -> date:
    """The calendar date at a site when `moment` happened: every "today", "in the future"
    and "before the infusion" rule compares dates in the zone of the site concerned, never
    the server's (docs/architecture.md, "Local time")."""
    return moment.astimezone(parse_zone(zone)).date()


def local_text(moment: datetime, zone: str) -> str:
    """A moment as people at the site read it, with the zone named: '2026-03-03 03:45 HKT'.

    Stored moments are UTC; a page shows each in the zone of the site where it happened
    (UTC stays on hover and in exports)."""
    here = moment.astimezone(parse_zone(zone))
    name = here.tzname() or zone
    if name[:1] in "+-":  # a zone without an abbreviation names its offset
        name = f"UTC{name}"
    return f"{here:%Y-%m-%d %H:%M} {name}"


def parse_zone(key: str, what: str = "time zone") -> ZoneInfo:
    """An IANA time zone (a site's, a logger's), refused with a clear message if unknown."""
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown {what} {key!r}: use an IANA name such as 'Asia/Shanghai'"
        ) from None
