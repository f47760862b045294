"""Allogeneic MSC through the message bus, on SQLite and PostgreSQL: donor to released
vials in storage to a course infused; allocation never hands out expired, quarantined,
recalled or unreleased vials; the database keeps one position and one order per vial;
two orders racing for the last vials never both get them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import FixedClock
from veinline.adapters.seed.cases import DEMO_PASSWORD, Driver
from veinline.adapters.seed.msc import MscDriver, load_demo_msc
from veinline.bootstrap import App
from veinline.domain.custody import IdentityMismatch
from veinline.domain.errors import Conflict, NotAllowed
from veinline.domain.msc import OrderStatus, VialStatus, recipients
from veinline.services import commands, ledger
from veinline.services import msc as msc_service


@pytest.fixture
def driver(demo_app: App, clock: FixedClock) -> MscDriver:
    msc = MscDriver(Driver(demo_app.bus, demo_app.user, clock))
    msc.unit("SH-TANK-1", "demo-sh-depot")
    msc.unit("SZ-TANK-1", "demo-suzhou-manufacturing")
    return msc


def _vials(app: App, order_id: str) -> list[str]:
    with app.uow() as uow:
        return sorted(v.id for v in uow.msc_vials.of_order(order_id))


def test_a_lot_goes_from_donor_to_a_course_infused_and_the_ledger_verifies(
    demo_app: App, driver: MscDriver
) -> None:
    driver.donor("DNR-T1")
    lot = driver.lot("LOT-T1", "DNR-T1", "amimestrocel")
    vials = driver.fill(lot, 10, store_at="SH-TANK-1")
    assert [v.division for v in vials[:3]] == ["A0", "A1", "A2"]
    assert len({v.din for v in vials}) == 1 and vials[0].din == lot.din
    order = driver.order("ORD-T1", "amimestrocel", age=14, weight=45)
    assert order.status is OrderStatus.PLACED
    assert order.course["vials"] == 8 and "rounded up" in order.course["rounding"]
    assert "cells_per_kg and infusions are unconfirmed" in order.course["rounding"]
    order = driver.advance(order, OrderStatus.ALLOCATED)
    assert order.depot == "demo-sh-depot" and len(order.vial_ids) == 8
    order = driver.advance(order, OrderStatus.RECEIVED)
    # The bedside check: a wrong wristband or a vial of another order stops it.
    first = _vials(demo_app, order.id)[0]
    now = demo_app.clock()
    with demo_app.uow() as uow:
        v = uow.msc_vials.get(first)
        assert v is not None
        scan = v.barcode
    with pytest.raises(IdentityMismatch, match="wristband"):
        driver.do(
            commands.InfuseVial(order.id, "WB-OTHER", scan, now.isoformat(), now.isoformat()),
            "physician",
        )
    with demo_app.uow() as uow:
        kept = [e for e in uow.ledger.for_entity(order.id) if "identity" in e.action]
    assert len(kept) == 1 and "wristband" in kept[0].reason  # the refusal is kept
    late = (now - timedelta(minutes=90)).isoformat()
    with pytest.raises(NotAllowed, match="post-thaw"):
        driver.do(
            commands.InfuseVial(order.id, order.wristband_id, scan, late, now.isoformat()),
            "physician",
        )
    order = driver.advance(order, OrderStatus.COMPLETED)
    physician, qa = demo_app.user("physician"), demo_app.user("qa")
    with demo_app.uow() as uow:
        assert all(v.status is VialStatus.INFUSED for v in uow.msc_vials.of_order(order.id))
        trace = msc_service.lookback(uow, physician, lot_id=lot.id)
        masked = msc_service.lookback(uow, qa, donor_id="DNR-T1")
    assert trace.recipients == ["Demo MSC Patient T1 (WB-M0001)"]
    assert masked.recipients == ["ORD-T1"]  # QA sees the order, not the patient
    assert len(trace.vials) == 10
    report = ledger.verify(demo_app.uow())
    assert report.ok, report


def test_an_ineligible_donor_never_starts_a_lot(demo_app: App, driver: MscDriver) -> None:
    driver.donor("DNR-BAD", eligible=False)
    driver.prepare("vum02")
    with pytest.raises(NotAllowed, match="ineligible"):
        driver.do(
            commands.StartLot("LOT-BAD", "DNR-BAD", "vum02", "demo-suzhou-manufacturing", "CN"),
            "operator.suzhou",
        )


def test_a_patient_aged_13_is_refused_and_the_refusal_is_kept(
    demo_app: App, driver: MscDriver
) -> None:
    order = driver.order("ORD-13", "amimestrocel", age=13)
    assert order.status is OrderStatus.REFUSED
    with demo_app.uow() as uow:
        [entry] = uow.ledger.for_entity("ORD-13")
    assert entry.action == "msc_order.refused" and "age" in entry.reason
    with pytest.raises(NotAllowed, match="refused"):
        driver.do(commands.AllocateOrder("ORD-13"), "qa")


def test_unreleased_expired_quarantined_and_recalled_vials_are_never_allocated(
    demo_app: App, driver: MscDriver, clock: FixedClock
) -> None:
    for donor in ("DNR-A", "DNR-B", "DNR-C", "DNR-D"):
        driver.donor(donor)
    # Not released: vials cannot even be filled.
    unreleased = driver.lot("LOT-U", "DNR-A", "vum02", release=False)
    with pytest.raises(NotAllowed, match="released lot only"):
        driver.fill(unreleased, 6)
    expiring = driver.lot("LOT-E", "DNR-B", "vum02")
    driver.fill(expiring, 6, days=1, store_at="SH-TANK-1")
    alarmed = driver.lot("LOT-Q", "DNR-C", "vum02")
    driver.fill(alarmed, 6, store_at="SZ-TANK-1")
    recalled = driver.lot("LOT-R", "DNR-D", "vum02")
    driver.fill(recalled, 6, store_at="SH-TANK-1")
    driver.do(
        commands.RecallLot("LOT-R", "endotoxin out of trend after release", "qa", DEMO_PASSWORD),
        "qa",
    )
    calm = f"time,temperature\n{clock().isoformat()},-190.5\n"
    quiet = driver.do(commands.ImportUnitReadings("SZ-TANK-1", csv_text=calm), "operator")
    assert quiet["alarm"] is None and quiet["quarantined"] == []
    reading = [{"at": clock().isoformat(), "c": -120.0}]
    result = driver.do(commands.ImportUnitReadings("SZ-TANK-1", reading), "operator")
    assert len(result["quarantined"]) == 6
    clock.advance(hours=23)  # LOT-E expires before any order could arrive
    order = driver.advance(driver.order("ORD-X", "vum02", age=50), OrderStatus.ALLOCATED)
    assert order.status is OrderStatus.SHORT
    assert order.shortage is not None and order.shortage["short"] == 6
    # QA releases the alarmed tank's vials by signature: now they are allocated.
    with demo_app.uow() as uow:
        held = [v.id for v in uow.msc_vials.in_unit("SZ-TANK-1")]
    driver.do(
        commands.DisposeVials(held, True, "tank alarm was a probe fault", "qa", DEMO_PASSWORD),
        "qa",
    )
    order = driver.advance(order, OrderStatus.ALLOCATED)
    assert order.status is OrderStatus.ALLOCATED
    assert {v.split("-0")[0] for v in order.vial_ids} == {"LOT-Q"}


def test_a_cancelled_order_returns_its_vials_and_a_shipped_vial_returns_only_if_cold(
    demo_app: App, driver: MscDriver, clock: FixedClock
) -> None:
    driver.donor("DNR-Z")
    lot = driver.lot("LOT-Z", "DNR-Z", "vum02")
    driver.fill(lot, 12, store_at="SH-TANK-1")
    first = driver.advance(driver.order("ORD-C", "vum02", age=40), OrderStatus.ALLOCATED)
    driver.do(commands.CancelOrder(first.id, "patient transferred elsewhere"), "physician")
    assert _vials(demo_app, first.id) == []
    again = driver.advance(driver.order("ORD-D", "vum02", age=40), OrderStatus.RECEIVED)
    assert sorted(again.vial_ids) == sorted(first.vial_ids)  # the same, first-expiry vials
    vial = again.vial_ids[0]
    back = driver.do(commands.ReturnVial(again.id, vial, "SH-TANK-1"), "operator")
    assert back.status is VialStatus.STORED and back.order_id is None
    warm = driver.advance(driver.order("ORD-W", "vum02", age=40), OrderStatus.SHIPPED)
    log = driver.logger(warm, celsius=(-185.0, -184.0, -140.0, -183.0))
    # The excursion blocks receipt (the logger import is kept) until QA disposes of it.
    with pytest.raises(NotAllowed, match="waits for QA's disposition"):
        driver.do(commands.ReceiveOrder(warm.id, scans=driver.scans(warm), logger_csv=log), "nurse")
    with demo_app.uow() as uow:
        shipment = msc_service.order_shipment(uow, warm)
    assert len(shipment.readings) == 4 and shipment.blocked
    assert shipment.excursions[0]["extreme_c"] == -140.0
    driver.do(
        commands.DisposeExcursion(
            shipment.id,
            "accept",
            "10 min at -140 °C, within the stability data",
            "qa",
            DEMO_PASSWORD,
        ),
        "qa",
    )
    received = driver.do(commands.ReceiveOrder(warm.id, scans=driver.scans(warm)), "nurse")
    assert received.status is OrderStatus.RECEIVED
    # Accepted for this patient, never restocked for another.
    with pytest.raises(NotAllowed, match="excursion"):
        driver.do(commands.ReturnVial(warm.id, warm.vial_ids[0], "SH-TANK-1"), "operator")


def test_vials_travel_in_the_orders_shipment_with_a_custody_event_at_each_hand_off(
    demo_app: App, driver: MscDriver
) -> None:
    driver.donor("DNR-S")
    lot = driver.lot("LOT-S", "DNR-S", "vum02")
    driver.fill(lot, 6, store_at="SH-TANK-1")
    order = driver.advance(driver.order("ORD-S", "vum02", age=40), OrderStatus.ALLOCATED)
    # A vial of another lot at pickup is refused and kept, and nothing leaves.
    with pytest.raises(IdentityMismatch, match="not this order's"):
        driver.do(
            commands.ShipOrder(order.id, [*driver.scans(order), "=A999926000099A0"]), "courier"
        )
    with demo_app.uow() as uow:
        assert uow.shipments.find(order_id=order.id) == []
    order = driver.advance(order, OrderStatus.SHIPPED)
    # No logger readings: a cryopreserved shipment's receipt waits, as a CAR-T product's.
    with pytest.raises(NotAllowed, match="no logger readings"):
        driver.do(commands.ReceiveOrder(order.id, scans=driver.scans(order)), "nurse")
    order = driver.advance(order, OrderStatus.COMPLETED)
    with demo_app.uow() as uow:
        [shipment] = uow.shipments.find(order_id=order.id)
        events = sorted(uow.custody_events.find(order_id=order.id), key=lambda e: e.id)
        barcodes = sorted(v.barcode for v in uow.msc_vials.of_order(order.id))
    assert shipment.case_id is None and shipment.from_site == "demo-sh-depot"
    assert shipment.status.value == "received" and shipment.readings
    points = [e.point.value for e in events]
    assert points[:2] == ["product_pickup", "site_receipt"]
    assert points[2:] == ["bedside"] * (len(order.vial_ids))
    assert all(e.shipment_id == shipment.id and e.case_id is None for e in events)
    assert events[0].identifiers["vials"] == barcodes and barcodes[0].startswith(lot.din)
    assert ledger.verify(demo_app.uow()).ok


def test_the_database_keeps_one_position_and_one_order_per_vial(
    demo_app: App, driver: MscDriver
) -> None:
    driver.donor("DNR-P")
    lot = driver.lot("LOT-P", "DNR-P", "vum02")
    driver.fill(lot, 2, store_at="SH-TANK-1")
    with demo_app.uow() as uow:
        a, b = uow.msc_vials.of_lots([lot.id])
    with pytest.raises(Conflict, match="holds another vial"):
        driver.do(commands.StoreVial(b.id, "SH-TANK-1", str(a.position)), "operator")
    with demo_app.engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(
            text("UPDATE msc_vials SET position = :p WHERE id = :b"),
            {"p": a.position, "b": b.id},
        )


@pytest.mark.parametrize("racers", [4])
def test_orders_racing_for_the_last_vials_never_both_get_them(
    demo_app: App, driver: MscDriver, racers: int
) -> None:
    driver.donor("DNR-RACE")
    lot = driver.lot("LOT-RACE", "DNR-RACE", "vum02")
    driver.fill(lot, 8, store_at="SH-TANK-1")  # a course is 6: only one order fits
    orders = [driver.order(f"ORD-R{i}", "vum02", age=40) for i in range(racers)]
    barrier = threading.Barrier(racers)
    qa = demo_app.user("qa")

    def allocate(i: int) -> object:
        barrier.wait()
        try:
            return demo_app.bus.handle(commands.AllocateOrder(orders[i].id), actor=qa)
        except Exception as exc:  # the outcome is what the test inspects
            return exc

    with ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = list(pool.map(allocate, range(racers)))
    with demo_app.uow() as uow:
        stored = {o.id: o for o in uow.msc_orders.list() if o.id.startswith("ORD-R")}
        reserved = [v for v in uow.msc_vials.of_lots(["LOT-RACE"]) if v.order_id]
    allocated = [o for o in stored.values() if o.status is OrderStatus.ALLOCATED]
    assert len(allocated) == 1, outcomes
    assert len(reserved) == 6 and {v.order_id for v in reserved} == {allocated[0].id}
    for outcome in outcomes:  # the others are short, or refused as a conflict
        assert not isinstance(outcome, Exception) or isinstance(outcome, Conflict), outcome
    report = ledger.verify(demo_app.uow())
    assert report.ok, report


def test_the_demo_msc_data_loads_with_orders_in_every_state(
    demo_app: App, clock: FixedClock
) -> None:
    assert load_demo_msc(Driver(demo_app.bus, demo_app.user, clock)) is True
    qa = demo_app.user("qa")
    with demo_app.uow() as uow:
        states = {o.id: o.status for o in uow.msc_orders.list()}
        trace = msc_service.lookback(uow, qa, lot_id="MSC-VUM-02")
        recalled = uow.msc_vials.of_lots(["MSC-VUM-02"])
    assert states["MSC-ORD-01"] is OrderStatus.COMPLETED
    assert states["MSC-ORD-02"] is OrderStatus.REFUSED
    assert set(states.values()) == set(OrderStatus)
    assert trace.recipients == []  # nobody received the recalled lot yet ...
    assert recipients(recalled) == ["MSC-ORD-05"]  # ... but one centre holds its vials
    assert all(v.quarantined for v in recalled)
    assert ledger.verify(demo_app.uow()).ok


def test_concurrent_allocate_requests_over_http_never_share_the_last_vials(
    demo_app: App, driver: MscDriver
) -> None:
    """Six API clients allocate six orders at once, with stock for two courses: two are
    allocated, the rest are short (or refused as a conflict), no vial is in two orders."""
    from fastapi.testclient import TestClient

    from veinline.entrypoints.http.app import create_app

    driver.donor("DNR-HTTP")
    lot = driver.lot("LOT-HTTP", "DNR-HTTP", "vum02")
    driver.fill(lot, 12, store_at="SH-TANK-1")  # two courses of 6
    orders = [driver.order(f"ORD-H{i}", "vum02", age=40) for i in range(6)]
    client = TestClient(create_app(demo_app))
    token = client.post(
        "/api/v1/auth/token", data={"username": "qa", "password": DEMO_PASSWORD}
    ).json()["access_token"]
    barrier = threading.Barrier(len(orders))

    def allocate(i: int) -> tuple[int, str]:
        barrier.wait()
        response = client.post(
            f"/api/v1/msc/orders/{orders[i].id}/allocate",
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        return response.status_code, str(body.get("status", body.get("error")))

    with ThreadPoolExecutor(max_workers=len(orders)) as pool:
        outcomes = list(pool.map(allocate, range(len(orders))))
    assert all(status in (200, 409) for status, _ in outcomes), outcomes
    with demo_app.uow() as uow:
        vials = uow.msc_vials.of_lots([lot.id])
        stored = [uow.msc_orders.get(o.id) for o in orders]
    allocated = [o for o in stored if o is not None and o.status is OrderStatus.ALLOCATED]
    assert len(allocated) == 2, outcomes
    owners = [v.order_id for v in vials if v.order_id]
    assert len(owners) == 12 and {o: owners.count(o) for o in set(owners)} == {
        o.id: 6 for o in allocated
    }
    assert ledger.verify(demo_app.uow()).ok
