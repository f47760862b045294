"""Follow-up after infusion: adverse events and their reporting clocks, and the visit schedule.

After infusion a physician follows CRS and ICANS daily for the first weeks, response for
months, and survival for years. This module knows two things about that period:

- when an adverse event must reach the regulator (`AdverseEvent.expedited_report_due`);
- which follow-up visits are done, due, overdue or still to come (`FollowUpSchedule`).

Both are pure: they take dates and return dates; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import TypeVar

from veinline.domain.catalog import Modality
from veinline.domain.errors import InvalidInput

# 21 CFR 312.32(c)(1): serious and unexpected suspected adverse reactions, 15 calendar days.
SERIOUS_UNEXPECTED_DAYS = 15
# 21 CFR 312.32(c)(2): unexpected fatal or life-threatening suspected adverse reactions,
# 7 calendar days.
FATAL_OR_LIFE_THREATENING_DAYS = 7
# CTCAE v5.0: grade 4 is "life-threatening consequences; urgent intervention indicated" and
# grade 5 is "death related to AE".
LIFE_THREATENING_GRADE = 4
FATAL_GRADE = 5

_E = TypeVar("_E", bound=StrEnum)


class AdverseEventOutcome(StrEnum):
    """How an adverse event ended, or stands at the last report (ICH E2B(R3) outcome codes)."""

    RECOVERED = "recovered"
    RECOVERING = "recovering"
    NOT_RECOVERED = "not_recovered"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae"
    FATAL = "fatal"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


@dataclass(frozen=True)
class AdverseEvent:
    """One adverse event in one patient, graded with CTCAE.

    `serious` is the investigator's or sponsor's judgement under 21 CFR 312.32(a) (death,
    life-threatening, hospitalisation, disability, congenital anomaly, or an important
    medical event); `expected` says whether the event is listed in the investigator's
    brochure at the severity observed; `suspected` whether there is a reasonable
    possibility the product caused it. Only suspected adverse reactions are expedited, so
    it defaults to True: when in doubt, report.
    """

    term: str
    grade: int
    serious: bool
    onset: date
    outcome: AdverseEventOutcome
    expected: bool
    suspected: bool = True

    def __post_init__(self) -> None:
        if not self.term.strip():
            raise InvalidInput("term: give the CTCAE term of the adverse event")
        if isinstance(self.grade, bool) or not isinstance(self.grade, int):
            raise InvalidInput(f"grade: a CTCAE grade is a whole number 1–5, got {self.grade!r}")
        if not 1 <= self.grade <= FATAL_GRADE:
            raise InvalidInput(f"grade: a CTCAE grade is 1–5, got {self.grade}")
        outcome = _member(AdverseEventOutcome, self.outcome, "outcome")
        object.__setattr__(self, "outcome", outcome)
        # CTCAE v5.0: grade 5 is death related to the AE, so grade and outcome must agree.
        if (self.grade == FATAL_GRADE) != (outcome is AdverseEventOutcome.FATAL):
            raise InvalidInput(
                f"outcome: a grade {self.grade} {self.term} cannot have outcome "
                f"'{outcome.label}'; grade 5 and a fatal outcome go together"
            )
        # 21 CFR 312.32(a): death is always a serious outcome.
        if self.grade == FATAL_GRADE and not self.serious:
            raise InvalidInput(f"serious: a fatal {self.term} is a serious adverse event")

    @property
    def fatal_or_life_threatening(self) -> bool:
        """Grade 4–5: CTCAE's 'life-threatening' and 'death' map onto 312.32(c)(2)."""
        return self.grade >= LIFE_THREATENING_GRADE

    def expedited_report_due(self, onset_or_awareness: date) -> date | None:
        """The last day an IND safety report may reach FDA, or None when none is needed.

        The clock starts when the sponsor learns that the event qualifies (21 CFR
        312.32(c)(1): "no later than 15 calendar days after the sponsor determines that
        the information qualifies"), so pass the awareness date, or the onset if that is
        all you know. A serious, unexpected suspected adverse reaction is due in 15 calendar
        days; when it is also fatal or life-threatening (taken here as CTCAE grade 4–5) in
        7 (312.32(c)(2)). Expected, non-serious or unrelated events are reported in the
        periodic reports instead.

        A grade 4 event the sponsor does not judge serious (a laboratory value after
        lymphodepletion, say) is not expedited: the serious flag is the sponsor's call.
        """
        if onset_or_awareness < self.onset:
            raise InvalidInput(
                f"onset_or_awareness: {onset_or_awareness.isoformat()} is before the onset "
                f"of {self.term} on {self.onset.isoformat()}"
            )
        if not (self.serious and self.suspected) or self.expected:
            return None
        if self.fatal_or_life_threatening:
            return onset_or_awareness + timedelta(days=FATAL_OR_LIFE_THREATENING_DAYS)
        return onset_or_awareness + timedelta(days=SERIOUS_UNEXPECTED_DAYS)


def _member(enum: type[_E], value: str, name: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise InvalidInput(f"{name}: {value!r} is not one of {choices}") from None


# --- the visit schedule -------------------------------------------------------------------


class VisitKind(StrEnum):
    """What a follow-up visit is for."""

    TOXICITY_CHECK = "toxicity_check"
    VISIT = "visit"
    LONG_TERM_EXAM = "long_term_exam"
    LONG_TERM_CONTACT = "long_term_contact"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    VisitKind.TOXICITY_CHECK: "Daily CRS / ICANS check",
    VisitKind.VISIT: "Follow-up visit",
    VisitKind.LONG_TERM_EXAM: "Long-term follow-up examination",
    VisitKind.LONG_TERM_CONTACT: "Long-term follow-up contact (visit, call or questionnaire)",
}


class VisitStatus(StrEnum):
    """Where a planned visit stands on a given day."""

    DONE = "done"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return _STATUS_COLOURS[self]


_STATUS_COLOURS = {
    VisitStatus.DONE: "green",
    VisitStatus.DUE: "blue",
    VisitStatus.OVERDUE: "red",
    VisitStatus.UPCOMING: "grey",
}


@dataclass(frozen=True)
class PlannedVisit:
    """One visit of a schedule: a day after infusion (day 0) and its window either side."""

    id: str
    day: int
    kind: VisitKind = VisitKind.VISIT
    early: int = 0
    late: int = 0

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidInput("id: a planned visit needs an id")
        if self.day < 1:
            raise InvalidInput(f"day: visit {self.id} must fall after the infusion (day 0)")
        if self.early < 0 or self.late < 0:
            raise InvalidInput(f"early/late: visit {self.id} has a negative window")
        if self.day - self.early < 1:
            raise InvalidInput(f"early: the window of visit {self.id} opens on or before day 0")
        object.__setattr__(self, "kind", _member(VisitKind, self.kind, "kind"))


@dataclass(frozen=True)
class Visit:
    """A planned visit for one patient: its dates and its status on a given day."""

    planned: PlannedVisit
    target: date
    opens: date
    closes: date
    status: VisitStatus
    done_on: date | None = None

    @property
    def id(self) -> str:
        return self.planned.id


@dataclass(frozen=True)
class FollowUpSchedule:
    """The follow-up visits after one infusion of a product of a given modality.

    The defaults (`for_modality`) are a starting point a protocol overrides; build a
    schedule with your own `PlannedVisit`s for a protocol that differs.
    """

    name: str
    visits: tuple[PlannedVisit, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        visits = tuple(sorted(self.visits, key=lambda v: (v.day, v.id)))
        if not visits:
            raise InvalidInput(f"visits: schedule {self.name} has no visits")
        ids = [v.id for v in visits]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise InvalidInput(f"visits: schedule {self.name} repeats ids {', '.join(duplicates)}")
        object.__setattr__(self, "visits", visits)

    @classmethod
    def for_modality(cls, modality: Modality | str) -> FollowUpSchedule:
        """The default schedule of a modality (see `car_t_schedule` and `msc_schedule`)."""
        modality = _member(Modality, modality, "modality")
        if modality is Modality.AUTOLOGOUS_CAR_T:
            return car_t_schedule()
        return msc_schedule()

    def visits_due(
        self, infused_on: date, done: Collection[date | str], today: date
    ) -> list[Visit]:
        """Every visit of the schedule with its status on `today`, in date order.

        `done` holds visit ids, or the dates visits took place. A date counts for the
        not-yet-done visit whose window holds it and whose target is nearest (an earlier
        target wins a tie); a date no window holds is an unscheduled visit and counts for
        none. A visit not done is upcoming before its window opens, due while it is open
        and overdue once it has closed.
        """
        if today < infused_on:
            raise InvalidInput(
                f"today: {today.isoformat()} is before the infusion on {infused_on.isoformat()}"
            )
        done_on = self._match(infused_on, done, today)
        result = []
        for planned in self.visits:
            target = infused_on + timedelta(days=planned.day)
            opens = target - timedelta(days=planned.early)
            closes = target + timedelta(days=planned.late)
            if planned.id in done_on:
                status = VisitStatus.DONE
            elif today < opens:
                status = VisitStatus.UPCOMING
            elif today <= closes:
                status = VisitStatus.DUE
            else:
                status = VisitStatus.OVERDUE
            result.append(Visit(planned, target, opens, closes, status, done_on.get(planned.id)))
        return result

    def _match(
        self, infused_on: date, done: Iterable[date | str], today: date
    ) -> dict[str, date | None]:
        known = {v.id for v in self.visits}
        matched: dict[str, date | None] = {}
        dates: list[date] = []
        for item in done:
            if isinstance(item, date):
                if item < infused_on or item > today:
                    raise InvalidInput(
                        f"done: a visit on {item.isoformat()} falls outside "
                        f"{infused_on.isoformat()}–{today.isoformat()}"
                    )
                dates.append(item)
            elif item in known:
                matched[item] = None
            else:
                raise InvalidInput(f"done: schedule {self.name} has no visit '{item}'")
        for day in sorted(dates):
            offset = (day - infused_on).days
            candidates = [
                v
                for v in self.visits
                if v.id not in matched and v.day - v.early <= offset <= v.day + v.late
            ]
            if candidates:
                best = min(candidates, key=lambda v: (abs(offset - v.day), v.day))
                matched[best.id] = day
        return matched


# Long-term follow-up of gene-modified cells: FDA guidance "Long Term Follow-Up After
# Administration of Human Gene Therapy Products" (2020) asks up to 15 years for integrating
# vectors, as a minimum of 5 years of annual examinations then 10 years of annual contact
# (in person or by questionnaire); CIBMTR collects the same 15 years for CAR-T.
CAR_T_LTFU_YEARS = 15
CAR_T_EXAM_YEARS = 5
CAR_T_DAILY_CHECK_DAYS = 14
DAYS_PER_YEAR = 365


def car_t_schedule(*, years: int = CAR_T_LTFU_YEARS) -> FollowUpSchedule:
    """Default CAR-T follow-up: days 1–14 daily, days 28, 90, 180, then yearly to 15 years.

    - Days 1–14, a CRS / ICANS check each day, no window: CRS and ICANS start in the first
      two weeks for nearly all patients, and a missed day is missed (ASTCT grading is daily).
    - Day 28 ± 3 (first response assessment), day 90 ± 7, day 180 ± 14.
    - Year 1–5 examinations and year 6–15 contacts, ± 30 days, at 365-day multiples
      (anniversaries drift by a day per leap year, within the window).
    """
    visits = [
        PlannedVisit(f"D{day}", day, VisitKind.TOXICITY_CHECK)
        for day in range(1, CAR_T_DAILY_CHECK_DAYS + 1)
    ]
    visits += [
        PlannedVisit("D28", 28, VisitKind.VISIT, 3, 3),
        PlannedVisit("D90", 90, VisitKind.VISIT, 7, 7),
        PlannedVisit("D180", 180, VisitKind.VISIT, 14, 14),
    ]
    for year in range(1, years + 1):
        kind = VisitKind.LONG_TERM_EXAM if year <= CAR_T_EXAM_YEARS else VisitKind.LONG_TERM_CONTACT
        visits.append(PlannedVisit(f"Y{year}", year * DAYS_PER_YEAR, kind, 30, 30))
    return FollowUpSchedule("CAR-T", tuple(visits))


def msc_schedule() -> FollowUpSchedule:
    """Default MSC follow-up: days 7, 14, 28, 56 and 100.

    Steroid-refractory acute GVHD trials of MSCs read the response at day 28 (the usual
    primary end point), its durability at day 56, and survival and relapse at day 100.
    Windows: ± 2 days at days 7 and 14, ± 3 at day 28, ± 7 at days 56 and 100. MSCs are not
    gene-modified, so no 15-year follow-up is asked.
    """
    return FollowUpSchedule(
        "MSC",
        (
            PlannedVisit("D7", 7, VisitKind.VISIT, 2, 2),
            PlannedVisit("D14", 14, VisitKind.VISIT, 2, 2),
            PlannedVisit("D28", 28, VisitKind.VISIT, 3, 3),
            PlannedVisit("D56", 56, VisitKind.VISIT, 7, 7),
            PlannedVisit("D100", 100, VisitKind.VISIT, 7, 7),
        ),
    )
