"""Trials as stored records: the protocol with its cohorts, and each patient's place in it.

A patient's outcome comes from one of two sources: a veinline case enrolled in a cohort
(its outcome is read from the case's follow-up when a report is made), or a sponsor's
outcome record imported with its data (earlier patients, other systems, the demo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject
from veinline.domain.trial import Cohort, PatientOutcome, Response, ResponseCriteria, Trial


class OutcomeSource(StrEnum):
    """Where a trial patient's outcome comes from."""

    CASE = "case"
    IMPORTED = "imported"


@dataclass(eq=False)
class TrialRecord:
    """A clinical trial protocol of one product, in dose cohorts."""

    ENTITY_TYPE = "trial"

    id: str
    title: str
    product_code: str
    criteria: str
    cohorts: list[JsonObject] = field(default_factory=list)
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "title": self.title,
            "product_code": self.product_code,
            "criteria": self.criteria,
            "cohorts": [dict(c) for c in self.cohorts],
            "version": self.version,
        }

    def to_trial(self) -> Trial:
        return Trial(
            id=self.id,
            title=self.title,
            product_code=self.product_code,
            cohorts=tuple(
                Cohort(
                    id=str(c["id"]),
                    dose_label=str(c["dose_label"]),
                    dose_cells_per_kg=float(c["dose_cells_per_kg"]),
                )
                for c in self.cohorts
            ),
            criteria=ResponseCriteria(self.criteria),
        )

    @classmethod
    def from_trial(cls, trial: Trial) -> TrialRecord:
        return cls(
            id=trial.id,
            title=trial.title,
            product_code=trial.product_code,
            criteria=trial.criteria.value,
            cohorts=[
                {"id": c.id, "dose_label": c.dose_label, "dose_cells_per_kg": c.dose_cells_per_kg}
                for c in trial.cohorts
            ],
        )


@dataclass(eq=False)
class TrialPatient:
    """One patient's place in a trial cohort, and (when imported) their outcome data."""

    ENTITY_TYPE = "trial_patient"

    id: str
    trial_id: str
    subject: str
    cohort_id: str
    source: OutcomeSource
    data: JsonObject = field(default_factory=dict)

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "trial_id": self.trial_id,
            "subject": self.subject,
            "cohort_id": self.cohort_id,
            "source": self.source.value,
            "data": dict(self.data),
        }


def outcome_to_data(outcome: PatientOutcome) -> JsonObject:
    return {
        "evaluable": outcome.evaluable,
        "best_response": outcome.best_response.value,
        "infused_on": outcome.infused_on.isoformat(),
        "last_contact_on": outcome.last_contact_on.isoformat(),
        "died_on": outcome.died_on.isoformat() if outcome.died_on else None,
        "progressed_on": outcome.progressed_on.isoformat() if outcome.progressed_on else None,
        "vein_to_vein_days": outcome.vein_to_vein_days,
        "max_crs_grade": outcome.max_crs_grade,
        "max_icans_grade": outcome.max_icans_grade,
    }


def outcome_from_data(subject: str, cohort_id: str, data: JsonObject) -> PatientOutcome:
    """An imported outcome, each field checked and named when wrong."""

    def day(name: str, required: bool = False) -> date | None:
        value = data.get(name)
        if value is None:
            if required:
                raise InvalidInput(f"{subject}: {name} is required")
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(f"{subject}: {name} must be a date, not {value!r}") from None

    infused = day("infused_on", True)
    last = day("last_contact_on", True)
    assert infused is not None and last is not None
    return PatientOutcome(
        case_id=subject,
        cohort_id=cohort_id,
        evaluable=bool(data.get("evaluable", True)),
        best_response=Response(str(data.get("best_response", "NE"))),
        infused_on=infused,
        last_contact_on=last,
        died_on=day("died_on"),
        progressed_on=day("progressed_on"),
        vein_to_vein_days=_int_or_none(data.get("vein_to_vein_days")),
        max_crs_grade=int(data.get("max_crs_grade", 0)),
        max_icans_grade=int(data.get("max_icans_grade", 0)),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


# The order a best response is chosen in, best first (RECIST 1.1 and IMWG together).
RESPONSE_ORDER = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD")


def case_outcome(
    case_snapshot: JsonObject, assessments: list[JsonObject], cohort_id: str
) -> PatientOutcome | None:
    """A trial outcome read from a veinline case and its follow-up (None before infusion)."""
    infusion = case_snapshot.get("infusion") or {}
    started = infusion.get("infusion_started_at")
    if not started:
        return None
    infused_on = date.fromisoformat(str(started)[:10])
    collections = case_snapshot.get("collections") or []
    first_collection = (
        date.fromisoformat(str(collections[0]["collected_at"])[:10]) if (collections) else None
    )
    responses = [
        a
        for a in assessments
        if a["kind"] in ("recist", "imwg") and a["result"].get("response") in RESPONSE_ORDER
    ]
    best = min(
        (str(a["result"]["response"]) for a in responses), key=RESPONSE_ORDER.index, default="NE"
    )
    progressed = [a["assessed_on"] for a in responses if a["result"]["response"] == "PD"]
    progressed += [
        a["assessed_on"]
        for a in assessments
        if a["kind"] == "survival" and a["result"].get("progressed")
    ]
    died = [
        a["assessed_on"]
        for a in assessments
        if a["kind"] == "survival" and a["result"].get("status") == "dead"
    ]
    grades = {
        kind: max(
            (int(a["result"].get("grade", 0)) for a in assessments if a["kind"] == kind), default=0
        )
        for kind in ("crs", "icans")
    }
    last = max([infused_on.isoformat(), *(a["assessed_on"] for a in assessments)])
    return PatientOutcome(
        case_id=str(case_snapshot["id"]),
        cohort_id=cohort_id,
        evaluable=bool(responses),
        best_response=Response(best),
        infused_on=infused_on,
        last_contact_on=date.fromisoformat(last),
        died_on=date.fromisoformat(min(died)) if died else None,
        progressed_on=date.fromisoformat(min(progressed)) if progressed else None,
        vein_to_vein_days=(infused_on - first_collection).days if first_collection else None,
        max_crs_grade=grades["crs"],
        max_icans_grade=grades["icans"],
    )
