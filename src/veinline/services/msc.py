"""Handlers of allogeneic MSC: donors, lots, vials, storage, orders, allocation, recall.

Each change writes its ledger entry in its own transaction (docs/architecture.md,
"Allogeneic MSC"). A lot is a batch: `start_lot` opens the batch record on the process
in force with the lot's own DIN, and QC and QA release it through services/release.py
like any batch; vials are filled only from a released lot.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from veinline.domain import coldchain, eligibility, msc
from veinline.domain.batch import BatchStatus, start_batch
from veinline.domain.case import parse_moment, parse_zone
from veinline.domain.catalog import Modality, Product, SiteKind
from veinline.domain.coldchain import ShipperType
from veinline.domain.custody import CustodyEvent, CustodyPoint, IdentityMismatch, check_place
from veinline.domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.labels import Label, VialFacts, vial_label
from veinline.domain.ledger import JsonObject
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.msc import Lot, Order, OrderStatus, StorageUnit, Vial, VialStatus
from veinline.domain.process import in_force
from veinline.domain.shipment import Leg, Shipment
from veinline.domain.signature import Meaning, documented_reason
from veinline.domain.user import User
from veinline.services import authority, commands, journey, places, signatures
from veinline.services.handlers import Clock, allocate_identifier, case_record_id
from veinline.services.passwords import PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork

A = LedgerAction
# How long an unused vial may be out of storage and still go back to stock, when its
# cold-chain record shows no excursion: a site policy, unconfirmed (no public source).
RETURN_HOURS = 48.0
# How often allocation looks again when another order took vials it had chosen.
ALLOCATION_ATTEMPTS = 5


def _get(repo: Any, key: str, what: str, *, for_update: bool = False) -> Any:
    found = repo.get(key.strip(), for_update=for_update)
    if found is None:
        raise NotFound(f"there is no {what} {key}")
    return found


def _msc_product(uow: AbstractUnitOfWork, code: str) -> Product:
    product: Product = _get(uow.products, code, "product")
    if product.modality is not Modality.ALLOGENEIC_MSC:
        raise NotAllowed(f"{product.code} is not an allogeneic MSC product")
    return product


def _record(
    uow: AbstractUnitOfWork,
    record: Any,
    actor: User,
    action: LedgerAction,
    before: JsonObject | None,
    reason: str = "",
    meaning: Meaning | None = None,
) -> None:
    signatures.record_change(uow, record, actor, action, before, reason, meaning)


# ------------------------------------------------------------------ donors


def register_donor(
    cmd: commands.RegisterDonor, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> msc.Donor:
    with uow:
        _get(uow.sites, cmd.site, "site")
        if uow.msc_donors.get(cmd.donor_id.strip()) is not None:
            raise Conflict(f"donor {cmd.donor_id} exists already")
        donor = msc.new_donor(
            cmd.donor_id,
            cmd.site,
            cmd.site_reference,
            consent_given=cmd.consent_given,
            consent_date=cmd.consent_date,
            by=actor,
            at=clock(),
        )
        uow.msc_donors.add(donor)
        _record(uow, donor, actor, A.MSC_DONOR_REGISTERED, None, "donor registered")
        uow.commit()
        return donor


def screen_donor(
    cmd: commands.ScreenDonor,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> msc.Donor:
    with uow:
        signer = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
        donor: msc.Donor = _get(uow.msc_donors, cmd.donor_id, "donor", for_update=True)
        before = donor.snapshot()
        status = donor.screen(
            cmd.results, questionnaire_passed=cmd.questionnaire_passed, by=signer, at=clock()
        )
        why = "; ".join(donor.screening["reasons"]) or "every required test negative"
        _record(
            uow, donor, signer, A.MSC_DONOR_SCREENED, before, f"{status}: {why}", Meaning.REVIEWED
        )
        uow.commit()
        return donor


# ------------------------------------------------------------------ lots and vials


def start_lot(cmd: commands.StartLot, uow: AbstractUnitOfWork, *, actor: User, clock: Clock) -> Lot:
    """A lot from one eligible donor: its DIN, and its batch record on the process in
    force at the facility (the batch's id is the lot's)."""
    with uow:
        lot_id = msc.check_id(cmd.lot_id, "lot id")
        donor: msc.Donor = _get(uow.msc_donors, cmd.donor_id, "donor")
        donor.guard_start_lot()
        product = _msc_product(uow, cmd.product_code)
        site = _get(uow.sites, cmd.site, "site")
        if site.fin is None:
            raise NotAllowed(f"site {site.code} has no FIN: it cannot issue a lot's DIN")
        if uow.msc_lots.get(lot_id) is not None or uow.batches.get(lot_id) is not None:
            raise Conflict(f"lot {lot_id} exists already")
        templates = uow.process_templates.find(product_code=product.code, site=site.code)
        template = in_force(templates, product.code, site.code)
        now = clock()
        din = allocate_identifier(
            uow,
            IdentifierKind.DIN,
            fin=site.fin,
            at=now,
            purpose=f"MSC lot {lot_id}",
            actor=actor,
            reason=f"lot {lot_id} from donor {donor.id}",
        )
        batch = start_batch(lot_id, template, by=actor, at=now, lot_id=lot_id, din=din.value)
        uow.batches.add(batch)
        _record(uow, batch, actor, A.BATCH_STARTED, None, f"lot {lot_id} on {template.id}")
        lot = Lot(
            id=lot_id,
            product_code=product.code,
            donor_id=donor.id,
            batch_id=batch.id,
            site=site.code,
            market=cmd.market.strip().upper(),
            din=din.value,
            started_at=now,
        )
        uow.msc_lots.add(lot)
        _record(uow, lot, actor, A.MSC_LOT_STARTED, None, f"donor {donor.id}, DIN {din.value}")
        uow.commit()
        return lot


RELEASED = (BatchStatus.RELEASED, BatchStatus.CONDITIONALLY_RELEASED)


def fill_vials(
    cmd: commands.FillVials, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> list[Vial]:
    """Vials of a released lot, each with the lot's DIN and its own division."""
    with uow:
        lot: Lot = _get(uow.msc_lots, cmd.lot_id, "lot", for_update=True)
        batch = _get(uow.batches, lot.batch_id, "batch")
        if batch.status not in RELEASED:
            raise NotAllowed(
                f"lot {lot.id} is {batch.status.label.lower()}: vials are filled from a "
                "released lot only"
            )
        if lot.recall is not None:
            raise NotAllowed(f"lot {lot.id} is recalled")
        if not 1 <= cmd.count <= msc.MAX_DIVISIONS - lot.filled:
            raise InvalidInput(
                f"fill 1 to {msc.MAX_DIVISIONS - lot.filled} vials (divisions left on the DIN)"
            )
        if cmd.cells_per_vial <= 0 or cmd.volume_ml <= 0:
            raise InvalidInput("cells per vial and volume must be positive")
        now = clock()
        expires = parse_moment(cmd.expires_at, "expires_at")
        if expires <= now:
            raise InvalidInput("the expiry must be in the future")
        before = lot.snapshot()
        vials = []
        for number in range(lot.filled + 1, lot.filled + cmd.count + 1):
            vial = Vial(
                id=f"{lot.id}-{number:03d}",
                lot_id=lot.id,
                product_code=lot.product_code,
                din=lot.din,
                division=msc.division(number),
                cells=cmd.cells_per_vial,
                volume_ml=cmd.volume_ml,
                expires_at=expires,
                site=lot.site,
            )
            uow.msc_vials.add(vial)
            _record(uow, vial, actor, A.MSC_VIAL_FILLED, None, f"lot {lot.id}")
            vials.append(vial)
        lot.filled += cmd.count
        lot.version += 1
        _record(uow, lot, actor, A.MSC_LOT_FILLED, before, f"{cmd.count} vials")
        uow.commit()
        return vials


# ------------------------------------------------------------------ storage


def create_storage_unit(
    cmd: commands.CreateStorageUnit, uow: AbstractUnitOfWork, *, actor: User
) -> StorageUnit:
    with uow:
        _get(uow.sites, cmd.site, "site")
        if uow.storage_units.get(cmd.unit_id.strip()) is not None:
            raise Conflict(f"storage unit {cmd.unit_id} exists already")
        unit = msc.new_unit(
            cmd.unit_id.strip(),
            cmd.site,
            cmd.kind,
            racks=cmd.racks,
            boxes_per_rack=cmd.boxes_per_rack,
            rows=cmd.rows,
            columns=cmd.columns,
            max_c=cmd.max_c,
        )
        uow.storage_units.add(unit)
        _record(uow, unit, actor, A.STORAGE_UNIT_CREATED, None, f"{unit.capacity} positions")
        uow.commit()
        return unit


def _position(uow: AbstractUnitOfWork, unit: StorageUnit, wanted: str, vial: Vial) -> str:
    taken = {v.position for v in uow.msc_vials.in_unit(unit.id) if v.position and v.id != vial.id}
    address = unit.address(wanted) if wanted.strip() else unit.first_free(taken)
    if address in taken:
        raise Conflict(f"position {address} holds another vial")
    return address


def store_vial(
    cmd: commands.StoreVial, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Vial:
    with uow:
        vial: Vial = _get(uow.msc_vials, cmd.vial_id, "vial", for_update=True)
        unit: StorageUnit = _get(uow.storage_units, cmd.unit_id, "storage unit")
        before = vial.snapshot()
        vial.put_away(unit, _position(uow, unit, cmd.position, vial), by=actor, at=clock())
        _record(uow, vial, actor, A.MSC_VIAL_STORED, before, str(vial.position))
        uow.commit()
        return vial


def import_unit_readings(
    cmd: commands.ImportUnitReadings, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> JsonObject:
    """A unit's temperature readings; one above its limit quarantines what it holds."""
    with uow:
        unit: StorageUnit = _get(uow.storage_units, cmd.unit_id, "storage unit", for_update=True)
        readings: list[tuple[datetime, float]] = []
        if cmd.csv_text.strip():
            zone = parse_zone(cmd.timezone, "logger time zone")
            logged = coldchain.parse_logger_csv(cmd.csv_text, default_tz=zone)
            readings = [(r.at, r.celsius) for r in logged]
        for number, row in enumerate(cmd.readings, start=1):
            try:
                at = parse_moment(str(row["at"]), f"reading {number}: at")
                value = float(str(row["c"]))
            except (KeyError, ValueError):
                raise InvalidInput(
                    f"reading {number} needs 'at' (a time with zone) and 'c' (°C)"
                ) from None
            readings.append((at, value))
        if not readings:
            raise InvalidInput("no readings given")
        before = unit.snapshot()
        alarm = unit.raise_alarm(sorted(readings))
        held: list[str] = []
        if alarm is None:
            unit.version += 1
            _record(uow, unit, actor, A.STORAGE_UNIT_READINGS, before, f"{len(readings)} readings")
        else:
            why = f"storage alarm on {unit.id}: {alarm['max_c']} °C above {alarm['limit_c']} °C"
            _record(uow, unit, actor, A.STORAGE_UNIT_ALARM, before, why)
            for vial in uow.msc_vials.in_unit(unit.id):
                was = vial.snapshot()
                vial.hold(why, "alarm", by=actor, at=clock())
                _record(uow, vial, actor, A.MSC_VIAL_QUARANTINED, was, why)
                held.append(vial.id)
        uow.commit()
        return {"unit": unit.id, "alarm": alarm, "quarantined": held}


def dispose_vials(
    cmd: commands.DisposeVials,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> list[Vial]:
    """QA's signed decision on quarantined vials (of one site)."""
    with uow:
        signer = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
        reason = documented_reason(cmd.reason, "a quarantine decision")
        vials = [_get(uow.msc_vials, i, "vial", for_update=True) for i in cmd.vial_ids]
        if not vials:
            raise InvalidInput("name the vials to dispose of")
        if len({v.site for v in vials}) != 1:
            raise InvalidInput("dispose of one site's vials at a time")
        for vial in vials:
            before = vial.snapshot()
            vial.dispose(release=cmd.release, reason=reason, by=signer, at=clock())
            action = A.MSC_VIAL_QUARANTINE_RELEASED if cmd.release else A.MSC_VIAL_DISCARDED
            meaning = Meaning.RELEASED if cmd.release else Meaning.REJECTED
            _record(uow, vial, signer, action, before, reason, meaning)
        uow.commit()
        return vials


# ------------------------------------------------------------------ orders


def place_order(
    cmd: commands.PlaceOrder, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Order:
    """The physician's order: eligibility against the authorisation in force (as in the
    journey) and the course in whole vials. An ineligible patient's order is kept,
    refused, with the reasons."""
    with uow:
        order_id = msc.check_id(cmd.order_id, "order id")
        if uow.msc_orders.get(order_id) is not None:
            raise Conflict(f"order {order_id} exists already")
        product = _msc_product(uow, cmd.product_code)
        site = _get(uow.sites, cmd.treatment_site, "site")
        if site.kind is not SiteKind.TREATMENT_CENTRE:
            raise InvalidInput(f"{site.code} is not a treatment centre")
        now = clock()
        facts = dict(cmd.patient_facts)
        facts.setdefault("weight_kg", cmd.weight_kg)
        parsed = eligibility.parse_patient(facts, today=now.date())
        auths = uow.authorisations.find(product_code=product.code)
        answer = eligibility.evaluate(product, auths, cmd.jurisdiction, parsed).to_dict()
        order = Order(
            id=order_id,
            product_code=product.code,
            jurisdiction=cmd.jurisdiction.strip().upper(),
            treatment_site=site.code,
            physician=actor.username,
            patient_name=cmd.patient_name.strip(),
            wristband_id=cmd.wristband_id.strip(),
            patient_facts=facts,
            weight_kg=cmd.weight_kg,
            placed_at=now,
            eligibility=answer,
        )
        if answer["eligible"] is not True:
            order.status = OrderStatus.REFUSED
            failed = [
                f"{c['id']}: {c['reason']}" for c in answer["criteria"] if c["met"] is not True
            ]
            word = "not eligible" if answer["eligible"] is False else "eligibility undetermined"
            reason = f"{word}: " + ("; ".join(failed) or "no authorisation in force")
            uow.msc_orders.add(order)
            _record(uow, order, actor, A.MSC_ORDER_REFUSED, None, reason)
            uow.commit()
            return order
        rule = dict(product.dose_rule or {})
        per_vial = cmd.cells_per_vial or float(rule.get("cells_per_vial", 0) or 0)
        if per_vial <= 0:
            raise NotAllowed(f"{product.code} has no cells per vial in its dose rule: give one")
        course = msc.course_of(rule, cmd.weight_kg, per_vial)
        order.course = course.to_dict()
        unsourced = [
            key
            for key in ("cells_per_kg", "infusions")
            if not product.is_confirmed(f"dose_rule.{key}")
        ]
        if unsourced:
            # Nothing unconfirmed passes as fact (docs/architecture.md, "Labels").
            order.course["rounding"] += (
                f"; the catalogue's {' and '.join(unsourced)} are unconfirmed: check the dose"
            )
        uow.msc_orders.add(order)
        _record(uow, order, actor, A.MSC_ORDER_PLACED, None, str(order.course["rounding"]))
        uow.commit()
        return order


def transport_hours(uow: AbstractUnitOfWork, treatment_site: str) -> dict[str, float]:
    """Each depot's transport time to a treatment centre (site details `transport_hours`)."""
    lanes: dict[str, float] = {}
    for site in uow.sites.list():
        hours = (site.details or {}).get("transport_hours", {}).get(treatment_site)
        if hours is not None:
            lanes[site.code] = float(hours)
    return lanes


def released_lots(uow: AbstractUnitOfWork, product_code: str) -> set[str]:
    lots = uow.msc_lots.find(product_code=product_code)
    out = set()
    for lot in lots:
        batch = uow.batches.get(lot.batch_id)
        if batch is not None and batch.status in RELEASED and lot.recall is None:
            out.add(lot.id)
    return out


def incoming(uow: AbstractUnitOfWork, product_code: str) -> list[tuple[datetime, int]]:
    """Lots still in manufacturing or QC: expected when their process's steps are done,
    with as many vials as the product's released lots held on average."""
    lots = uow.msc_lots.find(product_code=product_code)
    filled = [lot.filled for lot in lots if lot.filled]
    typical = round(sum(filled) / len(filled)) if filled else 0
    out = []
    for lot in lots:
        batch = uow.batches.get(lot.batch_id)
        if batch is None or batch.status not in (BatchStatus.IN_PROGRESS, BatchStatus.COMPLETED):
            continue
        hours = sum(step.spec.expected_hours for step in batch.steps)
        out.append((batch.started_at + timedelta(hours=hours), typical))
    return out


def allocate_order(
    cmd: commands.AllocateOrder, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Order:
    """Reserve the whole course (FEFO, from the depot that delivers soonest), or say what
    is short. Chosen vials are locked with SKIP LOCKED: vials another order is reserving
    at this moment are left to it, and allocation looks again without them."""
    with uow:
        order: Order = _get(uow.msc_orders, cmd.order_id, "order", for_update=True)
        order.guard(OrderStatus.PLACED, OrderStatus.SHORT, doing="be allocated")
        before = order.snapshot()
        now = clock()
        needed = int(order.course["vials"])
        lanes = transport_hours(uow, order.treatment_site)
        lots = released_lots(uow, order.product_code)
        usable_after = {site: now + timedelta(hours=h) for site, h in lanes.items()}
        gone: set[str] = set()
        expected = incoming(uow, order.product_code)
        for _ in range(ALLOCATION_ATTEMPTS):
            candidates = uow.msc_vials.candidates(
                order.product_code,
                lots=lots,
                usable_after=usable_after,
                per_site=needed,
                exclude=gone,
            )
            result = msc.allocate(
                needed,
                candidates,
                transport_hours=lanes,
                released_lots=lots,
                now=now,
                incoming=expected,
            )
            if not result.complete:
                break
            locked = uow.msc_vials.lock_free(list(result.vial_ids))
            if len(locked) == needed:
                for vial in sorted(locked, key=lambda v: v.id):
                    was = vial.snapshot()
                    vial.order_id, vial.status = order.id, VialStatus.RESERVED
                    vial.note("reserved", actor, now, order=order.id)
                    _record(uow, vial, actor, A.MSC_VIAL_RESERVED, was, f"order {order.id}")
                order.depot, order.vial_ids = result.depot, list(result.vial_ids)
                order.status, order.shortage = OrderStatus.ALLOCATED, None
                order.note("allocated", actor, now, depot=result.depot, hours=result.hours)
                _record(
                    uow,
                    order,
                    actor,
                    A.MSC_ORDER_ALLOCATED,
                    before,
                    f"{needed} vials from {result.depot} ({result.hours:g} h)",
                )
                uow.commit()
                return order
            gone |= set(result.vial_ids) - {v.id for v in locked}
        else:
            raise Conflict("other orders kept taking the vials chosen: try again")
        order.status = OrderStatus.SHORT
        order.shortage = {
            "short": result.short,
            "message": result.message,
            "expected": result.expected,
        }
        order.note("short", actor, now, message=result.message)
        _record(uow, order, actor, A.MSC_ORDER_SHORT, before, result.message)
        uow.commit()
        return order


def cancel_order(
    cmd: commands.CancelOrder, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Order:
    """A cancelled order's reserved vials go back to stock (they never left the depot)."""
    with uow:
        order: Order = _get(uow.msc_orders, cmd.order_id, "order", for_update=True)
        order.guard(
            OrderStatus.PLACED, OrderStatus.SHORT, OrderStatus.ALLOCATED, doing="be cancelled"
        )
        before, now = order.snapshot(), clock()
        for vial in uow.msc_vials.of_order(order.id):
            was = vial.snapshot()
            vial.order_id = None
            vial.status = VialStatus.STORED
            vial.note("reservation released", actor, now, order=order.id)
            _record(uow, vial, actor, A.MSC_VIAL_UNRESERVED, was, f"order {order.id} cancelled")
        order.status = OrderStatus.CANCELLED
        order.note("cancelled", actor, now, reason=cmd.reason)
        _record(uow, order, actor, A.MSC_ORDER_CANCELLED, before, cmd.reason)
        uow.commit()
        return order


def _isbt_code(product: Product) -> str | None:
    code = product.confirmed("isbt128_product_code")
    return str(code) if code else None


def order_shipment(uow: AbstractUnitOfWork, order: Order) -> Shipment:
    """The shipment carrying the order's vials (the last one, should there be more)."""
    shipments = uow.shipments.find(order_id=order.id)
    if not shipments:
        raise NotFound(f"order {order.id} has no shipment: its vials have not been picked up")
    return sorted(shipments, key=lambda s: s.created_at)[-1]


def _hand_off(
    uow: AbstractUnitOfWork,
    order: Order,
    shipment: Shipment | None,
    point: CustodyPoint,
    *,
    place: str,
    scans: list[str],
    identifiers: JsonObject,
    actor: User,
    now: datetime,
) -> CustodyEvent:
    """The custody event of a hand-off of the order's vials, as the journey records a
    case's (services/journey.py `scan_custody`): who, where, when, what was scanned."""
    checked = check_place(point, place, None, actor.sites_as(authority.rule_for(point).roles))
    event = CustodyEvent(
        id=case_record_id(uow, order.id, "E"),
        case_id=None,
        point=point,
        actor=actor.username,
        site_code=checked,
        at=now,
        scan_data="\n".join(s.strip() for s in scans if s.strip()),
        identifiers=identifiers,
        shipment_id=shipment.id if shipment else None,
        order_id=order.id,
    )
    uow.custody_events.add(event)
    uow.record(
        event,
        actor=actor,
        action=LedgerAction.of("custody", point.value),
        before=None,
        reason=f"{point.label}: order {order.id}",
    )
    return event


def ship_order(
    cmd: commands.ShipOrder, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Order:
    """The courier's pickup at the depot: every vial scanned, then the order's shipment
    (an LN2 vapour shipper at the product's own limit, as a CAR-T product's) leaves
    with a custody event, and the vials come out of storage."""
    with uow:
        order: Order = _get(uow.msc_orders, cmd.order_id, "order", for_update=True)
        order.guard(OrderStatus.ALLOCATED, doing="ship")
        product = _msc_product(uow, order.product_code)
        assert order.depot is not None  # an allocated order names its depot
        before, now = order.snapshot(), clock()
        vials = uow.msc_vials.of_order(order.id)
        identifiers = msc.check_scans(
            vials, cmd.scans, point="pickup at the depot", isbt_product_code=_isbt_code(product)
        )
        for vial in vials:
            if vial.quarantined:
                raise NotAllowed(f"vial {vial.id} is quarantined: it does not ship")
        limits = coldchain.limits_for(ShipperType.LN2_VAPOUR, product.storage_max_c)
        shipment = Shipment(
            id=case_record_id(uow, order.id, "S", width=2),
            case_id=None,
            order_id=order.id,
            leg=Leg.VIALS,
            shipper_type=ShipperType.LN2_VAPOUR,
            from_site=order.depot,
            to_site=order.treatment_site,
            created_at=now,
            low_c=limits.low,
            high_c=limits.high,
        )
        uow.shipments.add(shipment)
        _record(uow, shipment, actor, A.SHIPMENT_CREATED, None, f"vials of order {order.id}")
        _hand_off(
            uow,
            order,
            shipment,
            CustodyPoint.PRODUCT_PICKUP,
            place=order.depot,
            scans=cmd.scans,
            identifiers=identifiers,
            actor=actor,
            now=now,
        )
        shipped = shipment.snapshot()
        shipment.dispatch(now)
        _record(uow, shipment, actor, A.SHIPMENT_DISPATCHED, shipped, "picked up at the depot")
        for vial in vials:
            was = vial.snapshot()
            vial.take_out(by=actor, at=now, why=f"shipped for order {order.id}")
            vial.status = VialStatus.SHIPPED
            _record(uow, vial, actor, A.MSC_VIAL_SHIPPED, was, f"shipment {shipment.id}")
        order.status = OrderStatus.SHIPPED
        order.note("shipped", actor, now, depot=order.depot, shipment=shipment.id)
        _record(uow, order, actor, A.MSC_ORDER_SHIPPED, before, f"from {order.depot}")
        uow.commit()
        return order


def receive_order(
    cmd: commands.ReceiveOrder, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Order:
    """Receipt at the centre through the order's shipment, as a CAR-T product's: every
    vial scanned, and the shipment's cold-chain record read first. A logger file given
    here is imported as `ImportLoggerData` would (kept, in a transaction of its own, even
    when the receipt is then refused); an excursion, or no readings at all, blocks the
    receipt until QA disposes of it by signature."""
    if cmd.logger_csv.strip():
        with uow:
            shipped: Order = _get(uow.msc_orders, cmd.order_id, "order")
            shipped.guard(OrderStatus.SHIPPED, doing="be received")
            shipment_id = order_shipment(uow, shipped).id
        journey.import_logger_data(
            commands.ImportLoggerData(shipment_id, cmd.logger_csv, cmd.timezone), uow, actor=actor
        )
    with uow:
        order: Order = _get(uow.msc_orders, cmd.order_id, "order", for_update=True)
        order.guard(OrderStatus.SHIPPED, doing="be received")
        product = _msc_product(uow, order.product_code)
        before, now = order.snapshot(), clock()
        vials = uow.msc_vials.of_order(order.id)
        identifiers = msc.check_scans(
            vials,
            cmd.scans,
            point="receipt at the centre",
            isbt_product_code=_isbt_code(product),
        )
        shipment = order_shipment(uow, order)
        arrived = shipment.snapshot()
        shipment.receive(now)
        _hand_off(
            uow,
            order,
            shipment,
            CustodyPoint.SITE_RECEIPT,
            place=shipment.to_site,
            scans=cmd.scans,
            identifiers=identifiers,
            actor=actor,
            now=now,
        )
        _record(uow, shipment, actor, A.SHIPMENT_RECEIVED, arrived, "received at the centre")
        for vial in vials:
            was = vial.snapshot()
            vial.status, vial.site = VialStatus.RECEIVED, order.treatment_site
            vial.note("received", actor, now, site=order.treatment_site)
            _record(uow, vial, actor, A.MSC_VIAL_RECEIVED, was, f"shipment {shipment.id}")
        order.status = OrderStatus.RECEIVED
        order.note("received", actor, now, shipment=shipment.id)
        why = (
            f"shipment {shipment.id}: {len(shipment.readings)} logger readings, "
            f"{len(shipment.excursions)} excursion(s)"
        )
        if shipment.disposition:
            why += f", QA {shipment.disposition['decision']}ed"
        _record(uow, order, actor, A.MSC_ORDER_RECEIVED, before, why)
        uow.commit()
        return order


def infuse_vial(
    cmd: commands.InfuseVial, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Order:
    """The bedside check: the patient's wristband and the vial's DIN and division both
    match the order; thawed within the post-thaw window; then the vial is consumed and
    the bedside hand-off kept as a custody event."""
    with uow:
        order: Order = _get(uow.msc_orders, cmd.order_id, "order", for_update=True)
        order.guard(OrderStatus.RECEIVED, doing="be infused")
        if cmd.wristband_id.strip() != order.wristband_id:
            raise IdentityMismatch(
                f"the wristband scanned is not order {order.id}'s patient: stop, do not infuse"
            )
        product = _msc_product(uow, order.product_code)
        scan = cmd.vial_scan.strip()
        vials = uow.msc_vials.of_order(order.id)
        read = scan if scan in {v.id for v in vials} else None
        if read is None:
            read = msc.read_vial_scan(scan, isbt_product_code=_isbt_code(product))
        vial = next((v for v in vials if read in (v.barcode, v.id)), None)
        if vial is None:
            raise IdentityMismatch(f"the vial scanned is not one of order {order.id}'s: stop")
        if vial.status is not VialStatus.RECEIVED or vial.quarantined:
            raise NotAllowed(f"vial {vial.id} is {vial.status.label.lower()}: not infused")
        shipment = order_shipment(uow, order)
        if shipment.blocked:
            raise NotAllowed(
                f"the cold-chain record of shipment {shipment.id} waits for QA: not infused"
            )
        thawed = parse_moment(cmd.thawed_at, "thawed_at")
        started = parse_moment(cmd.infusion_started_at, "infusion_started_at")
        window = product.post_thaw_window_minutes
        if started < thawed:
            raise InvalidInput("the infusion cannot start before the vial was thawed")
        if window is not None and started - thawed > timedelta(minutes=window):
            raise NotAllowed(
                f"the vial was thawed {int((started - thawed).total_seconds() // 60)} min "
                f"before the infusion: past the {window}-min post-thaw window"
            )
        before, now = order.snapshot(), clock()
        _hand_off(
            uow,
            order,
            shipment,
            CustodyPoint.BEDSIDE,
            place=order.treatment_site,
            scans=[scan],
            identifiers={"dins": [vial.din], "vials": [vial.barcode], "wristband": "matched"},
            actor=actor,
            now=now,
        )
        was = vial.snapshot()
        vial.status = VialStatus.INFUSED
        vial.note("infused", actor, now, thawed_at=cmd.thawed_at, started=cmd.infusion_started_at)
        _record(uow, vial, actor, A.MSC_VIAL_INFUSED, was, f"order {order.id}")
        order.note("vial infused", actor, now, vial=vial.id)
        if all(v.status is VialStatus.INFUSED or v.order_id != order.id for v in vials):
            order.status = OrderStatus.COMPLETED
        _record(uow, order, actor, A.MSC_ORDER_VIAL_INFUSED, before, vial.id)
        uow.commit()
        return order


def return_vial(
    cmd: commands.ReturnVial, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Vial:
    """An unused vial back to stock at a depot, when its shipment's cold-chain record
    allows it (`Shipment.may_restock`) and it is back in time."""
    with uow:
        order: Order = _get(uow.msc_orders, cmd.order_id, "order", for_update=True)
        vial: Vial = _get(uow.msc_vials, cmd.vial_id, "vial", for_update=True)
        if vial.order_id != order.id:
            raise NotAllowed(f"vial {vial.id} is not in order {order.id}")
        unit: StorageUnit = _get(uow.storage_units, cmd.unit_id, "storage unit")
        now = clock()
        shipments = uow.shipments.find(order_id=order.id)
        shipment = order_shipment(uow, order) if shipments else None
        out_since = shipment.dispatched_at if shipment and shipment.dispatched_at else now
        refusal = msc.may_return(
            vial,
            cold_chain=shipment.may_restock() if shipment else "",
            out_since=out_since,
            now=now,
            hours=RETURN_HOURS,
        )
        if refusal:
            raise NotAllowed(f"vial {vial.id} may not go back to stock: {refusal}")
        before, was = order.snapshot(), vial.snapshot()
        vial.return_to_stock(unit, _position(uow, unit, cmd.position, vial), by=actor, at=now)
        _record(uow, vial, actor, A.MSC_VIAL_RETURNED, was, f"from order {order.id}")
        order.note("vial returned", actor, now, vial=vial.id)
        left = [v for v in uow.msc_vials.of_order(order.id) if v.id != vial.id]
        if order.status is OrderStatus.RECEIVED and all(
            v.status is VialStatus.INFUSED for v in left
        ):
            order.status = OrderStatus.COMPLETED
        _record(uow, order, actor, A.MSC_ORDER_VIAL_RETURNED, before, vial.id)
        uow.commit()
        return vial


# ------------------------------------------------------------------ recall


def recall_lot(
    cmd: commands.RecallLot,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> JsonObject:
    """QA recalls a lot by signature: every unused vial quarantined at once, reservations
    of vials still at a depot released (those orders are allocated again), and the
    orders whose patients received or hold a vial listed for notification."""
    with uow:
        signer = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
        reason = documented_reason(cmd.reason, "a recall")
        lot: Lot = _get(uow.msc_lots, cmd.lot_id, "lot", for_update=True)
        now = clock()
        vials = uow.msc_vials.of_lots([lot.id])
        befores = {v.id: v.snapshot() for v in vials}
        lot_before = lot.snapshot()
        held = msc.recall_lot(lot, vials, reason=reason, by=signer, at=now)
        _record(uow, lot, signer, A.MSC_LOT_RECALLED, lot_before, reason, Meaning.APPROVED)
        reopened: set[str] = set()
        for vial in held:
            if vial.status is VialStatus.RESERVED and vial.order_id:
                reopened.add(vial.order_id)
                vial.order_id, vial.status = None, VialStatus.STORED
            _record(uow, vial, signer, A.MSC_VIAL_QUARANTINED, befores[vial.id], reason)
        for order_id in sorted(reopened):
            order: Order = _get(uow.msc_orders, order_id, "order", for_update=True)
            was = order.snapshot()
            for other in uow.msc_vials.of_order(order.id):
                o_before = other.snapshot()
                other.order_id, other.status = None, VialStatus.STORED
                _record(uow, other, signer, A.MSC_VIAL_UNRESERVED, o_before, f"recall of {lot.id}")
            order.status, order.depot, order.vial_ids = OrderStatus.PLACED, None, []
            order.note("reservation lost to a recall", signer, now, lot=lot.id)
            _record(uow, order, signer, A.MSC_ORDER_SHORT, was, f"recall of lot {lot.id}")
        notify = msc.recipients(vials)
        uow.commit()
        return {
            "lot": lot.id,
            "quarantined": [v.id for v in held],
            "orders_to_allocate_again": sorted(reopened),
            "recipients_to_notify": notify,
        }


# ------------------------------------------------------------------ reads


def vial_labels(uow: AbstractUnitOfWork, lot_id: str, reader: User) -> list[Label]:
    """The labels of a lot's vials (domain/labels.py `vial_label`): only confirmed
    catalogue facts print (docs/architecture.md, "Labels")."""
    authority.require_read(reader, authority.Read.INVENTORY)
    lot: Lot = _get(uow.msc_lots, lot_id, "lot")
    product = _msc_product(uow, lot.product_code)
    site = _get(uow.sites, lot.site, "site")
    vials = uow.msc_vials.of_lots([lot.id])
    if not vials:
        raise NotAllowed(f"lot {lot.id} has no vials yet: fill them first")
    return [
        vial_label(
            VialFacts(
                product_code=product.code,
                product_name=product.label_name,
                din=vial.din,
                division=vial.division,
                isbt_product_code=product.confirmed("isbt128_product_code"),
                collection_type=product.collection_type,
                lot_id=lot.id,
                cells=vial.cells,
                volume_ml=vial.volume_ml,
                expires_at=vial.expires_at,
                facility_name=site.name,
                facility_timezone=site.timezone,
                storage_max_c=product.confirmed("storage_max_c"),
                post_thaw_window_minutes=product.confirmed("post_thaw_window_minutes"),
            )
        )
        for vial in vials
    ]


@dataclass(frozen=True)
class Trace:
    lots: list[str]
    vials: list[msc.Traced]
    recipients: list[str]

    def to_dict(self) -> JsonObject:
        return {
            "lots": self.lots,
            "vials": [t.__dict__ for t in self.vials],
            "recipients": self.recipients,
        }


def lookback(
    uow: AbstractUnitOfWork,
    reader: User,
    *,
    lot_id: str | None = None,
    donor_id: str | None = None,
) -> Trace:
    """From a lot or a donor: every vial, where it is, and every patient who received one
    (named only to the care team of that patient's centre)."""
    if (lot_id is None) == (donor_id is None):
        raise InvalidInput("look back from one lot or one donor")
    if lot_id is not None:
        lots = [_get(uow.msc_lots, lot_id, "lot")]
    else:
        _get(uow.msc_donors, str(donor_id), "donor")
        lots = uow.msc_lots.find(donor_id=str(donor_id).strip())
    vials = uow.msc_vials.of_lots([lot.id for lot in lots])
    order_ids = {v.order_id for v in vials if v.order_id}
    orders = {o.id: o for o in (uow.msc_orders.get(i) for i in order_ids) if o is not None}
    shown = {
        o.id
        for o in orders.values()
        if authority.sees(reader, authority.Read.ORDER, places.of_order(o))
        is authority.DataClass.FULL
    }
    traced = msc.lookback(vials, orders, shown=shown)
    who = sorted({t.recipient for t in traced if t.recipient})
    return Trace([lot.id for lot in lots], traced, who)


def inventory(uow: AbstractUnitOfWork, *, now: datetime) -> JsonObject:
    """Stock by product, lot, site and expiry (no patient data)."""
    vials = uow.msc_vials.stock()
    by_product: Counter[str] = Counter(v.product_code for v in vials)
    by_site: Counter[tuple[str, str]] = Counter((v.site, v.product_code) for v in vials)
    lots: dict[str, JsonObject] = {}
    for v in vials:
        line = lots.setdefault(
            v.lot_id,
            {"lot": v.lot_id, "product": v.product_code, "count": 0, "expires": None, "sites": []},
        )
        line["count"] += 1
        expires = v.expires_at.date().isoformat()
        line["expires"] = min(line["expires"] or expires, expires)
        if v.site not in line["sites"]:
            line["sites"].append(v.site)
    soon = [v for v in vials if v.expires_at <= now + timedelta(days=90)]
    held = [v for v in uow.msc_vials.list() if v.quarantine is not None]
    return {
        "by_product": dict(sorted(by_product.items())),
        "by_site": [{"site": s, "product": p, "count": n} for (s, p), n in sorted(by_site.items())],
        "by_lot": sorted(lots.values(), key=lambda line: (line["expires"], line["lot"])),
        "expiring_within_90_days": len(soon),
        "quarantined": len(held),
    }


def forecast(uow: AbstractUnitOfWork, *, now: datetime, window_days: int = 90) -> list[Any]:
    """When each depot runs short of each product at the vials ordered from it in the
    window, cancelled orders left out (msc.forecast: Poisson rate with a 90% interval)."""
    stock: Counter[tuple[str, str]] = Counter(
        (v.site, v.product_code) for v in uow.msc_vials.stock()
    )
    ordered: Counter[tuple[str, str]] = Counter()
    since = now - timedelta(days=window_days)
    for order in uow.msc_orders.list():
        counted = order.status not in (OrderStatus.REFUSED, OrderStatus.CANCELLED)
        if order.depot and order.placed_at >= since and counted:
            ordered[(order.depot, order.product_code)] += len(order.vial_ids)
    return msc.forecast(stock, ordered, window_days=window_days)


def _keeping_incidents(handler: Callable[..., Order]) -> Callable[..., Order]:
    """A hand-off refused for identity (a wrong vial, a wrong wristband) changes nothing,
    but the refusal is kept: written on the order's ledger in a transaction of its own,
    as the journey keeps a refused scan's incident."""

    @functools.wraps(handler)
    def handle(cmd: Any, uow: AbstractUnitOfWork, *, actor: User, clock: Clock) -> Order:
        try:
            return handler(cmd, uow, actor=actor, clock=clock)
        except IdentityMismatch as refused:
            with uow:
                order = uow.msc_orders.get(cmd.order_id)
                if order is not None:
                    uow.record(
                        order,
                        actor=actor,
                        action=A.MSC_ORDER_IDENTITY_INCIDENT,
                        before=order.snapshot(),
                        reason=f"{type(cmd).__name__}: {refused.message}",
                    )
                    uow.commit()
            raise

    return handle


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.RegisterDonor: register_donor,
    commands.ScreenDonor: screen_donor,
    commands.StartLot: start_lot,
    commands.FillVials: fill_vials,
    commands.CreateStorageUnit: create_storage_unit,
    commands.StoreVial: store_vial,
    commands.ImportUnitReadings: import_unit_readings,
    commands.DisposeVials: dispose_vials,
    commands.PlaceOrder: place_order,
    commands.AllocateOrder: allocate_order,
    commands.CancelOrder: cancel_order,
    commands.ShipOrder: _keeping_incidents(ship_order),
    commands.ReceiveOrder: _keeping_incidents(receive_order),
    commands.InfuseVial: _keeping_incidents(infuse_vial),
    commands.ReturnVial: return_vial,
    commands.RecallLot: recall_lot,
}
