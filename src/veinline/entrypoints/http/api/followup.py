"""API of follow-up: grading, recorded assessments and the FHIR export of a case."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from veinline.entrypoints.http import idempotent
from veinline.entrypoints.http.deps import Actor, AppDep, IdempotencyKey
from veinline.entrypoints.http.errors import refusals
from veinline.entrypoints.views import cases
from veinline.services import commands

router = APIRouter()


class AssessmentIn(BaseModel):
    kind: str = Field(description="crs, icans, agvhd, recist, imwg or survival")
    assessed_on: str = Field(description="Date of the assessment, YYYY-MM-DD")
    inputs: dict[str, Any]


@router.post("/grade/{kind}", tags=["follow-up"], responses=refusals(404, 413, 422))
def grade(kind: str, findings: dict[str, Any]) -> dict[str, Any]:
    """Grade findings (CRS, ICANS, MAGIC aGVHD, RECIST 1.1, IMWG) with the reasons."""
    from veinline.domain.grading import grade as grade_findings

    return grade_findings(kind, findings)


@router.get("/grade/{kind}/schema", tags=["follow-up"], responses=refusals(404, 422))
def grade_schema(kind: str) -> dict[str, object]:
    """The input of one grading kind as a JSON Schema (2020-12): its fields, types,
    units, bounds and which are required."""
    from veinline.domain.grading import json_schema

    return json_schema(kind)


@router.post(
    "/cases/{case_id}/assessments",
    status_code=201,
    tags=["follow-up"],
    responses=refusals(401, 403, 404, 409, 413, 422),
)
def record_assessment(
    case_id: str,
    body: AssessmentIn,
    request: Request,
    actor: Actor,
    application: AppDep,
    key: IdempotencyKey = None,
) -> Any:
    """Record a graded assessment; an Idempotency-Key makes a retry safe."""
    return idempotent.run(
        request,
        application,
        actor,
        key,
        commands.RecordAssessment(
            case_id=case_id, kind=body.kind, assessed_on=body.assessed_on, inputs=body.inputs
        ),
        body=body.model_dump(),
        render=lambda record: {**record.snapshot(), "summary": record.summary},
        status=201,
    )


@router.get("/cases/{case_id}/fhir", tags=["follow-up"], responses=refusals(401, 403, 404, 422))
def fhir_export(case_id: str, actor: Actor, application: AppDep) -> dict[str, Any]:
    """The case as a pseudonymous FHIR R4 Bundle (no name, no wristband), for the care
    team of the case's own sites."""
    with application.uow() as uow:
        return cases.fhir_bundle(uow, case_id, actor, exported_at=application.clock().isoformat())
