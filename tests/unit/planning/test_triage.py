from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.unit.planning.helpers import day, patient, tiny
from veinline.planning.triage import (
    explain_order,
    objective_weight,
    priority_order,
    score_patient,
    triage,
)
from veinline.planning.weights import TriageWeights


def test_weights_refuse_a_negative_value() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        TriageWeights(urgency=-1)


def test_weights_need_at_least_one_input_that_counts() -> None:
    with pytest.raises(ValidationError, match="at least one of"):
        TriageWeights(urgency=0, waitlisted=0, deadline=0)


def test_weights_round_trip_through_json_for_the_ledger() -> None:
    weights = TriageWeights(urgency=10, waitlisted=5.5, deadline=0, waitlisted_cap_days=90)
    assert TriageWeights.model_validate_json(weights.model_dump_json()) == weights


def test_a_score_is_the_sum_of_its_parts() -> None:
    scenario = tiny(
        patients=[
            patient(
                "P1", ready=3, urgency=4, latest_infusion_date=day(30), waitlisted_since=day(-40)
            )
        ]
    )
    explanation = score_patient(scenario.patients[0], scenario)
    assert explanation.score == pytest.approx(sum(p.points for p in explanation.parts))
    assert [p.name for p in explanation.parts] == ["urgency", "waitlisted", "deadline"]
    assert explanation.part("urgency").points == pytest.approx(50 * 3 / 4)
    assert explanation.part("waitlisted").value == 43
    # Earliest infusion: ready 3 + transport 1 + 5 + 3 + 1 = day 13; slack 17 of 60.
    assert explanation.part("deadline").value == 17
    assert explanation.part("deadline").points == pytest.approx(30 * (1 - 17 / 60))


def test_more_urgent_patient_ranks_first_when_all_else_is_equal() -> None:
    scenario = tiny(patients=[patient("P1", urgency=2), patient("P2", urgency=5)])
    assert [e.patient for e in priority_order(scenario)] == ["P2", "P1"]


def test_a_closer_latest_infusion_date_raises_the_score() -> None:
    scenario = tiny(
        patients=[
            patient("P1", latest_infusion_date=day(50)),
            patient("P2", latest_infusion_date=day(15)),
        ]
    )
    scores = triage(scenario)
    assert scores["P2"].score > scores["P1"].score


def test_waiting_counts_up_to_the_cap() -> None:
    weights = TriageWeights(waitlisted_cap_days=30)
    scenario = tiny(
        patients=[
            patient("P1", waitlisted_since=day(-30)),
            patient("P2", waitlisted_since=day(-300)),
            patient("P3", waitlisted_since=day(-15)),
        ]
    )
    scores = triage(scenario, weights)
    assert scores["P1"].part("waitlisted").points == pytest.approx(20)
    assert scores["P2"].part("waitlisted").points == pytest.approx(20)
    assert scores["P3"].part("waitlisted").points == pytest.approx(10)


def test_explain_order_names_the_part_that_decides() -> None:
    scenario = tiny(patients=[patient("P1", urgency=5), patient("P2", urgency=1)])
    answer = explain_order("P1", "P2", scenario)
    assert answer.startswith("P1 is before P2: score 50.0 against 0.0.")
    assert "- urgency: +50.0 points for P1" in answer
    assert "- deadline: equal" in answer


def test_explain_order_says_when_the_first_is_not_before() -> None:
    scenario = tiny(patients=[patient("P1", urgency=1), patient("P2", urgency=3)])
    assert explain_order("P1", "P2", scenario).startswith(
        "P1 is not before P2: P2 comes first: score 25.0 against 0.0."
    )


def test_a_tie_is_broken_by_the_earlier_ready_date() -> None:
    scenario = tiny(patients=[patient("P1", ready=5), patient("P2", ready=2)])
    answer = explain_order("P1", "P2", scenario)
    assert answer.startswith("P1 is not before P2")
    assert "earlier ready date decides" in answer


def test_objective_weights_run_from_1_to_101() -> None:
    weights = TriageWeights(urgency=1, waitlisted=0, deadline=0)
    scenario = tiny(patients=[patient("P1", urgency=1), patient("P2", urgency=5)])
    scores = triage(scenario, weights)
    assert objective_weight(scores["P1"], weights) == 1
    assert objective_weight(scores["P2"], weights) == 101
