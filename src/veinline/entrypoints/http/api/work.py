"""API of the signed-in user's work queue: what waits on them now, and their alerts
(docs/architecture.md, "Work queues")."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.http.errors import refusals
from veinline.entrypoints.views.work import work_queue

router = APIRouter()


class WorkItemOut(BaseModel):
    """One thing waiting on this user."""

    kind: Literal[
        "case", "batch", "shipment", "deviation", "qc", "release", "visit", "safety_report"
    ] = Field(description="What waits: a case, a batch step, a shipment, a deviation, ...")
    record: str = Field(description="The id of the record that waits.")
    action: str = Field(description="What to do, by name (an action, a scan point, ...).")
    title: str
    why: str = Field(description="Why it waits on this user, in words.")
    href: str = Field(description="The page where the action is taken.")
    since: str | None = Field(description="ISO date or moment it has waited since, if known.")
    urgency: int = Field(description="2 urgent or overdue, 1 due today, 0 routine.")
    case_id: str | None
    overdue: bool


class AlertOut(BaseModel):
    """Something this user must see at once."""

    kind: Literal["toxicity", "blocked_shipment", "safety_report"] = Field(
        description="A grade 3 or higher CRS or ICANS, a shipment whose receipt is "
        "blocked, or an IND safety report past its due date."
    )
    record: str
    message: str
    href: str
    severity: Literal["critical", "warning"]
    case_id: str | None


class WorkQueueOut(BaseModel):
    """The signed-in user's queue: most urgent first, then oldest first."""

    user: str
    role: str
    role_label: str
    home: Literal["queue", "planner", "admin"] = Field(
        description="Which home the role gets: a queue of records, or the planner's or "
        "administrator's home."
    )
    generated_at: str | None
    items: list[WorkItemOut]
    alerts: list[AlertOut]
    counts: dict[str, int] = Field(description="Items by kind.")


@router.get(
    "/me/work",
    tags=["auth"],
    response_model=WorkQueueOut,
    responses=refusals(401, 403, 422),
    summary="What waits on me now",
)
def my_work(actor: Actor, application: AppDep) -> dict[str, Any]:
    """The cases, batches, shipments, deviations, QC tests, releases, follow-up visits
    and safety reports waiting on the caller's action, at the sites they work at, with
    why each waits and where it is done; and the alerts they must see."""
    with application.uow() as uow:
        return work_queue(uow, actor, application.clock())
