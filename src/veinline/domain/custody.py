"""Chain of custody: every hand-off is a scan that must match what is expected there.

A mismatch is refused and kept as an identity incident; nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from veinline.domain import isbt128
from veinline.domain.case import TRANSITIONS, Action, Case, CaseState
from veinline.domain.errors import DomainError, InvalidInput, NotAllowed
from veinline.domain.ledger import JsonObject, snapshot_time


class CustodyPoint(StrEnum):
    """A place in the journey where the material changes hands and is scanned."""

    COLLECTION = "collection"
    APHERESIS_PICKUP = "apheresis_pickup"
    MANUFACTURING_RECEIPT = "manufacturing_receipt"
    PRODUCT_PICKUP = "product_pickup"
    SITE_RECEIPT = "site_receipt"
    BEDSIDE = "bedside"

    @property
    def label(self) -> str:
        return POINTS[self].label

    @classmethod
    def parse(cls, text: str) -> CustodyPoint:
        try:
            return cls(text.strip())
        except ValueError:
            points = ", ".join(p.value for p in cls)
            raise InvalidInput(f"unknown custody point {text!r}; use one of: {points}") from None


@dataclass(frozen=True)
class PointRule:
    """Where a point sits in the journey: the case action it belongs to (its states are
    that action's sources) and whether the scan fires it, or only records the hand-off."""

    label: str
    action: Action
    fires: bool = False
    shipment_leg: str | None = None

    @property
    def states(self) -> frozenset[CaseState]:
        return TRANSITIONS.sources(self.action)

    @property
    def advances(self) -> Action | None:
        return self.action if self.fires else None


POINTS: dict[CustodyPoint, PointRule] = {
    # The bag is labelled and the courier collects it while the case waits for receipt.
    CustodyPoint.COLLECTION: PointRule(
        "Bag labelled at collection", Action.RECEIVE_AT_MANUFACTURING
    ),
    CustodyPoint.APHERESIS_PICKUP: PointRule(
        "Courier picks up the apheresis material",
        Action.RECEIVE_AT_MANUFACTURING,
        shipment_leg="apheresis",
    ),
    CustodyPoint.MANUFACTURING_RECEIPT: PointRule(
        "Received at manufacturing",
        Action.RECEIVE_AT_MANUFACTURING,
        fires=True,
        shipment_leg="apheresis",
    ),
    CustodyPoint.PRODUCT_PICKUP: PointRule(
        "Courier picks up the released product", Action.SHIP, fires=True, shipment_leg="product"
    ),
    CustodyPoint.SITE_RECEIPT: PointRule(
        "Received at the treatment centre",
        Action.RECEIVE_AT_SITE,
        fires=True,
        shipment_leg="product",
    ),
    # The bedside check is part of the infusion, which records it.
    CustodyPoint.BEDSIDE: PointRule("Bedside check before thaw", Action.INFUSE),
}


# Where each hand-off happens: the case's apheresis unit, its facility or its treatment
# centre. A shipment's own end (its origin at a pickup, its destination at a receipt)
# comes first when there is one: that is where the material is expected.
_PLACE_OF_POINT: dict[CustodyPoint, str] = {
    CustodyPoint.COLLECTION: "apheresis_site",
    CustodyPoint.APHERESIS_PICKUP: "apheresis_site",
    CustodyPoint.MANUFACTURING_RECEIPT: "manufacturing_site",
    CustodyPoint.PRODUCT_PICKUP: "manufacturing_site",
    CustodyPoint.SITE_RECEIPT: "treatment_site",
    CustodyPoint.BEDSIDE: "treatment_site",
}


def expected_place(
    point: CustodyPoint,
    case: Case,
    *,
    shipment_from: str | None = None,
    shipment_to: str | None = None,
) -> str | None:
    """The site where the hand-off at `point` happens for this case."""
    if point in (CustodyPoint.APHERESIS_PICKUP, CustodyPoint.PRODUCT_PICKUP) and shipment_from:
        return shipment_from
    if point in (CustodyPoint.MANUFACTURING_RECEIPT, CustodyPoint.SITE_RECEIPT) and shipment_to:
        return shipment_to
    site = getattr(case, _PLACE_OF_POINT[point])
    return str(site) if site else None


def check_place(
    point: CustodyPoint, expected: str | None, given: str | None, actor_sites: frozenset[str]
) -> str:
    """The place to record for a hand-off: the one given (or else the expected one), if it
    is where the material is expected and the scanning user works there."""
    place = (given or "").strip() or expected
    if place is None:
        raise InvalidInput(f"say where the scan at '{point.label}' happens")
    if expected is not None and place != expected:
        raise NotAllowed(
            f"'{point.label}' happens at {expected}, where the material is expected, "
            f"not at {place}: scan it there"
        )
    if actor_sites and place not in actor_sites:
        raise NotAllowed(
            f"you do not work at {place}: only its staff scan '{point.label}' there "
            f"(you work at {', '.join(sorted(actor_sites))})"
        )
    return place


def open_points(state: CaseState) -> list[CustodyPoint]:
    """The points where a scan belongs while a case is in `state` (whoever scans there)."""
    return [point for point, rule in POINTS.items() if state in rule.states]


class IdentityMismatch(DomainError):
    """A scan that does not match the identifiers expected at this point."""

    code = "identity_mismatch"


@dataclass(frozen=True)
class ScanResult:
    """The identifiers a scan carried, once they are known to match."""

    din: str | None
    coi: str | None

    def to_dict(self) -> JsonObject:
        return {"din": self.din, "coi": self.coi}


def read_identifiers(data: str) -> tuple[str | None, str | None]:
    """The DIN and CoI identifier in barcode data (any other structures are ignored)."""
    try:
        structures = isbt128.parse(data.strip())
    except InvalidInput as exc:
        raise IdentityMismatch(f"the scan could not be read as ISBT 128: {exc.message}") from None
    din = coi = None
    for s in structures:
        if s.number == "001":
            din = str(s.fields["din"])
        elif s.number == "040":
            coi = s.data
    return din, coi


def check_scan(case: Case, data: str, *, require_both: bool = False) -> ScanResult:
    """Compare scanned identifiers with the case's; raise IdentityMismatch on any difference."""
    din, coi = read_identifiers(data)
    if din is None and coi is None:
        raise IdentityMismatch("the scan holds neither a DIN nor a chain-of-identity identifier")
    if require_both and (din is None or coi is None):
        missing = "DIN" if din is None else "chain-of-identity identifier"
        raise IdentityMismatch(f"scan both identifiers on the bag: the {missing} is missing")
    expected_din = case.current_din
    if din is not None and din != expected_din:
        raise IdentityMismatch(
            f"DIN {din} does not belong to case {case.id} (expected {expected_din}): "
            "stop, do not hand over, call the coordinator"
        )
    if coi is not None and coi != case.coi:
        raise IdentityMismatch(
            f"chain-of-identity identifier {coi} does not belong to case {case.id} "
            f"(expected {case.coi}): stop, do not hand over, call the coordinator"
        )
    return ScanResult(din=din, coi=coi)


def guard_scan(case: Case, point: CustodyPoint) -> PointRule:
    """Is this the right point for this case now? (Who may scan there is authority's.)"""
    rule = POINTS[point]
    if case.state not in rule.states:
        when = " or ".join(sorted(s.label.lower() for s in rule.states))
        raise NotAllowed(
            f"case {case.id} is {case.state.label.lower()}: '{rule.label}' "
            f"happens when it is {when}"
        )
    return rule


@dataclass(eq=False)
class CustodyEvent:
    """One hand-off: who, where, when, and what was scanned; of a case's material or of
    an MSC order's vials (`order_id`, with the shipment that carries them)."""

    ENTITY_TYPE = "custody_event"

    id: str
    case_id: str | None
    point: CustodyPoint
    actor: str
    site_code: str | None
    at: datetime
    scan_data: str
    identifiers: JsonObject = field(default_factory=dict)
    shipment_id: str | None = None
    order_id: str | None = None

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "point": self.point.value,
            "actor": self.actor,
            "site_code": self.site_code,
            "at": snapshot_time(self.at),
            "scan_data": self.scan_data,
            "identifiers": dict(self.identifiers),
            "shipment_id": self.shipment_id,
            # Only when set: a case's events keep the snapshot they were ledgered with.
            **({"order_id": self.order_id} if self.order_id else {}),
        }


@dataclass(eq=False)
class IdentityIncident:
    """A refused scan, kept for QA: what was expected, what was scanned, by whom."""

    ENTITY_TYPE = "identity_incident"

    id: str
    case_id: str
    point: str
    actor: str
    at: datetime
    scan_data: str
    message: str

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "point": self.point,
            "actor": self.actor,
            "at": snapshot_time(self.at),
            "scan_data": self.scan_data,
            "message": self.message,
        }
