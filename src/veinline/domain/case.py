"""The case: one autologous patient's journey, vein to vein, as a state table.

Every arrow of DESIGN.md's journey is a row of TRANSITIONS with the roles that may fire
it; the guards (`guard_<action>`) say what else must be true. A refused transition
raises before anything changes (21 CFR 11.10(f): operational checks enforce the
permitted sequence of steps; 11.10(g): authority checks enforce who may do it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.ledger import JsonObject, snapshot_time
from veinline.domain.style import Styled, styled
from veinline.domain.user import Role, User


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


# Each state's label and colour, declared once (shown on the case board and timeline).
STATE_STYLE = styled(
    CaseState,
    {
        CaseState.ENROLLED: ("Enrolled", "#6b7280"),
        CaseState.ELIGIBLE: ("Eligible", "#2563eb"),
        CaseState.APHERESIS_BOOKED: ("Apheresis booked", "#0891b2"),
        CaseState.COLLECTED: ("Collected", "#0d9488"),
        CaseState.AT_MANUFACTURING: ("At manufacturing", "#7c3aed"),
        CaseState.MANUFACTURING: ("Manufacturing", "#9333ea"),
        CaseState.IN_QC: ("In QC", "#c026d3"),
        CaseState.RELEASED: ("Released", "#16a34a"),
        CaseState.OUT_OF_SPECIFICATION: ("Out of specification", "#dc2626"),
        CaseState.SHIPPED: ("Shipped", "#ea580c"),
        CaseState.RECEIVED_AT_SITE: ("Received at site", "#ca8a04"),
        CaseState.INFUSED: ("Infused", "#15803d"),
        CaseState.FOLLOW_UP: ("Follow-up", "#166534"),
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


@dataclass(frozen=True)
class Transition:
    """One arrow of the journey: from which states, to which, and who may fire it."""

    sources: frozenset[CaseState]
    target: CaseState
    roles: frozenset[Role]


def _t(
    sources: set[CaseState] | frozenset[CaseState], target: CaseState, *roles: Role
) -> Transition:
    return Transition(frozenset(sources), target, frozenset(roles) | {Role.ADMIN})


S = CaseState
R = Role
TRANSITIONS: dict[Action, Transition] = {
    Action.CONFIRM_ELIGIBILITY: _t({S.ENROLLED}, S.ELIGIBLE, R.PHYSICIAN),
    Action.BOOK_APHERESIS: _t({S.ELIGIBLE}, S.APHERESIS_BOOKED, R.COORDINATOR),
    Action.COLLECT: _t({S.APHERESIS_BOOKED}, S.COLLECTED, R.APHERESIS_NURSE),
    Action.RECEIVE_AT_MANUFACTURING: _t(
        {S.COLLECTED}, S.AT_MANUFACTURING, R.MANUFACTURING_OPERATOR
    ),
    Action.START_MANUFACTURING: _t({S.AT_MANUFACTURING}, S.MANUFACTURING, R.MANUFACTURING_OPERATOR),
    Action.COMPLETE_MANUFACTURING: _t({S.MANUFACTURING}, S.IN_QC, R.MANUFACTURING_OPERATOR),
    Action.RELEASE: _t({S.IN_QC}, S.RELEASED, R.QA_REVIEWER),
    Action.FAIL_SPECIFICATION: _t({S.IN_QC}, S.OUT_OF_SPECIFICATION, R.QA_REVIEWER, R.QC_ANALYST),
    Action.CONDITIONAL_RELEASE: _t({S.OUT_OF_SPECIFICATION}, S.RELEASED, R.QA_REVIEWER),
    Action.RECOLLECT: _t({S.OUT_OF_SPECIFICATION}, S.ELIGIBLE, R.COORDINATOR, R.PHYSICIAN),
    Action.SHIP: _t({S.RELEASED}, S.SHIPPED, R.COURIER),
    Action.RECEIVE_AT_SITE: _t({S.SHIPPED}, S.RECEIVED_AT_SITE, R.COORDINATOR, R.APHERESIS_NURSE),
    Action.INFUSE: _t({S.RECEIVED_AT_SITE}, S.INFUSED, R.PHYSICIAN, R.APHERESIS_NURSE),
    Action.START_FOLLOW_UP: _t({S.INFUSED}, S.FOLLOW_UP, R.PHYSICIAN),
    Action.CANCEL: _t(BEFORE_INFUSION, S.CANCELLED, R.COORDINATOR, R.PHYSICIAN),
}

# Roles that see a patient's identifiers only, never their name (DESIGN.md, Identity).
IDENTIFIERS_ONLY = frozenset({R.MANUFACTURING_OPERATOR, R.QC_ANALYST, R.COURIER})


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
    collections: list[JsonObject] = field(default_factory=list)
    manufacturing: JsonObject = field(default_factory=dict)
    release: JsonObject = field(default_factory=dict)
    infusion: JsonObject = field(default_factory=dict)
    cancellation: JsonObject | None = None
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
            "collections": [dict(c) for c in self.collections],
            "manufacturing": dict(self.manufacturing),
            "release": dict(self.release),
            "infusion": dict(self.infusion),
            "cancellation": dict(self.cancellation) if self.cancellation else None,
            "version": self.version,
        }

    # ------------------------------------------------------------ reading

    @property
    def current_collection(self) -> JsonObject | None:
        return self.collections[-1] if self.collections else None

    @property
    def current_din(self) -> str | None:
        collection = self.current_collection
        return str(collection["din"]) if collection else None

    def allowed_actions(self, user: User) -> list[Action]:
        """The actions this user may take now: what the pages offer, nothing more."""
        return [
            action
            for action, t in TRANSITIONS.items()
            if self.state in t.sources and user.role in t.roles and user.active
        ]

    def patient_label(self, viewer: User) -> str:
        """The patient as this viewer may see them: identifiers only for manufacturing/QC."""
        if viewer.role in IDENTIFIERS_ONLY:
            return self.coi
        return f"{self.patient_name} ({self.wristband_id})"

    # ------------------------------------------------------------ changing

    def fire(self, action: Action, actor: User, **changes: Any) -> None:
        """Check role and state, then move to the action's target state."""
        transition = TRANSITIONS[action]
        if actor.role not in transition.roles:
            raise NotAllowed(
                f"{actor.role.a_label} may not {action.label.lower()} (case {self.id})"
            )
        if self.state not in transition.sources:
            raise NotAllowed(
                f"case {self.id} is {self.state.label.lower()}: it cannot be {_past(action)} now"
            )
        for name, value in changes.items():
            if not hasattr(self, name):
                raise AttributeError(name)
            setattr(self, name, value)
        self.state = transition.target
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
        raise InvalidInput(
            f"{field_name} must be a date and time like 2026-03-14T09:30+08:00, not {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{field_name} needs a time zone (e.g. +08:00 or Z): {text!r}")
    return moment
