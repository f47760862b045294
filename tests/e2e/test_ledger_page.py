"""The ledger page shows the last verification and verifies only when asked ("Verify
now", a CSRF-protected form), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from tests.e2e.pages import sign_in_page
from veinline.adapters import orm
from veinline.bootstrap import App
from veinline.entrypoints.http.app import create_app


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _checkpoints(app: App) -> int:
    with app.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(orm.ledger_checkpoints))
        return int(count.scalar_one())


def test_the_page_shows_the_last_checkpoint_and_never_verifies_while_rendering(
    client: TestClient, demo_app: App
) -> None:
    assert sign_in_page(client, "qa").status_code == 303
    page = client.get("/ledger")
    assert page.status_code == 200 and "Not verified yet" in page.text
    assert "Verify now" in page.text and _checkpoints(demo_app) == 0
    done = client.post("/ledger/verify", data={}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/ledger"
    page = client.get("/ledger")
    # 55 from the demo data, and the wrong password and its clearing are not among them:
    # qa signed in with the right one.
    assert "Verified: 55 entries checked from the first entry" in page.text
    assert "Checkpoint #1, full verification by qa" in page.text
    # A record edited behind veinline's back: the page still shows the last result, and
    # reading it verifies nothing ...
    with demo_app.engine.begin() as conn:
        conn.execute(text("UPDATE sites SET fin = 'A9998' WHERE code = 'demo-rtp-qc'"))
    assert "Verified: 55 entries" in client.get("/ledger").text
    assert _checkpoints(demo_app) == 1
    # ... until someone verifies.
    client.post("/ledger/verify", data={})
    page = client.get("/ledger")
    assert "Broken: site demo-rtp-qc" in page.text and _checkpoints(demo_app) == 2
    assert "routine verification by qa" in page.text


def test_verify_now_needs_the_forms_csrf_token_and_the_ledger_readers_role(
    client: TestClient, demo_app: App
) -> None:
    assert sign_in_page(client, "qa").status_code == 303
    client.headers.pop("X-CSRF-Token")
    refused = client.post("/ledger/verify", data={"full": "true"})
    assert refused.status_code == 403 and _checkpoints(demo_app) == 0
    assert sign_in_page(client, "courier").status_code == 303
    assert client.get("/ledger").status_code == 403
    assert client.post("/ledger/verify", data={}).status_code == 403
    assert _checkpoints(demo_app) == 0
