"""Trials: protocol, cases in cohorts, imported outcomes, the report — SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from veinline.adapters.seed.cases import Driver, Route, load_demo_trial
from veinline.adapters.trial_report import build_report, write_report
from veinline.bootstrap import App
from veinline.domain.case import CaseState
from veinline.domain.errors import Conflict, InvalidInput, NotAllowed
from veinline.services import commands, ledger
from veinline.services.trials import trial_data

IMC001_CN = Route(
    product="imc001",
    jurisdiction="CN",
    treatment_site="demo-sh-treatment",
    apheresis_site="demo-sh-apheresis",
    manufacturing_site="demo-suzhou-manufacturing",
    facts={
        "diagnosis": "gastric_cancer",
        "disease_stage": "metastatic",
        "biomarkers": {"EpCAM": "positive"},
        "weight_kg": 60,
    },
)


def test_the_demo_trial_reports_like_seed_003(demo_app: App, tmp_path: Path) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    assert load_demo_trial(driver) is True
    assert load_demo_trial(driver) is False
    with demo_app.uow() as uow:
        data = trial_data(uow, "IMC001-IIT", as_of=demo_app.clock().date())
    report = build_report(data.trial, data.outcomes, as_of=data.data_cutoff)
    overall = report.to_dict()
    rows = {r["group"]: r for r in overall["responses"]}
    assert (rows["overall"]["dcr"]["successes"], rows["overall"]["dcr"]["n"]) == (9, 10)
    assert (rows["low"]["orr"]["successes"], rows["low"]["orr"]["n"]) == (1, 3)
    written = {p.name for p in write_report(report, tmp_path)}
    assert {"report.pdf", "summary.csv", "km_os.png"} <= written
    assert ledger.verify(demo_app.uow()).ok


def test_a_case_in_a_cohort_contributes_its_follow_up(demo_app: App) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    physician = demo_app.user("physician")
    demo_app.bus.handle(
        commands.CreateTrial(
            id="IMC001-CN",
            title="IMC001 in EpCAM+ solid tumours",
            product_code="imc001",
            criteria="recist_1_1",
            cohorts=[{"id": "dl1", "dose_label": "DL1", "dose_cells_per_kg": 1e6}],
        ),
        actor=physician,
    )
    case = driver.advance(
        driver.enrol(IMC001_CN, patient_name="Trial Patient", wristband="WB-T"),
        IMC001_CN,
        CaseState.FOLLOW_UP,
    )
    demo_app.bus.handle(
        commands.EnrolInCohort("IMC001-CN", case.id, "dl1"), actor=demo_app.user("coordinator")
    )
    today = demo_app.clock().date().isoformat()
    series: dict[str, object] = {
        "assessments": [
            {
                "sum_mm": 80,
                "new_lesions": False,
                "all_targets_gone": False,
                "nodes_all_below_10mm": False,
            },
            {
                "sum_mm": 40,
                "new_lesions": False,
                "all_targets_gone": False,
                "nodes_all_below_10mm": False,
            },
        ]
    }
    demo_app.bus.handle(
        commands.RecordAssessment(case.id, "recist", today, series), actor=physician
    )
    with demo_app.uow() as uow:
        data = trial_data(uow, "IMC001-CN", as_of=demo_app.clock().date())
    (outcome,) = data.outcomes
    assert outcome.best_response.value == "PR" and outcome.evaluable
    with pytest.raises(Conflict):
        demo_app.bus.handle(commands.EnrolInCohort("IMC001-CN", case.id, "dl1"), actor=physician)


def test_bad_trial_input_is_refused_whole(demo_app: App) -> None:
    physician = demo_app.user("physician")
    with pytest.raises(NotAllowed):
        demo_app.bus.handle(
            commands.CreateTrial(
                id="T1",
                title="t",
                product_code="imc001",
                criteria="recist_1_1",
                cohorts=[{"id": "a", "dose_label": "A", "dose_cells_per_kg": 1}],
            ),
            actor=demo_app.user("courier"),
        )
    demo_app.bus.handle(
        commands.CreateTrial(
            id="T1",
            title="t",
            product_code="imc001",
            criteria="recist_1_1",
            cohorts=[{"id": "a", "dose_label": "A", "dose_cells_per_kg": 1}],
        ),
        actor=physician,
    )
    good: dict[str, object] = {
        "subject": "S1",
        "cohort_id": "a",
        "best_response": "SD",
        "infused_on": "2025-01-01",
        "last_contact_on": "2025-06-01",
    }
    bad = {**good, "subject": "S2", "last_contact_on": "2024-01-01"}
    with pytest.raises(InvalidInput, match="S2"):
        demo_app.bus.handle(commands.ImportTrialOutcomes("T1", [good, bad]), actor=physician)
    with demo_app.uow() as uow:
        assert uow.trial_patients.find(trial_id="T1") == []
