"""Acute GVHD staging and grading, MAGIC (Harris et al., BBMT 2016;22:4, Table 1)."""

from __future__ import annotations

from typing import Any

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.grading import grade


def agvhd(**fields: object) -> dict[str, Any]:
    """An adult with no organ involved, changed by `fields`."""
    data: dict[str, object] = {
        "skin_bsa_percent": 0,
        "bilirubin_mg_dl": 0.8,
        "upper_gi_persistent": False,
        "stool_ml_per_day": 200,
        "weight_kg": 70,
        "severe_pain_or_ileus": False,
        "bloody_stool": False,
    }
    data.update(fields)
    return grade("agvhd", {key: value for key, value in data.items() if value is not None})


def stage(organ: str, **fields: object) -> object:
    result = agvhd(**fields)["stages"]
    assert isinstance(result, dict)
    return result[organ]


def grade_of(**fields: object) -> tuple[object, object]:
    result = agvhd(**fields)
    return result["grade"], result["grade_label"]


def test_no_organ_involved_is_grade_0() -> None:
    result = agvhd()
    assert result["stages"] == {"skin": 0, "liver": 0, "upper_gi": 0, "lower_gi": 0}
    assert (result["grade"], result["grade_label"]) == (0, "0")
    assert result["reasons"][-1] == "MAGIC: no organ involved → grade 0"


@pytest.mark.parametrize(
    ("bsa", "expected"), [(0, 0), (1, 1), (24.9, 1), (25, 2), (50, 2), (50.5, 3), (100, 3)]
)
def test_skin_stage_by_body_surface(bsa: float, expected: int) -> None:
    assert stage("skin", skin_bsa_percent=bsa, skin_bullae_desquamation=False) == expected


def test_skin_stage_4_needs_over_50_percent_with_bullae_and_desquamation() -> None:
    assert stage("skin", skin_bsa_percent=80, skin_bullae_desquamation=True) == 4


def test_bullae_are_only_asked_for_over_50_percent() -> None:
    assert stage("skin", skin_bsa_percent=40) == 2
    with pytest.raises(InvalidInput, match="skin_bullae_desquamation is required when"):
        agvhd(skin_bsa_percent=60)


@pytest.mark.parametrize(
    ("bilirubin", "expected"),
    [(1.9, 0), (2, 1), (3, 1), (3.05, 2), (3.1, 2), (6, 2), (6.1, 3), (15, 3), (15.1, 4)],
)
def test_liver_stage_by_bilirubin(bilirubin: float, expected: int) -> None:
    assert stage("liver", bilirubin_mg_dl=bilirubin) == expected


def test_persistent_upper_gi_symptoms_are_stage_1() -> None:
    assert stage("upper_gi", upper_gi_persistent=True) == 1


@pytest.mark.parametrize(
    ("volume", "expected"), [(499, 0), (500, 1), (999, 1), (1000, 2), (1500, 2), (1501, 3)]
)
def test_adult_lower_gi_stage_by_stool_volume(volume: int, expected: int) -> None:
    assert stage("lower_gi", stool_ml_per_day=volume) == expected


@pytest.mark.parametrize(("episodes", "expected"), [(2, 0), (3, 1), (4, 1), (5, 2), (7, 2), (8, 3)])
def test_adult_lower_gi_stage_by_stool_episodes(episodes: int, expected: int) -> None:
    assert stage("lower_gi", stool_ml_per_day=None, stool_episodes_per_day=episodes) == expected


def test_adult_volume_and_episodes_take_the_more_severe_stage() -> None:
    assert stage("lower_gi", stool_ml_per_day=600, stool_episodes_per_day=6) == 2
    assert stage("lower_gi", stool_ml_per_day=1600, stool_episodes_per_day=1) == 3


@pytest.mark.parametrize("field", ["severe_pain_or_ileus", "bloody_stool"])
def test_severe_pain_or_bloody_stool_is_lower_gi_stage_4_regardless_of_volume(
    field: str,
) -> None:
    result = grade(
        "agvhd",
        {
            "skin_bsa_percent": 0,
            "bilirubin_mg_dl": 1,
            "upper_gi_persistent": False,
            field: True,
        },
    )
    assert result["stages"] == {"skin": 0, "liver": 0, "upper_gi": 0, "lower_gi": 4}
    assert result["grade_label"] == "IV"


@pytest.mark.parametrize(
    ("volume", "expected"),
    [(150, 0), (200, 1), (390, 1), (400, 2), (600, 2), (620, 3)],
)
def test_child_lower_gi_stage_by_stool_volume_per_kg(volume: int, expected: int) -> None:
    # 20 kg: 10 / 20 / 30 mL/kg are 200 / 400 / 600 mL per day.
    assert stage("lower_gi", weight_kg=20, stool_ml_per_day=volume) == expected


def test_a_light_patient_is_staged_per_kg_not_by_adult_volumes() -> None:
    # 700 mL/day is adult stage 1; at 30 kg it is 23.3 mL/kg/day, stage 2.
    assert stage("lower_gi", weight_kg=50.5, stool_ml_per_day=700) == 1
    assert stage("lower_gi", weight_kg=30, stool_ml_per_day=700) == 2


def test_50_kg_is_a_child_and_over_50_kg_an_adult() -> None:
    """Harris et al., BBMT 2016;22:4, Table 1: adult stool criteria apply over 50 kg; at
    50 kg and under the paediatric ones do, for episodes as for volume."""
    # 6 episodes/day: adult stage 2 (5–7), paediatric stage 1 (4–6).
    assert stage("lower_gi", weight_kg=50.5, stool_ml_per_day=None, stool_episodes_per_day=6) == 2
    assert stage("lower_gi", weight_kg=50, stool_ml_per_day=None, stool_episodes_per_day=6) == 1


@pytest.mark.parametrize(
    ("episodes", "expected"),
    [(0, 0), (3, 0), (4, 1), (5, 1), (6, 1), (7, 2), (8, 2), (10, 2), (11, 3), (15, 3)],
)
def test_child_lower_gi_stage_by_episodes_alone(episodes: int, expected: int) -> None:
    """Harris et al., BBMT 2016;22:4, Table 1, children: < 4, 4–6, 7–10 and > 10 stool
    episodes/day are stages 0–3; episodes alone stage a child whose volume is not measured."""
    assert (
        stage("lower_gi", weight_kg=20, stool_ml_per_day=None, stool_episodes_per_day=episodes)
        == expected
    )


@pytest.mark.parametrize(
    ("volume", "episodes", "expected"),
    [
        (150, 9, 2),  # 7.5 mL/kg/day is stage 0, 9 episodes stage 2
        (150, 11, 3),  # 11 episodes is stage 3
        (700, 2, 3),  # 35 mL/kg/day is stage 3, 2 episodes stage 0
        (300, 5, 1),  # 15 mL/kg/day and 5 episodes are both stage 1
        (150, 3, 0),
    ],
)
def test_child_takes_the_worse_of_volume_and_episodes(
    volume: int, episodes: int, expected: int
) -> None:
    """Harris et al., BBMT 2016;22:4, Table 1, children: each stage is a volume per kg or
    an episode count, so either meets it and the worse stage is taken (as for adults)."""
    result = agvhd(weight_kg=20, stool_ml_per_day=volume, stool_episodes_per_day=episodes)
    assert result["stages"]["lower_gi"] == expected
    assert result["reasons"][-2] == (
        f"MAGIC: stool volume or episodes, whichever is worse → lower GI stage {expected}"
    )


def test_child_reasons_give_the_volume_per_kg_and_the_paediatric_bands() -> None:
    """Harris et al., BBMT 2016;22:4, Table 1: children are staged in mL/kg/day."""
    result = agvhd(weight_kg=30, stool_ml_per_day=700, stool_episodes_per_day=5)
    assert result["stages"]["lower_gi"] == 2
    assert result["reasons"][3:6] == [
        "MAGIC, paediatric criteria (30 kg ≤ 50 kg): stool 700 mL/day = 23.3 mL/kg/day "
        "(20–30 mL/kg/day) → lower GI stage 2",
        "MAGIC, paediatric criteria (30 kg ≤ 50 kg): 5 stool episodes/day (4–6 episodes/day) "
        "→ lower GI stage 1",
        "MAGIC: stool volume or episodes, whichever is worse → lower GI stage 2",
    ]


@pytest.mark.parametrize("field", ["severe_pain_or_ileus", "bloody_stool"])
def test_child_stage_4_criteria_apply_whatever_the_stool_output(field: str) -> None:
    """Harris et al., BBMT 2016;22:4, Table 1: lower GI stage 4 (severe abdominal pain with
    or without ileus, or grossly bloody stool regardless of volume) applies to children."""
    result = agvhd(weight_kg=15, stool_ml_per_day=None, stool_episodes_per_day=1, **{field: True})
    assert result["stages"]["lower_gi"] == 4
    assert result["grade_label"] == "IV"


def test_a_child_needs_a_volume_or_an_episode_count() -> None:
    """Harris et al., BBMT 2016;22:4, Table 1: stages 0–3 are read from stool output."""
    with pytest.raises(
        InvalidInput,
        match="stool_ml_per_day or stool_episodes_per_day is required to stage lower GI",
    ):
        agvhd(weight_kg=20, stool_ml_per_day=None)


def test_child_episode_stages_drive_the_overall_grade() -> None:
    """Harris et al., BBMT 2016;22:4: lower GI stage 1 alone is grade II, stage 2–3 is
    grade III, for children as for adults."""
    assert grade_of(weight_kg=25, stool_ml_per_day=None, stool_episodes_per_day=4) == (2, "II")
    assert grade_of(weight_kg=25, stool_ml_per_day=None, stool_episodes_per_day=7) == (3, "III")


@pytest.mark.parametrize(
    ("volume", "expected"), [(199, 0), (200, 1), (399, 1), (400, 2), (600, 2), (601, 3)]
)
def test_child_volume_bands_are_per_kg_at_their_boundaries(volume: int, expected: int) -> None:
    """Harris et al., BBMT 2016;22:4, Table 1, children: < 10, 10–19.9, 20–30 and > 30
    mL/kg/day; at 20 kg 399 mL is 19.95 mL/kg/day, still stage 1."""
    assert stage("lower_gi", weight_kg=20, stool_ml_per_day=volume) == expected


@pytest.mark.parametrize(
    ("volume", "episodes", "expected"),
    [(None, 3, 1), (1200, None, 2), (400, 8, 3), (1600, 2, 3), (499, 2, 0)],
)
def test_adults_are_staged_by_volume_or_episodes_the_worse_of_the_two(
    volume: int | None, episodes: int | None, expected: int
) -> None:
    """Harris et al., BBMT 2016;22:4, Table 1, adults: < 500 mL or < 3 episodes, 500–999
    or 3–4, 1000–1500 or 5–7, > 1500 or > 7; either meets a stage."""
    assert stage("lower_gi", stool_ml_per_day=volume, stool_episodes_per_day=episodes) == expected


def test_skin_stage_1_or_2_alone_is_grade_i() -> None:
    assert grade_of(skin_bsa_percent=10) == (1, "I")
    assert grade_of(skin_bsa_percent=40) == (1, "I")


def test_skin_stage_3_alone_is_grade_ii_not_iii() -> None:
    result = agvhd(skin_bsa_percent=70, skin_bullae_desquamation=False)
    assert result["stages"] == {"skin": 3, "liver": 0, "upper_gi": 0, "lower_gi": 0}
    assert (result["grade"], result["grade_label"]) == (2, "II")
    assert result["reasons"][-1] == "MAGIC: skin stage 3 → grade II"


@pytest.mark.parametrize(
    "fields",
    [
        {"bilirubin_mg_dl": 2.5},
        {"upper_gi_persistent": True},
        {"stool_ml_per_day": 700},
    ],
)
def test_any_stage_1_outside_the_skin_is_grade_ii(fields: dict[str, object]) -> None:
    assert grade_of(**fields) == (2, "II")


def test_upper_gi_stage_1_with_skin_stage_2_is_grade_ii() -> None:
    assert grade_of(skin_bsa_percent=30, upper_gi_persistent=True) == (2, "II")


@pytest.mark.parametrize(
    "fields",
    [
        {"bilirubin_mg_dl": 4},
        {"bilirubin_mg_dl": 10},
        {"stool_ml_per_day": 1200},
        {"stool_ml_per_day": 2000},
    ],
)
def test_liver_or_lower_gi_stage_2_or_3_is_grade_iii(fields: dict[str, object]) -> None:
    assert grade_of(**fields) == (3, "III")


def test_grade_iii_allows_skin_stage_3_and_upper_gi_stage_1() -> None:
    result = agvhd(
        skin_bsa_percent=60,
        skin_bullae_desquamation=False,
        upper_gi_persistent=True,
        stool_ml_per_day=1200,
    )
    assert (result["grade"], result["grade_label"]) == (3, "III")
    assert result["reasons"][-1] == (
        "MAGIC: lower GI stage 2 (liver or lower GI stage 2–3) → grade III"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"skin_bsa_percent": 90, "skin_bullae_desquamation": True},
        {"bilirubin_mg_dl": 20},
        {"bloody_stool": True},
    ],
)
def test_skin_liver_or_lower_gi_stage_4_is_grade_iv(fields: dict[str, object]) -> None:
    assert grade_of(**fields) == (4, "IV")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"skin_bsa_percent": None}, "skin_bsa_percent is required"),
        ({"bilirubin_mg_dl": None}, "bilirubin_mg_dl is required"),
        ({"upper_gi_persistent": None}, "upper_gi_persistent is required"),
        ({"severe_pain_or_ileus": None}, "severe_pain_or_ileus is required"),
        ({"bloody_stool": None}, "bloody_stool is required"),
        ({"weight_kg": None}, "weight_kg is required to stage lower GI"),
        (
            {"stool_ml_per_day": None},
            "stool_ml_per_day or stool_episodes_per_day is required to stage lower GI",
        ),
        ({"skin_bsa_percent": 120}, "skin_bsa_percent must be at most 100"),
        ({"bilirubin_mg_dl": -1}, "bilirubin_mg_dl must be at least 0"),
        ({"weight_kg": 0}, "weight_kg must be greater than 0"),
        ({"stool_ml_per_day": "800"}, "stool_ml_per_day must be a number"),
    ],
)
def test_missing_or_ill_typed_fields_are_named(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        agvhd(**fields)
