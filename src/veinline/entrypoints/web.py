"""The web pages: server-rendered HTML (Jinja2), assets served from the package."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from veinline.bootstrap import App
from veinline.domain.assessment import AssessmentKind
from veinline.domain.case import CaseState
from veinline.domain.errors import DomainError, InvalidInput, NotFound
from veinline.domain.user import Role, User
from veinline.entrypoints import case_actions, manufacturing_views, views
from veinline.entrypoints.api import SESSION_COOKIE, status_for
from veinline.services import auth, authority, commands, ledger, release

DEMO_HINT = "Demo users: admin, coordinator, nurse, qa, ... — password veinline-demo"


def router(application: App) -> APIRouter:
    templates = Jinja2Templates(
        directory=str(resources.files("veinline.entrypoints") / "templates")
    )
    pages = APIRouter(include_in_schema=False)

    def signed_in(request: Request) -> User | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        return auth.user_for_token(application.uow(), token, clock=application.clock)

    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("user", signed_in(request))
        return templates.TemplateResponse(request, name, context, status_code=status)

    def refused(request: Request, exc: DomainError) -> Response:
        return render(request, "error.html", status=status_for(exc), message=exc.message)

    def login_first(request: Request) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @pages.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        with application.uow() as uow:
            products = views.product_summaries(uow)
            site_list = views.sites(uow)
        return render(request, "home.html", products=products, sites=site_list)

    @pages.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/") -> Response:
        return render(request, "login.html", next=next, hint=DEMO_HINT, error=None, username="")

    @pages.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        try:
            user = auth.authenticate(
                application.uow(), username, password, hasher=application.hasher
            )
        except DomainError as exc:
            return render(
                request,
                "login.html",
                status=401,
                next=next,
                hint=DEMO_HINT,
                error=exc.message,
                username=username,
            )
        token = auth.issue_token(application.uow(), user, kind="session", clock=application.clock)
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax")
        return response

    @pages.post("/logout")
    def logout(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            auth.revoke_token(application.uow(), token)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @pages.get("/catalog", response_class=HTMLResponse)
    def catalogue(request: Request) -> Response:
        with application.uow() as uow:
            products = views.product_summaries(uow)
        return render(request, "catalog.html", products=products)

    @pages.get("/catalog/{code}", response_class=HTMLResponse)
    def product(request: Request, code: str) -> Response:
        try:
            with application.uow() as uow:
                detail = views.product_detail(uow, code)
        except DomainError as exc:
            return refused(request, exc)
        return render(request, "product.html", **detail)

    @pages.get("/sites", response_class=HTMLResponse)
    def sites(request: Request) -> Response:
        with application.uow() as uow:
            site_list = views.sites(uow)
        return render(request, "sites.html", sites=site_list)

    @pages.get("/ledger", response_class=HTMLResponse)
    def ledger_page(request: Request) -> Response:
        user = signed_in(request)
        if user is None:
            return login_first(request)
        if not authority.may(user, authority.Read.LEDGER):
            return render(
                request,
                "error.html",
                status=403,
                message=authority.rule_for(authority.Read.LEDGER).refuse(user).message,
            )
        report = ledger.verify(application.uow())
        with application.uow() as uow:
            recent = ledger.recent(uow, limit=50)
        return render(
            request, "ledger.html", report=report, entries=[views.entry_view(e) for e in recent]
        )

    @pages.get("/ledger/history/{entity_id:path}", response_class=HTMLResponse)
    def history_page(request: Request, entity_id: str) -> Response:
        user = signed_in(request)
        if user is None:
            return login_first(request)
        try:
            entries = ledger.history(application.uow(), entity_id, actor=user)
        except DomainError as exc:
            return refused(request, exc)
        return render(
            request,
            "history.html",
            entity_id=entity_id,
            entries=[views.entry_view(e) for e in entries],
        )

    # ------------------------------------------------------------ cases

    def submit(
        case_id: str, user: User, make: Callable[[], commands.Command], done: str
    ) -> Response:
        """Hand a form's command to the bus; back to the case page with what happened."""
        try:
            application.bus.handle(make(), actor=user)
        except DomainError as exc:
            return _back(case_id, error=exc.message)
        return _back(case_id, done=done)

    def need_user(request: Request) -> User | Response:
        user = signed_in(request)
        return user if user is not None else login_first(request)

    @pages.get("/cases", response_class=HTMLResponse)
    def case_board(request: Request) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        with application.uow() as uow:
            board = views.case_board(uow, user)
        return render(
            request,
            "cases.html",
            user=user,
            board=board,
            can_enrol=authority.may(user, commands.EnrolPatient),
        )

    @pages.get("/cases/new", response_class=HTMLResponse)
    def enrol_page(request: Request) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        with application.uow() as uow:
            context = _enrol_context(uow)
        return render(request, "enrol.html", user=user, error=None, form={}, **context)

    @pages.post("/cases/new")
    async def enrol(request: Request) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            facts = case_actions.json_object(form.get("patient_facts", ""), "patient facts")
            case = application.bus.handle(
                commands.EnrolPatient(
                    product_code=form.get("product_code", ""),
                    jurisdiction=form.get("jurisdiction", ""),
                    treatment_site=form.get("treatment_site", ""),
                    patient_name=form.get("patient_name", ""),
                    wristband_id=form.get("wristband_id", ""),
                    treating_physician=form.get("treating_physician", ""),
                    consent_given=form.get("consent_given") == "on",
                    consent_date=form.get("consent_date", ""),
                    consent_form=form.get("consent_form", ""),
                    patient_facts=facts,
                ),
                actor=user,
            )
        except DomainError as exc:
            return _enrol_again(request, user, form, exc.message)
        return RedirectResponse(f"/cases/{case.id}?done=enrolled", status_code=303)

    def _enrol_again(request: Request, user: User, form: dict[str, str], error: str) -> Response:
        with application.uow() as uow:
            context = _enrol_context(uow)
        return render(
            request, "enrol.html", status=422, user=user, error=error, form=form, **context
        )

    @pages.get("/cases/{case_id}", response_class=HTMLResponse)
    def case_page(request: Request, case_id: str, done: str = "", error: str = "") -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        try:
            with application.uow() as uow:
                detail = views.case_detail(uow, case_id, user, today=application.clock().date())
                sites = views.sites(uow)
        except DomainError as exc:
            return refused(request, exc)
        forms = [
            _action_form(a, user, sites, application.clock())
            for a in detail["case"]["actions"]
            if a in case_actions.COMMAND_FOR_ACTION
        ]
        kinds = [k for k in AssessmentKind if authority.may(user, k)]
        can_assess = detail["case"]["state"] in ("infused", "follow_up") and bool(kinds)
        return render(
            request,
            "case.html",
            can_assess=can_assess,
            assessment_kinds=[(k.value, k.label) for k in kinds],
            today=application.clock().date().isoformat(),
            user=user,
            done=done,
            error=error,
            forms=forms,
            scan_points=_scan_points(detail["case"]["state"], user),
            **detail,
        )

    @pages.post("/cases/{case_id}/actions/{action}")
    async def case_action(request: Request, case_id: str, action: str) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        form = {k: str(v) for k, v in (await request.form()).items() if v != ""}
        return submit(
            case_id,
            user,
            lambda: case_actions.build(action, case_id, form),
            action.replace("_", " "),
        )

    @pages.get("/trials", response_class=HTMLResponse)
    def trials_page(request: Request) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        with application.uow() as uow:
            trials = [t.snapshot() for t in uow.trials.list()]
        return render(request, "trials.html", user=user, trials=trials)

    @pages.get("/trials/{trial_id}", response_class=HTMLResponse)
    def trial_page(request: Request, trial_id: str) -> Response:
        from veinline.adapters.trial_report import build_report, render_html
        from veinline.services.trials import trial_data

        user = need_user(request)
        if isinstance(user, Response):
            return user
        try:
            with application.uow() as uow:
                data = trial_data(uow, trial_id, as_of=application.clock().date())
            report = build_report(data.trial, data.outcomes, as_of=data.data_cutoff)
        except DomainError as exc:
            return refused(request, exc)
        return render(
            request,
            "trial.html",
            user=user,
            trial=data.trial,
            # render_html escapes every value it writes (html.escape); the rest is its markup.
            report_html=Markup(render_html(report)),  # noqa: S704
        )

    # ------------------------------------------------------------ manufacturing, QC, release

    @pages.get("/manufacturing", response_class=HTMLResponse)
    def manufacturing_page(request: Request) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        with application.uow() as uow:
            queue = manufacturing_views.manufacturing_queue(uow)
        return render(request, "manufacturing.html", user=user, **queue)

    @pages.get("/qc", response_class=HTMLResponse)
    def qc_page(request: Request) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        with application.uow() as uow:
            rows = manufacturing_views.qc_worklist(uow)
        return render(request, "qc.html", user=user, rows=rows)

    @pages.get("/release", response_class=HTMLResponse)
    def release_page(request: Request) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        with application.uow() as uow:
            queue = manufacturing_views.release_queue(uow)
        return render(request, "release.html", user=user, queue=queue)

    @pages.get("/batches/{batch_id}", response_class=HTMLResponse)
    def batch_page(request: Request, batch_id: str, done: str = "", error: str = "") -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        try:
            with application.uow() as uow:
                detail = manufacturing_views.batch_detail(uow, batch_id, user)
        except DomainError as exc:
            return refused(request, exc)
        return render(request, "batch.html", user=user, done=done, error=error, **detail)

    @pages.post("/batches/{batch_id}/actions/{action}")
    async def batch_action(request: Request, batch_id: str, action: str) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        form = {k: str(v) for k, v in (await request.form()).items()}
        back = f"/batches/{quote(batch_id)}"
        try:
            command = case_actions.build_batch(action, batch_id, form)
            application.bus.handle(command, actor=user)
        except DomainError as exc:
            return RedirectResponse(f"{back}?{urlencode({'error': exc.message})}", 303)
        done = BATCH_DONE.get(action, action.replace("_", " "))
        return RedirectResponse(f"{back}?{urlencode({'done': done})}", 303)

    @pages.get("/batches/{batch_id}/coa.pdf")
    def batch_certificate(request: Request, batch_id: str) -> Response:
        from veinline.adapters.coa_pdf import render_coa

        user = need_user(request)
        if isinstance(user, Response):
            return user
        try:
            content = release.certificate(application.uow(), batch_id)
        except DomainError as exc:
            return refused(request, exc)
        # The stored batch id (letters, digits and '-'), not the path as typed.
        filename = f"CoA-{content['identifiers']['batch_id']}.pdf"
        return Response(
            render_coa(content),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    # ------------------------------------------------------------ planning

    def planner(request: Request) -> User | Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        if not authority.may(user, authority.Read.PLAN):
            return render(
                request,
                "error.html",
                status=403,
                message=authority.rule_for(authority.Read.PLAN).refuse(user).message,
            )
        return user

    @pages.get("/planning", response_class=HTMLResponse)
    def planning_page(request: Request, done: str = "", error: str = "") -> Response:
        from veinline.services.planning import weights_in_force

        user = planner(request)
        if isinstance(user, Response):
            return user
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
            done=done,
            error=error,
        )

    @pages.post("/planning/weights")
    async def planning_weights(request: Request) -> Response:
        user = planner(request)
        if isinstance(user, Response):
            return user
        form = {k: str(v) for k, v in (await request.form()).items()}
        reason = form.pop("reason", "")
        try:
            values: dict[str, object] = {
                k: float(v) if "." in v else int(v) for k, v in form.items() if v
            }
            application.bus.handle(
                commands.SetTriageWeights(weights=values, reason=reason), actor=user
            )
        except ValueError:
            return RedirectResponse("/planning?error=weights+must+be+numbers", status_code=303)
        except DomainError as exc:
            return RedirectResponse(
                f"/planning?{urlencode({'error': exc.message})}", status_code=303
            )
        return RedirectResponse("/planning?done=weights+changed", status_code=303)

    @pages.post("/planning/plans")
    async def planning_make(request: Request) -> Response:
        user = planner(request)
        if isinstance(user, Response):
            return user
        async with request.form() as form:
            return await _make_plan(form, user)

    async def _make_plan(form: Any, user: User) -> Response:
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
            return RedirectResponse(f"/planning?{urlencode({'error': str(exc)})}", status_code=303)
        except DomainError as exc:
            return RedirectResponse(
                f"/planning?{urlencode({'error': exc.message})}", status_code=303
            )
        return RedirectResponse(f"/planning/{record.id}", status_code=303)

    @pages.get("/planning/{plan_id}", response_class=HTMLResponse)
    def plan_page(request: Request, plan_id: str, done: str = "", error: str = "") -> Response:
        from veinline.planning import fifo
        from veinline.planning.scenario import parse_scenario
        from veinline.services.planning import plan_from

        user = planner(request)
        if isinstance(user, Response):
            return user
        with application.uow() as uow:
            record = uow.plans.get(plan_id)
        if record is None:
            return refused(request, NotFound(f"there is no plan {plan_id}"))
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
            done=done,
            error=error,
        )

    @pages.get("/planning/{plan_id}/gantt.png")
    def plan_gantt(request: Request, plan_id: str) -> Response:
        from veinline.adapters.plan_charts import gantt_png
        from veinline.planning.scenario import parse_scenario
        from veinline.services.planning import plan_from

        user = planner(request)
        if isinstance(user, Response):
            return user
        with application.uow() as uow:
            record = uow.plans.get(plan_id)
        if record is None:
            return Response(status_code=404)
        scenario = parse_scenario(record.scenario)
        deadlines = {
            p.id: p.latest_infusion_date for p in scenario.patients if p.latest_infusion_date
        }
        return Response(gantt_png(plan_from(record), deadlines=deadlines), media_type="image/png")

    @pages.post("/planning/{plan_id}/apply")
    def plan_apply(request: Request, plan_id: str) -> Response:
        user = planner(request)
        if isinstance(user, Response):
            return user
        try:
            application.bus.handle(commands.ApplyPlan(plan_id=plan_id), actor=user)
        except DomainError as exc:
            return RedirectResponse(
                f"/planning/{plan_id}?{urlencode({'error': exc.message})}", status_code=303
            )
        return RedirectResponse(f"/planning/{plan_id}?done=applied", status_code=303)

    @pages.get("/capacity", response_class=HTMLResponse)
    def capacity_page(
        request: Request, low: int = 22, high: int = 32, replications: int = 100
    ) -> Response:
        user = planner(request)
        if isinstance(user, Response):
            return user
        return render(
            request, "capacity.html", user=user, low=low, high=high, replications=replications
        )

    @pages.get("/capacity/sweep.png")
    def capacity_sweep(
        request: Request, low: int = 22, high: int = 32, replications: int = 100
    ) -> Response:
        user = planner(request)
        if isinstance(user, Response):
            return user
        try:
            return Response(_sweep_png(low, high, replications), media_type="image/png")
        except DomainError as exc:
            return Response(exc.message, status_code=422, media_type="text/plain")

    @pages.post("/cases/{case_id}/assessments")
    async def assess(request: Request, case_id: str) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            findings = case_actions.json_object(form.get("inputs", ""), "the findings")
            record = application.bus.handle(
                commands.RecordAssessment(
                    case_id=case_id,
                    kind=form.get("kind", ""),
                    assessed_on=form.get("assessed_on", ""),
                    inputs=findings,
                ),
                actor=user,
            )
        except DomainError as exc:
            return _back(case_id, error=exc.message)
        return _back(case_id, done=f"{record.kind.label}: {record.summary}")

    @pages.post("/cases/{case_id}/scan")
    async def scan(request: Request, case_id: str) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        form = {k: str(v) for k, v in (await request.form()).items()}
        return submit(
            case_id,
            user,
            lambda: commands.ScanCustody(
                case_id=case_id, point=form.get("point", ""), data=form.get("data", "")
            ),
            "scan recorded",
        )

    @pages.post("/shipments/{shipment_id}/logger")
    async def logger(request: Request, shipment_id: str) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        async with request.form() as form:
            return await _import_log(form, user, shipment_id)

    async def _import_log(form: Any, user: User, shipment_id: str) -> Response:
        upload = form.get("file")
        case_id = str(form.get("case_id", ""))
        if upload is None or isinstance(upload, str):
            return _back(case_id, error="choose the logger's CSV file")
        text = (await upload.read()).decode("utf-8", errors="replace")
        zone = str(form.get("timezone") or "UTC")
        return submit(
            case_id,
            user,
            lambda: commands.ImportLoggerData(
                shipment_id=shipment_id, csv_text=text, timezone=zone
            ),
            "logger data imported",
        )

    @pages.post("/shipments/{shipment_id}/disposition")
    async def disposition(request: Request, shipment_id: str) -> Response:
        user = need_user(request)
        if isinstance(user, Response):
            return user
        form = {k: str(v) for k, v in (await request.form()).items()}
        return submit(
            form.get("case_id", ""),
            user,
            lambda: commands.DisposeExcursion(
                shipment_id=shipment_id,
                decision=form.get("decision", ""),
                reason=form.get("reason", ""),
            ),
            "excursion disposed",
        )

    return pages


def _sweep_png(low: int, high: int, replications: int) -> bytes:
    """A suite-count sweep of the RTP facility (seed 002), plotted."""
    import tempfile
    from pathlib import Path

    from veinline.planning.simulation import load_scenario, sweep_suites
    from veinline.planning.simulation.plots import plot_sweep

    if not 1 <= low <= high <= low + 20:
        raise InvalidInput("choose 1 to 21 suite counts, lowest first")
    if not 10 <= replications <= 1000:
        raise InvalidInput("replications: 10 to 1000")
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


def _back(case_id: str, **message: str) -> Response:
    query = urlencode(message)
    return RedirectResponse(f"/cases/{quote(case_id)}?{query}", status_code=303)


def _enrol_context(uow: Any) -> dict[str, Any]:
    products = [p for p in views.product_summaries(uow) if p["modality"] == "autologous_car_t"]
    sites = [s for s in views.sites(uow) if s["kind"] == "treatment_centre"]
    physicians = [u for u in uow.users.list() if u.role is Role.PHYSICIAN]
    return {"products": products, "treatment_sites": sites, "physicians": physicians}


def _scan_points(state: str, user: User) -> list[dict[str, str]]:
    """The hand-offs this user may scan for a case in this state (the authority table's)."""
    points = authority.scan_points(user, CaseState(state))
    return [{"value": p.value, "label": p.label} for p in points]


HIDDEN_DEFAULTS = {"reason": ""}

# What the batch page says was done, once a form's command went through.
BATCH_DONE: dict[str, str] = {
    "start_step": "step started",
    "record_value": "value recorded",
    "correct_value": "correction entered",
    "complete_step": "step signed as performed",
    "verify_step": "step signed as verified",
    "verify_correction": "correction signed as verified",
    "raise_deviation": "deviation raised",
    "investigate_deviation": "investigation started",
    "classify_deviation": "deviation reclassified",
    "close_deviation": "deviation closed and signed",
    "abort": "batch aborted",
    "enter_result": "result entered",
    "correct_result": "result corrected",
    "open_investigation": "OOS investigation opened",
    "acknowledge": "results acknowledged and signed",
    "release": "batch released and signed",
    "release_conditionally": "batch released conditionally and signed",
    "reject": "batch rejected and signed",
}


def _action_form(
    action: str, user: User, sites: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """A form for one action, built from its command's fields, with sensible defaults."""
    fields = []
    for name in case_actions.field_names(action):
        spec: dict[str, Any] = {
            "name": name,
            "label": name.replace("_", " "),
            "type": "text",
            "value": "",
            "options": None,
        }
        if name == "password":
            spec["type"] = "password"
        elif name == "username":
            spec["value"] = user.username
        elif name.endswith("_at"):
            spec["value"] = now.isoformat(timespec="minutes")
        elif name == "apheresis_date":
            spec["value"] = (now + timedelta(days=7)).date().isoformat()
        elif name in ("apheresis_site", "manufacturing_site"):
            kind = "apheresis_centre" if name == "apheresis_site" else "manufacturing_facility"
            spec["options"] = [(s["code"], s["name"]) for s in sites if s["kind"] == kind]
        elif name in ("patient_facts", "planned"):
            spec["type"] = "textarea"
        fields.append(spec)
    return {"action": action, "label": action.replace("_", " ").capitalize(), "fields": fields}
