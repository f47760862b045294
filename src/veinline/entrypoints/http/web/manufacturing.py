"""The manufacturing, QC and release pages, the batch record page and its forms, and
the certificate of analysis."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from veinline.domain.errors import DomainError, InvalidInput
from veinline.entrypoints.http import actions
from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.security import form_of
from veinline.entrypoints.http.templates import render, see_other
from veinline.entrypoints.views import manufacturing
from veinline.services import release

router = APIRouter(include_in_schema=False)

# Irreversible batch actions: sent only with the form's confirmation ticked.
IRREVERSIBLE = frozenset({"abort", "reject"})

# What the batch page says was done, once a form's command went through.
BATCH_DONE: dict[str, str] = {
    "start_step": "step started",
    "record_value": "value recorded",
    "correct_value": "correction entered",
    "complete_step": "step signed as performed",
    "verify_step": "step signed as verified",
    "verify_correction": "correction signed as verified",
    "raise_deviation": "deviation raised",
    "investigate_deviation": "investigation started",
    "classify_deviation": "deviation reclassified",
    "close_deviation": "deviation closed and signed",
    "abort": "batch aborted",
    "enter_result": "result entered",
    "correct_result": "result corrected",
    "open_investigation": "OOS investigation opened",
    "acknowledge": "results acknowledged and signed",
    "release": "batch released and signed",
    "release_conditionally": "batch released conditionally and signed",
    "reject": "batch rejected and signed",
}


@router.get("/manufacturing", response_class=HTMLResponse)
def manufacturing_page(request: Request, user: WebUser, application: AppDep) -> Response:
    with application.uow() as uow:
        queue = manufacturing.manufacturing_queue(uow, user)
    return render(request, "manufacturing.html", user=user, **queue)


@router.get("/qc", response_class=HTMLResponse)
def qc_page(request: Request, user: WebUser, application: AppDep) -> Response:
    with application.uow() as uow:
        rows = manufacturing.qc_worklist(uow, user)
    return render(request, "qc.html", user=user, rows=rows)


@router.get("/release", response_class=HTMLResponse)
def release_page(request: Request, user: WebUser, application: AppDep) -> Response:
    with application.uow() as uow:
        queue = manufacturing.release_queue(uow, user)
    return render(request, "release.html", user=user, queue=queue)


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(
    request: Request,
    batch_id: str,
    user: WebUser,
    application: AppDep,
) -> Response:
    with application.uow() as uow:
        detail = manufacturing.batch_detail(uow, batch_id, user)
    return render(request, "batch.html", user=user, **detail)


@router.post("/batches/{batch_id}/actions/{action}")
async def batch_action(
    request: Request, batch_id: str, action: str, user: WebUser, application: AppDep
) -> Response:
    form = await form_of(request)
    back = f"/batches/{quote(batch_id)}"
    confirmed = form.pop("confirm", "") == "yes"
    try:
        if action in IRREVERSIBLE and not confirmed:
            raise InvalidInput(f"tick the box to confirm: {action} cannot be undone")
        command = actions.build_batch(action, batch_id, form)
        application.bus.handle(command, actor=user)
    except DomainError as exc:
        return see_other(request, back, error=exc.message)
    return see_other(request, back, done=BATCH_DONE.get(action, action.replace("_", " ")))


@router.get("/batches/{batch_id}/coa.pdf")
def batch_certificate(batch_id: str, user: WebUser, application: AppDep) -> Response:
    from veinline.adapters.coa_pdf import render_coa

    content = release.certificate(application.uow(), batch_id, user)
    # The stored batch id (letters, digits and '-'), not the path as typed.
    filename = f"CoA-{content['identifiers']['batch_id']}.pdf"
    return Response(
        render_coa(content),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
