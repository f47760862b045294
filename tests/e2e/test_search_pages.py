"""The case board and the ledger searched, filtered and paged through the API and the
pages (docs/architecture.md, "Search and lists")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FixedClock
from tests.e2e.pages import sign_in_page
from veinline.adapters.seed.cases import Driver, generated_name, load_many_cases
from veinline.bootstrap import App
from veinline.entrypoints.http.app import create_app


@pytest.fixture
def client(demo_app: App, clock: FixedClock) -> Iterator[TestClient]:
    load_many_cases(Driver(demo_app.bus, demo_app.user, clock), 12)
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _as(client: TestClient, username: str) -> dict[str, str]:
    token = client.post(
        "/api/v1/auth/token", data={"username": username, "password": "veinline-demo"}
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_the_api_pages_searches_and_filters_the_callers_cases(client: TestClient) -> None:
    headers = _as(client, "coordinator")
    first = client.get("/api/v1/cases", params={"page_size": 5}, headers=headers).json()
    assert (first["total"], first["page"], first["pages"]) == (12, 1, 3)
    assert sum(len(c["cases"]) for c in first["columns"]) == 5
    found = client.get("/api/v1/cases", params={"q": generated_name(4)}, headers=headers).json()
    assert found["total"] == 1
    assert [c["patient_name"] for col in found["columns"] for c in col["cases"]] == [
        generated_name(4)
    ]
    eligible = client.get("/api/v1/cases", params={"state": "eligible"}, headers=headers).json()
    assert eligible["total"] == 3 and {c["state"] for c in eligible["columns"] if c["count"]} == {
        "eligible"
    }
    # A courier may list cases but not search patients by name.
    courier = client.get(
        "/api/v1/cases", params={"q": generated_name(4)}, headers=_as(client, "courier")
    )
    assert courier.status_code == 200 and courier.json()["total"] == 0
    too_big = client.get("/api/v1/cases", params={"page_size": 101}, headers=headers)
    assert too_big.status_code == 422
    unknown = client.get("/api/v1/cases", params={"state": "lost"}, headers=headers)
    assert (
        unknown.status_code == 422 and "there is no case state 'lost'" in unknown.json()["message"]
    )


def test_the_board_page_says_how_many_match_and_links_the_next_page(client: TestClient) -> None:
    assert sign_in_page(client, "coordinator").status_code == 303
    page = client.get("/cases", params={"q": generated_name(4)}).text
    assert f"1 case matching “{generated_name(4)}”" in page
    paged = client.get("/cases", params={"product": "eque-cel"})
    assert paged.status_code == 200
    assert "Page 1 of 1" in paged.text and "6 cases" in paged.text
    state = client.get("/cases", params={"state": "cancelled"}).text
    assert "1 case." in state and 'value="cancelled" selected' in state


def test_the_ledger_api_and_page_filter_and_page_the_entries(client: TestClient) -> None:
    headers = _as(client, "qa")
    answer = client.get(
        "/api/v1/ledger/entries",
        params={"action": "case.enrolled", "page_size": 5, "page": 2},
        headers=headers,
    ).json()
    assert answer["total"] == 12 and answer["pages"] == 3 and len(answer["entries"]) == 5
    assert {e["action"] for e in answer["entries"]} == {"case.enrolled"}
    bad = client.get("/api/v1/ledger/entries", params={"from": "soon"}, headers=headers)
    assert bad.status_code == 422 and "must be a date like" in bad.json()["message"]
    courier = client.get("/api/v1/ledger/entries", headers=_as(client, "courier"))
    assert courier.status_code == 403
    assert sign_in_page(client, "qa").status_code == 303
    page = client.get(
        "/ledger", params={"actor": "physician", "action": "case.confirm_eligibility"}
    )
    assert page.status_code == 200 and "Page 1 of 1" in page.text
    refused = client.get("/ledger", params={"from": "2026-05-02", "to": "2026-05-01"})
    assert refused.status_code == 422 and "after it ends" in refused.text
