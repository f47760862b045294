"""Create forms sent twice make one record (docs/architecture.md, "Pages"): each carries a
one-time token, answered once through the Idempotency-Key store; the second submission
lands on the first one's page. Real double POSTs of the enrolment, assessment and MSC
order forms; the planning form, whose job is keyed by its inputs."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FixedClock
from tests.e2e.pages import sign_in_page
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import CaseState
from veinline.entrypoints.http.app import create_app

_TOKEN = re.compile(r'name="form_token" value="([0-9a-f]{32})"')


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found is not None, "the form has no one-time token"
    return found.group(1)


def _enrolment(token: str, **changes: str) -> dict[str, str]:
    return {
        "form_token": token,
        "product_code": "eque-cel",
        "jurisdiction": "HK",
        "treatment_site": "demo-hk-treatment",
        "patient_name": "Twice Sent",
        "wristband_id": "WB-TWICE-1",
        "treating_physician": "physician",
        "consent_given": "on",
        "consent_date": "2026-03-01",
        "patient_facts": '{"age_years": 61, "diagnosis": "multiple_myeloma", '
        '"disease_status": "relapsed_refractory", "prior_lines": 4, "prior_therapy_classes": '
        '["proteasome_inhibitor", "immunomodulatory_agent", "anti_cd38"], "weight_kg": 68}',
        **changes,
    }


def _enrolled(app: App) -> list[str]:
    with app.uow() as uow:
        return [c.id for c in uow.cases.list()]


def test_the_enrolment_form_sent_twice_enrols_once_and_lands_on_the_case(
    client: TestClient, demo_app: App
) -> None:
    sign_in_page(client, "coordinator")
    token = _token(client.get("/cases/new").text)
    sent = _enrolment(token)
    first = client.post("/cases/new", data=sent, follow_redirects=False)
    second = client.post("/cases/new", data=sent, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    case_id = first.headers["location"].rsplit("/", 1)[1]
    assert _enrolled(demo_app) == [case_id]
    with demo_app.uow() as uow:
        assert [e.action for e in uow.ledger.for_entity(case_id, "case")] == ["case.enrolled"]
    assert "already enrolled by this form" in client.get(second.headers["location"]).text
    # A fresh form is a new enrolment (refused here: the wristband is on the open case).
    again = client.post(
        "/cases/new", data=_enrolment(_token(client.get("/cases/new").text)), follow_redirects=False
    )
    assert again.status_code == 422 and "already on case" in again.text
    assert _enrolled(demo_app) == [case_id]


def test_a_refused_form_corrected_and_sent_again_with_its_token_enrols(
    client: TestClient, demo_app: App
) -> None:
    sign_in_page(client, "coordinator")
    token = _token(client.get("/cases/new").text)
    refused = client.post("/cases/new", data=_enrolment(token, jurisdiction="ZZ"))
    assert refused.status_code == 422 and _token(refused.text) == token
    assert _enrolled(demo_app) == []
    done = client.post("/cases/new", data=_enrolment(token), follow_redirects=False)
    assert done.status_code == 303 and len(_enrolled(demo_app)) == 1


def test_an_assessment_form_sent_twice_records_one_assessment(
    client: TestClient, demo_app: App, clock: FixedClock
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Assessed Twice", wristband="WB-AT-1"),
        EQUE_CEL_HK,
        CaseState.INFUSED,
    )
    sign_in_page(client, "physician")
    token = _token(client.get(f"/cases/{case.id}").text)
    sent = {
        "form_token": token,
        "kind": "survival",
        "assessed_on": clock().date().isoformat(),
        "inputs": '{"status": "alive"}',
    }
    first = client.post(f"/cases/{case.id}/assessments", data=sent, follow_redirects=False)
    second = client.post(f"/cases/{case.id}/assessments", data=sent, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    with demo_app.uow() as uow:
        assert len(uow.assessments.find(case_id=case.id)) == 1
    assert "already recorded: the form was sent twice" in client.get(f"/cases/{case.id}").text


def test_an_msc_order_form_sent_twice_places_one_order(client: TestClient, demo_app: App) -> None:
    sign_in_page(client, "physician")
    token = _token(client.get("/inventory/orders").text)
    sent = {
        "form_token": token,
        "order_id": "ORD-TWICE",
        "product_code": "vum02",
        "jurisdiction": "CN",
        "treatment_site": "demo-sh-treatment",
        "patient_name": "Order Twice",
        "wristband_id": "WB-OT-1",
        "age_years": "44",
        "weight_kg": "60",
        "diagnosis": "ards",
        "conditions": "moderate_or_severe_ards",
    }
    with demo_app.uow() as uow:
        before = len(uow.msc_orders.list())
    first = client.post("/inventory/orders", data=sent, follow_redirects=False)
    second = client.post("/inventory/orders", data=sent, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"] == "/inventory/orders/ORD-TWICE"
    with demo_app.uow() as uow:
        assert len(uow.msc_orders.list()) == before + 1
        placed = [e.action for e in uow.ledger.for_entity("ORD-TWICE", "msc_order")]
    assert placed.count("msc_order.placed") == 1
    assert "already ordered by this form" in client.get(second.headers["location"]).text


def test_the_planning_form_sent_twice_queues_one_plan_job(
    client: TestClient, demo_app: App
) -> None:
    """The planning form makes a job, not a record: a job is keyed by its inputs, so the
    same form sent again answers with the job the first queued (services/jobs.py)."""
    sign_in_page(client, "planner")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/planning").text)
    assert csrf is not None
    sent = {"csrf_token": csrf.group(1), "policy": "fifo", "time_limit": "1", "patients": "12"}
    first = client.post("/planning/plans", data=sent, follow_redirects=False)
    second = client.post("/planning/plans", data=sent, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"].startswith("/jobs/J")
    assert first.headers["location"] == second.headers["location"]
    other = client.post("/planning/plans", data={**sent, "patients": "13"}, follow_redirects=False)
    assert other.headers["location"] != first.headers["location"]
    assert len(demo_app.jobs.latest(actor=demo_app.user("planner"))) == 2


def test_a_refused_msc_order_comes_back_with_what_was_entered(
    client: TestClient, demo_app: App
) -> None:
    sign_in_page(client, "physician")
    page = client.get("/inventory/orders").text
    sent = {
        "form_token": _token(page),
        "order_id": "ORD-KEPT",
        "product_code": "amimestrocel",
        "jurisdiction": "CN",
        "treatment_site": "demo-sh-treatment",
        "patient_name": "Kept Input",
        "wristband_id": "WB-KEPT-1",
        "age_years": "52",
        "weight_kg": "71 kg",  # a careless unit
        "diagnosis": "acute_gvhd",
        "conditions": "steroid_refractory_acute_gvhd",
        "prior_allo_hsct": "yes",
    }
    refused = client.post("/inventory/orders", data=sent)
    assert refused.status_code == 422
    assert "age and weight must be numbers" in refused.text
    for field in ("order_id", "patient_name", "wristband_id", "age_years", "weight_kg"):
        assert f'name="{field}"' in refused.text
        assert f'value="{sent[field]}"' in refused.text, field
    assert "<option selected>amimestrocel</option>" in refused.text
    assert 'name="prior_allo_hsct" value="yes" checked' in refused.text
    assert _token(refused.text) != sent["form_token"]  # a fresh token for the next try
    with demo_app.uow() as uow:
        assert uow.msc_orders.get("ORD-KEPT") is None
