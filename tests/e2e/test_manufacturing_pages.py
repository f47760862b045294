"""The manufacturing, QC and release pages over HTTP, on SQLite and PostgreSQL: who is
offered which form, what a refused form changes (nothing), and what the record shows."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.e2e.pages import sign_in_page
from tests.fakes import present
from veinline.adapters.seed.cases import ZEVOR_CEL_US, Driver
from veinline.bootstrap import App
from veinline.domain.batch import BatchStatus, DeviationState
from veinline.domain.case import Case, CaseState
from veinline.domain.release import Disposition
from veinline.domain.user import Role
from veinline.entrypoints.http.app import create_app
from veinline.services import commands

PASSWORD = "veinline-demo"


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


@pytest.fixture
def driver(demo_app: App) -> Driver:
    return Driver(demo_app.bus, demo_app.user, demo_app.clock)


def _sign_in(client: TestClient, username: str) -> None:
    response = sign_in_page(client, username, PASSWORD)
    assert response.status_code == 303, response.text


def _page(client: TestClient, username: str, path: str) -> str:
    _sign_in(client, username)
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.text


def _act(client: TestClient, batch_id: str, action: str, **form: str) -> str:
    """Submit one of the batch page's forms; the page it lands back on."""
    response = client.post(f"/batches/{batch_id}/actions/{action}", data=form)
    assert response.status_code == 200, response.text
    return response.text


def _forms(html: str) -> set[str]:
    return set(re.findall(r'data-action="([a-z_]+)"', html))


def _perform_receipt(client: TestClient, batch: str, equipment: str) -> str:
    """The signed-in operator runs the first (critical) step through its forms and signs it."""
    _act(client, batch, "start_step", step="receipt", suite="Suite 3", equipment=equipment)
    for name, value in [
        ("Chain-of-identity label match", "match"),
        ("Temperature on receipt", "4"),
        ("Total nucleated cells", "2.5"),
    ]:
        _act(client, batch, "record_value", step="receipt", parameter=name, value=value)
    return _act(
        client, batch, "complete_step", step="receipt", username="operator", password=PASSWORD
    )


def _case(driver: Driver, name: str, state: CaseState) -> Case:
    case = driver.enrol(ZEVOR_CEL_US, patient_name=name, wristband=f"WB-{name}")
    return driver.advance(case, ZEVOR_CEL_US, state)


def _batch_id(case: Case) -> str:
    return present(case.batch_id)


# ------------------------------------------------------------------ who sees which form


def test_each_role_is_offered_only_its_own_forms_on_a_batch_in_manufacturing(
    client: TestClient, driver: Driver
) -> None:
    case = _case(driver, "OnTheFloor", CaseState.MANUFACTURING)
    batch = _batch_id(case)

    operator = _forms(_page(client, "operator", f"/batches/{batch}"))
    assert {"start_step", "raise_deviation"} <= operator
    assert not operator & {"release", "reject", "enter_result", "close_deviation", "abort"}

    qa = _forms(_page(client, "qa", f"/batches/{batch}"))
    assert {"raise_deviation", "abort"} <= qa
    assert not qa & {"start_step", "record_value", "complete_step", "enter_result", "release"}

    qc = _forms(_page(client, "qc", f"/batches/{batch}"))
    assert qc == {"raise_deviation"}
    assert "QC results are entered once manufacturing is completed" in _page(
        client, "qc", f"/batches/{batch}"
    )

    courier = _forms(_page(client, "courier", f"/batches/{batch}"))
    assert courier == set()


def test_qc_is_offered_one_entry_form_per_test_and_qa_none(
    client: TestClient, driver: Driver
) -> None:
    case = _case(driver, "InQc", CaseState.IN_QC)
    batch = _batch_id(case)

    qc_page = _page(client, "qc", f"/batches/{batch}")
    assert qc_page.count('data-action="enter_result"') == 10
    assert "release" not in _forms(qc_page)

    qa = _forms(_page(client, "qa", f"/batches/{batch}"))
    assert "enter_result" not in qa and "record_value" not in qa
    assert "release" not in qa  # nothing to release until every result is in


def test_qa_is_offered_the_signed_release_and_an_operator_is_not(
    client: TestClient, driver: Driver
) -> None:
    case = _case(driver, "Ready", CaseState.IN_QC)
    driver.test_batch(case)
    batch = _batch_id(case)

    qa_page = _page(client, "qa", f"/batches/{batch}")
    assert {"release", "reject"} <= _forms(qa_page)
    assert "release_conditionally" not in _forms(qa_page)
    release_form = qa_page[qa_page.index('data-action="release"') :]
    release_form = release_form[: release_form.index("</form>")]
    assert 'name="username"' in release_form and 'type="password"' in release_form

    operator = _forms(_page(client, "operator", f"/batches/{batch}"))
    assert not operator & {"release", "release_conditionally", "reject", "record_value"}


def test_a_qa_reviewer_who_verified_a_step_is_told_another_must_release(
    client: TestClient, driver: Driver, demo_app: App
) -> None:
    case = _case(driver, "QaVerified", CaseState.MANUFACTURING)
    batch = _batch_id(case)
    _sign_in(client, "operator")
    _perform_receipt(client, batch, "EQ-9")
    _sign_in(client, "qa")
    page = _act(client, batch, "verify_step", step="receipt", username="qa", password=PASSWORD)
    assert "Done: step signed as verified" in page
    driver.finish_batch(case, demo_app.clock())
    driver.test_batch(case)

    page = _page(client, "qa", f"/batches/{batch}")
    assert "release" not in _forms(page)
    assert "you performed, verified or tested batch" in page
    # Another QA reviewer of the same facility may release it.
    demo_app.bus.handle(
        commands.CreateUser(
            "qa.second", "Second QA", Role.QA_REVIEWER, "carsgen-rtp", password=PASSWORD
        ),
        actor=demo_app.user("admin"),
    )
    assert "release" in _forms(_page(client, "qa.second", f"/batches/{batch}"))


# ------------------------------------------------------------------ refusals change nothing


def test_a_wrong_password_on_the_release_form_is_refused_and_changes_nothing(
    client: TestClient, driver: Driver, demo_app: App
) -> None:
    case = _case(driver, "WrongPassword", CaseState.IN_QC)
    driver.test_batch(case)
    batch = _batch_id(case)
    with demo_app.uow() as uow:
        entries_before = len(uow.ledger.for_entity(batch))

    _sign_in(client, "qa")
    page = _act(client, batch, "release", username="qa", password="guess")

    assert 'role="alert"' in page and "the password is wrong: nothing was signed" in page
    assert 'data-testid="decision"' not in page
    assert "release" in _forms(page)
    with demo_app.uow() as uow:
        record = uow.release_records.get(batch)
        stored = uow.batches.get(batch)
        stored_case = uow.cases.get(case.id)
        entries_after = len(uow.ledger.for_entity(batch))
    assert record is not None and record.decision is None
    assert record.disposition is Disposition.READY_FOR_RELEASE
    assert stored is not None and stored.status is BatchStatus.COMPLETED
    assert stored_case is not None and stored_case.state is CaseState.IN_QC
    assert entries_after == entries_before


def test_a_form_posted_by_a_role_that_may_not_act_is_refused(
    client: TestClient, driver: Driver, demo_app: App
) -> None:
    case = _case(driver, "WrongRole", CaseState.IN_QC)
    driver.test_batch(case)
    batch = _batch_id(case)

    _sign_in(client, "operator")
    page = _act(client, batch, "release", username="operator", password=PASSWORD)
    assert "a manufacturing operator may not release batch" in page
    assert "Refused: unknown action" in _act(client, batch, "teleport")
    with demo_app.uow() as uow:
        record = uow.release_records.get(batch)
    assert record is not None and record.disposition is Disposition.READY_FOR_RELEASE


# ------------------------------------------------------------------ what the record shows


def test_an_excursion_raises_a_deviation_and_a_correction_keeps_the_first_value(
    client: TestClient, driver: Driver
) -> None:
    case = _case(driver, "Excursion", CaseState.MANUFACTURING)
    batch = _batch_id(case)
    _sign_in(client, "operator")
    page = _act(client, batch, "start_step", step="receipt", suite="Suite 2", equipment="BSC-1")
    assert {"record_value", "complete_step"} <= _forms(page)

    page = _act(
        client,
        batch,
        "record_value",
        step="receipt",
        parameter="Temperature on receipt",
        value="11",
    )
    assert "Done: value recorded" in page
    assert "Temperature on receipt 11°C is above the in-process limit 2°C to 8°C" in page
    assert 'data-testid="excursion"' in page
    deviation_row = page[page.index('data-deviation="B-') :]
    assert "Major" in deviation_row[:2000] and "Open" in deviation_row[:2000]

    page = _act(
        client,
        batch,
        "correct_value",
        seq="1",
        value="6",
        reason="read from the wrong probe",
        username="",
        password="",
    )
    assert "Done: correction entered" in page
    assert "<del" in page and ">11°C</del>" in page
    assert "<strong>6°C</strong>" in page
    assert "read from the wrong probe" in page


def test_the_performer_cannot_verify_a_critical_step_and_a_second_operator_can(
    client: TestClient, driver: Driver
) -> None:
    case = _case(driver, "Critical", CaseState.MANUFACTURING)
    batch = _batch_id(case)
    _sign_in(client, "operator")
    page = _perform_receipt(client, batch, "EQ-1, EQ-2")
    assert "Done: step signed as performed" in page
    assert "Awaiting second-person verification" in page
    assert "verify_step" not in _forms(page)
    assert "a second person verifies it" in page

    second = _page(client, "operator2", f"/batches/{batch}")
    assert "verify_step" in _forms(second)
    page = _act(
        client, batch, "verify_step", step="receipt", username="operator2", password=PASSWORD
    )
    assert "Done: step signed as verified" in page
    steps = page[page.index('data-step="receipt"') :]
    steps = steps[: steps.index("</tr>")]
    assert "Demo Manufacturing Operator" in steps and "performed" in steps
    assert "Demo Second Operator" in steps and "verified" in steps
    assert "EQ-1, EQ-2" in steps


def test_qa_investigates_and_closes_a_deviation_with_its_signature(
    client: TestClient, driver: Driver, demo_app: App
) -> None:
    case = _case(driver, "Deviation", CaseState.MANUFACTURING)
    batch = _batch_id(case)
    _sign_in(client, "operator")
    _act(
        client,
        batch,
        "raise_deviation",
        description="Incubator door found ajar",
        severity="minor",
        step="",
    )
    deviation = f"{batch}-D01"

    qa_page = _page(client, "qa", f"/batches/{batch}")
    assert {"investigate_deviation", "classify_deviation"} <= _forms(qa_page)
    assert "close_deviation" not in _forms(qa_page)
    _act(client, batch, "investigate_deviation", deviation_id=deviation)
    page = _act(
        client,
        batch,
        "close_deviation",
        deviation_id=deviation,
        root_cause="door latch worn",
        capa="latch replaced; weekly check added",
        username="qa",
        password=PASSWORD,
    )
    assert "Done: deviation closed and signed" in page
    row = page[page.index(f'data-deviation="{deviation}"') :]
    row = row[: row.index("</tr>")]
    assert "Closed" in row and "door latch worn" in row and "weekly check added" in row
    assert "Demo QA Reviewer" in row and "approved" in row
    with demo_app.uow() as uow:
        stored = uow.batches.get(batch)
    assert stored is not None
    assert stored.deviation(deviation).state is DeviationState.CLOSED


def test_an_oos_batch_is_acknowledged_by_the_physician_and_released_conditionally(
    client: TestClient, driver: Driver
) -> None:
    case = _case(driver, "Oos", CaseState.OUT_OF_SPECIFICATION)
    batch = _batch_id(case)

    qa_page = _page(client, "qa", f"/batches/{batch}")
    assert "open_investigation" in _forms(qa_page)
    assert "release" not in _forms(qa_page)
    assert "viability 62% is below the limit ≥ 70%" in qa_page
    _act(client, batch, "open_investigation", reference="OOS-26-001", summary="low viability")

    page = _page(client, "qa", f"/batches/{batch}")
    assert "release_conditionally" not in _forms(page)
    assert "has not acknowledged" in page
    assert "acknowledge" not in _forms(_page(client, "coordinator", f"/batches/{batch}"))

    physician = _page(client, "physician", f"/batches/{batch}")
    assert "acknowledge" in _forms(physician)
    page = _act(
        client,
        batch,
        "acknowledge",
        statement="benefit outweighs the risk",
        username="physician",
        password=PASSWORD,
    )
    assert "Done: results acknowledged and signed" in page

    _sign_in(client, "qa")
    page = _act(
        client,
        batch,
        "release_conditionally",
        justification="no alternative therapy; viability close to the limit",
        username="qa",
        password=PASSWORD,
    )
    assert "Done: batch released conditionally and signed" in page
    assert 'data-testid="batch-status"' in page and "Released conditionally" in page
    assert "no alternative therapy" in page

    pdf = client.get(f"/batches/{batch}/coa.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert f'filename="CoA-{batch}.pdf"' in pdf.headers["content-disposition"]
    assert pdf.content.startswith(b"%PDF")


def test_the_certificate_waits_for_the_decision(client: TestClient, driver: Driver) -> None:
    case = _case(driver, "NoCoa", CaseState.IN_QC)
    driver.test_batch(case)
    batch = _batch_id(case)
    page = _page(client, "qa", f"/batches/{batch}")
    assert 'data-testid="coa-link"' not in page
    response = client.get(f"/batches/{batch}/coa.pdf")
    assert response.status_code == 403
    assert "a certificate of analysis is issued after QA" in response.text


# ------------------------------------------------------------------ queues


def test_the_queues_list_batches_where_each_team_picks_them_up(
    client: TestClient, driver: Driver
) -> None:
    floor = _case(driver, "Queue1", CaseState.MANUFACTURING)
    driver.run_steps(floor, count=2)
    waiting = _case(driver, "Queue2", CaseState.IN_QC)
    ready = _case(driver, "Queue3", CaseState.IN_QC)
    driver.test_batch(ready)
    _sign_in(client, "operator")
    _act(
        client,
        _batch_id(ready),
        "raise_deviation",
        description="label printer jammed",
        severity="minor",
        step="",
    )

    manufacturing = _page(client, "operator", "/manufacturing")
    in_progress = manufacturing[manufacturing.index('data-testid="batches-in-progress"') :]
    in_progress = in_progress[: in_progress.index("</table>")]
    assert _batch_id(floor) in in_progress and "step 3 (Activation)" in in_progress
    assert "2/9" in in_progress
    assert "zevor-cel/carsgen-rtp/v1" in manufacturing and "Approved, in force" in manufacturing

    qc = _page(client, "qc", "/qc")
    assert _batch_id(waiting) in qc and "0 of 10" in qc
    assert _batch_id(ready) not in qc and _batch_id(floor) not in qc

    release = _page(client, "qa", "/release")
    ready_table = release[release.index('data-testid="release-ready"') :]
    ready_table = ready_table[: ready_table.index("</table>")]
    assert _batch_id(ready) in ready_table
    assert "1 open deviation (minor)" in ready_table
    assert _batch_id(waiting) not in release


def test_the_pages_need_a_signed_in_user_and_an_existing_batch(client: TestClient) -> None:
    for path in ("/manufacturing", "/qc", "/release", "/batches/B-X", "/batches/B-X/coa.pdf"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"
    _sign_in(client, "qa")
    missing = client.get("/batches/B-NOPE")
    assert missing.status_code == 404 and "there is no batch B-NOPE" in missing.text


def test_the_case_page_links_its_batch(client: TestClient, driver: Driver) -> None:
    case = _case(driver, "Linked", CaseState.IN_QC)
    page = _page(client, "qa", f"/cases/{case.id}")
    assert f'href="/batches/{_batch_id(case)}"' in page
