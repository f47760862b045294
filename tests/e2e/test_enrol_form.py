"""The enrolment form asks for the patient's facts as fields generated from the product's
criteria (with units and choices) and refuses an incomplete set naming every missing
fact at once; an empty set of facts enrols nobody, through the page or the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.e2e.pages import sign_in_page
from veinline.bootstrap import App
from veinline.entrypoints.http.app import create_app


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _cases(app: App) -> int:
    with app.uow() as uow:
        return len(uow.cases.list())


def _form(**facts: str) -> dict[str, str]:
    return {
        "product_code": "eque-cel",
        "jurisdiction": "HK",
        "treatment_site": "demo-hk-treatment",
        "patient_name": "Fielded Patient",
        "wristband_id": "WB-FIELD-1",
        "treating_physician": "physician",
        "consent_given": "on",
        "consent_date": "2026-03-01",
        "kind.age_years": "number",
        "kind.diagnosis": "choice",
        "kind.disease_status": "choice",
        "kind.prior_lines": "number",
        "kind.prior_therapy_classes": "choices",
        "kind.weight_kg": "number",
        **facts,
    }


COMPLETE = {
    "fact.age_years": "61",
    "fact.diagnosis": "multiple_myeloma",
    "fact.disease_status": "relapsed_refractory",
    "fact.prior_lines": "4",
    "fact.prior_therapy_classes|proteasome_inhibitor": "on",
    "fact.prior_therapy_classes|immunomodulatory_agent": "on",
    "fact.weight_kg": "68",
}


def test_the_form_asks_the_criteria_facts_with_units_and_choices(client: TestClient) -> None:
    sign_in_page(client, "coordinator")
    page = client.get("/cases/new", params={"product_code": "eque-cel", "jurisdiction": "HK"})
    text = page.text
    assert 'name="fact.age_years" type="number"' in text and "Age (years)" in text
    assert '<option value="multiple_myeloma"' in text
    assert 'name="fact.prior_therapy_classes|proteasome_inhibitor"' in text
    assert "Weight (kg)" in text and "the dose per kg" in text
    # Another product's criteria ask other facts (zevor-cel in the US: no age criterion).
    other = client.get("/cases/new", params={"product_code": "zevor-cel", "jurisdiction": "US"})
    assert 'name="fact.age_years"' not in other.text and 'name="fact.diagnosis"' in other.text


def test_an_empty_set_of_facts_is_refused_naming_every_missing_one(
    client: TestClient, demo_app: App
) -> None:
    sign_in_page(client, "coordinator")
    refused = client.post("/cases/new", data=_form())
    assert refused.status_code == 422
    for fact in ("age", "diagnosis", "disease status", "number of prior lines", "prior therapy"):
        assert fact in refused.text, fact
    assert 'data-testid="problem-age_years"' in refused.text
    assert 'data-testid="problem-diagnosis"' in refused.text
    partial = client.post(
        "/cases/new", data=_form(**{"fact.age_years": "61", "fact.weight_kg": "68"})
    )
    assert partial.status_code == 422 and 'value="61"' in partial.text
    assert 'data-testid="problem-age_years"' not in partial.text
    assert _cases(demo_app) == 0
    done = client.post("/cases/new", data=_form(**COMPLETE), follow_redirects=False)
    assert done.status_code == 303, done.text
    with demo_app.uow() as uow:
        (case,) = uow.cases.list()
        assert case.patient_facts["prior_therapy_classes"] == [
            "proteasome_inhibitor",
            "immunomodulatory_agent",
        ]
        assert case.patient_facts["age_years"] == 61 and case.weight_kg == 68


def test_the_api_refuses_an_empty_set_of_facts(client: TestClient, demo_app: App) -> None:
    token = client.post(
        "/api/v1/auth/token", data={"username": "coordinator", "password": "veinline-demo"}
    ).json()["access_token"]
    answer = client.post(
        "/api/v1/cases",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "product_code": "eque-cel",
            "jurisdiction": "HK",
            "treatment_site": "demo-hk-treatment",
            "patient_name": "Empty Facts",
            "wristband_id": "WB-EMPTY-1",
            "treating_physician": "physician",
            "consent_given": True,
            "consent_date": "2026-03-01",
            "patient_facts": {},
        },
    )
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert message.startswith("the patient's facts are incomplete for eque-cel.hk: give age")
    assert "diagnosis" in message and "prior_therapy_classes" in message
    assert _cases(demo_app) == 0


def test_the_physicians_confirmation_starts_with_the_facts_as_enrolled(
    client: TestClient, demo_app: App
) -> None:
    sign_in_page(client, "coordinator")
    done = client.post("/cases/new", data=_form(**COMPLETE), follow_redirects=False)
    assert done.status_code == 303
    sign_in_page(client, "physician")
    page = client.get(done.headers["location"]).text
    form = page[page.index('data-action="confirm_eligibility"') :]
    assert "patient facts (as enrolled; change what is new)" in form
    assert "&#34;age_years&#34;: 61" in form or '"age_years": 61' in form
    confirmed = client.post(
        done.headers["location"] + "/actions/confirm_eligibility", data={}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    with demo_app.uow() as uow:
        assert uow.cases.list()[0].state.value == "eligible"


def test_grading_findings_are_the_scales_fields_and_every_problem_is_named_at_once(
    client: TestClient, demo_app: App
) -> None:
    from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
    from veinline.domain.case import CaseState

    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Graded Fields", wristband="WB-GF-1"),
        EQUE_CEL_HK,
        CaseState.INFUSED,
    )
    sign_in_page(client, "nurse")
    page = client.get(f"/cases/{case.id}", params={"assess": "crs"}).text
    assert 'name="finding.temperature_c"' in page and "(°C)" in page
    assert (
        'name="finding.oxygen.device"' in page
        and '<option value="high_flow_nasal_cannula">' in page
    )
    assert 'name="finding.vasopressors|norepinephrine"' in page
    today = demo_app.clock().date().isoformat()
    refused = client.post(
        f"/cases/{case.id}/assessments",
        data={"kind": "crs", "assessed_on": today, "finding.temperature_c": "hot"},
    )
    text = refused.text
    # Both problems at once: the unreadable temperature and the missing death_from_crs.
    assert "temperature_c" in text and "death_from_crs" in text
    with demo_app.uow() as uow:
        assert uow.assessments.find(case_id=case.id) == []
    done = client.post(
        f"/cases/{case.id}/assessments",
        data={
            "kind": "crs",
            "assessed_on": today,
            "finding.temperature_c": "38.6",
            "finding.hypotension": "no",
            "finding.oxygen.device": "none",
            "finding.death_from_crs": "no",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    with demo_app.uow() as uow:
        (recorded,) = uow.assessments.find(case_id=case.id)
    assert recorded.inputs["oxygen"] == {"device": "none"} and recorded.result["grade"] == 1
