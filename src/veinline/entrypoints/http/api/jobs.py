"""API of jobs: submit long work (a capacity sweep, a plan), read its progress and its
result (docs/architecture.md, "Jobs"). Submitting answers at once (202) with the job; the
work runs in the job runner, never in the request. The same inputs answer the same job:
its cached result when done."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from veinline.domain.errors import NotFound
from veinline.domain.job import JobKind
from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.http.errors import refusals
from veinline.services.jobs import parse_inputs

router = APIRouter()


class JobRequest(BaseModel):
    kind: JobKind
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "capacity-sweep: low, high (1 to 21 suite counts), replications (10 to 1000); "
            "plan: patients (1 to 1000, the demo generator) or scenario (a scenario "
            "object), policy (optimal or fifo), time_limit_s (0.5 to 120)."
        ),
    )
    again: bool = Field(default=False, description="Run again inputs whose last job failed.")


@router.post("/jobs", tags=["jobs"], status_code=202, responses=refusals(401, 403, 413, 422))
def submit(
    body: JobRequest, actor: Actor, application: AppDep, response: Response
) -> dict[str, Any]:
    """Submit a job, or find the one these inputs already have (done: its result at once,
    status 200; queued or running: that job)."""
    job = application.jobs.submit(
        body.kind, parse_inputs(body.kind, body.inputs), actor=actor, again=body.again
    )
    if job.state.finished:
        response.status_code = 200
    return job.to_dict()


@router.get("/jobs", tags=["jobs"], responses=refusals(401, 403, 422))
def latest(
    actor: Actor,
    application: AppDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    """The newest jobs of the kinds the caller may read, newest first."""
    return [job.to_dict() for job in application.jobs.latest(actor=actor, limit=limit)]


@router.get("/jobs/{job_id}", tags=["jobs"], responses=refusals(401, 403, 404, 422))
def show(job_id: str, actor: Actor, application: AppDep) -> dict[str, Any]:
    """A job: its state, progress (0 to 1) and last message, and its result when done."""
    return application.jobs.get(job_id, actor=actor).to_dict()


@router.get(
    "/jobs/{job_id}/chart.png",
    tags=["jobs"],
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **refusals(401, 403, 404, 422)},
)
def chart(job_id: str, actor: Actor, application: AppDep) -> Response:
    """The chart a finished sweep drew."""
    job = application.jobs.get(job_id, actor=actor)
    found = application.jobs.artifact(job)
    if found is None:
        raise NotFound(f"job {job_id} has no chart (yet)")
    return Response(found, media_type="image/png")
