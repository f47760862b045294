"""Handlers of follow-up after infusion: assessments graded with reasons, in the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veinline.domain import assessment
from veinline.domain.assessment import Assessment
from veinline.domain.case import CaseState, local_date
from veinline.domain.errors import NotAllowed, NotFound
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.user import User
from veinline.services import commands
from veinline.services.handlers import Clock, case_record_id
from veinline.services.unit_of_work import AbstractUnitOfWork


def record_assessment(
    cmd: commands.RecordAssessment, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Assessment:
    kind = assessment.parse_kind(cmd.kind)
    now = clock()
    with uow:
        case = uow.cases.get(cmd.case_id)
        if case is None:
            raise NotFound(f"there is no case {cmd.case_id}")
        if case.state not in (CaseState.INFUSED, CaseState.FOLLOW_UP):
            raise NotAllowed(
                f"case {case.id} is {case.state.label.lower()}: follow-up starts after infusion"
            )
        assert case.infusion is not None  # an infused case has its bedside record
        # Dates at the treatment centre: an HK infusion at 03:45 local time is on that
        # local day, and the next local morning is not "in the future" (docs/architecture.md,
        # "Local time").
        centre = uow.sites.get(case.treatment_site)
        zone = centre.timezone if centre is not None else "UTC"
        infused_on = local_date(case.infusion.infusion_started_at, zone)
        day = assessment.check_assessment_date(
            cmd.assessed_on, infused_on=infused_on, today=local_date(now, zone)
        )
        result = assessment.evaluate(kind, dict(cmd.inputs), day)
        record = Assessment(
            id=case_record_id(uow, case.id, "A"),
            case_id=case.id,
            kind=kind,
            assessed_on=day.isoformat(),
            inputs=dict(cmd.inputs),
            result=result,
            recorded_by=actor.username,
            recorded_at=now,
        )
        uow.assessments.add(record)
        uow.record(
            record,
            actor=actor,
            action=LedgerAction.of("followup", kind.value),
            before=None,
            reason=f"{kind.label}: {record.summary}",
        )
        uow.commit()
        return record


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.RecordAssessment: record_assessment,
}
