"""`veinline inventory`: allogeneic MSC from donor to infusion (docs/architecture.md,
"Allogeneic MSC"). Signing commands (donor screening, quarantine decisions, recall) ask
for the signer's user name and password (21 CFR 11.200) at a prompt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from veinline.entrypoints.cli.context import cli_context
from veinline.services import commands

inventory_app = typer.Typer(
    help=(
        "Allogeneic MSC (amimestrocel, VUM02): one donor's tissue becomes a lot of many\n"
        "vials that serve many patients.\n\n"
        "The flow, each step as the user who does it (--as):\n\n"
        "\b\n"
        "1. donor register, donor screen   the facility's QA (screening is signed)\n"
        "2. lot start                      an operator: the batch record under the lot's\n"
        "                                  own DIN (`veinline batch ...` runs its steps,\n"
        "                                  QC results and QA's release)\n"
        "3. lot fill                       vials of a released lot, one ISBT 128\n"
        "                                  division each\n"
        "4. storage create, vial store     the depot's staff\n"
        "5. order place                    the physician: eligibility, course in vials\n"
        "6. order allocate                 QA: first expiry first, soonest depot\n"
        "7. order ship, receive, infuse    courier, centre staff, the bedside check\n\n"
        "Read: `stock`, `forecast --json`, `lookback --lot L` or `--donor D`."
    ),
    no_args_is_help=True,
)
donor_app = typer.Typer(help="Donors: register, review screening (QA signs).", no_args_is_help=True)
lot_app = typer.Typer(help="Lots: start, fill vials, recall, list.", no_args_is_help=True)
storage_app = typer.Typer(
    help="Storage units (LN2 tanks, freezers): create, map, temperature readings.",
    no_args_is_help=True,
)
vial_app = typer.Typer(help="Vials: store or move, QA's quarantine decision.", no_args_is_help=True)
order_app = typer.Typer(
    help="Orders: place, allocate, cancel, ship, receive, infuse, return, show, list.",
    no_args_is_help=True,
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _do(cmd: commands.Command) -> Any:
    return cli_context().handle(cmd)


def _say(text: str) -> None:
    cli_context().out.print(text, highlight=False)


def _signing() -> tuple[str, str]:
    return cli_context().signer()


def _read(view: Any) -> Any:
    """Run a read model as the acting user."""
    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors():
        viewer = application.user(cli.acting_user)
        with application.uow() as uow:
            return view(uow, viewer, application.clock())


# ------------------------------------------------------------------ donors


@donor_app.command("register")
def donor_register(
    donor_id: Annotated[str, typer.Argument(help="Pseudonymous id, e.g. DNR-0001.")],
    site: Annotated[str, typer.Option(help="The collection facility's site code.")],
    reference: Annotated[str, typer.Option(help="The site's own reference (its eyes only).")],
    consent_date: Annotated[str, typer.Option(help="Date consent was given (YYYY-MM-DD).")],
    no_consent: Annotated[bool, typer.Option(help="Consent was not given.")] = False,
) -> None:
    """Register a donor at the collection facility (QA or QC there)."""
    donor = _do(commands.RegisterDonor(donor_id, site, reference, not no_consent, consent_date))
    _say(f"donor {donor.id}: registered, screening pending")


@donor_app.command("screen")
def donor_screen(
    donor_id: Annotated[str, typer.Argument()],
    result: Annotated[
        list[str],
        typer.Option(
            help="TEST=RESULT, repeated: hiv_1, hiv_2, hbv, hcv and syphilis are required "
            "(21 CFR 1271.85), e.g. --result hiv_1=negative."
        ),
    ],
    questionnaire_failed: Annotated[bool, typer.Option(help="The questionnaire failed.")] = False,
) -> None:
    """QA reviews and signs the donor's screening; every required test negative and a
    passed questionnaire make the donor eligible, anything else ineligible."""
    results = {}
    for item in result:
        test, sep, value = item.partition("=")
        if not sep:
            cli_context().fail(f"--result {item!r}: write TEST=RESULT, e.g. hiv_1=negative")
        results[test] = value
    username, password = _signing()
    donor = _do(
        commands.ScreenDonor(donor_id, results, not questionnaire_failed, username, password)
    )
    why = "; ".join(donor.screening.get("reasons", [])) or "every required test negative"
    _say(f"donor {donor.id}: {donor.status.label.lower()} ({why})")


# ------------------------------------------------------------------ lots


@lot_app.command("start")
def lot_start(
    lot_id: Annotated[str, typer.Argument()],
    donor: Annotated[str, typer.Option(help="An eligible donor's id.")],
    product: Annotated[str, typer.Option(help="amimestrocel or vum02.")],
    site: Annotated[str, typer.Option(help="The manufacturing facility (issues the DIN).")],
    market: Annotated[str, typer.Option(help="Where it is released, e.g. CN.")] = "CN",
) -> None:
    """Start a lot: its DIN and its batch record on the process in force."""
    lot = _do(commands.StartLot(lot_id, donor, product, site, market))
    _say(f"lot {lot.id}: DIN {lot.din}, batch record {lot.batch_id} started")


@lot_app.command("fill")
def lot_fill(
    lot_id: Annotated[str, typer.Argument()],
    count: Annotated[int, typer.Option(help="How many vials.")],
    cells: Annotated[float, typer.Option(help="Cells per vial, e.g. 5e7.")],
    volume: Annotated[float, typer.Option(help="Volume per vial, mL.")],
    expires: Annotated[str, typer.Option(help="Expiry, ISO time with zone.")],
) -> None:
    """Fill vials of a released lot: each its own ISBT 128 division of the lot's DIN."""
    vials = _do(commands.FillVials(lot_id, count, cells, volume, expires))
    _say(f"lot {lot_id}: {len(vials)} vials filled ({vials[0].id} … {vials[-1].id})")


@lot_app.command("labels")
def lot_labels(
    lot_id: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option(help="Where to write the PDF.")],
) -> None:
    """Print every vial's label of a lot to a PDF (one 4 × 6 inch page per vial)."""
    from veinline.adapters.pdf_labels import render_labels
    from veinline.services import msc as msc_service

    labels = _read(lambda uow, viewer, now: msc_service.vial_labels(uow, lot_id, viewer))
    try:
        out.write_bytes(render_labels(labels))
    except OSError as exc:
        cli_context().fail(f"cannot write {out}: {exc.strerror}")
    _say(f"lot {lot_id}: {len(labels)} vial labels written to {out}")


@lot_app.command("recall")
def lot_recall(
    lot_id: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="Why (recorded and signed).")],
    as_json: Json = False,
) -> None:
    """QA recalls a lot (signed): every unused vial quarantined, the orders to notify."""
    username, password = _signing()
    result = _do(commands.RecallLot(lot_id, reason, username, password))
    if as_json:
        cli_context().print_json(result)
        return
    _say(f"lot {lot_id}: recalled, {len(result['quarantined'])} vials quarantined")
    _say(f"notify: {', '.join(result['recipients_to_notify']) or 'nobody received it'}")


@lot_app.command("list")
def lot_list(as_json: Json = False) -> None:
    """Lots, with their batch's release status."""
    from veinline.entrypoints.views import msc as views

    data = _read(lambda uow, viewer, now: views.inventory(uow, viewer, now=now)["lots"])
    if as_json:
        cli_context().print_json(data)
        return
    for lot in data:
        _say(f"{lot['id']}  {lot['product_code']}  {lot['batch_status_label']}  {lot['filled']}")


# ------------------------------------------------------------------ storage and vials


@storage_app.command("create")
def storage_create(
    unit_id: Annotated[str, typer.Argument()],
    site: Annotated[str, typer.Option(help="The depot's site code.")],
    kind: Annotated[str, typer.Option(help="ln2_tank or freezer.")] = "ln2_tank",
    racks: Annotated[int, typer.Option()] = 4,
    boxes: Annotated[int, typer.Option(help="Boxes per rack.")] = 8,
    rows: Annotated[int, typer.Option(help="Rows per box.")] = 9,
    columns: Annotated[int, typer.Option(help="Columns per box.")] = 9,
    max_c: Annotated[float, typer.Option(help="Alarm above this temperature (°C).")] = -150.0,
) -> None:
    """Set up a storage unit: racks of boxes, each box a grid of positions."""
    unit = _do(commands.CreateStorageUnit(unit_id, site, kind, racks, boxes, rows, columns, max_c))
    _say(f"storage unit {unit.id} at {unit.site}: {unit.capacity} positions")


@storage_app.command("map")
def storage_map(unit_id: Annotated[str, typer.Argument()], as_json: Json = False) -> None:
    """What is where in a unit, and what expires first."""
    from veinline.domain.errors import NotFound
    from veinline.entrypoints.views import msc as views
    from veinline.services import authority

    def view(uow: Any, viewer: Any, now: Any) -> Any:
        authority.require_read(viewer, authority.Read.INVENTORY)
        unit = uow.storage_units.get(unit_id)
        if unit is None:
            raise NotFound(f"there is no storage unit {unit_id}")
        return views.storage_map(uow, unit, now=now)

    data = _read(view)
    if as_json:
        cli_context().print_json(data)
        return
    _say(
        f"{data['id']} ({data['kind_label']}, {data['site']}): {data['occupied']}/"
        f"{data['capacity']} positions used"
    )
    for vial in data["expires_first"]:
        _say(f"  {vial['position']}  {vial['id']}  expires {vial['expires_at'][:10]}")


@storage_app.command("readings")
def storage_readings(
    unit_id: Annotated[str, typer.Argument()],
    file: Annotated[
        Path,
        typer.Argument(help='The unit logger\'s CSV (time, °C), or JSON [{"at": …, "c": …}].'),
    ],
    timezone: Annotated[str, typer.Option(help="Zone of times without an offset.")] = "UTC",
) -> None:
    """Import a unit's temperature readings; one above its limit quarantines its vials."""
    cli = cli_context()
    try:
        content = file.read_text(encoding="utf-8")
    except OSError as exc:
        cli.fail(f"cannot read readings {file}: {exc.strerror}")
    if file.suffix.lower() == ".json":
        try:
            cmd = commands.ImportUnitReadings(unit_id, readings=json.loads(content))
        except json.JSONDecodeError as exc:
            cli.fail(f"{file} is not JSON: {exc}")
    else:
        cmd = commands.ImportUnitReadings(unit_id, csv_text=content, timezone=timezone)
    result = _do(cmd)
    if result["alarm"]:
        _say(f"ALARM on {unit_id}: {len(result['quarantined'])} vials quarantined")
    else:
        _say(f"{unit_id}: readings within limit")


@vial_app.command("store")
def vial_store(
    vial_id: Annotated[str, typer.Argument()],
    unit: Annotated[str, typer.Option(help="The storage unit.")],
    position: Annotated[str, typer.Option(help="R1/B1/A1; empty: first free.")] = "",
) -> None:
    """Put a vial away (or move it): a custody event."""
    vial = _do(commands.StoreVial(vial_id, unit, position))
    _say(f"vial {vial.id}: at {vial.position}")


@vial_app.command("dispose")
def vial_dispose(
    vial_ids: Annotated[list[str], typer.Argument(help="Quarantined vials of one site.")],
    reason: Annotated[str, typer.Option(help="Why (recorded and signed).")],
    release: Annotated[bool, typer.Option("--release/--discard")] = False,
) -> None:
    """QA's signed decision on quarantined vials: back to stock, or discarded."""
    username, password = _signing()
    vials = _do(commands.DisposeVials(vial_ids, release, reason, username, password))
    _say(f"{len(vials)} vials {'released to stock' if release else 'discarded'}")


# ------------------------------------------------------------------ orders


@order_app.command("place")
def order_place(
    order_id: Annotated[str, typer.Argument()],
    product: Annotated[str, typer.Option()],
    jurisdiction: Annotated[str, typer.Option()],
    centre: Annotated[str, typer.Option(help="The treatment centre.")],
    patient: Annotated[str, typer.Option(help="The patient's name.")],
    wristband: Annotated[str, typer.Option(help="The wristband id.")],
    weight: Annotated[float, typer.Option(help="kg")],
    facts: Annotated[Path, typer.Option(help="JSON file of the patient's facts.")],
) -> None:
    """Order a product for a patient: eligibility and the course in whole vials."""
    cli = cli_context()
    try:
        patient_facts = json.loads(facts.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        cli.fail(f"cannot read facts {facts}: {exc}")
    order = _do(
        commands.PlaceOrder(
            order_id, product, jurisdiction, centre, patient, wristband, patient_facts, weight
        )
    )
    if order.course:
        _say(f"order {order.id}: {order.status.label.lower()}; {order.course['rounding']}")
    else:
        _say(f"order {order.id}: {order.status.label.lower()}")


def _order_done(order: Any) -> None:
    _say(f"order {order.id}: {order.status.label.lower()}")
    shipped = next((e for e in reversed(order.events) if e.get("shipment")), None)
    if shipped is not None and order.status.value in ("shipped", "received"):
        # The shipment's logger and QA's disposition: `veinline shipment log|dispose`.
        _say(f"  shipment {shipped['shipment']}")
    if order.shortage:
        _say(f"  {order.shortage['message']}")


@order_app.command("allocate")
def order_allocate(order_id: Annotated[str, typer.Argument()]) -> None:
    """Reserve the whole course (FEFO, soonest depot), or say what is short."""
    _order_done(_do(commands.AllocateOrder(order_id)))


@order_app.command("cancel")
def order_cancel(
    order_id: Annotated[str, typer.Argument()], reason: Annotated[str, typer.Option()]
) -> None:
    """Cancel an order; its reserved vials go back to stock."""
    _order_done(_do(commands.CancelOrder(order_id, reason)))


Scans = Annotated[
    list[str], typer.Option("--scan", help="Each vial's barcode (DIN and division), repeated.")
]


@order_app.command("ship")
def order_ship(order_id: Annotated[str, typer.Argument()], scan: Scans) -> None:
    """The courier takes the reserved vials out of storage."""
    _order_done(_do(commands.ShipOrder(order_id, scan)))


@order_app.command("receive")
def order_receive(
    order_id: Annotated[str, typer.Argument()],
    scan: Scans,
    logger: Annotated[
        Path | None, typer.Option(help="The shipper logger's CSV export (time, °C).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="Zone of the logger's times.")] = "UTC",
) -> None:
    """Receipt at the centre through the order's shipment: the logger file (given here,
    or imported before with `veinline shipment log`) is read first; an excursion, or no
    readings, blocks receipt until QA disposes of it by signature."""
    text = ""
    if logger is not None:
        try:
            text = logger.read_text(encoding="utf-8")
        except OSError as exc:
            cli_context().fail(f"cannot read logger file {logger}: {exc.strerror}")
    _order_done(
        _do(commands.ReceiveOrder(order_id, scans=scan, logger_csv=text, timezone=timezone))
    )


@order_app.command("infuse")
def order_infuse(
    order_id: Annotated[str, typer.Argument()],
    wristband: Annotated[str, typer.Option(help="The wristband scanned.")],
    vial: Annotated[str, typer.Option(help="The vial's barcode (DIN and division).")],
    thawed_at: Annotated[str, typer.Option()],
    started_at: Annotated[str, typer.Option()],
) -> None:
    """The bedside two-identifier check and one vial's infusion."""
    _order_done(_do(commands.InfuseVial(order_id, wristband, vial, thawed_at, started_at)))


@order_app.command("return")
def order_return(
    order_id: Annotated[str, typer.Argument()],
    vial: Annotated[str, typer.Option()],
    unit: Annotated[str, typer.Option()],
    position: Annotated[str, typer.Option()] = "",
) -> None:
    """An unused vial back to stock, if its cold-chain record allows it."""
    returned = _do(commands.ReturnVial(order_id, vial, unit, position))
    _say(f"vial {returned.id}: back in stock at {returned.position}")


@order_app.command("list")
def order_list(as_json: Json = False) -> None:
    """Orders of your sites (patients named only to their care team)."""
    from veinline.entrypoints.views import msc as views

    data = _read(lambda uow, viewer, now: views.orders(uow, viewer))
    if as_json:
        cli_context().print_json(data)
        return
    for order in data:
        _say(f"{order['id']}  {order['product_code']}  {order['status_label']}  {order['patient']}")


# ------------------------------------------------------------------ reads


def stock(as_json: Json = False) -> None:
    """Stock by product, lot, site and expiry."""
    from veinline.entrypoints.views import msc as views

    data = _read(lambda uow, viewer, now: views.inventory(uow, viewer, now=now))
    if as_json:
        cli_context().print_json(data)
        return
    for product, count in data["by_product"].items():
        _say(f"{product}: {count} vials available")
    for line in data["by_site"]:
        _say(f"  {line['site']}  {line['product']}  {line['count']}")
    _say(
        f"quarantined: {data['quarantined']}; expiring within 90 days: "
        f"{data['expiring_within_90_days']}"
    )


def forecast(
    as_json: Json = False,
    window_days: Annotated[int, typer.Option(help="Days of orders the rate is taken from.")] = 90,
) -> None:
    """When each depot runs short at the recent order rate (with a 90% interval)."""
    from veinline.entrypoints.views import msc as views

    data = _read(
        lambda uow, viewer, now: views.forecast(uow, viewer, now=now, window_days=window_days)
    )
    if as_json:
        cli_context().print_json(data)
        return
    for line in data:
        days = line["days_left"]
        low, high = line["days_left_90"]
        shown = "no recent orders" if days is None else f"{days} days (90%: {low}–{high})"
        _say(f"{line['depot']}  {line['product_code']}  stock {line['stock']}: {shown}")


def lookback(
    lot: Annotated[str | None, typer.Option(help="From a lot.")] = None,
    donor: Annotated[str | None, typer.Option(help="From a donor.")] = None,
    as_json: Json = False,
) -> None:
    """Every vial of a lot or donor, where it is, and every patient who received one."""
    from veinline.entrypoints.views import msc as views

    data = _read(lambda uow, viewer, now: views.lookback(uow, viewer, lot_id=lot, donor_id=donor))
    if as_json:
        cli_context().print_json(data)
        return
    for vial in data["vials"]:
        _say(f"{vial['vial_id']}  {vial['status']}  {vial['where']}  {vial['recipient'] or ''}")
    _say(f"recipients: {', '.join(data['recipients']) or 'none'}")


def register(app: typer.Typer) -> None:
    inventory_app.command("stock")(stock)
    inventory_app.command("forecast")(forecast)
    inventory_app.command("lookback")(lookback)
    inventory_app.add_typer(donor_app, name="donor")
    inventory_app.add_typer(lot_app, name="lot")
    inventory_app.add_typer(storage_app, name="storage")
    inventory_app.add_typer(vial_app, name="vial")
    inventory_app.add_typer(order_app, name="order")
    app.add_typer(inventory_app, name="inventory")
