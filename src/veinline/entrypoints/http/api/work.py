"""API of the signed-in user's work queue: what waits on them now, and their alerts
(docs/architecture.md, "Work queues")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.http.errors import refusals
from veinline.entrypoints.views.work import work_queue
from veinline.services.unit_of_work import MAX_PAGE_SIZE, PAGE_SIZE

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
    """The signed-in user's queue, one page of it: most urgent first, then oldest first."""

    user: str
    role: str
    role_label: str
    home: Literal["queue", "planner", "admin"] = Field(
        description="Which home the role gets: a queue of records, or the planner's or "
        "administrator's home."
    )
    generated_at: str | None
    items: list[WorkItemOut] = Field(description="This page of the queue.")
    alerts: list[AlertOut] = Field(description="Every alert (alerts are not paged).")
    counts: dict[str, int] = Field(description="Items by kind, in the whole queue.")
    total: int = Field(description="Items in the whole queue.")
    page: int = Field(description="This page's number, from 1.")
    page_size: int = Field(description="Items a page.")
    pages: int = Field(description="Pages in the whole queue (at least 1).")
    previous: str | None = Field(description="The address of the page before, if any.")
    next: str | None = Field(description="The address of the page after, if any.")


@router.get(
    "/me/work",
    tags=["auth"],
    response_model=WorkQueueOut,
    responses=refusals(401, 403, 422),
    summary="What waits on me now",
)
def my_work(
    actor: Actor,
    application: AppDep,
    page: Annotated[int, Query(ge=1, le=100_000, description="Page, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items a page.")
    ] = PAGE_SIZE,
) -> dict[str, Any]:
    """The cases, batches, shipments, deviations, QC tests, releases, follow-up visits
    and safety reports waiting on the caller's action, at the sites they work at, with
    why each waits and where it is done, one page at a time (most urgent first, `total`
    and `counts` for the whole queue, `previous` and `next` pages); and every alert they
    must see."""
    with application.uow() as uow:
        queue = work_queue(uow, actor, application.clock(), page=page, page_size=page_size)
    return {**queue, **page_links("/api/v1/me/work", queue)}


def page_links(path: str, queue: dict[str, Any]) -> dict[str, str | None]:
    """The addresses of the queue's pages before and after this one."""
    page, pages, size = queue["page"], queue["pages"], queue["page_size"]

    def link(number: int) -> str:
        return f"{path}?page={number}" + (f"&page_size={size}" if size != PAGE_SIZE else "")

    return {
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
    }
