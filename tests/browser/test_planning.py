"""Planning and capacity pages in headless Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _sign_in(page: Page, base: str, username: str, then: str) -> None:
    page.goto(f"{base}/login?next={then}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill("veinline-demo")
    page.get_by_role("button", name="Sign in").click()


def _image_loaded(page: Page, selector: str) -> bool:
    return bool(page.locator(selector).evaluate("img => img.complete && img.naturalWidth > 0"))


def test_a_planner_makes_a_plan_and_reads_its_gantt_and_waitlist(
    page: Page, live_server: str
) -> None:
    _sign_in(page, live_server, "planner", "/planning")
    form = page.locator("form[data-action='make-plan']")
    form.locator("[name='patients']").fill("24")
    form.locator("[name='time_limit']").fill("2")
    form.get_by_role("button", name="Plan", exact=True).click()
    # The plan is made as a job: its page shows the progress, then opens the plan.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Plan P", timeout=60_000)
    expect(page.get_by_test_id("plan-metrics")).to_contain_text("First come, first served")
    expect(page.get_by_test_id("waitlist").locator("tbody tr")).to_have_count(24)
    expect(page.get_by_test_id("waitlist")).to_contain_text("urgency")
    page.wait_for_function("() => document.querySelector('img.chart').complete")
    assert _image_loaded(page, "img.chart")

    page.goto(f"{live_server}/planning")
    weights = page.locator("form[data-action='weights']")
    weights.locator("[name='urgency']").fill("70")
    weights.locator("[name='reason']").fill("committee minutes 7")
    weights.get_by_role("button").click()
    expect(page.get_by_role("status")).to_contain_text("weights changed")
    expect(weights.locator("[name='urgency']")).to_have_value("70.0")


def test_the_capacity_page_plots_a_sweep(page: Page, live_server: str) -> None:
    _sign_in(page, live_server, "planner", "/capacity?low=26&high=28&replications=20")
    # The sweep runs as a job: the page shows its progress, then reloads with the chart.
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=sweep]');"
        " return i !== null && i.complete && i.naturalWidth > 0; }",
        timeout=60_000,
    )
    assert _image_loaded(page, "[data-testid=sweep]")
    # Seen again: the cached chart at once, no progress shown.
    page.reload()
    expect(page.get_by_test_id("sweep")).to_be_visible()
    expect(page.get_by_test_id("job-status")).to_have_count(0)
