"""Follow-up: expedited reporting clocks for adverse events, and the visit schedule."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from veinline.domain.catalog import Modality
from veinline.domain.errors import InvalidInput
from veinline.domain.followup import (
    AdverseEvent,
    AdverseEventOutcome,
    FollowUpSchedule,
    PlannedVisit,
    Visit,
    VisitKind,
    VisitStatus,
    car_t_schedule,
    msc_schedule,
)

ONSET = date(2026, 3, 10)
INFUSED = date(2026, 3, 2)


def event(**changes: Any) -> AdverseEvent:
    fields: dict[str, Any] = {
        "term": "Cytokine release syndrome",
        "grade": 3,
        "serious": True,
        "onset": ONSET,
        "outcome": AdverseEventOutcome.RECOVERED,
        "expected": False,
    }
    fields.update(changes)
    return AdverseEvent(**fields)


def by_id(visits: list[Visit]) -> dict[str, Visit]:
    return {v.id: v for v in visits}


# --- adverse events: 21 CFR 312.32(c) -----------------------------------------------------


def test_serious_unexpected_event_is_due_in_15_calendar_days() -> None:
    assert event(grade=3).expedited_report_due(ONSET) == date(2026, 3, 25)


def test_life_threatening_unexpected_event_is_due_in_7_calendar_days() -> None:
    assert event(grade=4).expedited_report_due(ONSET) == date(2026, 3, 17)


def test_fatal_unexpected_event_is_due_in_7_calendar_days() -> None:
    fatal = event(grade=5, outcome=AdverseEventOutcome.FATAL)
    assert fatal.expedited_report_due(ONSET) == date(2026, 3, 17)


def test_the_clock_runs_from_the_day_the_sponsor_learns_of_the_event() -> None:
    assert event().expedited_report_due(ONSET + timedelta(days=4)) == date(2026, 3, 29)


@pytest.mark.parametrize(
    "changes",
    [
        {"expected": True},
        {"serious": False},
        {"serious": False, "grade": 4},
        {"expected": True, "grade": 5, "outcome": AdverseEventOutcome.FATAL},
        {"suspected": False},
    ],
    ids=["expected", "not-serious", "grade-4-not-serious", "expected-death", "not-suspected"],
)
def test_expected_non_serious_or_unrelated_events_need_no_expedited_report(
    changes: dict[str, Any],
) -> None:
    assert event(**changes).expedited_report_due(ONSET) is None


def test_awareness_before_onset_is_refused() -> None:
    with pytest.raises(InvalidInput, match="onset_or_awareness"):
        event().expedited_report_due(ONSET - timedelta(days=1))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grade": 0}, "grade"),
        ({"grade": 6}, "grade"),
        ({"grade": True}, "grade"),
        ({"term": " "}, "term"),
        ({"outcome": "cured"}, "outcome"),
        ({"grade": 5}, "outcome"),
        ({"outcome": AdverseEventOutcome.FATAL}, "outcome"),
        ({"grade": 5, "outcome": "fatal", "serious": False}, "serious"),
    ],
)
def test_adverse_event_refuses_inconsistent_fields_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        event(**changes)


def test_outcome_given_as_text_becomes_the_enum() -> None:
    assert event(outcome="recovering").outcome is AdverseEventOutcome.RECOVERING


# --- the schedule -------------------------------------------------------------------------


def test_car_t_default_checks_daily_for_two_weeks_then_visits_to_fifteen_years() -> None:
    schedule = FollowUpSchedule.for_modality(Modality.AUTOLOGOUS_CAR_T)
    days = [v.day for v in schedule.visits]
    assert days[:14] == list(range(1, 15))
    assert days[14:17] == [28, 90, 180]
    assert days[17:] == [365 * year for year in range(1, 16)]
    kinds = {v.id: v.kind for v in schedule.visits}
    assert kinds["D3"] is VisitKind.TOXICITY_CHECK
    assert kinds["Y5"] is VisitKind.LONG_TERM_EXAM
    assert kinds["Y6"] is VisitKind.LONG_TERM_CONTACT


def test_msc_default_visits_at_days_7_14_28_56_100() -> None:
    schedule = FollowUpSchedule.for_modality("allogeneic_msc")
    assert [v.day for v in schedule.visits] == [7, 14, 28, 56, 100]


def test_unknown_modality_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^modality:"):
        FollowUpSchedule.for_modality("gene_therapy")


def test_visit_inside_its_window_is_due_and_later_ones_upcoming() -> None:
    visits = by_id(msc_schedule().visits_due(INFUSED, set(), INFUSED + timedelta(days=27)))
    assert visits["D28"].status is VisitStatus.DUE
    assert visits["D28"].opens == INFUSED + timedelta(days=25)
    assert visits["D28"].closes == INFUSED + timedelta(days=31)
    assert visits["D56"].status is VisitStatus.UPCOMING


def test_visit_is_overdue_the_day_after_its_window_closes() -> None:
    on_last_day = by_id(msc_schedule().visits_due(INFUSED, set(), INFUSED + timedelta(days=31)))
    day_after = by_id(msc_schedule().visits_due(INFUSED, set(), INFUSED + timedelta(days=32)))
    assert on_last_day["D28"].status is VisitStatus.DUE
    assert day_after["D28"].status is VisitStatus.OVERDUE


def test_a_missed_daily_toxicity_check_is_overdue_next_day() -> None:
    visits = by_id(car_t_schedule().visits_due(INFUSED, set(), INFUSED + timedelta(days=4)))
    assert visits["D3"].status is VisitStatus.OVERDUE
    assert visits["D4"].status is VisitStatus.DUE
    assert visits["D5"].status is VisitStatus.UPCOMING


def test_a_visit_date_inside_the_window_marks_that_visit_done() -> None:
    seen = INFUSED + timedelta(days=30)
    visits = by_id(msc_schedule().visits_due(INFUSED, {seen}, INFUSED + timedelta(days=40)))
    assert visits["D28"].status is VisitStatus.DONE
    assert visits["D28"].done_on == seen
    assert visits["D7"].status is VisitStatus.OVERDUE


def test_a_visit_id_marks_that_visit_done() -> None:
    visits = by_id(msc_schedule().visits_due(INFUSED, {"D7"}, INFUSED + timedelta(days=40)))
    assert visits["D7"].status is VisitStatus.DONE
    assert visits["D7"].done_on is None


def test_a_date_in_two_windows_counts_for_the_nearest_target() -> None:
    schedule = FollowUpSchedule(
        "overlap", (PlannedVisit("A", 10, early=5, late=5), PlannedVisit("B", 14, early=5, late=5))
    )
    visits = by_id(
        schedule.visits_due(INFUSED, {INFUSED + timedelta(days=13)}, INFUSED + timedelta(days=13))
    )
    assert visits["B"].status is VisitStatus.DONE
    assert visits["A"].status is VisitStatus.DUE


def test_two_dates_in_overlapping_windows_fill_both_visits() -> None:
    schedule = FollowUpSchedule(
        "overlap", (PlannedVisit("A", 10, early=5, late=5), PlannedVisit("B", 14, early=5, late=5))
    )
    done = {INFUSED + timedelta(days=12), INFUSED + timedelta(days=13)}
    visits = schedule.visits_due(INFUSED, done, INFUSED + timedelta(days=13))
    assert all(v.status is VisitStatus.DONE for v in visits)


def test_an_unscheduled_visit_counts_for_no_planned_visit() -> None:
    visits = msc_schedule().visits_due(
        INFUSED, {INFUSED + timedelta(days=40)}, INFUSED + timedelta(days=41)
    )
    assert VisitStatus.DONE not in {v.status for v in visits}


def test_visits_come_back_in_date_order_with_a_custom_schedule() -> None:
    schedule = FollowUpSchedule(
        "protocol 7", (PlannedVisit("W4", 28, early=3, late=3), PlannedVisit("W1", 7))
    )
    visits = schedule.visits_due(INFUSED, set(), INFUSED)
    assert [v.id for v in visits] == ["W1", "W4"]
    assert [v.status for v in visits] == [VisitStatus.UPCOMING, VisitStatus.UPCOMING]


def test_visit_statuses_have_a_label_and_a_colour() -> None:
    assert VisitStatus.OVERDUE.label == "Overdue"
    assert VisitStatus.OVERDUE.colour == "red"


@pytest.mark.parametrize(
    ("done", "today", "field"),
    [
        (set(), INFUSED - timedelta(days=1), "today"),
        ({"D999"}, INFUSED + timedelta(days=5), "done"),
        ({INFUSED - timedelta(days=1)}, INFUSED + timedelta(days=5), "done"),
        ({INFUSED + timedelta(days=9)}, INFUSED + timedelta(days=5), "done"),
    ],
    ids=["today-before-infusion", "unknown-id", "visit-before-infusion", "visit-in-future"],
)
def test_visits_due_refuses_impossible_input(
    done: set[date | str], today: date, field: str
) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        msc_schedule().visits_due(INFUSED, done, today)


@pytest.mark.parametrize(
    ("visits", "field"),
    [
        ((), "visits"),
        ((PlannedVisit("A", 7), PlannedVisit("A", 14)), "visits"),
    ],
)
def test_schedule_refuses_empty_or_repeated_visits(
    visits: tuple[PlannedVisit, ...], field: str
) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        FollowUpSchedule("bad", visits)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"id": "D0", "day": 0}, "day"),
        ({"id": "D2", "day": 2, "early": 2}, "early"),
        ({"id": "D2", "day": 2, "late": -1}, "early/late"),
        ({"id": "", "day": 2}, "id"),
        ({"id": "D2", "day": 2, "kind": "party"}, "kind"),
    ],
)
def test_planned_visit_refuses_bad_fields_naming_the_field(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        PlannedVisit(**kwargs)
