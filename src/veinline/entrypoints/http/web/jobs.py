"""A job's page (its progress, then its result), its status for the page's own script,
and the file it made (a sweep's chart) (docs/architecture.md, "Jobs").

Reading a job needs the read its result needs (`authority.JOBS`); the work itself runs
in the job runner's threads, never in a request.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from veinline.domain.errors import NotFound
from veinline.domain.job import Job, JobKind, JobState
from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.templates import render

router = APIRouter(include_in_schema=False)


def result_page(job: Job) -> str | None:
    """Where a finished job's result is shown, if it has a page of its own."""
    if job.state is not JobState.DONE:
        return None
    if job.kind is JobKind.PLAN and job.result:
        return f"/planning/{job.result['plan_id']}"
    if job.kind is JobKind.TRIAL_REPORT:
        return f"/trials/{job.inputs['trial_id']}"
    if job.kind is JobKind.LEDGER_VERIFY:
        return f"/ledger?job={job.id}"
    if job.kind is JobKind.SWEEP:
        inputs = {k: str(job.inputs[k]) for k in ("low", "high", "replications")}
        return f"/capacity?{urlencode(inputs)}"
    return None


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, user: WebUser, application: AppDep) -> Response:
    job = application.jobs.get(job_id, actor=user)
    target = result_page(job)
    if target is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "job.html", user=user, job=job)


@router.get("/jobs/{job_id}/status.json")
def job_status(job_id: str, user: WebUser, application: AppDep) -> Response:
    """What the page's script polls: the state, the fraction done and the last word."""
    job = application.jobs.get(job_id, actor=user)
    return JSONResponse(
        {
            "state": job.state.value,
            "finished": job.state.finished,
            "progress": round(job.progress, 4),
            "message": job.message,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/jobs/{job_id}/chart.png")
def job_chart(job_id: str, user: WebUser, application: AppDep) -> Response:
    job = application.jobs.get(job_id, actor=user)
    chart = application.jobs.artifact(job)
    if chart is None:
        raise NotFound(f"job {job_id} has no chart (yet)")
    # A finished job's chart never changes: the browser may keep it.
    return Response(
        chart, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"}
    )
