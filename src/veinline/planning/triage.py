"""Triage: a priority score per patient, built from documented inputs, with its parts shown.

Three inputs count, each normalised to 0..1 and multiplied by its weight
(`TriageWeights`):

``urgency``
    the clinical urgency grade 1..5 given by the treating centre; grade 1 earns 0,
    grade 5 earns the full part.
``waitlisted``
    days on the waiting list by the day the patient can be collected (or by the
    plan start, if later), counted from `waitlisted_since`; the full part at
    `waitlisted_cap_days`.
``deadline``
    slack between the earliest possible infusion and the latest infusion date; no
    slack earns the full part, `deadline_horizon_days` or more earns nothing, and a
    patient without a latest infusion date earns nothing.

The score is the sum of the parts. The scheduler turns it into an integer weight on
each day a patient waits (`objective_weight`), so every score is visible in the plan
and every ordering can be explained (`explain_order`).
"""

from __future__ import annotations

from dataclasses import dataclass

from veinline.planning.scenario import Patient, Scenario
from veinline.planning.weights import TriageWeights

#: Objective weights run from 1 (score 0) to 1 + OBJECTIVE_SCALE (the maximum score).
OBJECTIVE_SCALE = 100


@dataclass(frozen=True)
class ScorePart:
    """One input's share of a priority score."""

    name: str
    value: float
    """The input as the coordinator knows it (grade, days)."""
    normalised: float
    """The input mapped to 0..1."""
    weight: float
    points: float
    """normalised × weight: what this input adds to the score."""
    note: str


@dataclass(frozen=True)
class PriorityExplanation:
    """A patient's priority score and the parts that make it up."""

    patient: str
    score: float
    parts: tuple[ScorePart, ...]

    def part(self, name: str) -> ScorePart:
        """The part with this name (urgency, waitlisted, deadline)."""
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(name)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form, as written into plans."""
        return {
            "patient": self.patient,
            "score": round(self.score, 3),
            "parts": [
                {
                    "name": p.name,
                    "value": p.value,
                    "normalised": round(p.normalised, 4),
                    "weight": p.weight,
                    "points": round(p.points, 3),
                    "note": p.note,
                }
                for p in self.parts
            ],
        }


def earliest_infusion_day(patient: Patient, scenario: Scenario) -> int:
    """Days from the plan start to the earliest infusion possible if nobody else waited."""
    product = scenario.products_by_code[patient.product]
    transport = min(scenario.centres_by_id[patient.centre].transport_days.values())
    ready = max(scenario.day(patient.ready_date), 0)
    return ready + transport + product.days_after_start


def score_patient(
    patient: Patient, scenario: Scenario, weights: TriageWeights | None = None
) -> PriorityExplanation:
    """The priority score of one patient, with each input's part."""
    weights = weights or scenario.triage_weights
    urgency_norm = (patient.urgency - 1) / 4
    collect_from = max(patient.ready_date, scenario.start_date)
    listed_days = 0
    if patient.waitlisted_since is not None:
        listed_days = max((collect_from - patient.waitlisted_since).days, 0)
    listed_norm = min(listed_days / weights.waitlisted_cap_days, 1.0)
    parts = [
        ScorePart(
            "urgency",
            patient.urgency,
            urgency_norm,
            weights.urgency,
            urgency_norm * weights.urgency,
            f"urgency grade {patient.urgency} of 5",
        ),
        ScorePart(
            "waitlisted",
            listed_days,
            listed_norm,
            weights.waitlisted,
            listed_norm * weights.waitlisted,
            f"{listed_days} days on the waiting list"
            if patient.waitlisted_since is not None
            else "no waiting-list date given",
        ),
    ]
    if patient.latest_infusion_date is None:
        parts.append(
            ScorePart("deadline", 0, 0.0, weights.deadline, 0.0, "no latest infusion date")
        )
    else:
        slack = scenario.day(patient.latest_infusion_date) - earliest_infusion_day(
            patient, scenario
        )
        slack_norm = 1.0 - min(max(slack, 0) / weights.deadline_horizon_days, 1.0)
        note = (
            f"{slack} days of slack before the latest infusion date"
            if slack >= 0
            else f"latest infusion date cannot be met (short by {-slack} days)"
        )
        parts.append(
            ScorePart(
                "deadline", slack, slack_norm, weights.deadline, slack_norm * weights.deadline, note
            )
        )
    return PriorityExplanation(
        patient=patient.id, score=sum(p.points for p in parts), parts=tuple(parts)
    )


def triage(
    scenario: Scenario, weights: TriageWeights | None = None
) -> dict[str, PriorityExplanation]:
    """Every patient's score and its parts, keyed by patient id."""
    return {p.id: score_patient(p, scenario, weights) for p in scenario.patients}


def objective_weight(explanation: PriorityExplanation, weights: TriageWeights) -> int:
    """The integer cost of one day of waiting for this patient: 1 + score scaled to 0..100."""
    return 1 + round(OBJECTIVE_SCALE * explanation.score / weights.maximum_score)


def priority_order(
    scenario: Scenario, weights: TriageWeights | None = None
) -> list[PriorityExplanation]:
    """Patients ranked: higher score first, then earlier ready date, then id."""
    ranked = triage(scenario, weights)
    ready = {p.id: p.ready_date for p in scenario.patients}
    return sorted(ranked.values(), key=lambda e: (-e.score, ready[e.patient], e.patient))


def explain_order(
    first: str, second: str, scenario: Scenario, weights: TriageWeights | None = None
) -> str:
    """Answer "why is `first` before `second`?" (or say that it is not), part by part."""
    patients = scenario.patients_by_id
    a = score_patient(patients[first], scenario, weights)
    b = score_patient(patients[second], scenario, weights)
    ahead = _ranks_before(a, b, patients[first], patients[second])
    lead, other = (a, b) if ahead else (b, a)
    verdict = (
        f"{first} is before {second}"
        if ahead
        else f"{first} is not before {second}: {second} comes first"
    )
    lines = [f"{verdict}: score {lead.score:.1f} against {other.score:.1f}."]
    differences = sorted(
        zip(lead.parts, other.parts, strict=True),
        key=lambda pair: -abs(pair[0].points - pair[1].points),
    )
    for mine, theirs in differences:
        delta = mine.points - theirs.points
        if abs(delta) < 1e-9:
            lines.append(f"- {mine.name}: equal ({mine.note}).")
        else:
            lines.append(
                f"- {mine.name}: {delta:+.1f} points for {lead.patient} "
                f"({mine.note} against {theirs.note}; weight {mine.weight:g})."
            )
    if abs(a.score - b.score) < 1e-9:
        first_p, second_p = (patients[lead.patient], patients[other.patient])
        if first_p.ready_date != second_p.ready_date:
            lines.append(
                f"Scores tie, so the earlier ready date decides ({first_p.ready_date} "
                f"against {second_p.ready_date})."
            )
        else:
            lines.append("Scores and ready dates tie, so the patient id decides.")
    return "\n".join(lines)


def _ranks_before(a: PriorityExplanation, b: PriorityExplanation, pa: Patient, pb: Patient) -> bool:
    if abs(a.score - b.score) >= 1e-9:
        return a.score > b.score
    return (pa.ready_date, pa.id) < (pb.ready_date, pb.id)
