"""The ledger pages: the last verification with the latest entries, verifying on request,
and a record's history. No page verifies while it renders: the ledger page shows the
newest checkpoint, and "Verify now" (a CSRF-protected form) records a new one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.templates import render
from veinline.entrypoints.views.ledger import checkpoint_view, entry_view
from veinline.services import authority, ledger

router = APIRouter(include_in_schema=False)


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, user: WebUser, application: AppDep) -> Response:
    checkpoint = ledger.last_checkpoint(application.uow(), actor=user)
    with application.uow() as uow:
        recent = ledger.recent(uow, limit=50)
    tip = recent[0].seq if recent else 0
    return render(
        request,
        "ledger.html",
        checkpoint=checkpoint_view(checkpoint) if checkpoint else None,
        added_since=tip - checkpoint.last_seq if checkpoint else tip,
        entries=[entry_view(e) for e in recent],
    )


@router.post("/ledger/verify")
def verify_now(
    user: WebUser, application: AppDep, full: Annotated[bool, Form()] = False
) -> Response:
    """Verify now (routine, or the whole chain) and show the page with its result."""
    authority.require_read(user, authority.Read.LEDGER)
    ledger.check(application.uow(), actor=user, full=full)
    return RedirectResponse("/ledger", status_code=303)


@router.get("/ledger/history/{entity_id:path}", response_class=HTMLResponse)
def history_page(request: Request, entity_id: str, user: WebUser, application: AppDep) -> Response:
    entries = ledger.history(application.uow(), entity_id, actor=user)
    return render(
        request,
        "history.html",
        entity_id=entity_id,
        entries=[entry_view(e) for e in entries],
    )
