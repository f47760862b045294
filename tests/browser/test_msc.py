"""An MSC course on the pages, in headless Chromium: stock and the forecast plot on the
inventory page, the storage map, and an order placed by the physician, allocated by QA,
shipped, received and infused vial by vial after the bedside check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from typer.testing import CliRunner

from veinline.adapters.seed.cases import Driver, passing
from veinline.adapters.seed.msc import FACILITY, MscDriver
from veinline.bootstrap import App
from veinline.domain.process import DocumentStatus
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
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


def _course_on_the_pages(
    page: Page, base: str, demo_app: App, order_id: str, name: str, wristband: str
) -> None:
    """A vum02 course (2 vials × 3 infusions at 60 kg) ordered by the physician, allocated
    by QA, picked up by the courier, its logger imported and received by the nurse, and
    infused vial by vial after the bedside check."""
    _sign_in(page, base, "physician", "/inventory/orders")
    page.get_by_label("Order id").fill(order_id)
    page.get_by_label("Product").select_option("vum02")
    page.get_by_label("Treatment centre").select_option("demo-sh-treatment")
    page.get_by_label("Patient name").fill(name)
    page.get_by_label("Wristband").fill(wristband)
    page.get_by_label("Age (years)").fill("44")
    page.get_by_label("Weight (kg)").fill("60")
    page.get_by_label("Diagnosis").fill("ards")
    page.get_by_label("Conditions (comma-separated)").fill("moderate_or_severe_ards")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("course")).to_contain_text("rounded up to 2 whole vial(s)")
    _sign_out(page)

    _sign_in(page, base, "qa", f"/inventory/orders/{order_id}")
    expect(page.get_by_test_id("patient")).to_have_text(order_id)  # QA: no patient name
    page.get_by_role("button", name="Allocate vials").click()
    expect(page.get_by_role("status")).to_have_text("allocate")
    expect(page.get_by_test_id("vials").locator("tbody tr")).to_have_count(6)
    _sign_out(page)

    _sign_in(page, base, "courier", f"/inventory/orders/{order_id}")
    codes = page.get_by_test_id("vials").locator("tbody tr td code").all_inner_texts()
    page.get_by_label("Vials scanned (one a line)").fill("\n".join(codes))
    page.get_by_role("button", name="Ship").click()
    expect(page.get_by_role("status")).to_have_text("ship")
    _sign_out(page)

    _sign_in(page, base, "nurse", f"/inventory/orders/{order_id}")
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

    _sign_in(page, base, "physician", f"/inventory/orders/{order_id}")
    expect(page.get_by_test_id("patient")).to_contain_text(name)
    codes = page.get_by_test_id("vials").locator("tbody tr td code").all_inner_texts()
    page.get_by_label("Wristband scanned").fill("WB-SOMEONE-ELSE")
    page.get_by_label("Vial scanned").fill(codes[0])
    page.get_by_role("button", name="Check and infuse one vial").click()
    expect(page.get_by_role("alert")).to_contain_text("wristband")
    for code in codes:
        page.get_by_label("Wristband scanned").fill(wristband)
        page.get_by_label("Vial scanned").fill(code)
        page.get_by_role("button", name="Check and infuse one vial").click()
        expect(page.get_by_role("status")).to_have_text("infuse")
    expect(page.locator("h1")).to_contain_text("Course infused")


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

    _course_on_the_pages(page, live_server, demo_app, "ORD-WEB", "Zhang Wei", "WB-WEB-1")
    assert ledger.verify(demo_app.uow()).ok


def test_a_donor_becomes_a_course_infused_on_the_pages_and_the_look_back_finds_the_patient(
    page: Page, live_server: str, demo_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = live_server
    msc = MscDriver(Driver(demo_app.bus, demo_app.user, demo_app.clock))
    msc.unit("SH-TANK-1", "demo-sh-depot")
    msc.prepare("vum02")  # the process and specification in force at the facility

    # QA at the collection facility registers the donor and signs the screening review.
    _sign_in(page, base, "qa2", "/inventory/donors")
    form = page.get_by_test_id("register-donor")
    form.get_by_label("Donor id (pseudonymous)").fill("DNR-BR1")
    form.get_by_label("Collection site").select_option(FACILITY)
    form.get_by_label("Site's own donor reference").fill("cord 2026-117")
    form.get_by_label("Consent to donation on file").check()
    form.get_by_label("Consent date").fill("2026-02-01")
    form.get_by_role("button", name="Register donor").click()
    expect(page.get_by_role("status")).to_have_text("donor registered")
    expect(page.get_by_test_id("donor-status")).to_have_text("Screening pending")
    screen = page.get_by_test_id("screen-donor")
    for label in ("HIV 1", "HIV 2", "HBV", "HCV", "Syphilis"):
        screen.get_by_label(f"{label} result").select_option("negative")
    screen.get_by_label("Donor screening questionnaire passed").check()
    screen.get_by_label("Your user name").fill("qa2")
    screen.get_by_label("Password").fill("veinline-demo")
    screen.get_by_role("button", name="Sign the review").click()
    expect(page.get_by_test_id("donor-status")).to_have_text("Eligible")
    expect(page.get_by_test_id("donor")).to_contain_text("cord 2026-117")  # its own site
    _sign_out(page)

    # The facility's operator starts the lot from the donor's page: a batch with a DIN.
    _sign_in(page, base, "operator.suzhou", "/inventory/donors/DNR-BR1")
    page.get_by_role("link", name="Start a lot from this donor's tissue").click()
    start = page.get_by_test_id("start-lot")
    expect(start.get_by_label("Donor")).to_have_value("DNR-BR1")
    start.get_by_label("Lot id").fill("LOT-BR1")
    start.get_by_label("Product").select_option("vum02")
    start.get_by_label("Facility").select_option(FACILITY)
    start.get_by_role("button", name="Start the lot").click()
    expect(page.get_by_role("status")).to_contain_text("lot started")
    expect(page.get_by_test_id("batch-link")).to_have_text("LOT-BR1")
    _sign_out(page)

    # The batch record's steps (as tests/browser/test_manufacturing.py brings a batch to
    # QC), then QC's results and QA's signed release on the batch page.
    msc.run_batch("LOT-BR1")
    with demo_app.uow() as uow:
        specs = uow.specifications.find(product_code="vum02", market="CN")
    (spec,) = [s for s in specs if s.status is DocumentStatus.APPROVED]
    _sign_in(page, base, "qc", "/batches/LOT-BR1")
    for test in spec.tests:
        entry = page.locator(f"form[data-action='enter_result'][data-test='{test.code}']")
        field = entry.locator("[name='value']")
        if test.expected is not None:
            field.select_option(str(passing(test)))
        else:
            field.fill(str(passing(test)))
        entry.get_by_role("button", name="Enter").click()
        expect(page.get_by_role("status")).to_contain_text("result entered")
    _sign_out(page)
    _sign_in(page, base, "qa2", "/batches/LOT-BR1")
    release = page.locator("form[data-action='release']")
    release.get_by_label("User name").fill("qa2")
    release.get_by_label("Password").fill("veinline-demo")
    release.get_by_role("button", name="Sign: release batch").click()
    expect(page.get_by_test_id("batch-status")).to_have_text("Released")
    _sign_out(page)

    # The released lot is filled, labelled and put away.
    _sign_in(page, base, "operator.suzhou", "/inventory/lots/LOT-BR1")
    fill = page.get_by_test_id("fill")
    fill.get_by_label("Vials").fill("8")
    fill.get_by_role("button", name="Fill and label").click()
    expect(page.get_by_role("status")).to_have_text("8 vials filled and labelled")
    expect(page.get_by_test_id("lot-vials").locator("tbody tr")).to_have_count(8)
    labels = page.request.get(f"{base}/inventory/lots/LOT-BR1/labels.pdf")
    assert labels.ok and labels.body().startswith(b"%PDF")
    _sign_out(page)
    _sign_in(page, base, "operator", "/inventory/lots/LOT-BR1")
    away = page.get_by_test_id("put-away")
    away.get_by_label("Storage unit").select_option("SH-TANK-1")
    away.get_by_role("button", name="Put away").click()
    expect(page.get_by_role("status")).to_have_text("8 vials put away")
    expect(page.get_by_test_id("lot-vials")).to_contain_text("SH-TANK-1/R1/B1/A1")
    _sign_out(page)

    _course_on_the_pages(page, base, demo_app, "ORD-BR1", "Li Na", "WB-BR-1")

    # The look-back from the donor names the patient to her care team.
    _sign_in(page, base, "physician", "/inventory/donors/DNR-BR1")
    expect(page.get_by_test_id("recipients")).to_contain_text("Li Na (WB-BR-1)")
    # Pseudonymous away from the collection site: the physician sees the donor's id only.
    expect(page.get_by_test_id("donor")).not_to_contain_text("cord 2026-117")
    expect(page.get_by_test_id("lookback").locator("tbody tr")).to_have_count(8)
    _sign_out(page)

    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)
    cli_context().forget()
    verified = CliRunner().invoke(cli_app, ["--as", "qa", "ledger", "verify"])
    cli_context().forget()
    assert verified.exit_code == 0, verified.stdout
    assert ledger.verify(demo_app.uow()).ok
