"""The ledger pages: the last verification with the latest entries, verifying on request,
and a record's history. No page verifies while it renders: the ledger page shows the
newest checkpoint, and "Verify now" (a CSRF-protected form) records a new one: a routine
check with little to walk at once, a full one (or a long routine one) as a job whose
progress the page shows until its checkpoint is the newest (services/ledger.py,
ROUTINE_INLINE_ENTRIES)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from veinline.domain.errors import InvalidInput, NotFound
from veinline.domain.job import JobKind
from veinline.domain.ledger_actions import LedgerAction
from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.templates import pager, render
from veinline.entrypoints.views.ledger import checkpoint_view, entry_view, ledger_page_view
from veinline.services import authority, ledger
from veinline.services.unit_of_work import LedgerQuery

router = APIRouter(include_in_schema=False)


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(
    request: Request,
    user: WebUser,
    application: AppDep,
    entity_type: str = "",
    entity_id: str = "",
    actor: str = "",
    action: str = "",
    since: Annotated[str, Query(alias="from")] = "",
    until: Annotated[str, Query(alias="to")] = "",
    page: int = 1,
    job: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    checkpoint = ledger.last_checkpoint(application.uow(), actor=user)
    verifying = application.jobs.get(job, actor=user) if job else None
    if verifying is not None and verifying.kind is not JobKind.LEDGER_VERIFY:
        raise NotFound(f"job {job} is not a ledger verification")
    query = LedgerQuery(
        entity_type=entity_type.strip(),
        entity_id=entity_id.strip(),
        actor=actor.strip(),
        action=action.strip(),
        since=since.strip(),
        until=until.strip(),
        page=page,
    )
    problem = None
    try:
        listed = ledger_page_view(*ledger.page(application.uow(), query, actor=user), query)
    except InvalidInput as exc:
        problem = exc.message
        listed = ledger_page_view([], 0, query)
    with application.uow() as uow:
        tip = uow.ledger.last_seq()
    return render(
        request,
        "ledger.html",
        status=422 if problem else 200,
        checkpoint=checkpoint_view(checkpoint) if checkpoint else None,
        added_since=tip - checkpoint.last_seq if checkpoint else tip,
        problem=problem,
        listed=listed,
        entries=listed["entries"],
        actions=sorted(a.value for a in LedgerAction),
        pager=pager("/ledger", listed["query"], listed["page"], listed["pages"]),
        job=verifying,
    )


@router.post("/ledger/verify")
def verify_now(
    user: WebUser, application: AppDep, full: Annotated[bool, Form()] = False
) -> Response:
    """Verify now: a routine check with little to walk at once, then the page with its
    result; a full one (or a long routine one) as a job, then the page with its progress."""
    authority.require_read(user, authority.Read.LEDGER)
    if ledger.fits_a_request(application.uow(), full=full):
        ledger.check(application.uow(), actor=user)
        return RedirectResponse("/ledger", status_code=303)
    job = application.jobs.submit(JobKind.LEDGER_VERIFY, {"full": full}, actor=user)
    return RedirectResponse(f"/ledger?job={job.id}", status_code=303)


@router.get("/ledger/history/{entity_id:path}", response_class=HTMLResponse)
def history_page(request: Request, entity_id: str, user: WebUser, application: AppDep) -> Response:
    entries = ledger.history(application.uow(), entity_id, actor=user)
    return render(
        request,
        "history.html",
        entity_id=entity_id,
        entries=[entry_view(e) for e in entries],
    )
