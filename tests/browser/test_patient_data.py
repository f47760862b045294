"""The case page's name correction, in headless Chromium (docs/security.md, "Patient
data at rest"): the care team puts a misspelt name right with a reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.ledger_actions import LedgerAction

pytestmark = pytest.mark.browser


def test_the_care_team_corrects_a_misspelt_name_on_the_case_page(
    page: Page, live_server: str, demo_app: App
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.enrol(EQUE_CEL_HK, patient_name="Mariana Sanatos", wristband="WB-MS-3")
    page.goto(f"{live_server}/login?next=/cases/{case.id}")
    page.get_by_label("User name").fill("coordinator")
    page.get_by_label("Password").fill("veinline-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("patient")).to_contain_text("Mariana Sanatos")
    form = page.locator("form[data-action='correct_name']")
    form.locator("[name='patient_name']").fill("Mariana Santos")
    form.locator("[name='reason']").fill("misspelt at enrolment")
    form.get_by_role("button").click()
    expect(page.get_by_role("status")).to_contain_text("Done")
    expect(page.get_by_test_id("patient")).to_contain_text("Mariana Santos")
    with demo_app.uow() as uow:
        last = uow.ledger.for_entity(case.id, "case")[-1]
    assert last.action == LedgerAction.CASE_PATIENT_NAME_CORRECTED
    assert last.reason == "misspelt at enrolment"
