"""The plan: who is collected when, in which suite, and the promised infusion date.

A plan is written as JSON (`plan_to_json`) and read back (`parse_plan`, `load_plan`)
by the CLI and by replanning. The same shape comes out of every policy (optimal,
FIFO, replan), so plans can be compared and checked (`feasibility.check_plan`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from veinline.domain.errors import InvalidInput
from veinline.planning.scenario import describe_validation_error

PLAN_FORMAT: Literal["veinline.plan/1"] = "veinline.plan/1"

Stat = int | float | str | bool | None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Assignment(_Frozen):
    """One patient's booked journey through collection, manufacturing, QC and shipping."""

    patient: str
    apheresis_date: date
    facility: str
    suite: int = Field(ge=1)
    manufacturing_start: date
    manufacturing_end: date
    """First day the suite is free again (the batch occupies start .. end - 1)."""
    release_date: date
    """manufacturing_end + the product's QC days."""
    infusion_date: date
    """release_date + the product's shipping days: the date promised to the centre."""
    fixed: bool = False
    """Started work carried over unchanged."""


class Unscheduled(_Frozen):
    """A patient the plan could not place, and why."""

    patient: str
    reason: str


class PlanMetrics(_Frozen):
    """What a coordinator reads first: deadlines kept and priority-weighted waiting."""

    patients: int
    scheduled: int
    unscheduled: int
    with_deadline: int
    treated_by_deadline: int
    """Patients with a latest infusion date whose planned infusion is on or before it."""
    missed_deadline: int
    """Patients with a latest infusion date planned after it or not planned at all."""
    weighted_wait: int
    """Sum over planned patients of objective weight × days waited beyond the earliest
    possible infusion."""
    mean_wait_days: float
    max_wait_days: int


class Priority(_Frozen):
    """A patient's triage score with its parts (see `veinline.planning.triage`)."""

    patient: str
    score: float
    weight: int
    parts: list[dict[str, Any]]


class Move(_Frozen):
    """A patient whose booking a replan changed, with the reason."""

    patient: str
    reason: str
    before: Assignment | None
    after: Assignment | None
    shift_days: int | None
    """Days the infusion date moved (positive: later)."""


class Plan(_Frozen):
    """A complete plan, as written by `veinline plan` and `veinline replan`."""

    format: Literal["veinline.plan/1"] = PLAN_FORMAT
    policy: Literal["optimal", "fifo", "replan"]
    start_date: date
    horizon_days: int
    assignments: list[Assignment]
    unscheduled: list[Unscheduled]
    objective: int
    """Missed-date charges plus priority-weighted waiting (see `objective.py`)."""
    bound: int | None
    """A proven lower bound on the objective of any plan, if the policy computes one."""
    gap: float | None
    """(objective - bound) / objective."""
    metrics: PlanMetrics
    stats: dict[str, Stat] = Field(default_factory=dict)
    priorities: list[Priority] = Field(default_factory=list)
    moves: list[Move] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    """Replanning events applied so far (failures, slips), oldest first."""

    def assignment(self, patient: str) -> Assignment | None:
        """The booking of this patient, if any."""
        for item in self.assignments:
            if item.patient == patient:
                return item
        return None


def plan_to_json(plan: Plan) -> str:
    """The plan as indented JSON."""
    return json.dumps(plan.model_dump(mode="json"), indent=2) + "\n"


def parse_plan(data: Mapping[str, Any] | str | bytes) -> Plan:
    """Validate a plan given as parsed JSON or JSON text; raise `InvalidInput` if wrong."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"plan is not valid JSON: {error}") from error
    if not isinstance(data, Mapping):
        raise InvalidInput("plan must be a JSON object")
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            "plan is invalid:\n" + describe_validation_error(error, root="")
        ) from error


def load_plan(path: Path) -> Plan:
    """Read and validate a plan JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"cannot read plan file {path}: {error.strerror}") from error
    return parse_plan(text)
