"""Bounded input through the API, the pages and the CLI, on SQLite and PostgreSQL:
over-long text, a NUL and a lone surrogate are refused naming the field, nothing is
written, and request bodies over the limit are 413 (docs/security.md, "Bounded input")."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.e2e.pages import sign_in_page
from veinline.adapters.seed.cases import EQUE_CEL_HK
from veinline.bootstrap import App
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.entrypoints.http.app import create_app
from veinline.entrypoints.http.limits import MAX_BODY
from veinline.services import ledger


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _as(client: TestClient, username: str) -> dict[str, str]:
    token = client.post(
        "/api/v1/auth/token", data={"username": username, "password": "veinline-demo"}
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _enrolment(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "product_code": "eque-cel",
        "jurisdiction": "HK",
        "treatment_site": "demo-hk-treatment",
        "patient_name": "Bounded Patient",
        "wristband_id": "WB-B-1",
        "treating_physician": "physician",
        "consent_given": True,
        "consent_date": "2026-03-01",
        "patient_facts": EQUE_CEL_HK.facts,
    }
    body.update(changes)
    return body


def _raw_post(client: TestClient, path: str, headers: dict[str, str], raw: str) -> object:
    return client.post(
        path, headers={**headers, "Content-Type": "application/json"}, content=raw.encode()
    )


def _counts(app: App) -> tuple[int, int]:
    with app.uow() as uow:
        cases = len(uow.cases.list())
    report = ledger.verify(app.uow())
    assert report.ok
    return cases, report.entries_checked


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"patient_name": "x" * 5_000_000}, "patient_name", "is too long"),
        ({"patient_name": "x" * 201}, "patient_name", "is too long (at most 200"),
        ({"wristband_id": "W" * 65}, "wristband_id", "is too long (at most 64"),
        ({"patient_name": "Ann\x00Lee"}, "patient_name", "contains a control character"),
        (
            {"patient_facts": {**EQUE_CEL_HK.facts, "note": "a\x00"}},
            "patient_facts.note",
            "control",
        ),
    ],
)
def test_out_of_bounds_enrolment_is_refused_with_422_and_nothing_written(
    client: TestClient, demo_app: App, changes: dict[str, object], field: str, words: str
) -> None:
    before = _counts(demo_app)
    headers = _as(client, "coordinator")
    body = json.dumps(_enrolment(**changes))
    if len(body) > MAX_BODY:
        headers["Content-Type"] = "application/json"
        answer = client.post("/api/v1/cases", headers=headers, content=body.encode())
        assert answer.status_code == 413
        assert answer.json()["error"] == "too_large"
    else:
        answer = client.post("/api/v1/cases", headers=headers, json=_enrolment(**changes))
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "invalid_input"
        assert answer.json()["message"].startswith(f"{field} ")
        assert words in answer.json()["message"]
    assert _counts(demo_app) == before


def test_a_name_just_under_the_body_limit_but_over_its_column_is_refused(
    client: TestClient, demo_app: App
) -> None:
    before = _counts(demo_app)
    answer = client.post(
        "/api/v1/cases",
        headers=_as(client, "coordinator"),
        json=_enrolment(patient_name="x" * 900_000),
    )
    assert answer.status_code == 422
    assert answer.json()["message"] == "patient_name is too long (at most 200 characters)"
    assert _counts(demo_app) == before


def test_a_lone_surrogate_sent_as_raw_json_is_refused(client: TestClient, demo_app: App) -> None:
    before = _counts(demo_app)
    raw = json.dumps(_enrolment(patient_name="PLACEHOLDER")).replace("PLACEHOLDER", "\\ud800")
    answer = client.post(
        "/api/v1/cases",
        headers={**_as(client, "coordinator"), "Content-Type": "application/json"},
        content=raw.encode(),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json() == {
        "error": "invalid_input",
        "message": "patient_name contains an invalid character (an unpaired surrogate)",
    }
    assert _counts(demo_app) == before


def test_a_scan_with_a_nul_is_refused_before_any_transaction(
    client: TestClient, demo_app: App
) -> None:
    case = client.post("/api/v1/cases", headers=_as(client, "coordinator"), json=_enrolment())
    assert case.status_code == 201, case.text
    before = _counts(demo_app)
    answer = client.post(
        "/api/v1/custody/scans",
        headers=_as(client, "courier"),
        json={"case_id": case.json()["id"], "point": "apheresis_pickup", "data": "=A99\x0000"},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"].startswith("data contains a control character")
    assert _counts(demo_app) == before


def test_a_body_over_the_limit_is_413_before_any_route_reads_it(client: TestClient) -> None:
    too_big = b"{" + b" " * MAX_BODY + b"}"
    answer = client.post(
        "/api/v1/cases",
        headers={**_as(client, "coordinator"), "Content-Type": "application/json"},
        content=too_big,
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "error": "too_large",
        "message": f"the request body is too large (at most {MAX_BODY:,} bytes)",
    }
    page = client.post("/login", content=too_big)
    assert page.status_code == 413


def test_a_streamed_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 100_000

    answer = client.post(
        "/api/v1/cases",
        headers={**_as(client, "coordinator"), "Content-Type": "application/json"},
        content=chunks(),
    )
    assert answer.status_code == 413


def test_the_enrol_page_shows_the_form_again_with_the_refusal(client: TestClient) -> None:
    sign_in_page(client, "coordinator")
    page = client.post(
        "/cases/new",
        data={
            "product_code": "eque-cel",
            "jurisdiction": "HK",
            "treatment_site": "demo-hk-treatment",
            "patient_name": "y" * 300,
            "wristband_id": "WB-P",
            "treating_physician": "physician",
            "consent_given": "on",
            "consent_date": "2026-03-01",
            "patient_facts": json.dumps(EQUE_CEL_HK.facts),
        },
    )
    assert page.status_code == 422
    assert "patient_name is too long (at most 200 characters)" in page.text
    assert 'value="WB-P"' in page.text


@pytest.mark.parametrize(
    ("username", "name", "message"),
    [
        ("x" * 65, "Long", "username is too long (at most 64 characters)"),
        ("nul-user", "Nul\x01Name", "printed_name contains a control character (U+0001"),
    ],
)
def test_the_cli_refuses_out_of_bounds_input_with_exit_2(
    demo_app: App, monkeypatch: pytest.MonkeyPatch, username: str, name: str, message: str
) -> None:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)
    before = _counts(demo_app)
    cli_context().forget()
    try:
        result = CliRunner().invoke(
            cli_app,
            [
                "user",
                "create",
                username,
                "--name",
                name,
                "--role",
                "courier",
                "--password",
                "pw-long-enough-1",
            ],
        )
    finally:
        cli_context().forget()
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert _counts(demo_app) == before


@pytest.mark.parametrize(
    "path",
    ["/api/v1/cases/%00", "/api/v1/ledger/history/x%00", "/api/v1/cases?q=%00", "/cases/C%01"],
)
def test_an_address_with_a_control_character_is_refused_before_any_route(
    client: TestClient, path: str
) -> None:
    answer = client.get(path, headers=_as(client, "coordinator"))
    assert answer.status_code == 422
    assert "the address contains a control character" in answer.text


def test_a_lone_surrogate_where_a_value_of_another_type_belongs_is_a_plain_422(
    client: TestClient, demo_app: App
) -> None:
    """FastAPI's own refusal would echo the value and fail to encode it (a 500)."""
    before = _counts(demo_app)
    raw = json.dumps(_enrolment(consent_given="PLACEHOLDER")).replace("PLACEHOLDER", "\\ud800")
    answer = client.post(
        "/api/v1/cases",
        headers={**_as(client, "coordinator"), "Content-Type": "application/json"},
        content=raw.encode(),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "consent_given"]
    assert "input" not in answer.json()["detail"][0]
    assert _counts(demo_app) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"product": "eque\x00cel", "jurisdiction": "HK", "patient": {}}, "product contains"),
        ({"product": "eque-cel", "jurisdiction": "H" * 9, "patient": {}}, "jurisdiction is too"),
        ({"product": "eque-cel", "jurisdiction": "HK", "patient": {"a": "\x00"}}, "patient.a"),
    ],
)
def test_the_eligibility_check_reads_nothing_out_of_bounds(
    client: TestClient, body: dict[str, object], message: str
) -> None:
    answer = client.post("/api/v1/eligibility/check", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"].startswith(message)


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("qa\x00", "veinline-demo", "username contains a control character"),
        ("q" * 65, "veinline-demo", "username is too long"),
        ("qa", "veinline\x00demo", "password contains a control character"),
    ],
)
def test_a_sign_in_out_of_bounds_is_refused_before_any_lookup(
    client: TestClient, demo_app: App, username: str, password: str, message: str
) -> None:
    before = _counts(demo_app)
    answer = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 422, answer.text
    assert answer.json()["message"].startswith(message)
    assert "\x00" not in answer.text
    page = client.get("/login")
    token = page.cookies.get("veinline_login_csrf") or ""
    form = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
    )
    assert form.status_code < 500
    assert _counts(demo_app) == before
