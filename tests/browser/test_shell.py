"""The web shell in a real headless Chromium: catalogue, sign-in, ledger verification."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _shot(page: Page, name: str) -> None:
    # Screenshots for a person to look at, when asked for (VEINLINE_SCREENSHOTS=dir).
    folder = os.environ.get("VEINLINE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_visitor_sees_the_catalogue_and_a_product(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/catalog")
    table = page.get_by_test_id("catalogue")
    expect(table).to_contain_text("equecabtagene autoleucel (Fucaso)")
    expect(table).to_contain_text("HK · Approved")
    expect(table.locator("tbody tr")).to_have_count(8)
    _shot(page, "catalogue")
    page.get_by_role("link", name="amimestrocel").click()
    # The seed's notice gives another English rendering: the name is shown, marked.
    expect(page.get_by_role("heading", level=1)).to_contain_text("amimestrocel injection")
    expect(page.get_by_test_id("name-unconfirmed")).to_have_text("name unconfirmed")
    expect(page.locator("dl.facts")).to_contain_text("at or below -150 °C (unconfirmed)")
    expect(page.locator("body")).to_contain_text("Aged 14 or over")
    sources = page.get_by_test_id("fact-sources")
    # Every fact names its source; what no source supports says so, highlighted.
    expect(sources.locator("tbody tr").first).to_be_visible()
    for cell in sources.locator("tbody tr td:nth-child(3)").all():
        assert cell.inner_text().strip()
    expect(sources.locator("td.warn").first).to_contain_text("unconfirmed")
    _shot(page, "product")


def test_a_qa_reviewer_signs_in_and_verifies_the_ledger(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/ledger")
    expect(page).to_have_url(f"{live_server}/login?next=/ledger")
    page.get_by_label("User name").fill("qa")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("user name or password is wrong")
    page.get_by_label("Password").fill("veinline-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/ledger")
    expect(page.get_by_test_id("signed-in")).to_contain_text("Demo QA Reviewer")
    # The page shows the last verification and never verifies while it renders; "Verify
    # now" does, the whole chain the first time: 55 entries from the demo data, and the
    # wrong password and its clearing (11.300(d)).
    expect(page.get_by_test_id("ledger-status")).to_contain_text("Not verified yet")
    page.get_by_role("button", name="Verify now").click()
    expect(page).to_have_url(f"{live_server}/ledger")
    expect(page.get_by_test_id("ledger-status")).to_contain_text(
        "Verified: 57 entries checked from the first entry"
    )
    expect(page.get_by_test_id("ledger-checkpoint")).to_contain_text("verification by qa")
    _shot(page, "ledger")
    page.get_by_role("link", name="product/eque-cel").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History of product/eque-cel")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()


def test_a_full_verification_runs_as_a_job_whose_page_shows_its_checkpoint(
    page: Page, live_server: str
) -> None:
    # The whole chain is never walked in the request: the form queues a job, the page
    # polls its progress (static/jobs.js) and reloads with the checkpoint once it is done.
    page.goto(f"{live_server}/login?next=/ledger")
    page.get_by_label("User name").fill("qa")
    page.get_by_label("Password").fill("veinline-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("ledger-status")).to_contain_text("Not verified yet")
    page.get_by_label("the whole chain (full)").check()
    page.get_by_role("button", name="Verify now").click()
    expect(page).to_have_url(re.compile(r"/ledger\?job=J"))
    expect(page.get_by_test_id("ledger-status")).to_contain_text(
        "entries checked from the first entry", timeout=30_000
    )
    expect(page.get_by_test_id("ledger-checkpoint")).to_contain_text("full verification by qa")
    expect(page.get_by_test_id("job-status")).to_have_count(0)


def test_at_tablet_width_wide_tables_scroll_inside_the_page(page: Page, live_server: str) -> None:
    # A tablet held upright (820 px): the ledger's wide table scrolls in its own box, so
    # the header and forms stay on screen instead of the whole page sliding sideways.
    page.set_viewport_size({"width": 820, "height": 1000})
    page.goto(f"{live_server}/login?next=/ledger")
    page.get_by_label("User name").fill("qa")
    page.get_by_label("Password").fill("veinline-demo")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Verify now").click()
    expect(page.get_by_test_id("ledger-status")).to_contain_text("Verified")
    assert page.evaluate("document.documentElement.scrollWidth") <= 820
    table = page.locator("table.grid").first
    assert table.evaluate("t => t.scrollWidth > t.clientWidth")
    _shot(page, "ledger-tablet")
