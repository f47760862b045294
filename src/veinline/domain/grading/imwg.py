"""Multiple myeloma response, IMWG (Kumar et al., Lancet Oncol 2016).

Each assessment is compared with the baseline M-protein (for the response categories) and
with the lowest value so far, baseline included (for PD). A category is confirmed when the
next assessment meets it again: IMWG needs two consecutive assessments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from veinline.domain.grading._input import (
    Field,
    Fields,
    change_percent,
    fmt,
    json_number,
    percent,
    run,
)

TITLE = "Multiple myeloma response, IMWG 2016 (Kumar et al., Lancet Oncol 2016;17:e328)"

BASELINE_FIELDS: tuple[Field, ...] = (
    Field("serum_m_g_dl", "number", "Serum M-protein by electrophoresis.", unit="g/dL", minimum=0),
    Field(
        "urine_m_mg_24h", "number", "Urine M-protein by electrophoresis.", unit="mg/24 h", minimum=0
    ),
)
# `new_lesions` is optional: the IMWG PD definition counts new lesions, but not every
# assessment reports imaging. When it is absent the reasons say PD was judged without it.
ASSESSMENT_FIELDS: tuple[Field, ...] = (
    *BASELINE_FIELDS,
    Field(
        "immunofixation",
        "choice",
        "Serum and urine immunofixation: negative only when both are negative.",
        required=False,
        required_when="when serum and urine M-protein are 0 by electrophoresis",
        choices=("positive", "negative"),
    ),
    Field(
        "marrow_plasma_cells_percent",
        "number",
        "Marrow plasma cells (CR needs < 5%).",
        unit="%",
        required=False,
        required_when="when immunofixation is negative",
        minimum=0,
        maximum=100,
    ),
    Field(
        "flc_ratio_normal",
        "boolean",
        "Whether the serum κ/λ free light chain ratio is normal.",
        required=False,
        required_when="when the assessment meets CR (sCR needs it)",
    ),
    Field(
        "new_lesions",
        "boolean",
        "New bone lesions or soft-tissue plasmacytomas, or growth of existing ones.",
        required=False,
    ),
)
FIELDS: tuple[Field, ...] = (
    Field("baseline", "object", "The disease before treatment.", fields=BASELINE_FIELDS),
    Field(
        "assessments",
        "objects",
        "Every assessment after baseline, in order.",
        min_items=1,
        fields=ASSESSMENT_FIELDS,
    ),
)

# Best first; a category is confirmed by a next assessment at least as good.
RESPONSES = ("sCR", "CR", "VGPR", "PR", "MR", "SD")
PD = "PD"

# IMWG PD: a rise of ≥ 25% from the lowest value, with an absolute floor per measure.
PD_RISE = Decimal("1.25")
PD_FLOOR_SERUM_G_DL = Decimal("0.5")
PD_FLOOR_URINE_MG = Decimal(200)
PD_FLOOR_MARROW_POINTS = Decimal(10)
CR_MARROW_BELOW_PERCENT = Decimal(5)


def grade(data: Mapping[str, object]) -> dict[str, object]:
    """IMWG response of each assessment, and whether the next assessment confirms it."""
    return run(data, FIELDS, _grade)


def _grade(fields: Fields) -> dict[str, object]:
    baseline_fields = fields.record("baseline")
    baseline = _MProtein(
        serum=baseline_fields.number("serum_m_g_dl"),
        urine=baseline_fields.number("urine_m_mg_24h"),
    )
    if baseline.serum == 0 and baseline.urine == 0:
        raise baseline_fields.refuse(
            "serum_m_g_dl",
            "baseline needs measurable M-protein: baseline.serum_m_g_dl or "
            "baseline.urine_m_mg_24h above 0",
        )
    items = fields.records("assessments")

    lowest = baseline
    lowest_marrow: Decimal | None = None
    graded: list[tuple[str, list[str], dict[str, object]]] = []
    for item in items:
        current = _MProtein(
            serum=item.number("serum_m_g_dl"),
            urine=item.number("urine_m_mg_24h"),
        )
        marrow = (
            item.number("marrow_plasma_cells_percent")
            if item.present("marrow_plasma_cells_percent")
            else None
        )
        progression = _progression(item, current, lowest, marrow, lowest_marrow)
        if progression:
            response, reasons = PD, progression
        else:
            response, reasons = _response(item, current, baseline)
        graded.append(
            (
                response,
                reasons,
                {
                    "serum_m_g_dl": json_number(current.serum),
                    "urine_m_mg_24h": json_number(current.urine),
                    "lowest_serum_m_g_dl": json_number(lowest.serum),
                    "lowest_urine_m_mg_24h": json_number(lowest.urine),
                },
            )
        )
        lowest = _MProtein(min(lowest.serum, current.serum), min(lowest.urine, current.urine))
        if marrow is not None:
            lowest_marrow = marrow if lowest_marrow is None else min(lowest_marrow, marrow)

    results: list[dict[str, object]] = []
    flat: list[str] = []
    for index, (response, reasons, values) in enumerate(graded):
        following = graded[index + 1][0] if index + 1 < len(graded) else None
        confirmed, note = _confirmation(response, following, index)
        reasons = [*reasons, note]
        results.append(
            {
                "index": index,
                "response": response,
                "confirmed": confirmed,
                **values,
                "reasons": reasons,
            }
        )
        flat += [f"assessments[{index}]: {reason}" for reason in reasons]
    return {"assessments": results, "reasons": flat}


@dataclass(frozen=True, slots=True)
class _MProtein:
    """Serum (g/dL) and 24-hour urine (mg) M-protein at one time."""

    serum: Decimal
    urine: Decimal


def _progression(
    item: Fields,
    current: _MProtein,
    lowest: _MProtein,
    marrow: Decimal | None,
    lowest_marrow: Decimal | None,
) -> list[str]:
    """The IMWG PD criteria this assessment meets (empty when none)."""
    reasons: list[str] = []
    # (label, value, lowest, absolute floor, unit of the value, unit of the rise)
    measures = [
        ("serum M", current.serum, lowest.serum, PD_FLOOR_SERUM_G_DL, " g/dL", " g/dL"),
        ("urine M", current.urine, lowest.urine, PD_FLOOR_URINE_MG, " mg/24 h", " mg/24 h"),
    ]
    if marrow is not None and lowest_marrow is not None:
        measures.append(
            ("marrow plasma cells", marrow, lowest_marrow, PD_FLOOR_MARROW_POINTS, "%", " points")
        )
    for label, value, low, floor, unit, rise_unit in measures:
        # IMWG: ≥ 25% over the lowest value AND an absolute rise of at least the floor.
        if value >= low * PD_RISE and value - low >= floor:
            change = change_percent(value, low)
            relative = "" if change is None else f"{fmt(percent(change))}%, "
            reasons.append(
                f"IMWG: {label} {fmt(value)}{unit} is up {relative}+{fmt(value - low)}{rise_unit} "
                f"from the lowest value {fmt(low)}{unit} (≥ 25% and ≥ {fmt(floor)}{rise_unit}) "
                "→ PD"
            )
    if item.present("new_lesions") and item.boolean("new_lesions"):
        reasons.append("IMWG: new lesions → PD")
    return reasons


def _response(item: Fields, current: _MProtein, baseline: _MProtein) -> tuple[str, list[str]]:
    """The best IMWG response category met, short of PD."""
    reasons: list[str] = []
    if not item.present("new_lesions"):
        reasons.append("IMWG: new lesions not reported; PD judged on M-protein and marrow")
    electrophoresis_negative = current.serum == 0 and current.urine == 0
    if electrophoresis_negative:
        immunofixation = item.choice(
            "immunofixation",
            when="when serum and urine M-protein are 0 (it separates CR from VGPR)",
        )
    elif item.present("immunofixation"):
        immunofixation = item.choice("immunofixation")
        if immunofixation == "negative":
            raise item.refuse(
                "immunofixation",
                f"{item.name('immunofixation')} cannot be negative while M-protein is still "
                "measured by electrophoresis (serum_m_g_dl or urine_m_mg_24h above 0)",
            )
    else:
        immunofixation = "positive"

    if immunofixation == "negative":
        marrow = item.number(
            "marrow_plasma_cells_percent",
            when="when immunofixation is negative (CR needs < 5% marrow plasma cells)",
        )
        if marrow < CR_MARROW_BELOW_PERCENT:
            return _complete(item, marrow, reasons)
        reasons.append(
            f"IMWG: negative immunofixation but {fmt(marrow)}% marrow plasma cells "
            "(CR needs < 5%) → not CR"
        )
    elif electrophoresis_negative:
        return "VGPR", [
            *reasons,
            "IMWG: M-protein found by immunofixation but not by electrophoresis → VGPR",
        ]

    serum_down = _fall(current.serum, baseline.serum)
    urine_down = _fall(current.urine, baseline.urine)
    summary = (
        f"serum M {fmt(current.serum)} g/dL ({_describe_fall(current.serum, baseline.serum)}), "
        f"urine M {fmt(current.urine)} mg/24 h ({_describe_fall(current.urine, baseline.urine)})"
    )
    if serum_down >= 90 and current.urine < 100:
        return "VGPR", [
            *reasons,
            f"IMWG: {summary}: serum down ≥ 90% with urine < 100 mg/24 h → VGPR",
        ]
    if serum_down >= 50 and (urine_down >= 90 or current.urine < 200):
        return "PR", [
            *reasons,
            f"IMWG: {summary}: serum down ≥ 50% and urine down ≥ 90% or < 200 mg/24 h → PR",
        ]
    # IMWG MR is serum down 25–49% and urine down 50–89%; the upper bounds only mark where
    # PR begins, so a larger fall that still misses PR is MR, not SD.
    if serum_down >= 25 and urine_down >= 50:
        return "MR", [*reasons, f"IMWG: {summary}: serum down ≥ 25% and urine down ≥ 50% → MR"]
    return "SD", [*reasons, f"IMWG: {summary}: no response criterion met and no PD → SD"]


def _complete(item: Fields, marrow: Decimal, reasons: list[str]) -> tuple[str, list[str]]:
    """CR, or sCR when the free-light-chain ratio is normal and no clonal cells remain."""
    reasons = [
        *reasons,
        f"IMWG: negative serum and urine immunofixation and {fmt(marrow)}% marrow plasma cells "
        "(< 5%) → CR (no soft-tissue plasmacytoma is assumed; this input does not record it)",
    ]
    flc_normal = item.boolean(
        "flc_ratio_normal", when="when the assessment meets CR (sCR needs a normal FLC ratio)"
    )
    # IMWG sCR: CR plus a normal FLC ratio and no clonal plasma cells in the marrow; the
    # marrow percentage is read as clonal plasma cells, so "none" is 0%.
    if flc_normal and marrow == 0:
        return "sCR", [
            *reasons,
            "IMWG: CR with a normal free-light-chain ratio and no clonal marrow plasma cells → sCR",
        ]
    missing = "a normal free-light-chain ratio" if not flc_normal else "0% clonal plasma cells"
    return "CR", [*reasons, f"IMWG: sCR also needs {missing} → CR"]


def _fall(current: Decimal, baseline: Decimal) -> Decimal:
    """Percent fall from baseline; a measure absent at baseline counts as fully down while it
    stays absent, and as not down at all once it appears."""
    if baseline == 0:
        return Decimal(100) if current == 0 else Decimal(-100)
    return (baseline - current) / baseline * 100


def _describe_fall(current: Decimal, baseline: Decimal) -> str:
    if baseline == 0:
        return "none at baseline" if current == 0 else "none at baseline, now present"
    fall = _fall(current, baseline)
    if fall >= 0:
        return f"down {fmt(percent(fall))}% from baseline"
    return f"up {fmt(percent(-fall))}% from baseline"


def _confirmation(response: str, following: str | None, index: int) -> tuple[bool, str]:
    """Whether the next assessment confirms this one (IMWG: two consecutive assessments)."""
    if following is None:
        return False, f"IMWG: {response} not yet confirmed; it needs the next assessment"
    if response == PD:
        confirmed = following == PD
    else:
        confirmed = following != PD and RESPONSES.index(following) <= RESPONSES.index(response)
    verdict = "confirmed" if confirmed else "not confirmed"
    return confirmed, f"IMWG: {response} {verdict} by assessments[{index + 1}] ({following})"
