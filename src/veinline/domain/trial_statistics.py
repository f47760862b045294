"""Trial statistics the way a sponsor reports them: exact intervals, survival, toxicity.

The domain's trial records (`veinline.domain.trial`) count; this module adds the
statistics, as pure functions and frozen values (numpy, scipy and lifelines; no drawing):

- Clopper–Pearson exact 95% intervals for ORR, DCR and CR rate (scipy's beta
  distribution), over evaluable patients.
- Kaplan–Meier overall survival and progression-free survival per cohort and overall
  (lifelines), from the infusion (day 0), censored at the last contact or the data cut-off.
  Pointwise 95% bands are lifelines' exponential Greenwood ("log-log") bands; the median's
  95% interval is read off those bands where they cross 0.5 (Brookmeyer–Crowley style, as
  R's survfit and SAS LIFETEST do). A median the curve does not reach is "not reached"
  (NR), and so is an interval limit the band does not reach.
- Vein-to-vein time (median, quartiles by the inclusive method, range) and patients by
  their worst CRS and ICANS grade (ASTCT), over all treated patients (the safety
  population), not only the evaluable ones.

`adapters.trial_report` gathers these into a report and draws it (figures, HTML, PDF, CSV).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from scipy.stats import beta

from veinline.domain.errors import InvalidInput
from veinline.domain.trial import MAX_TOXICITY_GRADE, PatientOutcome, ResponseCounts, TimeToEvent

CONFIDENCE: Final = 0.95
DAYS_PER_MONTH: Final = 365.25 / 12
# The median is the first time S(t) ≤ 0.5. lifelines computes S as the exponential of a sum
# of logarithms, which lands a hair either side of an exact 1/2, so compare with slack.
_TOLERANCE: Final = 1e-9

# --- rates --------------------------------------------------------------------------------


def clopper_pearson(
    successes: int, n: int, *, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Exact (Clopper–Pearson, 1934) interval of a binomial proportion.

    Lower = Beta(α/2; x, n − x + 1), upper = Beta(1 − α/2; x + 1, n − x); the lower limit is
    0 when x = 0 and the upper 1 when x = n, where those beta distributions do not exist.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInput(f"n: an interval needs at least one patient, got {n!r}")
    if isinstance(successes, bool) or not isinstance(successes, int) or not 0 <= successes <= n:
        raise InvalidInput(f"successes: must be a whole number 0–{n}, got {successes!r}")
    if not 0 < confidence < 1:
        raise InvalidInput(f"confidence: must lie between 0 and 1, got {confidence}")
    alpha = 1 - confidence
    lower = 0.0 if successes == 0 else float(beta.ppf(alpha / 2, successes, n - successes + 1))
    upper = 1.0 if successes == n else float(beta.ppf(1 - alpha / 2, successes + 1, n - successes))
    return lower, upper


@dataclass(frozen=True)
class Rate:
    """A proportion of evaluable patients with its exact 95% interval (None when n = 0)."""

    successes: int
    n: int
    estimate: float | None
    lower: float | None
    upper: float | None

    def text(self) -> str:
        """'9/10, 90.0% (95% CI 55.5–99.7)'."""
        if self.estimate is None or self.lower is None or self.upper is None:
            return f"{self.successes}/{self.n}, no evaluable patients"
        return (
            f"{self.successes}/{self.n}, {100 * self.estimate:.1f}% "
            f"(95% CI {100 * self.lower:.1f}–{100 * self.upper:.1f})"
        )

    def short_text(self) -> str:
        """'9/10, 90.0% (55.5–99.7)', for a table whose heading names the interval."""
        if self.estimate is None or self.lower is None or self.upper is None:
            return f"{self.successes}/{self.n}"
        return (
            f"{self.successes}/{self.n}, {100 * self.estimate:.1f}% "
            f"({100 * self.lower:.1f}–{100 * self.upper:.1f})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "successes": self.successes,
            "n": self.n,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
        }


def rate(successes: int, n: int) -> Rate:
    if n == 0:
        return Rate(successes, 0, None, None, None)
    lower, upper = clopper_pearson(successes, n)
    return Rate(successes, n, successes / n, lower, upper)


@dataclass(frozen=True)
class ResponseRow:
    """Best-response counts and the rates of one cohort, or of all patients."""

    group: str
    label: str
    dose_cells_per_kg: float | None
    counts: ResponseCounts
    orr: Rate
    dcr: Rate
    cr: Rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "label": self.label,
            "dose_cells_per_kg": self.dose_cells_per_kg,
            "counts": self.counts.to_dict(),
            "orr": self.orr.to_dict(),
            "dcr": self.dcr.to_dict(),
            "cr": self.cr.to_dict(),
        }


# --- survival -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalCurve:
    """A Kaplan–Meier estimate of one end point (OS or PFS) in one group.

    Times are days from infusion. A median or a limit of its interval is None when the
    curve (or the band) never falls to 0.5: not reached.
    """

    endpoint: str
    group: str
    label: str
    n: int
    events: int
    median_days: float | None
    median_lower_days: float | None
    median_upper_days: float | None
    times: tuple[float, ...] = ()
    survival: tuple[float, ...] = ()
    lower: tuple[float, ...] = ()
    upper: tuple[float, ...] = ()
    censored: tuple[tuple[float, float], ...] = ()
    durations: tuple[float, ...] = ()

    def median_text(self) -> str:
        """'13.8 mo (95% CI 5.8–NR)', or 'NR' when not reached."""
        if self.n == 0:
            return "no patients"
        if self.median_days is None:
            return "NR"
        return (
            f"{months_text(self.median_days)} mo (95% CI {months_text(self.median_lower_days)}–"
            f"{months_text(self.median_upper_days)})"
        )

    def median_short(self) -> str:
        """'13.8 (5.8–NR)' in months, for a table whose heading names the unit and interval."""
        if self.n == 0:
            return "–"
        if self.median_days is None:
            return "NR"
        return (
            f"{months_text(self.median_days)} ({months_text(self.median_lower_days)}–"
            f"{months_text(self.median_upper_days)})"
        )

    def at_risk(self, day: float) -> int:
        return sum(1 for d in self.durations if d >= day)

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "group": self.group,
            "label": self.label,
            "n": self.n,
            "events": self.events,
            "median_days": self.median_days,
            "median_lower_days": self.median_lower_days,
            "median_upper_days": self.median_upper_days,
            "median_text": self.median_text(),
            "curve": [
                {"day": t, "survival": s, "lower": lo, "upper": up}
                for t, s, lo, up in zip(
                    self.times, self.survival, self.lower, self.upper, strict=True
                )
            ],
        }


def months_text(days: float | None) -> str:
    """Days as months to one decimal ('NR' when not reached)."""
    return "NR" if days is None else f"{days / DAYS_PER_MONTH:.1f}"


def fit_survival(
    endpoint: str, group: str, label: str, times: Sequence[TimeToEvent]
) -> SurvivalCurve:
    """Kaplan–Meier estimate, median and its interval, of one group's times to event."""
    events = sum(1 for t in times if t.event)
    if not times:
        return SurvivalCurve(endpoint, group, label, 0, 0, None, None, None)
    # lifelines pulls in pandas and autograd (seconds); import it when a curve is fitted,
    # not whenever this module is.
    from lifelines import KaplanMeierFitter

    durations = np.array([t.days for t in times], dtype=float)
    observed = np.array([t.event for t in times], dtype=bool)
    kmf = KaplanMeierFitter(alpha=1 - CONFIDENCE)
    # lifelines calls np.seterr(divide="ignore", invalid="ignore") while fitting, which would
    # silence numpy for the rest of the process; errstate puts the caller's settings back.
    with np.errstate():
        kmf.fit(durations, event_observed=observed, label=label)
    timeline = kmf.survival_function_.index.to_numpy(dtype=float)
    survival = kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float)
    band = kmf.confidence_interval_survival_function_
    lower = band.iloc[:, 0].to_numpy(dtype=float)
    upper = band.iloc[:, 1].to_numpy(dtype=float)
    censored = sorted(
        (float(d), float(survival[np.searchsorted(timeline, d, side="right") - 1]))
        for d, e in zip(durations, observed, strict=True)
        if not e
    )
    return SurvivalCurve(
        endpoint=endpoint,
        group=group,
        label=label,
        n=len(times),
        events=events,
        median_days=_first_at_or_below(timeline, survival),
        # The lower limit is where the lower band falls to 0.5, the upper where the upper does.
        median_lower_days=_first_at_or_below(timeline, lower),
        median_upper_days=_first_at_or_below(timeline, upper),
        times=tuple(float(t) for t in timeline),
        survival=tuple(float(s) for s in survival),
        lower=tuple(float(s) for s in lower),
        upper=tuple(float(s) for s in upper),
        censored=tuple(censored),
        durations=tuple(float(d) for d in durations),
    )


def _first_at_or_below(
    timeline: np.ndarray[Any, Any], values: np.ndarray[Any, Any]
) -> float | None:
    hits = np.flatnonzero(values <= 0.5 + _TOLERANCE)
    return float(timeline[hits[0]]) if hits.size else None


# --- distributions and toxicity -----------------------------------------------------------


@dataclass(frozen=True)
class DistributionSummary:
    """Median, quartiles and range of a quantity (vein-to-vein days) in one group."""

    group: str
    label: str
    n: int
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    minimum: float | None = None
    maximum: float | None = None

    def text(self) -> tuple[str, str, str]:
        """Median, IQR and range as the tables print them."""
        if self.n == 0:
            return ("–", "–", "–")
        return (
            f"{self.median:g}",
            f"{self.q1:g}–{self.q3:g}",
            f"{self.minimum:g}–{self.maximum:g}",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "label": self.label,
            "n": self.n,
            "median": self.median,
            "q1": self.q1,
            "q3": self.q3,
            "min": self.minimum,
            "max": self.maximum,
        }


def summarise(group: str, label: str, values: Sequence[float]) -> DistributionSummary:
    """Median, quartiles (inclusive method, as numpy's and R's default) and range."""
    if not values:
        return DistributionSummary(group, label, 0)
    ordered = sorted(float(v) for v in values)
    if len(ordered) == 1:
        q1 = q3 = ordered[0]
    else:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return DistributionSummary(
        group, label, len(ordered), statistics.median(ordered), q1, q3, ordered[0], ordered[-1]
    )


@dataclass(frozen=True)
class ToxicityTable:
    """Patients by their worst grade of one toxicity (CRS or ICANS, ASTCT), per group."""

    toxicity: str
    groups: tuple[str, ...]
    labels: tuple[str, ...]
    # counts[i][g]: patients of group i whose worst grade was g (0 = none).
    counts: tuple[tuple[int, ...], ...]

    def any_grade(self, index: int) -> int:
        return sum(self.counts[index][1:])

    def grade_3_or_more(self, index: int) -> int:
        return sum(self.counts[index][3:])

    def to_dict(self) -> dict[str, Any]:
        return {
            "toxicity": self.toxicity,
            "rows": [
                {
                    "group": group,
                    "label": label,
                    "n": sum(row),
                    "by_max_grade": {str(g): n for g, n in enumerate(row)},
                    "any_grade": self.any_grade(i),
                    "grade_3_or_more": self.grade_3_or_more(i),
                }
                for i, (group, label, row) in enumerate(
                    zip(self.groups, self.labels, self.counts, strict=True)
                )
            ],
        }


def toxicity_table(
    name: str,
    groups: Sequence[tuple[str, str, Sequence[PatientOutcome]]],
    grade_of: Callable[[PatientOutcome], int],
) -> ToxicityTable:
    """Patients of each group counted by the worst grade `grade_of` gives them."""
    rows = []
    for _, _, patients in groups:
        row = [0] * (MAX_TOXICITY_GRADE + 1)
        for patient in patients:
            row[grade_of(patient)] += 1
        rows.append(tuple(row))
    return ToxicityTable(
        name, tuple(g for g, _, _ in groups), tuple(lbl for _, lbl, _ in groups), tuple(rows)
    )
