"""QC enters results and QA signs the release on the batch page, in headless Chromium."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.fakes import present
from veinline.adapters.seed.cases import ZEVOR_CEL_US, Driver, passing
from veinline.bootstrap import App
from veinline.domain.case import CaseState
from veinline.domain.process import DocumentStatus
from veinline.domain.release import Disposition
from veinline.domain.specification import ReleaseTest
from veinline.services import commands

pytestmark = pytest.mark.browser


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("VEINLINE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _sign_in(page: Page, base: str, username: str, then: str) -> None:
    page.goto(f"{base}/login?next={then}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill("veinline-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signed-in")).to_be_visible()


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()


def _batch_in_qc(app: App, name: str) -> tuple[str, str]:
    """A case whose batch is manufactured, every step signed: (case id, batch id)."""
    driver = Driver(app.bus, app.user, app.clock)
    case = driver.enrol(ZEVOR_CEL_US, patient_name=name, wristband=f"WB-{name[-2:]}")
    case = driver.advance(case, ZEVOR_CEL_US, CaseState.IN_QC)
    return case.id, present(case.batch_id)


def _release_tests(app: App) -> list[ReleaseTest]:
    with app.uow() as uow:
        specs = uow.specifications.find(product_code="zevor-cel", market="US")
    (spec,) = [s for s in specs if s.status is DocumentStatus.APPROVED]
    return list(spec.tests)


def test_qc_enters_every_result_and_qa_signs_the_release(
    page: Page, live_server: str, demo_app: App
) -> None:
    base = live_server
    case_id, batch_id = _batch_in_qc(demo_app, "Browser Release 01")
    tests = _release_tests(demo_app)

    _sign_in(page, base, "qc", "/qc")
    row = page.get_by_test_id("qc-worklist").locator(f"tr[data-batch='{batch_id}']")
    expect(row).to_contain_text(f"0 of {len(tests)}")
    expect(row.get_by_test_id("missing")).to_contain_text("Viability")
    row.get_by_role("link", name=batch_id).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Batch {batch_id}")
    # The batch record shows identifiers, never the patient's name.
    expect(page.locator("body")).not_to_contain_text("Browser Release 01")
    expect(page.locator("form[data-action='release']")).to_have_count(0)

    for test in tests:
        form = page.locator(f"form[data-action='enter_result'][data-test='{test.code}']")
        value = str(passing(test))
        field = form.locator("[name='value']")
        if test.expected is not None:
            field.select_option(value)
        else:
            field.fill(value)
        form.get_by_role("button", name="Enter").click()
        expect(page.get_by_role("status")).to_contain_text("result entered")
        result = page.get_by_test_id("qc-results").locator(f"tr[data-test='{test.code}']")
        expect(result.get_by_test_id("verdict")).to_have_text("Pass")
    expect(page.locator("form[data-action='enter_result']")).to_have_count(0)
    expect(page.get_by_role("heading", name="QC results")).to_contain_text("Ready for QA release")
    _shot(page, "batch-tested")
    _sign_out(page)

    _sign_in(page, base, "qa", "/release")
    ready = page.get_by_test_id("release-ready").locator(f"tr[data-batch='{batch_id}']")
    expect(ready).to_contain_text("every result within specification")
    _shot(page, "release-queue")
    ready.get_by_role("link", name=batch_id).click()
    expect(page.get_by_test_id("batch-status")).to_have_text("Manufactured, awaiting release")
    release = page.locator("form[data-action='release']")
    release.get_by_label("User name").fill("qa")
    release.get_by_label("Password").fill("veinline-demo")
    release.get_by_role("button", name="Sign: release batch").click()

    expect(page.get_by_role("status")).to_contain_text("batch released and signed")
    expect(page.get_by_test_id("batch-status")).to_have_text("Released")
    decision = page.get_by_test_id("decision")
    expect(decision).to_contain_text("Released")
    expect(decision.get_by_test_id("signature")).to_contain_text("Demo QA Reviewer")
    expect(decision.get_by_test_id("signature")).to_contain_text("released")
    # Signed at the RTP facility: shown in its zone, UTC on hover.
    expect(decision.get_by_test_id("signature")).to_contain_text(re.compile(r" E[SD]T "))
    expect(decision.get_by_test_id("signature").locator("time")).to_have_attribute(
        "title", re.compile(r"UTC · America/New_York$")
    )
    last = page.get_by_test_id("signatures").locator("tbody tr").last
    expect(last).to_contain_text("Demo QA Reviewer")
    expect(last).to_contain_text(f"QA decision on batch {batch_id}")
    expect(page.locator("form[data-action='release']")).to_have_count(0)
    _shot(page, "batch-released")

    with page.expect_download() as download:
        page.get_by_test_id("coa-link").click()
    assert download.value.suggested_filename == f"CoA-{batch_id}.pdf"
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")

    page.get_by_role("link", name=case_id).click()
    expect(page.get_by_test_id("case-state")).to_have_text("Released")


def test_a_wrong_password_on_the_release_form_is_refused_and_nothing_changes(
    page: Page, live_server: str, demo_app: App
) -> None:
    case_id, batch_id = _batch_in_qc(demo_app, "Browser Release 02")
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    with demo_app.uow() as uow:
        case = uow.cases.get(case_id)
    assert case is not None
    driver.test_batch(case)

    _sign_in(page, live_server, "qa", f"/batches/{batch_id}")
    release = page.locator("form[data-action='release']")
    release.get_by_label("User name").fill("qa")
    release.get_by_label("Password").fill("not the password")
    release.get_by_role("button", name="Sign: release batch").click()

    expect(page.get_by_role("alert")).to_contain_text("the password is wrong: nothing was signed")
    expect(page.get_by_test_id("batch-status")).to_have_text("Manufactured, awaiting release")
    expect(page.get_by_test_id("decision")).to_have_count(0)
    expect(page.locator("form[data-action='release']")).to_have_count(1)
    with demo_app.uow() as uow:
        record = uow.release_records.get(batch_id)
        stored_case = uow.cases.get(case_id)
    assert record is not None and record.decision is None
    assert record.disposition is Disposition.READY_FOR_RELEASE
    assert stored_case is not None and stored_case.state is CaseState.IN_QC


def test_an_operator_records_typed_values_with_pick_lists_and_units(
    page: Page, live_server: str, demo_app: App
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.enrol(ZEVOR_CEL_US, patient_name="Browser Typed 01", wristband="WB-TY-01")
    case = driver.advance(case, ZEVOR_CEL_US, CaseState.MANUFACTURING)
    batch_id = present(case.batch_id)
    driver.do(commands.StartStep(batch_id, "receipt", "Suite 1", ["EQ-01"]), "operator")

    _sign_in(page, live_server, "operator", f"/batches/{batch_id}")
    match = page.locator(
        "form[data-action='record_value'][data-parameter='Chain-of-identity label match']"
    )
    # A match is a pick list: "yes" cannot even be typed.
    expect(match.locator("select[name='value'] option")).to_have_text(
        ["choose…", "match", "mismatch"]
    )
    cells = page.locator("form[data-action='record_value'][data-parameter='Total nucleated cells']")
    expect(cells).to_contain_text("×10^9 cells")
    cells.locator("[name='value']").fill("1500000000")
    cells.get_by_role("button", name="Record").click()
    expect(page.get_by_role("alert")).to_contain_text("looks like a count of single cells")
    expect(page.locator(".param[data-parameter='Total nucleated cells']")).to_contain_text(
        "not recorded"
    )
    cells = page.locator("form[data-action='record_value'][data-parameter='Total nucleated cells']")
    cells.locator("[name='value']").fill("1.5e9 cells")
    cells.get_by_role("button", name="Record").click()
    expect(page.locator(".param[data-parameter='Total nucleated cells'] strong")).to_have_text(
        "1.5 ×10^9 cells"
    )
    match = page.locator(
        "form[data-action='record_value'][data-parameter='Chain-of-identity label match']"
    )
    match.locator("select[name='value']").select_option("match")
    match.get_by_role("button", name="Record").click()
    expect(
        page.locator(".param[data-parameter='Chain-of-identity label match'] strong")
    ).to_have_text("match")
    expect(page.get_by_test_id("excursion")).to_have_count(0)
    _shot(page, "batch-typed-values")
