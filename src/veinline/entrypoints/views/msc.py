"""Read models of allogeneic MSC: donors, lots, vials, storage maps, orders, inventory,
look-back and forecast, as a viewer may see them (docs/architecture.md, "Allogeneic MSC").

Orders name their patient: only the care team at the order's treatment centre sees the
name, wristband and facts; everyone else sees the order's identifiers. A donor's own
reference at the collection site is shown to that site's staff only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from veinline.domain.errors import NotFound
from veinline.domain.ledger import snapshot_time
from veinline.domain.msc import Donor, Lot, Order, OrderStatus, StorageUnit, Vial
from veinline.domain.shipment import Shipment
from veinline.domain.user import User
from veinline.entrypoints.views.cases import REDACTED
from veinline.services import authority, commands, places
from veinline.services import msc as msc_service
from veinline.services.authority import DataClass, Read
from veinline.services.unit_of_work import AbstractUnitOfWork


def shipment_view(shipment: Shipment) -> dict[str, Any]:
    """The order's shipment as its custody and cold chain stand: what QA must decide
    (`question`), and whether receipt (and infusion) wait on it (`blocked`)."""
    return {
        "id": shipment.id,
        "status": shipment.status.value,
        "from_site": shipment.from_site,
        "to_site": shipment.to_site,
        "limit": shipment.limits.label,
        "dispatched_at": snapshot_time(shipment.dispatched_at),
        "received_at": snapshot_time(shipment.received_at),
        "readings": len(shipment.readings),
        "excursions": [dict(e) for e in shipment.excursions],
        "gaps": len(shipment.gaps),
        "carried": dict(shipment.carried) if shipment.carried else None,
        "question": shipment.question,
        "disposition": dict(shipment.disposition) if shipment.disposition else None,
        "blocked": shipment.blocked,
        "restock": shipment.may_restock() or "allowed",
    }


def order_view(order: Order, viewer: User, uow: AbstractUnitOfWork | None = None) -> dict[str, Any]:
    """An order as `viewer` may see it; with `uow`, its shipment and custody events."""
    data = order.snapshot()
    data["shipment"] = None
    data["custody"] = []
    if uow is not None:
        shipments = sorted(uow.shipments.find(order_id=order.id), key=lambda s: s.created_at)
        data["shipment"] = shipment_view(shipments[-1]) if shipments else None
        data["custody"] = [
            {
                "id": e.id,
                "point": e.point.value,
                "label": e.point.label,
                "by": e.actor,
                "site": e.site_code,
                "at": snapshot_time(e.at),
                "shipment": e.shipment_id,
                "vials": list(e.identifiers.get("vials", [])),
            }
            for e in sorted(uow.custody_events.find(order_id=order.id), key=lambda e: e.id)
        ]
    data["status_label"] = order.status.label
    data["status_colour"] = order.status.colour
    full = authority.sees(viewer, Read.ORDER, places.of_order(order)) is DataClass.FULL
    data["patient"] = f"{order.patient_name} ({order.wristband_id})" if full else order.id
    if not full:
        data["patient_name"] = REDACTED
        data["wristband_id"] = REDACTED
        data["patient_facts"] = {}
        data["eligibility"] = {"eligible": order.eligibility.get("eligible")}
    return data


def _awaiting(order: Order, viewer: User) -> bool:
    """An order waiting for vials is QA's to allocate from any depot: QA sees it (its
    identifiers only) before a depot is bound to it."""
    return order.status in (OrderStatus.PLACED, OrderStatus.SHORT) and authority.may(
        viewer, commands.AllocateOrder
    )


def readable_order(uow: AbstractUnitOfWork, order_id: str, viewer: User) -> Order:
    order = uow.msc_orders.get(order_id)
    if order is None:
        raise NotFound(f"there is no order {order_id}")
    if not _awaiting(order, viewer):
        authority.require_read(viewer, Read.ORDER, places.of_order(order))
    return order


def orders(uow: AbstractUnitOfWork, viewer: User) -> list[dict[str, Any]]:
    """The orders of the viewer's sites, newest first."""
    authority.require_read(viewer, Read.ORDER)
    shown = [
        order_view(o, viewer)
        for o in uow.msc_orders.list()
        if authority.visible(viewer, Read.ORDER, places.of_order(o)) or _awaiting(o, viewer)
    ]
    return sorted(shown, key=lambda o: (o["placed_at"], o["id"]), reverse=True)


def donor_view(donor: Donor, viewer: User) -> dict[str, Any]:
    data = donor.snapshot()
    data["status_label"] = donor.status.label
    if donor.site not in _sites(viewer):
        data["site_reference"] = REDACTED
    return data


def _sites(viewer: User) -> set[str]:
    found = {m.site_code for m in viewer.memberships}
    if viewer.site_code:
        found.add(viewer.site_code)
    return found


def lot_view(uow: AbstractUnitOfWork, lot: Lot) -> dict[str, Any]:
    data = lot.snapshot()
    batch = uow.batches.get(lot.batch_id)
    data["batch_status"] = batch.status.value if batch else None
    data["batch_status_label"] = batch.status.label if batch else "unknown"
    return data


def vial_view(vial: Vial) -> dict[str, Any]:
    data = vial.snapshot()
    data["status_label"] = vial.status.label
    data["barcode"] = f"={vial.barcode}"
    return data


def storage_map(uow: AbstractUnitOfWork, unit: StorageUnit, *, now: datetime) -> dict[str, Any]:
    """A unit's boxes, each a grid of positions with the vial in each, and what in the
    unit expires first."""
    held = {v.position: v for v in uow.msc_vials.in_unit(unit.id)}
    boxes: list[dict[str, Any]] = []
    for rack in range(1, unit.racks + 1):
        for box in range(1, unit.boxes_per_rack + 1):
            grid = []
            for row in "ABCDEFGHIJKLMNOP"[: unit.rows]:
                cells = []
                for column in range(1, unit.columns + 1):
                    address = f"{unit.id}/R{rack}/B{box}/{row}{column}"
                    vial = held.get(address)
                    cells.append(
                        {
                            "position": address,
                            "vial": vial.id if vial else None,
                            "lot": vial.lot_id if vial else None,
                            "status": vial.status.value if vial else None,
                            "held": bool(vial and vial.quarantine),
                            "expires": vial.expires_at.date().isoformat() if vial else None,
                        }
                    )
                grid.append(cells)
            boxes.append({"rack": rack, "box": box, "grid": grid})
    first = sorted(held.values(), key=lambda v: v.expires_at)[:10]
    return {
        **unit.snapshot(),
        "kind_label": unit.kind.label,
        "capacity": unit.capacity,
        "occupied": len(held),
        "boxes": boxes,
        "expires_first": [vial_view(v) for v in first],
    }


def inventory(uow: AbstractUnitOfWork, viewer: User, *, now: datetime) -> dict[str, Any]:
    authority.require_read(viewer, Read.INVENTORY)
    data = msc_service.inventory(uow, now=now)
    data["units"] = [
        {**u.snapshot(), "kind_label": u.kind.label, "capacity": u.capacity}
        for u in uow.storage_units.list()
    ]
    data["lots"] = [lot_view(uow, lot) for lot in uow.msc_lots.list()]
    return data


def forecast(
    uow: AbstractUnitOfWork, viewer: User, *, now: datetime, window_days: int = 90
) -> list[dict[str, Any]]:
    authority.require_read(viewer, Read.INVENTORY)
    return [f.to_dict() for f in msc_service.forecast(uow, now=now, window_days=window_days)]


def lookback(
    uow: AbstractUnitOfWork, viewer: User, *, lot_id: str | None, donor_id: str | None
) -> dict[str, Any]:
    authority.require_read(viewer, Read.INVENTORY)
    return msc_service.lookback(uow, viewer, lot_id=lot_id, donor_id=donor_id).to_dict()
