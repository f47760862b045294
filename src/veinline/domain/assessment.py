"""Follow-up after infusion: graded assessments recorded on the case.

Each assessment keeps the physician's findings as entered (`inputs`) and what veinline
derived from them (`result`, with the reasons from the grading criteria), so a grade can
always be traced back to the findings it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from veinline.domain import grading
from veinline.domain.errors import InvalidInput
from veinline.domain.followup import AdverseEvent
from veinline.domain.ledger import JsonObject, snapshot_time


class AssessmentKind(StrEnum):
    """What was assessed."""

    CRS = "crs"
    ICANS = "icans"
    AGVHD = "agvhd"
    RECIST = "recist"
    IMWG = "imwg"
    ADVERSE_EVENT = "adverse_event"
    SURVIVAL = "survival"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    AssessmentKind.CRS: "Cytokine release syndrome (ASTCT 2019)",
    AssessmentKind.ICANS: "ICANS (ASTCT 2019)",
    AssessmentKind.AGVHD: "Acute GVHD (MAGIC)",
    AssessmentKind.RECIST: "Tumour response (RECIST 1.1)",
    AssessmentKind.IMWG: "Myeloma response (IMWG)",
    AssessmentKind.ADVERSE_EVENT: "Adverse event (CTCAE)",
    AssessmentKind.SURVIVAL: "Survival status",
}

SURVIVAL_STATUSES = ("alive", "dead")


@dataclass(eq=False)
class Assessment:
    """One follow-up assessment of an infused patient."""

    ENTITY_TYPE = "assessment"

    id: str
    case_id: str
    kind: AssessmentKind
    assessed_on: str
    inputs: JsonObject
    result: JsonObject
    recorded_by: str
    recorded_at: datetime

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "kind": self.kind.value,
            "assessed_on": self.assessed_on,
            "inputs": dict(self.inputs),
            "result": dict(self.result),
            "recorded_by": self.recorded_by,
            "recorded_at": snapshot_time(self.recorded_at),
        }

    @property
    def summary(self) -> str:
        """One phrase for the timeline: 'grade 2', 'PR', 'alive'."""
        r = self.result
        if self.kind is AssessmentKind.ADVERSE_EVENT:
            flag = (
                ", expedited report due " + str(r["expedited_report_due"])
                if r.get("expedited_report_due")
                else ""
            )
            return f"{r['term']} grade {r['grade']}{' (serious)' if r['serious'] else ''}{flag}"
        if "grade_label" in r:
            return f"grade {r['grade_label']}"
        if "grade" in r:
            return f"grade {r['grade']}"
        if "response" in r:
            return str(r["response"])
        return str(r.get("status", ""))


def parse_kind(text: str) -> AssessmentKind:
    try:
        return AssessmentKind(text.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in AssessmentKind)
        raise InvalidInput(f"unknown assessment {text!r}; use one of: {kinds}") from None


def evaluate(kind: AssessmentKind, inputs: JsonObject, assessed_on: date) -> JsonObject:
    """What veinline derives from the findings: a grade, a response, a status, or for an
    adverse event whether (and by when) it must be reported expedited."""
    if kind.value in grading.KINDS:
        result = grading.grade(kind.value, inputs)
        if kind in (AssessmentKind.RECIST, AssessmentKind.IMWG):
            # The newest assessment of the series is this visit's response.
            series = result.get("assessments")
            if isinstance(series, list) and series:
                result = {**result, "response": series[-1]["response"]}
        return result
    if kind is AssessmentKind.SURVIVAL:
        status = inputs.get("status")
        if status not in SURVIVAL_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(SURVIVAL_STATUSES)}")
        progressed = inputs.get("progressed", False)
        if not isinstance(progressed, bool):
            raise InvalidInput("progressed must be true or false")
        return {"status": status, "progressed": progressed, "cause": inputs.get("cause")}
    return _adverse_event(inputs, assessed_on)


def _adverse_event(inputs: JsonObject, assessed_on: date) -> JsonObject:
    known = {"term", "grade", "serious", "onset", "outcome", "expected", "suspected"}
    unknown = sorted(set(inputs) - known)
    if unknown:
        raise InvalidInput(f"an adverse event does not take {', '.join(unknown)}")
    for name in ("term", "grade", "serious", "outcome", "expected"):
        if name not in inputs:
            raise InvalidInput(f"{name} is required for an adverse event")
    onset_text = str(inputs.get("onset") or assessed_on.isoformat())
    try:
        onset = date.fromisoformat(onset_text)
    except ValueError:
        raise InvalidInput(f"onset must be a date like 2026-03-14, not {onset_text!r}") from None
    for name in ("serious", "expected", "suspected"):
        if name in inputs and not isinstance(inputs[name], bool):
            raise InvalidInput(f"{name} must be true or false")
    event = AdverseEvent(
        term=str(inputs["term"]),
        grade=inputs["grade"],  # checked by AdverseEvent
        serious=bool(inputs["serious"]),
        onset=onset,
        outcome=inputs["outcome"],
        expected=bool(inputs["expected"]),
        suspected=bool(inputs.get("suspected", True)),
    )
    due = event.expedited_report_due(max(onset, assessed_on))
    return {
        "term": event.term,
        "grade": event.grade,
        "serious": event.serious,
        "outcome": event.outcome.value,
        "expedited_report_due": due.isoformat() if due else None,
        "reasons": [
            (
                f"21 CFR 312.32(c): serious, unexpected suspected adverse reaction — IND safety "
                f"report due by {due.isoformat()}"
            )
            if due
            else "not an expedited report (expected, not serious or not suspected): "
            "periodic reporting"
        ],
    }


def check_assessment_date(assessed_on: str, *, infused_on: date, today: date) -> date:
    try:
        day = date.fromisoformat(assessed_on)
    except ValueError:
        raise InvalidInput(
            f"assessed_on must be a date like 2026-03-14, not {assessed_on!r}"
        ) from None
    if day < infused_on:
        raise InvalidInput(f"the assessment ({day}) is before the infusion ({infused_on})")
    if day > today:
        raise InvalidInput(f"the assessment date {day} is in the future")
    return day
