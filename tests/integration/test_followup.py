"""Follow-up assessments on an infused case, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes import present
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.services import commands, ledger

CRS_GRADE_3 = {
    "temperature_c": 39.2,
    "fever_masked_by_treatment": False,
    "hypotension": True,
    "vasopressors": ["norepinephrine", "vasopressin"],
    "oxygen": {"device": "nasal_cannula", "flow_l_min": 3},
    "death_from_crs": False,
}


def _case(app: App, state: CaseState) -> Case:
    driver = Driver(app.bus, app.user, app.clock)
    case = driver.enrol(EQUE_CEL_HK, patient_name="Follow Up", wristband=f"WB-F-{state.value}")
    return driver.advance(case, EQUE_CEL_HK, state)


def test_an_assessment_is_graded_with_reasons_and_kept_in_the_ledger(demo_app: App) -> None:
    case = _case(demo_app, CaseState.INFUSED)
    record = demo_app.bus.handle(
        commands.RecordAssessment(case.id, "crs", demo_app.clock().date().isoformat(), CRS_GRADE_3),
        actor=demo_app.user("nurse"),
    )
    assert record.result["grade"] == 3
    assert any("vasopressin" in r for r in record.result["reasons"])
    history = ledger.history(demo_app.uow(), record.id)
    assert history[0].action == "followup.crs" and history[0].actor == "nurse"
    assert ledger.verify(demo_app.uow()).ok


def test_a_response_series_takes_the_newest_response(demo_app: App) -> None:
    case = _case(demo_app, CaseState.FOLLOW_UP)
    series: dict[str, object] = {
        "assessments": [
            {
                "sum_mm": 100,
                "new_lesions": False,
                "all_targets_gone": False,
                "nodes_all_below_10mm": False,
            },
            {
                "sum_mm": 60,
                "new_lesions": False,
                "all_targets_gone": False,
                "nodes_all_below_10mm": False,
            },
        ]
    }
    record = demo_app.bus.handle(
        commands.RecordAssessment(case.id, "recist", demo_app.clock().date().isoformat(), series),
        actor=demo_app.user("physician"),
    )
    assert record.summary == "PR"


def test_follow_up_is_refused_before_infusion_and_for_the_wrong_role(demo_app: App) -> None:
    early = _case(demo_app, CaseState.RECEIVED_AT_SITE)
    today = demo_app.clock().date().isoformat()
    with pytest.raises(NotAllowed, match="follow-up starts after infusion"):
        demo_app.bus.handle(
            commands.RecordAssessment(early.id, "crs", today, CRS_GRADE_3),
            actor=demo_app.user("physician"),
        )
    infused = _case(demo_app, CaseState.INFUSED)
    with pytest.raises(NotAllowed, match="an apheresis nurse may not record"):
        demo_app.bus.handle(
            commands.RecordAssessment(infused.id, "survival", today, {"status": "alive"}),
            actor=demo_app.user("nurse"),
        )
    with pytest.raises(InvalidInput, match="death_from_crs"):
        incomplete = {k: v for k, v in CRS_GRADE_3.items() if k != "death_from_crs"}
        demo_app.bus.handle(
            commands.RecordAssessment(infused.id, "crs", today, incomplete),
            actor=demo_app.user("physician"),
        )
    with pytest.raises(InvalidInput, match="in the future"):
        demo_app.bus.handle(
            commands.RecordAssessment(infused.id, "crs", "2099-01-01", CRS_GRADE_3),
            actor=demo_app.user("physician"),
        )
    with demo_app.uow() as uow:
        assert uow.assessments.find(case_id=infused.id) == []


def test_a_serious_unexpected_event_is_flagged_with_its_report_due_date(demo_app: App) -> None:
    case = _case(demo_app, CaseState.INFUSED)
    today = demo_app.clock().date()
    record = demo_app.bus.handle(
        commands.RecordAssessment(
            case.id,
            "adverse_event",
            today.isoformat(),
            {
                "term": "Cytokine release syndrome",
                "grade": 4,
                "serious": True,
                "expected": False,
                "outcome": "recovering",
            },
        ),
        actor=demo_app.user("physician"),
    )
    # 21 CFR 312.32(c)(2): life-threatening and unexpected -> 7 calendar days.
    assert record.result["expedited_report_due"] == (today + timedelta(days=7)).isoformat()
    assert "serious" in record.summary and "expedited" in record.summary
    expected = demo_app.bus.handle(
        commands.RecordAssessment(
            case.id,
            "adverse_event",
            today.isoformat(),
            {
                "term": "Neutropenia",
                "grade": 3,
                "serious": False,
                "expected": True,
                "outcome": "recovering",
            },
        ),
        actor=demo_app.user("physician"),
    )
    assert expected.result["expedited_report_due"] is None
    with pytest.raises(InvalidInput, match="outcome"):
        demo_app.bus.handle(
            commands.RecordAssessment(
                case.id,
                "adverse_event",
                today.isoformat(),
                {
                    "term": "Sepsis",
                    "grade": 5,
                    "serious": True,
                    "expected": False,
                    "outcome": "recovering",
                },
            ),
            actor=demo_app.user("physician"),
        )


def test_the_case_shows_its_follow_up_schedule_with_overdue_visits(demo_app: App) -> None:
    from veinline.entrypoints.views import cases as views

    case = _case(demo_app, CaseState.FOLLOW_UP)
    later = demo_app.clock() + timedelta(days=40)
    with demo_app.uow() as uow:
        detail = views.case_detail(uow, case.id, demo_app.user("physician"), now=later)
    statuses = {v["status"] for v in detail["visits"]}
    assert "overdue" in statuses  # daily checks of the first fortnight were never recorded
    assert (
        detail["visits"][0]["target"] >= present(case.infusion).infusion_started_at.isoformat()[:10]
    )


def test_the_schedule_reads_on_a_leap_day(demo_app: App) -> None:
    from datetime import UTC, datetime

    from veinline.entrypoints.views import cases as views

    case = _case(demo_app, CaseState.FOLLOW_UP)
    with demo_app.uow() as uow:
        detail = views.case_detail(
            uow, case.id, demo_app.user("physician"), now=datetime(2028, 2, 29, 6, tzinfo=UTC)
        )
    assert any(v["status"] == "overdue" for v in detail["visits"])
