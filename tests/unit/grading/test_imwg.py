"""Multiple myeloma response, IMWG 2016 (Kumar et al., Lancet Oncol 2016;17:e328)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.grading import grade

BASELINE = {"serum_m_g_dl": 4.0, "urine_m_mg_24h": 1000}
# Neither serum (< 1 g/dL) nor urine (< 200 mg/24 h) M-protein is measurable.
UNMEASURABLE = {"serum_m_g_dl": 0.2, "urine_m_mg_24h": 50}


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
    """Kumar 2016: sCR is CR with a normal FLC ratio and no clonal plasma cells in the
    marrow by immunohistochemistry or flow cytometry."""
    [item] = imwg(
        cleared(
            immunofixation="negative",
            marrow_plasma_cells_percent=0,
            flc_ratio_normal=True,
            clonal_plasma_cells_absent=True,
        )
    )
    assert item["response"] == "sCR"
    assert (
        "IMWG: CR with a normal free-light-chain ratio and no clonal plasma cells in the marrow "
        "by immunohistochemistry or flow cytometry → sCR"
    ) in item["reasons"]


@pytest.mark.parametrize(("marrow", "flc_normal"), [(0, False), (3, True), (4.9, True)])
def test_negative_immunofixation_and_under_5_percent_marrow_is_cr(
    marrow: float, flc_normal: bool
) -> None:
    assert responses(
        cleared(
            immunofixation="negative",
            marrow_plasma_cells_percent=marrow,
            flc_ratio_normal=flc_normal,
            clonal_plasma_cells_absent=False,
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
    """Kumar 2016: with neither M-protein nor FLC measurable, a rise in marrow plasma cells
    of ≥ 25% and ≥ 10 points from the lowest value is PD."""
    baseline = {**UNMEASURABLE, "marrow_plasma_cells_percent": 40}
    first = visit(0.2, 50, marrow_plasma_cells_percent=20)
    assert responses(first, visit(0.2, 50, marrow_plasma_cells_percent=29), baseline=baseline) == [
        "PR",
        "SD",
    ]
    assert responses(first, visit(0.2, 50, marrow_plasma_cells_percent=30), baseline=baseline) == [
        "PR",
        "PD",
    ]


def test_new_lesions_are_pd() -> None:
    assert responses(visit(1.0, 50, new_lesions=True)) == ["PD"]


def test_absent_new_lesions_are_reported_rather_than_assumed() -> None:
    [item] = imwg(visit(3.5, 900))
    assert "IMWG: new lesions not reported; PD judged on M-protein" in item["reasons"]


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
            "baseline has no measurable disease",
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


# Light-chain disease: M-protein not measurable, involved FLC 50 mg/dL against 10 mg/dL
# uninvolved (difference 40 mg/dL) with an abnormal κ/λ ratio.
FLC_BASELINE = {
    **UNMEASURABLE,
    "flc_involved_mg_dl": 50,
    "flc_uninvolved_mg_dl": 10,
    "flc_ratio_normal": False,
}


def flc(involved: float, uninvolved: float = 10, **fields: object) -> dict[str, object]:
    """An assessment of FLC-measured disease, M-protein unchanged and the ratio abnormal."""
    data: dict[str, object] = {
        "flc_involved_mg_dl": involved,
        "flc_uninvolved_mg_dl": uninvolved,
        "flc_ratio_normal": False,
    }
    data.update(fields)
    return visit(0.2, 50, **data)


def flc_responses(*visits: dict[str, object]) -> list[object]:
    return responses(*visits, baseline=FLC_BASELINE)


@pytest.mark.parametrize(
    ("baseline", "basis"),
    [
        ({"serum_m_g_dl": 1, "urine_m_mg_24h": 0}, "m_protein"),
        ({"serum_m_g_dl": 0, "urine_m_mg_24h": 200}, "m_protein"),
        (
            {
                **UNMEASURABLE,
                "flc_involved_mg_dl": 10,
                "flc_uninvolved_mg_dl": 1,
                "flc_ratio_normal": False,
            },
            "flc",
        ),
        ({**UNMEASURABLE, "marrow_plasma_cells_percent": 30}, "marrow"),
    ],
    ids=["serum-1-g-dl", "urine-200-mg", "involved-flc-10-mg-dl", "marrow-30-percent"],
)
def test_measurable_disease_starts_at_the_imwg_thresholds(
    baseline: dict[str, object], basis: str
) -> None:
    """Kumar 2016: measurable disease is serum M-protein ≥ 1 g/dL, urine M-protein ≥ 200
    mg/24 h, or involved FLC ≥ 10 mg/dL with an abnormal ratio (failing these, marrow
    plasma cells ≥ 30% for the marrow-based PR)."""
    assessment = visit(
        0.2,
        50,
        marrow_plasma_cells_percent=20,
        flc_involved_mg_dl=5,
        flc_uninvolved_mg_dl=1,
        flc_ratio_normal=False,
    )
    result = grade("imwg", {"baseline": baseline, "assessments": [assessment]})
    assert result["measured_by"] == basis


@pytest.mark.parametrize(
    ("baseline", "found"),
    [
        (
            {"serum_m_g_dl": 0.99, "urine_m_mg_24h": 199},
            "serum M-protein 0.99 g/dL (< 1 g/dL), urine M-protein 199 mg/24 h (< 200 mg/24 h), "
            "free light chains not given (baseline.flc_involved_mg_dl)",
        ),
        (
            {**UNMEASURABLE, "flc_involved_mg_dl": 9.9},
            "involved FLC 9.9 mg/dL (< 10 mg/dL)",
        ),
        (
            {**UNMEASURABLE, "flc_involved_mg_dl": 30, "flc_ratio_normal": True},
            "involved FLC 30 mg/dL with a normal κ/λ ratio",
        ),
        (
            {**UNMEASURABLE, "marrow_plasma_cells_percent": 29},
            "marrow plasma cells 29% (< 30%)",
        ),
    ],
)
def test_nothing_measurable_at_baseline_is_refused_saying_why(
    baseline: dict[str, object], found: str
) -> None:
    """Kumar 2016: response criteria apply to measurable disease only; without it the
    input is refused (InvalidInput) with what was found and what would be measurable."""
    with pytest.raises(InvalidInput) as raised:
        grade("imwg", {"baseline": baseline, "assessments": [visit(0.2, 50)]})
    message = raised.value.message
    assert message.startswith(
        "baseline has no measurable disease, so IMWG 2016 response cannot be graded: "
    )
    assert found in message
    assert message.endswith(
        "Measurable disease is serum M-protein ≥ 1 g/dL, urine M-protein ≥ 200 mg/24 h, or "
        "involved FLC ≥ 10 mg/dL with an abnormal κ/λ ratio (failing these, marrow plasma "
        "cells ≥ 30%)"
    )


def test_the_measured_disease_is_reported() -> None:
    """Kumar 2016: response is judged on what was measurable at baseline."""
    assert (
        grade("imwg", {"baseline": BASELINE, "assessments": [visit(2, 100)]})["measured_by"]
        == "m_protein"
    )
    result = grade("imwg", {"baseline": FLC_BASELINE, "assessments": [flc(30)]})
    assert result["measured_by"] == "flc"
    reasons = result["reasons"]
    assert isinstance(reasons, list)
    assert reasons[0] == (
        "baseline: IMWG: serum M-protein 0.2 g/dL, urine M-protein 50 mg/24 h (M-protein not "
        "measurable); measurable disease by involved FLC 50 mg/dL (≥ 10 mg/dL) with an "
        "abnormal κ/λ ratio: response judged on the difference between involved and "
        "uninvolved FLC (40 mg/dL)"
    )


@pytest.mark.parametrize(
    ("involved", "expected"),
    [(50, "SD"), (31, "SD"), (30.1, "SD"), (30, "PR"), (20, "PR"), (14.1, "PR"), (14, "VGPR")],
)
def test_flc_pr_and_vgpr_are_50_and_90_percent_falls_in_the_flc_difference(
    involved: float, expected: str
) -> None:
    """Kumar 2016, without measurable M-protein: PR is a ≥ 50% and VGPR a ≥ 90% decrease
    in the difference between involved and uninvolved FLC (here 40 mg/dL at baseline, so
    20 and 4 mg/dL)."""
    assert flc_responses(flc(involved)) == [expected]


def test_flc_disease_has_no_minimal_response() -> None:
    """Kumar 2016: MR is defined on serum and urine M-protein only."""
    [item] = imwg(flc(35), baseline=FLC_BASELINE)
    assert item["response"] == "SD"
    assert item["dflc_mg_dl"] == 25
    assert item["reasons"][-2] == (
        "IMWG: FLC difference 25 mg/dL (down 37.5% from baseline): under the 50% fall of PR "
        "(MR is not defined on FLC) and no PD → SD"
    )


@pytest.mark.parametrize(
    ("lowest", "current", "expected"),
    [
        (20, 30, "SD"),  # +10 mg/dL (+50%): not more than 10 mg/dL
        (20, 30.5, "PD"),  # +10.5 mg/dL
        (4, 14, "PR"),  # +10 mg/dL (+250%)
        (4, 14.1, "PD"),
    ],
)
def test_flc_pd_is_a_rise_of_more_than_10_mg_dl_in_the_flc_difference(
    lowest: float, current: float, expected: str
) -> None:
    """Kumar 2016: without measurable M-protein, PD is a ≥ 25% increase in the difference
    between involved and uninvolved FLC from its lowest value, with an absolute increase
    of more than 10 mg/dL."""
    assert flc_responses(flc(lowest + 10), flc(current + 10))[1] == expected


def test_flc_pd_needs_25_percent_as_well_as_10_mg_dl() -> None:
    """Kumar 2016: from a 100 mg/dL difference, +11 mg/dL is only 11%; +25 is 25%."""
    baseline = {**FLC_BASELINE, "flc_involved_mg_dl": 110}
    assert responses(flc(121), baseline=baseline) == ["SD"]
    [item] = imwg(flc(135), baseline=baseline)
    assert item["response"] == "PD"
    assert item["reasons"][0] == (
        "IMWG: FLC difference (involved − uninvolved) 125 mg/dL is up 25%, +25 mg/dL from the "
        "lowest value 100 mg/dL (≥ 25% and > 10 mg/dL) → PD"
    )


def test_flc_criteria_are_not_used_when_m_protein_is_measurable() -> None:
    """Kumar 2016: the FLC criteria stand in only when M-protein is not measurable; a
    rising FLC in M-protein-measured disease is not PD."""
    rising = visit(2.0, 100, flc_involved_mg_dl=80, flc_uninvolved_mg_dl=1, flc_ratio_normal=False)
    assert responses(visit(2.0, 100), rising) == ["PR", "PR"]


def test_flc_disease_needs_the_flc_at_every_assessment() -> None:
    """Kumar 2016: FLC-measured disease is followed by FLC; every missing value is named."""
    with pytest.raises(InvalidInput) as raised:
        imwg(visit(0.2, 50), baseline=FLC_BASELINE)
    message = raised.value.message
    assert "assessments[0].flc_involved_mg_dl is required at every assessment when free " in message
    assert "assessments[0].flc_uninvolved_mg_dl is required" in message


def test_flc_disease_cr_needs_a_normal_ratio_and_scr_no_clonal_cells() -> None:
    """Kumar 2016: when FLC is the only measurable disease, CR also needs a normal FLC
    ratio; sCR adds no clonal plasma cells by immunohistochemistry or flow cytometry."""
    base = {"immunofixation": "negative", "marrow_plasma_cells_percent": 2}
    normal = {**base, "flc_ratio_normal": True}
    zero = {"serum_m_g_dl": 0, "urine_m_mg_24h": 0}
    assert flc_responses(flc(12, 8, **normal, **zero, clonal_plasma_cells_absent=False)) == ["CR"]
    assert flc_responses(flc(12, 8, **normal, **zero, clonal_plasma_cells_absent=True)) == ["sCR"]
    # An abnormal ratio is no CR, whatever immunofixation shows: judged on the FLC fall.
    assert flc_responses(flc(12, 8, **base, **zero)) == ["VGPR"]


def test_marrow_criteria_apply_only_when_neither_m_protein_nor_flc_is_measurable() -> None:
    """Kumar 2016: the marrow plasma-cell PD criterion (≥ 10 points) is for patients with
    neither measurable M-protein nor measurable FLC."""
    stable_m = [
        visit(2.0, 100, marrow_plasma_cells_percent=10),
        visit(2.0, 100, marrow_plasma_cells_percent=40),
    ]
    assert responses(*stable_m) == ["PR", "PR"]
    stable_flc = [flc(30, marrow_plasma_cells_percent=10), flc(30, marrow_plasma_cells_percent=40)]
    assert flc_responses(*stable_flc) == ["PR", "PR"]


def test_marrow_disease_pr_is_a_50_percent_fall_from_a_baseline_of_30_percent() -> None:
    """Kumar 2016: with neither M-protein nor FLC measurable, PR is a ≥ 50% fall in marrow
    plasma cells, provided they were ≥ 30% at baseline."""
    baseline = {**UNMEASURABLE, "marrow_plasma_cells_percent": 40}
    assert responses(visit(0.2, 50, marrow_plasma_cells_percent=20), baseline=baseline) == ["PR"]
    assert responses(visit(0.2, 50, marrow_plasma_cells_percent=21), baseline=baseline) == ["SD"]


@pytest.mark.parametrize(
    ("baseline_serum", "current", "expected"),
    [(5.0, 6.0, "PD"), (6.0, 7.0, "PD"), (5.0, 5.9, "SD"), (4.9, 5.9, "SD")],
)
def test_from_a_serum_m_protein_of_5_g_dl_a_rise_of_1_g_dl_is_pd(
    baseline_serum: float, current: float, expected: str
) -> None:
    """Kumar 2016: serum M-protein increase ≥ 1 g/dL is PD when the lowest M component was
    ≥ 5 g/dL (a 20% rise, under the usual 25%)."""
    baseline = {"serum_m_g_dl": baseline_serum, "urine_m_mg_24h": 100}
    assert responses(visit(current, 100), baseline=baseline) == [expected]


def test_scr_needs_the_explicit_absence_of_clonal_plasma_cells() -> None:
    """Kumar 2016: sCR needs no clonal plasma cells by immunohistochemistry or flow
    cytometry; 0% plasma cells by morphology does not show it."""
    cleared_cr = {"immunofixation": "negative", "flc_ratio_normal": True}
    assert responses(
        cleared(marrow_plasma_cells_percent=0, clonal_plasma_cells_absent=False, **cleared_cr)
    ) == ["CR"]
    assert responses(
        cleared(marrow_plasma_cells_percent=3, clonal_plasma_cells_absent=True, **cleared_cr)
    ) == ["sCR"]
    with pytest.raises(
        InvalidInput, match=r"assessments\[0\].clonal_plasma_cells_absent is required when the"
    ):
        imwg(cleared(marrow_plasma_cells_percent=0, **cleared_cr))


def test_a_cr_missing_both_scr_findings_names_both() -> None:
    """Kumar 2016: sCR needs a normal FLC ratio and no clonal plasma cells; both are asked
    for at once."""
    with pytest.raises(InvalidInput) as raised:
        imwg(cleared(immunofixation="negative", marrow_plasma_cells_percent=1))
    assert "assessments[0].flc_ratio_normal is required" in raised.value.message
    assert "assessments[0].clonal_plasma_cells_absent is required" in raised.value.message
