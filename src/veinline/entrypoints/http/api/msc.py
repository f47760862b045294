"""API of allogeneic MSC under /api/v1/msc: donors, lots, vials, storage, orders,
allocation, shipping to infusion, look-back, recall, inventory and forecast
(docs/architecture.md, "Allogeneic MSC")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from veinline.domain.errors import NotFound
from veinline.entrypoints.http import idempotent
from veinline.entrypoints.http.deps import Actor, AppDep, IdempotencyKey
from veinline.entrypoints.http.errors import refusals
from veinline.entrypoints.views import msc as views
from veinline.services import authority, commands
from veinline.services import msc as msc_service
from veinline.services.authority import Read

router = APIRouter(prefix="/msc", tags=["msc"])
WRITE = refusals(401, 403, 404, 409, 413, 422)
READ = refusals(401, 403, 404, 422)


class SignatureIn(BaseModel):
    username: str = Field(description="The signer's user name, re-entered (11.200).")
    password: str


class DonorIn(BaseModel):
    donor_id: str = Field(description="A pseudonymous id, e.g. DNR-0001.")
    site: str = Field(description="The collection facility's site code.")
    site_reference: str = Field(description="The site's own reference (shown to it only).")
    consent_given: bool
    consent_date: str


class ScreeningIn(SignatureIn):
    results: dict[str, str] = Field(
        description="Test → result, e.g. {'hiv_1': 'negative', ...}; hiv_1, hiv_2, hbv, "
        "hcv and syphilis are required (21 CFR 1271.85)."
    )
    questionnaire_passed: bool


class LotIn(BaseModel):
    lot_id: str
    donor_id: str
    product_code: str
    site: str = Field(description="The manufacturing facility (its FIN issues the DIN).")
    market: str = Field(description="Where the lot is released: its specification's market.")


class FillIn(BaseModel):
    count: int
    cells_per_vial: float
    volume_ml: float
    expires_at: str = Field(description="ISO time with zone.")


class UnitIn(BaseModel):
    unit_id: str
    site: str
    kind: str = Field(description="ln2_tank or freezer")
    racks: int
    boxes_per_rack: int
    rows: int
    columns: int
    max_c: float = -150.0


class StoreIn(BaseModel):
    unit_id: str
    position: str = Field(default="", description="R<rack>/B<box>/<row><col>; empty: first free.")


class ReadingsIn(BaseModel):
    readings: list[dict[str, Any]] = Field(
        default_factory=list, description="[{'at': ISO time, 'c': °C}, ...]"
    )
    csv_text: str = Field(default="", description="Or the unit logger's CSV (time, °C).")
    timezone: str = "UTC"


class DisposeIn(SignatureIn):
    vial_ids: list[str]
    release: bool = Field(description="true: back to stock; false: discard")
    reason: str


class OrderIn(BaseModel):
    order_id: str
    product_code: str
    jurisdiction: str
    treatment_site: str
    patient_name: str
    wristband_id: str
    patient_facts: dict[str, Any]
    weight_kg: float
    cells_per_vial: float = 0.0


class CancelIn(BaseModel):
    reason: str


class ScansIn(BaseModel):
    scans: list[str] = Field(description="Every vial of the order scanned: DIN and division.")


class ReceiveIn(ScansIn):
    logger_csv: str = Field(
        default="",
        description=(
            "The shipper logger's CSV export (time, °C), imported into the order's shipment "
            "first; or import it before with POST /shipments/{shipment_id}/logger."
        ),
    )
    timezone: str = "UTC"


class InfuseIn(BaseModel):
    wristband_id: str
    vial_scan: str = Field(description="The vial's barcode: DIN and division.")
    thawed_at: str
    infusion_started_at: str


class ReturnIn(BaseModel):
    vial_id: str
    unit_id: str
    position: str = ""


class RecallIn(SignatureIn):
    reason: str


def _run(application: Any, actor: Any, cmd: commands.Command) -> Any:
    return application.bus.handle(cmd, actor=actor)


# ---------------------------------------------------------- donors and lots


@router.post("/donors", status_code=201, responses=WRITE)
def register_donor(body: DonorIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    donor = _run(application, actor, commands.RegisterDonor(**body.model_dump()))
    return views.donor_view(donor, actor)


@router.post("/donors/{donor_id}/screening", responses=WRITE)
def screen_donor(
    donor_id: str, body: ScreeningIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    donor = _run(
        application,
        actor,
        commands.ScreenDonor(
            donor_id, body.results, body.questionnaire_passed, body.username, body.password
        ),
    )
    return views.donor_view(donor, actor)


@router.get("/donors", responses=READ)
def list_donors(actor: Actor, application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        authority.require_read(actor, Read.INVENTORY)
        return [views.donor_view(d, actor) for d in uow.msc_donors.list()]


@router.post("/lots", status_code=201, responses=WRITE)
def start_lot(body: LotIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    lot = _run(application, actor, commands.StartLot(**body.model_dump()))
    return dict(lot.snapshot())


@router.get("/lots", responses=READ)
def list_lots(actor: Actor, application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        authority.require_read(actor, Read.INVENTORY)
        return [views.lot_view(uow, lot) for lot in uow.msc_lots.list()]


@router.post("/lots/{lot_id}/vials", status_code=201, responses=WRITE)
def fill_vials(lot_id: str, body: FillIn, actor: Actor, application: AppDep) -> list[Any]:
    vials = _run(application, actor, commands.FillVials(lot_id, **body.model_dump()))
    return [views.vial_view(v) for v in vials]


@router.get(
    "/lots/{lot_id}/labels.pdf",
    responses={**READ, 200: {"content": {"application/pdf": {}}}},
    response_class=Response,
)
def lot_labels(lot_id: str, actor: Actor, application: AppDep) -> Response:
    """Every vial's label (4 × 6 inch pages): the lot's DIN, each vial's division."""
    from veinline.adapters.pdf_labels import render_labels

    with application.uow() as uow:
        labels = msc_service.vial_labels(uow, lot_id, actor)
    return Response(render_labels(labels), media_type="application/pdf")


@router.post("/lots/{lot_id}/recall", responses=WRITE)
def recall_lot(lot_id: str, body: RecallIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    """QA's signed recall: every unused vial quarantined; the orders to notify."""
    result: dict[str, Any] = _run(
        application,
        actor,
        commands.RecallLot(lot_id, body.reason, body.username, body.password),
    )
    return result


@router.get("/lookback", responses=READ)
def lookback(
    actor: Actor, application: AppDep, lot: str | None = None, donor: str | None = None
) -> dict[str, Any]:
    """From a lot or a donor: every vial, where it is, every patient who received one."""
    with application.uow() as uow:
        return views.lookback(uow, actor, lot_id=lot, donor_id=donor)


# ---------------------------------------------------------- vials and storage


@router.get("/vials/{vial_id}", responses=READ)
def get_vial(vial_id: str, actor: Actor, application: AppDep) -> dict[str, Any]:
    with application.uow() as uow:
        authority.require_read(actor, Read.INVENTORY)
        vial = uow.msc_vials.get(vial_id)
        if vial is None:
            raise NotFound(f"there is no vial {vial_id}")
        return views.vial_view(vial)


@router.post("/vials/{vial_id}/store", responses=WRITE)
def store_vial(vial_id: str, body: StoreIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    vial = _run(application, actor, commands.StoreVial(vial_id, body.unit_id, body.position))
    return views.vial_view(vial)


@router.post("/vials/dispose", responses=WRITE)
def dispose_vials(body: DisposeIn, actor: Actor, application: AppDep) -> list[Any]:
    vials = _run(
        application,
        actor,
        commands.DisposeVials(
            body.vial_ids, body.release, body.reason, body.username, body.password
        ),
    )
    return [views.vial_view(v) for v in vials]


@router.post("/storage", status_code=201, responses=WRITE)
def create_unit(body: UnitIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    unit = _run(application, actor, commands.CreateStorageUnit(**body.model_dump()))
    return dict(unit.snapshot())


@router.get("/storage/{unit_id}", responses=READ)
def storage_map(unit_id: str, actor: Actor, application: AppDep) -> dict[str, Any]:
    with application.uow() as uow:
        authority.require_read(actor, Read.INVENTORY)
        unit = uow.storage_units.get(unit_id)
        if unit is None:
            raise NotFound(f"there is no storage unit {unit_id}")
        return views.storage_map(uow, unit, now=application.clock())


@router.post("/storage/{unit_id}/readings", responses=WRITE)
def unit_readings(
    unit_id: str, body: ReadingsIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    """Temperature readings; one above the limit quarantines what the unit holds."""
    result: dict[str, Any] = _run(
        application,
        actor,
        commands.ImportUnitReadings(unit_id, body.readings, body.csv_text, body.timezone),
    )
    return result


@router.get("/inventory", responses=READ)
def inventory(actor: Actor, application: AppDep) -> dict[str, Any]:
    """Stock by product, lot, site and expiry (no patient data)."""
    with application.uow() as uow:
        return views.inventory(uow, actor, now=application.clock())


@router.get("/forecast", responses=READ)
def forecast(actor: Actor, application: AppDep, window_days: int = 90) -> list[dict[str, Any]]:
    """When each depot runs short at the recent order rate, with a 90% interval."""
    with application.uow() as uow:
        return views.forecast(uow, actor, now=application.clock(), window_days=window_days)


# ---------------------------------------------------------- orders


@router.post("/orders", status_code=201, responses=WRITE)
def place_order(
    body: OrderIn, request: Request, actor: Actor, application: AppDep, key: IdempotencyKey = None
) -> Any:
    """A physician's order; an ineligible patient's order is kept with status 'refused'."""
    return idempotent.run(
        request,
        application,
        actor,
        key,
        commands.PlaceOrder(**body.model_dump()),
        body=body.model_dump(),
        render=lambda order: views.order_view(order, actor),
        status=201,
    )


@router.get("/orders", responses=READ)
def list_orders(actor: Actor, application: AppDep) -> list[dict[str, Any]]:
    with application.uow() as uow:
        return views.orders(uow, actor)


@router.get("/orders/{order_id}", responses=READ)
def get_order(order_id: str, actor: Actor, application: AppDep) -> dict[str, Any]:
    with application.uow() as uow:
        return views.order_view(views.readable_order(uow, order_id, actor), actor, uow)


def _order_step(application: Any, actor: Any, cmd: commands.Command) -> dict[str, Any]:
    order = _run(application, actor, cmd)
    with application.uow() as uow:
        return views.order_view(order, actor, uow)


@router.post("/orders/{order_id}/allocate", responses=WRITE)
def allocate(order_id: str, actor: Actor, application: AppDep) -> dict[str, Any]:
    """Reserve the whole course FEFO from the soonest depot, or say what is short."""
    return _order_step(application, actor, commands.AllocateOrder(order_id))


@router.post("/orders/{order_id}/cancel", responses=WRITE)
def cancel(order_id: str, body: CancelIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    return _order_step(application, actor, commands.CancelOrder(order_id, body.reason))


@router.post("/orders/{order_id}/ship", responses=WRITE)
def ship(order_id: str, body: ScansIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    """The courier's pickup: every vial of the order scanned, none other."""
    return _order_step(application, actor, commands.ShipOrder(order_id, body.scans))


@router.post("/orders/{order_id}/receive", responses=WRITE)
def receive(order_id: str, body: ReceiveIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    return _order_step(
        application,
        actor,
        commands.ReceiveOrder(
            order_id,
            scans=body.scans,
            logger_csv=body.logger_csv,
            timezone=body.timezone,
        ),
    )


@router.post("/orders/{order_id}/infuse", responses=WRITE)
def infuse(order_id: str, body: InfuseIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    """The bedside two-identifier check and one vial's infusion."""
    return _order_step(application, actor, commands.InfuseVial(order_id, **body.model_dump()))


@router.post("/orders/{order_id}/return", responses=WRITE)
def return_vial(order_id: str, body: ReturnIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    vial = _run(
        application,
        actor,
        commands.ReturnVial(order_id, body.vial_id, body.unit_id, body.position),
    )
    return views.vial_view(vial)
