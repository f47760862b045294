"""API of trials: the list, and a trial's report as JSON, PDF or CSV.

A report is made by a job (services/jobs.py, JobKind.TRIAL_REPORT: the survival fits,
the curves and the PDF take a second or more), cached on the data it is made from: a
report whose data has not changed since is served at once; otherwise the answer is 202
with the job (`Location: /api/v1/jobs/{id}`), and the same request once the job is done
gives the report (docs/architecture.md, "Jobs")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from veinline.bootstrap import App
from veinline.domain.errors import InvalidInput
from veinline.domain.job import Job, JobKind, JobState, trial_report_inputs
from veinline.domain.user import User
from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.http.errors import refusals

router = APIRouter()

_QUEUED: dict[int | str, dict[str, Any]] = {
    202: {"description": "The report is being made: the job, and its Location."}
}


def report_job(application: App, trial_id: str, actor: User) -> Job:
    """The job that makes this trial's report from its data as of today: done (the
    cached report), queued or running; a failed one is refused in its own words."""
    job = application.jobs.submit(
        JobKind.TRIAL_REPORT,
        trial_report_inputs(trial_id, application.clock().date()),
        actor=actor,
    )
    if job.state is JobState.FAILED:
        raise InvalidInput(f"the report of {trial_id} could not be made: {job.error}")
    return job


def _queued(job: Job) -> JSONResponse:
    return JSONResponse(
        job.to_dict(), status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"}
    )


@router.get("/trials", tags=["trials"], responses=refusals(401, 403, 422))
def list_trials(actor: Actor, application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        return [t.snapshot() for t in uow.trials.list()]


@router.get(
    "/trials/{trial_id}/report",
    tags=["trials"],
    response_model=None,
    responses={**_QUEUED, **refusals(401, 403, 404, 422)},
)
def trial_report(trial_id: str, actor: Actor, application: AppDep) -> Any:
    """ORR, DCR, CR rate with exact 95% CIs; KM medians; vein-to-vein; toxicity."""
    job = report_job(application, trial_id, actor)
    if job.state is not JobState.DONE or job.result is None:
        return _queued(job)
    return job.result["report"]


@router.get(
    "/trials/{trial_id}/report.pdf",
    tags=["trials"],
    response_class=Response,
    responses={**_QUEUED, **refusals(401, 403, 404, 422)},
)
def trial_report_pdf(trial_id: str, actor: Actor, application: AppDep) -> Response:
    job = report_job(application, trial_id, actor)
    pdf = application.jobs.artifact(job) if job.state is JobState.DONE else None
    if pdf is None:
        return _queued(job)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{trial_id}-report.pdf"'},
    )


@router.get(
    "/trials/{trial_id}/summary.csv",
    tags=["trials"],
    response_class=Response,
    responses={**_QUEUED, **refusals(401, 403, 404, 422)},
)
def trial_summary_csv(trial_id: str, actor: Actor, application: AppDep) -> Response:
    job = report_job(application, trial_id, actor)
    if job.state is not JobState.DONE or job.result is None:
        return _queued(job)
    return Response(str(job.result["summary_csv"]), media_type="text/csv")
