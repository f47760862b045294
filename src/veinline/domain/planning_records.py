"""Planning as stored records: the triage weights in force, and the plans made.

A change of triage weights changes who is treated first, so it is a regulated change
with its reason in the ledger (the issue's "every change of weights recorded").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from veinline.domain.ledger import JsonObject, canonical_json, snapshot_time

TRIAGE_SETTINGS_ID = "triage"


@dataclass(eq=False)
class TriageSettings:
    """The triage weights in force for planning."""

    ENTITY_TYPE = "triage_settings"

    id: str
    weights: JsonObject
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {"id": self.id, "weights": dict(self.weights), "version": self.version}


@dataclass(eq=False)
class PlanRecord:
    """One plan made by veinline: its scenario, its result, and whether it was applied."""

    ENTITY_TYPE = "plan"

    id: str
    created_at: datetime
    created_by: str
    policy: str
    scenario: JsonObject
    plan: JsonObject
    applied_at: datetime | None = None
    applied_cases: list[str] = field(default_factory=list)
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        # Plans of a facility-year run to hundreds of kilobytes: the ledger keeps their
        # hashes and headline figures, so an edit still shows in `ledger verify`.
        metrics = self.plan.get("metrics", {})
        return {
            "id": self.id,
            "created_at": snapshot_time(self.created_at),
            "created_by": self.created_by,
            "policy": self.policy,
            "scenario_sha256": _digest(self.scenario),
            "plan_sha256": _digest(self.plan),
            "objective": self.plan.get("objective"),
            "bound": self.plan.get("bound"),
            "scheduled": metrics.get("scheduled"),
            "unscheduled": metrics.get("unscheduled"),
            "applied_at": snapshot_time(self.applied_at),
            "applied_cases": list(self.applied_cases),
            "version": self.version,
        }


def _digest(value: JsonObject) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
