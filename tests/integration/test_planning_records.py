"""Planning inside veinline: ledgered triage weights, stored plans, planned dates on cases."""

from __future__ import annotations

import json

import pytest

from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import CaseState
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.planning import generate
from veinline.planning.scenario import scenario_to_json
from veinline.services import commands, ledger
from veinline.services.planning import weights_in_force


def test_a_change_of_triage_weights_is_in_the_ledger_with_its_reason(demo_app: App) -> None:
    planner = demo_app.user("planner")
    with pytest.raises(InvalidInput, match="reason"):
        demo_app.bus.handle(commands.SetTriageWeights({"urgency": 80}, " "), actor=planner)
    with pytest.raises(NotAllowed):
        demo_app.bus.handle(
            commands.SetTriageWeights({"urgency": 80}, "why"), actor=demo_app.user("nurse")
        )
    demo_app.bus.handle(
        commands.SetTriageWeights({"urgency": 80}, "committee decision 12"), actor=planner
    )
    with demo_app.uow() as uow:
        assert weights_in_force(uow).urgency == 80
    (entry,) = ledger.history(demo_app.uow(), "triage_settings/triage")
    assert entry.reason == "committee decision 12" and entry.actor == "planner"
    assert entry.after is not None and entry.after["weights"]["urgency"] == 80


def test_a_stored_plan_gives_waiting_cases_their_dates(demo_app: App) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Planned", wristband="WB-P"),
        EQUE_CEL_HK,
        CaseState.ELIGIBLE,
    )
    scenario = json.loads(scenario_to_json(generate.small(patients=12, seed=3)))
    scenario["patients"][0]["id"] = case.id
    record = demo_app.bus.handle(
        commands.MakePlan(scenario, "optimal", 2.0), actor=demo_app.user("planner")
    )
    assert record.plan["metrics"]["patients"] == 12
    applied = demo_app.bus.handle(commands.ApplyPlan(record.id), actor=demo_app.user("planner"))
    assert applied.applied_cases == [case.id]
    with demo_app.uow() as uow:
        planned = uow.cases.get(case.id)
        assert planned is not None
    booked = next(a for a in record.plan["assignments"] if a["patient"] == case.id)
    assert planned.planned["infusion_date"] == booked["infusion_date"]
    assert ledger.verify(demo_app.uow()).ok


def test_a_bad_scenario_is_refused_and_nothing_is_stored(demo_app: App) -> None:
    with pytest.raises(InvalidInput):
        demo_app.bus.handle(
            commands.MakePlan({"start_date": "2026-01-01"}), actor=demo_app.user("planner")
        )
    with demo_app.uow() as uow:
        assert uow.plans.list() == []
