"""The planning pages (triage weights, plans, applying a plan) and the capacity sweep.

Every page here needs a user who may read plans (`Planner`). A refused form goes back
to the planning page with the message.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from veinline.bootstrap import App
from veinline.domain.errors import DomainError, InvalidInput, NotFound
from veinline.domain.job import JobKind
from veinline.domain.user import User
from veinline.entrypoints.http.deps import AppDep, Planner
from veinline.entrypoints.http.security import form_of
from veinline.entrypoints.http.templates import pager, render, see_other
from veinline.services import authority, commands
from veinline.services.jobs import parse_inputs

router = APIRouter(include_in_schema=False)


@router.get("/planning", response_class=HTMLResponse)
def planning_page(request: Request, user: Planner, application: AppDep) -> Response:
    from veinline.services.planning import weights_in_force

    with application.uow() as uow:
        weights = weights_in_force(uow).model_dump(mode="json")
        plans = [p.snapshot() for p in reversed(uow.plans.list())]
    return render(
        request,
        "planning.html",
        user=user,
        can_plan=authority.may(user, commands.MakePlan),
        can_weigh=authority.may(user, commands.SetTriageWeights),
        weights=weights,
        plans=plans,
    )


@router.post("/planning/weights")
async def planning_weights(request: Request, user: Planner, application: AppDep) -> Response:
    form = await form_of(request)
    reason = form.pop("reason", "")
    try:
        values: dict[str, object] = {
            k: float(v) if "." in v else int(v) for k, v in form.items() if v
        }
        application.bus.handle(commands.SetTriageWeights(weights=values, reason=reason), actor=user)
    except ValueError:
        return see_other(request, "/planning", error="weights must be numbers")
    except DomainError as exc:
        return see_other(request, "/planning", error=exc.message)
    return see_other(request, "/planning", done="weights changed")


@router.post("/planning/plans")
async def planning_make(request: Request, user: Planner, application: AppDep) -> Response:
    async with request.form() as form:
        return await _make_plan(request, application, form, user)


async def _make_plan(request: Request, application: App, form: Any, user: User) -> Response:
    """Queue a plan job (the demo generator's patients, or the scenario uploaded) and
    show its progress; the job makes the plan through MakePlan (services/jobs.py)."""
    upload = form.get("scenario")
    raw: dict[str, Any] = {
        "policy": str(form.get("policy") or "optimal"),
        "time_limit_s": str(form.get("time_limit") or 5),
    }
    try:
        if upload is not None and not isinstance(upload, str) and upload.filename:
            raw["scenario"] = json.loads((await upload.read()).decode("utf-8"))
        else:
            raw["patients"] = str(form.get("patients") or 40)
        job = application.jobs.submit(JobKind.PLAN, parse_inputs(JobKind.PLAN, raw), actor=user)
    except (ValueError, json.JSONDecodeError) as exc:
        return see_other(request, "/planning", error=f"the scenario is not JSON: {exc}")
    except DomainError as exc:
        return see_other(request, "/planning", error=exc.message)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/planning/{plan_id}", response_class=HTMLResponse)
def plan_page(
    request: Request,
    plan_id: str,
    user: Planner,
    application: AppDep,
    page: int = 1,
) -> Response:
    """A plan's measures against first come, first served, its Gantt chart, and its
    waiting list by priority, WAITLIST_PAGE patients a page (a plan of a thousand
    patients is a page of a hundred rows, not megabytes)."""
    from veinline.planning import fifo
    from veinline.planning.scenario import parse_scenario
    from veinline.services.planning import plan_from

    with application.uow() as uow:
        record = uow.plans.get(plan_id)
    if record is None:
        raise NotFound(f"there is no plan {plan_id}")
    plan = plan_from(record)
    # The FIFO baseline of a plan's scenario (a greedy list schedule, 0.1 s for 1,000
    # patients): computed on the first view, then kept for this app (a scenario never
    # changes), a few hundred plans at most.
    baselines: dict[str, Any] = request.app.state.plan_baselines
    baseline = baselines.get(record.id)
    if baseline is None:
        baseline = fifo.fifo_plan(parse_scenario(record.scenario)).metrics
        if len(baselines) >= 256:
            baselines.pop(next(iter(baselines)))
        baselines[record.id] = baseline
    ranked = sorted(plan.priorities, key=lambda p: -p.score)
    pages = max(1, -(-len(ranked) // WAITLIST_PAGE))
    page = min(max(page, 1), pages)
    first = (page - 1) * WAITLIST_PAGE
    return render(
        request,
        "plan.html",
        user=user,
        record=record.snapshot(),
        plan=plan,
        baseline=baseline,
        waitlist=ranked[first : first + WAITLIST_PAGE],
        waiting=len(ranked),
        first=first,
        pager=pager(f"/planning/{plan_id}", {}, page, pages),
        unscheduled=plan.unscheduled[:WAITLIST_PAGE],
    )


WAITLIST_PAGE = 100


@router.get("/planning/{plan_id}/gantt.png")
def plan_gantt(plan_id: str, user: Planner, application: AppDep) -> Response:
    from veinline.adapters.plan_charts import gantt_png
    from veinline.planning.scenario import parse_scenario
    from veinline.services.planning import plan_from

    with application.uow() as uow:
        record = uow.plans.get(plan_id)
    if record is None:
        return Response(status_code=404)
    scenario = parse_scenario(record.scenario)
    deadlines = {p.id: p.latest_infusion_date for p in scenario.patients if p.latest_infusion_date}
    return Response(gantt_png(plan_from(record), deadlines=deadlines), media_type="image/png")


@router.post("/planning/{plan_id}/apply")
def plan_apply(request: Request, plan_id: str, user: Planner, application: AppDep) -> Response:
    try:
        application.bus.handle(commands.ApplyPlan(plan_id=plan_id), actor=user)
    except DomainError as exc:
        return see_other(request, f"/planning/{plan_id}", error=exc.message)
    return see_other(request, f"/planning/{plan_id}", done="applied")


@router.get("/capacity", response_class=HTMLResponse)
def capacity_page(
    request: Request,
    user: Planner,
    application: AppDep,
    low: str = "22",
    high: str = "32",
    replications: str = "100",
) -> Response:
    """The sweep's form, and its chart once the sweep has run. A sweep runs as a job
    (services/jobs.py): the first view of these inputs queues it and shows its progress;
    later views show the cached chart. Input the sweep would refuse is explained in
    words on the page (status 422), and no job is queued for it."""
    problem, job = None, None
    try:
        inputs = parse_inputs(
            JobKind.SWEEP, {"low": low, "high": high, "replications": replications}
        )
        job = application.jobs.submit(JobKind.SWEEP, inputs, actor=user)
    except InvalidInput as exc:
        problem = exc.message
    return render(
        request,
        "capacity.html",
        status=422 if problem else 200,
        user=user,
        low=low,
        high=high,
        replications=replications,
        problem=problem,
        job=job,
    )


@router.post("/capacity/sweeps")
async def capacity_again(request: Request, user: Planner, application: AppDep) -> Response:
    """Run a sweep again whose last run failed."""
    form = await form_of(request)
    inputs = {k: form.get(k, "") for k in ("low", "high", "replications")}
    try:
        parsed = parse_inputs(JobKind.SWEEP, inputs)
        application.jobs.submit(JobKind.SWEEP, parsed, actor=user, again=True)
    except DomainError as exc:
        return see_other(request, "/capacity", error=exc.message)
    return see_other(request, "/capacity", **{k: str(v) for k, v in parsed.items()})


@router.get("/capacity/sweep.png")
def capacity_sweep(
    user: Planner, application: AppDep, low: str = "22", high: str = "32", replications: str = "100"
) -> Response:
    """The chart of a sweep that has run (from its job's cache); a sweep not yet run is
    queued, and the answer says so in words (an image address: plain text, not a page)."""
    try:
        inputs = parse_inputs(
            JobKind.SWEEP, {"low": low, "high": high, "replications": replications}
        )
        job = application.jobs.submit(JobKind.SWEEP, inputs, actor=user)
    except DomainError as exc:
        return Response(exc.message, status_code=422, media_type="text/plain")
    chart = application.jobs.artifact(job)
    if chart is None:
        return Response(
            f"the sweep is {job.state.value} ({job.message}): see /jobs/{job.id}",
            status_code=202 if not job.state.finished else 422,
            media_type="text/plain",
        )
    return Response(chart, media_type="image/png")
