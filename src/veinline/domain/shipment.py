"""Shipments: a shipper moving a case's material, or an MSC order's vials, between two
sites, with its cold chain.

Excursions outside the product's own limit are found from the logger's readings and
block receipt until QA disposes of them; a cryopreserved product's shipment with no readings
at all is blocked the same way, until its logger file is imported or QA accepts it by
signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from veinline.domain import coldchain
from veinline.domain.coldchain import ShipperType
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.ledger import JsonObject, canonical_json, snapshot_time
from veinline.domain.signature import documented_reason

# A logger that stays silent longer than this leaves a gap QA must see.
MAX_LOGGER_INTERVAL = timedelta(minutes=30)


class ShipmentStatus(StrEnum):
    """Where a shipment is."""

    CREATED = "created"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"


class Leg(StrEnum):
    """Which journey a shipment makes for a case."""

    APHERESIS = "apheresis"
    PRODUCT = "product"
    # An allogeneic order's reserved vials, from the depot to the treatment centre
    # (docs/architecture.md, "Allogeneic MSC").
    VIALS = "vials"


@dataclass(eq=False)
class Shipment:
    """A shipper moving one case's material, or one MSC order's vials, from one site to
    another: exactly one of `case_id` and `order_id` names what it carries."""

    ENTITY_TYPE = "shipment"

    id: str
    case_id: str | None
    leg: Leg
    shipper_type: ShipperType
    from_site: str
    to_site: str
    created_at: datetime
    low_c: float | None
    high_c: float | None
    status: ShipmentStatus = ShipmentStatus.CREATED
    dispatched_at: datetime | None = None
    received_at: datetime | None = None
    readings: list[list[object]] = field(default_factory=list)
    excursions: list[JsonObject] = field(default_factory=list)
    gaps: list[JsonObject] = field(default_factory=list)
    disposition: JsonObject | None = None
    version: int = 1
    order_id: str | None = None
    # The cold-chain summary an MSC order kept before its vials travelled in a shipment
    # (migration 0014): what was checked at receipt then, kept as it was.
    carried: JsonObject | None = None

    @property
    def entity_id(self) -> str:
        return self.id

    @property
    def carrier(self) -> str:
        """What the shipment carries, in words: `case C…` or `order O…`."""
        return f"order {self.order_id}" if self.order_id else f"case {self.case_id}"

    @property
    def readings_sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.readings).encode()).hexdigest()

    def snapshot(self) -> JsonObject:
        # The readings themselves can be thousands of rows: the ledger keeps their hash,
        # so an edit to any reading still shows in `ledger verify`.
        return {
            "id": self.id,
            "case_id": self.case_id,
            "leg": self.leg.value,
            "shipper_type": self.shipper_type.value,
            "from_site": self.from_site,
            "to_site": self.to_site,
            "created_at": snapshot_time(self.created_at),
            "low_c": self.low_c,
            "high_c": self.high_c,
            "status": self.status.value,
            "dispatched_at": snapshot_time(self.dispatched_at),
            "received_at": snapshot_time(self.received_at),
            "reading_count": len(self.readings),
            "readings_sha256": self.readings_sha256,
            "excursions": [dict(e) for e in self.excursions],
            "gaps": [dict(g) for g in self.gaps],
            "disposition": dict(self.disposition) if self.disposition else None,
            "version": self.version,
            # Present only when set, so a case's shipment keeps the snapshot it was
            # ledgered with before shipments carried vials.
            **({"order_id": self.order_id} if self.order_id else {}),
            **({"carried": dict(self.carried)} if self.carried else {}),
        }

    @property
    def limits(self) -> coldchain.TemperatureLimits:
        return coldchain.TemperatureLimits(low=self.low_c, high=self.high_c)

    @property
    def needs_logger(self) -> bool:
        """A cryopreserved product travels with a temperature logger whose readings are
        read before receipt (fresh material at 2-8 °C may travel without one)."""
        return self.shipper_type is ShipperType.LN2_VAPOUR

    @property
    def missing_readings(self) -> bool:
        return self.needs_logger and not self.readings and self.carried is None

    @property
    def question(self) -> str | None:
        """What QA must decide before receipt, or None: the excursions, or a cryopreserved
        shipment that arrived with no logger readings."""
        if self.excursions or (self.carried and self.carried.get("excursion")):
            return "excursions"
        if self.missing_readings:
            return "no logger readings"
        return None

    def may_restock(self) -> str:
        """Why what this shipment carried may not go back to stock, or '' when it may: a
        logger record with no excursion at all (an excursion QA accepted for this
        patient's use does not make a vial fit for another's)."""
        if self.question == "excursions":
            return "the cold-chain record shows a temperature excursion"
        if self.missing_readings or (not self.readings and self.carried is None):
            return "the shipment has no logger readings"
        if self.gaps:
            return f"the logger was silent {len(self.gaps)} time(s) during the shipment"
        return ""

    @property
    def blocked(self) -> bool:
        """Receipt is blocked while an excursion (or a cryopreserved shipment's missing
        logger readings) waits for QA, or after QA rejects it."""
        if self.question is None:
            return False
        return self.disposition is None or self.disposition.get("decision") != "accept"

    def dispatch(self, at: datetime) -> None:
        if self.status is not ShipmentStatus.CREATED:
            raise NotAllowed(f"shipment {self.id} is {self.status.value}: it left already")
        self.status = ShipmentStatus.IN_TRANSIT
        self.dispatched_at = at
        self.version += 1

    def record_readings(self, readings: list[coldchain.Reading]) -> None:
        if self.status is ShipmentStatus.RECEIVED and self.readings:
            raise NotAllowed(f"shipment {self.id} was received: its log is closed")
        if self.disposition and self.disposition.get("decision") == "reject":
            # A rejection is final: new data must not quietly reopen the shipment.
            raise NotAllowed(f"QA rejected shipment {self.id}: its log is closed")
        if not readings:
            raise InvalidInput("the logger file holds no readings")
        self.readings = [[r.at.isoformat(), r.celsius] for r in readings]
        self.excursions = [e.to_dict() for e in coldchain.find_excursions(readings, self.limits)]
        self.gaps = [g.to_dict() for g in coldchain.find_gaps(readings, MAX_LOGGER_INTERVAL)]
        # New data reopens the question for QA.
        self.disposition = None
        self.version += 1

    def dispose(self, decision: str, reason: str, by: str, at: datetime) -> None:
        """QA's decision on the shipment's question (its excursions, or a cryopreserved
        shipment with no logger readings), signed by the caller."""
        question = self.question
        if question is None:
            raise InvalidInput(f"shipment {self.id} has no excursion to dispose of")
        if self.disposition is not None:
            raise NotAllowed(
                f"QA already {self.disposition['decision']}ed the {question} of shipment {self.id}"
            )
        if decision not in ("accept", "reject"):
            raise InvalidInput("QA decides 'accept' or 'reject'")
        documented = documented_reason(reason, f"a disposition of {question}")
        self.disposition = {
            "decision": decision,
            "reason": documented,
            "by": by,
            "at": at.isoformat(),
            **({"about": question} if question != "excursions" else {}),
        }
        self.version += 1

    def receive(self, at: datetime) -> None:
        if self.status is not ShipmentStatus.IN_TRANSIT:
            raise NotAllowed(
                f"shipment {self.id} is {self.status.value.replace('_', ' ')}: "
                "it was not picked up by a courier"
            )
        if self.blocked:
            if self.disposition and self.disposition.get("decision") == "reject":
                raise NotAllowed(
                    f"QA rejected shipment {self.id} after a temperature excursion: "
                    "it cannot be received"
                )
            if self.question == "no logger readings":
                raise NotAllowed(
                    f"shipment {self.id} carries a cryopreserved product and has no logger "
                    "readings: import the logger's file, or QA accepts the receipt without "
                    "readings by signature"
                )
            raise NotAllowed(
                f"shipment {self.id} had {len(self.excursions)} temperature excursion(s) "
                "outside its limit: receipt waits for QA's disposition"
            )
        self.status = ShipmentStatus.RECEIVED
        self.received_at = at
        self.version += 1
