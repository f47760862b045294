"""Planning handlers: the triage weights in force (ledgered), plans made and applied.

The planning models (pydantic) and the solvers are imported inside the handlers: the bus
imports this module on every start, and only these commands need them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from veinline.domain.case import CaseState
from veinline.domain.errors import InvalidInput, NotFound
from veinline.domain.job import check_plan
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.planning_records import TRIAGE_SETTINGS_ID, PlanRecord, TriageSettings
from veinline.domain.user import User
from veinline.services import commands
from veinline.services.handlers import Clock
from veinline.services.unit_of_work import AbstractUnitOfWork

if TYPE_CHECKING:
    from veinline.planning.plan_io import Plan
    from veinline.planning.weights import TriageWeights

ACTIVE = frozenset(CaseState) - {CaseState.INFUSED, CaseState.FOLLOW_UP, CaseState.CANCELLED}


def weights_in_force(uow: AbstractUnitOfWork) -> TriageWeights:
    """The stored weights, or the documented defaults when none were ever set."""
    from veinline.planning.weights import TriageWeights

    settings = uow.triage.get(TRIAGE_SETTINGS_ID)
    return TriageWeights.model_validate(settings.weights) if settings else TriageWeights()


def set_triage_weights(
    cmd: commands.SetTriageWeights, uow: AbstractUnitOfWork, *, actor: User
) -> TriageSettings:
    from pydantic import ValidationError

    from veinline.planning.weights import TriageWeights

    if not cmd.reason.strip():
        raise InvalidInput("a change of triage weights needs a reason: it changes who goes first")
    try:
        weights = TriageWeights.model_validate(cmd.weights)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "weights"
        raise InvalidInput(f"{where}: {first['msg']}") from None
    with uow:
        settings = uow.triage.get(TRIAGE_SETTINGS_ID)
        if settings is None:
            settings = TriageSettings(
                id=TRIAGE_SETTINGS_ID, weights=weights.model_dump(mode="json")
            )
            uow.triage.add(settings)
            before = None
        else:
            before = settings.snapshot()
            settings.weights = weights.model_dump(mode="json")
            settings.version += 1
        uow.record(
            settings,
            actor=actor,
            action=LedgerAction.PLANNING_WEIGHTS_SET,
            before=before,
            reason=cmd.reason,
        )
        uow.commit()
        return settings


def make_plan(
    cmd: commands.MakePlan, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> PlanRecord:
    """Solve outside any transaction (it takes seconds), then store the plan."""
    from veinline.planning.scenario import parse_scenario

    scenario = parse_scenario(cmd.scenario)
    # The same bounds as a plan job's: a plan stored here is shown on a page, and a
    # larger network is planned in parts or with `veinline plan`.
    check_plan(cmd.policy, cmd.time_limit_s, len(scenario.patients))
    with uow:
        weights = weights_in_force(uow)
    from veinline.planning import fifo, scheduler  # NumPy, SciPy, OR-Tools

    if cmd.policy == "fifo":
        result: Plan = fifo.fifo_plan(scenario, weights=weights)
    else:
        options = scheduler.SolverOptions(time_limit_s=cmd.time_limit_s)
        result = scheduler.plan(scenario, options=options, weights=weights)
    with uow:
        number = uow.sequences.next("plan", "VL", clock().year)
        record = PlanRecord(
            id=f"P{clock().year}-{number:04d}",
            created_at=clock(),
            created_by=actor.username,
            policy=cmd.policy,
            scenario=scenario.model_dump(mode="json"),
            plan=result.model_dump(mode="json"),
        )
        uow.plans.add(record)
        uow.record(
            record,
            actor=actor,
            action=LedgerAction.PLANNING_PLAN_MADE,
            before=None,
            reason=f"{cmd.policy} plan of {len(scenario.patients)} patients",
        )
        uow.commit()
        return record


def apply_plan(
    cmd: commands.ApplyPlan, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> PlanRecord:
    """Cases named in the plan take its dates; one transaction for all of them."""
    from veinline.planning.plan_io import parse_plan

    with uow:
        record = uow.plans.get(cmd.plan_id)
        if record is None:
            raise NotFound(f"there is no plan {cmd.plan_id}")
        plan = parse_plan(record.plan)
        applied: list[str] = []
        for item in plan.assignments:
            case = uow.cases.get(item.patient)
            if case is None or case.state not in ACTIVE:
                continue
            before = case.snapshot()
            case.planned = {
                **case.planned,
                "apheresis_date": item.apheresis_date.isoformat(),
                "manufacturing_start": item.manufacturing_start.isoformat(),
                "manufacturing_end": item.manufacturing_end.isoformat(),
                "release_date": item.release_date.isoformat(),
                "infusion_date": item.infusion_date.isoformat(),
                "suite": f"{item.facility} suite {item.suite}",
            }
            case.version += 1
            uow.record(
                case,
                actor=actor,
                action=LedgerAction.CASE_PLANNED,
                before=before,
                reason=f"{cmd.reason} ({record.id})",
            )
            applied.append(case.id)
        if not applied:
            raise InvalidInput(f"plan {record.id} names no case that is still waiting")
        before_plan = record.snapshot()
        record.applied_at = clock()
        record.applied_cases = applied
        record.version += 1
        uow.record(
            record,
            actor=actor,
            action=LedgerAction.PLANNING_PLAN_APPLIED,
            before=before_plan,
            reason=cmd.reason,
        )
        uow.commit()
        return record


def plan_from(record: PlanRecord) -> Plan:
    from veinline.planning.plan_io import parse_plan

    return parse_plan(record.plan)


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.SetTriageWeights: set_triage_weights,
    commands.MakePlan: make_plan,
    commands.ApplyPlan: apply_plan,
}
