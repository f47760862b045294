"""API of manufacturing and release: process templates, specifications, batch records,
QC results, QA's decision and the certificate of analysis."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from veinline.entrypoints.http import actions, idempotent
from veinline.entrypoints.http.deps import Actor, AppDep, IdempotencyKey
from veinline.entrypoints.http.errors import refusals
from veinline.entrypoints.views.manufacturing import batch_view, visible_batches
from veinline.services import commands, release

router = APIRouter()


class ProcessIn(BaseModel):
    product_code: str
    site: str
    steps: list[dict[str, Any]] | None = Field(
        default=None,
        description="Ordered steps (code, name, expected_hours, parameters, critical); "
        "leave out for the demo default process of the product's modality.",
    )
    notes: str = ""


class SignatureIn(BaseModel):
    username: str = Field(description="The signer's user name, re-entered (11.200).")
    password: str


class TransferIn(BaseModel):
    to_site: str


class RetireIn(BaseModel):
    reason: str


class SpecificationIn(BaseModel):
    product_code: str
    market: str = Field(description="Where the product is released: CN, HK, US...")
    tests: list[dict[str, Any]] | None = Field(
        default=None,
        description="Release tests (code, name, comparator, limit/low/high, unit, expected, "
        "method); leave out for the demo default panel.",
    )
    notes: str = ""


def _signed(body: SignatureIn) -> tuple[str, str]:
    return body.username, body.password


# ---------------------------------------------------------- process templates


@router.get("/processes", tags=["manufacturing"], responses=refusals(401, 403, 422))
def list_processes(actor: Actor, application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        return [dict(t.snapshot()) for t in uow.process_templates.list()]


@router.post(
    "/processes",
    status_code=201,
    tags=["manufacturing"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def draft_process(body: ProcessIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    template = application.bus.handle(
        commands.DraftProcess(body.product_code, body.site, body.steps, body.notes),
        actor=actor,
    )
    return dict(template.snapshot())


@router.post(
    "/processes/{template_id:path}/approve",
    tags=["manufacturing"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def approve_process(
    template_id: str, body: SignatureIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    template = application.bus.handle(
        commands.ApproveProcess(template_id, *_signed(body)), actor=actor
    )
    return dict(template.snapshot())


@router.post(
    "/processes/{template_id:path}/transfer",
    status_code=201,
    tags=["manufacturing"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def transfer_process(
    template_id: str, body: TransferIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    """Technology transfer: a draft copy at another site, for its QA to approve."""
    copy = application.bus.handle(commands.TransferProcess(template_id, body.to_site), actor=actor)
    return dict(copy.snapshot())


@router.post(
    "/processes/{template_id:path}/retire",
    tags=["manufacturing"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def retire_process(
    template_id: str, body: RetireIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    template = application.bus.handle(commands.RetireProcess(template_id, body.reason), actor=actor)
    return dict(template.snapshot())


# ---------------------------------------------------------- specifications


@router.get("/specifications", tags=["manufacturing"], responses=refusals(401, 403, 422))
def list_specifications(actor: Actor, application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        return [dict(s.snapshot()) for s in uow.specifications.list()]


@router.post(
    "/specifications",
    status_code=201,
    tags=["manufacturing"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def draft_specification(body: SpecificationIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    spec = application.bus.handle(
        commands.DraftSpecification(body.product_code, body.market, body.tests, body.notes),
        actor=actor,
    )
    return dict(spec.snapshot())


@router.post(
    "/specifications/{spec_id:path}/approve",
    tags=["manufacturing"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def approve_specification(
    spec_id: str, body: SignatureIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    spec = application.bus.handle(
        commands.ApproveSpecification(spec_id, *_signed(body)), actor=actor
    )
    return dict(spec.snapshot())


# ---------------------------------------------------------- batches


@router.get("/batches", tags=["manufacturing"], responses=refusals(401, 403, 422))
def list_batches(
    actor: Actor, application: AppDep, status: str | None = None
) -> list[dict[str, Any]]:
    with application.uow() as uow:
        records = {r.batch_id: r for r in uow.release_records.list()}
        return [
            {
                "id": b.id,
                "product_code": b.product_code,
                "site": b.site,
                "case_id": b.case_id,
                "coi": b.coi,
                "din": b.din,
                "status": b.status.value,
                "open_deviations": len(b.open_deviations()),
                "disposition": records[b.id].disposition.value if b.id in records else None,
            }
            for b in visible_batches(uow, actor)
            if status is None or b.status.value == status
        ]


@router.get("/batches/{batch_id}", tags=["manufacturing"], responses=refusals(401, 403, 404, 422))
def show_batch(batch_id: str, actor: Actor, application: AppDep) -> dict[str, Any]:
    with application.uow() as uow:
        return batch_view(uow, batch_id, actor)


@router.post(
    "/batches/{batch_id}/actions/{action}",
    tags=["manufacturing"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def batch_action(
    batch_id: str,
    action: str,
    request: Request,
    actor: Actor,
    application: AppDep,
    body: dict[str, Any] | None = None,
    key: IdempotencyKey = None,
) -> Any:
    """One action on a batch record: start_step, record_value, correct_value,
    complete_step, verify_step, verify_correction, raise_deviation,
    investigate_deviation, classify_deviation, close_deviation, abort, enter_result,
    correct_result, open_investigation, acknowledge, release, release_conditionally,
    reject. Signing actions take `username` and `password`. Give `expected_version`
    (the batch's `version` as you read it) to be refused (409) rather than act on a
    batch someone changed since; an Idempotency-Key makes a retry safe."""

    def view(_: object) -> dict[str, Any]:
        with application.uow() as uow:
            return batch_view(uow, batch_id, actor)

    return idempotent.run(
        request,
        application,
        actor,
        key,
        actions.build_batch(action, batch_id, body or {}),
        body=body or {},
        render=view,
        status=200,
    )


@router.get(
    "/batches/{batch_id}/coa.pdf",
    tags=["manufacturing"],
    response_class=Response,
    responses=refusals(401, 403, 404, 422),
)
def certificate(batch_id: str, actor: Actor, application: AppDep) -> Response:
    """The certificate of analysis of a decided batch, as PDF."""
    from veinline.adapters.coa_pdf import render_coa

    content = release.certificate(application.uow(), batch_id, actor)
    stored_id = content["identifiers"]["batch_id"]  # the stored id, never the typed one
    return Response(
        render_coa(content),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="CoA-{stored_id}.pdf"'},
    )
