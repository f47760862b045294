"""Solid tumour response of target lesions, RECIST 1.1 (Eisenhauer et al., 2009).

Each follow-up assessment is compared with the baseline (for PR) and with the nadir, the
smallest sum of diameters on study before it, baseline included (for PD).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from veinline.domain.grading._input import (
    Field,
    Fields,
    change_percent,
    fmt,
    json_number,
    json_percent,
    percent,
    run,
)

TITLE = "Solid tumour response, RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228)"

ASSESSMENT_FIELDS: tuple[Field, ...] = (
    Field(
        "sum_mm",
        "number",
        "Sum of target lesion diameters: longest for non-nodal lesions, short axis for "
        "nodes (nodes under 10 mm still counted).",
        unit="mm",
        minimum=0,
    ),
    Field(
        "new_lesions",
        "boolean",
        "Any unequivocal new lesion since baseline.",
        required=False,
        required_when="at each follow-up unless the sum already shows PD",
    ),
    Field(
        "all_targets_gone",
        "boolean",
        "Every non-nodal target lesion has disappeared.",
        required=False,
        required_when="at each follow-up unless PD is already shown",
    ),
    Field(
        "nodes_all_below_10mm",
        "boolean",
        "Every target lymph node is under 10 mm short axis (true when there are none).",
        required=False,
        required_when="when all_targets_gone is true",
    ),
)

FIELDS: tuple[Field, ...] = (
    Field(
        "assessments",
        "objects",
        "Every assessment in order, the first being the baseline (its sum_mm only is read).",
        min_items=1,
        fields=ASSESSMENT_FIELDS,
    ),
)

# RECIST 1.1: PD is a rise of ≥ 20% over the nadir and ≥ 5 mm absolute.
PD_RISE = Decimal("1.2")
PD_MIN_RISE_MM = Decimal(5)
# RECIST 1.1: PR is a fall of ≥ 30% from baseline.
PR_FRACTION_LEFT = Decimal("0.7")


def grade(data: Mapping[str, object]) -> dict[str, object]:
    """RECIST 1.1 response of each assessment; the first assessment is the baseline."""
    return run(data, FIELDS, _grade)


def _grade(fields: Fields) -> dict[str, object]:
    items = fields.records("assessments")
    baseline = items[0].number("sum_mm")
    if baseline <= 0:
        raise items[0].refuse(
            "sum_mm",
            f"{items[0].name('sum_mm')} must be greater than 0, not {fmt(baseline)} "
            "(RECIST 1.1 needs measurable target lesions at baseline)",
        )
    results: list[dict[str, object]] = [
        {
            "index": 0,
            "response": "baseline",
            "sum_mm": json_number(baseline),
            "nadir_mm": None,
            "change_from_baseline_percent": None,
            "change_from_nadir_percent": None,
            "reasons": _baseline_reasons(baseline),
        }
    ]
    flat = [f"assessments[0]: {reason}" for reason in _baseline_reasons(baseline)]
    nadir = baseline
    for index, item in enumerate(items[1:], start=1):
        total = item.number("sum_mm")
        response, reasons = _response(item, total=total, baseline=baseline, nadir=nadir)
        results.append(
            {
                "index": index,
                "response": response,
                "sum_mm": json_number(total),
                "nadir_mm": json_number(nadir),
                "change_from_baseline_percent": json_percent(change_percent(total, baseline)),
                "change_from_nadir_percent": json_percent(change_percent(total, nadir)),
                "reasons": reasons,
            }
        )
        flat += [f"assessments[{index}]: {reason}" for reason in reasons]
        nadir = min(nadir, total)
    return {"assessments": results, "reasons": flat}


def _baseline_reasons(baseline: Decimal) -> list[str]:
    return [f"RECIST 1.1: baseline sum of diameters {fmt(baseline)} mm"]


def _response(
    item: Fields, *, total: Decimal, baseline: Decimal, nadir: Decimal
) -> tuple[str, list[str]]:
    rise = total - nadir
    # RECIST 1.1: PD needs both ≥ 20% over the nadir and ≥ 5 mm, so a small nadir cannot
    # turn a measurement wobble into progression.
    if total >= nadir * PD_RISE and rise >= PD_MIN_RISE_MM:
        reasons = [
            f"RECIST 1.1: sum {fmt(total)} mm is {_rise_from(total, nadir)} the nadir "
            f"{fmt(nadir)} mm (≥ 20% and ≥ 5 mm) → PD"
        ]
        if item.present("new_lesions") and item.boolean("new_lesions"):
            reasons.append("RECIST 1.1: new lesion → PD")
        return "PD", reasons
    notes: list[str] = []
    if rise > 0 and total >= nadir * PD_RISE:
        notes.append(
            f"RECIST 1.1: sum {fmt(total)} mm is {_rise_from(total, nadir)} the nadir "
            f"{fmt(nadir)} mm, under the 5 mm needed for PD"
        )
    if item.boolean("new_lesions"):
        return "PD", [*notes, "RECIST 1.1: new lesion → PD"]
    if item.boolean("all_targets_gone"):
        if item.boolean("nodes_all_below_10mm", when="when all_targets_gone is true"):
            return "CR", [
                *notes,
                "RECIST 1.1: all target lesions gone and all nodes < 10 mm short axis → CR",
            ]
        notes.append("RECIST 1.1: target lesions gone but a node is ≥ 10 mm → not CR")
    down = _fall_from_baseline(total, baseline)
    if total <= baseline * PR_FRACTION_LEFT:
        return "PR", [*notes, f"RECIST 1.1: sum {fmt(total)} mm is {down} (≥ 30%) → PR"]
    return "SD", [
        *notes,
        f"RECIST 1.1: sum {fmt(total)} mm is {down}, neither PR (≥ 30% down) nor PD → SD",
    ]


def _rise_from(total: Decimal, nadir: Decimal) -> str:
    change = change_percent(total, nadir)
    relative = "" if change is None else f"{fmt(percent(change))}%, "
    return f"up {relative}+{fmt(total - nadir)} mm from"


def _fall_from_baseline(total: Decimal, baseline: Decimal) -> str:
    change = change_percent(total, baseline)
    assert change is not None  # the baseline sum is checked to be above 0
    if change <= 0:
        return f"down {fmt(percent(-change))}% from baseline {fmt(baseline)} mm"
    return f"up {fmt(percent(change))}% from baseline {fmt(baseline)} mm"
