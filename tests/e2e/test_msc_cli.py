"""`veinline inventory`: donor to a course infused through the CLI, the recall, the
look-back and `inventory forecast --json`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.conftest import FixedClock
from veinline.adapters.seed.cases import DEMO_PASSWORD, Driver, in_limits
from veinline.adapters.seed.msc import GVHD, MscDriver
from veinline.bootstrap import App
from veinline.domain.msc import REQUIRED_TESTS
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.services import commands, ledger

Run = Callable[..., Result]


@pytest.fixture
def run(demo_app: App, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)

    def invoke(*args: str, stdin: str | None = None) -> Result:
        cli_context().forget()
        return CliRunner().invoke(cli_app, list(args), input=stdin)

    yield invoke
    cli_context().forget()


def test_a_course_through_the_cli_then_recall_lookback_and_forecast(
    run: Run, demo_app: App, clock: FixedClock, tmp_path: Path
) -> None:
    def ok(*args: str, stdin: str | None = None) -> Result:
        result = run(*args, stdin=stdin)
        assert result.exit_code == 0, result.stdout + result.stderr
        return result

    sign = f"{DEMO_PASSWORD}\n"  # --as names the signer
    facility = "demo-suzhou-manufacturing"
    ok(
        "--as",
        "qa2",
        "inventory",
        "donor",
        "register",
        "DNR-CLI",
        "--site",
        facility,
        "--reference",
        "cord 5",
        "--consent-date",
        "2026-02-01",
    )
    tests = [f"--result={t}=negative" for t in REQUIRED_TESTS]
    screened = ok("--as", "qa2", "inventory", "donor", "screen", "DNR-CLI", *tests, stdin=sign)
    assert "eligible (every required test negative)" in screened.stdout
    bad = run("--as", "qa2", "inventory", "donor", "screen", "DNR-CLI", "--result", "hiv_1")
    assert bad.exit_code == 2 and "TEST=RESULT" in bad.stderr
    # The batch record runs as any batch does (the driver stands in for `veinline batch`).
    msc = MscDriver(Driver(demo_app.bus, demo_app.user, clock))
    msc.prepare("amimestrocel")
    started = ok(
        "--as",
        "operator.suzhou",
        "inventory",
        "lot",
        "start",
        "LOT-CLI",
        "--donor",
        "DNR-CLI",
        "--product",
        "amimestrocel",
        "--site",
        facility,
    )
    assert "DIN" in started.stdout
    with demo_app.uow() as uow:
        lot = uow.msc_lots.get("LOT-CLI")
    assert lot is not None
    batch = msc.batch(lot.batch_id)
    for step in batch.steps:
        msc.do(commands.StartStep(batch.id, step.code, "Suite 1", ["EQ-01"]), "operator")
        for parameter in step.spec.parameters:
            value = in_limits(parameter, batch.id)
            msc.do(commands.RecordValue(batch.id, step.code, parameter.name, value), "operator")
        msc.do(commands.CompleteStep(batch.id, step.code, "operator", DEMO_PASSWORD), "operator")
        if step.spec.critical:
            msc.do(
                commands.VerifyStep(batch.id, step.code, "operator2", DEMO_PASSWORD), "operator2"
            )
    msc.release(lot)
    # The CLI runs on the real clock, the bus fixture on the test's: expire after both.
    expires = (max(clock(), datetime.now(UTC)) + timedelta(days=200)).isoformat()
    ok(
        "--as",
        "operator.suzhou",
        "inventory",
        "lot",
        "fill",
        "LOT-CLI",
        "--count",
        "8",
        "--cells",
        "5e7",
        "--volume",
        "10",
        "--expires",
        expires,
    )
    ok(
        "--as",
        "operator",
        "inventory",
        "storage",
        "create",
        "CLI-TANK",
        "--site",
        "demo-sh-depot",
        "--racks",
        "1",
        "--boxes",
        "1",
    )
    for n in range(1, 9):
        ok(
            "--as",
            "operator",
            "inventory",
            "vial",
            "store",
            f"LOT-CLI-{n:03d}",
            "--unit",
            "CLI-TANK",
        )
    pdf = tmp_path / "labels.pdf"
    printed = ok("--as", "operator", "inventory", "lot", "labels", "LOT-CLI", "--out", str(pdf))
    assert "8 vial labels" in printed.stdout and pdf.read_bytes().startswith(b"%PDF")
    shown = ok("--as", "planner", "inventory", "storage", "map", "CLI-TANK")
    assert "8/81 positions used" in shown.stdout
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"age_years": 14, **GVHD}))
    placed = ok(
        "--as",
        "physician",
        "inventory",
        "order",
        "place",
        "ORD-CLI",
        "--product",
        "amimestrocel",
        "--jurisdiction",
        "CN",
        "--centre",
        "demo-sh-treatment",
        "--patient",
        "Li Lei",
        "--wristband",
        "WB-CLI-1",
        "--weight",
        "45",
        "--facts",
        str(facts),
    )
    assert "rounded up to 1 whole vial(s)" in placed.stdout
    allocated = ok("--as", "qa", "inventory", "order", "allocate", "ORD-CLI")
    assert "vials reserved" in allocated.stdout
    with demo_app.uow() as uow:
        barcodes = [f"={v.barcode}" for v in uow.msc_vials.of_order("ORD-CLI")]
    scans = [arg for code in barcodes for arg in ("--scan", code)]
    shipped = ok("--as", "courier", "inventory", "order", "ship", "ORD-CLI", *scans)
    assert "shipment ORD-CLI-S01" in shipped.stdout
    # The order's shipment takes the logger file as a case's does (`veinline shipment log`).
    t0 = clock()
    log = tmp_path / "logger.csv"
    log.write_text(
        "\n".join(f"{(t0 + timedelta(minutes=10 * i)).isoformat()},-185" for i in range(3))
    )
    logged = ok("--as", "nurse", "shipment", "log", "ORD-CLI-S01", "--file", str(log))
    assert "3 readings, 0 excursion(s)" in logged.stdout
    received = ok("--as", "nurse", "inventory", "order", "receive", "ORD-CLI", *scans)
    assert "received at site" in received.stdout
    now = datetime.now(UTC)
    wrong = run(
        "--as",
        "physician",
        "inventory",
        "order",
        "infuse",
        "ORD-CLI",
        "--wristband",
        "WB-NOT-HER",
        "--vial",
        barcodes[0],
        "--thawed-at",
        now.isoformat(),
        "--started-at",
        now.isoformat(),
    )
    assert wrong.exit_code == 2 and "wristband" in wrong.stderr
    for code in barcodes:
        done = ok(
            "--as",
            "physician",
            "inventory",
            "order",
            "infuse",
            "ORD-CLI",
            "--wristband",
            "WB-CLI-1",
            "--vial",
            code,
            "--thawed-at",
            (now - timedelta(minutes=15)).isoformat(),
            "--started-at",
            now.isoformat(),
        )
    assert "course infused" in done.stdout
    listed = ok("--as", "qa", "inventory", "order", "list")
    assert "ORD-CLI" in listed.stdout and "Li Lei" not in listed.stdout
    recall = ok(
        "--as",
        "qa2",
        "inventory",
        "lot",
        "recall",
        "LOT-CLI",
        "--reason",
        "sterility retest positive",
        "--json",
        stdin=sign,
    )
    assert json.loads(recall.stdout)["recipients_to_notify"] == ["ORD-CLI"]
    traced = json.loads(
        ok("--as", "physician", "inventory", "lookback", "--lot", "LOT-CLI", "--json").stdout
    )
    assert traced["recipients"] == ["Li Lei (WB-CLI-1)"] and len(traced["vials"]) == 8
    forecast = json.loads(ok("--as", "planner", "inventory", "forecast", "--json").stdout)
    line = next(f for f in forecast if f["depot"] == "demo-sh-depot")
    assert line["ordered_in_window"] == 8 and line["stock"] == 0
    assert line["rate_90"][0] < line["rate_per_day"] < line["rate_90"][1]
    assert ledger.verify(demo_app.uow()).ok
    assert "forecast" in ok("inventory", "--help").stdout


def test_the_catalogue_says_the_msc_dose_rules_have_no_source(run: Run) -> None:
    shown = run("catalog", "show", "amimestrocel", "--json")
    assert shown.exit_code == 0, shown.stdout
    lines = {line["label"]: line["text"] for line in json.loads(shown.stdout)["product"]["summary"]}
    assert lines["Dose"] == "1.0e+06 cells/kg per infusion × 8 infusion(s) (unconfirmed)"
    assert lines["Dose source"] == "unconfirmed: the NMPA notice states no dose"
    vum = json.loads(run("catalog", "show", "vum02", "--json").stdout)["product"]["summary"]
    assert {
        "label": "Dose source",
        "text": "unconfirmed: trial dosing is not in the Vcanbio announcement",
    } in vum
