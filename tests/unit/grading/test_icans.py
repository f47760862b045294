"""ICANS grading, ASTCT 2019 (Lee et al., BBMT 2019;25:625): worked examples."""

from __future__ import annotations

from typing import Any

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.grading import grade


def icans(**fields: object) -> dict[str, Any]:
    """A patient with a normal ICE score and no other finding, changed by `fields`."""
    data: dict[str, object] = {
        "ice_score": 10,
        "consciousness": "alert",
        "seizure": "none",
        "motor_weakness": "none",
        "cerebral_edema": "none",
        "raised_icp_signs": False,
    }
    data.update(fields)
    return grade("icans", {key: value for key, value in data.items() if value is not None})


def grade_of(**fields: object) -> object:
    return icans(**fields)["grade"]


def test_ice_10_with_no_other_finding_is_no_icans() -> None:
    result = icans()
    assert result["grade"] == 0
    assert result["reasons"][-1] == (
        "ASTCT 2019: ICE score 10 with no other finding → no ICANS (grade 0)"
    )


@pytest.mark.parametrize(
    ("ice", "expected"),
    [(9, 1), (7, 1), (6, 2), (3, 2), (2, 3), (1, 3)],
)
def test_ice_score_bands(ice: int, expected: int) -> None:
    assert grade_of(ice_score=ice) == expected


def test_ice_0_in_an_awake_patient_is_grade_3() -> None:
    result = icans(ice_score=0, consciousness="alert")
    assert result["grade"] == 3
    assert "ASTCT 2019: ICE score 0 in a patient who is awake → grade 3" in result["reasons"]


def test_ice_0_in_an_unarousable_patient_is_grade_4() -> None:
    result = icans(ice_score=0, consciousness="unarousable")
    assert result["grade"] == 4
    assert "ASTCT 2019: ICE score 0 and unarousable → grade 4" in result["reasons"]


def test_unarousable_patient_who_cannot_do_ice_is_grade_4_without_a_score() -> None:
    result = grade("icans", {"consciousness": "unarousable"})
    assert result["grade"] == 4


def test_an_ice_score_above_0_is_impossible_when_unarousable() -> None:
    with pytest.raises(InvalidInput, match="ice_score 5 is impossible for an unarousable patient"):
        icans(ice_score=5, consciousness="unarousable")


@pytest.mark.parametrize(
    ("consciousness", "expected"),
    [
        ("awakens_spontaneously", 1),
        ("awakens_to_voice", 2),
        ("awakens_to_touch", 3),
        ("vigorous_stimuli", 4),
    ],
)
def test_depressed_consciousness_grades(consciousness: str, expected: int) -> None:
    assert grade_of(consciousness=consciousness) == expected


@pytest.mark.parametrize(
    ("seizure", "expected"),
    [
        ("rapidly_resolving", 3),
        ("nonconvulsive_resolved_with_intervention", 3),
        ("prolonged", 4),
        ("repetitive", 4),
    ],
)
def test_seizure_grades(seizure: str, expected: int) -> None:
    assert grade_of(seizure=seizure) == expected


def test_deep_focal_motor_weakness_is_grade_4() -> None:
    assert grade_of(motor_weakness="deep_focal") == 4


def test_focal_oedema_is_grade_3_and_diffuse_oedema_grade_4() -> None:
    assert grade_of(cerebral_edema="focal") == 3
    assert grade_of(cerebral_edema="diffuse") == 4


def test_signs_of_raised_intracranial_pressure_are_grade_4() -> None:
    assert grade_of(raised_icp_signs=True) == 4


def test_grade_is_the_most_severe_domain() -> None:
    result = icans(ice_score=8, consciousness="awakens_to_voice", seizure="rapidly_resolving")
    assert result["grade"] == 3
    assert result["reasons"] == [
        "ASTCT 2019: ICE score 8 (7–9) → grade 1",
        "ASTCT 2019: depressed consciousness, awakens to voice → grade 2",
        "ASTCT 2019: clinical seizure resolving rapidly → grade 3",
        "ASTCT 2019: the grade is the most severe domain → grade 3",
    ]


def test_a_domain_may_be_absent_once_another_gives_grade_4() -> None:
    assert grade("icans", {"ice_score": 6, "seizure": "prolonged"})["grade"] == 4


def test_missing_ice_score_is_named_when_it_could_change_the_grade() -> None:
    with pytest.raises(InvalidInput, match="ice_score is required unless"):
        icans(ice_score=None, consciousness="awakens_to_touch")


def test_missing_consciousness_is_named_because_ice_0_could_be_grade_3_or_4() -> None:
    with pytest.raises(InvalidInput, match="consciousness is required"):
        icans(ice_score=0, consciousness=None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ice_score": 11}, "ice_score must be at most 10, not 11"),
        ({"ice_score": 7.5}, "ice_score must be a whole number, not 7.5"),
        ({"ice_score": "9"}, "ice_score must be a number"),
        ({"seizure": "absence"}, "seizure must be one of none, rapidly_resolving"),
        ({"raised_icp_signs": 1}, "raised_icp_signs must be true or false"),
    ],
)
def test_ill_typed_fields_are_refused_by_name(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        icans(**fields)


def test_a_whole_ice_score_sent_as_a_float_is_read_as_a_whole_number() -> None:
    assert grade_of(ice_score=7.0) == 1


def test_ice_0_needing_vigorous_stimuli_is_grade_4_from_consciousness() -> None:
    result = icans(ice_score=0, consciousness="vigorous_stimuli")
    assert result["grade"] == 4
    assert "ASTCT 2019: ICE score 0 (0–2) → grade 3" in result["reasons"]
