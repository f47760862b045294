"""A clinical trial's dose cohorts, each patient's outcome, and the counting behind its rates.

Counting is pure and exact: how many patients were evaluable, how many responded, how
many had their disease controlled. Intervals and survival curves belong to
`veinline.domain.trial_statistics`, which builds on these counts, and rendering to
`veinline.adapters.trial_report`.

Response definitions:

- RECIST 1.1 (Eisenhauer et al., 2009): ORR = CR + PR; DCR = CR + PR + SD.
- IMWG (Kumar et al., Lancet Oncol 2016): ORR = sCR + CR + VGPR + PR; MR and SD count
  toward disease control, not toward response; the CR rate is CR + sCR.

Rates are over evaluable patients; an evaluable patient whose best response is NE (not
evaluable: no adequate assessment) stays in the denominator as a non-responder, as
RECIST 1.1 asks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from veinline.domain.errors import InvalidInput

_E = TypeVar("_E", bound=StrEnum)

# ASTCT consensus (Lee et al., 2019): CRS and ICANS are graded 1–4, grade 5 is death from
# either; 0 here means the patient never had it.
MAX_TOXICITY_GRADE = 5
OVERALL = "overall"


class ResponseCriteria(StrEnum):
    """The response criteria a trial reads its efficacy with."""

    RECIST_1_1 = "recist_1_1"
    IMWG = "imwg"

    @property
    def label(self) -> str:
        return {"recist_1_1": "RECIST 1.1", "imwg": "IMWG"}[self.value]

    @property
    def responses(self) -> tuple[Response, ...]:
        """The best-response categories of these criteria, best first."""
        return _RESPONSES[self]


class Response(StrEnum):
    """A best overall response category (RECIST 1.1 or IMWG)."""

    SCR = "sCR"
    CR = "CR"
    VGPR = "VGPR"
    PR = "PR"
    MR = "MR"
    SD = "SD"
    PD = "PD"
    NE = "NE"

    @property
    def objective(self) -> bool:
        """Counts toward the objective response rate."""
        return self in _OBJECTIVE

    @property
    def disease_control(self) -> bool:
        """Counts toward the disease control rate."""
        return self in _OBJECTIVE or self in (Response.MR, Response.SD)

    @property
    def complete(self) -> bool:
        """Counts toward the complete response rate."""
        return self in (Response.SCR, Response.CR)


_OBJECTIVE = frozenset({Response.SCR, Response.CR, Response.VGPR, Response.PR})
_RESPONSES = {
    ResponseCriteria.RECIST_1_1: (Response.CR, Response.PR, Response.SD, Response.PD, Response.NE),
    # NE is not an IMWG category, but a patient with no adequate assessment still needs one.
    ResponseCriteria.IMWG: (
        Response.SCR,
        Response.CR,
        Response.VGPR,
        Response.PR,
        Response.MR,
        Response.SD,
        Response.PD,
        Response.NE,
    ),
}


@dataclass(frozen=True)
class Cohort:
    """One dose cohort (dose level) of a trial."""

    id: str
    dose_label: str
    dose_cells_per_kg: float

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidInput("cohort.id: a cohort needs an id")
        if self.id == OVERALL:
            raise InvalidInput(f"cohort.id: '{OVERALL}' is kept for the whole trial")
        if not self.dose_label.strip():
            raise InvalidInput(f"cohort.dose_label: cohort {self.id} needs a dose label")
        if not self.dose_cells_per_kg > 0:
            raise InvalidInput(
                f"cohort.dose_cells_per_kg: cohort {self.id} needs a positive dose, "
                f"got {self.dose_cells_per_kg}"
            )


@dataclass(frozen=True)
class Trial:
    """A clinical trial of one product, in dose cohorts."""

    id: str
    title: str
    product_code: str
    cohorts: tuple[Cohort, ...]
    criteria: ResponseCriteria = ResponseCriteria.RECIST_1_1

    def __post_init__(self) -> None:
        for name in ("id", "title", "product_code"):
            if not getattr(self, name).strip():
                raise InvalidInput(f"trial.{name}: a trial needs one")
        object.__setattr__(self, "cohorts", tuple(self.cohorts))
        if not self.cohorts:
            raise InvalidInput(f"trial.cohorts: trial {self.id} has no cohorts")
        ids = [c.id for c in self.cohorts]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise InvalidInput(f"trial.cohorts: trial {self.id} repeats {', '.join(repeated)}")
        object.__setattr__(
            self, "criteria", _member(ResponseCriteria, self.criteria, "trial.criteria")
        )

    def cohort(self, cohort_id: str) -> Cohort:
        for cohort in self.cohorts:
            if cohort.id == cohort_id:
                return cohort
        known = ", ".join(c.id for c in self.cohorts)
        raise InvalidInput(f"cohort_id: trial {self.id} has no cohort '{cohort_id}' ({known})")


@dataclass(frozen=True)
class PatientOutcome:
    """What happened to one treated patient of a trial, as of the last contact.

    Death and progression are each one optional date (`died_on`, `progressed_on`, None
    while it has not happened) rather than a flag beside a date, so the two cannot
    disagree; `died` and `progressed` read them as booleans. Days count from the infusion
    (day 0).
    """

    case_id: str
    cohort_id: str
    evaluable: bool
    best_response: Response
    infused_on: date
    last_contact_on: date
    died_on: date | None = None
    progressed_on: date | None = None
    vein_to_vein_days: int | None = None
    max_crs_grade: int = 0
    max_icans_grade: int = 0

    def __post_init__(self) -> None:
        who = f"case {self.case_id}"
        if not self.case_id.strip():
            raise InvalidInput("case_id: an outcome needs the case it belongs to")
        response = _member(Response, self.best_response, "best_response")
        object.__setattr__(self, "best_response", response)
        if self.last_contact_on < self.infused_on:
            raise InvalidInput(f"last_contact_on: {who} was last seen before the infusion")
        for name in ("died_on", "progressed_on"):
            when = getattr(self, name)
            if when is not None and when < self.infused_on:
                raise InvalidInput(f"{name}: {who} has {when.isoformat()}, before the infusion")
        # RECIST 1.1 / IMWG: a best response of PD means the disease progressed.
        if response is Response.PD and self.progressed_on is None:
            raise InvalidInput(f"progressed_on: {who} has best response PD but no progression")
        if self.vein_to_vein_days is not None and not (
            _whole(self.vein_to_vein_days) and self.vein_to_vein_days >= 0
        ):
            raise InvalidInput(
                f"vein_to_vein_days: {who} has {self.vein_to_vein_days!r}; give whole days ≥ 0"
            )
        for name in ("max_crs_grade", "max_icans_grade"):
            grade = getattr(self, name)
            if not (_whole(grade) and 0 <= grade <= MAX_TOXICITY_GRADE):
                raise InvalidInput(f"{name}: {who} has {grade!r}; ASTCT grades are 1–5, 0 for none")

    @property
    def died(self) -> bool:
        return self.died_on is not None

    @property
    def progressed(self) -> bool:
        return self.progressed_on is not None


@dataclass(frozen=True)
class TimeToEvent:
    """Days from infusion to an event, or to censoring when the event was not seen."""

    days: int
    event: bool


def overall_survival(outcome: PatientOutcome, *, as_of: date) -> TimeToEvent:
    """Days from infusion to death; censored at the last contact or at the data cut-off."""
    _check_cutoff(outcome, as_of)
    if outcome.died_on is not None and outcome.died_on <= as_of:
        return TimeToEvent((outcome.died_on - outcome.infused_on).days, True)
    return TimeToEvent((min(outcome.last_contact_on, as_of) - outcome.infused_on).days, False)


def progression_free_survival(outcome: PatientOutcome, *, as_of: date) -> TimeToEvent:
    """Days from infusion to progression or death, whichever came first.

    Censored at the last contact (the data hold no separate last tumour assessment) or at
    the data cut-off.
    """
    _check_cutoff(outcome, as_of)
    events = [d for d in (outcome.progressed_on, outcome.died_on) if d is not None and d <= as_of]
    if events:
        return TimeToEvent((min(events) - outcome.infused_on).days, True)
    return TimeToEvent((min(outcome.last_contact_on, as_of) - outcome.infused_on).days, False)


def _check_cutoff(outcome: PatientOutcome, as_of: date) -> None:
    if as_of < outcome.infused_on:
        raise InvalidInput(
            f"as_of: case {outcome.case_id} was infused on {outcome.infused_on.isoformat()}, "
            f"after the data cut-off {as_of.isoformat()}"
        )


@dataclass(frozen=True)
class ResponseCounts:
    """Response counts of one group of patients: a cohort, or the whole trial."""

    group: str
    treated: int
    evaluable: int
    by_response: dict[Response, int] = field(default_factory=dict)

    @property
    def objective(self) -> int:
        """ORR numerator: CR + PR (+ sCR, VGPR under IMWG)."""
        return sum(n for r, n in self.by_response.items() if r.objective)

    @property
    def disease_control(self) -> int:
        """DCR numerator: ORR + SD (+ MR under IMWG)."""
        return sum(n for r, n in self.by_response.items() if r.disease_control)

    @property
    def complete(self) -> int:
        """CR-rate numerator: CR + sCR."""
        return sum(n for r, n in self.by_response.items() if r.complete)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "treated": self.treated,
            "evaluable": self.evaluable,
            "by_response": {r.value: n for r, n in self.by_response.items()},
            "objective": self.objective,
            "disease_control": self.disease_control,
            "complete": self.complete,
        }


def check_outcomes(trial: Trial, outcomes: Sequence[PatientOutcome]) -> None:
    """Refuse outcomes that do not fit the trial: unknown cohort, repeated case, wrong scale."""
    cohorts = {c.id for c in trial.cohorts}
    allowed = set(trial.criteria.responses)
    seen: set[str] = set()
    for index, outcome in enumerate(outcomes):
        where = f"outcomes[{index}]"
        if outcome.case_id in seen:
            raise InvalidInput(f"{where}.case_id: case {outcome.case_id} is listed twice")
        seen.add(outcome.case_id)
        if outcome.cohort_id not in cohorts:
            raise InvalidInput(
                f"{where}.cohort_id: case {outcome.case_id} names cohort "
                f"'{outcome.cohort_id}', which trial {trial.id} does not have"
            )
        if outcome.best_response not in allowed:
            raise InvalidInput(
                f"{where}.best_response: {outcome.best_response.value} is not a "
                f"{trial.criteria.label} response (case {outcome.case_id})"
            )


def count_responses(
    trial: Trial, outcomes: Sequence[PatientOutcome], cohort_id: str | None = None
) -> ResponseCounts:
    """Response counts of one cohort, or of the whole trial when `cohort_id` is None."""
    check_outcomes(trial, outcomes)
    if cohort_id is not None:
        trial.cohort(cohort_id)
        outcomes = [o for o in outcomes if o.cohort_id == cohort_id]
    evaluable = [o for o in outcomes if o.evaluable]
    tally = Counter(o.best_response for o in evaluable)
    return ResponseCounts(
        group=cohort_id or OVERALL,
        treated=len(outcomes),
        evaluable=len(evaluable),
        by_response={r: tally[r] for r in trial.criteria.responses},
    )


def responses_by_cohort(trial: Trial, outcomes: Sequence[PatientOutcome]) -> list[ResponseCounts]:
    """Response counts of each cohort in the trial's order, then of the whole trial."""
    groups: list[str | None] = [c.id for c in trial.cohorts]
    return [count_responses(trial, outcomes, group) for group in [*groups, None]]


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _member(enum: type[_E], value: str, name: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise InvalidInput(f"{name}: {value!r} is not one of {choices}") from None


# --- IMC001 IIT (Immunofoco release, 21 March 2025) -----------------------------------


@dataclass(frozen=True)
class TrialData:
    """A trial, its patients' outcomes and the data cut-off they were read at."""

    trial: Trial
    outcomes: tuple[PatientOutcome, ...]
    data_cutoff: date


@dataclass(frozen=True)
class _DemoPatient:
    case_id: str
    group: str  # "low", "middle" or "high" (the third group folds into middle by default)
    infused: int  # days after the start date
    best: Response
    progressed: int | None  # days after infusion
    died: int | None  # days after infusion
    vein_to_vein: int
    crs: int
    icans: int


# Days after infusion. M1 is the patient of the press release: PR confirmed by week 24,
# radical gastrectomy at week 27, alive and progression-free past 22 months at the cut-off.
_IMC001_PATIENTS = (
    _DemoPatient("IMC001-L01", "low", 0, Response.PR, 203, 330, 31, 1, 0),
    _DemoPatient("IMC001-L02", "low", 21, Response.SD, 98, 245, 29, 1, 0),
    _DemoPatient("IMC001-L03", "low", 56, Response.SD, 84, 196, 35, 0, 0),
    _DemoPatient("IMC001-M01", "middle", 35, Response.PR, None, None, 30, 2, 0),
    _DemoPatient("IMC001-M02", "middle", 70, Response.PR, 280, 460, 27, 1, 0),
    _DemoPatient("IMC001-M03", "middle", 91, Response.SD, 126, 400, 41, 2, 1),
    _DemoPatient("IMC001-M04", "middle", 119, Response.SD, 112, 420, 33, 1, 0),
    _DemoPatient("IMC001-M05", "middle", 140, Response.PD, 42, 175, 31, 1, 0),
    _DemoPatient("IMC001-H01", "high", 161, Response.SD, 150, 390, 36, 2, 0),
    _DemoPatient("IMC001-H02", "high", 189, Response.SD, 105, None, 28, 1, 0),
)
# "Surviving more than 22 months": the cut-off falls 700 days (23 months) after M01's infusion.
_IMC001_FOLLOW_UP_OF_M01 = 700

# Illustrative doses: the press release gives no dose levels.
_IMC001_COHORTS = {
    "low": Cohort("low", "Low dose (DL1)", 1e6),
    "middle": Cohort("middle", "Middle dose (DL2)", 3e6),
    "high": Cohort("high", "High dose (DL3)", 1e7),
}


def seed_003_trial(start: date, *, three_dose_groups: bool = False) -> TrialData:
    """Demo data shaped like the IMC001 investigator-initiated trial's results
    (Immunofoco release, 21 March 2025).

    EpCAM CAR-T in advanced gastric cancer, RECIST 1.1, as reported at ASCO and CSCO 2024:
    10 evaluable patients, DCR 90%, PR in 1 patient of the low-dose group (33.3%) and 2 of
    the middle-dose group (40%), median OS in the middle-dose group over 55 weeks, one
    middle-dose patient with a confirmed PR by week 24 alive past 22 months.

    Reconciliation. 1 PR of 3 (33.3%) and 2 of 5 (40%) make 8 patients, not 10; the
    press release speaks of a "middle-dose" group, so the other 2 most likely sat in a
    third (high-dose) group without a response. The issue asks for two cohorts, and with
    two cohorts holding 10 evaluable patients the middle group cannot be 2 of 5. So by
    default this keeps what the report leads with (10 evaluable, DCR 9/10, 1/3 PR in the
    low-dose group, 2 PRs in the middle-dose group, its median OS over 55 weeks, the
    long survivor) and gives up the 40%: the two extra patients join the middle-dose
    cohort, which reads 2/7 (28.6%). `three_dose_groups=True` puts them in a high-dose
    cohort of their own, where every published number holds (1/3, 2/5, 0/2).

    The 10 patients, their response and the DCR are the same either way; so are
    the middle-dose median OS (420 days, 60 weeks) and the long survivor. Doses,
    dates, toxicity grades and vein-to-vein times are invented for the demo (plausible for
    an autologous CAR-T: CRS grade 1–2, one ICANS grade 1). Infusions fall 0–189 days
    after `start`; the data cut-off is returned with the outcomes.
    """
    cutoff_days = _infused_offset("IMC001-M01") + _IMC001_FOLLOW_UP_OF_M01
    cutoff = start + timedelta(days=cutoff_days)
    groups = ("low", "middle", "high") if three_dose_groups else ("low", "middle")
    trial = Trial(
        id="IMC001-IIT",
        title="IMC001 (EpCAM CAR-T) in advanced gastric cancer: dose escalation (demo)",
        product_code="imc001",
        cohorts=tuple(_IMC001_COHORTS[g] for g in groups),
        criteria=ResponseCriteria.RECIST_1_1,
    )
    outcomes = tuple(_demo_outcome(p, start, cutoff, groups) for p in _IMC001_PATIENTS)
    return TrialData(trial, outcomes, cutoff)


def _infused_offset(case_id: str) -> int:
    return next(p.infused for p in _IMC001_PATIENTS if p.case_id == case_id)


def _demo_outcome(
    patient: _DemoPatient, start: date, cutoff: date, groups: Iterable[str]
) -> PatientOutcome:
    infused = start + timedelta(days=patient.infused)

    def after(days: int | None) -> date | None:
        return None if days is None else infused + timedelta(days=days)

    died = after(patient.died)
    cohort = patient.group if patient.group in groups else "middle"
    return PatientOutcome(
        case_id=patient.case_id,
        cohort_id=cohort,
        evaluable=True,
        best_response=patient.best,
        infused_on=infused,
        last_contact_on=died or cutoff,
        died_on=died,
        progressed_on=after(patient.progressed),
        vein_to_vein_days=patient.vein_to_vein,
        max_crs_grade=patient.crs,
        max_icans_grade=patient.icans,
    )
