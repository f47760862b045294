"""Multiple myeloma response, IMWG 2016 (Kumar et al., Lancet Oncol 2016;17:e328, Table 3).

Response is judged on the disease that was measurable at baseline: serum or urine
M-protein when either is; otherwise the serum free light chains (FLC), judged on the
difference between involved and uninvolved FLC; otherwise, with ≥ 30% marrow plasma
cells, the marrow. With none of these there is nothing to grade and the input is refused.

Each assessment is compared with the baseline (for the response categories) and with the
lowest value so far, baseline included (for PD). A category is confirmed when the next
assessment meets it again: IMWG needs two consecutive assessments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Literal

from veinline.domain.grading._input import (
    Field,
    FieldProblem,
    Fields,
    Unusable,
    change_percent,
    fmt,
    json_number,
    percent,
    run,
)

TITLE = "Multiple myeloma response, IMWG 2016 (Kumar et al., Lancet Oncol 2016;17:e328)"

Basis = Literal["m_protein", "flc", "marrow"]
BASIS_WORDS: dict[str, str] = {
    "m_protein": "serum and urine M-protein",
    "flc": "free light chains (involved minus uninvolved)",
    "marrow": "marrow plasma cells",
}

# Best first; a category is confirmed by a next assessment at least as good.
RESPONSES = ("sCR", "CR", "VGPR", "PR", "MR", "SD")
PD = "PD"

# Kumar 2016: measurable disease is serum M-protein ≥ 1 g/dL, urine M-protein ≥ 200 mg/24 h,
# or an involved FLC ≥ 10 mg/dL with an abnormal κ/λ ratio.
MEASURABLE_SERUM_G_DL = Decimal(1)
MEASURABLE_URINE_MG = Decimal(200)
MEASURABLE_FLC_MG_DL = Decimal(10)
# Kumar 2016, PR: with neither M-protein nor FLC measurable, marrow plasma cells stand in
# for M-protein provided they were ≥ 30% at baseline.
MEASURABLE_MARROW_PERCENT = Decimal(30)

# IMWG PD: a rise of ≥ 25% from the lowest value, with an absolute floor per measure.
PD_RISE = Decimal("1.25")
PD_FLOOR_SERUM_G_DL = Decimal("0.5")
# Kumar 2016: from a lowest serum M-protein of ≥ 5 g/dL, a rise of ≥ 1 g/dL is PD.
HIGH_SERUM_G_DL = Decimal(5)
HIGH_SERUM_RISE_G_DL = Decimal(1)
PD_FLOOR_URINE_MG = Decimal(200)
# Kumar 2016: the FLC difference must rise by more than 10 mg/dL (strictly).
PD_FLOOR_DFLC_MG_DL = Decimal(10)
PD_FLOOR_MARROW_POINTS = Decimal(10)
CR_MARROW_BELOW_PERCENT = Decimal(5)

FLC_BASIS = "at every assessment when free light chains are the measured disease"
MARROW_BASIS = "at every assessment when marrow plasma cells are the measured disease"

BASELINE_FIELDS: tuple[Field, ...] = (
    Field(
        "serum_m_g_dl",
        "number",
        "Serum M-protein by electrophoresis; measurable from 1 g/dL.",
        unit="g/dL",
        minimum=0,
    ),
    Field(
        "urine_m_mg_24h",
        "number",
        "Urine M-protein by electrophoresis; measurable from 200 mg/24 h.",
        unit="mg/24 h",
        minimum=0,
    ),
    Field(
        "flc_involved_mg_dl",
        "number",
        "Involved serum free light chain; measurable from 10 mg/dL with an abnormal ratio.",
        unit="mg/dL",
        required=False,
        required_when="when serum and urine M-protein are not measurable",
        minimum=0,
    ),
    Field(
        "flc_uninvolved_mg_dl",
        "number",
        "Uninvolved serum free light chain.",
        unit="mg/dL",
        required=False,
        required_when="when free light chains are the measured disease",
        minimum=0,
    ),
    Field(
        "flc_ratio_normal",
        "boolean",
        "Whether the serum κ/λ free light chain ratio is normal (0.26–1.65).",
        required=False,
        required_when="when flc_involved_mg_dl is given and M-protein is not measurable",
    ),
    Field(
        "marrow_plasma_cells_percent",
        "number",
        "Marrow plasma cells; the measured disease only when neither M-protein nor FLC is.",
        unit="%",
        required=False,
        minimum=0,
        maximum=100,
    ),
)

ASSESSMENT_FIELDS: tuple[Field, ...] = (
    Field(
        "serum_m_g_dl",
        "number",
        "Serum M-protein by electrophoresis.",
        unit="g/dL",
        minimum=0,
    ),
    Field(
        "urine_m_mg_24h",
        "number",
        "Urine M-protein by electrophoresis.",
        unit="mg/24 h",
        minimum=0,
    ),
    Field(
        "immunofixation",
        "choice",
        "Serum and urine immunofixation: negative only when both are negative.",
        required=False,
        required_when=(
            "when serum and urine M-protein are 0 by electrophoresis, or when the other "
            "CR criteria are met"
        ),
        choices=("positive", "negative"),
    ),
    Field(
        "marrow_plasma_cells_percent",
        "number",
        "Marrow plasma cells by morphology (CR needs < 5%).",
        unit="%",
        required=False,
        required_when=f"when immunofixation is negative, and {MARROW_BASIS}",
        minimum=0,
        maximum=100,
    ),
    Field(
        "flc_involved_mg_dl",
        "number",
        "Involved serum free light chain.",
        unit="mg/dL",
        required=False,
        required_when=FLC_BASIS,
        minimum=0,
    ),
    Field(
        "flc_uninvolved_mg_dl",
        "number",
        "Uninvolved serum free light chain.",
        unit="mg/dL",
        required=False,
        required_when=FLC_BASIS,
        minimum=0,
    ),
    Field(
        "flc_ratio_normal",
        "boolean",
        "Whether the serum κ/λ free light chain ratio is normal (0.26–1.65).",
        required=False,
        required_when=f"when the assessment meets CR (sCR needs it), and {FLC_BASIS}",
    ),
    Field(
        "clonal_plasma_cells_absent",
        "boolean",
        "No clonal plasma cells in the marrow by immunohistochemistry or flow cytometry.",
        required=False,
        required_when="when the assessment meets CR with a normal FLC ratio (sCR needs it)",
    ),
    Field(
        "new_lesions",
        "boolean",
        "New bone lesions or soft-tissue plasmacytomas, or growth of existing ones.",
        required=False,
    ),
)

FIELDS: tuple[Field, ...] = (
    Field(
        "baseline",
        "object",
        "The disease before treatment, which decides what response is measured on.",
        fields=BASELINE_FIELDS,
    ),
    Field(
        "assessments",
        "objects",
        "Every assessment after baseline, in order.",
        min_items=1,
        fields=ASSESSMENT_FIELDS,
    ),
)


@dataclass(frozen=True, slots=True)
class _Disease:
    """The measures at one time: M-protein always, the basis measure when not M-protein."""

    serum: Decimal
    urine: Decimal
    # The FLC difference (involved − uninvolved, mg/dL) or marrow plasma cells (%), when
    # that is the measured disease; None for M-protein.
    other: Decimal | None = None


@dataclass(frozen=True, slots=True)
class _Baseline:
    basis: Basis
    disease: _Disease
    reason: str


def grade(data: Mapping[str, object]) -> dict[str, object]:
    """IMWG response of each assessment, and whether the next assessment confirms it."""
    return run(data, FIELDS, _grade)


def _grade(fields: Fields) -> dict[str, object]:
    baseline = fields.attempt(lambda: _baseline(fields.record("baseline")))
    items = fields.attempt(lambda: fields.records("assessments"))
    if baseline is None or items is None:
        raise Unusable("imwg")

    lowest = baseline.disease
    graded: list[tuple[str, list[str], dict[str, object]]] = []
    for item in items:
        current = item.attempt(partial(_current, item, baseline.basis))
        if current is None:
            continue
        progression = item.attempt(partial(_progression, item, baseline.basis, current, lowest))
        if progression:
            response: str | None = PD
            reasons: list[str] | None = progression
        else:
            answer = item.attempt(partial(_response, item, baseline, current))
            response, reasons = (None, None) if answer is None else answer
        values = _values(baseline.basis, current, lowest)
        lowest = _lowest(lowest, current)
        if response is None or reasons is None:
            continue
        graded.append((response, reasons, values))
    if len(graded) != len(items):
        raise Unusable("assessments")

    results: list[dict[str, object]] = []
    flat = [f"baseline: {baseline.reason}"]
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
    return {"measured_by": baseline.basis, "assessments": results, "reasons": flat}


def _baseline(fields: Fields) -> _Baseline:
    """What the response is measured on, from the disease measurable at baseline."""
    serum = fields.attempt(lambda: fields.number("serum_m_g_dl"))
    urine = fields.attempt(lambda: fields.number("urine_m_mg_24h"))
    if serum is None or urine is None:
        raise Unusable("baseline")
    m_protein = f"serum M-protein {fmt(serum)} g/dL, urine M-protein {fmt(urine)} mg/24 h"
    if serum >= MEASURABLE_SERUM_G_DL or urine >= MEASURABLE_URINE_MG:
        measurable = " and ".join(
            text
            for text, met in (
                ("serum M-protein ≥ 1 g/dL", serum >= MEASURABLE_SERUM_G_DL),
                ("urine M-protein ≥ 200 mg/24 h", urine >= MEASURABLE_URINE_MG),
            )
            if met
        )
        return _Baseline(
            "m_protein",
            _Disease(serum, urine),
            f"IMWG: measurable disease by {measurable} ({m_protein}): response judged on "
            "serum and urine M-protein",
        )

    unmeasured = f"{m_protein} (M-protein not measurable)"
    flc = _baseline_flc(fields)
    if flc is not None:
        involved, uninvolved = flc
        difference = involved - uninvolved
        return _Baseline(
            "flc",
            _Disease(serum, urine, difference),
            f"IMWG: {unmeasured}; measurable disease by involved FLC {fmt(involved)} mg/dL "
            f"(≥ 10 mg/dL) with an abnormal κ/λ ratio: response judged on the difference "
            f"between involved and uninvolved FLC ({fmt(difference)} mg/dL)",
        )

    marrow = fields.attempt(lambda: fields.optional_number("marrow_plasma_cells_percent"))
    if marrow is not None and marrow >= MEASURABLE_MARROW_PERCENT:
        return _Baseline(
            "marrow",
            _Disease(serum, urine, marrow),
            f"IMWG: {unmeasured}, free light chains "
            f"{'not measurable' if fields.present('flc_involved_mg_dl') else 'not given'}; "
            f"marrow plasma cells "
            f"{fmt(marrow)}% (≥ 30%): response judged on marrow plasma cells",
        )
    raise FieldProblem(fields.path, _nothing_measurable(fields, serum, urine, marrow))


def _baseline_flc(fields: Fields) -> tuple[Decimal, Decimal] | None:
    """Involved and uninvolved FLC when they are measurable disease, else None."""
    if not fields.present("flc_involved_mg_dl"):
        return None
    involved = fields.number("flc_involved_mg_dl")
    if involved < MEASURABLE_FLC_MG_DL:
        return None
    normal = fields.boolean(
        "flc_ratio_normal",
        when="when flc_involved_mg_dl is 10 mg/dL or more and M-protein is not measurable "
        "(IMWG: measurable FLC needs an abnormal κ/λ ratio)",
    )
    if normal:
        return None
    uninvolved = fields.number(
        "flc_uninvolved_mg_dl",
        when="when free light chains are the measured disease (IMWG judges the difference "
        "between involved and uninvolved FLC)",
    )
    if uninvolved >= involved:
        raise fields.refuse(
            "flc_uninvolved_mg_dl",
            f"{fields.name('flc_uninvolved_mg_dl')} {fmt(uninvolved)} mg/dL is not below the "
            f"involved FLC {fmt(involved)} mg/dL; with an abnormal ratio the involved chain is "
            "the higher one",
        )
    return involved, uninvolved


def _nothing_measurable(
    fields: Fields, serum: Decimal, urine: Decimal, marrow: Decimal | None
) -> str:
    found = [
        f"serum M-protein {fmt(serum)} g/dL (< 1 g/dL)",
        f"urine M-protein {fmt(urine)} mg/24 h (< 200 mg/24 h)",
    ]
    if fields.present("flc_involved_mg_dl"):
        involved = fields.number("flc_involved_mg_dl")
        if involved < MEASURABLE_FLC_MG_DL:
            found.append(f"involved FLC {fmt(involved)} mg/dL (< 10 mg/dL)")
        else:
            found.append(f"involved FLC {fmt(involved)} mg/dL with a normal κ/λ ratio")
    else:
        found.append(f"free light chains not given ({fields.name('flc_involved_mg_dl')})")
    if marrow is not None:
        found.append(f"marrow plasma cells {fmt(marrow)}% (< 30%)")
    return (
        "baseline has no measurable disease, so IMWG 2016 response cannot be graded: "
        f"{', '.join(found)}. Measurable disease is serum M-protein ≥ 1 g/dL, urine M-protein "
        "≥ 200 mg/24 h, or involved FLC ≥ 10 mg/dL with an abnormal κ/λ ratio (failing "
        "these, marrow plasma cells ≥ 30%)"
    )


def _current(item: Fields, basis: Basis) -> _Disease:
    """The measures of one assessment that PD and the response are judged on."""
    serum = item.attempt(lambda: item.number("serum_m_g_dl"))
    urine = item.attempt(lambda: item.number("urine_m_mg_24h"))
    other: Decimal | None = None
    failed = False
    if basis == "flc":
        involved = item.attempt(lambda: item.number("flc_involved_mg_dl", when=FLC_BASIS))
        uninvolved = item.attempt(lambda: item.number("flc_uninvolved_mg_dl", when=FLC_BASIS))
        if involved is None or uninvolved is None:
            failed = True
        else:
            other = involved - uninvolved
    elif basis == "marrow":
        other = item.attempt(lambda: item.number("marrow_plasma_cells_percent", when=MARROW_BASIS))
        failed = other is None
    if serum is None or urine is None or failed:
        raise Unusable(item.name(""))
    return _Disease(serum, urine, other)


def _lowest(lowest: _Disease, current: _Disease) -> _Disease:
    other = (
        None if lowest.other is None or current.other is None else min(lowest.other, current.other)
    )
    return _Disease(min(lowest.serum, current.serum), min(lowest.urine, current.urine), other)


def _values(basis: Basis, current: _Disease, lowest: _Disease) -> dict[str, object]:
    """The measures reported with an assessment: its own, and the lowest so far."""
    values: dict[str, object] = {
        "serum_m_g_dl": json_number(current.serum),
        "urine_m_mg_24h": json_number(current.urine),
        "lowest_serum_m_g_dl": json_number(lowest.serum),
        "lowest_urine_m_mg_24h": json_number(lowest.urine),
    }
    if current.other is not None and lowest.other is not None:
        name = "dflc_mg_dl" if basis == "flc" else "marrow_plasma_cells_percent"
        values[name] = json_number(current.other)
        values[f"lowest_{name}"] = json_number(lowest.other)
    return values


def _progression(item: Fields, basis: Basis, current: _Disease, lowest: _Disease) -> list[str]:
    """The IMWG PD criteria this assessment meets (empty when none)."""
    reasons: list[str] = []
    serum_rise = current.serum - lowest.serum
    # Kumar 2016: the serum and urine criteria apply to every patient; the FLC criterion
    # only without measurable M-protein, and the marrow criterion only without measurable
    # M-protein or FLC.
    if current.serum >= lowest.serum * PD_RISE and serum_rise >= PD_FLOOR_SERUM_G_DL:
        reasons.append(
            _rise("serum M", current.serum, lowest.serum, "g/dL", "g/dL", "≥ 25% and ≥ 0.5 g/dL")
        )
    elif lowest.serum >= HIGH_SERUM_G_DL and serum_rise >= HIGH_SERUM_RISE_G_DL:
        reasons.append(
            _rise(
                "serum M",
                current.serum,
                lowest.serum,
                "g/dL",
                "g/dL",
                "from a lowest value ≥ 5 g/dL, a rise ≥ 1 g/dL",
            )
        )
    urine_rise = current.urine - lowest.urine
    if current.urine >= lowest.urine * PD_RISE and urine_rise >= PD_FLOOR_URINE_MG:
        reasons.append(
            _rise(
                "urine M",
                current.urine,
                lowest.urine,
                "mg/24 h",
                "mg/24 h",
                "≥ 25% and ≥ 200 mg/24 h",
            )
        )
    if current.other is not None and lowest.other is not None:
        rise = current.other - lowest.other
        over_25 = current.other >= lowest.other * PD_RISE
        if basis == "flc" and over_25 and rise > PD_FLOOR_DFLC_MG_DL:
            reasons.append(
                _rise(
                    "FLC difference (involved − uninvolved)",
                    current.other,
                    lowest.other,
                    "mg/dL",
                    "mg/dL",
                    "≥ 25% and > 10 mg/dL",
                )
            )
        if basis == "marrow" and over_25 and rise >= PD_FLOOR_MARROW_POINTS:
            reasons.append(
                _rise(
                    "marrow plasma cells",
                    current.other,
                    lowest.other,
                    "%",
                    "points",
                    "≥ 25% and ≥ 10 points",
                )
            )
    if item.present("new_lesions") and item.boolean("new_lesions"):
        reasons.append("IMWG: new lesions → PD")
    return reasons


def _rise(label: str, value: Decimal, low: Decimal, unit: str, rise_unit: str, rule: str) -> str:
    change = change_percent(value, low)
    relative = "" if change is None else f"{fmt(percent(change))}%, "
    space = "" if unit == "%" else " "
    return (
        f"IMWG: {label} {fmt(value)}{space}{unit} is up {relative}+{fmt(value - low)} "
        f"{rise_unit} from the lowest value {fmt(low)}{space}{unit} ({rule}) → PD"
    )


def _response(item: Fields, baseline: _Baseline, current: _Disease) -> tuple[str, list[str]]:
    """The best IMWG response category met, short of PD."""
    reasons: list[str] = []
    if not item.present("new_lesions"):
        judged = {
            "m_protein": "M-protein",
            "flc": "M-protein and free light chains",
            "marrow": "M-protein and marrow plasma cells",
        }[baseline.basis]
        reasons.append(f"IMWG: new lesions not reported; PD judged on {judged}")
    if baseline.basis == "m_protein":
        return _by_m_protein(item, baseline.disease, current, reasons)
    if baseline.basis == "flc":
        return _by_flc(item, baseline.disease, current, reasons)
    return _by_marrow(item, baseline.disease, current, reasons)


def _immunofixation(item: Fields, current: _Disease, *, when: str | None) -> str | None:
    """The immunofixation result; None when not given and not needed (`when` is None)."""
    electrophoresis_negative = current.serum == 0 and current.urine == 0
    if not item.present("immunofixation"):
        if when is None:
            return None
        return item.choice("immunofixation", when=when)
    result = item.choice("immunofixation")
    if result == "negative" and not electrophoresis_negative:
        raise item.refuse(
            "immunofixation",
            f"{item.name('immunofixation')} cannot be negative while M-protein is still "
            "measured by electrophoresis (serum_m_g_dl or urine_m_mg_24h above 0)",
        )
    return result


def _complete_or_not(
    item: Fields, reasons: list[str], *, immunofixation: str | None
) -> tuple[str, list[str]] | None:
    """CR or sCR when immunofixation is negative and the marrow < 5%; None otherwise (with
    the reason CR was missed added to `reasons`)."""
    if immunofixation != "negative":
        return None
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
    return None


def _by_m_protein(
    item: Fields, baseline: _Disease, current: _Disease, reasons: list[str]
) -> tuple[str, list[str]]:
    electrophoresis_negative = current.serum == 0 and current.urine == 0
    immunofixation = _immunofixation(
        item,
        current,
        when="when serum and urine M-protein are 0 (it separates CR from VGPR)"
        if electrophoresis_negative
        else None,
    )
    complete = _complete_or_not(item, reasons, immunofixation=immunofixation)
    if complete is not None:
        return complete
    if electrophoresis_negative and immunofixation == "positive":
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


def _by_flc(
    item: Fields, baseline: _Disease, current: _Disease, reasons: list[str]
) -> tuple[str, list[str]]:
    """Kumar 2016, for disease measurable only by FLC: CR also needs a normal FLC ratio;
    VGPR and PR are a ≥ 90% and ≥ 50% fall in the involved − uninvolved difference, and
    MR is not defined."""
    assert baseline.other is not None and current.other is not None
    ratio_normal = item.boolean(
        "flc_ratio_normal", when=f"{FLC_BASIS} (IMWG: CR then needs a normal FLC ratio)"
    )
    if ratio_normal:
        immunofixation = _immunofixation(
            item,
            current,
            when="when the FLC ratio is normal (it separates CR from the FLC-based responses)",
        )
        complete = _complete_or_not(item, reasons, immunofixation=immunofixation)
        if complete is not None:
            return complete
    else:
        _immunofixation(item, current, when=None)
    fall = _fall(current.other, baseline.other)
    described = _describe_fall(current.other, baseline.other)
    summary = f"FLC difference {fmt(current.other)} mg/dL ({described})"
    if fall >= 90:
        return "VGPR", [*reasons, f"IMWG: {summary}: down ≥ 90% → VGPR"]
    if fall >= 50:
        return "PR", [*reasons, f"IMWG: {summary}: down ≥ 50% → PR"]
    return "SD", [
        *reasons,
        f"IMWG: {summary}: under the 50% fall of PR (MR is not defined on FLC) and no PD → SD",
    ]


def _by_marrow(
    item: Fields, baseline: _Disease, current: _Disease, reasons: list[str]
) -> tuple[str, list[str]]:
    """Kumar 2016, with neither M-protein nor FLC measurable: PR is a ≥ 50% fall in marrow
    plasma cells from a baseline of ≥ 30%; CR and sCR are as for everyone."""
    assert baseline.other is not None and current.other is not None
    immunofixation = _immunofixation(
        item,
        current,
        when="when marrow plasma cells are under 5% (it separates CR from PR)"
        if current.other < CR_MARROW_BELOW_PERCENT
        else None,
    )
    complete = _complete_or_not(item, reasons, immunofixation=immunofixation)
    if complete is not None:
        return complete
    fall = _fall(current.other, baseline.other)
    summary = (
        f"marrow plasma cells {fmt(current.other)}% "
        f"({_describe_fall(current.other, baseline.other)})"
    )
    if fall >= 50:
        return "PR", [*reasons, f"IMWG: {summary}: down ≥ 50% → PR"]
    return "SD", [*reasons, f"IMWG: {summary}: under the 50% fall of PR and no PD → SD"]


def _complete(item: Fields, marrow: Decimal, reasons: list[str]) -> tuple[str, list[str]]:
    """CR, or sCR when the free-light-chain ratio is normal and no clonal cells remain."""
    reasons = [
        *reasons,
        f"IMWG: negative serum and urine immunofixation and {fmt(marrow)}% marrow plasma cells "
        "(< 5%) → CR (no soft-tissue plasmacytoma is assumed; this input does not record it)",
    ]
    flc_normal = item.attempt(
        lambda: item.boolean(
            "flc_ratio_normal", when="when the assessment meets CR (sCR needs a normal FLC ratio)"
        )
    )
    # Kumar 2016: sCR is CR with a normal FLC ratio and no clonal plasma cells in the marrow
    # by immunohistochemistry or flow cytometry; a morphology count of 0% does not show it.
    clonal_absent = (
        item.boolean(
            "clonal_plasma_cells_absent",
            when="when the assessment meets CR with a normal FLC ratio (sCR needs no clonal "
            "plasma cells by immunohistochemistry or flow cytometry)",
        )
        if flc_normal is not False
        else None
    )
    if flc_normal is None:
        raise Unusable(item.name("flc_ratio_normal"))
    if flc_normal and clonal_absent:
        return "sCR", [
            *reasons,
            "IMWG: CR with a normal free-light-chain ratio and no clonal plasma cells in the "
            "marrow by immunohistochemistry or flow cytometry → sCR",
        ]
    missing = (
        "a normal free-light-chain ratio"
        if not flc_normal
        else "no clonal plasma cells in the marrow by immunohistochemistry or flow cytometry"
    )
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
