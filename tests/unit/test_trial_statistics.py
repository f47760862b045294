"""Trial statistics: exact intervals, Kaplan–Meier medians, distributions, toxicity counts."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from scipy.stats import binomtest

from veinline.domain.errors import InvalidInput
from veinline.domain.trial import PatientOutcome, Response, TimeToEvent
from veinline.domain.trial_statistics import (
    DAYS_PER_MONTH,
    clopper_pearson,
    fit_survival,
    rate,
    summarise,
    toxicity_table,
)

# --- Clopper–Pearson ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "lower", "upper"),
    [
        (9, 10, 0.5550, 0.9975),
        (0, 10, 0.0, 0.3085),
        (10, 10, 0.6915, 1.0),
        (1, 3, 0.0084, 0.9057),
        (2, 5, 0.0527, 0.8534),
    ],
)
def test_clopper_pearson_matches_published_exact_intervals(
    successes: int, n: int, lower: float, upper: float
) -> None:
    low, high = clopper_pearson(successes, n)
    assert low == pytest.approx(lower, abs=5e-5)
    assert high == pytest.approx(upper, abs=5e-5)


@pytest.mark.parametrize(("successes", "n"), [(0, 1), (3, 7), (7, 7), (12, 40)])
def test_clopper_pearson_agrees_with_scipy_exact_binomial_test(successes: int, n: int) -> None:
    expected = binomtest(successes, n).proportion_ci(method="exact")
    assert clopper_pearson(successes, n) == pytest.approx((expected.low, expected.high))


@pytest.mark.parametrize(
    ("successes", "n", "field"),
    [(0, 0, "n"), (4, 3, "successes"), (-1, 3, "successes"), (True, 3, "successes")],
)
def test_clopper_pearson_refuses_impossible_counts(successes: int, n: int, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        clopper_pearson(successes, n)


def test_a_rate_over_no_evaluable_patients_has_no_estimate() -> None:
    empty = rate(0, 0)
    assert (empty.estimate, empty.lower, empty.upper) == (None, None, None)
    assert empty.text() == "0/0, no evaluable patients"


def test_a_rate_reads_with_its_interval() -> None:
    assert rate(9, 10).text() == "9/10, 90.0% (95% CI 55.5–99.7)"


# --- Kaplan–Meier -------------------------------------------------------------------------


def times(*pairs: tuple[int, bool]) -> list[TimeToEvent]:
    return [TimeToEvent(days, event) for days, event in pairs]


def test_kaplan_meier_matches_a_hand_computed_example() -> None:
    # Deaths at 1, 2, 4, 5; censored at 3 and 6. At risk 6, 5, (4), 3, 2:
    # S = 5/6, 5/6·4/5 = 2/3, 2/3·2/3 = 4/9, 4/9·1/2 = 2/9. The median is 4 (first S ≤ 0.5).
    curve = fit_survival(
        "OS", "g", "G", times((1, True), (2, True), (3, False), (4, True), (5, True), (6, False))
    )
    survival = dict(zip(curve.times, curve.survival, strict=True))
    assert survival[1] == pytest.approx(5 / 6)
    assert survival[2] == pytest.approx(2 / 3)
    assert survival[3] == pytest.approx(2 / 3)
    assert survival[4] == pytest.approx(4 / 9)
    assert survival[5] == pytest.approx(2 / 9)
    assert (curve.n, curve.events, curve.median_days) == (6, 4, 4.0)
    # Greenwood at t = 1: V = 1/(6·5); log-log band: exp(-exp(log(-log S) ± z·√V / log S)).
    v, s, z = 1 / 30, 5 / 6, 1.959964
    lower = math.exp(-math.exp(math.log(-math.log(s)) - z * math.sqrt(v) / math.log(s)))
    assert curve.lower[curve.times.index(1)] == pytest.approx(lower, abs=1e-6)
    assert lower == pytest.approx(0.2731, abs=1e-4)
    # The lower band falls under 0.5 at day 1; the upper band never does.
    assert (curve.median_lower_days, curve.median_upper_days) == (1.0, None)
    assert curve.median_text() == f"{4 / DAYS_PER_MONTH:.1f} mo (95% CI 0.0–NR)"


def test_a_median_where_the_curve_sits_exactly_at_one_half_is_that_time() -> None:
    # Four deaths: S(2) = 3/4 · 2/3 = 1/2 exactly, which floating point may miss by a hair.
    curve = fit_survival("OS", "g", "G", times((1, True), (2, True), (3, True), (4, True)))
    assert curve.median_days == 2.0


def test_a_median_the_curve_never_reaches_is_not_reached() -> None:
    curve = fit_survival("OS", "g", "G", times((30, True), (200, False), (400, False)))
    assert curve.median_days is None
    assert curve.median_text() == "NR"
    assert curve.median_short() == "NR"


def test_censored_patients_are_marked_where_the_curve_is() -> None:
    curve = fit_survival("OS", "g", "G", times((10, True), (20, False), (30, True)))
    [(day, level)] = curve.censored
    assert day == 20.0
    assert level == pytest.approx(2 / 3)
    assert [curve.at_risk(d) for d in (0, 10, 11, 30, 31)] == [3, 3, 2, 1, 0]


def test_fitting_leaves_numpy_error_handling_as_it_was() -> None:
    before = np.geterr()
    fit_survival("OS", "g", "G", times((1, True), (2, False)))
    assert np.geterr() == before


def test_a_group_without_patients_has_no_curve() -> None:
    curve = fit_survival("OS", "g", "G", [])
    assert (curve.n, curve.median_days, curve.median_text(), curve.median_short()) == (
        0,
        None,
        "no patients",
        "–",
    )


# --- vein-to-vein -------------------------------------------------------------------------


def test_vein_to_vein_summary_gives_median_quartiles_and_range() -> None:
    summary = summarise("all", "All", [41, 27, 28, 29, 30, 31, 31, 33, 35, 36])
    assert (summary.median, summary.q1, summary.q3) == (31, 29.25, 34.5)
    assert (summary.minimum, summary.maximum) == (27, 41)
    assert summary.text() == ("31", "29.25–34.5", "27–41")


def test_vein_to_vein_summary_of_one_or_no_patients() -> None:
    assert summarise("g", "G", [30]).text() == ("30", "30–30", "30–30")
    assert summarise("g", "G", []).text() == ("–", "–", "–")


# --- toxicity -----------------------------------------------------------------------------


def test_toxicity_table_counts_patients_by_their_worst_grade() -> None:
    grades = {"a": [0, 1, 3], "b": [2, 2]}
    groups = [
        (g, g.upper(), [_outcome(f"{g}{i}", g, n) for i, n in enumerate(v)])
        for g, v in grades.items()
    ]
    table = toxicity_table("CRS", groups, lambda o: o.max_crs_grade)
    assert table.groups == ("a", "b") and table.labels == ("A", "B")
    assert table.counts[0][:4] == (1, 1, 0, 1) and table.counts[1][:4] == (0, 0, 2, 0)
    assert (table.any_grade(0), table.grade_3_or_more(0)) == (2, 1)
    assert (table.any_grade(1), table.grade_3_or_more(1)) == (2, 0)


def _outcome(case_id: str, cohort_id: str, crs: int) -> PatientOutcome:
    infused = date(2025, 1, 6)
    return PatientOutcome(
        case_id=case_id,
        cohort_id=cohort_id,
        evaluable=True,
        best_response=Response.SD,
        infused_on=infused,
        last_contact_on=infused,
        max_crs_grade=crs,
    )
