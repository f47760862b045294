"""Demo allogeneic MSC: donors, lots of amimestrocel and VUM02, vials in two depots,
orders in every state, one recall; driven through the real handlers (as the demo cases
are). Tests use the same steps (`MscDriver`) to bring a lot or an order anywhere.
docs/architecture.md, "Allogeneic MSC".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from veinline.adapters.seed.cases import DEMO_PASSWORD, Driver, Route, in_limits, passing
from veinline.domain.batch import Batch, StepStatus
from veinline.domain.msc import REQUIRED_TESTS, Lot, Order, OrderStatus, Vial
from veinline.domain.process import DocumentStatus
from veinline.services import commands
from veinline.services.msc import order_shipment

FACILITY = "demo-suzhou-manufacturing"
DEPOT = "demo-sh-depot"
CENTRE = "demo-sh-treatment"
NEGATIVE = {test: "negative" for test in REQUIRED_TESTS}

# Patients the demo orders for: steroid-refractory aGVHD after allogeneic HSCT.
GVHD = {
    "diagnosis": "acute_gvhd",
    "conditions": ["steroid_refractory_acute_gvhd"],
    "prior_allo_hsct": True,
}
ARDS = {"diagnosis": "ards", "conditions": ["moderate_or_severe_ards"]}


class MscDriver:
    """Donor to vials in storage to a course infused, as the right user for each step."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.bus = driver.bus

    def do(self, cmd: commands.Command, as_user: str) -> Any:
        return self.driver.do(cmd, as_user)

    # -------------------------------------------------------------- storage

    def unit(self, unit_id: str, site: str, *, racks: int = 2, boxes: int = 4) -> None:
        with self.bus.uow_factory() as uow:
            if uow.storage_units.get(unit_id) is not None:
                return
        self.do(
            commands.CreateStorageUnit(unit_id, site, "ln2_tank", racks, boxes, 9, 9), "operator"
        )

    # -------------------------------------------------------------- lots

    def prepare(self, product: str, market: str = "CN", site: str = FACILITY) -> None:
        route = Route(product, market, CENTRE, "", site, {})
        self.driver.prepare_manufacturing(route)

    def donor(self, donor_id: str, *, eligible: bool = True) -> None:
        self.do(
            commands.RegisterDonor(donor_id, FACILITY, f"cord {donor_id}", True, "2026-01-05"),
            "qa2",
        )
        results = dict(NEGATIVE) if eligible else {**NEGATIVE, "hbv": "reactive"}
        self.do(commands.ScreenDonor(donor_id, results, True, "qa2", DEMO_PASSWORD), "qa2")

    def lot(self, lot_id: str, donor_id: str, product: str, *, release: bool = True) -> Lot:
        """A lot started, its batch record run and, if `release`, QC-tested and released."""
        self.prepare(product)
        lot: Lot = self.do(
            commands.StartLot(lot_id, donor_id, product, FACILITY, "CN"), "operator.suzhou"
        )
        self.run_batch(lot.batch_id)
        if release:
            self.release(lot)
        return lot

    def run_batch(self, batch_id: str) -> None:
        """Every pending step of a lot's batch record performed, signed and verified."""
        batch = self.batch(batch_id)
        for step in [s for s in batch.steps if s.status is StepStatus.PENDING]:
            code = step.code
            self.do(commands.StartStep(batch.id, code, "Suite 1", ["EQ-01"]), "operator")
            for parameter in step.spec.parameters:
                value = in_limits(parameter, batch.id)
                self.do(commands.RecordValue(batch.id, code, parameter.name, value), "operator")
            self.do(commands.CompleteStep(batch.id, code, "operator", DEMO_PASSWORD), "operator")
            if step.spec.critical:
                self.do(
                    commands.VerifyStep(batch.id, code, "operator2", DEMO_PASSWORD), "operator2"
                )

    def release(self, lot: Lot) -> None:
        with self.bus.uow_factory() as uow:
            specs = uow.specifications.find(product_code=lot.product_code, market=lot.market)
        spec = next(s for s in specs if s.status is DocumentStatus.APPROVED)
        for test in spec.tests:
            self.do(commands.EnterResult(lot.batch_id, test.code, passing(test)), "qc")
        self.do(commands.ReleaseBatch(lot.batch_id, "qa2", DEMO_PASSWORD), "qa2")

    def batch(self, batch_id: str) -> Batch:
        with self.bus.uow_factory() as uow:
            found = uow.batches.get(batch_id)
        assert found is not None
        return found

    def fill(
        self, lot: Lot, count: int, *, days: int = 365, cells: float = 5e7, store_at: str = ""
    ) -> list[Vial]:
        """Vials filled and, with `store_at` (a unit id), put away there."""
        expires = (self.driver.clock() + timedelta(days=days)).isoformat()
        vials: list[Vial] = self.do(
            commands.FillVials(lot.id, count, cells, 10.0, expires), "operator.suzhou"
        )
        if store_at:
            for vial in vials:
                self.do(commands.StoreVial(vial.id, store_at), "operator")
        return vials

    # -------------------------------------------------------------- orders

    def order(
        self,
        order_id: str,
        product: str,
        *,
        age: int,
        weight: float = 60,
        name: str = "",
        wristband: str = "WB-M0001",
    ) -> Order:
        facts = {"age_years": age, **(GVHD if product == "amimestrocel" else ARDS)}
        name = name or f"Demo MSC Patient {order_id.rsplit('-', 1)[-1]}"
        jurisdiction = "CN"
        order: Order = self.do(
            commands.PlaceOrder(
                order_id, product, jurisdiction, CENTRE, name, wristband, facts, weight
            ),
            "physician",
        )
        return order

    def scans(self, order: Order) -> list[str]:
        """What a scanner reads off each vial of the order."""
        with self.bus.uow_factory() as uow:
            return [f"={v.barcode}" for v in uow.msc_vials.of_order(order.id)]

    def logger(self, order: Order, *, celsius: tuple[float, ...] = ()) -> str:
        """The shipper logger's CSV for the order's shipment: a reading every 10 minutes
        from its dispatch (at -185 °C unless `celsius` gives them)."""
        with self.bus.uow_factory() as uow:
            shipment = order_shipment(uow, order)
        start = shipment.dispatched_at or self.driver.clock()
        values = celsius or (-185.0,) * max(
            2, int((self.driver.clock() - start).total_seconds() // 600) + 1
        )
        return "\n".join(
            f"{(start + timedelta(minutes=10 * i)).isoformat()},{c}" for i, c in enumerate(values)
        )

    def advance(self, order: Order, target: OrderStatus) -> Order:
        """Take an order along allocation, shipping, receipt and infusion to `target`."""
        now = self.driver.clock()
        while order.status is not target:
            if order.status in (OrderStatus.PLACED, OrderStatus.SHORT):
                order = self.do(commands.AllocateOrder(order.id), "qa")
                if order.status is OrderStatus.SHORT:
                    return order
            elif order.status is OrderStatus.ALLOCATED:
                order = self.do(commands.ShipOrder(order.id, self.scans(order)), "courier")
            elif order.status is OrderStatus.SHIPPED:
                order = self.do(
                    commands.ReceiveOrder(
                        order.id, scans=self.scans(order), logger_csv=self.logger(order)
                    ),
                    "nurse",
                )
            elif order.status is OrderStatus.RECEIVED:
                with self.bus.uow_factory() as uow:
                    vial = next(v for v in uow.msc_vials.of_order(order.id) if v.status.in_hand)
                order = self.do(
                    commands.InfuseVial(
                        order.id,
                        order.wristband_id,
                        f"={vial.barcode}",
                        (now - timedelta(minutes=30)).isoformat(),
                        (now - timedelta(minutes=10)).isoformat(),
                    ),
                    "physician",
                )
            else:
                raise ValueError(f"order {order.id} cannot go on from {order.status}")
        return order


def load_demo_msc(driver: Driver) -> bool:
    """The demo's MSC stock and orders; idempotent (skipped when the first lot exists)."""
    msc = MscDriver(driver)
    with driver.bus.uow_factory() as uow:
        if uow.msc_lots.get("MSC-AMI-01") is not None:
            return False
    msc.unit("SZ-TANK-1", FACILITY)
    msc.unit("SH-TANK-1", DEPOT)
    for donor in ("DNR-0001", "DNR-0002", "DNR-0004", "DNR-0005"):
        msc.donor(donor)
    msc.donor("DNR-0003", eligible=False)
    ami = msc.lot("MSC-AMI-01", "DNR-0001", "amimestrocel")
    msc.fill(ami, 24, days=300, store_at="SH-TANK-1")
    ami2 = msc.lot("MSC-AMI-02", "DNR-0002", "amimestrocel")
    msc.fill(ami2, 24, days=400, store_at="SZ-TANK-1")
    recalled = msc.lot("MSC-VUM-02", "DNR-0005", "vum02")
    msc.fill(recalled, 6, days=150, store_at="SH-TANK-1")
    vum = msc.lot("MSC-VUM-01", "DNR-0004", "vum02")
    msc.fill(vum, 12, days=200, store_at="SZ-TANK-1")
    # Orders in every state; the patient aged 14 is treated, the one aged 13 refused.
    treated = msc.order("MSC-ORD-01", "amimestrocel", age=14, weight=45, wristband="WB-M0001")
    msc.advance(treated, OrderStatus.COMPLETED)
    msc.order("MSC-ORD-02", "amimestrocel", age=13, weight=40, wristband="WB-M0002")
    msc.order("MSC-ORD-03", "amimestrocel", age=52, wristband="WB-M0003")
    shipped = msc.order("MSC-ORD-05", "vum02", age=47, wristband="WB-M0005")
    msc.advance(shipped, OrderStatus.SHIPPED)
    received = msc.order("MSC-ORD-06", "vum02", age=39, wristband="WB-M0006")
    msc.advance(received, OrderStatus.RECEIVED)
    allocated = msc.order("MSC-ORD-04", "vum02", age=61, wristband="WB-M0004")
    msc.advance(allocated, OrderStatus.ALLOCATED)
    cancelled = msc.order("MSC-ORD-07", "amimestrocel", age=33, wristband="WB-M0007")
    msc.advance(cancelled, OrderStatus.ALLOCATED)
    msc.do(
        commands.CancelOrder(cancelled.id, "patient improved on second-line therapy"),
        "physician",
    )
    short = msc.order("MSC-ORD-08", "amimestrocel", age=70, weight=160, wristband="WB-M0008")
    msc.advance(short, OrderStatus.ALLOCATED)
    # The recall: the shipped order's vials are held and its patient's team notified.
    msc.do(
        commands.RecallLot(
            "MSC-VUM-02", "mycoplasma result reported after release", "qa2", DEMO_PASSWORD
        ),
        "qa2",
    )
    return True
