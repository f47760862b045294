"""The parts of a case recorded along the journey, as typed values.

A case (docs/architecture.md, "The case") gathers what happened to the patient's cells:
each apheresis collection, the manufacturing of its batch, QA's release decision as the
case sees it, and the infusion at the bedside. Each part is a frozen dataclass, so it is
replaced whole by the transition that records it, never edited in place. `to_dict` gives
the stored form (the JSON the database column and the ledger snapshot hold, unchanged
from the earlier untyped records) and `from_dict` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from veinline.domain.infusion import Finding
from veinline.domain.ledger import JsonObject


def _moment(data: Mapping[str, Any], key: str) -> datetime | None:
    text = data.get(key)
    return datetime.fromisoformat(str(text)) if text else None


def _text(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Collection:
    """One apheresis collection: the DIN it was given, where, when and by whom, and the
    volume and anticoagulant its label carries (ISBT 128 ST-004 collection labels)."""

    din: str
    check_character: str | None
    collected_at: datetime
    site: str
    by: str
    volume_ml: float | None = None
    anticoagulant: str | None = None

    def to_dict(self) -> JsonObject:
        stored: JsonObject = {
            "din": self.din,
            "check_character": self.check_character,
            "collected_at": self.collected_at.isoformat(),
            "site": self.site,
            "volume_ml": self.volume_ml,
        }
        if self.anticoagulant is not None:
            # Written only when recorded, so collections stored before it read back as is.
            stored["anticoagulant"] = self.anticoagulant
        stored["by"] = self.by
        return stored

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Collection:
        return cls(
            din=str(data["din"]),
            check_character=data.get("check_character"),
            collected_at=datetime.fromisoformat(str(data["collected_at"])),
            site=str(data["site"]),
            by=str(data["by"]),
            volume_ml=_float(data.get("volume_ml")),
            anticoagulant=data.get("anticoagulant"),
        )


@dataclass(frozen=True)
class Manufacturing:
    """The case's batch: started on the process in force, then filled and frozen."""

    batch_id: str
    started_at: datetime
    started_by: str
    completed_at: datetime | None = None
    completed_by: str | None = None
    bag_count: int | None = None
    expires_at: datetime | None = None
    total_cells: float | None = None

    @property
    def completed(self) -> bool:
        return self.completed_at is not None

    def to_dict(self) -> JsonObject:
        stored: JsonObject = {
            "batch_id": self.batch_id,
            "started_at": self.started_at.isoformat(),
            "started_by": self.started_by,
        }
        if self.completed_at is not None:
            stored |= {
                "completed_at": self.completed_at.isoformat(),
                "completed_by": self.completed_by,
                "bag_count": self.bag_count,
                "expires_at": _text(self.expires_at),
                "total_cells": self.total_cells,
            }
        return stored

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manufacturing:
        bags = data.get("bag_count")
        return cls(
            batch_id=str(data["batch_id"]),
            started_at=datetime.fromisoformat(str(data["started_at"])),
            started_by=str(data["started_by"]),
            completed_at=_moment(data, "completed_at"),
            completed_by=data.get("completed_by"),
            bag_count=None if bags is None else int(bags),
            expires_at=_moment(data, "expires_at"),
            total_cells=_float(data.get("total_cells")),
        )


class ReleaseKind(StrEnum):
    """How QA's decision on the batch reached the case."""

    FULL = "full"
    CONDITIONAL = "conditional"
    OUT_OF_SPECIFICATION = "out_of_specification"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ReleaseOutcome:
    """The release decision as the case records it.

    Released (fully or conditionally, 21 CFR 1271.265(d) / EU GMP Annex 16 for an
    out-of-specification product released under a documented justification) carries
    when and by whom; out of specification and rejected carry the reason.
    """

    kind: ReleaseKind
    batch_id: str
    at: datetime | None = None
    by: str | None = None
    reason: str | None = None
    justification: str | None = None
    acknowledged_by: str | None = None

    @property
    def released(self) -> bool:
        return self.kind in (ReleaseKind.FULL, ReleaseKind.CONDITIONAL)

    def to_dict(self) -> JsonObject:
        stored: JsonObject = {"kind": self.kind.value, "batch_id": self.batch_id}
        if self.released:
            stored |= {"at": _text(self.at), "by": self.by}
            if self.kind is ReleaseKind.CONDITIONAL:
                stored |= {
                    "justification": self.justification,
                    "acknowledged_by": self.acknowledged_by,
                }
        else:
            stored["reason"] = self.reason
        return stored

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleaseOutcome:
        return cls(
            kind=ReleaseKind(str(data["kind"])),
            batch_id=str(data["batch_id"]),
            at=_moment(data, "at"),
            by=data.get("by"),
            reason=data.get("reason"),
            justification=data.get("justification"),
            acknowledged_by=data.get("acknowledged_by"),
        )


@dataclass(frozen=True)
class Infusion:
    """The bedside record: the two identifiers checked, the thaw, the dose, and any
    finding a physician overrode with a documented reason."""

    wristband_id: str
    bag_din: str | None
    bag_coi: str | None
    thawed_at: datetime
    infusion_started_at: datetime
    minutes_after_thaw: float
    weight_kg: float
    dose_cells: float
    by: str
    flags: tuple[Finding, ...] = field(default_factory=tuple)
    override_reason: str | None = None

    def to_dict(self) -> JsonObject:
        return {
            "wristband_id": self.wristband_id,
            "bag": {"din": self.bag_din, "coi": self.bag_coi},
            "thawed_at": self.thawed_at.isoformat(),
            "infusion_started_at": self.infusion_started_at.isoformat(),
            "minutes_after_thaw": self.minutes_after_thaw,
            "weight_kg": self.weight_kg,
            "dose_cells": self.dose_cells,
            "flags": [f.to_dict() for f in self.flags],
            "override_reason": self.override_reason,
            "by": self.by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Infusion:
        bag = data.get("bag") or {}
        return cls(
            wristband_id=str(data["wristband_id"]),
            bag_din=bag.get("din"),
            bag_coi=bag.get("coi"),
            thawed_at=datetime.fromisoformat(str(data["thawed_at"])),
            infusion_started_at=datetime.fromisoformat(str(data["infusion_started_at"])),
            minutes_after_thaw=float(data["minutes_after_thaw"]),
            weight_kg=float(data["weight_kg"]),
            dose_cells=float(data["dose_cells"]),
            by=str(data["by"]),
            flags=tuple(
                Finding(check=str(f["check"]), message=str(f["message"]))
                for f in data.get("flags") or ()
            ),
            override_reason=data.get("override_reason"),
        )
