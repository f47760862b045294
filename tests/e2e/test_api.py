"""The JSON API under /api/v1, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from veinline.bootstrap import App
from veinline.entrypoints.http.app import create_app


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": "veinline-demo"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_the_openapi_document_lists_the_endpoints(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/catalog/products" in paths and "/api/v1/ledger/verify" in paths


def test_the_catalogue_is_served_with_authorisations(client: TestClient) -> None:
    products = client.get("/api/v1/catalog/products").json()
    eque = next(p for p in products if p["code"] == "eque-cel")
    assert eque["brand_name"] == "Fucaso"
    assert {a["jurisdiction"] for a in eque["authorisations"]} == {"CN", "HK"}
    detail = client.get("/api/v1/catalog/products/amimestrocel").json()
    assert detail["authorisations"][0]["date"] == "2025-01-02"
    assert client.get("/api/v1/catalog/products/nope").status_code == 404


def test_isbt_functions_answer_and_refuse_malformed_input(client: TestClient) -> None:
    ok = client.get("/api/v1/isbt/check-character/A999922012346")
    assert ok.json()["check_character"] == "*"
    bad = client.get("/api/v1/isbt/check-character/A99992201234")
    assert bad.status_code == 422 and "13" in bad.json()["message"]
    invalid = client.post("/api/v1/isbt/validate", json={"text": "A9999220123460"}).json()
    assert invalid == {"text": "A9999220123460", "valid": False, "expected_check_character": "*"}
    parsed = client.post("/api/v1/isbt/parse", json={"data": "&/CHA999926000001"}).json()
    assert parsed[0]["number"] == "040"


def test_a_wrong_password_gets_no_token(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "qa", "password": "nope"})
    assert response.status_code == 403
    assert response.json()["message"] == "user name or password is wrong"


def test_ledger_verification_needs_a_signed_in_user_who_may_read_it(
    client: TestClient,
) -> None:
    assert client.post("/api/v1/ledger/verify").status_code == 401
    assert client.get("/api/v1/ledger/checkpoint").status_code == 401
    courier = _token(client, "courier")
    assert client.post("/api/v1/ledger/verify", headers=courier).status_code == 403
    assert client.get("/api/v1/ledger/checkpoint", headers=courier).status_code == 403
    qa = _token(client, "qa")
    report = client.post("/api/v1/ledger/verify", headers=qa).json()
    assert report["ok"] and report["entries_checked"] == 55 and report["full"]
    assert report["checked_by"] == "qa" and report["first_break"] is None


def test_a_verification_is_kept_as_the_checkpoint_a_routine_check_starts_after(
    client: TestClient,
) -> None:
    qa = _token(client, "qa")
    never = client.get("/api/v1/ledger/checkpoint", headers=qa)
    assert never.status_code == 404 and "not been verified" in never.json()["message"]
    first = client.post("/api/v1/ledger/verify", headers=qa).json()
    assert client.get("/api/v1/ledger/checkpoint", headers=qa).json() == {
        k: v for k, v in first.items() if k != "first_break"
    }
    issued = client.post(
        "/api/v1/identifiers",
        json={"kind": "coi", "fin": "A9993", "purpose": "routine check"},
        headers=_token(client, "nurse"),
    )
    assert issued.status_code == 201, issued.text
    routine = client.post("/api/v1/ledger/verify", headers=qa).json()
    assert routine["ok"] and not routine["full"] and routine["number"] == first["number"] + 1
    # Only what is new since the first checkpoint is walked: the issued identifier.
    assert routine["entries_checked"] == 1
    assert routine["last_seq"] == first["last_seq"] + 1
    # A full verification runs as a job (tests/e2e/test_ledger_jobs.py); its result is
    # the checkpoint it recorded.
    queued = client.post("/api/v1/ledger/verify?full=true", headers=qa)
    assert queued.status_code == 202, queued.text
    job = queued.json()
    deadline = time.monotonic() + 60
    while job["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get(queued.headers["location"], headers=qa).json()
    full = job["result"]
    assert job["state"] == "done" and full["full"] and full["ok"]
    assert full["entries_checked"] == routine["last_seq"]
    assert client.get("/api/v1/ledger/checkpoint", headers=qa).json()["number"] == 3
    # Verifying is a POST now: nothing verifies on a GET.
    assert client.get("/api/v1/ledger/verify", headers=qa).status_code == 405


def test_ledger_verification_reports_the_first_break(client: TestClient, demo_app: App) -> None:
    with demo_app.engine.begin() as conn:
        conn.execute(text("UPDATE users SET printed_name = 'Someone Else' WHERE username = 'qa'"))
    admin = _token(client, "admin")
    report = client.post("/api/v1/ledger/verify", headers=admin).json()
    assert not report["ok"]
    assert report["first_break"]["entity"] == "user qa"
    kept = client.get("/api/v1/ledger/checkpoint", headers=admin).json()
    assert not kept["ok"] and "user qa" in kept["break"]


def test_identifiers_issued_through_the_api_are_in_the_ledger(client: TestClient) -> None:
    nurse = _token(client, "nurse")
    issued = client.post(
        "/api/v1/identifiers",
        headers=nurse,
        json={"kind": "coi", "fin": "A9993", "purpose": "case"},
    )
    assert issued.status_code == 201, issued.text
    value = issued.json()["value"]
    assert value.startswith("CHA9993")
    history = client.get(f"/api/v1/ledger/history/{value}", headers=_token(client, "qa")).json()
    assert history[0]["actor"] == "nurse" and history[0]["action"] == "identifier.coi_issued"


def test_a_product_change_needs_permission_and_a_valid_value(client: TestClient) -> None:
    body = {"field": "storage_max_c", "value": "-120", "reason": "label"}
    assert (
        client.patch(
            "/api/v1/catalog/products/eque-cel", json=body, headers=_token(client, "coordinator")
        ).status_code
        == 403
    )
    admin = _token(client, "admin")
    bad = client.patch(
        "/api/v1/catalog/products/eque-cel", headers=admin, json={**body, "value": "cold"}
    )
    assert bad.status_code == 422 and "float" in bad.json()["message"]
    good = client.patch("/api/v1/catalog/products/eque-cel", headers=admin, json=body)
    assert good.json()["storage_max_c"] == -120.0 and good.json()["version"] == 2


def test_an_admin_creates_a_user_who_can_then_sign_in(client: TestClient) -> None:
    created = client.post(
        "/api/v1/users",
        headers=_token(client, "admin"),
        json={
            "username": "apheresis2",
            "printed_name": "Second Nurse",
            "role": "apheresis_nurse",
            "site_code": "demo-hk-apheresis",
            "password": "veinline-demo",
        },
    )
    assert created.status_code == 201, created.text
    me = client.get("/api/v1/me", headers=_token(client, "apheresis2")).json()
    assert me["printed_name"] == "Second Nurse"
    again = client.post(
        "/api/v1/users",
        headers=_token(client, "admin"),
        json={
            "username": "apheresis2",
            "printed_name": "X",
            "role": "courier",
            "password": "veinline-demo",
        },
    )
    assert again.status_code == 409


def test_pages_render_the_catalogue(client: TestClient) -> None:
    page = client.get("/catalog")
    assert page.status_code == 200 and "equecabtagene autoleucel" in page.text
    assert client.get("/catalog/nope").status_code == 404
    assert client.get("/static/veinline.css").status_code == 200
    assert client.get("/ledger", follow_redirects=False).status_code == 303
