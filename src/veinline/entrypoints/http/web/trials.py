"""The trial pages: the list, and one trial's report."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from veinline.entrypoints.http.deps import AppDep, WebUser
from veinline.entrypoints.http.templates import render

router = APIRouter(include_in_schema=False)


@router.get("/trials", response_class=HTMLResponse)
def trials_page(request: Request, user: WebUser, application: AppDep) -> Response:
    with application.uow() as uow:
        trials = [t.snapshot() for t in uow.trials.list()]
    return render(request, "trials.html", user=user, trials=trials)


@router.get("/trials/{trial_id}", response_class=HTMLResponse)
def trial_page(request: Request, trial_id: str, user: WebUser, application: AppDep) -> Response:
    from veinline.adapters.trial_report import build_report, render_html
    from veinline.services.trials import trial_data

    with application.uow() as uow:
        data = trial_data(uow, trial_id, as_of=application.clock().date())
    report = build_report(data.trial, data.outcomes, as_of=data.data_cutoff)
    return render(
        request,
        "trial.html",
        user=user,
        trial=data.trial,
        # render_html escapes every value it writes (html.escape); the rest is its markup.
        report_html=Markup(render_html(report)),  # noqa: S704
    )
