"""The grading entry point: kinds, dispatch, refusals and JSON-ready output."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from veinline.domain import grading
from veinline.domain.errors import InvalidInput
from veinline.domain.grading import KINDS, grade

EXAMPLES: dict[str, dict[str, object]] = {
    "crs": {
        "temperature_c": 38.4,
        "hypotension": True,
        "vasopressors": ["norepinephrine"],
        "oxygen": {"device": "nasal_cannula", "flow_l_min": 3},
        "death_from_crs": False,
    },
    "icans": {
        "ice_score": 5,
        "consciousness": "awakens_to_voice",
        "seizure": "none",
        "motor_weakness": "none",
        "cerebral_edema": "none",
        "raised_icp_signs": False,
    },
    "agvhd": {
        "skin_bsa_percent": 30,
        "bilirubin_mg_dl": 3.5,
        "upper_gi_persistent": True,
        "stool_ml_per_day": 800,
        "weight_kg": 72.5,
        "severe_pain_or_ileus": False,
        "bloody_stool": False,
    },
    "recist": {
        "assessments": [
            {"sum_mm": 93.5},
            {"sum_mm": 61.2, "new_lesions": False, "all_targets_gone": False},
        ]
    },
    "imwg": {
        "baseline": {"serum_m_g_dl": 3.2, "urine_m_mg_24h": 450},
        "assessments": [
            {"serum_m_g_dl": 1.1, "urine_m_mg_24h": 120},
            {"serum_m_g_dl": 0.3, "urine_m_mg_24h": 80},
        ],
    },
}


def test_kinds_name_the_five_scales() -> None:
    assert KINDS == ("crs", "icans", "agvhd", "recist", "imwg")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_returns_json_ready_output_with_reasons(kind: str) -> None:
    result = grade(kind, EXAMPLES[kind])
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    reasons = result["reasons"]
    assert isinstance(reasons, list)
    assert reasons
    assert all(isinstance(reason, str) and reason for reason in reasons)


def test_examples_grade_as_worked_out_by_hand() -> None:
    assert grade("crs", EXAMPLES["crs"])["grade"] == 3
    assert grade("icans", EXAMPLES["icans"])["grade"] == 2
    agvhd = grade("agvhd", EXAMPLES["agvhd"])
    assert agvhd["stages"] == {"skin": 2, "liver": 2, "upper_gi": 1, "lower_gi": 1}
    assert agvhd["grade_label"] == "III"
    recist = grade("recist", EXAMPLES["recist"])["assessments"]
    assert isinstance(recist, list)
    assert recist[1]["response"] == "PR"  # 61.2 / 93.5 is a 34.5% fall
    assert recist[1]["change_from_baseline_percent"] == -34.5
    imwg = grade("imwg", EXAMPLES["imwg"])["assessments"]
    assert isinstance(imwg, list)
    assert [(item["response"], item["confirmed"]) for item in imwg] == [
        ("PR", True),
        ("VGPR", False),
    ]


def test_an_unknown_kind_is_refused_with_the_known_kinds() -> None:
    with pytest.raises(InvalidInput) as raised:
        grade("ctcae", {})
    assert raised.value.message == (
        "unknown grading kind 'ctcae'; expected one of: crs, icans, agvhd, recist, imwg"
    )


def test_input_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidInput, match="the input must be an object with named fields"):
        grade("crs", ["death_from_crs"])  # type: ignore[arg-type]


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(InvalidInput, match="temperature_c must be a finite number, not nan"):
        grade("crs", {**EXAMPLES["crs"], "temperature_c": float("nan")})


def test_grading_imports_only_the_standard_library_and_domain_errors() -> None:
    package = Path(grading.__file__).parent
    imported: set[str] = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    foreign = {
        name
        for name in imported
        if name.split(".")[0] not in sys.stdlib_module_names
        and not name.startswith(("veinline.domain.grading", "veinline.domain.errors"))
    }
    assert "decimal" in imported
    assert foreign == set()
