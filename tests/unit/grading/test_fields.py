"""Each grading kind declares its input fields, and every input problem is named at once."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.grading import (
    KINDS,
    Field,
    InvalidFields,
    Problem,
    fields,
    grade,
    json_schema,
    title,
)

from .test_grade import EXAMPLES

TYPES = {"number", "integer", "boolean", "choice", "texts", "object", "objects"}


def walk(declared: tuple[Field, ...], prefix: str = "") -> list[tuple[str, Field]]:
    """Every declared field with its dotted path (list items as `name[]`)."""
    found: list[tuple[str, Field]] = []
    for field in declared:
        path = f"{prefix}{field.name}"
        found.append((path, field))
        if field.type == "object":
            found += walk(field.fields, f"{path}.")
        elif field.type == "objects":
            found += walk(field.fields, f"{path}[].")
    return found


def problems_of(kind: str, data: Mapping[str, object]) -> tuple[Problem, ...]:
    with pytest.raises(InvalidFields) as raised:
        grade(kind, data)
    return raised.value.problems


def problem_fields(kind: str, data: Mapping[str, object]) -> set[str]:
    return {problem.field for problem in problems_of(kind, data)}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_declares_typed_described_fields(kind: str) -> None:
    declared = walk(fields(kind))
    assert declared
    for path, field in declared:
        assert field.type in TYPES, path
        assert field.description and "\n" not in field.description, path
        if field.type in ("number", "integer"):
            assert field.unit, f"{path} is a number without a unit"
        if field.type == "choice":
            assert field.choices, path
        if not field.required:
            # An optional field says when it is needed, or that it never is.
            assert field.required_when or field.name in {
                "marrow_plasma_cells_percent",
                "new_lesions",
            }, path


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_names_its_source_publication(kind: str) -> None:
    assert any(year in title(kind) for year in ("2009", "2016", "2019"))


@pytest.mark.parametrize("kind", KINDS)
def test_every_declared_field_is_read_and_nothing_else(kind: str) -> None:
    # A declared name is never refused as unknown; an undeclared one always is.
    for field in fields(kind):
        try:
            grade(kind, {field.name: None})
        except InvalidInput as refused:
            assert f"{field.name} is not a field" not in refused.message
    assert "typo_field" in problem_fields(kind, {**EXAMPLES[kind], "typo_field": 1})


def test_the_declarations_match_the_criteria_they_drive() -> None:
    crs = {field.name: field for field in fields("crs")}
    assert (crs["temperature_c"].unit, crs["temperature_c"].minimum) == ("°C", 25)
    assert not crs["temperature_c"].required
    assert crs["death_from_crs"].required
    oxygen = {field.name: field for field in crs["oxygen"].fields}
    assert "nasal_cannula" in oxygen["device"].choices
    assert oxygen["flow_l_min"].required_when == "when the device is nasal_cannula"
    agvhd = {field.name: field for field in fields("agvhd")}
    assert agvhd["stool_episodes_per_day"].unit == "episodes/day"
    assert agvhd["weight_kg"].unit == "kg"
    icans = {field.name: field for field in fields("icans")}
    assert (icans["ice_score"].type, icans["ice_score"].maximum) == ("integer", 10)


def test_a_field_summary_is_one_help_line() -> None:
    by_name = {field.name: field for field in fields("crs")}
    assert by_name["temperature_c"].summary() == (
        "temperature_c (number; °C; 25–45; optional; needed unless fever_masked_by_treatment "
        "is true): Highest body temperature in the period graded; fever is ≥ 38.0 °C."
    )
    assert by_name["death_from_crs"].summary() == (
        "death_from_crs (true or false; required): Death attributable to CRS (grade 5)."
    )
    icans = {field.name: field for field in fields("icans")}
    assert (
        icans["seizure"]
        .summary()
        .startswith(
            "seizure (one of: none, rapidly_resolving, nonconvulsive_resolved_with_intervention, "
            "prolonged, repetitive; optional; needed unless another finding already gives grade 4)"
        )
    )


@pytest.mark.parametrize("kind", KINDS)
def test_the_declaration_is_json_ready(kind: str) -> None:
    described = [field.as_json() for field in fields(kind)]
    assert json.loads(json.dumps(described, allow_nan=False)) == described
    schema = json_schema(kind)
    assert json.loads(json.dumps(schema, allow_nan=False)) == schema


def valid(schema: Mapping[str, object], value: object) -> bool:
    """Whether `value` meets the JSON Schema keywords that json_schema() emits."""
    kind = schema.get("type")
    checks = {
        "object": lambda: isinstance(value, dict),
        "array": lambda: isinstance(value, list),
        "string": lambda: isinstance(value, str),
        "boolean": lambda: isinstance(value, bool),
        "number": lambda: isinstance(value, int | float) and not isinstance(value, bool),
        "integer": lambda: (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and float(value).is_integer()
        ),
    }
    if kind is not None and not checks[str(kind)]():
        return False
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, above, high = (schema.get(key) for key in ("minimum", "exclusiveMinimum", "maximum"))
        if isinstance(low, int | float) and value < low:
            return False
        if isinstance(above, int | float) and value <= above:
            return False
        if isinstance(high, int | float) and value > high:
            return False
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        assert isinstance(properties, dict)
        required = schema.get("required", [])
        assert isinstance(required, list)
        if any(name not in value for name in required):
            return False
        if schema.get("additionalProperties") is False and set(value) - set(properties):
            return False
        return all(valid(properties[name], item) for name, item in value.items())
    if isinstance(value, list):
        items = schema.get("items", {})
        assert isinstance(items, dict)
        min_items = schema.get("minItems", 0)
        assert isinstance(min_items, int)
        return len(value) >= min_items and all(valid(items, item) for item in value)
    return True


@pytest.mark.parametrize("kind", KINDS)
def test_the_json_schema_accepts_gradable_input(kind: str) -> None:
    schema = json_schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == title(kind)
    assert valid(schema, EXAMPLES[kind])


def test_the_json_schema_refuses_what_grading_refuses() -> None:
    schema = json_schema("crs")
    for bad in (
        {**EXAMPLES["crs"], "temperature_c": 101.3},
        {**EXAMPLES["crs"], "temprature_c": 39},
        {**EXAMPLES["crs"], "oxygen": {"device": "tent"}},
        {key: value for key, value in EXAMPLES["crs"].items() if key != "death_from_crs"},
    ):
        assert not valid(schema, bad)
        with pytest.raises(InvalidInput):
            grade("crs", bad)
    recist = json_schema("recist")
    assert not valid(recist, {"assessments": []})
    properties = recist["properties"]
    assert isinstance(properties, dict)
    assert properties["assessments"]["minItems"] == 1


def test_an_unknown_kind_has_no_fields() -> None:
    with pytest.raises(InvalidInput, match="unknown grading kind 'ctcae'"):
        fields("ctcae")
    with pytest.raises(InvalidInput, match="unknown grading kind 'ctcae'"):
        json_schema("ctcae")


def test_empty_crs_input_names_every_field_the_grade_needs_at_once() -> None:
    found = problem_fields("crs", {})
    assert found == {"death_from_crs", "temperature_c", "hypotension", "oxygen"}


def test_empty_agvhd_input_names_every_organ_field_at_once() -> None:
    found = problem_fields("agvhd", {})
    assert found == {
        "skin_bsa_percent",
        "bilirubin_mg_dl",
        "upper_gi_persistent",
        "severe_pain_or_ileus",
        "bloody_stool",
        "weight_kg",
        "stool_ml_per_day",
    }


def test_empty_icans_input_names_every_domain_at_once() -> None:
    found = problem_fields("icans", {})
    assert found == {
        "ice_score",
        "consciousness",
        "seizure",
        "motor_weakness",
        "cerebral_edema",
        "raised_icp_signs",
    }


def test_missing_and_invalid_fields_are_named_together() -> None:
    data = {**EXAMPLES["agvhd"], "skin_bsa_percent": 120, "bilirubin_mg_dl": "high"}
    del data["weight_kg"]
    problems = problems_of("agvhd", data)
    assert [problem.field for problem in problems] == [
        "skin_bsa_percent",
        "bilirubin_mg_dl",
        "weight_kg",
    ]
    with pytest.raises(InvalidInput) as raised:
        grade("agvhd", data)
    assert raised.value.message.startswith("3 problems with the input: skin_bsa_percent must")


def test_a_single_problem_is_the_whole_message() -> None:
    with pytest.raises(InvalidFields) as raised:
        grade("crs", {**EXAMPLES["crs"], "oxygen": {"device": "nasal_cannula"}})
    assert raised.value.problems == (
        Problem(
            "oxygen.flow_l_min", "oxygen.flow_l_min is required when the device is nasal_cannula"
        ),
    )
    assert raised.value.message == "oxygen.flow_l_min is required when the device is nasal_cannula"


def test_problems_in_several_assessments_are_named_with_their_index() -> None:
    found = problem_fields(
        "recist",
        {
            "assessments": [
                {"sum_mm": 50},
                {"sum_mm": 40, "all_targets_gone": False},
                {"sum_mm": "35", "size": 1},
            ]
        },
    )
    assert found == {
        "assessments[1].new_lesions",
        "assessments[2].sum_mm",
        "assessments[2].size",
    }


def test_imwg_names_baseline_and_assessment_problems_together() -> None:
    found = problem_fields(
        "imwg",
        {
            "baseline": {"serum_m_g_dl": 3.0},
            "assessments": [{"serum_m_g_dl": -1, "urine_m_mg_24h": 10}],
        },
    )
    assert found == {"baseline.urine_m_mg_24h", "assessments[0].serum_m_g_dl"}


def test_every_unknown_field_is_named() -> None:
    found = problem_fields("crs", {**EXAMPLES["crs"], "temprature_c": 39, "oxigen": {}})
    assert found == {"temprature_c", "oxigen"}


def test_every_unknown_vasopressor_is_named() -> None:
    messages = [
        problem.message
        for problem in problems_of(
            "crs", {**EXAMPLES["crs"], "vasopressors": ["vasopresin", "norepinephrine", "levo"]}
        )
    ]
    assert len(messages) == 2
    assert "vasopressors[0] 'vasopresin'" in messages[0]
    assert "vasopressors[2] 'levo'" in messages[1]
