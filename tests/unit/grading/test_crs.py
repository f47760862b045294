"""CRS grading, ASTCT 2019 (Lee et al., BBMT 2019;25:625): worked examples."""

from __future__ import annotations

from typing import Any

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.grading import grade


def crs(**fields: object) -> dict[str, Any]:
    """A febrile patient without hypotension or oxygen, changed by `fields`."""
    data: dict[str, object] = {
        "temperature_c": 38.5,
        "hypotension": False,
        "vasopressors": [],
        "oxygen": {"device": "none"},
        "death_from_crs": False,
    }
    data.update(fields)
    return grade("crs", {key: value for key, value in data.items() if value is not None})


def grade_of(**fields: object) -> object:
    return crs(**fields)["grade"]


def test_fever_alone_is_grade_1() -> None:
    result = crs()
    assert result["grade"] == 1
    assert result["reasons"][-1] == "ASTCT 2019: fever without hypotension or hypoxia → grade 1"


def test_fever_threshold_is_38_0_inclusive() -> None:
    assert grade_of(temperature_c=38.0) == 1
    assert grade_of(temperature_c=37.9, fever_masked_by_treatment=False) == 0


def test_no_fever_is_no_crs_even_with_hypotension_and_hypoxia() -> None:
    result = crs(
        temperature_c=37.2,
        fever_masked_by_treatment=False,
        hypotension=True,
        vasopressors=["norepinephrine"],
        oxygen={"device": "cpap"},
    )
    assert result["grade"] == 0
    assert "no CRS (grade 0)" in str(result["reasons"])


def test_without_fever_hypotension_and_oxygen_may_be_absent() -> None:
    result = grade(
        "crs", {"temperature_c": 37.0, "fever_masked_by_treatment": False, "death_from_crs": False}
    )
    assert result["grade"] == 0


def test_masked_fever_lets_hypotension_drive_the_grade() -> None:
    assert grade_of(temperature_c=37.1, fever_masked_by_treatment=True, hypotension=True) == 2


def test_masked_fever_needs_no_temperature_reading() -> None:
    result = crs(
        temperature_c=None,
        fever_masked_by_treatment=True,
        oxygen={"device": "facemask"},
    )
    assert result["grade"] == 3
    assert "fever not required after antipyretics, tocilizumab or steroids" in str(
        result["reasons"]
    )


def test_masked_fever_without_hypotension_or_hypoxia_is_grade_1() -> None:
    assert grade_of(temperature_c=36.8, fever_masked_by_treatment=True) == 1


def test_fever_at_or_above_38_does_not_need_the_masking_field() -> None:
    data = {
        "temperature_c": 39.0,
        "hypotension": False,
        "oxygen": {"device": "none"},
        "death_from_crs": False,
    }
    assert grade("crs", data)["grade"] == 1


def test_hypotension_not_needing_vasopressors_is_grade_2() -> None:
    result = crs(hypotension=True)
    assert result["grade"] == 2
    assert "ASTCT 2019: hypotension not needing vasopressors → grade 2" in result["reasons"]


def test_one_vasopressor_is_grade_3() -> None:
    assert grade_of(hypotension=True, vasopressors=["norepinephrine"]) == 3


def test_vasopressin_does_not_count_as_a_second_vasopressor() -> None:
    result = crs(hypotension=True, vasopressors=["norepinephrine", "vasopressin"])
    assert result["grade"] == 3
    assert "which does not count as a second" in str(result["reasons"])


def test_vasopressin_alone_is_one_vasopressor_grade_3() -> None:
    assert grade_of(hypotension=True, vasopressors=["vasopressin"]) == 3


def test_two_vasopressors_other_than_vasopressin_are_grade_4() -> None:
    result = crs(hypotension=True, vasopressors=["norepinephrine", "phenylephrine", "vasopressin"])
    assert result["grade"] == 4
    assert "several vasopressors (norepinephrine, phenylephrine, vasopressin not counted)" in str(
        result["reasons"]
    )


def test_the_same_agent_under_two_names_counts_once() -> None:
    assert grade_of(hypotension=True, vasopressors=["norepinephrine", "Noradrenaline"]) == 3


def test_an_unknown_vasopressor_is_refused_rather_than_counted() -> None:
    with pytest.raises(InvalidInput, match=r"vasopressors\[1\] 'vasopresin' is not a vasopressor"):
        crs(hypotension=True, vasopressors=["norepinephrine", "vasopresin"])


def test_vasopressors_without_hypotension_are_refused() -> None:
    with pytest.raises(InvalidInput, match="vasopressors lists agents but hypotension is false"):
        crs(hypotension=False, vasopressors=["norepinephrine"])


@pytest.mark.parametrize("flow", [0.5, 6, 6.0])
def test_nasal_cannula_up_to_6_l_min_is_low_flow_grade_2(flow: float) -> None:
    result = crs(oxygen={"device": "nasal_cannula", "flow_l_min": flow})
    assert result["grade"] == 2
    assert "(low flow, ≤ 6 L/min) → grade 2" in str(result["reasons"])


def test_nasal_cannula_over_6_l_min_is_high_flow_grade_3() -> None:
    result = crs(oxygen={"device": "nasal_cannula", "flow_l_min": 6.5})
    assert result["grade"] == 3
    assert "(high flow, > 6 L/min) → grade 3" in str(result["reasons"])


def test_high_flow_nasal_cannula_is_grade_3_without_a_flow() -> None:
    result = crs(oxygen={"device": "high_flow_nasal_cannula"})
    assert result["grade"] == 3
    assert "ASTCT 2019: oxygen by high-flow nasal cannula (> 6 L/min) → grade 3" in str(
        result["reasons"]
    )


def test_high_flow_device_at_low_flow_is_graded_by_the_flow() -> None:
    assert grade_of(oxygen={"device": "high_flow_nasal_cannula", "flow_l_min": 5}) == 2


def test_blow_by_oxygen_is_grade_2() -> None:
    assert grade_of(oxygen={"device": "blow_by"}) == 2


@pytest.mark.parametrize("device", ["facemask", "non_rebreather", "venturi_mask"])
def test_masks_are_grade_3(device: str) -> None:
    assert grade_of(oxygen={"device": device}) == 3


@pytest.mark.parametrize("device", ["cpap", "bipap", "mechanical_ventilation"])
def test_positive_pressure_is_grade_4(device: str) -> None:
    assert grade_of(oxygen={"device": device}) == 4


def test_grade_is_the_worse_of_hypotension_and_hypoxia() -> None:
    assert grade_of(hypotension=True, oxygen={"device": "cpap"}) == 4
    result = crs(
        hypotension=True,
        vasopressors=["norepinephrine"],
        oxygen={"device": "nasal_cannula", "flow_l_min": 2},
    )
    assert result["grade"] == 3
    assert result["reasons"][-1] == (
        "ASTCT 2019: the grade is the more severe of hypotension (grade 3) "
        "and hypoxia (grade 2) → grade 3"
    )


def test_death_from_crs_is_grade_5_whatever_else_is_recorded() -> None:
    result = grade("crs", {"death_from_crs": True})
    assert result == {"grade": 5, "reasons": ["ASTCT 2019: death from CRS → grade 5"]}


def test_nasal_cannula_without_flow_names_the_flow_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        crs(oxygen={"device": "nasal_cannula"})
    assert raised.value.message == "oxygen.flow_l_min is required when the device is nasal_cannula"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"death_from_crs": None}, "death_from_crs is required"),
        ({"oxygen": None}, "oxygen is required"),
        ({"oxygen": {"flow_l_min": 3}}, "oxygen.device is required"),
        ({"hypotension": None}, "hypotension is required"),
        ({"hypotension": True, "vasopressors": None}, "vasopressors is required when hypotension"),
        ({"temperature_c": None}, "temperature_c is required"),
        ({"temperature_c": 37.5}, "fever_masked_by_treatment is required when temperature_c"),
        (
            {"temperature_c": None, "fever_masked_by_treatment": False},
            "temperature_c is required unless fever_masked_by_treatment is true",
        ),
    ],
)
def test_missing_fields_the_grade_depends_on_are_named(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        crs(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"temperature_c": "38.5"}, "temperature_c must be a number, not the text '38.5'"),
        ({"temperature_c": 101.3}, r"temperature_c must be at most 45, not 101.3 \(degrees"),
        ({"temperature_c": True}, "temperature_c must be a number, not true"),
        ({"hypotension": "yes"}, "hypotension must be true or false"),
        ({"oxygen": {"device": "tent"}}, "oxygen.device must be one of none, blow_by"),
        ({"oxygen": "none"}, "oxygen must be an object"),
        ({"oxygen": {"device": "nasal_cannula", "flow_l_min": 0}}, "must be greater than 0"),
        ({"hypotension": True, "vasopressors": "norepinephrine"}, "vasopressors must be a list"),
        ({"temprature_c": 39}, "temprature_c is not a field this scale reads"),
    ],
)
def test_ill_typed_fields_are_refused_by_name(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        crs(**fields)


@pytest.mark.parametrize(
    ("fields", "expected", "final"),
    [
        (
            {"hypotension": True},
            2,
            "ASTCT 2019: fever masked by antipyretics, tocilizumab or steroids, so hypotension "
            "and hypoxia drive the grade: the more severe of hypotension (grade 2) and hypoxia "
            "(grade 0) → grade 2",
        ),
        (
            {"oxygen": {"device": "facemask"}},
            3,
            "ASTCT 2019: fever masked by antipyretics, tocilizumab or steroids, so hypotension "
            "and hypoxia drive the grade: the more severe of hypotension (grade 0) and hypoxia "
            "(grade 3) → grade 3",
        ),
        (
            {"hypotension": True, "vasopressors": ["norepinephrine", "phenylephrine"]},
            4,
            "ASTCT 2019: fever masked by antipyretics, tocilizumab or steroids, so hypotension "
            "and hypoxia drive the grade: the more severe of hypotension (grade 4) and hypoxia "
            "(grade 0) → grade 4",
        ),
        (
            {},
            1,
            "ASTCT 2019: fever masked by antipyretics, tocilizumab or steroids, without "
            "hypotension or hypoxia → grade 1",
        ),
    ],
)
def test_a_grade_reached_with_masked_fever_says_the_fever_was_masked(
    fields: dict[str, object], expected: int, final: str
) -> None:
    """Lee et al., BBMT 2019;25:625, CRS grading footnote: once antipyretics or anticytokine
    therapy (tocilizumab, steroids) are given, fever is no longer required and hypotension
    and hypoxia drive the grade; the grade's reason must say the fever was masked."""
    result = crs(temperature_c=37.2, fever_masked_by_treatment=True, **fields)
    assert result["grade"] == expected
    assert result["reasons"][0] == (
        "ASTCT 2019: fever masked by treatment (temperature 37.2 °C): fever not required "
        "after antipyretics, tocilizumab or steroids; hypotension and hypoxia drive the grade"
    )
    assert result["reasons"][-1] == final


def test_masked_fever_without_a_temperature_reading_says_so_too() -> None:
    """Lee et al., BBMT 2019;25:625, CRS grading footnote: no temperature is needed once fever
    is masked by treatment."""
    result = crs(temperature_c=None, fever_masked_by_treatment=True, hypotension=True)
    assert result["reasons"][0].startswith("ASTCT 2019: fever masked by treatment: ")
    assert "fever masked by antipyretics, tocilizumab or steroids" in result["reasons"][-1]


@pytest.mark.parametrize("masked", [True, False])
def test_a_measured_fever_is_not_reported_as_masked(masked: bool) -> None:
    """Lee et al., BBMT 2019;25:625, CRS grading: a temperature ≥ 38.0 °C is fever, whatever
    treatment was given, so the reason cites the measured fever."""
    result = crs(temperature_c=38.6, fever_masked_by_treatment=masked, hypotension=True)
    assert result["grade"] == 2
    assert result["reasons"][0] == "ASTCT 2019: fever 38.6 °C (≥ 38.0 °C)"
    assert not any("masked" in reason for reason in result["reasons"])
