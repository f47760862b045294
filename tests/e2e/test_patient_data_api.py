"""Patient data at rest through the API and the pages: a kept Idempotency-Key answer is
sealed, a name is corrected as a case action, and the case page offers the correction
to the care team only (docs/security.md, "Patient data at rest")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.e2e.pages import sign_in_page
from veinline.adapters.seed.cases import EQUE_CEL_HK
from veinline.bootstrap import App
from veinline.entrypoints.http.app import create_app

NAME = "Beatrix Okonkwo-Lindqvist"


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _as(client: TestClient, username: str) -> dict[str, str]:
    token = client.post(
        "/api/v1/auth/token", data={"username": username, "password": "veinline-demo"}
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _enrol(client: TestClient, key: str) -> dict[str, object]:
    response = client.post(
        "/api/v1/cases",
        headers={**_as(client, "coordinator"), "Idempotency-Key": key},
        json={
            "product_code": "eque-cel",
            "jurisdiction": "HK",
            "treatment_site": "demo-hk-treatment",
            "patient_name": NAME,
            "wristband_id": "WB-BOL-9",
            "treating_physician": "physician",
            "consent_given": True,
            "consent_date": "2026-03-01",
            "patient_facts": EQUE_CEL_HK.facts,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_kept_answer_is_sealed_and_still_replayed(client: TestClient, demo_app: App) -> None:
    first = _enrol(client, "enrol-bol-9")
    assert first["patient_name"] == NAME
    with demo_app.engine.connect() as conn:
        stored = conn.execute(text("SELECT response FROM idempotency_keys")).scalars().all()
    assert stored and all(NAME not in str(value) for value in stored)
    again = _enrol(client, "enrol-bol-9")
    assert again == first


def test_a_name_is_corrected_through_the_api_by_the_care_team_only(
    client: TestClient, demo_app: App
) -> None:
    case = _enrol(client, "enrol-correct")
    url = f"/api/v1/cases/{case['id']}/actions/correct_name"
    body = {"patient_name": "Beatrix Okonkwo-Lindquist", "reason": "misspelt surname"}
    refused = client.post(url, headers=_as(client, "courier"), json=body)
    assert refused.status_code == 403
    missing = client.post(url, headers=_as(client, "coordinator"), json={"patient_name": "X"})
    assert missing.status_code == 422 and "reason" in missing.text
    done = client.post(url, headers=_as(client, "coordinator"), json=body)
    assert done.status_code == 200, done.text
    assert done.json()["patient_name"] == "Beatrix Okonkwo-Lindquist"


def test_the_case_page_offers_the_correction_to_the_care_team(
    client: TestClient, demo_app: App
) -> None:
    case = _enrol(client, "enrol-page")
    sign_in_page(client, "physician")
    page = client.get(f"/cases/{case['id']}")
    assert page.status_code == 200
    assert 'data-action="correct_name"' in page.text
    posted = client.post(
        f"/cases/{case['id']}/actions/correct_name",
        data={"patient_name": "Beatrix Okonkwo", "reason": "name as on the passport"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    with demo_app.uow() as uow:
        stored = uow.cases.get(str(case["id"]))
    assert stored is not None and stored.patient_name == "Beatrix Okonkwo"
    sign_in_page(client, "operator")
    other = client.get(f"/cases/{case['id']}")
    assert 'data-action="correct_name"' not in other.text
