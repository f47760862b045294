"""The trial pages: the list, and one trial's report, made by a job (the page shows its
progress, then the report; the same data again shows the cached report at once)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from veinline.domain.job import JobKind, JobState, trial_report_inputs
from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.templates import render
from veinline.services import authority

router = APIRouter(include_in_schema=False)


@router.get("/trials", response_class=HTMLResponse)
def trials_page(request: Request, user: WebUser, application: AppDep) -> Response:
    with application.uow() as uow:
        trials = [t.snapshot() for t in uow.trials.list()]
    return render(request, "trials.html", user=user, trials=trials)


@router.get("/trials/{trial_id}", response_class=HTMLResponse)
def trial_page(request: Request, trial_id: str, user: WebUser, application: AppDep) -> Response:
    authority.require_read(user, authority.Read.REPORT)
    job = application.jobs.submit(
        JobKind.TRIAL_REPORT, trial_report_inputs(trial_id, application.clock().date()), actor=user
    )
    report_html = None
    if job.state is JobState.DONE and job.result is not None:
        # render_html escaped every value it wrote (html.escape); the rest is its markup.
        report_html = Markup(str(job.result["html"]))  # noqa: S704
    return render(
        request,
        "trial.html",
        user=user,
        trial_id=trial_id,
        job=job,
        report_html=report_html,
    )
