"""API of trials: the list, and a trial's report as JSON, PDF or CSV."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import Response

from veinline.bootstrap import App
from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.entrypoints.http.errors import refusals

if TYPE_CHECKING:
    from veinline.adapters.trial_report import TrialReport

router = APIRouter()


def _trial_report(application: App, trial_id: str) -> TrialReport:
    from veinline.adapters.trial_report import build_report
    from veinline.services.trials import trial_data

    with application.uow() as uow:
        data = trial_data(uow, trial_id, as_of=application.clock().date())
    return build_report(data.trial, data.outcomes, as_of=data.data_cutoff)


@router.get("/trials", tags=["trials"], responses=refusals(401, 403, 422))
def list_trials(actor: Actor, application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        return [t.snapshot() for t in uow.trials.list()]


@router.get("/trials/{trial_id}/report", tags=["trials"], responses=refusals(401, 403, 404, 422))
def trial_report(trial_id: str, actor: Actor, application: AppDep) -> dict[str, Any]:
    """ORR, DCR, CR rate with exact 95% CIs; KM medians; vein-to-vein; toxicity."""
    result: dict[str, Any] = _trial_report(application, trial_id).to_dict()
    return result


@router.get(
    "/trials/{trial_id}/report.pdf",
    tags=["trials"],
    response_class=Response,
    responses=refusals(401, 403, 404, 422),
)
def trial_report_pdf(trial_id: str, actor: Actor, application: AppDep) -> Response:
    from veinline.adapters.trial_report import render_pdf

    return Response(
        render_pdf(_trial_report(application, trial_id)),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{trial_id}-report.pdf"'},
    )


@router.get(
    "/trials/{trial_id}/summary.csv",
    tags=["trials"],
    response_class=Response,
    responses=refusals(401, 403, 404, 422),
)
def trial_summary_csv(trial_id: str, actor: Actor, application: AppDep) -> Response:
    import csv
    import io

    from veinline.adapters.trial_report import summary_rows

    rows = summary_rows(_trial_report(application, trial_id))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return Response(buffer.getvalue(), media_type="text/csv")
