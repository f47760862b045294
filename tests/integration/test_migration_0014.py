"""Migration 0014 on SQLite and PostgreSQL: an MSC order shipped and received before
shipments carried vials (its hand-offs kept only in its own events) gets its shipment,
ledgered, so `ledger verify` still passes and the course goes on through the shipment."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import FixedClock
from veinline.adapters.seed.cases import Driver
from veinline.adapters.seed.msc import MscDriver
from veinline.bootstrap import App
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.msc import OrderStatus, VialStatus
from veinline.domain.shipment import ShipmentStatus
from veinline.services import ledger

MIGRATION: Any = importlib.import_module("veinline.adapters.migrations.versions.0014_msc_shipments")


def _as_under_0013(app: App, order_id: str, *, excursion: bool) -> None:
    """What revision 0013's ship and receive handlers left: the order's own events, the
    vials received at the centre, each change ledgered; no shipment, no custody event."""
    courier, nurse = app.user("courier"), app.user("nurse")
    now = app.clock()
    with app.uow() as uow:
        order = uow.msc_orders.get(order_id)
        assert order is not None
        before = order.snapshot()
        for vial in uow.msc_vials.of_order(order.id):
            was = vial.snapshot()
            vial.take_out(by=courier, at=now, why=f"shipped for order {order.id}")
            vial.status, vial.site = VialStatus.RECEIVED, order.treatment_site
            uow.record(vial, actor=nurse, action=LedgerAction.MSC_VIAL_RECEIVED, before=was)
        order.status = OrderStatus.RECEIVED
        order.note("shipped", courier, now - timedelta(hours=5), depot=order.depot)
        cold = {"source": "reported maximum", "max_c": -120.0 if excursion else -180.0}
        order.note("received", nurse, now, cold_chain={**cold, "excursion": excursion})
        uow.record(order, actor=nurse, action=LedgerAction.MSC_ORDER_RECEIVED, before=before)
        uow.commit()


@pytest.mark.parametrize("excursion", [False, True])
def test_an_order_shipped_before_0014_gets_its_shipment_and_the_ledger_verifies(
    demo_app: App, clock: FixedClock, excursion: bool
) -> None:
    msc = MscDriver(Driver(demo_app.bus, demo_app.user, clock))
    msc.unit("SH-TANK-1", "demo-sh-depot")
    msc.donor("DNR-M")
    lot = msc.lot("LOT-M", "DNR-M", "vum02")
    msc.fill(lot, 8, store_at="SH-TANK-1")
    order = msc.advance(msc.order("ORD-M", "vum02", age=40), OrderStatus.ALLOCATED)
    assert order.status is OrderStatus.ALLOCATED
    _as_under_0013(demo_app, order.id, excursion=excursion)
    with demo_app.engine.begin() as conn:
        assert MIGRATION.map_order_shipments(conn, now=clock()) == 1
    with demo_app.engine.begin() as conn:
        assert MIGRATION.map_order_shipments(conn, now=clock()) == 0  # once only
    with demo_app.uow() as uow:
        [shipment] = uow.shipments.find(order_id=order.id)
        [entry] = uow.ledger.for_entity(shipment.id)
    assert shipment.status is ShipmentStatus.RECEIVED and shipment.from_site == order.depot
    assert shipment.carried is not None and shipment.carried["max_c"] in (-120.0, -180.0)
    assert entry.action == "shipment.created" and entry.actor == "system"
    assert ledger.verify(demo_app.uow()).ok
    if excursion:
        # The excursion the old receipt only noted is now QA's to decide, by signature.
        assert shipment.blocked and shipment.question == "excursions"
        return
    with demo_app.uow() as uow:
        received = uow.msc_orders.get(order.id)
    assert received is not None and received.status is OrderStatus.RECEIVED
    done = msc.advance(received, OrderStatus.COMPLETED)
    assert done.status is OrderStatus.COMPLETED
    with demo_app.uow() as uow:
        points = {e.point.value for e in uow.custody_events.find(order_id=order.id)}
    assert points == {"bedside"}
    assert ledger.verify(demo_app.uow()).ok
