"""The MSC donor, lot and fill pages over HTTP, on SQLite and PostgreSQL: who is offered
which form, a refused form coming back with what was entered, an ineligible donor's
tissue refused, and a form sent twice acting once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.e2e.pages import sign_in_page
from veinline.adapters.seed.cases import Driver
from veinline.adapters.seed.msc import FACILITY, MscDriver
from veinline.bootstrap import App
from veinline.domain.msc import REQUIRED_TESTS, DonorStatus, VialStatus
from veinline.entrypoints.http.app import create_app
from veinline.services import commands

_TOKEN = re.compile(r'name="form_token" value="([0-9a-f]+)"')


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


@pytest.fixture
def msc(demo_app: App) -> MscDriver:
    return MscDriver(Driver(demo_app.bus, demo_app.user, demo_app.clock))


def _as(client: TestClient, username: str, path: str) -> str:
    response = sign_in_page(client, username)
    assert response.status_code == 303, response.text
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text


def _token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found is not None, "the form carries no form token"
    return found.group(1)


def test_a_donor_registered_twice_by_a_double_click_is_registered_once(
    client: TestClient, demo_app: App
) -> None:
    page = _as(client, "qa2", "/inventory/donors")
    form = {
        "donor_id": "DNR-PG1",
        "site": FACILITY,
        "site_reference": "cord 501",
        "consent_given": "yes",
        "consent_date": "2026-02-01",
        "form_token": _token(page),
    }
    first = client.post("/inventory/donors", data=form, follow_redirects=False)
    again = client.post("/inventory/donors", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"] == "/inventory/donors/DNR-PG1"
    assert "sent twice: done once" in client.get("/inventory/donors/DNR-PG1").text
    with demo_app.uow() as uow:
        assert len(uow.ledger.for_entity("DNR-PG1")) == 1


def test_a_refused_screening_comes_back_with_what_was_entered(
    client: TestClient, demo_app: App, msc: MscDriver
) -> None:
    msc.do(commands.RegisterDonor("DNR-PG2", FACILITY, "cord 502", True, "2026-02-01"), "qa2")
    page = _as(client, "qa2", "/inventory/donors/DNR-PG2")
    assert 'data-testid="screen-donor"' in page
    form = {f"result_{t}": "negative" for t in REQUIRED_TESTS}
    form |= {"result_hbv": "reactive", "questionnaire_passed": "yes", "username": "qa2"}
    form |= {"password": "not the password", "form_token": _token(page)}
    refused = client.post("/inventory/donors/DNR-PG2/screening", data=form)
    assert refused.status_code == 403  # the signature's refusal, as the API answers it
    assert "password is wrong" in refused.text
    assert '<option value="reactive" selected>' in refused.text  # kept
    assert "not the password" not in refused.text  # never the password
    form |= {"password": "veinline-demo", "form_token": _token(refused.text)}
    signed = client.post("/inventory/donors/DNR-PG2/screening", data=form)
    assert signed.status_code == 200
    assert 'data-testid="donor-status">Ineligible' in signed.text
    assert "hbv reactive" in signed.text
    # The ineligible donor's tissue never starts a lot; the lot form keeps its input.
    lots = _as(client, "operator.suzhou", "/inventory/lots?donor=DNR-PG2")
    start = {
        "lot_id": "LOT-PG2",
        "donor_id": "DNR-PG2",
        "product_code": "vum02",
        "site": FACILITY,
        "market": "CN",
        "form_token": _token(lots),
    }
    msc.prepare("vum02")
    no = client.post("/inventory/lots", data=start)
    assert no.status_code == 403  # NotAllowed, as the API answers it
    assert "donor DNR-PG2 is ineligible (hbv reactive): no lot" in no.text
    assert 'value="LOT-PG2"' in no.text
    with demo_app.uow() as uow:
        donor = uow.msc_donors.get("DNR-PG2")
        assert donor is not None and donor.status is DonorStatus.INELIGIBLE
        assert uow.msc_lots.get("LOT-PG2") is None and uow.batches.get("LOT-PG2") is None


def test_forms_are_offered_by_role_and_the_donor_reference_to_its_site_only(
    client: TestClient, msc: MscDriver
) -> None:
    msc.donor("DNR-PG3")
    qa = _as(client, "qa2", "/inventory/donors")
    assert 'data-testid="register-donor"' in qa and "cord DNR-PG3" in qa
    planner = _as(client, "planner", "/inventory/donors")
    assert 'data-testid="register-donor"' not in planner
    assert "cord DNR-PG3" not in planner and "(hidden: identifiers only)" in planner
    assert 'data-testid="start-lot"' not in _as(client, "planner", "/inventory/lots")
    assert 'data-testid="start-lot"' in _as(client, "operator.suzhou", "/inventory/lots")


def test_a_fill_sent_twice_fills_once_and_put_away_stores_each_vial_once(
    client: TestClient, demo_app: App, msc: MscDriver
) -> None:
    msc.unit("SH-TANK-1", "demo-sh-depot")
    msc.donor("DNR-PG4")
    lot = msc.lot("LOT-PG4", "DNR-PG4", "vum02")
    page = _as(client, "operator.suzhou", "/inventory/lots/LOT-PG4")
    assert 'data-testid="fill"' in page
    expires = (demo_app.clock() + timedelta(days=200)).date().isoformat()
    form = {
        "count": "5",
        "cells_per_vial": "5e7",
        "volume_ml": "10",
        "expires_on": expires,
        "form_token": _token(page),
    }
    for _ in range(2):
        sent = client.post("/inventory/lots/LOT-PG4/fill", data=form, follow_redirects=False)
        assert sent.status_code == 303
    with demo_app.uow() as uow:
        stored = uow.msc_lots.get(lot.id)
        assert stored is not None and stored.filled == 5
    bad = client.post(
        "/inventory/lots/LOT-PG4/fill", data=form | {"count": "five", "form_token": "x1"}
    )
    assert bad.status_code == 422 and 'value="five"' in bad.text
    labels = client.get("/inventory/lots/LOT-PG4/labels.pdf")
    assert labels.status_code == 200 and labels.content.startswith(b"%PDF")
    _as(client, "operator", "/inventory/lots/LOT-PG4")
    for _ in range(2):
        put = client.post("/inventory/lots/LOT-PG4/store", data={"unit_id": "SH-TANK-1"})
        assert put.status_code == 200
    assert "every vial is put away" in put.text
    with demo_app.uow() as uow:
        vials = uow.msc_vials.of_lots([lot.id])
    assert {v.status for v in vials} == {VialStatus.STORED}
    assert len({v.position for v in vials}) == 5
