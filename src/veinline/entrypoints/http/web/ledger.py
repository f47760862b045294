"""The ledger pages: the chain verified with the latest entries, and a record's history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.templates import render
from veinline.entrypoints.views.ledger import entry_view
from veinline.services import authority, ledger

router = APIRouter(include_in_schema=False)


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, user: WebUser, application: AppDep) -> Response:
    authority.require_read(user, authority.Read.LEDGER)
    report = ledger.verify(application.uow())
    with application.uow() as uow:
        recent = ledger.recent(uow, limit=50)
    return render(request, "ledger.html", report=report, entries=[entry_view(e) for e in recent])


@router.get("/ledger/history/{entity_id:path}", response_class=HTMLResponse)
def history_page(request: Request, entity_id: str, user: WebUser, application: AppDep) -> Response:
    entries = ledger.history(application.uow(), entity_id, actor=user)
    return render(
        request,
        "history.html",
        entity_id=entity_id,
        entries=[entry_view(e) for e in entries],
    )
