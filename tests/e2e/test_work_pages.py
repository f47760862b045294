"""Every role's day through the API, the CLI and the pages, on the demo cases (SQLite and
PostgreSQL): the work queue, role-aware navigation and forms, messages in the session,
the bedside form that keeps what was entered, HTML error pages, the capacity page's
words for bad input."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.e2e.pages import DEMO_PASSWORD, sign_in_page
from veinline.adapters.seed.cases import Driver, barcode, load_demo_cases
from veinline.bootstrap import App
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.entrypoints.http.app import create_app


@pytest.fixture
def cases_app(demo_app: App) -> App:
    """The demo data with one demo case in every state."""
    load_demo_cases(Driver(demo_app.bus, demo_app.user, demo_app.clock))
    return demo_app


@pytest.fixture
def client(cases_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(cases_app)) as test_client:
        yield test_client


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _signed_in(client: TestClient, username: str) -> None:
    response = sign_in_page(client, username)
    assert response.status_code == 303, response.text


def _nav(html: str) -> list[str]:
    found = re.search(r"<nav>(.*?)</nav>", html, re.S)
    assert found is not None
    return re.findall(r">([^<]+)</a>", found.group(1))


def test_the_api_gives_each_user_their_own_queue(client: TestClient) -> None:
    qa = client.get("/api/v1/me/work", headers=_token(client, "qa"))
    assert qa.status_code == 200, qa.text
    body = qa.json()
    assert body["role"] == "qa_reviewer" and body["home"] == "queue"
    found = {(i["action"], i["record"]) for i in body["items"]}
    # The demo's shipped product has no logger readings yet: QA answers, it alerts.
    assert ("dispose_excursion", "DEMO-09-S02") in found
    assert {"blocked_shipment"} <= {a["kind"] for a in body["alerts"]}
    coordinator = client.get("/api/v1/me/work", headers=_token(client, "coordinator")).json()
    assert ("book_apheresis", "DEMO-02") in {
        (i["action"], i["record"]) for i in coordinator["items"]
    }
    assert not {i["action"] for i in coordinator["items"]} & {"dispose_excursion", "enter_result"}
    courier = client.get("/api/v1/me/work", headers=_token(client, "courier")).json()
    assert {i["action"] for i in courier["items"]} == {"apheresis_pickup", "product_pickup"}
    assert client.get("/api/v1/me/work").status_code == 401


def test_the_queue_is_documented_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/me/work"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/WorkQueueOut")
    assert {"401", "403"} <= set(operation["responses"])
    fields = document["components"]["schemas"]["WorkItemOut"]["properties"]
    assert {"why", "href", "urgency", "since"} <= set(fields)


def test_veinline_work_prints_the_queue_as_a_table_and_as_json(
    cases_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", cases_app.settings.database_url)
    monkeypatch.setenv("VEINLINE_DATA_DIR", str(cases_app.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")  # a terminal wide enough for the table
    cli_context().forget()
    try:
        table = CliRunner().invoke(cli_app, ["--as", "physician", "work"])
        assert table.exit_code == 0, table.output
        # The table's width follows the terminal (columns wrap in a narrow one): its
        # heading is checked here, its items through --json below.
        assert "Waiting on physician" in table.stdout and "DEMO-01" in table.stdout
        cli_context().forget()
        mine = CliRunner().invoke(cli_app, ["--as", "physician", "work", "--json"])
        assert ("confirm_eligibility", "DEMO-01") in {
            (i["action"], i["record"]) for i in json.loads(mine.stdout)["items"]
        }
        cli_context().forget()
        answer = CliRunner().invoke(cli_app, ["--as", "operator", "work", "--json"])
        assert answer.exit_code == 0, answer.output
        queue = json.loads(answer.stdout)
        assert ("start_manufacturing", "DEMO-05") in {
            (i["action"], i["record"]) for i in queue["items"]
        }
    finally:
        cli_context().forget()


def test_veinline_work_pages_with_limit_and_page(
    cases_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", cases_app.settings.database_url)
    monkeypatch.setenv("VEINLINE_DATA_DIR", str(cases_app.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")

    def work(*options: str) -> str:
        cli_context().forget()
        answer = CliRunner().invoke(cli_app, ["--as", "physician", "work", *options])
        assert answer.exit_code == 0, answer.output
        return answer.stdout

    try:
        whole = json.loads(work("--json", "--limit", "100"))
        assert whole["total"] == len(whole["items"]) >= 2
        first, second = (json.loads(work("--json", "--limit", "1", "--page", n)) for n in "12")
        assert [first["items"][0], second["items"][0]] == whole["items"][:2]
        assert first["total"] == whole["total"] and first["pages"] == whole["total"]
        table = work("--limit", "1")
        assert f"Page 1 of {whole['total']}" in table and "veinline work --page 2" in table
        cli_context().forget()
        refused = CliRunner().invoke(cli_app, ["--as", "physician", "work", "--limit", "101"])
        assert refused.exit_code != 0
    finally:
        cli_context().forget()


def test_the_home_page_is_the_queue_and_the_menu_fits_the_role(client: TestClient) -> None:
    _signed_in(client, "coordinator")
    home = client.get("/").text
    assert 'data-testid="work-queue"' in home
    assert "Book apheresis · case DEMO-02" in home
    assert 'href="/cases/DEMO-02#action-book_apheresis"' in home
    assert "Ledger" in _nav(home) and "QC" not in _nav(home)
    _signed_in(client, "courier")
    courier = client.get("/").text
    assert _nav(courier) == ["Cases", "Inventory", "Catalogue", "Sites"]  # couriers carry vials
    assert "Courier picks up the apheresis material · case DEMO-04" in courier
    _signed_in(client, "admin")
    admin = client.get("/").text
    assert "Administration" in admin and "Cases" not in _nav(admin)
    _signed_in(client, "planner")
    planner = client.get("/").text
    assert {"Planning", "Capacity"} <= set(_nav(planner)) and "Ledger" not in _nav(planner)


def test_a_crafted_message_link_shows_nothing(client: TestClient) -> None:
    _signed_in(client, "coordinator")
    page = client.get("/cases/DEMO-02?error=Call+0800+to+verify&done=all+clear")
    assert page.status_code == 200
    assert "Call 0800" not in page.text and "all clear" not in page.text
    batch = client.get("/account/password?error=Your+password+expired")
    assert "Your password expired" not in batch.text


def test_a_form_message_rides_in_the_session_once(client: TestClient) -> None:
    _signed_in(client, "courier")
    sent = client.post(
        "/cases/DEMO-04/scan",
        data={"point": "apheresis_pickup", "data": "not a label", "site_code": ""},
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"] == "/cases/DEMO-04"
    carried = client.cookies.get("veinline_flash")
    assert carried and "ISBT" not in carried  # signed, encoded: not the address
    shown = client.get("/cases/DEMO-04").text
    assert 'role="alert"' in shown and "ISBT 128" in shown
    again = client.get("/cases/DEMO-04").text
    assert 'role="alert"' not in again  # shown once
    # Another session cannot replay it: the cookie is signed under the session token.
    _signed_in(client, "courier")
    client.cookies.set("veinline_flash", carried)
    assert 'role="alert"' not in client.get("/cases/DEMO-04").text


def test_the_bedside_form_keeps_what_was_entered_and_names_the_failed_check(
    client: TestClient, cases_app: App
) -> None:
    _signed_in(client, "physician")
    with cases_app.uow() as uow:
        case = uow.cases.get("DEMO-10")
    assert case is not None
    bag = barcode(case)
    now = cases_app.clock()
    sent = {
        "wristband_id": "WB-9999",
        "bag_scan": bag,
        "thawed_at": now.isoformat(timespec="minutes"),
        "infusion_started_at": now.isoformat(timespec="minutes"),
        "weight_kg": "68.5",
        "dose_cells": "12345",
        "override_reason": "",
    }
    refused = client.post("/cases/DEMO-10/actions/infuse", data=sent)
    assert refused.status_code == 409
    page = refused.text
    assert 'data-testid="problem-wristband_id"' in page
    assert "not the patient of case DEMO-10" in page
    for value in (bag, "WB-9999", "68.5", "12345", sent["thawed_at"]):
        assert f'value="{html.escape(value)}"' in page, value
    # The right wristband: now the dose is the check that fails, beside its field.
    sent["wristband_id"] = case.wristband_id
    refused = client.post("/cases/DEMO-10/actions/infuse", data=sent)
    assert refused.status_code == 409
    assert 'data-testid="problem-dose_cells"' in refused.text
    assert 'data-testid="problem-wristband_id"' not in refused.text
    assert f'value="{case.wristband_id}"' in refused.text


def test_a_refused_assessment_keeps_what_was_entered_and_says_why(
    client: TestClient, cases_app: App
) -> None:
    _signed_in(client, "physician")
    with cases_app.uow() as uow:
        before = len(uow.assessments.find(case_id="DEMO-11"))
    page = client.get("/cases/DEMO-11?assess=crs").text
    token = re.search(r'name="form_token" value="([0-9a-f]+)"', page)
    assert token is not None
    sent = {
        "form_token": token.group(1),
        "kind": "crs",
        "assessed_on": "2026-03-02",
        "finding.temperature_c": "60",  # outside the scale's 25-45 degC
        "finding.hypotension": "yes",
        "finding.vasopressors|norepinephrine": "on",
        "finding.oxygen.device": "facemask",
        "finding.oxygen.flow_l_min": "6",
        # death_from_crs, required, left unchosen
    }
    refused = client.post("/cases/DEMO-11/assessments", data=sent)
    assert refused.status_code == 422, refused.text
    page = refused.text
    problem = re.search(r'data-testid="assess-refused">([^<]*)<', page)
    assert problem is not None
    assert "temperature_c" in problem.group(1) and "death_from_crs" in problem.group(1)
    assert 'name="kind" value="crs"' in page
    assert 'value="2026-03-02"' in page
    assert 'name="finding.temperature_c" inputmode="decimal" value="60"' in page
    assert 'name="finding.oxygen.flow_l_min" inputmode="decimal" value="6"' in page
    assert '<option value="yes" selected>yes</option>' in page
    assert '<option value="facemask" selected>' in page
    assert 'name="finding.vasopressors|norepinephrine" checked' in page
    assert 'name="finding.vasopressors|epinephrine">' in page  # only what was ticked
    with cases_app.uow() as uow:
        assert len(uow.assessments.find(case_id="DEMO-11")) == before


def test_a_password_typed_into_a_refused_form_is_never_echoed(client: TestClient) -> None:
    _signed_in(client, "qa")
    page = client.get("/cases/DEMO-07").text
    assert 'data-action="release"' in page
    refused = client.post(
        "/cases/DEMO-07/actions/release",
        data={"username": "qa", "password": "typed-secret-pw"},
    )
    assert refused.status_code in (403, 409, 422)
    assert "typed-secret-pw" not in refused.text
    assert 'value="qa"' in refused.text


def test_cancel_is_last_styled_as_danger_and_needs_its_confirmation(
    client: TestClient, cases_app: App
) -> None:
    _signed_in(client, "coordinator")
    page = client.get("/cases/DEMO-02").text
    actions = re.findall(
        r'<form method="post" action="/cases/DEMO-02/[^"]*" class="([^"]*)" data-action="([^"]*)"',
        page,
    )
    assert actions[-1] == ("form action danger", "cancel")
    assert 'name="confirm" value="yes" required' in page
    refused = client.post("/cases/DEMO-02/actions/cancel", data={"reason": "patient withdrew"})
    assert refused.status_code == 422 and 'data-testid="problem-confirm"' in refused.text
    assert "patient withdrew" in refused.text  # kept
    with cases_app.uow() as uow:
        case = uow.cases.get("DEMO-02")
        assert case is not None and case.state.value == "eligible"
    done = client.post(
        "/cases/DEMO-02/actions/cancel", data={"reason": "patient withdrew", "confirm": "yes"}
    )
    assert done.status_code == 200 and "Done: cancel" in done.text


def test_complete_manufacturing_is_offered_only_when_the_batch_is_finished(
    client: TestClient,
) -> None:
    _signed_in(client, "operator")
    page = client.get("/cases/DEMO-06").text
    assert 'data-action="complete_manufacturing"' not in page
    assert 'data-testid="action-note"' in page


def test_unknown_pages_are_html_and_the_api_stays_json(client: TestClient) -> None:
    _signed_in(client, "coordinator")
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "There is no page at this address." in page.text and "<h1>Not found</h1>" in page.text
    missing = client.get("/cases/NOPE-99")
    assert missing.status_code == 404 and "there is no case NOPE-99" in missing.text
    _signed_in(client, "courier")
    forbidden = client.get("/planning")
    assert forbidden.status_code == 403 and "<h1>Not allowed</h1>" in forbidden.text
    api = client.get("/api/v1/no/such/thing")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_the_capacity_page_explains_bad_input_in_words(client: TestClient) -> None:
    _signed_in(client, "planner")
    page = client.get("/capacity?low=30&high=20&replications=5")
    assert page.status_code == 422
    assert 'data-testid="sweep-problem"' in page.text and "lowest first" in page.text
    assert 'data-testid="sweep"' not in page.text
    words = client.get("/capacity?low=many")
    assert words.status_code == 422 and "give a whole number" in words.text


def test_a_held_release_is_not_listed_as_ready(client: TestClient, cases_app: App) -> None:
    driver = Driver(cases_app.bus, cases_app.user, cases_app.clock)
    with cases_app.uow() as uow:
        case = uow.cases.get("DEMO-07")
    assert case is not None
    driver.test_batch(case)
    _signed_in(client, "qa")
    ready = client.get("/release").text
    assert 'data-testid="release-ready"' in ready and str(case.batch_id) in ready
    from veinline.services import commands

    cases_app.bus.handle(
        commands.RaiseDeviation(str(case.batch_id), "incubator door found open", "major"),
        actor=cases_app.user("operator"),
    )
    held = client.get("/release").text
    assert 'data-testid="release-held"' in held
    ready_part = held.split('data-testid="release-held"')[0]
    assert 'data-testid="release-ready"' not in ready_part
    queue = client.get("/api/v1/me/work", headers=_token(client, "qa")).json()
    actions = {(i["action"], i["record"]) for i in queue["items"]}
    assert ("close_deviation", case.batch_id) in actions
    assert ("release", case.batch_id) not in actions
