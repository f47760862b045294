"""CLI commands of the autologous journey: eligibility, cases, custody, shipments."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from veinline.domain.errors import DomainError
from veinline.entrypoints.cli.context import cli_context
from veinline.services import commands

case_app = typer.Typer(help="Autologous cases, enrolment to follow-up.", no_args_is_help=True)
custody_app = typer.Typer(help="Chain-of-custody scans at each hand-off.", no_args_is_help=True)
shipment_app = typer.Typer(
    help="Shipments: logger data and excursion disposition.", no_args_is_help=True
)
eligibility_app = typer.Typer(
    help="Eligibility against the authorisation in force.", no_args_is_help=True
)


def _read_json(source: str, what: str) -> Any:
    cli = cli_context()
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        cli.fail(f"cannot read {what} {source}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        cli.fail(f"{what} is not JSON: {exc}")


def _do(cmd: commands.Command) -> Any:
    return cli_context().handle(cmd)


def _done(case: Any, what: str) -> None:
    cli_context().out.print(
        f"case {case.id}: {what} — now {case.state.label.lower()}", highlight=False
    )


def _credentials() -> tuple[str, str]:
    return cli_context().signer()


@eligibility_app.command("check")
def eligibility_check(
    product: Annotated[str, typer.Option(help="Product code, e.g. eque-cel.")],
    jurisdiction: Annotated[str, typer.Option(help="Country or region code, e.g. HK.")],
    patient: Annotated[str, typer.Option(help="Patient facts JSON file; - for stdin.")],
) -> None:
    """Check a patient against the authorisation in force; prints JSON with reasons.

    The patient file is a JSON object of facts: age_years (or birth_date), diagnosis,
    disease_status (relapsed, refractory), prior_lines, prior_therapies (drug or brand
    names, e.g. ["bortezomib", "lenalidomide", "daratumumab"], mapped to their classes;
    or prior_therapy_classes), disease_stage (for indications that say "advanced"),
    biomarkers, conditions, prior_allo_hsct, weight_kg.

    A drug veinline does not know, or a missing fact, leaves its criterion undetermined
    (never "not met"); "others" explains the jurisdiction's other authorisations, and for
    a trial "notes" says only the indication is checked: the protocol's criteria are the
    investigator's.

    Exit 0 eligible, 1 not eligible, 3 undetermined (a needed fact is missing), 2 bad input.
    """
    from veinline.domain import eligibility
    from veinline.services.unit_of_work import missing_from_catalogue

    cli = cli_context()
    facts = _read_json(patient, "the patient file")
    application = cli.app()
    with cli.friendly_errors(), application.uow() as uow:
        found = uow.products.get(product)
        if found is None:
            cli.fail(missing_from_catalogue(uow, "product", repr(product)).message)
        parsed = eligibility.parse_patient(facts, today=application.clock().date())
        result = eligibility.evaluate(
            found, uow.authorisations.find(product_code=product), jurisdiction.upper(), parsed
        )
    sys.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    raise typer.Exit(result.exit_code)


@case_app.command("enrol")
def case_enrol(
    product: Annotated[str, typer.Option(help="Product code.")],
    jurisdiction: Annotated[str, typer.Option(help="Where the patient is treated, e.g. US.")],
    site: Annotated[str, typer.Option(help="Treatment centre site code.")],
    patient_name: Annotated[
        str, typer.Option(help="The patient's name (never shown to manufacturing or QC).")
    ],
    wristband: Annotated[str, typer.Option(help="Hospital wristband id.")],
    physician: Annotated[str, typer.Option(help="Treating physician's user name.")],
    consent_date: Annotated[str, typer.Option(help="Date consent was signed, YYYY-MM-DD.")],
    patient: Annotated[str, typer.Option(help="Patient facts JSON file; - for stdin.")],
    consent_form: Annotated[str, typer.Option(help="Consent form version.")] = "",
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only the new case's id (CASE=$(veinline … --quiet))."
        ),
    ] = False,
) -> None:
    """Enrol a patient: records eligibility, consent and physician; issues the CoI.

    The patient file holds the facts the product's criteria read (`veinline eligibility
    check --help`; example: docs/examples/patient.json). Prints the new case's id last
    (alone with --quiet). A wristband already on an open case at the centre is refused."""
    case = _do(
        commands.EnrolPatient(
            product_code=product,
            jurisdiction=jurisdiction,
            treatment_site=site,
            patient_name=patient_name,
            wristband_id=wristband,
            treating_physician=physician,
            consent_given=True,
            consent_date=consent_date,
            consent_form=consent_form,
            patient_facts=_read_json(patient, "the patient file"),
        )
    )
    if not quiet:
        _done(case, f"enrolled, chain of identity {case.coi}")
    print(case.id)


@case_app.command("confirm-eligibility")
def case_confirm(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    patient: Annotated[str | None, typer.Option(help="Updated patient facts JSON.")] = None,
) -> None:
    """The physician confirms eligibility (re-evaluated against the catalogue)."""
    facts = _read_json(patient, "the patient file") if patient else None
    _done(
        _do(commands.ConfirmEligibility(case_id=case_id, patient_facts=facts)),
        "eligibility confirmed",
    )


@case_app.command("book")
def case_book(
    case_id: Annotated[str, typer.Argument()],
    apheresis_site: Annotated[str, typer.Option(help="Apheresis centre site code.")],
    date: Annotated[str, typer.Option(help="Apheresis date, YYYY-MM-DD.")],
    manufacturing_site: Annotated[str, typer.Option(help="Manufacturing facility code.")],
) -> None:
    """Book the apheresis collection and the manufacturing facility."""
    _done(
        _do(
            commands.BookApheresis(
                case_id=case_id,
                apheresis_site=apheresis_site,
                apheresis_date=date,
                manufacturing_site=manufacturing_site,
            )
        ),
        "apheresis booked",
    )


@case_app.command("plan")
def case_plan(
    case_id: Annotated[str, typer.Argument()],
    set_: Annotated[
        list[str], typer.Option("--set", help="key=YYYY-MM-DD, e.g. infusion_date=2026-05-01.")
    ],
) -> None:
    """Give a case planned dates (what planning promises)."""
    planned: dict[str, str] = {}
    for item in set_:
        key, sep, value = item.partition("=")
        if not sep:
            cli_context().fail(f"--set takes key=value, not {item!r}")
        planned[key.strip()] = value.strip()
    _done(_do(commands.SetPlannedDates(case_id=case_id, planned=planned)), "planned dates set")


@case_app.command("collect")
def case_collect(
    case_id: Annotated[str, typer.Argument()],
    at: Annotated[str, typer.Option(help="Collection end, ISO 8601 with zone.")],
    volume_ml: Annotated[float | None, typer.Option(help="Volume collected, mL.")] = None,
    anticoagulant: Annotated[
        str | None,
        typer.Option(help="Anticoagulant used, as the collection label prints it, e.g. ACD-A."),
    ] = None,
) -> None:
    """Record the apheresis collection: issues its DIN and the shipment to manufacturing.

    The volume and anticoagulant are printed on the collection label (ISBT 128 ST-004);
    a label says "not recorded" for either when it is left out.
    """
    case = _do(
        commands.Collect(
            case_id=case_id, collected_at=at, volume_ml=volume_ml, anticoagulant=anticoagulant
        )
    )
    _done(case, f"collected as DIN {case.current_din}")


@case_app.command("start-manufacturing")
def case_start(
    case_id: Annotated[str, typer.Argument()],
    batch: Annotated[
        str, typer.Option(help="Batch id (default: B- and the case id, e.g. B-C2026-00001).")
    ] = "",
) -> None:
    """Start manufacturing the received material as a batch, on the process in force at
    the booked facility; then record the batch with `veinline batch …`."""
    batch_id = batch or f"B-{case_id}"
    _done(_do(commands.StartManufacturing(case_id=case_id, batch_id=batch_id)), "manufacturing")
    cli_context().out.print(f"batch {batch_id}", highlight=False)


@case_app.command("complete-manufacturing")
def case_complete(
    case_id: Annotated[str, typer.Argument()],
    bags: Annotated[int, typer.Option(help="Number of final product bags (1-4).")],
    expires: Annotated[str, typer.Option(help="Expiry, ISO 8601 with zone.")],
    total_cells: Annotated[float | None, typer.Option(help="CAR-T cells in the product.")] = None,
) -> None:
    """Finish manufacturing: the product goes to QC."""
    _done(
        _do(
            commands.CompleteManufacturing(
                case_id=case_id, bag_count=bags, expires_at=expires, total_cells=total_cells
            )
        ),
        "in QC",
    )


@case_app.command("release")
def case_release(
    case_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option()] = "released for infusion",
) -> None:
    """QA releases the product by electronic signature (user name and password)."""
    username, password = _credentials()
    _done(
        _do(
            commands.ReleaseProduct(
                case_id=case_id, username=username, password=password, reason=reason
            )
        ),
        "released (signed)",
    )


@case_app.command("conditional-release")
def case_conditional(
    case_id: Annotated[str, typer.Argument()],
    justification: Annotated[str, typer.Option(help="The documented justification.")],
) -> None:
    """QA releases an out-of-specification product conditionally, by signature.

    The treating physician must have acknowledged the results first
    (`veinline batch acknowledge`)."""
    username, password = _credentials()
    _done(
        _do(
            commands.ConditionalRelease(
                case_id=case_id,
                justification=justification,
                username=username,
                password=password,
            )
        ),
        "released conditionally (signed)",
    )


@case_app.command("recollect")
def case_recollect(
    case_id: Annotated[str, typer.Argument()], reason: Annotated[str, typer.Option()]
) -> None:
    """Send an out-of-specification case back for a new collection."""
    _done(_do(commands.Recollect(case_id=case_id, reason=reason)), "back for re-collection")


@case_app.command("infuse")
def case_infuse(
    case_id: Annotated[str, typer.Argument()],
    wristband: Annotated[str, typer.Option(help="Scanned patient wristband id.")],
    bag_data: Annotated[str, typer.Option(help="Scanned bag barcode data (DIN and CoI).")],
    thawed_at: Annotated[str, typer.Option(help="Thaw time, ISO 8601 with zone.")],
    started_at: Annotated[str, typer.Option(help="Infusion start, ISO 8601 with zone.")],
    weight: Annotated[float, typer.Option(help="Patient weight, kg.")],
    dose: Annotated[float, typer.Option(help="Cells infused.")],
    override: Annotated[
        str, typer.Option(help="Physician's reason to proceed despite a flag.")
    ] = "",
) -> None:
    """Record the infusion after the bedside two-identifier check, window and dose."""
    _done(
        _do(
            commands.Infuse(
                case_id=case_id,
                wristband_id=wristband,
                bag_scan=bag_data,
                thawed_at=thawed_at,
                infusion_started_at=started_at,
                weight_kg=weight,
                dose_cells=dose,
                override_reason=override,
            )
        ),
        "infused",
    )


@case_app.command("follow-up")
def case_follow_up(case_id: Annotated[str, typer.Argument()]) -> None:
    """Move an infused case to follow-up."""
    _done(_do(commands.StartFollowUp(case_id=case_id)), "in follow-up")


@case_app.command("cancel")
def case_cancel(
    case_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why (required).")],
) -> None:
    """Cancel a case before infusion, with a reason."""
    _done(_do(commands.CancelCase(case_id=case_id, reason=reason)), "cancelled")


@case_app.command("correct-name")
def case_correct_name(
    case_id: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option("--name", help="The patient's name, spelt right.")],
    reason: Annotated[str, typer.Option(help="Why it was wrong (required).")],
) -> None:
    """Put a misspelt patient name right. The ledger records the correction with its
    reason and the digests of the old and new name; the old entries stay as they were."""
    case = _do(commands.CorrectPatientName(case_id=case_id, patient_name=name, reason=reason))
    _done(case, "patient name corrected")


@case_app.command("barcode")
def case_barcode(case_id: Annotated[str, typer.Argument(help="Case id.")]) -> None:
    """Print what a scanner reads from the case's bag label: the DIN (with its flags)
    and the chain-of-identity id, as one ISBT 128 concatenation. For trying the custody
    scans from a terminal: `veinline custody scan … --data "$(veinline case barcode C…)"`."""
    from veinline.entrypoints.views import cases as views
    from veinline.services import authority
    from veinline.services.authority import Read, Where

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors(), application.uow() as uow:
        viewer = application.user(cli.acting_user)
        case = views.readable_case(uow, case_id, viewer)
        authority.require_read(viewer, Read.LABEL, Where.of_case(case))
        if case.current_din is None:
            cli.fail(f"case {case.id} has no DIN yet: its bag is labelled at collection")
    # ISBT 128: the DIN data structure with flags 00 (ST-001 §2.4.1), then the CoI's
    # "&/" data structure, as the bag's two barcodes are read one after the other.
    print(f"={case.current_din}00&/{case.coi}")


@case_app.command("find")
def case_find(
    wristband: Annotated[str, typer.Option(help="The wristband id (record number) scanned.")],
) -> None:
    """Find the cases of the patient wearing a wristband (searched by its keyed hash;
    only cases whose full patient data you may see are listed)."""
    from veinline.entrypoints.views import cases as views

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors(), application.uow() as uow:
        viewer = application.user(cli.acting_user)
        found = views.cases_with_wristband(uow, wristband, viewer)
    if not found:
        cli.fail("no case of yours has this wristband", 1)
    for c in found:
        cli.out.print(
            f"{c['id']}  {c['state_label']:<22} {c['product_code']:<10} {c['patient']}",
            highlight=False,
        )


@case_app.command("show")
def case_show(
    case_id: Annotated[str, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    history_page: Annotated[
        int, typer.Option(min=1, help="Page of each history (newest first, 50 a page).")
    ] = 1,
) -> None:
    """Show a case: state, identifiers, custody events and shipments."""
    from veinline.entrypoints.views import cases as views

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors(), application.uow() as uow:
        viewer = application.user(cli.acting_user)
        detail = views.case_detail(uow, case_id, viewer, now=application.clock(), page=history_page)
    if as_json:
        cli.print_json(detail)
        return
    c = detail["case"]
    cli.out.print(
        f"[bold]{c['id']}[/] {c['product_code']} · {c['state_label']} · "
        f"patient {c['patient']} · CoI {c['coi']} · DIN {c['din'] or '-'}",
        highlight=False,
    )
    for e in detail["custody"]:
        cli.out.print(
            f"  {e['at']}  {e['point_label']}  by {e['actor']}  "
            + ", ".join(f"{k} {v}" for k, v in e["identifiers"].items()),
            highlight=False,
        )
    for s in detail["shipments"]:
        cli.out.print(
            f"  shipment {s['id']} {s['shipper_label']} {s['from_site']} → "
            f"{s['to_site']}: {s['status']}, {len(s['excursions'])} excursion(s)"
            f"{' — BLOCKED' if s['blocked'] else ''}",
            highlight=False,
        )


@case_app.command("list")
def case_list(
    search: Annotated[
        str,
        typer.Argument(
            help="A case id (or its beginning), CoI, DIN, batch or shipment id; for the "
            "care team also a wristband id or part of a name."
        ),
    ] = "",
    state: Annotated[str, typer.Option(help="Only this state (e.g. enrolled).")] = "",
    product: Annotated[str, typer.Option(help="Only this product (e.g. eque-cel).")] = "",
    site: Annotated[str, typer.Option(help="Only cases bound to this site.")] = "",
    page: Annotated[int, typer.Option(help="Which page of 50.", min=1)] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the page as JSON.")] = False,
) -> None:
    """List your sites' cases in journey order, 50 a page: search and filter them."""
    from veinline.entrypoints.views import cases as views
    from veinline.services.unit_of_work import CaseQuery

    cli = cli_context()
    application = cli.app()
    query = CaseQuery(text=search, product=product, state=state, site=site, page=page)
    with cli.friendly_errors(), application.uow() as uow:
        viewer = application.user(cli.acting_user)
        board = views.case_board(uow, viewer, query)
    if as_json:
        cli.print_json(board)
        return
    for column in board["columns"]:
        for c in column["cases"]:
            cli.out.print(
                f"{c['id']}  {column['label']:<22} {c['product_code']:<10} {c['patient']}",
                highlight=False,
            )
    more = f"; next: --page {board['page'] + 1}" if board["page"] < board["pages"] else ""
    cli.err.print(
        f"{board['total']} case(s), page {board['page']} of {board['pages']}{more}",
        highlight=False,
    )


@custody_app.command("scan")
def custody_scan(
    case: Annotated[str, typer.Option("--case", help="Case id.")],
    at: Annotated[
        str,
        typer.Option(
            "--at",
            help="Custody point: collection, "
            "apheresis_pickup, manufacturing_receipt, "
            "product_pickup, site_receipt.",
        ),
    ],
    data: Annotated[str, typer.Option(help="The scanned barcode data.")],
    site: Annotated[str | None, typer.Option(help="Where the scan happens (site code).")] = None,
) -> None:
    """Record a hand-off; a scan that does not match is refused and kept as an incident."""
    event = _do(commands.ScanCustody(case_id=case, point=at, data=data, site_code=site))
    cli_context().out.print(f"{event.id}: {event.point.label} recorded", highlight=False)


@shipment_app.command("log")
def shipment_log(
    shipment_id: Annotated[str, typer.Argument(help="Shipment id, e.g. DEMO-04-S01.")],
    file: Annotated[Path, typer.Option(help="Logger CSV, one reading a line: timestamp, °C.")],
    tz: Annotated[str, typer.Option(help="Zone of timestamps without one.")] = "UTC",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the shipment's excursions and gaps as JSON.")
    ] = False,
) -> None:
    """Import a temperature logger's CSV: prints the readings, each excursion outside the
    shipper's limit and each gap in the log. An excursion blocks receipt until QA
    disposes of it (`veinline shipment dispose`).

    Example file: docs/examples/logger.csv."""
    from rich.table import Table

    cli = cli_context()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        cli.fail(f"cannot read {file}: {exc.strerror}")
    shipment = _do(commands.ImportLoggerData(shipment_id=shipment_id, csv_text=text, timezone=tz))
    if as_json:
        cli.print_json(
            {
                "shipment": shipment.id,
                "readings": len(shipment.readings),
                "excursions": [dict(e) for e in shipment.excursions],
                "gaps": [dict(g) for g in shipment.gaps],
                "blocked": shipment.blocked,
            }
        )
        return
    out = cli.out
    out.print(
        f"{shipment.id}: {len(shipment.readings)} readings, "
        f"{len(shipment.excursions)} excursion(s), {len(shipment.gaps)} gap(s)",
        highlight=False,
    )
    if shipment.excursions or shipment.gaps:
        table = Table(title=f"{shipment.id}: outside the limit or not logged")
        for column in ("what", "from (UTC)", "to (UTC)", "minutes", "worst °C", "limit °C"):
            table.add_column(column)
        for e in shipment.excursions:
            table.add_row(
                f"excursion {e['direction']}" + (" (still open)" if e.get("open") else ""),
                str(e["start"])[:16],
                str(e["end"])[:16],
                f"{float(e['duration_seconds']) / 60:.0f}",
                f"{e['extreme_c']}",
                f"{e['limit_c']}",
            )
        for g in shipment.gaps:
            table.add_row(
                "gap in the log",
                str(g["start"])[:16],
                str(g["end"])[:16],
                f"{float(g['duration_seconds']) / 60:.0f}",
                "",
                "",
            )
        out.print(table)
    if shipment.blocked:
        out.print("receipt is blocked until QA disposes of the excursion(s)", highlight=False)


@shipment_app.command("dispose")
def shipment_dispose(
    shipment_id: Annotated[str, typer.Argument()],
    decision: Annotated[str, typer.Option(help="accept or reject.")],
    reason: Annotated[str, typer.Option(help="QA's documented reason.")],
) -> None:
    """QA accepts or rejects a shipment's temperature excursions by e-signature.

    Asks for the signer's user name and password (21 CFR 11.200); the reason must say
    what was judged and why, e.g. "15 min at 8.6 °C, within the stability data".
    """
    username, password = _credentials()
    shipment = _do(
        commands.DisposeExcursion(
            shipment_id=shipment_id,
            decision=decision,
            reason=reason,
            username=username,
            password=password,
        )
    )
    cli_context().out.print(f"{shipment.id}: excursions {decision}ed", highlight=False)


def label_command(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    item: Annotated[str, typer.Option(help="apheresis_bag, product_bag[:N] or shipper.")],
    out: Annotated[Path, typer.Option(help="PDF file to write.")],
) -> None:
    """Print labels as PDF (Code 128 + Data Matrix, eye-readable DIN with boxed check)."""
    from veinline.adapters.pdf_labels import render_labels
    from veinline.services.labels import labels_for

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors(), application.uow() as uow:
        labels = labels_for(uow, case_id, item, application.user(cli.acting_user))
    try:
        out.write_bytes(render_labels(labels))
    except OSError as exc:
        cli.fail(f"cannot write {out}: {exc.strerror}")
    cli.out.print(f"{len(labels)} label(s) written to {out}", highlight=False)


@case_app.command("reconcile-labels")
def case_reconcile_labels(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    item: Annotated[str, typer.Option(help="apheresis_bag, product_bag or shipper.")],
    issued: Annotated[int, typer.Option(help="Labels printed for this item.")],
    used: Annotated[int, typer.Option(help="Labels applied to a container.")],
    destroyed: Annotated[int, typer.Option(help="Labels destroyed (spoilt, surplus).")],
    reason: Annotated[str, typer.Option(help="Why, for the ledger.")],
) -> None:
    """Reconcile a case's labels: issued = used + destroyed, as FACT-JACIE asks.

    Each reconciliation is a ledger entry (case.labels_reconciled); the totals per item
    follow, with any label unaccounted for.
    """
    from veinline.domain.labels import reconciliation_totals

    case = _do(
        commands.ReconcileLabels(
            case_id=case_id,
            item=item,
            issued=issued,
            used=used,
            destroyed=destroyed,
            reason=reason,
        )
    )
    out = cli_context().out
    out.print(f"case {case.id}: labels reconciled", highlight=False)
    for name, row in reconciliation_totals(case.labels).items():
        style = "red" if row["unaccounted"] else "green"
        out.print(
            f"  {name}: issued {row['issued']}, used {row['used']}, destroyed "
            f"{row['destroyed']}, [{style}]unaccounted {row['unaccounted']}[/]",
            highlight=False,
        )


__all__ = ["DomainError", "register"]


@case_app.command("assess")
def case_assess(
    case_id: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option(help="crs, icans, agvhd, recist, imwg or survival.")],
    on: Annotated[str, typer.Option(help="Date assessed, YYYY-MM-DD.")],
    input_: Annotated[str, typer.Option("--input", help="Findings JSON file; - for stdin.")] = "-",
) -> None:
    """Record a follow-up assessment; veinline grades it and keeps the reasons."""
    record = _do(
        commands.RecordAssessment(
            case_id=case_id, kind=kind, assessed_on=on, inputs=_read_json(input_, "the findings")
        )
    )
    out = cli_context().out
    out.print(
        f"{record.id}: {record.kind.label} on {record.assessed_on}: {record.summary}",
        highlight=False,
    )
    for reason in record.result.get("reasons", []):
        out.print(f"  - {reason}", highlight=False)


fhir_app = typer.Typer(help="FHIR R4 export.", no_args_is_help=True)


@fhir_app.command("export")
def fhir_export(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    out: Annotated[Path | None, typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """Export a case as a pseudonymous FHIR R4 Bundle (JSON), validated before it is written."""
    from veinline.entrypoints.views import cases as views

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors(), application.uow() as uow:
        viewer = application.user(cli.acting_user)
        bundle = views.fhir_bundle(
            uow, case_id, viewer, exported_at=application.clock().isoformat()
        )
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    cli.out.print(f"{len(bundle['entry'])} resources written to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("label")(label_command)
    app.add_typer(case_app, name="case")
    app.add_typer(custody_app, name="custody")
    app.add_typer(shipment_app, name="shipment")
    app.add_typer(eligibility_app, name="eligibility")
    app.add_typer(fhir_app, name="fhir")
