"""The plan objective, computed from a plan and its scenario alone.

Lexicographic in spirit: first keep latest infusion dates, then keep priority-weighted
waiting low. One number, so that solvers can bound it:

    objective = MISS_COST × (patients who miss their latest infusion date, or are
                             not planned at all)
              + Σ weight × days waited      (planned patients)
              + Σ weight × days to the horizon end   (patients not planned)

`weight` is 1 + the triage score scaled to 0..100, and "days waited" counts from the
earliest infusion the patient could have had if nobody else needed a suite (ready
date + shortest transport + manufacturing + QC + shipping). MISS_COST is the cost of
120 days of waiting by the highest-priority patient, so a kept date outweighs months
of anyone's waiting.
"""

from __future__ import annotations

from collections.abc import Iterable

from veinline.planning._problem import MISS_COST_DAYS
from veinline.planning.plan_io import Assignment, PlanMetrics, Priority
from veinline.planning.scenario import Scenario
from veinline.planning.triage import OBJECTIVE_SCALE, objective_weight, triage
from veinline.planning.weights import TriageWeights

#: What one missed (or unplanned) latest infusion date costs.
MISS_COST = MISS_COST_DAYS * (1 + OBJECTIVE_SCALE)


def evaluate(
    scenario: Scenario,
    assignments: Iterable[Assignment],
    unscheduled: Iterable[str],
    weights: TriageWeights | None = None,
) -> tuple[int, PlanMetrics]:
    """The objective and the metrics of a plan."""
    weights = weights or scenario.triage_weights
    explanations = triage(scenario, weights)
    horizon = scenario.horizon_days
    objective = 0
    weighted_wait = 0
    waits: list[int] = []
    kept = missed = with_deadline = 0
    planned: set[str] = set()
    for item in assignments:
        patient = scenario.patients_by_id[item.patient]
        planned.add(patient.id)
        weight = objective_weight(explanations[patient.id], weights)
        wait = max(scenario.day(item.infusion_date) - _earliest_infusion(scenario, patient.id), 0)
        waits.append(wait)
        weighted_wait += weight * wait
        objective += weight * wait
        if patient.latest_infusion_date is not None:
            with_deadline += 1
            if item.infusion_date <= patient.latest_infusion_date:
                kept += 1
            else:
                missed += 1
                objective += MISS_COST
    left_out = [pid for pid in unscheduled if pid not in planned]
    for pid in left_out:
        patient = scenario.patients_by_id[pid]
        weight = objective_weight(explanations[pid], weights)
        earliest_start = (
            _earliest_infusion(scenario, pid)
            - scenario.products_by_code[patient.product].days_after_start
        )
        objective += weight * (horizon - earliest_start) + MISS_COST
        if patient.latest_infusion_date is not None:
            with_deadline += 1
            missed += 1
    metrics = PlanMetrics(
        patients=len(scenario.patients),
        scheduled=len(planned),
        unscheduled=len(left_out),
        with_deadline=with_deadline,
        treated_by_deadline=kept,
        missed_deadline=missed,
        weighted_wait=weighted_wait,
        mean_wait_days=round(sum(waits) / len(waits), 3) if waits else 0.0,
        max_wait_days=max(waits, default=0),
    )
    return objective, metrics


def _earliest_infusion(scenario: Scenario, patient_id: str) -> int:
    patient = scenario.patients_by_id[patient_id]
    product = scenario.products_by_code[patient.product]
    transport = min(scenario.centres_by_id[patient.centre].transport_days.values())
    ready = max(scenario.day(patient.ready_date), 0)
    return ready + transport + product.days_after_start


def priorities(scenario: Scenario, weights: TriageWeights | None = None) -> list[Priority]:
    """Every patient's score, objective weight and parts, highest score first."""
    weights = weights or scenario.triage_weights
    explanations = triage(scenario, weights)
    ready = {p.id: p.ready_date for p in scenario.patients}
    ordered = sorted(explanations.values(), key=lambda e: (-e.score, ready[e.patient], e.patient))
    result = []
    for explanation in ordered:
        data = explanation.as_dict()
        result.append(
            Priority(
                patient=explanation.patient,
                score=round(explanation.score, 3),
                weight=objective_weight(explanation, weights),
                parts=list(data["parts"]),  # type: ignore[call-overload]
            )
        )
    return result
