"""Every page at phone and tablet width, and checked by axe-core, in headless Chromium.

Each role signs in once (one browser context per role) and visits the pages it may open,
on the demo records. Two checks (docs/accessibility.md):

- layout: at 820 px (a tablet held upright) and 390 px (a phone) no page is wider than
  the window, so nothing scrolls sideways;
- accessibility: axe-core (npm, pinned in package-lock.json, injected from
  node_modules: nothing is fetched at run time) finds no critical or serious violation
  on any page; every HTML page route of the app is visited (the list is checked
  against the app's routes, so a new page without a visit fails here).

VEINLINE_AXE_REPORT=file.json writes every violation found (rule, impact, page, nodes)
for a person to read; the counts in docs/accessibility.md come from it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from playwright.sync_api import Browser, Page, expect

from tests.fakes import present
from veinline.adapters.seed.cases import DEMO_PASSWORD, Driver, load_demo_cases, load_demo_trial
from veinline.bootstrap import App
from veinline.domain.job import Job, JobKind, JobState, job_key
from veinline.entrypoints.http import web
from veinline.planning import generate
from veinline.planning.scenario import scenario_to_json
from veinline.services import commands

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")
DESKTOP, TABLET, PHONE = 1280, 820, 390


@dataclass(frozen=True)
class Visit:
    """A page one role opens: the route it stands for, and the address on demo records."""

    route: str
    path: str


@dataclass(frozen=True)
class Seen:
    """One page as one role saw it: pixels wider than the window (by window width) and
    axe's violations."""

    user: str
    path: str
    overflow: dict[int, int]
    violations: list[dict[str, Any]]


def _demo_records(app: App) -> dict[str, str]:
    """The demo cases in every state, the demo trial and one small plan: their ids."""
    driver = Driver(app.bus, app.user, app.clock)
    load_demo_cases(driver)
    load_demo_trial(driver)
    scenario = json.loads(scenario_to_json(generate.small(patients=6)))
    plan = app.bus.handle(
        commands.MakePlan(scenario=scenario, policy="fifo", time_limit_s=1.0),
        actor=app.user("planner"),
    )
    # A sweep another worker runs (its heartbeat fresh, the test's clock still): its page
    # shows the progress.
    inputs = {"low": 26, "high": 27, "replications": 10}
    job = Job(
        id="J20260302-running",
        kind=JobKind.SWEEP,
        key=job_key(JobKind.SWEEP, inputs),
        inputs=inputs,
        submitted_by="planner",
        submitted_at=app.clock(),
        state=JobState.RUNNING,
        progress=0.4,
        message="8 of 20 replications",
        started_at=app.clock(),
        heartbeat_at=app.clock(),
        worker="another server",
    )
    app.jobs.store.add(job)
    with app.uow() as uow:
        in_manufacturing = present(uow.cases.get("DEMO-06"))
        in_qc = present(uow.cases.get("DEMO-07"))
        (trial,) = uow.trials.list()
    return {
        "batch": present(in_manufacturing.batch_id),
        "qc_batch": present(in_qc.batch_id),
        "trial": trial.id,
        "plan": plan.id,
        "job": job.id,
    }


def _visits(ids: dict[str, str]) -> dict[str | None, list[Visit]]:
    """Who opens what: None is a visitor who has not signed in."""
    case = "/cases/{case_id}"
    return {
        None: [
            Visit("/login", "/login"),
            Visit("/", "/"),
            Visit("/catalog", "/catalog"),
            Visit("/catalog/{code}", "/catalog/eque-cel"),
            Visit("/catalog/{code}", "/catalog/amimestrocel"),
            Visit("/sites", "/sites"),
        ],
        "coordinator": [
            Visit("/", "/"),
            Visit("/cases", "/cases"),
            # Searched and filtered (and a name search: the coordinator sees patients).
            Visit("/cases", "/cases?q=Demo+Patient&state=enrolled"),
            Visit("/cases/new", "/cases/new"),
            Visit(case, "/cases/DEMO-01"),  # enrolled: eligibility
            Visit(case, "/cases/DEMO-02"),  # eligible: booking
            Visit(case, "/cases/DEMO-13"),  # out of specification
            Visit(case, "/cases/DEMO-14"),  # cancelled
            Visit("/account/password", "/account/password"),
        ],
        "nurse": [
            Visit(case, "/cases/DEMO-03"),  # apheresis booked: collection and custody
            Visit(case, "/cases/DEMO-04"),  # collected: hand-off
            Visit(case, "/cases/DEMO-10"),  # received at site: the bedside checks
        ],
        "courier": [
            Visit(case, "/cases/DEMO-05"),  # at manufacturing
            Visit(case, "/cases/DEMO-08"),  # released: shipment and custody
            Visit(case, "/cases/DEMO-09"),  # shipped: the shipment and its logger
            # A page this role may not open: the error page.
            Visit("/planning", "/planning"),
        ],
        "operator": [
            Visit("/manufacturing", "/manufacturing"),
            # Allogeneic MSC before stock: lots started from donors, a lot's fill.
            Visit("/inventory/lots", "/inventory/lots"),
            Visit("/inventory/lots/{lot_id}", "/inventory/lots/MSC-AMI-01"),
            Visit("/batches/{batch_id}", f"/batches/{ids['batch']}"),
            Visit(case, "/cases/DEMO-06"),
        ],
        "qc": [
            Visit("/qc", "/qc"),
            Visit("/batches/{batch_id}", f"/batches/{ids['qc_batch']}"),
        ],
        "qa": [
            Visit("/inventory/donors", "/inventory/donors"),
            Visit("/inventory/donors/{donor_id}", "/inventory/donors/DNR-0003"),  # ineligible
            Visit("/release", "/release"),
            Visit(case, "/cases/DEMO-07"),
            Visit("/ledger", "/ledger"),
            Visit("/ledger", "/ledger?entity_type=case&action=case.enrolled&page=2"),
            Visit("/ledger/history/{entity_id:path}", "/ledger/history/case/DEMO-08"),
        ],
        "physician": [
            Visit(case, "/cases/DEMO-11"),  # infused: follow-up grading
            Visit(case, "/cases/DEMO-12"),  # in follow-up
            Visit("/trials", "/trials"),
            Visit("/trials/{trial_id}", f"/trials/{ids['trial']}"),
        ],
        "planner": [
            Visit("/planning", "/planning"),
            Visit("/planning/{plan_id}", f"/planning/{ids['plan']}"),
            # The smallest sweep the form allows, so the chart draws in a moment.
            Visit("/capacity", "/capacity?low=26&high=26&replications=10"),
            Visit("/jobs/{job_id}", f"/jobs/{ids['job']}"),
            # Allogeneic MSC: stock with its forecast, a tank's map, orders.
            Visit("/inventory", "/inventory"),
            Visit("/inventory/storage/{unit_id}", "/inventory/storage/SZ-TANK-1"),
            Visit("/inventory/orders", "/inventory/orders"),
            Visit("/inventory/orders/{order_id}", "/inventory/orders/MSC-ORD-01"),
        ],
    }


def _routes(router: APIRouter) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in router.routes:
        included = getattr(route, "original_router", None)  # an included router
        if isinstance(included, APIRouter):
            found.extend(_routes(included))
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def _page_routes() -> set[str]:
    """The app's HTML pages: the page routers' GET routes that are not images, PDFs or
    JSON (a job's status, which its page polls)."""
    return {
        route.path
        for route in _routes(web.router)
        if "GET" in (route.methods or set()) and not route.path.endswith((".png", ".pdf", ".json"))
    }


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in")).to_be_visible()


def _overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: nothing scrolls sideways)."""
    width: int = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    return width


def _axe(page: Page, width: int) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, each marked with the window width."""
    if not AXE.exists():
        pytest.fail("axe-core is not installed: run scripts/install --browser (npm ci)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        """async (width) => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, width: width,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
            }));
        }""",
        width,
    )
    return violations


def _walk(browser: Browser, base: str, ids: dict[str, str]) -> list[Seen]:
    """Every role's pages: axe at desktop width, then the overflow at tablet and phone
    width (the same page, the window narrowed: the layout is CSS only)."""
    seen: list[Seen] = []
    for username, visits in _visits(ids).items():
        # bypass_csp: the page's policy admits scripts from its own origin only, and the
        # test injects axe-core inline.
        context = browser.new_context(viewport={"width": DESKTOP, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            if username is not None:
                _sign_in(page, base, username)
            for visit in visits:
                page.set_viewport_size({"width": DESKTOP, "height": 900})
                page.goto(base + visit.path)
                violations = _axe(page, DESKTOP)
                overflow = {}
                for width in (TABLET, PHONE):
                    page.set_viewport_size({"width": width, "height": 900})
                    overflow[width] = _overflow(page)
                # Again on a phone: a table that scrolls in its own box there must be
                # reachable by keyboard, and stacked cards must keep their names.
                violations += _axe(page, PHONE)
                seen.append(Seen(username or "visitor", visit.path, overflow, violations))
        finally:
            context.close()
    return seen


def test_every_page_route_is_visited() -> None:
    # Only the routes the visits stand for are compared here: no records, no browser.
    ids = dict.fromkeys(("batch", "qc_batch", "trial", "plan", "job"), "x")
    visited = {visit.route for visits in _visits(ids).values() for visit in visits}
    assert _page_routes() == visited


def test_every_page_fits_a_tablet_and_a_phone_and_passes_axe(
    browser: Browser, live_server: str, demo_app: App
) -> None:
    # One walk for both checks: loading the demo records and signing in each role is
    # most of the time.
    seen = _walk(browser, live_server, _demo_records(demo_app))
    report = os.environ.get("VEINLINE_AXE_REPORT")
    if report:
        Path(report).write_text(json.dumps([asdict(s) for s in seen], indent=1))
    wide = [
        f"{s.user} {s.path} at {width} px: {px} px wider than the window"
        for s in seen
        for width, px in s.overflow.items()
        if px > 0
    ]
    blocking = [
        f"{s.user} {s.path} at {v['width']} px: {v['impact']} {v['id']} ({v['help']}) at "
        + "; ".join(n["target"] for n in v["nodes"][:3])
        for s in seen
        for v in s.violations
        if v["impact"] in BLOCKING
    ]
    counts = Counter(v["impact"] for s in seen for v in s.violations)
    assert wide == []
    assert blocking == [], dict(counts)
