"""An MSC lot from donor to released vials in storage to a course infused, through the
JSON API, on SQLite and PostgreSQL; who sees a patient's name, and who may act where."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import FixedClock
from veinline.adapters.seed.cases import DEMO_PASSWORD, in_limits, passing
from veinline.bootstrap import App
from veinline.domain.msc import REQUIRED_TESTS
from veinline.domain.process import ParameterSpec
from veinline.domain.specification import ReleaseTest
from veinline.entrypoints.http.app import create_app
from veinline.services import ledger

FACILITY = "demo-suzhou-manufacturing"


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


class Api:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def headers(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            token = self.client.post(
                "/api/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD}
            )
            self.tokens[user] = token.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def post(self, user: str, path: str, body: object = None, status: int = 200) -> Any:
        response = self.client.post(f"/api/v1{path}", headers=self.headers(user), json=body)
        assert response.status_code == status, response.text
        return response.json()

    def get(self, user: str, path: str, status: int = 200) -> Any:
        response = self.client.get(f"/api/v1{path}", headers=self.headers(user))
        assert response.status_code == status, response.text
        return response.json()


def _sign(user: str) -> dict[str, str]:
    return {"username": user, "password": DEMO_PASSWORD}


def test_donor_to_a_course_infused_through_the_api(
    client: TestClient, demo_app: App, clock: FixedClock
) -> None:
    api = Api(client)
    process = api.post(
        "operator", "/processes", {"product_code": "amimestrocel", "site": FACILITY}, 201
    )
    api.post("qa2", f"/processes/{process['id']}/approve", _sign("qa2"))
    spec = api.post("qa", "/specifications", {"product_code": "amimestrocel", "market": "CN"}, 201)
    api.post("qa2", f"/specifications/{spec['id']}/approve", _sign("qa2"))
    # The donor, reviewed and signed by QA; an operator may not register one.
    donor = {
        "donor_id": "DNR-API",
        "site": FACILITY,
        "site_reference": "cord 77",
        "consent_given": True,
        "consent_date": "2026-02-01",
    }
    api.post("operator.suzhou", "/msc/donors", donor, 403)
    api.post("qa2", "/msc/donors", donor, 201)
    results = {t: "negative" for t in REQUIRED_TESTS}
    screened = api.post(
        "qa2",
        "/msc/donors/DNR-API/screening",
        {"results": results, "questionnaire_passed": True, **_sign("qa2")},
    )
    assert screened["status"] == "eligible" and screened["review"]["meaning"] == "reviewed"
    listed = api.get("planner", "/msc/donors")
    assert listed[0]["site_reference"] == "(hidden: identifiers only)"
    lot = api.post(
        "operator.suzhou",
        "/msc/lots",
        {
            "lot_id": "LOT-API",
            "donor_id": "DNR-API",
            "product_code": "amimestrocel",
            "site": FACILITY,
            "market": "CN",
        },
        201,
    )
    batch = api.get("operator", f"/batches/{lot['batch_id']}")
    assert batch["lot_id"] == "LOT-API" and batch["din"] == lot["din"]
    bid = lot["batch_id"]
    for step in batch["steps"]:
        api.post(
            "operator",
            f"/batches/{bid}/actions/start_step",
            {"step": step["code"], "suite": "Suite 3", "equipment": ["BSC-3"]},
        )
        for parameter in step["parameters"]:
            value = in_limits(ParameterSpec.from_dict(parameter), bid)
            api.post(
                "operator",
                f"/batches/{bid}/actions/record_value",
                {"step": step["code"], "parameter": parameter["name"], "value": str(value)},
            )
        api.post(
            "operator",
            f"/batches/{bid}/actions/complete_step",
            {"step": step["code"], **_sign("operator")},
        )
        if step["critical"]:
            api.post(
                "operator2",
                f"/batches/{bid}/actions/verify_step",
                {"step": step["code"], **_sign("operator2")},
            )
    expires = (clock() + timedelta(days=300)).isoformat()
    fill = {"count": 8, "cells_per_vial": 5e7, "volume_ml": 10, "expires_at": expires}
    refused = api.post("operator.suzhou", "/msc/lots/LOT-API/vials", fill, 403)
    assert "released lot only" in refused["message"]
    for test in spec["tests"]:
        value = str(passing(ReleaseTest.from_dict(test)))
        api.post(
            "qc", f"/batches/{bid}/actions/enter_result", {"test": test["code"], "value": value}
        )
    api.post("qa2", f"/batches/{bid}/actions/release", _sign("qa2"))
    vials = api.post("operator.suzhou", "/msc/lots/LOT-API/vials", fill, 201)
    labels = client.get("/api/v1/msc/lots/LOT-API/labels.pdf", headers=api.headers("operator"))
    assert labels.status_code == 200 and labels.content.startswith(b"%PDF")
    assert [v["division"] for v in vials][:2] == ["A0", "A1"]
    api.post(
        "operator",
        "/msc/storage",
        {
            "unit_id": "API-TANK",
            "site": "demo-sh-depot",
            "kind": "ln2_tank",
            "racks": 1,
            "boxes_per_rack": 1,
            "rows": 9,
            "columns": 9,
        },
        201,
    )
    for vial in vials:
        api.post("operator", f"/msc/vials/{vial['id']}/store", {"unit_id": "API-TANK"})
    unit = api.get("planner", "/msc/storage/API-TANK")
    assert unit["occupied"] == 8 and unit["boxes"][0]["grid"][0][0]["vial"] == "LOT-API-001"
    # The order: a nurse may not order; the physician may.
    order = {
        "order_id": "ORD-API",
        "product_code": "amimestrocel",
        "jurisdiction": "CN",
        "treatment_site": "demo-sh-treatment",
        "patient_name": "Wang Xiaoming",
        "wristband_id": "WB-API-1",
        "patient_facts": {
            "age_years": 14,
            "diagnosis": "acute_gvhd",
            "conditions": ["steroid_refractory_acute_gvhd"],
            "prior_allo_hsct": True,
        },
        "weight_kg": 45,
    }
    api.post("nurse", "/msc/orders", order, 403)
    placed = api.post("physician", "/msc/orders", order, 201)
    assert placed["status"] == "placed" and placed["course"]["vials"] == 8
    allocated = api.post("qa", "/msc/orders/ORD-API/allocate")
    assert allocated["status"] == "allocated" and allocated["depot"] == "demo-sh-depot"
    assert allocated["patient_name"] == "(hidden: identifiers only)"  # QA: identifiers only
    scans = [f"={v['din']}{v['division']}" for v in vials]
    wrong = api.post("courier", "/msc/orders/ORD-API/ship", {"scans": scans[:-1]}, 409)
    assert "not scanned: LOT-API-008" in wrong["message"]
    shipped = api.post("courier", "/msc/orders/ORD-API/ship", {"scans": scans})
    shipment = shipped["shipment"]
    assert shipment["status"] == "in_transit" and shipment["from_site"] == "demo-sh-depot"
    assert [e["point"] for e in shipped["custody"]] == ["product_pickup"]
    # The journey's cold chain: no readings, no receipt; the logger goes to the shipment.
    blocked = api.post("nurse", "/msc/orders/ORD-API/receive", {"scans": scans}, 403)
    assert "no logger readings" in blocked["message"]
    t0 = clock()
    log = "\n".join(f"{(t0 + timedelta(minutes=10 * i)).isoformat()},-185" for i in range(3))
    imported = api.post("nurse", f"/shipments/{shipment['id']}/logger", {"csv": log})
    assert imported["reading_count"] == 3 and imported["blocked"] is False
    received = api.post("nurse", "/msc/orders/ORD-API/receive", {"scans": scans})
    assert received["shipment"]["status"] == "received"
    assert [e["point"] for e in received["custody"]] == ["product_pickup", "site_receipt"]
    now = clock()
    for vial in vials:
        done = api.post(
            "physician",
            "/msc/orders/ORD-API/infuse",
            {
                "wristband_id": "WB-API-1",
                "vial_scan": f"={vial['din']}{vial['division']}",
                "thawed_at": (now - timedelta(minutes=20)).isoformat(),
                "infusion_started_at": now.isoformat(),
            },
        )
    assert done["status"] == "completed" and done["patient_name"] == "Wang Xiaoming"
    trace = api.get("physician", "/msc/lookback?lot=LOT-API")
    assert trace["recipients"] == ["Wang Xiaoming (WB-API-1)"]
    assert api.get("planner", "/msc/lookback?donor=DNR-API")["recipients"] == ["ORD-API"]
    inventory = api.get("planner", "/msc/inventory")
    assert inventory["by_product"] == {}
    forecast = api.get("planner", "/msc/forecast")
    assert forecast[0]["depot"] == "demo-sh-depot" and forecast[0]["ordered_in_window"] == 8
    report = api.post("qa", "/ledger/verify")
    assert report["ok"]
    assert ledger.verify(demo_app.uow()).ok


def test_msc_requests_are_refused_away_from_the_records_sites(
    client: TestClient, demo_app: App, clock: FixedClock
) -> None:
    from veinline.adapters.seed.cases import Driver
    from veinline.adapters.seed.msc import GVHD, MscDriver

    msc = MscDriver(Driver(demo_app.bus, demo_app.user, clock))
    msc.unit("SH-TANK-1", "demo-sh-depot")
    msc.donor("DNR-SCOPE")
    lot = msc.lot("LOT-SCOPE", "DNR-SCOPE", "amimestrocel")
    [first, *_] = msc.fill(lot, 10)
    api = Api(client)
    # The Suzhou operator works at the plant, not at the Shanghai depot.
    refused = api.post(
        "operator.suzhou", f"/msc/vials/{first.id}/store", {"unit_id": "SH-TANK-1"}, 403
    )
    assert "not at the sites of storage unit SH-TANK-1" in refused["message"]
    order = {
        "order_id": "ORD-SCOPE",
        "product_code": "amimestrocel",
        "jurisdiction": "CN",
        "treatment_site": "demo-sh-treatment",
        "patient_name": "Scope Patient",
        "wristband_id": "WB-SCOPE",
        "patient_facts": {"age_years": 30, **GVHD},
        "weight_kg": 45,
    }
    api.post("physician.hk", "/msc/orders", order, 403)  # Hong Kong's physician
    api.post("physician", "/msc/orders", order, 201)
    api.get("coordinator.hk", "/msc/orders/ORD-SCOPE", 403)
    seen = api.get("planner", "/msc/orders/ORD-SCOPE")
    assert seen["patient_name"] == "(hidden: identifiers only)" and seen["patient_facts"] == {}
    assert api.get("coordinator", "/msc/orders/ORD-SCOPE")["patient_name"] == "Scope Patient"
    api.post("admin", "/msc/orders/ORD-SCOPE/allocate", None, 403)


def test_the_refused_order_page_says_why_to_the_care_team(
    client: TestClient, demo_app: App, clock: FixedClock
) -> None:
    from tests.e2e.pages import sign_in_page
    from veinline.adapters.seed.cases import Driver
    from veinline.adapters.seed.msc import MscDriver

    MscDriver(Driver(demo_app.bus, demo_app.user, clock)).order(
        "ORD-13", "amimestrocel", age=13, wristband="WB-13"
    )
    sign_in_page(client, "physician")
    page = client.get("/inventory/orders/ORD-13")
    assert page.status_code == 200 and 'data-testid="refusal"' in page.text
    assert "Aged 14 or over" in page.text
