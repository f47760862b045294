"""Allogeneic MSC: donors, lots, vials in cryostorage, orders, allocation, look-back, recall.

The flow is the opposite of CAR-T: one donor's tissue becomes a lot of many vials that
serve many patients (docs/architecture.md, "Allogeneic MSC"). A lot IS a batch: the
electronic batch record (`domain/batch.py`), its process version and its QC release are
the lot's; this module keeps what the batch record does not: the donor and their
eligibility, the vials filled from a released lot, where each vial is stored, the
orders that reserve them, and the rules that choose which vials a course gets.

Everything here is pure: the service layer (`services/msc.py`) loads the records, calls
these functions and writes the ledger.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from veinline.domain import isbt128
from veinline.domain.custody import IdentityMismatch
from veinline.domain.errors import InvalidInput, NotAllowed, require_text
from veinline.domain.ledger import JsonObject, aware, snapshot_time
from veinline.domain.signature import Meaning, SignatureRecord
from veinline.domain.style import Styled, styled
from veinline.domain.user import User

# ------------------------------------------------------------------ donors

# Relevant communicable disease agents an HCT/P donor is tested for (21 CFR 1271.85(a):
# HIV-1, HIV-2, HBV, HCV, Treponema pallidum). Each must be negative (non-reactive) for
# the donor to be eligible (21 CFR 1271.80(d)); a site may test for more.
REQUIRED_TESTS: tuple[str, ...] = ("hiv_1", "hiv_2", "hbv", "hcv", "syphilis")
NEGATIVE = frozenset({"negative", "non_reactive", "not_detected"})


class DonorStatus(Styled):
    """Whether a donor's tissue may start a lot."""

    PENDING = "pending"
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"


DONOR_STYLE = styled(
    DonorStatus,
    {
        DonorStatus.PENDING: ("Screening pending", "#a16207"),
        DonorStatus.ELIGIBLE: ("Eligible", "#15803d"),
        DonorStatus.INELIGIBLE: ("Ineligible", "#dc2626"),
    },
)


@dataclass(eq=False)
class Donor:
    """One tissue donor, pseudonymous: the collection site keeps its own reference
    (`site_reference`), shown to that site's staff only; everyone else sees the id."""

    ENTITY_TYPE = "msc_donor"

    id: str
    site: str
    site_reference: str
    consent: JsonObject
    registered_at: datetime
    registered_by: str
    status: DonorStatus = DonorStatus.PENDING
    screening: JsonObject = field(default_factory=dict)
    review: SignatureRecord | None = None
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "site": self.site,
            "site_reference": self.site_reference,
            "consent": dict(self.consent),
            "registered_at": snapshot_time(self.registered_at),
            "registered_by": self.registered_by,
            "status": self.status.value,
            "screening": dict(self.screening),
            "review": self.review.to_dict() if self.review else None,
            "version": self.version,
        }

    def screen(
        self,
        results: Mapping[str, str],
        *,
        questionnaire_passed: bool,
        by: User,
        at: datetime,
    ) -> DonorStatus:
        """QA reviews and signs the screening and test results; the donor is eligible only
        with consent, a passed questionnaire and every required test negative."""
        if self.review is not None:
            raise NotAllowed(f"donor {self.id} was reviewed already ({self.status.label})")
        cleaned = {str(k).strip().lower(): str(v).strip().lower() for k, v in results.items()}
        reasons: list[str] = []
        if not self.consent.get("given"):
            reasons.append("no consent on file")
        if not questionnaire_passed:
            reasons.append("donor screening questionnaire not passed")
        for test in REQUIRED_TESTS:
            value = cleaned.get(test)
            if value is None:
                reasons.append(f"{test} not tested")
            elif value not in NEGATIVE:
                reasons.append(f"{test} {value}")
        for test, value in cleaned.items():
            if test not in REQUIRED_TESTS and value not in NEGATIVE:
                reasons.append(f"{test} {value}")
        self.status = DonorStatus.INELIGIBLE if reasons else DonorStatus.ELIGIBLE
        self.screening = {
            "results": cleaned,
            "questionnaire_passed": questionnaire_passed,
            "reasons": reasons,
        }
        self.review = SignatureRecord.of(by, Meaning.REVIEWED, aware(at), self.snapshot())
        self.version += 1
        return self.status

    def guard_start_lot(self) -> None:
        """An ineligible (or unreviewed) donor's tissue never starts a lot."""
        if self.status is not DonorStatus.ELIGIBLE:
            why = "; ".join(self.screening.get("reasons", [])) or "screening not reviewed"
            raise NotAllowed(f"donor {self.id} is {self.status.label.lower()} ({why}): no lot")


def new_donor(
    donor_id: str,
    site: str,
    site_reference: str,
    *,
    consent_given: bool,
    consent_date: str,
    by: User,
    at: datetime,
) -> Donor:
    check_id(donor_id, "donor id")
    return Donor(
        id=donor_id,
        site=site,
        site_reference=require_text(site_reference, "the collection site's donor reference"),
        consent={"given": consent_given, "date": consent_date},
        registered_at=aware(at),
        registered_by=by.username,
    )


def check_id(value: str, what: str) -> str:
    text = value.strip()
    if not text or len(text) > 40 or not all(ch.isalnum() or ch == "-" for ch in text):
        raise InvalidInput(f"{what} {value!r}: use 1-40 letters, digits and hyphens")
    return text


# ------------------------------------------------------------------ lots and vials


@dataclass(eq=False)
class Lot:
    """One donor's tissue made into one batch (`batch_id`, the batch record) under its
    own DIN; released or rejected as the batch is. A recall is signed by QA."""

    ENTITY_TYPE = "msc_lot"

    id: str
    product_code: str
    donor_id: str
    batch_id: str
    site: str
    market: str
    din: str
    started_at: datetime
    filled: int = 0
    recall: JsonObject | None = None
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "product_code": self.product_code,
            "donor_id": self.donor_id,
            "batch_id": self.batch_id,
            "site": self.site,
            "market": self.market,
            "din": self.din,
            "started_at": snapshot_time(self.started_at),
            "filled": self.filled,
            "recall": dict(self.recall) if self.recall else None,
            "version": self.version,
        }


class VialStatus(Styled):
    """Where a vial is in its life."""

    FILLED = "filled"  # labelled, not yet put away
    STORED = "stored"
    RESERVED = "reserved"
    SHIPPED = "shipped"
    RECEIVED = "received"
    THAWED = "thawed"
    INFUSED = "infused"
    DISCARDED = "discarded"

    @property
    def in_hand(self) -> bool:
        """Out of the depot, with the patient's team or on its way there."""
        return self in (VialStatus.SHIPPED, VialStatus.RECEIVED, VialStatus.THAWED)


VIAL_STYLE = styled(
    VialStatus,
    {
        VialStatus.FILLED: ("Filled, not put away", "#9333ea"),
        VialStatus.STORED: ("In storage", "#2563eb"),
        VialStatus.RESERVED: ("Reserved", "#a16207"),
        VialStatus.SHIPPED: ("Shipped", "#0e7490"),
        VialStatus.RECEIVED: ("Received at site", "#0f766e"),
        VialStatus.THAWED: ("Thawed", "#c2410c"),
        VialStatus.INFUSED: ("Infused", "#15803d"),
        VialStatus.DISCARDED: ("Discarded", "#374151"),
    },
)

# ST-001 §2.4.3: a divided product's divisions are A–Z in position 7 and a–z or 0–9 in
# position 8 of the product code; each vial of a lot is one division.
_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SECOND = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_DIVISIONS = len(_FIRST) * len(_SECOND)


def division(number: int) -> str:
    """The ISBT 128 division of the `number`th vial of a lot (1 → 'A0', 37 → 'B0')."""
    if not 1 <= number <= MAX_DIVISIONS:
        raise InvalidInput(f"a DIN has at most {MAX_DIVISIONS} divisions, not vial {number}")
    first, second = divmod(number - 1, len(_SECOND))
    return _FIRST[first] + _SECOND[second]


@dataclass(eq=False)
class Vial:
    """One vial of a lot: the lot's DIN, its own division, its cells, volume and expiry;
    at most one storage position and at most one order (both enforced by the database)."""

    ENTITY_TYPE = "msc_vial"

    id: str
    lot_id: str
    product_code: str
    din: str
    division: str
    cells: float
    volume_ml: float
    expires_at: datetime
    site: str
    status: VialStatus = VialStatus.FILLED
    position: str | None = None
    order_id: str | None = None
    quarantine: JsonObject | None = None
    history: list[JsonObject] = field(default_factory=list)
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    @property
    def barcode(self) -> str:
        """What a scanner reads from the vial: DIN and division."""
        return f"{self.din}{self.division}"

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "lot_id": self.lot_id,
            "product_code": self.product_code,
            "din": self.din,
            "division": self.division,
            "cells": self.cells,
            "volume_ml": self.volume_ml,
            "expires_at": snapshot_time(self.expires_at),
            "site": self.site,
            "status": self.status.value,
            "position": self.position,
            "order_id": self.order_id,
            "quarantine": dict(self.quarantine) if self.quarantine else None,
            "history": [dict(h) for h in self.history],
            "version": self.version,
        }

    def note(self, what: str, by: User, at: datetime, **more: object) -> None:
        self.history = [
            *self.history,
            {"what": what, "by": by.username, "at": snapshot_time(aware(at)), **more},
        ]
        self.version += 1

    def put_away(self, unit: StorageUnit, position: str, *, by: User, at: datetime) -> None:
        """Put the vial into a free position of a unit (or move it there): a custody event."""
        if self.status not in (VialStatus.FILLED, VialStatus.STORED):
            raise NotAllowed(f"vial {self.id} is {self.status.label.lower()}: it cannot be stored")
        address = unit.address(position)
        was = self.position
        self.position = address
        self.site = unit.site
        self.status = VialStatus.STORED
        self.note("moved" if was else "put away", by, at, position=address, was=was)

    def return_to_stock(self, unit: StorageUnit, position: str, *, by: User, at: datetime) -> None:
        """An unused vial back into storage, out of its order (the caller has checked the
        cold-chain record with `may_return`)."""
        order, self.order_id = self.order_id, None
        self.status = VialStatus.FILLED
        self.put_away(unit, position, by=by, at=at)
        self.note("returned to stock", by, at, order=order)

    def take_out(self, *, by: User, at: datetime, why: str) -> None:
        self.position, was = None, self.position
        self.note("taken out", by, at, was=was, why=why)

    @property
    def quarantined(self) -> bool:
        return self.quarantine is not None

    def hold(self, reason: str, source: str, *, by: User, at: datetime) -> None:
        """Quarantine the vial (a storage alarm, a recall): never allocated until disposed."""
        if self.status in (VialStatus.INFUSED, VialStatus.DISCARDED):
            return
        self.quarantine = {"reason": reason, "source": source, "at": snapshot_time(aware(at))}
        self.note("quarantined", by, at, reason=reason)

    def dispose(self, *, release: bool, reason: str, by: User, at: datetime) -> None:
        """QA's signed decision on a quarantined vial: back to stock, or discarded."""
        if self.quarantine is None:
            raise NotAllowed(f"vial {self.id} is not quarantined")
        if release and self.quarantine.get("source") == "recall":
            raise NotAllowed(f"vial {self.id} is recalled: it cannot go back to stock")
        self.quarantine = None
        if not release:
            self.status, self.position = VialStatus.DISCARDED, None
        self.note("released from quarantine" if release else "discarded", by, at, reason=reason)


def available(
    vial: Vial, *, released_lots: set[str], now: datetime, needed_until: datetime
) -> bool:
    """Whether a vial may be allocated: stored, in a released lot, unquarantined, in no
    order, and unexpired until the course could be given."""
    return (
        vial.status is VialStatus.STORED
        and vial.order_id is None
        and vial.quarantine is None
        and vial.lot_id in released_lots
        and vial.expires_at > max(now, needed_until)
    )


# ------------------------------------------------------------------ storage


class UnitKind(Styled):
    LN2_TANK = "ln2_tank"
    FREEZER = "freezer"


UNIT_STYLE = styled(
    UnitKind,
    {
        UnitKind.LN2_TANK: ("Liquid-nitrogen tank", "#1d4ed8"),
        UnitKind.FREEZER: ("Freezer", "#0e7490"),
    },
)

_ROWS = "ABCDEFGHIJKLMNOP"


@dataclass(eq=False)
class StorageUnit:
    """An LN2 tank or a freezer at one site: racks of boxes, each box a grid of positions.

    A position is addressed `UNIT/R<rack>/B<box>/<row letter><column>` (e.g.
    `TANK-1/R2/B3/C4`); the vials table holds each vial's address under a UNIQUE
    constraint, so two vials never share one."""

    ENTITY_TYPE = "storage_unit"

    id: str
    site: str
    kind: UnitKind
    racks: int
    boxes_per_rack: int
    rows: int
    columns: int
    max_c: float
    alarm: JsonObject | None = None
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    @property
    def capacity(self) -> int:
        return self.racks * self.boxes_per_rack * self.rows * self.columns

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "site": self.site,
            "kind": self.kind.value,
            "racks": self.racks,
            "boxes_per_rack": self.boxes_per_rack,
            "rows": self.rows,
            "columns": self.columns,
            "max_c": self.max_c,
            "alarm": dict(self.alarm) if self.alarm else None,
            "version": self.version,
        }

    def address(self, position: str) -> str:
        """The full address of a position given whole or without the unit's id."""
        text = position.strip()
        if not text.startswith(f"{self.id}/"):
            text = f"{self.id}/{text}"
        parts = text.split("/")
        try:
            _, rack, box, slot = parts
            r, b = int(rack.removeprefix("R")), int(box.removeprefix("B"))
            row, column = _ROWS.index(slot[0]) + 1, int(slot[1:])
        except (ValueError, IndexError):
            raise InvalidInput(
                f"{position!r} is not a position of {self.id}: write R<rack>/B<box>/<row><col>,"
                " e.g. R1/B1/A1"
            ) from None
        if not (
            rack.startswith("R")
            and box.startswith("B")
            and 1 <= r <= self.racks
            and 1 <= b <= self.boxes_per_rack
            and 1 <= row <= self.rows
            and 1 <= column <= self.columns
        ):
            raise InvalidInput(
                f"{position!r} is outside {self.id} ({self.racks} racks × {self.boxes_per_rack} "
                f"boxes × {self.rows}×{self.columns} positions)"
            )
        return text

    def positions(self) -> Iterable[str]:
        """Every address, rack by rack, box by box, row by row."""
        for r in range(1, self.racks + 1):
            for b in range(1, self.boxes_per_rack + 1):
                for row in range(self.rows):
                    for c in range(1, self.columns + 1):
                        yield f"{self.id}/R{r}/B{b}/{_ROWS[row]}{c}"

    def first_free(self, taken: set[str]) -> str:
        for address in self.positions():
            if address not in taken:
                return address
        raise NotAllowed(f"storage unit {self.id} is full ({self.capacity} positions)")

    def raise_alarm(self, readings: Sequence[tuple[datetime, float]]) -> JsonObject | None:
        """A temperature above the unit's limit in imported readings: the alarm (the
        service quarantines what the unit holds), or None."""
        over = [(at, c) for at, c in readings if c > self.max_c]
        if not over:
            return None
        worst = max(c for _, c in over)
        self.alarm = {
            "from": snapshot_time(aware(over[0][0])),
            "to": snapshot_time(aware(over[-1][0])),
            "max_c": worst,
            "limit_c": self.max_c,
        }
        self.version += 1
        return self.alarm


def new_unit(
    unit_id: str,
    site: str,
    kind: str,
    *,
    racks: int,
    boxes_per_rack: int,
    rows: int,
    columns: int,
    max_c: float = -150.0,
) -> StorageUnit:
    check_id(unit_id, "storage unit id")
    try:
        parsed = UnitKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in UnitKind)
        raise InvalidInput(f"{kind!r} is not a storage unit kind; use one of: {choices}") from None
    for name, value, top in (
        ("racks", racks, 50),
        ("boxes per rack", boxes_per_rack, 50),
        ("rows", rows, len(_ROWS)),
        ("columns", columns, 16),
    ):
        if not 1 <= value <= top:
            raise InvalidInput(f"{name} must be between 1 and {top}, not {value}")
    return StorageUnit(unit_id, site, parsed, racks, boxes_per_rack, rows, columns, max_c)


# ------------------------------------------------------------------ the dose


@dataclass(frozen=True)
class Course:
    """What a course needs: vials per infusion, infusions, and how it was rounded."""

    cells_per_kg: float
    weight_kg: float
    infusions: int
    cells_per_vial: float
    vials_per_infusion: int
    rounding: str

    @property
    def vials(self) -> int:
        return self.vials_per_infusion * self.infusions

    def to_dict(self) -> JsonObject:
        return {
            "cells_per_kg": self.cells_per_kg,
            "weight_kg": self.weight_kg,
            "infusions": self.infusions,
            "cells_per_vial": self.cells_per_vial,
            "vials_per_infusion": self.vials_per_infusion,
            "vials": self.vials,
            "rounding": self.rounding,
        }


def course_of(dose_rule: JsonObject | None, weight_kg: float, cells_per_vial: float) -> Course:
    """The course from the product's dose rule (cells per kg per infusion, number of
    infusions) and the patient's weight, in whole vials.

    Rounding: each infusion gets the fewest whole vials that hold at least the dose
    (rounded up, so no infusion is under-dosed; the extra cells are stated), and every
    infusion of the course gets the same number."""
    if not dose_rule or dose_rule.get("kind") != "per_kg":
        raise NotAllowed("the product has no per-kg dose rule in the catalogue: no course")
    if not 1 <= weight_kg <= 350:
        raise InvalidInput(f"a weight of {weight_kg:g} kg is not plausible")
    if cells_per_vial <= 0:
        raise InvalidInput("cells per vial must be positive")
    per_kg = float(dose_rule["cells_per_kg"])
    infusions = int(dose_rule.get("infusions", 1))
    dose = per_kg * weight_kg
    exact = dose / cells_per_vial
    vials = max(1, math.ceil(exact - 1e-9))
    given = vials * cells_per_vial
    rounding = (
        f"{per_kg:.3g} cells/kg × {weight_kg:g} kg = {dose:.3g} cells per infusion = "
        f"{exact:.2f} vials of {cells_per_vial:.3g}; rounded up to {vials} whole vial(s) "
        f"({given:.3g} cells, {given / weight_kg:.3g} cells/kg) × {infusions} infusion(s)"
    )
    return Course(per_kg, weight_kg, infusions, cells_per_vial, vials, rounding)


# ------------------------------------------------------------------ orders


class OrderStatus(Styled):
    REFUSED = "refused"
    PLACED = "placed"
    SHORT = "short"
    ALLOCATED = "allocated"
    SHIPPED = "shipped"
    RECEIVED = "received"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def open(self) -> bool:
        return self in (OrderStatus.PLACED, OrderStatus.SHORT, OrderStatus.ALLOCATED)


ORDER_STYLE = styled(
    OrderStatus,
    {
        OrderStatus.REFUSED: ("Refused: not eligible", "#dc2626"),
        OrderStatus.PLACED: ("Placed", "#6b7280"),
        OrderStatus.SHORT: ("Short of stock", "#c2410c"),
        OrderStatus.ALLOCATED: ("Vials reserved", "#a16207"),
        OrderStatus.SHIPPED: ("Shipped", "#0e7490"),
        OrderStatus.RECEIVED: ("Received at site", "#0f766e"),
        OrderStatus.COMPLETED: ("Course infused", "#15803d"),
        OrderStatus.CANCELLED: ("Cancelled", "#6b7280"),
    },
)


@dataclass(eq=False)
class Order:
    """A physician's order of a product for one patient: their name and wristband (kept
    in `patient_name` and `wristband_id`, shown only to the care team), the eligibility
    answer, the course, the depot and the vials reserved."""

    ENTITY_TYPE = "msc_order"

    id: str
    product_code: str
    jurisdiction: str
    treatment_site: str
    physician: str
    patient_name: str
    wristband_id: str
    patient_facts: JsonObject
    weight_kg: float
    placed_at: datetime
    eligibility: JsonObject
    status: OrderStatus = OrderStatus.PLACED
    course: JsonObject = field(default_factory=dict)
    depot: str | None = None
    vial_ids: list[str] = field(default_factory=list)
    shortage: JsonObject | None = None
    events: list[JsonObject] = field(default_factory=list)
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "product_code": self.product_code,
            "jurisdiction": self.jurisdiction,
            "treatment_site": self.treatment_site,
            "physician": self.physician,
            "patient_name": self.patient_name,
            "wristband_id": self.wristband_id,
            "patient_facts": dict(self.patient_facts),
            "weight_kg": self.weight_kg,
            "placed_at": snapshot_time(self.placed_at),
            "eligibility": dict(self.eligibility),
            "status": self.status.value,
            "course": dict(self.course),
            "depot": self.depot,
            "vial_ids": list(self.vial_ids),
            "shortage": dict(self.shortage) if self.shortage else None,
            "events": [dict(e) for e in self.events],
            "version": self.version,
        }

    def note(self, what: str, by: User, at: datetime, **more: object) -> None:
        self.events = [
            *self.events,
            {"what": what, "by": by.username, "at": snapshot_time(aware(at)), **more},
        ]
        self.version += 1

    def guard(self, *allowed: OrderStatus, doing: str) -> None:
        if self.status not in allowed:
            raise NotAllowed(f"order {self.id} is {self.status.label.lower()}: it cannot {doing}")


# ------------------------------------------------------------------ allocation


@dataclass(frozen=True)
class Allocation:
    """The answer to an order: a depot and its vials, or what is short and when."""

    depot: str | None
    vial_ids: tuple[str, ...]
    hours: float | None
    short: int = 0
    message: str = ""
    expected: str | None = None

    @property
    def complete(self) -> bool:
        return self.depot is not None and self.short == 0


def fefo(vials: Iterable[Vial]) -> list[Vial]:
    """First-expiry-first-out: the earliest expiry first (then lot and division)."""
    return sorted(vials, key=lambda v: (v.expires_at, v.lot_id, v.division))


def allocate(
    needed: int,
    candidates: Iterable[Vial],
    *,
    transport_hours: Mapping[str, float],
    released_lots: set[str],
    now: datetime,
    incoming: Sequence[tuple[datetime, int]] = (),
) -> Allocation:
    """Reserve a whole course: from the depot that can deliver soonest (its transport time
    to the treatment centre; depots with no lane there are not used) that holds enough
    allocatable vials, the first-expiring ones. A vial must stay unexpired until it
    arrives. With no depot able to serve the whole course, nothing is reserved and the
    answer says how many vials are short and when stock is expected (`incoming`: lots
    expected, with their vial counts)."""
    if needed < 1:
        raise InvalidInput("an order needs at least one vial")
    by_depot: dict[str, list[Vial]] = {}
    for vial in candidates:
        hours = transport_hours.get(vial.site)
        if hours is None:
            continue
        arrival = now + timedelta(hours=hours)
        if available(vial, released_lots=released_lots, now=now, needed_until=arrival):
            by_depot.setdefault(vial.site, []).append(vial)
    ranked = sorted(by_depot, key=lambda depot: (transport_hours[depot], depot))
    for depot in ranked:
        stock = by_depot[depot]
        if len(stock) >= needed:
            chosen = fefo(stock)[:needed]
            return Allocation(depot, tuple(v.id for v in chosen), transport_hours[depot])
    best = max((len(v) for v in by_depot.values()), default=0)
    short = needed - best
    expected = None
    total = best
    for at, count in sorted(incoming):
        total += count
        if total >= needed:
            expected = snapshot_time(at)
            break
    where = ", ".join(f"{d}: {len(by_depot[d])}" for d in ranked) or "no depot has any"
    message = (
        f"{needed} vial(s) needed; no depot that reaches the centre holds them all "
        f"({where}): {short} short"
    )
    message += f"; stock expected by {expected}" if expected else "; no stock expected yet"
    return Allocation(None, (), None, short=short, message=message, expected=expected)


# ------------------------------------------------------------------ custody


def read_vial_scan(scan: str, *, isbt_product_code: str | None = None) -> str:
    """The DIN and division a vial's scan carries (`Vial.barcode`).

    Either the label's ISBT 128 barcodes read together (the DIN, data structure 001, and
    the product code, 003, whose positions 7-8 are the vial's division, ST-001 §2.4.3),
    whose product description code must be the product's when the catalogue has one; or
    the short form printed beside them and typed by hand, `=` DIN then division."""
    text = scan.strip()
    if "=<" not in text:
        return text.removeprefix("=")
    try:
        structures = isbt128.parse(text)
    except InvalidInput as exc:
        raise IdentityMismatch(f"the scan could not be read as ISBT 128: {exc.message}") from None
    din = division = code = None
    for s in structures:
        if s.number == "001":
            din = str(s.fields["din"])
        elif s.number == "003":
            division = s.fields.get("division")
            code = str(s.fields["product_description_code"])
    if din is None or not division:
        raise IdentityMismatch(
            "scan the vial's DIN and its product code together: one of them is missing"
        )
    if isbt_product_code is not None and code != isbt_product_code:
        raise IdentityMismatch(
            f"product code {code} is not this product's ({isbt_product_code}): stop and "
            "check the vial"
        )
    return f"{din}{division}"


def check_scans(
    vials: Sequence[Vial],
    scans: Sequence[str],
    *,
    point: str,
    isbt_product_code: str | None = None,
) -> JsonObject:
    """A hand-off of an order's vials: every vial scanned (its DIN and division, and the
    product code when the label carries one), none that is not the order's, none twice;
    otherwise the hand-off is refused, as a journey custody scan is (`IdentityMismatch`).
    The identifiers read, for the custody event."""
    expected = {v.barcode: v.id for v in vials}
    seen = [
        read_vial_scan(scan, isbt_product_code=isbt_product_code) for scan in scans if scan.strip()
    ]
    unknown = sorted({s for s in seen if s not in expected})
    twice = sorted({s for s in seen if seen.count(s) > 1})
    missing = sorted(expected[b] for b in expected if b not in seen)
    problems = []
    if unknown:
        problems.append(f"not this order's: {', '.join(unknown)}")
    if twice:
        problems.append(f"scanned twice: {', '.join(twice)}")
    if missing:
        problems.append(f"not scanned: {', '.join(missing)}")
    if problems:
        raise IdentityMismatch(f"{point}: " + "; ".join(problems) + ". Stop and check the vials")
    dins = sorted({v.din for v in vials})
    return {"dins": dins, "vials": sorted(seen)}


# ------------------------------------------------------------------ return to stock


def may_return(
    vial: Vial, *, cold_chain: str, out_since: datetime, now: datetime, hours: float
) -> str:
    """Why an unused vial may not go back to stock, or '' when it may: never thawed, its
    shipment's cold-chain record allowing it (`cold_chain`: the shipment's refusal, from
    `Shipment.may_restock`, or ''), and back within `hours`."""
    if vial.status not in (VialStatus.SHIPPED, VialStatus.RECEIVED, VialStatus.RESERVED):
        return f"vial {vial.id} is {vial.status.label.lower()}"
    if cold_chain:
        return cold_chain
    if now - out_since > timedelta(hours=hours):
        return f"it has been out of storage more than {hours:g} hours"
    return ""


# ------------------------------------------------------------------ look-back and recall


@dataclass(frozen=True)
class Traced:
    vial_id: str
    lot_id: str
    status: str
    where: str
    order_id: str | None
    recipient: str | None


def lookback(
    vials: Iterable[Vial], orders: Mapping[str, Order], *, shown: Container[str]
) -> list[Traced]:
    """Every vial, where it is, and who received it: the patient's name and wristband for
    the orders in `shown` (those whose care team is reading), the order id otherwise."""
    out: list[Traced] = []
    for vial in sorted(vials, key=lambda v: (v.lot_id, v.division)):
        order = orders.get(vial.order_id) if vial.order_id else None
        where = vial.position or vial.site
        recipient = None
        if order is not None and vial.status in (VialStatus.INFUSED, VialStatus.THAWED):
            full = order.id in shown
            recipient = f"{order.patient_name} ({order.wristband_id})" if full else order.id
        out.append(Traced(vial.id, vial.lot_id, vial.status.value, where, vial.order_id, recipient))
    return out


def recipients(vials: Iterable[Vial]) -> list[str]:
    """The orders whose patients received (or hold) a vial: whom a recall notifies."""
    return sorted(
        {
            str(v.order_id)
            for v in vials
            if v.order_id and (v.status is VialStatus.INFUSED or v.status.in_hand)
        }
    )


def recall_lot(
    lot: Lot, vials: Iterable[Vial], *, reason: str, by: User, at: datetime
) -> list[Vial]:
    """Quarantine every unused vial of the lot at once; the vials it held back."""
    if lot.recall is not None:
        raise NotAllowed(f"lot {lot.id} was recalled already")
    why = require_text(reason, "a reason for the recall")
    held = []
    for vial in vials:
        if vial.status in (VialStatus.INFUSED, VialStatus.DISCARDED):
            continue
        vial.hold(why, "recall", by=by, at=at)
        held.append(vial)
    lot.recall = {
        "reason": why,
        "by": by.username,
        "at": snapshot_time(aware(at)),
        "held": len(held),
    }
    lot.version += 1
    return held


# ------------------------------------------------------------------ forecast


@dataclass(frozen=True)
class Forecast:
    """When a depot runs short of a product at the recent order rate, with a 90% interval."""

    depot: str
    product_code: str
    stock: int
    ordered: int
    window_days: int
    rate_per_day: float
    rate_low: float
    rate_high: float
    days_left: float | None
    days_low: float | None
    days_high: float | None

    def to_dict(self) -> JsonObject:
        return {
            "depot": self.depot,
            "product_code": self.product_code,
            "stock": self.stock,
            "ordered_in_window": self.ordered,
            "window_days": self.window_days,
            "rate_per_day": round(self.rate_per_day, 4),
            "rate_90": [round(self.rate_low, 4), round(self.rate_high, 4)],
            "days_left": None if self.days_left is None else round(self.days_left, 1),
            "days_left_90": [
                None if self.days_low is None else round(self.days_low, 1),
                None if self.days_high is None else round(self.days_high, 1),
            ],
        }


def forecast(
    stock: Mapping[tuple[str, str], int],
    ordered: Mapping[tuple[str, str], int],
    *,
    window_days: int = 90,
) -> list[Forecast]:
    """Days until each (depot, product) runs out at the recent order rate.

    Vials ordered in the window are taken as a Poisson count: the rate is count/window
    with its exact 90% interval (Garwood, from the chi-square distribution); days left
    are stock/rate, the interval from the rate's bounds. No orders: the rate's upper
    bound alone (stock lasts at least stock/upper)."""
    from scipy.stats import chi2

    out: list[Forecast] = []
    for key in sorted(set(stock) | set(ordered)):
        depot, product = key
        n = int(ordered.get(key, 0))
        have = int(stock.get(key, 0))
        low = 0.0 if n == 0 else float(chi2.ppf(0.05, 2 * n)) / 2
        high = float(chi2.ppf(0.95, 2 * n + 2)) / 2
        rate, rate_low, rate_high = n / window_days, low / window_days, high / window_days
        days = have / rate if rate > 0 else None
        days_low = have / rate_high if rate_high > 0 else None
        days_high = have / rate_low if rate_low > 0 else None
        out.append(
            Forecast(
                depot,
                product,
                have,
                n,
                window_days,
                rate,
                rate_low,
                rate_high,
                days,
                days_low,
                days_high,
            )
        )
    return out
