"""RECIST 1.1 response (Eisenhauer et al., Eur J Cancer 2009;45:228): worked examples."""

from __future__ import annotations

from typing import Any

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.grading import grade


def visit(sum_mm: float, **fields: object) -> dict[str, object]:
    """A follow-up assessment without new lesions and with targets still present."""
    data: dict[str, object] = {
        "sum_mm": sum_mm,
        "new_lesions": False,
        "all_targets_gone": False,
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def recist(baseline: float, *visits: dict[str, object]) -> list[dict[str, Any]]:
    result = grade("recist", {"assessments": [{"sum_mm": baseline}, *visits]})
    assessments = result["assessments"]
    assert isinstance(assessments, list)
    return assessments


def responses(baseline: float, *visits: dict[str, object]) -> list[object]:
    return [item["response"] for item in recist(baseline, *visits)]


def test_baseline_alone_is_reported_as_baseline() -> None:
    result = grade("recist", {"assessments": [{"sum_mm": 82}]})
    assert result == {
        "assessments": [
            {
                "index": 0,
                "response": "baseline",
                "sum_mm": 82,
                "nadir_mm": None,
                "change_from_baseline_percent": None,
                "change_from_nadir_percent": None,
                "reasons": ["RECIST 1.1: baseline sum of diameters 82 mm"],
            }
        ],
        "reasons": ["assessments[0]: RECIST 1.1: baseline sum of diameters 82 mm"],
    }


def test_a_30_percent_fall_from_baseline_is_pr_and_29_percent_is_sd() -> None:
    assert responses(100, visit(70)) == ["baseline", "PR"]
    assert responses(100, visit(71)) == ["baseline", "SD"]


def test_pr_is_exact_for_decimal_sums() -> None:
    # 0.7 × 33.3 is 23.31 exactly; binary floats would make it 23.309999….
    assert responses(33.3, visit(23.31)) == ["baseline", "PR"]


def test_all_targets_gone_with_nodes_below_10_mm_is_cr() -> None:
    """Eisenhauer 2009, Table 1: CR is every target and non-target lesion gone, nodes
    < 10 mm short axis, and no new lesion."""
    [_, second] = recist(
        60, visit(8, all_targets_gone=True, nodes_all_below_10mm=True, non_target="absent")
    )
    assert second["response"] == "CR"
    assert second["reasons"] == [
        "RECIST 1.1: all target lesions gone and all nodes < 10 mm short axis → CR"
    ]


def test_a_node_of_10_mm_or_more_prevents_cr() -> None:
    [_, second] = recist(60, visit(12, all_targets_gone=True, nodes_all_below_10mm=False))
    assert second["response"] == "PR"
    assert "RECIST 1.1: target lesions gone but a node is ≥ 10 mm → not CR" in second["reasons"]


def test_progression_is_measured_from_the_nadir_not_the_baseline() -> None:
    # 72 mm is 28% below baseline, but 20% and 12 mm above the 60 mm nadir.
    [_, first, second] = recist(100, visit(60), visit(72))
    assert (first["response"], second["response"]) == ("PR", "PD")
    assert second["nadir_mm"] == 60
    assert second["change_from_baseline_percent"] == -28.0
    assert second["change_from_nadir_percent"] == 20.0
    assert second["reasons"] == [
        "RECIST 1.1: sum 72 mm is up 20%, +12 mm from the nadir 60 mm (≥ 20% and ≥ 5 mm) → PD"
    ]


def test_a_rise_just_under_20_percent_from_the_nadir_is_not_pd() -> None:
    assert responses(50, visit(59)) == ["baseline", "SD"]
    assert responses(50, visit(60)) == ["baseline", "PD"]


def test_the_baseline_is_the_nadir_until_a_smaller_sum() -> None:
    [_, first, second, third] = recist(50, visit(55), visit(40), visit(45))
    assert [first["nadir_mm"], second["nadir_mm"], third["nadir_mm"]] == [50, 50, 40]
    assert third["change_from_nadir_percent"] == 12.5


def test_a_rise_of_20_percent_under_5_mm_is_not_pd() -> None:
    # Nadir 10 mm: 14 mm is +40% but only +4 mm; 15 mm is +50% and +5 mm.
    [_, _, under] = recist(20, visit(10), visit(14))
    assert under["response"] == "PR"
    assert (
        "RECIST 1.1: sum 14 mm is up 40%, +4 mm from the nadir 10 mm, under the 5 mm needed for PD"
        in under["reasons"]
    )
    assert responses(20, visit(10), visit(15)) == ["baseline", "PR", "PD"]


def test_after_a_zero_nadir_only_the_5_mm_floor_decides_pd() -> None:
    """Eisenhauer 2009, section 4.3.1: PD also needs an absolute rise of ≥ 5 mm. Here the
    zero nadir is a PR (non-target lesions remain), so a target lesion coming back is not
    PD by itself (it would be after a CR)."""
    gone = visit(0, all_targets_gone=True, nodes_all_below_10mm=True, non_target="present")
    [_, first, small] = recist(40, gone, visit(4))
    assert (first["response"], small["response"]) == ("PR", "PR")
    assert small["change_from_nadir_percent"] is None
    assert responses(40, gone, visit(5)) == ["baseline", "PR", "PD"]


def test_any_new_lesion_is_pd_even_while_targets_shrink() -> None:
    [_, second] = recist(100, visit(40, new_lesions=True))
    assert second["response"] == "PD"
    assert second["reasons"] == ["RECIST 1.1: new lesion → PD"]


def test_targets_status_is_not_needed_when_the_sum_already_shows_pd() -> None:
    assert responses(50, {"sum_mm": 70}) == ["baseline", "PD"]


def test_top_level_reasons_name_each_assessment() -> None:
    result = grade("recist", {"assessments": [{"sum_mm": 100}, visit(90)]})
    assert result["reasons"] == [
        "assessments[0]: RECIST 1.1: baseline sum of diameters 100 mm",
        "assessments[1]: RECIST 1.1: non-target lesions not reported; response judged on "
        "target and new lesions",
        "assessments[1]: RECIST 1.1: sum 90 mm is down 10% from baseline 100 mm, "
        "neither PR (≥ 30% down) nor PD → SD",
    ]


@pytest.mark.parametrize(
    ("assessments", "message"),
    [
        ([], "assessments must list at least 1, not 0"),
        ([{"sum_mm": 0}], r"assessments\[0\].sum_mm must be greater than 0"),
        ([{}], r"assessments\[0\].sum_mm is required"),
        ([{"sum_mm": 50}, {"sum_mm": 40}], r"assessments\[1\].new_lesions is required"),
        (
            [{"sum_mm": 50}, {"sum_mm": 40, "new_lesions": False}],
            r"assessments\[1\].all_targets_gone is required",
        ),
        (
            [{"sum_mm": 50}, {"sum_mm": 0, "new_lesions": False, "all_targets_gone": True}],
            r"assessments\[1\].nodes_all_below_10mm is required when all_targets_gone is true",
        ),
        ([{"sum_mm": 50}, {"new_lesions": True}], r"assessments\[1\].sum_mm is required"),
        ([{"sum_mm": 50}, {"sum_mm": -1}], r"assessments\[1\].sum_mm must be at least 0"),
        ([{"sum_mm": 50, "size": 3}], r"assessments\[0\].size is not a field this scale reads"),
    ],
)
def test_missing_or_ill_typed_fields_are_named(
    assessments: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        grade("recist", {"assessments": assessments})


def test_assessments_must_be_a_list() -> None:
    with pytest.raises(InvalidInput, match="assessments must be a list, not an object"):
        grade("recist", {"assessments": {"sum_mm": 50}})


def cr(sum_mm: float = 0) -> dict[str, object]:
    """A follow-up meeting CR: every lesion gone, nodes < 10 mm."""
    return visit(sum_mm, all_targets_gone=True, nodes_all_below_10mm=True, non_target="absent")


def after_cr(*later: dict[str, object]) -> list[dict[str, Any]]:
    """Baseline 50 mm, a CR at assessments[1] with an 8 mm node, then `later`."""
    return recist(50, cr(8), *later)


def test_a_target_lesion_reappearing_after_cr_is_pd_even_under_the_5_mm_floor() -> None:
    """RECIST 1.1 (Eisenhauer 2009; RECIST Working Group clarification "Does a new lesion
    always result in PD?"): once CR is assigned, the reappearance of any lesion is PD,
    however small the sum's rise."""
    [_, first, second] = after_cr(visit(12, nodes_all_below_10mm=True, non_target="absent"))
    assert (first["response"], second["response"]) == ("CR", "PD")
    assert second["reasons"] == [
        "RECIST 1.1: after the complete response at assessments[1], a target lesion has "
        "reappeared → PD"
    ]


def test_a_node_back_to_10_mm_after_cr_is_pd() -> None:
    """RECIST 1.1 (RECIST Working Group clarification "Abnormal lymph node"): a node has
    reappeared once its short axis is ≥ 10 mm again; after CR that is PD."""
    [_, _, second] = after_cr(cr(10) | {"nodes_all_below_10mm": False})
    assert second["response"] == "PD"
    assert second["reasons"] == [
        "RECIST 1.1: after the complete response at assessments[1], a lymph node is back to "
        "≥ 10 mm short axis → PD"
    ]


def test_a_node_still_under_10_mm_after_cr_keeps_the_cr() -> None:
    """RECIST 1.1: nodes < 10 mm short axis are non-pathological, so a node growing from
    8 to 9 mm is no reappearance."""
    assert [item["response"] for item in after_cr(cr(9), cr(9))] == ["baseline", "CR", "CR", "CR"]


@pytest.mark.parametrize("non_target", ["present", "unequivocal_progression"])
def test_a_non_target_lesion_reappearing_after_cr_is_pd(non_target: str) -> None:
    """RECIST 1.1 (Eisenhauer 2009, Table 1 and the RECIST Working Group clarification):
    after CR, a non-target lesion seen again is PD."""
    [_, _, second] = after_cr(cr(8) | {"non_target": non_target})
    assert second["response"] == "PD"
    assert (
        "RECIST 1.1: after the complete response at assessments[1], a non-target lesion has "
        "reappeared → PD"
    ) in second["reasons"]


def test_a_new_lesion_after_cr_is_pd() -> None:
    """Eisenhauer 2009, Table 1: a new lesion is PD whatever the other lesions do."""
    [_, _, second] = after_cr(cr(8) | {"new_lesions": True})
    assert second["reasons"] == ["RECIST 1.1: new lesion → PD"]


def test_the_reappearance_rule_follows_the_response_just_before() -> None:
    """RECIST 1.1: the rule applies when the previous assessment was CR, however many CRs
    came before; the reason names that assessment."""
    items = recist(50, cr(), cr(), visit(3, nodes_all_below_10mm=True, non_target="absent"))
    assert [item["response"] for item in items] == ["baseline", "CR", "CR", "PD"]
    assert items[3]["reasons"] == [
        "RECIST 1.1: after the complete response at assessments[2], a target lesion has "
        "reappeared → PD"
    ]


def test_after_cr_the_next_assessment_must_report_nodes_and_non_target_lesions() -> None:
    """RECIST 1.1: after CR, any reappearance is PD, so the assessment after a CR must say
    whether nodes and non-target lesions came back; both are named at once."""
    with pytest.raises(InvalidInput) as raised:
        grade(
            "recist",
            {"assessments": [{"sum_mm": 50}, cr(), {**visit(0), "all_targets_gone": True}]},
        )
    assert raised.value.message == (
        "2 problems with the input: assessments[2].nodes_all_below_10mm is required after a "
        "complete response (RECIST 1.1: any lesion reappearing after CR is PD); "
        "assessments[2].non_target is required after a complete response (RECIST 1.1: any "
        "lesion reappearing after CR is PD)"
    )


def test_a_cr_needs_the_non_target_lesions_to_be_known() -> None:
    """Eisenhauer 2009, Table 1: CR needs every non-target lesion gone too, so with all
    target lesions gone the non-target state is asked for rather than assumed."""
    with pytest.raises(InvalidInput, match=r"assessments\[1\].non_target is required when all"):
        recist(60, visit(0, all_targets_gone=True, nodes_all_below_10mm=True))


def test_target_cr_with_non_target_lesions_persisting_is_pr() -> None:
    """Eisenhauer 2009, Table 1: target CR with non-target lesions non-CR/non-PD is PR."""
    [_, second] = recist(
        60, visit(0, all_targets_gone=True, nodes_all_below_10mm=True, non_target="present")
    )
    assert second["response"] == "PR"
    assert second["reasons"] == [
        "RECIST 1.1: all target lesions gone and all nodes < 10 mm short axis, but non-target "
        "lesions persist (Table 1: non-CR/non-PD) → PR"
    ]


def test_a_reappearance_after_pr_is_judged_on_the_sum_alone() -> None:
    """RECIST Working Group clarification: lesions that disappear and reappear are PD only
    after a CR, or when another PD criterion is met."""
    partial = visit(0, all_targets_gone=True, nodes_all_below_10mm=True, non_target="present")
    assert responses(50, partial, visit(4, non_target="present")) == ["baseline", "PR", "PR"]


def test_unequivocal_non_target_progression_is_pd_while_targets_shrink() -> None:
    """Eisenhauer 2009, section 4.3.3 and Table 1: unequivocal progression of non-target
    lesions is PD whatever the target lesions do."""
    [_, second] = recist(100, visit(40, non_target="unequivocal_progression"))
    assert second["response"] == "PD"
    assert second["reasons"] == ["RECIST 1.1: unequivocal progression of non-target lesions → PD"]


def test_persisting_non_target_lesions_leave_pr_and_sd_unchanged() -> None:
    """Eisenhauer 2009, Table 1: target PR or SD with non-target lesions non-PD stays PR
    or SD, and no note about unreported non-target lesions is added."""
    [_, pr, sd] = recist(100, visit(60, non_target="present"), visit(65, non_target="absent"))
    assert (pr["response"], sd["response"]) == ("PR", "PR")
    assert not any("not reported" in reason for reason in pr["reasons"] + sd["reasons"])
    assert responses(100, visit(80, non_target="present")) == ["baseline", "SD"]
