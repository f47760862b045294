"""An MSC course on the pages, in headless Chromium: stock and the forecast plot on the
inventory page, the storage map, and an order placed by the physician, allocated by QA,
shipped, received and infused vial by vial after the bedside check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from veinline.adapters.seed.cases import Driver
from veinline.adapters.seed.msc import MscDriver
from veinline.bootstrap import App
from veinline.services import ledger

pytestmark = pytest.mark.browser


def _sign_in(page: Page, base: str, username: str, then: str) -> None:
    page.goto(f"{base}/login?next={then}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill("veinline-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in")).to_be_visible()


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()


def test_a_course_is_ordered_allocated_shipped_and_infused_on_the_pages(
    page: Page, live_server: str, demo_app: App
) -> None:
    msc = MscDriver(Driver(demo_app.bus, demo_app.user, demo_app.clock))
    msc.unit("SH-TANK-1", "demo-sh-depot")
    msc.donor("DNR-WEB")
    lot = msc.lot("LOT-WEB", "DNR-WEB", "vum02")
    msc.fill(lot, 8, store_at="SH-TANK-1")

    _sign_in(page, live_server, "planner", "/inventory")
    expect(page.get_by_test_id("by-product")).to_contain_text("vum02")
    expect(page.get_by_test_id("by-lot")).to_contain_text("LOT-WEB")
    plot = page.get_by_test_id("forecast-plot")
    expect(plot).to_be_visible()
    assert plot.evaluate("img => img.naturalWidth") > 100  # the PNG was drawn
    page.get_by_role("link", name="SH-TANK-1").click()
    expect(page.get_by_test_id("occupied")).to_have_text("8")
    expect(page.get_by_test_id("box").first).to_contain_text("LOT-WEB-001")
    _sign_out(page)

    _sign_in(page, live_server, "physician", "/inventory/orders")
    page.get_by_label("Order id").fill("ORD-WEB")
    page.get_by_label("Product").select_option("vum02")
    page.get_by_label("Treatment centre").select_option("demo-sh-treatment")
    page.get_by_label("Patient name").fill("Zhang Wei")
    page.get_by_label("Wristband").fill("WB-WEB-1")
    page.get_by_label("Age (years)").fill("44")
    page.get_by_label("Weight (kg)").fill("60")
    page.get_by_label("Diagnosis").fill("ards")
    page.get_by_label("Conditions (comma-separated)").fill("moderate_or_severe_ards")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("course")).to_contain_text("rounded up to 2 whole vial(s)")
    _sign_out(page)

    _sign_in(page, live_server, "qa", "/inventory/orders/ORD-WEB")
    expect(page.get_by_test_id("patient")).to_have_text("ORD-WEB")  # QA: no patient name
    page.get_by_role("button", name="Allocate vials").click()
    expect(page.get_by_role("status")).to_have_text("allocate")
    expect(page.get_by_test_id("vials").locator("tbody tr")).to_have_count(6)
    _sign_out(page)

    _sign_in(page, live_server, "courier", "/inventory/orders/ORD-WEB")
    codes = page.get_by_test_id("vials").locator("tbody tr td code").all_inner_texts()
    page.get_by_label("Vials scanned (one a line)").fill("\n".join(codes))
    page.get_by_role("button", name="Ship").click()
    expect(page.get_by_role("status")).to_have_text("ship")
    _sign_out(page)

    _sign_in(page, live_server, "nurse", "/inventory/orders/ORD-WEB")
    expect(page.get_by_test_id("custody")).to_contain_text("Courier picks up")
    receive = page.get_by_test_id("action-receive")
    receive.get_by_label("Vials scanned (one a line)").fill("\n".join(codes))
    receive.get_by_role("button", name="Receive").click()
    expect(page.get_by_role("alert")).to_contain_text("no logger readings")
    now = demo_app.clock()
    log = "\n".join(f"{(now + timedelta(minutes=10 * i)).isoformat()},-186" for i in range(3))
    page.get_by_test_id("action-logger").get_by_label("Shipper logger's CSV").fill(log)
    page.get_by_role("button", name="Import logger file").click()
    expect(page.get_by_role("status")).to_have_text("logger data imported")
    expect(page.get_by_test_id("shipment")).to_contain_text("3 reading(s), 0 excursion(s)")
    receive = page.get_by_test_id("action-receive")
    receive.get_by_label("Vials scanned (one a line)").fill("\n".join(codes[:-1]))
    receive.get_by_role("button", name="Receive").click()
    expect(page.get_by_role("alert")).to_contain_text("not scanned")
    receive.get_by_label("Vials scanned (one a line)").fill("\n".join(codes))
    receive.get_by_role("button", name="Receive").click()
    expect(page.get_by_role("status")).to_have_text("receive")
    expect(page.get_by_test_id("custody")).to_contain_text("Received at the treatment centre")
    _sign_out(page)

    _sign_in(page, live_server, "physician", "/inventory/orders/ORD-WEB")
    expect(page.get_by_test_id("patient")).to_contain_text("Zhang Wei")
    codes = page.get_by_test_id("vials").locator("tbody tr td code").all_inner_texts()
    page.get_by_label("Wristband scanned").fill("WB-SOMEONE-ELSE")
    page.get_by_label("Vial scanned").fill(codes[0])
    page.get_by_role("button", name="Check and infuse one vial").click()
    expect(page.get_by_role("alert")).to_contain_text("wristband")
    for code in codes:
        page.get_by_label("Wristband scanned").fill("WB-WEB-1")
        page.get_by_label("Vial scanned").fill(code)
        page.get_by_role("button", name="Check and infuse one vial").click()
        expect(page.get_by_role("status")).to_have_text("infuse")
    expect(page.locator("h1")).to_contain_text("Course infused")
    assert ledger.verify(demo_app.uow()).ok
