"""The journey through the JSON API and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.e2e.pages import sign_in_page
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.entrypoints.http.app import create_app
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


def _enrol(client: TestClient) -> dict[str, object]:
    response = client.post(
        "/api/v1/cases",
        headers=_as(client, "coordinator"),
        json={
            "product_code": "eque-cel",
            "jurisdiction": "HK",
            "treatment_site": "demo-hk-treatment",
            "patient_name": "Api Patient",
            "wristband_id": "WB-API-1",
            "treating_physician": "physician",
            "consent_given": True,
            "consent_date": "2026-03-01",
            "patient_facts": EQUE_CEL_HK.facts,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _case(app: App, case_id: str) -> Case:
    with app.uow() as uow:
        case = uow.cases.get(case_id)
    assert case is not None
    return case


def _act(
    client: TestClient, user: str, case_id: object, action: str, **body: object
) -> dict[str, object]:
    response = client.post(
        f"/api/v1/cases/{case_id}/actions/{action}", headers=_as(client, user), json=body
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def _scan(client: TestClient, user: str, case_id: object, point: str, data: str) -> int:
    return client.post(
        "/api/v1/custody/scans",
        headers=_as(client, user),
        json={"case_id": case_id, "point": point, "data": data},
    ).status_code


def test_a_case_goes_from_enrolment_to_infusion_through_the_api(
    client: TestClient, demo_app: App
) -> None:
    # The facility has an approved process: a booking is refused otherwise.
    Driver(demo_app.bus, demo_app.user, demo_app.clock).prepare_manufacturing(EQUE_CEL_HK)
    case = _enrol(client)
    cid = case["id"]
    assert case["actions"] == ["cancel"]  # the coordinator cannot confirm eligibility
    _act(client, "physician", cid, "confirm_eligibility")
    _act(
        client,
        "coordinator",
        cid,
        "book_apheresis",
        apheresis_site="demo-hk-apheresis",
        apheresis_date="2026-03-09",
        manufacturing_site="demo-suzhou-manufacturing",
    )
    collected = _act(client, "nurse", cid, "collect", collected_at="2026-03-02T08:00:00+08:00")
    label = f"={collected['din']}00&/{case['coi']}"
    wrong = _scan(client, "courier", cid, "apheresis_pickup", "=A99952699999900")
    assert wrong == 409
    assert _scan(client, "courier", cid, "apheresis_pickup", label) == 201
    assert _scan(client, "operator", cid, "manufacturing_receipt", label) == 201
    # The batch record itself is tested through the API in test_manufacturing_e2e.py.
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    driver.prepare_manufacturing(EQUE_CEL_HK)
    started = _act(client, "operator", cid, "start_manufacturing", batch_id="B-API-1")
    driver.run_steps(_case(demo_app, str(cid)))
    assert started["state"] == "manufacturing"
    # The record says two bags were filled: three cannot be completed (nor labelled).
    three = client.post(
        f"/api/v1/cases/{cid}/actions/complete_manufacturing",
        headers=_as(client, "operator"),
        json={"bag_count": 3, "expires_at": "2026-09-01T00:00:00Z"},
    )
    assert three.status_code == 422 and "says 2 bags were filled" in three.json()["message"]
    assert _case(demo_app, str(cid)).state is CaseState.MANUFACTURING
    _act(
        client,
        "operator",
        cid,
        "complete_manufacturing",
        bag_count=2,
        expires_at="2026-09-01T00:00:00Z",
    )
    driver.test_batch(_case(demo_app, str(cid)))
    released = _act(client, "qa", cid, "release", username="qa", password="veinline-demo")
    assert released["state"] == "released"
    assert _scan(client, "courier", cid, "product_pickup", label) == 201
    # A cryopreserved product is received with its logger's readings, not without them.
    assert _scan(client, "coordinator", cid, "site_receipt", label) == 403
    product_leg = f"{cid}-S02"
    logged = client.post(
        f"/api/v1/shipments/{product_leg}/logger",
        headers=_as(client, "courier"),
        json={"csv": "timestamp,celsius\n2026-03-02T08:00Z,-182\n2026-03-02T08:15Z,-181\n"},
    )
    assert logged.status_code == 200, logged.text
    assert _scan(client, "coordinator", cid, "site_receipt", label) == 201
    infused = _act(
        client,
        "physician",
        cid,
        "infuse",
        wristband_id="WB-API-1",
        bag_scan=label,
        thawed_at="2026-03-02T09:00:00Z",
        infusion_started_at="2026-03-02T09:20:00Z",
        weight_kg=68,
        dose_cells=6.8e7,
    )
    assert infused["state"] == "infused"
    detail = client.get(f"/api/v1/cases/{cid}", headers=_as(client, "qa")).json()
    assert len(detail["custody"]) == 5 and len(detail["incidents"]) == 1
    assert ledger.verify(demo_app.uow()).ok


def test_manufacturing_sees_identifiers_never_the_name(client: TestClient) -> None:
    cid = _enrol(client)["id"]
    seen = client.get(f"/api/v1/cases/{cid}", headers=_as(client, "operator")).text
    assert "Api Patient" not in seen and "WB-API-1" not in seen
    assert (
        "Api Patient" in client.get(f"/api/v1/cases/{cid}", headers=_as(client, "coordinator")).text
    )


def test_a_refused_action_answers_with_a_message_and_changes_nothing(
    client: TestClient,
) -> None:
    cid = _enrol(client)["id"]
    response = client.post(
        f"/api/v1/cases/{cid}/actions/release",
        headers=_as(client, "qa"),
        json={"username": "qa", "password": "veinline-demo"},
    )
    assert response.status_code == 403
    # An enrolled case is at no facility yet: no facility's QA may release it.
    assert "is not at a manufacturing facility yet" in response.json()["message"]
    missing = client.post(
        f"/api/v1/cases/{cid}/actions/cancel", headers=_as(client, "coordinator"), json={}
    )
    assert missing.status_code == 422 and "reason" in missing.json()["message"]
    state = client.get(f"/api/v1/cases/{cid}", headers=_as(client, "coordinator")).json()
    assert state["case"]["state"] == "enrolled" and state["case"]["version"] == 1


def test_eligibility_answers_true_false_or_undetermined(client: TestClient) -> None:
    def check(patient: dict[str, object]) -> object:
        return client.post(
            "/api/v1/eligibility/check",
            json={"product": "amimestrocel", "jurisdiction": "CN", "patient": patient},
        ).json()["eligible"]

    base = {
        "diagnosis": "acute_gvhd",
        "conditions": ["steroid_refractory_acute_gvhd"],
        "prior_allo_hsct": True,
    }
    assert check({**base, "age_years": 14}) is True
    assert check({**base, "age_years": 13}) is False
    assert check(base) is None


def test_labels_are_pdfs_whose_barcodes_read_back(client: TestClient, demo_app: App) -> None:
    from veinline.adapters.seed.cases import Driver

    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.enrol(EQUE_CEL_HK, patient_name="Label Patient", wristband="WB-L")
    case = driver.advance(case, EQUE_CEL_HK, case.state.__class__("in_qc"))
    response = client.get(
        f"/api/v1/cases/{case.id}/labels/product_bag", headers=_as(client, "operator")
    )
    assert response.headers["content-type"] == "application/pdf"
    document = pypdfium2.PdfDocument(response.content)
    assert len(document) == 2  # one label per bag
    image = document[0].render(scale=3).to_pil()
    read = {r.text for r in zxingcpp.read_barcodes(image)}
    assert f"&/{case.coi}" in read
    assert any(t.startswith(f"={case.current_din}") for t in read)
    assert "Label Patient" not in response.content.decode("latin-1")
    document.close()


def test_the_label_command_writes_the_pdf(
    demo_app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veinline.adapters.seed.cases import Driver

    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.enrol(EQUE_CEL_HK, patient_name="Cli Patient", wristband="WB-C")
    case = driver.advance(case, EQUE_CEL_HK, case.state.__class__("collected"))
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)
    out = tmp_path / "bag.pdf"
    try:
        # Labels are printed by the case's own sites' staff: not another centre's.
        other = CliRunner().invoke(
            cli_app,
            [
                "--as",
                "coordinator.us",
                "label",
                case.id,
                "--item",
                "apheresis_bag",
                "--out",
                str(out),
            ],
        )
        assert other.exit_code == 2 and "not at the sites of case" in other.stderr
        assert not out.exists()
        result = CliRunner().invoke(
            cli_app,
            ["--as", "nurse.hk", "label", case.id, "--item", "apheresis_bag", "--out", str(out)],
        )
        assert result.exit_code == 0, result.stderr
        assert out.read_bytes().startswith(b"%PDF")
        early = CliRunner().invoke(
            cli_app,
            ["--as", "nurse.hk", "label", case.id, "--item", "product_bag", "--out", str(out)],
        )
        assert early.exit_code == 2 and "no final product" in early.stderr
    finally:
        cli_context().forget()


def test_grading_is_served_by_the_api_with_reasons(client: TestClient) -> None:
    findings = {
        "ice_score": 0,
        "consciousness": "unarousable",
        "seizure": "none",
        "motor_weakness": "none",
        "cerebral_edema": "none",
        "raised_icp_signs": False,
    }
    graded = client.post("/api/v1/grade/icans", json=findings).json()
    assert graded["grade"] == 4
    missing = client.post("/api/v1/grade/icans", json={"ice_score": 7})
    assert missing.status_code == 422 and "consciousness" in missing.json()["message"]
    problems = missing.json()["problems"]
    assert "consciousness" in {p["field"] for p in problems} and len(problems) > 1
    assert all(p["message"] for p in problems)
    assert client.post("/api/v1/grade/nope", json={}).status_code == 422


def test_each_grading_kind_serves_its_input_schema(client: TestClient) -> None:
    from veinline.domain.grading import KINDS, fields

    for kind in KINDS:
        schema = client.get(f"/api/v1/grade/{kind}/schema")
        assert schema.status_code == 200
        assert set(schema.json()["properties"]) == {f.name for f in fields(kind)}
    unknown = client.get("/api/v1/grade/nope/schema")
    assert unknown.status_code == 422 and "unknown grading kind" in unknown.json()["message"]


def test_an_assessment_recorded_through_the_api_shows_on_the_case(
    client: TestClient, demo_app: App
) -> None:
    from veinline.adapters.seed.cases import Driver
    from veinline.domain.case import CaseState

    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Assessed", wristband="WB-A"),
        EQUE_CEL_HK,
        CaseState.INFUSED,
    )
    response = client.post(
        f"/api/v1/cases/{case.id}/assessments",
        headers=_as(client, "physician"),
        json={
            "kind": "survival",
            "assessed_on": demo_app.clock().date().isoformat(),
            "inputs": {"status": "alive"},
        },
    )
    assert response.status_code == 201, response.text
    detail = client.get(f"/api/v1/cases/{case.id}", headers=_as(client, "physician")).json()
    assert [a["summary"] for a in detail["assessments"]] == ["alive"]
    hidden = client.get(f"/api/v1/cases/{case.id}", headers=_as(client, "operator")).json()
    assert hidden["assessments"] == []


def test_a_case_exports_as_a_pseudonymous_fhir_bundle(client: TestClient, demo_app: App) -> None:
    from fhir.resources.R4B.bundle import Bundle

    from veinline.adapters.seed.cases import Driver
    from veinline.domain.case import CaseState

    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Fhir Person", wristband="WB-FH"),
        EQUE_CEL_HK,
        CaseState.INFUSED,
    )
    driver.follow_up(case)
    assert (
        client.get(f"/api/v1/cases/{case.id}/fhir", headers=_as(client, "operator")).status_code
        == 403
    )
    response = client.get(f"/api/v1/cases/{case.id}/fhir", headers=_as(client, "physician"))
    bundle = response.json()
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert {"Patient", "Specimen", "BiologicallyDerivedProduct", "Procedure", "Observation"} <= set(
        kinds
    )
    assert kinds.count("Observation") == 2
    assert "Fhir Person" not in response.text and "WB-FH" not in response.text


def test_the_trial_report_is_served_as_json_pdf_csv_and_a_page(
    client: TestClient, demo_app: App
) -> None:
    from veinline.adapters.seed.cases import Driver, load_demo_trial

    load_demo_trial(Driver(demo_app.bus, demo_app.user, demo_app.clock))
    headers = _as(client, "physician")
    assert [t["id"] for t in client.get("/api/v1/trials", headers=headers).json()] == ["IMC001-IIT"]
    # The report is made by a job (tests/e2e/test_trial_report_job.py): 202 until done.
    queued = client.get("/api/v1/trials/IMC001-IIT/report", headers=headers)
    assert queued.status_code == 202, queued.text
    deadline = time.monotonic() + 120
    while client.get(queued.headers["location"], headers=headers).json()["state"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    report = client.get("/api/v1/trials/IMC001-IIT/report", headers=headers).json()
    assert report["trial"]["id"] == "IMC001-IIT"
    pdf = client.get("/api/v1/trials/IMC001-IIT/report.pdf", headers=headers)
    assert pdf.content.startswith(b"%PDF")
    csv_text = client.get("/api/v1/trials/IMC001-IIT/summary.csv", headers=headers).text
    assert csv_text.splitlines()[0].startswith("group,label")
    sign_in_page(client, "physician")
    page = client.get("/trials/IMC001-IIT")
    assert page.status_code == 200 and "Clopper" in page.text and "data:image/png" in page.text


def test_the_case_page_imports_a_logger_file_and_qa_disposes_of_the_excursion(
    client: TestClient, demo_app: App
) -> None:
    from veinline.adapters.seed.cases import Driver
    from veinline.domain.case import CaseState

    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Logged", wristband="WB-LG"),
        EQUE_CEL_HK,
        CaseState.COLLECTED,
    )
    shipment = f"{case.id}-S01"
    sign_in_page(client, "courier")
    log = "timestamp,temperature_c\n2026-03-02T08:00Z,5.0\n2026-03-02T08:15Z,11.5\n"
    uploaded = client.post(
        f"/shipments/{shipment}/logger",
        data={"case_id": case.id, "timezone": "UTC"},
        files={"file": ("log.csv", log, "text/csv")},
    )
    assert "logger data imported" in uploaded.text
    assert "receipt blocked" in uploaded.text and "11.5" in uploaded.text
    refused = client.post(
        f"/shipments/{shipment}/disposition",
        data={"case_id": case.id, "decision": "accept", "reason": "ok"},
    )
    assert "only QA disposes" in refused.text
    sign_in_page(client, "qa")
    careless = [
        ({"reason": "…", "password": "veinline-demo"}, "needs a documented reason"),
        ({"reason": "stability data cover it", "password": "wrong"}, "password is wrong"),
    ]
    for changes, message in careless:
        answer = client.post(
            f"/shipments/{shipment}/disposition",
            data={"case_id": case.id, "decision": "accept", "username": "qa", **changes},
        )
        assert message in answer.text and "receipt blocked" in answer.text
    accepted = client.post(
        f"/shipments/{shipment}/disposition",
        data={
            "case_id": case.id,
            "decision": "accept",
            "reason": "15 minutes above 8 °C; stability data cover it",
            "username": "qa",
            "password": "veinline-demo",
        },
    )
    assert "excursion disposed" in accepted.text and "receipt blocked" not in accepted.text


def test_the_enrol_page_refuses_bad_patient_facts_and_keeps_the_form(client: TestClient) -> None:
    sign_in_page(client, "coordinator")
    page = client.post(
        "/cases/new",
        data={
            "product_code": "eque-cel",
            "jurisdiction": "HK",
            "treatment_site": "demo-hk-treatment",
            "patient_name": "Kept Name",
            "wristband_id": "WB-K",
            "treating_physician": "physician",
            "consent_given": "on",
            "consent_date": "2026-03-01",
            "patient_facts": "{not json",
        },
    )
    assert page.status_code == 422
    assert "patient facts must be a JSON object" in page.text
    assert 'value="Kept Name"' in page.text
