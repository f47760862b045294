"""A batch from receipt to QA release through the JSON API, and another through OOS to a
conditional release through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from tests.conftest import FixedClock
from tests.fakes import present
from veinline.adapters.seed.cases import (
    DEMO_PASSWORD,
    EQUE_CEL_HK,
    ZEVOR_CEL_US,
    Driver,
    in_limits,
    passing,
)
from veinline.bootstrap import App
from veinline.domain.case import CaseState
from veinline.domain.process import ParameterSpec
from veinline.domain.specification import ReleaseTest
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
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _post(
    client: TestClient, user: str, path: str, body: dict[str, object], status: int = 200
) -> dict[str, Any]:
    response = client.post(f"/api/v1{path}", headers=_as(client, user), json=body)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def _sign(user: str) -> dict[str, object]:
    return {"username": user, "password": DEMO_PASSWORD}


def test_a_batch_goes_from_receipt_to_qa_release_through_the_api(
    client: TestClient, demo_app: App, clock: FixedClock
) -> None:
    process = _post(
        client,
        "operator",
        "/processes",
        {"product_code": "eque-cel", "site": "demo-suzhou-manufacturing"},
        201,
    )
    refused = client.post(
        f"/api/v1/processes/{process['id']}/approve",
        headers=_as(client, "qa2"),
        json={"username": "qa2", "password": "wrong"},
    )
    assert refused.status_code == 403 and "password is wrong" in refused.json()["message"]
    approved = _post(client, "qa2", f"/processes/{process['id']}/approve", _sign("qa2"))
    assert approved["status"] == "approved" and approved["approval"]["meaning"] == "approved"
    spec = _post(client, "qa", "/specifications", {"product_code": "eque-cel", "market": "HK"}, 201)
    _post(client, "qa2", f"/specifications/{spec['id']}/approve", _sign("qa2"))

    driver = Driver(demo_app.bus, demo_app.user, clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Api Batch", wristband="WB-API-9"),
        EQUE_CEL_HK,
        CaseState.MANUFACTURING,
    )
    batch_id = present(case.batch_id)
    batch = client.get(f"/api/v1/batches/{batch_id}", headers=_as(client, "operator")).json()
    assert batch["template_id"] == process["id"] and batch["coi"] == case.coi

    def act(user: str, action: str, **body: object) -> dict[str, Any]:
        return _post(client, user, f"/batches/{batch_id}/actions/{action}", body)

    for step in batch["steps"]:
        act("operator", "start_step", step=step["code"], suite="Suite 2", equipment=["BSC-2"])
        for parameter in step["parameters"]:
            value = in_limits(ParameterSpec.from_dict(parameter), batch_id)
            act(
                "operator",
                "record_value",
                step=step["code"],
                parameter=parameter["name"],
                value=str(value),
            )
        act("operator", "complete_step", step=step["code"], **_sign("operator"))
        if step["critical"]:
            same = client.post(
                f"/api/v1/batches/{batch_id}/actions/verify_step",
                headers=_as(client, "operator"),
                json={"step": step["code"], **_sign("operator")},
            )
            assert same.status_code == 403 and "a second person must" in same.json()["message"]
            act("operator2", "verify_step", step=step["code"], **_sign("operator2"))
    driver.finish_batch(case, clock())
    for test in spec["tests"]:
        act(
            "qc", "enter_result", test=test["code"], value=str(passing(ReleaseTest.from_dict(test)))
        )
    released = act("qa", "release", **_sign("qa"))
    assert released["disposition"] == "released" and released["decision_intact"] is True
    meanings = [s["meaning"] for s in released["signatures"]]
    assert meanings.count("performed") == 9 and meanings[-1] == "released"
    detail = client.get(f"/api/v1/cases/{case.id}", headers=_as(client, "qa")).json()
    assert detail["case"]["state"] == "released"
    coa = client.get(f"/api/v1/batches/{batch_id}/coa.pdf", headers=_as(client, "qa"))
    assert coa.status_code == 200 and coa.content.startswith(b"%PDF")
    assert ledger.verify(demo_app.uow()).ok


@pytest.fixture
def run(demo_app: App, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)

    def invoke(*args: str, stdin: str | None = None) -> Result:
        cli_context().forget()
        return CliRunner().invoke(cli_app, list(args), input=stdin)

    yield invoke
    cli_context().forget()


def test_a_batch_goes_through_oos_to_a_conditional_release_through_the_cli(
    run: object, demo_app: App, clock: FixedClock, tmp_path: Path
) -> None:
    invoke = run
    driver = Driver(demo_app.bus, demo_app.user, clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Cli Batch", wristband="WB-CLI-9"),
        EQUE_CEL_HK,
        CaseState.IN_QC,
    )
    batch_id = present(case.batch_id)

    def ok(*args: str, stdin: str | None = None) -> Result:
        result: Result = invoke(*args, stdin=stdin)  # type: ignore[operator]
        assert result.exit_code == 0, result.stdout + result.stderr
        return result

    low = ok("--as", "qc", "batch", "result", batch_id, "viability", "61.5")
    assert "out of specification" in low.stdout.lower()
    for test in ("cd3", "car_expression", "vcn", "endotoxin", "potency"):
        ok(
            "--as",
            "qc",
            "batch",
            "result",
            batch_id,
            test,
            "{}".format(
                {"cd3": 90, "car_expression": 30, "vcn": 2, "endotoxin": 1, "potency": 900}[test]
            ),
        )
    for test, value in (
        ("sterility", "no growth"),
        ("mycoplasma", "not detected"),
        ("rcl", "not detected"),
        ("identity", "positive"),
    ):
        ok("--as", "qc", "batch", "result", batch_id, test, value)
    early = invoke(
        "--as",
        "qa",
        "batch",
        "release-conditionally",
        batch_id,
        "--justification",
        "x",
        stdin="veinline-demo\n",
    )  # type: ignore[operator]
    assert early.exit_code == 2 and "open an OOS investigation first" in early.stderr
    ok(
        "--as",
        "qc",
        "batch",
        "investigate-oos",
        batch_id,
        "--reference",
        "OOS-9",
        "--summary",
        "low",
    )
    wrong = invoke("--as", "physician", "batch", "acknowledge", batch_id, stdin="nope\n")  # type: ignore[operator]
    assert wrong.exit_code == 2 and "password is wrong" in wrong.stderr
    ok("--as", "physician", "batch", "acknowledge", batch_id, stdin="veinline-demo\n")
    ok(
        "--as",
        "qa",
        "batch",
        "release-conditionally",
        batch_id,
        "--justification",
        "no alternative therapy",
        stdin="veinline-demo\n",
    )
    out = tmp_path / "coa.pdf"
    written = ok("--as", "qa", "coa", batch_id, "--out", str(out))
    assert "certificate of analysis" in written.stdout and out.read_bytes().startswith(b"%PDF")
    undecided = invoke("--as", "qa", "coa", "NO-SUCH-BATCH", "--out", str(tmp_path / "x.pdf"))  # type: ignore[operator]
    assert undecided.exit_code == 2 and "there is no batch" in undecided.stderr
    with demo_app.uow() as uow:
        stored = uow.cases.get(case.id)
    assert stored is not None and stored.state is CaseState.RELEASED
    assert ledger.verify(demo_app.uow()).ok


def test_careless_values_are_refused_through_the_api_and_right_ones_converted(
    client: TestClient, demo_app: App, clock: FixedClock
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, clock)
    case = driver.advance(
        driver.enrol(ZEVOR_CEL_US, patient_name="Typed Values", wristband="WB-TYPED-1"),
        ZEVOR_CEL_US,
        CaseState.MANUFACTURING,
    )
    batch_id = present(case.batch_id)
    path = f"/api/v1/batches/{batch_id}/actions"
    operator = _as(client, "operator")

    def record(parameter: str, value: str) -> Any:
        return client.post(
            f"{path}/record_value",
            headers=operator,
            json={"step": "receipt", "parameter": parameter, "value": value},
        )

    _post(
        client,
        "operator",
        f"/batches/{batch_id}/actions/start_step",
        {"step": "receipt", "suite": "S1"},
    )
    version = client.get(f"/api/v1/batches/{batch_id}", headers=operator).json()["version"]
    for parameter, value, message in (
        ("Chain-of-identity label match", "yes", "recorded as match or mismatch, not 'yes'"),
        ("Total nucleated cells", "1500000000", "looks like a count of single cells"),
        ("Total nucleated cells", "3 mL", "is not a unit of that kind"),
        ("Temperature on receipt", "four", "needs a number in °C"),
    ):
        refused = record(parameter, value)
        assert refused.status_code == 422 and message in refused.json()["message"], refused.text
    after = client.get(f"/api/v1/batches/{batch_id}", headers=operator).json()
    assert after["version"] == version and after["deviations"] == []  # nothing written
    assert record("Total nucleated cells", "1.5e9 cells").status_code == 200
    assert record("Chain-of-identity label match", "Match").status_code == 200
    receipt = client.get(f"/api/v1/batches/{batch_id}", headers=operator).json()["steps"][0]
    entries = {e["parameter"]: e for e in receipt["entries"]}
    assert entries["Total nucleated cells"]["value"] == 1.5
    assert entries["Total nucleated cells"]["excursion"] is None
    assert entries["Chain-of-identity label match"]["value"] == "match"
