"""Trials: cohorts, patient outcomes, response counting, survival times, the seed-003 demo."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.trial import (
    Cohort,
    PatientOutcome,
    Response,
    ResponseCriteria,
    TimeToEvent,
    Trial,
    check_outcomes,
    count_responses,
    overall_survival,
    progression_free_survival,
    responses_by_cohort,
    seed_003_trial,
)

DAY0 = date(2024, 1, 8)
LOW = Cohort("low", "Low dose", 1e6)
HIGH = Cohort("high", "High dose", 3e6)
RECIST_TRIAL = Trial("T-1", "A solid tumour trial", "imc001", (LOW, HIGH))
IMWG_TRIAL = Trial("T-2", "A myeloma trial", "eque-cel", (LOW,), ResponseCriteria.IMWG)


def outcome(
    case_id: str = "C1", best: Response | str = Response.SD, **changes: Any
) -> PatientOutcome:
    fields: dict[str, Any] = {
        "case_id": case_id,
        "cohort_id": "low",
        "evaluable": True,
        "best_response": best,
        "infused_on": DAY0,
        "last_contact_on": DAY0 + timedelta(days=100),
    }
    if Response(best) is Response.PD:
        fields["progressed_on"] = DAY0 + timedelta(days=30)
    fields.update(changes)
    return PatientOutcome(**fields)


def outcomes_with(*responses: str, cohort: str = "low") -> list[PatientOutcome]:
    return [outcome(f"{cohort}-{i}", r, cohort_id=cohort) for i, r in enumerate(responses)]


# --- counting -----------------------------------------------------------------------------


def test_recist_orr_is_cr_plus_pr_and_dcr_adds_sd() -> None:
    counts = count_responses(RECIST_TRIAL, outcomes_with("CR", "PR", "PR", "SD", "PD", "NE"))
    assert (counts.evaluable, counts.objective, counts.disease_control, counts.complete) == (
        6,
        3,
        4,
        1,
    )


def test_imwg_orr_counts_scr_vgpr_and_pr_while_mr_only_controls_disease() -> None:
    counts = count_responses(IMWG_TRIAL, outcomes_with("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD"))
    assert counts.objective == 4
    assert counts.disease_control == 6
    assert counts.complete == 2
    assert counts.by_response[Response.MR] == 1


def test_non_evaluable_patients_are_treated_but_not_counted() -> None:
    patients = [*outcomes_with("PR", "SD"), outcome("X", "CR", evaluable=False)]
    counts = count_responses(RECIST_TRIAL, patients)
    assert (counts.treated, counts.evaluable, counts.objective) == (3, 2, 1)


def test_evaluable_patient_with_no_adequate_assessment_stays_in_the_denominator() -> None:
    counts = count_responses(RECIST_TRIAL, outcomes_with("PR", "NE"))
    assert (counts.evaluable, counts.objective, counts.disease_control) == (2, 1, 1)


def test_counts_per_cohort_come_in_trial_order_then_overall() -> None:
    patients = outcomes_with("PR", "SD") + outcomes_with("PD", "CR", "SD", cohort="high")
    rows = responses_by_cohort(RECIST_TRIAL, patients)
    assert [(r.group, r.evaluable, r.objective, r.disease_control) for r in rows] == [
        ("low", 2, 1, 2),
        ("high", 3, 1, 2),
        ("overall", 5, 2, 4),
    ]


def test_an_empty_cohort_counts_zero() -> None:
    counts = count_responses(RECIST_TRIAL, outcomes_with("PR"), "high")
    assert (counts.treated, counts.evaluable, counts.objective) == (0, 0, 0)


def test_counts_are_json_ready() -> None:
    counts = count_responses(RECIST_TRIAL, outcomes_with("PR", "SD"))
    assert counts.to_dict()["by_response"] == {"CR": 0, "PR": 1, "SD": 1, "PD": 0, "NE": 0}


def test_a_myeloma_response_in_a_recist_trial_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"outcomes\[1\]\.best_response: VGPR is not a RECIST"):
        count_responses(RECIST_TRIAL, outcomes_with("PR", "VGPR"))


def test_an_outcome_in_an_unknown_cohort_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"outcomes\[0\]\.cohort_id"):
        check_outcomes(RECIST_TRIAL, outcomes_with("PR", cohort="mid"))


def test_a_case_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"outcomes\[1\]\.case_id"):
        check_outcomes(RECIST_TRIAL, [outcome("C1"), outcome("C1")])


def test_counting_an_unknown_cohort_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^cohort_id:"):
        count_responses(RECIST_TRIAL, [], "mid")


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"case_id": ""}, "case_id"),
        ({"best_response": "uCR"}, "best_response"),
        ({"last_contact_on": DAY0 - timedelta(days=1)}, "last_contact_on"),
        ({"died_on": DAY0 - timedelta(days=1)}, "died_on"),
        ({"progressed_on": DAY0 - timedelta(days=1)}, "progressed_on"),
        ({"best_response": "PD", "progressed_on": None}, "progressed_on"),
        ({"vein_to_vein_days": -1}, "vein_to_vein_days"),
        ({"vein_to_vein_days": 30.5}, "vein_to_vein_days"),
        ({"max_crs_grade": 6}, "max_crs_grade"),
        ({"max_icans_grade": -1}, "max_icans_grade"),
        ({"max_icans_grade": True}, "max_icans_grade"),
    ],
)
def test_outcome_refuses_bad_fields_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        outcome(**changes)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Cohort("", "Low", 1e6), "cohort.id"),
        (lambda: Cohort("overall", "Low", 1e6), "cohort.id"),
        (lambda: Cohort("low", " ", 1e6), "cohort.dose_label"),
        (lambda: Cohort("low", "Low", 0), "cohort.dose_cells_per_kg"),
        (lambda: Trial("T", "t", "p", ()), "trial.cohorts"),
        (lambda: Trial("T", "t", "p", (LOW, LOW)), "trial.cohorts"),
        (lambda: Trial("T", "", "p", (LOW,)), "trial.title"),
        (lambda: Trial("T", "t", "p", (LOW,), "who"), "trial.criteria"),  # type: ignore[arg-type]
    ],
)
def test_trial_and_cohort_refuse_bad_fields_naming_the_field(make: Any, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        make()


def test_died_and_progressed_read_the_dates() -> None:
    alive = outcome()
    dead = outcome(died_on=DAY0 + timedelta(days=50), progressed_on=DAY0 + timedelta(days=20))
    assert (alive.died, alive.progressed, dead.died, dead.progressed) == (False, False, True, True)


# --- survival times -----------------------------------------------------------------------


def test_overall_survival_ends_at_death() -> None:
    died = outcome(died_on=DAY0 + timedelta(days=80))
    assert overall_survival(died, as_of=DAY0 + timedelta(days=200)) == TimeToEvent(80, True)


def test_overall_survival_is_censored_at_last_contact() -> None:
    assert overall_survival(outcome(), as_of=DAY0 + timedelta(days=200)) == TimeToEvent(100, False)


def test_events_after_the_data_cutoff_are_censored_at_the_cutoff() -> None:
    died = outcome(died_on=DAY0 + timedelta(days=80), last_contact_on=DAY0 + timedelta(days=80))
    cut = DAY0 + timedelta(days=60)
    assert overall_survival(died, as_of=cut) == TimeToEvent(60, False)
    assert progression_free_survival(died, as_of=cut) == TimeToEvent(60, False)


def test_progression_free_survival_ends_at_progression_or_death_whichever_first() -> None:
    progressed = outcome(progressed_on=DAY0 + timedelta(days=40), died_on=DAY0 + timedelta(days=90))
    died_first = outcome(died_on=DAY0 + timedelta(days=30))
    cut = DAY0 + timedelta(days=200)
    assert progression_free_survival(progressed, as_of=cut) == TimeToEvent(40, True)
    assert progression_free_survival(died_first, as_of=cut) == TimeToEvent(30, True)
    assert progression_free_survival(outcome(), as_of=cut) == TimeToEvent(100, False)


def test_a_patient_infused_after_the_cutoff_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^as_of:"):
        overall_survival(outcome(), as_of=DAY0 - timedelta(days=1))


# --- the IMC001 IIT (Immunofoco release, 21 March 2025) -----------------------------------


def test_seed_003_has_two_cohorts_and_ten_evaluable_patients_with_dcr_9_of_10() -> None:
    data = seed_003_trial(DAY0)
    overall = count_responses(data.trial, data.outcomes)
    assert [c.id for c in data.trial.cohorts] == ["low", "middle"]
    assert (overall.evaluable, overall.disease_control, overall.objective) == (10, 9, 3)


def test_seed_003_low_dose_pr_is_1_of_3_and_middle_dose_has_2_prs() -> None:
    data = seed_003_trial(DAY0)
    low = count_responses(data.trial, data.outcomes, "low")
    middle = count_responses(data.trial, data.outcomes, "middle")
    assert (low.by_response[Response.PR], low.evaluable) == (1, 3)
    assert (middle.by_response[Response.PR], middle.evaluable) == (2, 7)


def test_seed_003_with_three_dose_groups_holds_every_published_rate() -> None:
    data = seed_003_trial(DAY0, three_dose_groups=True)
    rows = {r.group: r for r in responses_by_cohort(data.trial, data.outcomes)}
    assert (rows["low"].objective, rows["low"].evaluable) == (1, 3)
    assert (rows["middle"].objective, rows["middle"].evaluable) == (2, 5)
    assert (rows["high"].objective, rows["high"].evaluable) == (0, 2)
    assert (rows["overall"].disease_control, rows["overall"].evaluable) == (9, 10)


def test_seed_003_long_survivor_had_pr_and_is_alive_past_22_months_at_cutoff() -> None:
    data = seed_003_trial(DAY0)
    survivor = next(o for o in data.outcomes if o.case_id == "IMC001-M01")
    os_ = overall_survival(survivor, as_of=data.data_cutoff)
    assert survivor.best_response is Response.PR
    assert not os_.event
    assert os_.days > 22 * 30.4375


def test_seed_003_is_deterministic_and_moves_with_the_start_date() -> None:
    first = seed_003_trial(DAY0)
    again = seed_003_trial(DAY0)
    later = seed_003_trial(DAY0 + timedelta(days=7))
    assert first == again
    assert later.data_cutoff == first.data_cutoff + timedelta(days=7)
    shifted = [
        dataclasses.replace(o, infused_on=o.infused_on + timedelta(days=7)).infused_on
        for o in first.outcomes
    ]
    assert [o.infused_on for o in later.outcomes] == shifted
    assert min(o.infused_on for o in first.outcomes) == DAY0
