"""One case driven through the web pages, enrolment to follow-up, in headless Chromium."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import Case

pytestmark = pytest.mark.browser

FACTS = {
    "age_years": 58,
    "diagnosis": "multiple_myeloma",
    "disease_status": "relapsed_refractory",
    "prior_lines": 3,
    "prior_therapy_classes": ["proteasome_inhibitor", "immunomodulatory_agent"],
    "weight_kg": 70,
}


_LOG = "timestamp,celsius\n" + "".join(
    f"2026-03-02T{h:02d}:{m:02d}:00Z,-180\n" for h in range(8, 10) for m in (0, 15, 30, 45)
)
_CRS_NONE = {
    "temperature_c": 37.0,
    "fever_masked_by_treatment": False,
    "hypotension": False,
    "vasopressors": [],
    "oxygen": {"device": "none"},
    "death_from_crs": False,
}


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("VEINLINE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _sign_in(page: Page, base: str, username: str, then: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login?next={then}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill("veinline-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in")).to_be_visible()


def _act(page: Page, action: str, **fields: str) -> None:
    form = page.locator(f"form[data-action='{action}']")
    for name, value in fields.items():
        field = form.locator(f"[name='{name}']")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.get_by_role("button").click()


def _stored(app: App, case_path: str) -> Case:
    with app.uow() as uow:
        case = uow.cases.get(case_path.rstrip("/").rsplit("/", 1)[-1])
    assert case is not None
    return case


def _state(page: Page) -> str:
    return page.get_by_test_id("case-state").inner_text()


def test_a_case_goes_from_enrolment_to_follow_up_through_the_pages(
    page: Page, live_server: str, demo_app: App
) -> None:
    base = live_server
    # The facility has an approved process: a booking is refused otherwise.
    Driver(demo_app.bus, demo_app.user, demo_app.clock).prepare_manufacturing(EQUE_CEL_HK)
    # The batch record itself is driven through its own pages in test_manufacturing.py.
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    driver.prepare_manufacturing(EQUE_CEL_HK)
    _sign_in(page, base, "coordinator", "/cases/new")
    page.get_by_label("Product").select_option("eque-cel")
    page.get_by_label("Jurisdiction").select_option("HK")
    page.get_by_role("button", name="Show the facts to give").click()
    page.get_by_label("Treatment centre").select_option("demo-hk-treatment")
    page.get_by_label("Patient name").fill("Browser Test Patient")
    page.get_by_label("Wristband id").fill("WB-BROWSER-1")
    page.get_by_label("Informed consent signed").check()
    page.get_by_label("Consent date").fill("2026-03-01")
    # The patient's facts as fields generated from the HK authorisation's criteria.
    page.get_by_label("Age (years)").fill(str(FACTS["age_years"]))
    page.get_by_label("Diagnosis").select_option("multiple_myeloma")
    page.get_by_label("Disease status").select_option("relapsed_refractory")
    page.get_by_label("Number of prior lines (lines)").fill(str(FACTS["prior_lines"]))
    page.get_by_label("proteasome inhibitor").check()
    page.get_by_label("immunomodulatory agent").check()
    page.get_by_label("Weight (kg)").fill(str(FACTS["weight_kg"]))
    page.get_by_role("button", name="Check eligibility and enrol").click()
    expect(page.get_by_test_id("case-state")).to_have_text("Enrolled")
    case_url = page.url.split("?")[0]
    case_path = case_url.removeprefix(base)
    coi = page.locator("dt:has-text('Chain of identity') + dd").inner_text().strip()
    _shot(page, "case-enrolled")

    # The coordinator is not offered the physician's action.
    expect(page.locator("form[data-action='confirm_eligibility']")).to_have_count(0)
    _sign_in(page, base, "physician", case_path)
    _act(page, "confirm_eligibility")
    expect(page.get_by_test_id("case-state")).to_have_text("Eligible")

    _sign_in(page, base, "coordinator", case_path)
    _act(
        page,
        "book_apheresis",
        apheresis_site="demo-hk-apheresis",
        manufacturing_site="demo-suzhou-manufacturing",
    )
    expect(page.get_by_test_id("case-state")).to_have_text("Apheresis booked")

    _sign_in(page, base, "nurse", case_path)
    _act(page, "collect", volume_ml="175")
    expect(page.get_by_test_id("case-state")).to_have_text("Collected")
    din = page.locator("dt:has-text('DIN') + dd").inner_text().strip()
    label = f"={din}00&/{coi}"

    _sign_in(page, base, "courier", case_path)
    # Manufacturing and couriers see identifiers, never the name.
    expect(page.get_by_test_id("patient")).to_have_text(coi)
    _act(page, "scan", data=f"=A999526999999{'00'}")
    expect(page.get_by_role("alert")).to_contain_text("does not belong to case")
    _act(page, "scan", point="apheresis_pickup", data=label)
    expect(page.get_by_role("status")).to_contain_text("scan recorded")

    _sign_in(page, base, "operator", case_path)
    expect(page.locator("body")).not_to_contain_text("Browser Test Patient")
    _act(page, "scan", point="manufacturing_receipt", data=label)
    expect(page.get_by_test_id("case-state")).to_have_text("At manufacturing")
    _act(page, "start_manufacturing", batch_id="B-BROWSER-1")
    expect(page.get_by_test_id("action-note")).to_contain_text("every step")
    driver.run_steps(_stored(demo_app, case_path))
    # Complete manufacturing is offered once the batch record is complete.
    page.reload()
    expires = (datetime.now(UTC) + timedelta(days=200)).isoformat(timespec="minutes")
    _act(page, "complete_manufacturing", bag_count="2", expires_at=expires)
    expect(page.get_by_test_id("case-state")).to_have_text("In QC")
    driver.test_batch(_stored(demo_app, case_path))

    _sign_in(page, base, "qa", case_path)
    _act(page, "release", password="wrong password")
    expect(page.get_by_role("alert")).to_contain_text("password is wrong")
    expect(page.get_by_test_id("case-state")).to_have_text("In QC")
    _act(page, "release", password="veinline-demo")
    expect(page.get_by_test_id("case-state")).to_have_text("Released")

    _sign_in(page, base, "courier", case_path)
    _act(page, "scan", point="product_pickup", data=label)
    expect(page.get_by_test_id("case-state")).to_have_text("Shipped")

    # A cryopreserved product is received only with its logger's readings.
    _sign_in(page, base, "coordinator", case_path)
    expect(page.get_by_test_id("no-readings")).to_be_visible()
    _act(page, "scan", point="site_receipt", data=label)
    expect(page.get_by_role("alert")).to_contain_text("has no logger readings")
    expect(page.get_by_test_id("case-state")).to_have_text("Shipped")
    _sign_in(page, base, "courier", case_path)
    product_leg = page.locator("form[action$='-S02/logger']")
    product_leg.get_by_label("Logger file (CSV)").set_input_files(
        files=FilePayload(name="logger.csv", mimeType="text/csv", buffer=_LOG.encode())
    )
    product_leg.get_by_role("button", name="Import logger CSV").click()
    expect(page.get_by_test_id("no-readings")).to_have_count(0)

    # Received and infused in Hong Kong in the small hours: 03:45 on 3 March local time
    # is still 2 March in UTC.
    demo_app.clock.now = datetime(2026, 3, 2, 19, 40, tzinfo=UTC)  # type: ignore[attr-defined]
    _sign_in(page, base, "coordinator", case_path)
    _act(page, "scan", point="site_receipt", data=label)
    expect(page.get_by_test_id("case-state")).to_have_text("Received at site")

    _sign_in(page, base, "physician", case_path)
    _act(page, "infuse", wristband_id="WB-OTHER", bag_scan=label, weight_kg="70", dose_cells="7e7")
    expect(page.get_by_role("alert")).to_contain_text("do not thaw")
    _act(
        page,
        "infuse",
        wristband_id="WB-BROWSER-1",
        bag_scan=label,
        weight_kg="70",
        dose_cells="7e7",
    )
    expect(page.get_by_test_id("case-state")).to_have_text("Infused")
    _act(page, "start_follow_up")
    expect(page.get_by_test_id("case-state")).to_have_text("Follow-up")
    expect(page.get_by_test_id("custody").locator("tbody tr")).to_have_count(5)
    # Each hand-off in the zone of its place: Hong Kong, then the Suzhou facility, then
    # Hong Kong again (the receipt at 03:40 local time on 3 March).
    custody = page.get_by_test_id("custody").locator("tbody tr td:first-child")
    zones = [text.rsplit(" ", 1)[-1] for text in custody.all_inner_texts()]
    assert sorted(zones) == ["CST", "CST", "HKT", "HKT", "HKT"], zones
    receipt = page.get_by_test_id("custody").locator(
        "tr", has_text="Received at the treatment centre"
    )
    expect(receipt.locator("time")).to_have_text("2026-03-03 03:40 HKT")
    expect(receipt.locator("time")).to_have_attribute("datetime", "2026-03-02T19:40:00+00:00")

    # The morning after, 07:30 local (still 2 March in UTC): the nurse records CRS for
    # the centre's today, neither "before the infusion" nor "in the future".
    demo_app.clock.now = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    _sign_in(page, base, "nurse", case_path)
    # CRS findings as the scale's own fields (domain/grading), chosen before they show.
    choose = page.get_by_test_id("assess-choose")
    choose.get_by_label("Assessment").select_option("crs")
    choose.get_by_role("button", name="Show its findings").click()
    form = page.locator("form[data-action='assess']")
    expect(form.locator("[name='assessed_on']")).to_have_value("2026-03-03")
    form.locator("[name='finding.temperature_c']").fill(str(_CRS_NONE["temperature_c"]))
    form.locator("[name='finding.fever_masked_by_treatment']").select_option("no")
    form.locator("[name='finding.hypotension']").select_option("no")
    form.locator("[name='finding.oxygen.device']").select_option("none")
    form.locator("[name='finding.death_from_crs']").select_option("no")
    form.get_by_role("button", name="Grade and record").click()
    expect(page.get_by_test_id("assessments")).to_contain_text("2026-03-03")
    _shot(page, "case-follow-up")

    _sign_in(page, base, "qa", "/ledger")
    page.get_by_role("button", name="Verify now").click()
    expect(page.get_by_test_id("ledger-status")).to_contain_text("Verified")
