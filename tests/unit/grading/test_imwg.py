"""Multiple myeloma response, IMWG 2016: worked examples from clinical-scales.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.grading import grade

BASELINE = {"serum_m_g_dl": 4.0, "urine_m_mg_24h": 1000}


def visit(serum: float, urine: float, **fields: object) -> dict[str, object]:
    data: dict[str, object] = {"serum_m_g_dl": serum, "urine_m_mg_24h": urine}
    data.update(fields)
    return data


def cleared(**fields: object) -> dict[str, object]:
    """No M-protein on electrophoresis; immunofixation and marrow set by `fields`."""
    return visit(0, 0, **fields)


def imwg(*visits: dict[str, object], baseline: Mapping[str, object] = BASELINE) -> list[Any]:
    result = grade("imwg", {"baseline": baseline, "assessments": list(visits)})
    assessments = result["assessments"]
    assert isinstance(assessments, list)
    return assessments


def responses(
    *visits: dict[str, object], baseline: Mapping[str, object] = BASELINE
) -> list[object]:
    return [item["response"] for item in imwg(*visits, baseline=baseline)]


def test_cr_with_normal_flc_ratio_and_no_clonal_cells_is_scr() -> None:
    [item] = imwg(
        cleared(immunofixation="negative", marrow_plasma_cells_percent=0, flc_ratio_normal=True)
    )
    assert item["response"] == "sCR"
    assert (
        "IMWG: CR with a normal free-light-chain ratio and no clonal marrow plasma cells → sCR"
        in item["reasons"]
    )


@pytest.mark.parametrize(("marrow", "flc_normal"), [(0, False), (3, True), (4.9, True)])
def test_negative_immunofixation_and_under_5_percent_marrow_is_cr(
    marrow: float, flc_normal: bool
) -> None:
    assert responses(
        cleared(
            immunofixation="negative",
            marrow_plasma_cells_percent=marrow,
            flc_ratio_normal=flc_normal,
        )
    ) == ["CR"]


def test_5_percent_marrow_plasma_cells_is_not_cr_but_vgpr() -> None:
    [item] = imwg(cleared(immunofixation="negative", marrow_plasma_cells_percent=5))
    assert item["response"] == "VGPR"
    assert any("(CR needs < 5%) → not CR" in reason for reason in item["reasons"])


def test_m_protein_on_immunofixation_only_is_vgpr() -> None:
    [item] = imwg(cleared(immunofixation="positive"))
    assert item["response"] == "VGPR"
    assert (
        "IMWG: M-protein found by immunofixation but not by electrophoresis → VGPR"
        in item["reasons"]
    )


def test_serum_down_90_percent_with_urine_under_100_mg_is_vgpr() -> None:
    assert responses(visit(0.4, 99)) == ["VGPR"]
    assert responses(visit(0.4, 100)) == ["PR"]
    assert responses(visit(0.41, 50)) == ["PR"]


def test_serum_down_50_percent_with_urine_down_90_percent_or_under_200_mg_is_pr() -> None:
    assert responses(visit(2.0, 100)) == ["PR"]  # urine down 90%
    assert responses(visit(2.0, 199), baseline={"serum_m_g_dl": 4, "urine_m_mg_24h": 300}) == [
        "PR"
    ]  # urine down only 34%, but under 200 mg
    assert responses(visit(2.1, 100)) == ["MR"]  # serum down 47.5%


def test_serum_down_25_percent_with_urine_down_50_percent_is_mr() -> None:
    [item] = imwg(visit(3.0, 500))
    assert item["response"] == "MR"
    assert item["reasons"][-2] == (
        "IMWG: serum M 3 g/dL (down 25% from baseline), urine M 500 mg/24 h (down 50% from "
        "baseline): serum down ≥ 25% and urine down ≥ 50% → MR"
    )


def test_serum_down_50_percent_missing_pr_on_urine_is_still_mr() -> None:
    assert responses(visit(1.0, 400)) == ["MR"]


def test_less_than_mr_without_pd_is_sd() -> None:
    assert responses(visit(3.1, 500)) == ["SD"]
    assert responses(visit(3.0, 501)) == ["SD"]
    assert responses(visit(4.4, 1100)) == ["SD"]


def test_urine_only_disease_reaches_vgpr_and_pr_on_urine() -> None:
    baseline = {"serum_m_g_dl": 0, "urine_m_mg_24h": 1200}
    assert responses(visit(0, 90), baseline=baseline) == ["VGPR"]
    assert responses(visit(0, 150), baseline=baseline) == ["PR"]
    assert responses(visit(0.3, 150), baseline=baseline) == ["SD"]


def test_serum_pd_is_measured_from_the_lowest_value_with_a_0_5_g_dl_floor() -> None:
    # Lowest serum is 1.0 g/dL: 1.4 is +40% but only +0.4 g/dL; 1.5 is +50% and +0.5.
    assert responses(visit(1.0, 50), visit(1.4, 50)) == ["PR", "PR"]
    [_, item] = imwg(visit(1.0, 50), visit(1.5, 50))
    assert item["response"] == "PD"
    assert item["reasons"][0] == (
        "IMWG: serum M 1.5 g/dL is up 50%, +0.5 g/dL from the lowest value 1 g/dL "
        "(≥ 25% and ≥ 0.5 g/dL) → PD"
    )
    assert item["lowest_serum_m_g_dl"] == 1


def test_an_absolute_rise_under_25_percent_is_not_pd() -> None:
    # From a 4.0 g/dL baseline, 4.9 is +0.9 g/dL but only +22.5%.
    assert responses(visit(4.9, 1000)) == ["SD"]
    assert responses(visit(5.0, 1000)) == ["PD"]


def test_urine_pd_needs_a_200_mg_rise_from_the_lowest_value() -> None:
    assert responses(visit(1.0, 40), visit(1.0, 239)) == ["PR", "MR"]
    assert responses(visit(1.0, 40), visit(1.0, 240)) == ["PR", "PD"]


def test_marrow_pd_needs_a_10_point_rise_from_the_lowest_marrow_value() -> None:
    first = visit(1.0, 50, marrow_plasma_cells_percent=20)
    assert responses(first, visit(1.0, 50, marrow_plasma_cells_percent=29)) == ["PR", "PR"]
    assert responses(first, visit(1.0, 50, marrow_plasma_cells_percent=30)) == ["PR", "PD"]


def test_new_lesions_are_pd() -> None:
    assert responses(visit(1.0, 50, new_lesions=True)) == ["PD"]


def test_absent_new_lesions_are_reported_rather_than_assumed() -> None:
    [item] = imwg(visit(3.5, 900))
    assert "IMWG: new lesions not reported; PD judged on M-protein and marrow" in item["reasons"]


def test_a_response_is_confirmed_by_a_next_assessment_at_least_as_good() -> None:
    items = imwg(visit(2.0, 50), visit(1.9, 50), visit(0.3, 50), visit(0.7, 50))
    assert [(item["response"], item["confirmed"]) for item in items] == [
        ("PR", True),
        ("PR", True),
        ("VGPR", False),
        ("PR", False),
    ]
    assert "IMWG: VGPR not confirmed by assessments[3] (PR)" in items[2]["reasons"]
    assert items[3]["reasons"][-1] == "IMWG: PR not yet confirmed; it needs the next assessment"


def test_pd_is_confirmed_only_by_a_second_pd() -> None:
    items = imwg(visit(1.0, 50), visit(1.6, 50), visit(2.0, 50))
    assert [(item["response"], item["confirmed"]) for item in items] == [
        ("PR", False),
        ("PD", True),
        ("PD", False),
    ]


def test_immunofixation_is_required_when_electrophoresis_is_negative() -> None:
    with pytest.raises(
        InvalidInput, match=r"assessments\[0\].immunofixation is required when serum and urine"
    ):
        imwg(cleared())


def test_marrow_is_required_when_immunofixation_is_negative() -> None:
    with pytest.raises(
        InvalidInput,
        match=r"assessments\[0\].marrow_plasma_cells_percent is required when immunofixation",
    ):
        imwg(cleared(immunofixation="negative"))


def test_flc_ratio_is_required_when_the_assessment_meets_cr() -> None:
    with pytest.raises(InvalidInput, match=r"assessments\[0\].flc_ratio_normal is required when"):
        imwg(cleared(immunofixation="negative", marrow_plasma_cells_percent=0))


def test_negative_immunofixation_with_measurable_m_protein_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"assessments\[0\].immunofixation cannot be negative"):
        imwg(visit(0.2, 0, immunofixation="negative"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"assessments": [visit(1, 1)]}, "baseline is required"),
        ({"baseline": {"serum_m_g_dl": 4}, "assessments": []}, "baseline.urine_m_mg_24h is req"),
        (
            {"baseline": {"serum_m_g_dl": 0, "urine_m_mg_24h": 0}, "assessments": []},
            "baseline needs measurable M-protein",
        ),
        ({"baseline": BASELINE, "assessments": []}, "assessments must list at least 1, not 0"),
        ({"baseline": BASELINE, "assessments": [{"serum_m_g_dl": 1}]}, r"\[0\].urine_m_mg_24h"),
        (
            {"baseline": BASELINE, "assessments": [visit(0, 0, immunofixation="weak")]},
            r"assessments\[0\].immunofixation must be one of positive, negative",
        ),
        (
            {"baseline": BASELINE, "assessments": [visit(1, 1, marrow_plasma_cells_percent=101)]},
            r"assessments\[0\].marrow_plasma_cells_percent must be at most 100",
        ),
    ],
)
def test_missing_or_ill_typed_fields_are_named(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        grade("imwg", data)
