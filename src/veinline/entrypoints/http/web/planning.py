"""The planning pages (triage weights, plans, applying a plan) and the capacity sweep.

Every page here needs a user who may read plans (`Planner`). A refused form goes back
to the planning page with the message.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from veinline.bootstrap import App
from veinline.domain.errors import DomainError, InvalidInput, NotFound
from veinline.domain.user import User
from veinline.entrypoints.http.deps import AppDep, Planner
from veinline.entrypoints.http.security import form_of
from veinline.entrypoints.http.templates import render, see_other
from veinline.services import authority, commands

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
    from veinline.planning import generate
    from veinline.planning.scenario import scenario_to_json

    upload = form.get("scenario")
    try:
        if upload is not None and not isinstance(upload, str) and upload.filename:
            scenario = json.loads((await upload.read()).decode("utf-8"))
        else:
            patients = int(str(form.get("patients") or 40))
            scenario = json.loads(scenario_to_json(generate.small(patients=patients)))
        record = application.bus.handle(
            commands.MakePlan(
                scenario=scenario,
                policy=str(form.get("policy", "optimal")),
                time_limit_s=float(str(form.get("time_limit") or 5)),
            ),
            actor=user,
        )
    except (ValueError, json.JSONDecodeError) as exc:
        return see_other(request, "/planning", error=str(exc))
    except DomainError as exc:
        return see_other(request, "/planning", error=exc.message)
    return RedirectResponse(f"/planning/{record.id}", status_code=303)


@router.get("/planning/{plan_id}", response_class=HTMLResponse)
def plan_page(
    request: Request,
    plan_id: str,
    user: Planner,
    application: AppDep,
) -> Response:
    from veinline.planning import fifo
    from veinline.planning.scenario import parse_scenario
    from veinline.services.planning import plan_from

    with application.uow() as uow:
        record = uow.plans.get(plan_id)
    if record is None:
        raise NotFound(f"there is no plan {plan_id}")
    plan = plan_from(record)
    baseline = fifo.fifo_plan(parse_scenario(record.scenario)).metrics
    waitlist = sorted(plan.priorities, key=lambda p: -p.score)
    return render(
        request,
        "plan.html",
        user=user,
        record=record.snapshot(),
        plan=plan,
        baseline=baseline,
        waitlist=waitlist,
    )


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
    request: Request, user: Planner, low: str = "22", high: str = "32", replications: str = "100"
) -> Response:
    """The sweep's form and chart; input the sweep would refuse is explained in words
    on the page (status 422), and no chart is drawn for it."""
    problem = None
    try:
        numbers = [_whole(text, name) for text, name in ((low, "from"), (high, "to"))]
        numbers.append(_whole(replications, "replications"))
        _check_sweep(*numbers)
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
    )


def _whole(text: str, name: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(f"{name}: give a whole number, not {text!r}") from None


def _check_sweep(low: int, high: int, replications: int) -> None:
    if not 1 <= low <= high <= low + 20:
        raise InvalidInput(
            f"suites from {low} to {high}: choose 1 to 21 suite counts, the lowest first "
            "and at least 1"
        )
    if not 10 <= replications <= 1000:
        raise InvalidInput(f"replications: choose 10 to 1000, not {replications}")


@router.get("/capacity/sweep.png")
def capacity_sweep(
    user: Planner, low: int = 22, high: int = 32, replications: int = 100
) -> Response:
    try:
        return Response(_sweep_png(low, high, replications), media_type="image/png")
    except DomainError as exc:
        # An image URL: the refusal as plain text, not a page.
        return Response(exc.message, status_code=422, media_type="text/plain")


def _sweep_png(low: int, high: int, replications: int) -> bytes:
    """A suite-count sweep of CARsgen's RTP facility (Business Wire release, 2022), plotted."""
    import tempfile
    from pathlib import Path

    from veinline.planning.simulation import load_scenario, sweep_suites
    from veinline.planning.simulation.plots import plot_sweep

    _check_sweep(low, high, replications)
    example = resources.files("veinline.planning") / "examples" / "rtp-simulation.json"
    config = load_scenario(Path(str(example)))
    points = sweep_suites(
        config,
        list(range(low, high + 1)),
        replications=replications,
        seed=2026,
        engine="fast",
        workers=1,
    )
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "sweep.png"
        plot_sweep(
            points,
            target,
            title=f"RTP facility, 700 patients a year: {replications} replications per suite count",
        )
        return target.read_bytes()
