"""Each role's home queue walked to the action it names, in headless Chromium, at desktop
(1280 px) and tablet (820 px) width, on the demo cases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver, barcode, load_demo_cases
from veinline.bootstrap import App
from veinline.domain.case import CaseState

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1280, "tablet": 820}


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("VEINLINE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def server(demo_app: App, live_server: str) -> str:
    """The live server over the demo data with one demo case in every state."""
    load_demo_cases(Driver(demo_app.bus, demo_app.user, demo_app.clock))
    return live_server


def _home(page: Page, base: str, username: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill("veinline-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("What needs you now")


def _open(page: Page, action: str, record: str) -> None:
    """Follow the queue item that names this action on this record."""
    item = page.locator(
        f"[data-testid='work-queue'] li[data-action='{action}'][data-record='{record}']"
    )
    expect(item).to_be_visible()
    expect(item.locator(".why")).not_to_be_empty()
    item.get_by_role("link").click()


def _fits(page: Page, width: int) -> None:
    # The queue itself never makes the page scroll sideways.
    scroll = page.evaluate("document.querySelector('[data-testid=work-queue]').scrollWidth")
    assert scroll <= width


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_coordinators_queue_leads_to_the_booking_form(
    page: Page, server: str, width: int
) -> None:
    _home(page, server, "coordinator", width)
    nav = page.locator("header nav")
    expect(nav.get_by_role("link", name="QC")).to_have_count(0)
    expect(nav.get_by_role("link", name="Cases")).to_be_visible()
    _fits(page, width)
    _shot(page, f"home-coordinator-{width}")
    _open(page, "book_apheresis", "DEMO-02")
    expect(page).to_have_url(f"{server}/cases/DEMO-02#action-book_apheresis")
    form = page.locator("form[data-action='book_apheresis']")
    expect(form).to_be_visible()
    expect(form.get_by_role("button", name="Book apheresis")).to_be_enabled()
    # Cancel is the last form, dangerous, and will not submit without its confirmation.
    forms = page.locator(".actions form")
    expect(forms.last).to_have_attribute("data-action", "cancel")
    expect(forms.last).to_have_class("form action danger")
    forms.last.get_by_label("reason").fill("patient withdrew consent")
    forms.last.get_by_role("button", name="Cancel").click()
    expect(page).to_have_url(f"{server}/cases/DEMO-02#action-book_apheresis")
    expect(page.get_by_test_id("case-state")).to_have_text("Eligible")


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_qa_queue_leads_to_the_blocked_shipments_disposition(
    page: Page, server: str, width: int
) -> None:
    _home(page, server, "qa", width)
    alert = page.get_by_test_id("alerts").locator("li[data-kind='blocked_shipment']")
    expect(alert).to_contain_text("DEMO-09-S02")
    _fits(page, width)
    _shot(page, f"home-qa-{width}")
    _open(page, "dispose_excursion", "DEMO-09-S02")
    expect(page).to_have_url(f"{server}/cases/DEMO-09#shipment-DEMO-09-S02")
    section = page.locator("#shipment-DEMO-09-S02")
    expect(section.get_by_test_id("blocked")).to_be_visible()
    expect(section.locator("form[data-action='dispose_excursion']")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_nurses_queue_leads_to_the_bedside_form_which_keeps_its_values(
    page: Page, server: str, demo_app: App, width: int
) -> None:
    _home(page, server, "nurse", width)
    _fits(page, width)
    _shot(page, f"home-nurse-{width}")
    _open(page, "infuse", "DEMO-10")
    expect(page).to_have_url(f"{server}/cases/DEMO-10#action-infuse")
    form = page.locator("form[data-action='infuse']")
    expect(form).to_be_visible()
    with demo_app.uow() as uow:
        case = uow.cases.get("DEMO-10")
    assert case is not None
    bag = barcode(case)
    form.get_by_label("wristband id").fill("WB-0000")
    form.get_by_label("bag scan").fill(bag)
    form.get_by_label("weight kg").fill("80")
    form.get_by_label("dose cells").fill("1e6")
    thawed = form.get_by_label("thawed at").input_value()
    form.get_by_role("button", name="Infuse").click()
    # Refused: everything entered is still there, and the wristband check says why.
    form = page.locator("form[data-action='infuse']")
    expect(form.get_by_test_id("problem-wristband_id")).to_contain_text("not the patient")
    expect(form.get_by_label("wristband id")).to_have_value("WB-0000")
    expect(form.get_by_label("bag scan")).to_have_value(bag)
    expect(form.get_by_label("weight kg")).to_have_value("80")
    expect(form.get_by_label("dose cells")).to_have_value("1e6")
    expect(form.get_by_label("thawed at")).to_have_value(thawed)
    _shot(page, f"bedside-refused-{width}")


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_a_long_queue_comes_a_page_at_a_time(
    page: Page, server: str, demo_app: App, width: int
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    for n in range(55):
        case = driver.enrol(EQUE_CEL_HK, patient_name=f"Paged {n}", wristband=f"WB-P{n}")
        driver.advance(case, EQUE_CEL_HK, CaseState.ELIGIBLE)
    _home(page, server, "coordinator", width)
    queue = page.get_by_test_id("work-queue").locator("li")
    expect(queue).to_have_count(50)
    expect(page.get_by_test_id("queue-count")).to_contain_text("50 a page")
    _fits(page, width)
    pager = page.get_by_test_id("pager")
    expect(pager).to_contain_text("Page 1 of 2")
    pager.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(f"{server}/?page=2")
    expect(page.get_by_test_id("pager")).to_contain_text("Page 2 of 2")
    expect(queue.first).to_be_visible()
    expect(queue).not_to_have_count(50)
    _fits(page, width)
