"""API of the journey: eligibility, cases and their actions, labels, custody, shipments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from veinline.entrypoints.http import actions, idempotent
from veinline.entrypoints.http.deps import Actor, AppDep, IdempotencyKey
from veinline.entrypoints.http.errors import refusals
from veinline.entrypoints.views import cases
from veinline.services import bounds, commands
from veinline.services.unit_of_work import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    CaseQuery,
    missing_from_catalogue,
)

router = APIRouter()


class EnrolIn(BaseModel):
    product_code: str
    jurisdiction: str
    treatment_site: str
    patient_name: str
    wristband_id: str
    treating_physician: str
    consent_given: bool
    consent_date: str
    consent_form: str = ""
    patient_facts: dict[str, Any]


class EligibilityIn(BaseModel):
    product: str
    jurisdiction: str
    patient: dict[str, Any]


class ScanIn(BaseModel):
    case_id: str
    point: str
    data: str = Field(description="The scanned barcode data (ISBT 128).")
    site_code: str | None = None


class LoggerIn(BaseModel):
    csv: str = Field(description="The logger file: timestamp, °C per line.")
    timezone: str = "UTC"


class DispositionIn(BaseModel):
    decision: str = Field(description="accept or reject")
    reason: str = Field(description="What was judged and why (a documented reason).")
    username: str = Field(description="The QA signer's user name, re-entered (11.200).")
    password: str


@router.post("/eligibility/check", tags=["journey"], responses=refusals(404, 413, 422))
def eligibility_check(body: EligibilityIn, application: AppDep) -> dict[str, Any]:
    """Eligible true, false or null (undetermined: a needed fact is missing)."""
    from veinline.domain import eligibility

    # Not a command, so not checked by the bus: the same bounds, named here.
    bounds.check_text(body.product, "product", bounds.Text(max=40))
    bounds.check_text(body.jurisdiction, "jurisdiction", bounds.Text(max=8))
    bounds.check_nested(body.patient, "patient", bounds.Nested())
    with application.uow() as uow:
        product = uow.products.get(body.product)
        if product is None:
            raise missing_from_catalogue(uow, "product", repr(body.product))
        facts = eligibility.parse_patient(body.patient, today=application.clock().date())
        auths = uow.authorisations.find(product_code=body.product)
        return eligibility.evaluate(product, auths, body.jurisdiction.upper(), facts).to_dict()


@router.get("/cases", tags=["journey"], responses=refusals(401, 403, 422))
def case_board(
    actor: Actor,
    application: AppDep,
    q: Annotated[
        str,
        Query(
            max_length=120,
            description="A case id (or its beginning), chain-of-identity id, DIN, batch or "
            "shipment id; for the care team also a wristband id or part of a patient's name.",
        ),
    ] = "",
    product: Annotated[str, Query(max_length=40, description="Only this product.")] = "",
    state: Annotated[str, Query(max_length=40, description="Only cases in this state.")] = "",
    site: Annotated[
        str, Query(max_length=40, description="Only cases bound to this site (any part).")
    ] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> dict[str, Any]:
    """One page of the caller's cases (their sites only) matching the search and filters,
    grouped by state: `columns` (each with `count`, the matches in that state), `total`,
    `page` of `pages`."""
    query = CaseQuery(
        text=q, product=product, state=state, site=site, page=page, page_size=page_size
    )
    with application.uow() as uow:
        return cases.case_board(uow, actor, query)


@router.post(
    "/cases", status_code=201, tags=["journey"], responses=refusals(401, 403, 404, 409, 413, 422)
)
def enrol(
    body: EnrolIn, request: Request, actor: Actor, application: AppDep, key: IdempotencyKey = None
) -> Any:
    """Enrol a patient; send an Idempotency-Key to make a retry safe."""
    return idempotent.run(
        request,
        application,
        actor,
        key,
        commands.EnrolPatient(**body.model_dump()),
        body=body.model_dump(),
        render=lambda case: cases.case_view(case, actor),
        status=201,
    )


@router.get("/cases/{case_id}", tags=["journey"], responses=refusals(401, 403, 404, 422))
def case_detail(
    case_id: str,
    actor: Actor,
    application: AppDep,
    history_page: Annotated[
        int, Query(ge=1, le=cases.MAX_HISTORY_PAGE, description="Page of each history.")
    ] = 1,
    history_limit: Annotated[
        int, Query(ge=1, le=cases.MAX_HISTORY_LIMIT, description="Entries per history page.")
    ] = cases.HISTORY_LIMIT,
) -> JSONResponse:
    """The case, its shipments and one page of each history (custody events, incidents,
    assessments, ledger entries), newest first; `history.older` says which have older
    entries on the next page."""
    with application.uow() as uow:
        detail = cases.case_detail(
            uow,
            case_id,
            actor,
            now=application.clock(),
            page=history_page,
            limit=history_limit,
        )
    # The read model is JSON already (views/): answered as it is, not walked again by
    # FastAPI's encoder, which took longer than the read itself (README, "Benchmarks").
    return JSONResponse(detail)


@router.post(
    "/cases/{case_id}/actions/{action}",
    tags=["journey"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def case_action(
    case_id: str,
    action: str,
    request: Request,
    actor: Actor,
    application: AppDep,
    body: dict[str, Any] | None = None,
    key: IdempotencyKey = None,
) -> Any:
    """Fire one action of the case's state table (see the case's `actions`). Give
    `expected_version` (the case's `version` as you read it) to be refused (409) rather
    than act on a case someone changed since; an Idempotency-Key makes a retry safe."""
    return idempotent.run(
        request,
        application,
        actor,
        key,
        actions.build(action, case_id, body or {}),
        body=body or {},
        render=lambda case: cases.case_view(case, actor),
        status=200,
    )


@router.get(
    "/cases/{case_id}/labels/{item}",
    tags=["journey"],
    response_class=Response,
    responses=refusals(401, 403, 404, 422),
)
def labels(case_id: str, item: str, actor: Actor, application: AppDep) -> Response:
    """Labels as PDF: apheresis_bag, product_bag (or product_bag:N), shipper."""
    from veinline.adapters.pdf_labels import render_labels
    from veinline.services.labels import labels_for

    with application.uow() as uow:
        pdf = render_labels(labels_for(uow, case_id, item, actor))
    filename = f"{case_id}-{item.replace(':', '-')}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.post(
    "/custody/scans",
    status_code=201,
    tags=["journey"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def scan(
    body: ScanIn, request: Request, actor: Actor, application: AppDep, key: IdempotencyKey = None
) -> Any:
    """A hand-off; a mismatch is refused (409) and kept as an identity incident. A retry
    with the same Idempotency-Key gets the first answer and records nothing again."""
    return idempotent.run(
        request,
        application,
        actor,
        key,
        commands.ScanCustody(**body.model_dump()),
        body=body.model_dump(),
        render=lambda event: dict(event.snapshot()),
        status=201,
    )


@router.get("/shipments/{shipment_id}", tags=["journey"], responses=refusals(401, 403, 404, 422))
def shipment_detail(
    shipment_id: str,
    actor: Actor,
    application: AppDep,
    readings_page: Annotated[
        int, Query(ge=1, le=cases.MAX_HISTORY_PAGE, description="Page of the logger readings.")
    ] = 1,
    readings_limit: Annotated[
        int, Query(ge=1, le=cases.MAX_READINGS_LIMIT, description="Readings per page.")
    ] = cases.READINGS_LIMIT,
) -> JSONResponse:
    """A shipment of one of your cases with one page of its logger readings, newest
    first (`readings_page.older`: more on the next page)."""
    with application.uow() as uow:
        detail = cases.shipment_detail(
            uow, shipment_id, actor, page=readings_page, limit=readings_limit
        )
    return JSONResponse(detail)


@router.post(
    "/shipments/{shipment_id}/logger",
    tags=["journey"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def logger(
    shipment_id: str,
    body: LoggerIn,
    request: Request,
    actor: Actor,
    application: AppDep,
    key: IdempotencyKey = None,
) -> Any:
    """Import a logger file; an Idempotency-Key makes a retry safe."""
    return idempotent.run(
        request,
        application,
        actor,
        key,
        commands.ImportLoggerData(
            shipment_id=shipment_id, csv_text=body.csv, timezone=body.timezone
        ),
        body=body.model_dump(),
        render=lambda shipment: {**shipment.snapshot(), "blocked": shipment.blocked},
        status=200,
    )


@router.post(
    "/shipments/{shipment_id}/disposition",
    tags=["journey"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def disposition(
    shipment_id: str, body: DispositionIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    shipment = application.bus.handle(
        commands.DisposeExcursion(
            shipment_id=shipment_id,
            decision=body.decision,
            reason=body.reason,
            username=body.username,
            password=body.password,
        ),
        actor=actor,
    )
    return {**shipment.snapshot(), "blocked": shipment.blocked}
