"""One case from enrolment to infusion through the `veinline` command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import Case
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app

Run = Callable[..., Result]


@pytest.fixture
def run(demo_app: App, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)

    def invoke(*args: str, stdin: str | None = None) -> Result:
        cli_context().forget()
        return CliRunner().invoke(cli_app, list(args), input=stdin)

    yield invoke
    cli_context().forget()


def _case(app: App, case_id: str) -> Case:
    with app.uow() as uow:
        case = uow.cases.get(case_id)
    assert case is not None
    return case


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stderr
    return result


def test_a_case_goes_from_enrolment_to_infusion_through_the_cli(
    run: Run, tmp_path: Path, demo_app: App
) -> None:
    # The facility has an approved process: a booking is refused otherwise.
    Driver(demo_app.bus, demo_app.user, demo_app.clock).prepare_manufacturing(EQUE_CEL_HK)
    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps(EQUE_CEL_HK.facts))
    eligible = run(
        "eligibility",
        "check",
        "--product",
        "eque-cel",
        "--jurisdiction",
        "HK",
        "--patient",
        str(patient),
    )
    assert eligible.exit_code == 0 and json.loads(eligible.stdout)["eligible"] is True
    enrolled = _ok(
        run(
            "--as",
            "coordinator",
            "case",
            "enrol",
            "--product",
            "eque-cel",
            "--jurisdiction",
            "HK",
            "--site",
            "demo-hk-treatment",
            "--patient-name",
            "Cli Journey",
            "--wristband",
            "WB-CLI",
            "--physician",
            "physician",
            "--consent-date",
            "2026-03-01",
            "--patient",
            str(patient),
        )
    )
    case_id = enrolled.stdout.strip().splitlines()[-1]
    _ok(run("--as", "physician", "case", "confirm-eligibility", case_id))
    _ok(
        run(
            "--as",
            "coordinator",
            "case",
            "book",
            case_id,
            "--apheresis-site",
            "demo-hk-apheresis",
            "--date",
            # The CLI runs on the real clock: a booking is for a day not long past.
            date.today().isoformat(),
            "--manufacturing-site",
            "demo-suzhou-manufacturing",
        )
    )
    collect = ("case", "collect", case_id, "--at", "2026-03-02T09:00+08:00")
    _ok(run("--as", "nurse", *collect, "--volume-ml", "180", "--anticoagulant", "ACD-A"))
    collection = _case(demo_app, case_id).current_collection
    assert collection is not None
    assert (collection.volume_ml, collection.anticoagulant) == (180.0, "ACD-A")
    reconciled = run(
        "--as",
        "nurse",
        "case",
        "reconcile-labels",
        case_id,
        "--item",
        "apheresis_bag",
        "--issued",
        "3",
        "--used",
        "1",
        "--destroyed",
        "1",
        "--reason",
        "one label spoilt",
    )
    assert "apheresis_bag: issued 3, used 1, destroyed 1, unaccounted 1" in _ok(reconciled).stdout
    shown = json.loads(_ok(run("--as", "coordinator", "case", "show", case_id, "--json")).stdout)[
        "case"
    ]
    label = f"={shown['din']}00&/{shown['coi']}"
    wrong = run(
        "--as",
        "courier",
        "custody",
        "scan",
        "--case",
        case_id,
        "--at",
        "apheresis_pickup",
        "--data",
        "&/CHA999099999999",
    )
    assert wrong.exit_code == 2 and "does not belong" in wrong.stderr
    for user, point in (("courier", "apheresis_pickup"), ("operator", "manufacturing_receipt")):
        _ok(run("--as", user, "custody", "scan", "--case", case_id, "--at", point, "--data", label))
    # The batch record itself is tested through the CLI in test_manufacturing_e2e.py.
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    driver.prepare_manufacturing(EQUE_CEL_HK)
    _ok(run("--as", "operator", "case", "start-manufacturing", case_id, "--batch", "B-CLI"))
    driver.run_steps(_case(demo_app, case_id))
    _ok(
        run(
            "--as",
            "operator",
            "case",
            "complete-manufacturing",
            case_id,
            "--bags",
            "2",
            "--expires",
            "2099-09-01T00:00Z",
        )
    )
    driver.test_batch(_case(demo_app, case_id))
    refused = run("--as", "qa", "case", "release", case_id, stdin="wrong password\n")
    assert refused.exit_code == 2 and "password is wrong" in refused.stderr
    _ok(run("--as", "qa", "case", "release", case_id, stdin="veinline-demo\n"))
    _ok(
        run(
            "--as",
            "courier",
            "custody",
            "scan",
            "--case",
            case_id,
            "--at",
            "product_pickup",
            "--data",
            label,
        )
    )
    csv = tmp_path / "log.csv"
    csv.write_text(
        "timestamp,temperature_c\n2026-03-02T10:00Z,-180\n2026-03-02T10:15Z,-120\n"
        "2026-03-02T10:30Z,-181\n"
    )
    shipments = json.loads(
        _ok(run("--as", "coordinator", "case", "show", case_id, "--json")).stdout
    )["shipments"]
    product_shipment = next(s["id"] for s in shipments if s["leg"] == "product")
    logged = _ok(run("--as", "courier", "shipment", "log", product_shipment, "--file", str(csv)))
    assert "1 excursion" in logged.stdout
    # A table, not a Python dict.
    assert "high" in logged.stdout and "┏" in logged.stdout and "{'" not in logged.stdout
    blocked = run(
        "--as",
        "coordinator",
        "custody",
        "scan",
        "--case",
        case_id,
        "--at",
        "site_receipt",
        "--data",
        label,
    )
    assert blocked.exit_code == 2 and "waits for QA" in blocked.stderr
    _ok(
        run(
            "--as",
            "qa",
            "shipment",
            "dispose",
            product_shipment,
            "--decision",
            "accept",
            "--reason",
            "15 min above limit, within stability data",
            stdin="veinline-demo\n",
        )
    )
    _ok(
        run(
            "--as",
            "coordinator",
            "custody",
            "scan",
            "--case",
            case_id,
            "--at",
            "site_receipt",
            "--data",
            label,
        )
    )
    _ok(
        run(
            "--as",
            "physician",
            "case",
            "infuse",
            case_id,
            "--wristband",
            "WB-CLI",
            "--bag-data",
            label,
            "--thawed-at",
            "2026-03-02T09:00Z",
            "--started-at",
            "2026-03-02T09:20Z",
            "--weight",
            "68",
            "--dose",
            "6.8e7",
        )
    )
    assert (
        json.loads(_ok(run("--as", "coordinator", "case", "show", case_id, "--json")).stdout)[
            "case"
        ]["state"]
        == "infused"
    )
    assert "ledger verified" in _ok(run("ledger", "verify")).stdout


@pytest.mark.parametrize(
    ("patient", "code"),
    [
        ({**EQUE_CEL_HK.facts}, 0),
        ({**EQUE_CEL_HK.facts, "age_years": 17}, 1),
        ({k: v for k, v in EQUE_CEL_HK.facts.items() if k != "prior_therapy_classes"}, 3),
        ({**EQUE_CEL_HK.facts, "age_years": "old"}, 2),
    ],
)
def test_eligibility_exit_codes_from_standard_input(
    run: Run, patient: dict[str, object], code: int
) -> None:
    result = run(
        "eligibility",
        "check",
        "--product",
        "eque-cel",
        "--jurisdiction",
        "HK",
        "--patient",
        "-",
        stdin=json.dumps(patient),
    )
    assert result.exit_code == code, result.stderr
    if code != 2:
        assert json.loads(result.stdout)["eligible"] == {0: True, 1: False, 3: None}[code]
    else:
        assert "age_years" in result.stderr
