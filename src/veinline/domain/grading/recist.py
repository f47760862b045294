"""Solid tumour response, RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228).

Each follow-up assessment is compared with the baseline (for PR) and with the nadir, the
smallest sum of diameters on study before it, baseline included (for PD). The series is
graded in order, so the response of the assessment before is known: after a complete
response, any lesion reappearing is progression.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from veinline.domain.grading._input import (
    Field,
    Fields,
    Unusable,
    change_percent,
    fmt,
    json_number,
    json_percent,
    percent,
    run,
)

TITLE = "Solid tumour response, RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228)"

# RECIST 1.1: PD is a rise of ≥ 20% over the nadir and ≥ 5 mm absolute.
PD_RISE = Decimal("1.2")
PD_MIN_RISE_MM = Decimal(5)
# RECIST 1.1: PR is a fall of ≥ 30% from baseline.
PR_FRACTION_LEFT = Decimal("0.7")

CR = "CR"
PD = "PD"
# Non-target lesions not reported, and not needed for this answer.
UNKNOWN = "unknown"

# Eisenhauer 2009, section 4.3.2 and Table 1: the non-target lesions' own response.
NON_TARGET: dict[str, str] = {
    "absent": "no non-target lesion (none at baseline, or all gone and nodes < 10 mm)",
    "present": "non-target lesions persisting, neither gone nor unequivocally progressed",
    "unequivocal_progression": "unequivocal progression of non-target lesions",
}

AFTER_CR = "after a complete response (RECIST 1.1: any lesion reappearing after CR is PD)"
TARGET_CR = (
    "when all target lesions are gone (RECIST 1.1, Table 1: CR needs every non-target lesion "
    "gone too)"
)

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
        required_when="at each follow-up unless the sum already shows PD",
    ),
    Field(
        "nodes_all_below_10mm",
        "boolean",
        "Every target lymph node is under 10 mm short axis (true when there are none).",
        required=False,
        required_when=f"when all_targets_gone is true, and {AFTER_CR}",
    ),
    Field(
        "non_target",
        "choice",
        "Non-target lesions: absent (none, or all gone), present, or unequivocal_progression.",
        required=False,
        required_when=f"{TARGET_CR}, and {AFTER_CR}",
        choices=tuple(NON_TARGET),
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


@dataclass(frozen=True, slots=True)
class _Visit:
    """What one follow-up assessment is compared with."""

    total: Decimal
    baseline: Decimal
    nadir: Decimal
    # The index of the assessment just before, when its response was CR.
    after_cr: int | None


def grade(data: Mapping[str, object]) -> dict[str, object]:
    """RECIST 1.1 response of each assessment; the first assessment is the baseline."""
    return run(data, FIELDS, _grade)


def _grade(fields: Fields) -> dict[str, object]:
    items = fields.records("assessments")
    baseline = _baseline(items[0])
    results: list[dict[str, object]] = []
    flat: list[str] = []
    if baseline is not None:
        reasons = _baseline_reasons(baseline)
        results.append(
            {
                "index": 0,
                "response": "baseline",
                "sum_mm": json_number(baseline),
                "nadir_mm": None,
                "change_from_baseline_percent": None,
                "change_from_nadir_percent": None,
                "reasons": reasons,
            }
        )
        flat += [f"assessments[0]: {reason}" for reason in reasons]
    nadir = baseline
    previous: str | None = "baseline"
    for index, item in enumerate(items[1:], start=1):
        total = item.attempt(partial(item.number, "sum_mm"))
        if total is None or nadir is None or baseline is None:
            # Still read the rest of the series, so that one answer names every problem.
            previous = None
            continue
        visit = _Visit(total, baseline, nadir, index - 1 if previous == CR else None)
        graded = item.attempt(partial(_response, item, visit))
        nadir = min(nadir, total)
        if graded is None:
            previous = None
            continue
        previous, reasons = graded
        results.append(
            {
                "index": index,
                "response": previous,
                "sum_mm": json_number(total),
                "nadir_mm": json_number(visit.nadir),
                "change_from_baseline_percent": json_percent(change_percent(total, baseline)),
                "change_from_nadir_percent": json_percent(change_percent(total, visit.nadir)),
                "reasons": reasons,
            }
        )
        flat += [f"assessments[{index}]: {reason}" for reason in reasons]
    if len(results) != len(items):
        raise Unusable("assessments")
    return {"assessments": results, "reasons": flat}


def _baseline(item: Fields) -> Decimal | None:
    def read() -> Decimal:
        total = item.number("sum_mm")
        if total <= 0:
            raise item.refuse(
                "sum_mm",
                f"{item.name('sum_mm')} must be greater than 0, not {fmt(total)} "
                "(RECIST 1.1 needs measurable target lesions at baseline)",
            )
        return total

    return item.attempt(read)


def _baseline_reasons(baseline: Decimal) -> list[str]:
    return [f"RECIST 1.1: baseline sum of diameters {fmt(baseline)} mm"]


def _response(item: Fields, visit: _Visit) -> tuple[str, list[str]]:
    total, nadir = visit.total, visit.nadir
    rise = total - nadir
    progression: list[str] = []
    notes: list[str] = []
    # RECIST 1.1: PD needs both ≥ 20% over the nadir and ≥ 5 mm, so a small nadir cannot
    # turn a measurement wobble into progression.
    if total >= nadir * PD_RISE and rise >= PD_MIN_RISE_MM:
        progression.append(
            f"RECIST 1.1: sum {fmt(total)} mm is {_rise_from(total, nadir)} the nadir "
            f"{fmt(nadir)} mm (≥ 20% and ≥ 5 mm) → PD"
        )
    elif rise > 0 and total >= nadir * PD_RISE:
        notes.append(
            f"RECIST 1.1: sum {fmt(total)} mm is {_rise_from(total, nadir)} the nadir "
            f"{fmt(nadir)} mm, under the 5 mm needed for PD"
        )
    after_cr = visit.after_cr
    # RECIST 1.1 (Eisenhauer 2009, with the RECIST Working Group's published clarifications
    # on new lesions and on lymph nodes): once CR is assigned, the reappearance of any
    # lesion is PD, however small; before a CR a reappearing lesion counts only through
    # the sum or as a new lesion.
    since = f"RECIST 1.1: after the complete response at assessments[{after_cr}],"

    # Each finding is asked for only while no PD is shown, since PD needs nothing more; a
    # None below is a finding not given while PD made it unneeded, or one refused.
    new_lesions = item.attempt(lambda: _flag(item, "new_lesions", needed=not progression))
    if new_lesions:
        progression.append("RECIST 1.1: new lesion → PD")
    gone = item.attempt(lambda: _flag(item, "all_targets_gone", needed=not progression))
    if after_cr is not None and gone is False:
        progression.append(f"{since} a target lesion has reappeared → PD")

    nodes_needed = not progression and (gone is True or after_cr is not None)
    nodes_when = AFTER_CR if after_cr is not None else "when all_targets_gone is true"
    nodes = item.attempt(
        lambda: _flag(item, "nodes_all_below_10mm", needed=nodes_needed, when=nodes_when)
    )
    if after_cr is not None and nodes is False:
        # Nodes under 10 mm short axis are non-pathological, so a node has reappeared only
        # once it is ≥ 10 mm again.
        progression.append(f"{since} a lymph node is back to ≥ 10 mm short axis → PD")

    target_cr = gone is True and nodes is True
    non_target = item.attempt(
        lambda: _non_target(
            item,
            needed=not progression and (target_cr or after_cr is not None),
            when=AFTER_CR if after_cr is not None else TARGET_CR,
        )
    )
    if non_target == "unequivocal_progression":
        progression.append("RECIST 1.1: unequivocal progression of non-target lesions → PD")
    if after_cr is not None and non_target in ("present", "unequivocal_progression"):
        progression.append(f"{since} a non-target lesion has reappeared → PD")
    if progression:
        return PD, progression
    if (
        new_lesions is None
        or gone is None
        or non_target is None
        or (nodes_needed and nodes is None)
    ):
        raise Unusable(item.name("response"))

    if target_cr:
        targets = "all target lesions gone and all nodes < 10 mm short axis"
        if non_target == "absent":
            return CR, [*notes, f"RECIST 1.1: {targets} → CR"]
        # Eisenhauer 2009, Table 1: target CR with non-target lesions still present
        # (non-CR/non-PD) is PR, whatever the sum.
        return "PR", [
            *notes,
            f"RECIST 1.1: {targets}, but non-target lesions persist (Table 1: non-CR/non-PD) → PR",
        ]
    if gone:
        notes.append("RECIST 1.1: target lesions gone but a node is ≥ 10 mm → not CR")
    if non_target == UNKNOWN:
        notes.append(
            "RECIST 1.1: non-target lesions not reported; response judged on target and new lesions"
        )
    down = _fall_from_baseline(total, visit.baseline)
    if total <= visit.baseline * PR_FRACTION_LEFT:
        return "PR", [*notes, f"RECIST 1.1: sum {fmt(total)} mm is {down} (≥ 30%) → PR"]
    return "SD", [
        *notes,
        f"RECIST 1.1: sum {fmt(total)} mm is {down}, neither PR (≥ 30% down) nor PD → SD",
    ]


def _flag(item: Fields, key: str, *, needed: bool, when: str | None = None) -> bool | None:
    """A follow-up's yes/no finding; None when it was not given and PD made it unneeded."""
    if item.present(key) or needed:
        return item.boolean(key, when=when)
    return None


def _non_target(item: Fields, *, needed: bool, when: str) -> str:
    """The non-target lesions' state, or UNKNOWN when not given and not needed."""
    if item.present("non_target") or needed:
        return item.choice("non_target", when=when)
    return UNKNOWN


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
