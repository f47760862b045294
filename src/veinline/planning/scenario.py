"""The planning scenario: products, facilities, apheresis centres, QC and waiting patients.

A scenario is the whole input of a plan. It is read from JSON (see
`docs/planning/scenario.schema.json`) and validated here, so the scheduler can trust
it: every reference (product, centre, facility, suite) must resolve, and every error
names the field that is wrong, e.g. ``patients[3].product: unknown product 'CT999'``.

Days are calendar dates; the planner counts whole days from `start_date`. A batch
occupies its suite from `manufacturing_start` up to, but not including,
`manufacturing_end`, so another batch may start in that suite on the end date.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from veinline.domain.errors import InvalidInput
from veinline.planning.weights import TriageWeights

Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]

#: Longest planning horizon accepted: ten years of days.
MAX_HORIZON_DAYS = 3660


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Product(_Frozen):
    """A therapy's process times: manufacturing, QC release testing and shipping."""

    code: Identifier
    manufacturing_days: int = Field(ge=1, le=120, description="days a batch occupies a suite")
    qc_days: int = Field(ge=0, le=120, description="release testing: manufacturing end to release")
    ship_days: int = Field(ge=0, le=30, description="release to infusion at the centre")
    failure_rate: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="share of batches that fail (for simulation)"
    )

    @property
    def days_after_start(self) -> int:
        """Days from manufacturing start to infusion when nothing waits."""
        return self.manufacturing_days + self.qc_days + self.ship_days


class SuiteClosure(_Frozen):
    """Days (inclusive) on which one suite takes no batch, e.g. a maintenance shutdown."""

    suite: int = Field(ge=1)
    first_day: date
    last_day: date

    @model_validator(mode="after")
    def _ordered(self) -> SuiteClosure:
        if self.last_day < self.first_day:
            raise ValueError(f"last_day {self.last_day} is before first_day {self.first_day}")
        return self


class Facility(_Frozen):
    """A GMP manufacturing facility with identical clean-room suites, numbered from 1."""

    id: Identifier
    suites: int = Field(ge=1, le=500, description="number of identical suites, numbered 1..n")
    closures: list[SuiteClosure] = Field(
        default_factory=list, description="days on which a suite takes no batch"
    )

    @model_validator(mode="after")
    def _closures_name_real_suites(self) -> Facility:
        for index, closure in enumerate(self.closures):
            if closure.suite > self.suites:
                raise ValueError(
                    f"closures[{index}].suite: suite {closure.suite} does not exist "
                    f"(facility {self.id} has suites 1..{self.suites})"
                )
        return self


class ApheresisCentre(_Frozen):
    """A treatment centre that collects cells, with its daily collection capacity."""

    id: Identifier
    daily_capacity: int = Field(ge=1, le=1000, description="collections per day")
    transport_days: dict[Identifier, Annotated[int, Field(ge=0, le=30)]] = Field(
        min_length=1,
        description="days from collection to manufacturing start, per facility it ships to",
    )


class QualityControl(_Frozen):
    """How many batches each facility's QC laboratory can take in per day."""

    daily_capacity: dict[Identifier, Annotated[int, Field(ge=1, le=1000)]] = Field(
        default_factory=dict
    )


class Patient(_Frozen):
    """One autologous patient waiting for a manufacturing slot, with the triage inputs."""

    id: Identifier
    product: Identifier = Field(description="code of the product to manufacture")
    centre: Identifier = Field(description="id of the apheresis centre that collects")
    ready_date: date = Field(description="earliest day the patient can be collected")
    latest_infusion_date: date | None = Field(
        default=None, description="the last day the infusion is still of use (clinical window)"
    )
    urgency: int = Field(default=3, ge=1, le=5, description="1 = can wait, 5 = most urgent")
    waitlisted_since: date | None = Field(
        default=None, description="day the patient joined the waiting list"
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> Patient:
        if self.latest_infusion_date is not None and self.latest_infusion_date < self.ready_date:
            raise ValueError(
                f"latest_infusion_date {self.latest_infusion_date} is before "
                f"ready_date {self.ready_date}"
            )
        return self


class FixedAssignment(_Frozen):
    """Work already started (cells collected), which every plan must keep as it is."""

    patient: Identifier
    facility: Identifier
    suite: int = Field(ge=1)
    apheresis_date: date
    manufacturing_start: date
    manufacturing_end: date | None = Field(
        default=None, description="only when the batch runs longer than the product's days"
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> FixedAssignment:
        if self.manufacturing_start < self.apheresis_date:
            raise ValueError(
                f"manufacturing_start {self.manufacturing_start} is before "
                f"apheresis_date {self.apheresis_date}"
            )
        if (
            self.manufacturing_end is not None
            and self.manufacturing_end <= self.manufacturing_start
        ):
            raise ValueError(
                f"manufacturing_end {self.manufacturing_end} must be after "
                f"manufacturing_start {self.manufacturing_start}"
            )
        return self


class Scenario(_Frozen):
    """Everything a plan needs: the calendar, the capacities and the waiting patients."""

    description: str | None = Field(
        default=None, max_length=2000, description="free text: where the figures come from"
    )
    start_date: date
    horizon_days: int = Field(ge=1, le=MAX_HORIZON_DAYS)
    products: list[Product] = Field(min_length=1)
    facilities: list[Facility] = Field(min_length=1)
    apheresis_centres: list[ApheresisCentre] = Field(min_length=1)
    qc: QualityControl = Field(default_factory=QualityControl)
    patients: list[Patient] = Field(default_factory=list)
    fixed: list[FixedAssignment] = Field(default_factory=list)
    triage_weights: TriageWeights = Field(default_factory=TriageWeights)

    @model_validator(mode="after")
    def _references_resolve(self) -> Scenario:
        problems: list[str] = []
        products = _unique("products", [p.code for p in self.products], problems)
        facilities = _unique("facilities", [f.id for f in self.facilities], problems)
        centres = _unique("apheresis_centres", [c.id for c in self.apheresis_centres], problems)
        patients = _unique("patients", [p.id for p in self.patients], problems)
        suites = {f.id: f.suites for f in self.facilities}
        for i, centre in enumerate(self.apheresis_centres):
            for facility in centre.transport_days:
                if facility not in facilities:
                    problems.append(
                        f"apheresis_centres[{i}].transport_days: unknown facility "
                        f"{facility!r}{_known(facilities)}"
                    )
        for facility in self.qc.daily_capacity:
            if facility not in facilities:
                problems.append(
                    f"qc.daily_capacity: unknown facility {facility!r}{_known(facilities)}"
                )
        for i, patient in enumerate(self.patients):
            if patient.product not in products:
                problems.append(
                    f"patients[{i}].product: unknown product {patient.product!r}{_known(products)}"
                )
            if patient.centre not in centres:
                problems.append(
                    f"patients[{i}].centre: unknown apheresis centre {patient.centre!r}"
                    f"{_known(centres)}"
                )
        seen_fixed: set[str] = set()
        for i, work in enumerate(self.fixed):
            if work.patient not in patients:
                problems.append(f"fixed[{i}].patient: unknown patient {work.patient!r}")
            elif work.patient in seen_fixed:
                problems.append(f"fixed[{i}].patient: {work.patient!r} is fixed twice")
            seen_fixed.add(work.patient)
            if work.facility not in facilities:
                problems.append(
                    f"fixed[{i}].facility: unknown facility {work.facility!r}{_known(facilities)}"
                )
            elif work.suite > suites[work.facility]:
                problems.append(
                    f"fixed[{i}].suite: suite {work.suite} does not exist "
                    f"(facility {work.facility} has suites 1..{suites[work.facility]})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def end_date(self) -> date:
        """The first day after the horizon; every planned batch ends by this day."""
        return self.start_date + timedelta(days=self.horizon_days)

    @cached_property
    def products_by_code(self) -> dict[str, Product]:
        """Products keyed by code."""
        return {p.code: p for p in self.products}

    @cached_property
    def facilities_by_id(self) -> dict[str, Facility]:
        """Facilities keyed by id."""
        return {f.id: f for f in self.facilities}

    @cached_property
    def centres_by_id(self) -> dict[str, ApheresisCentre]:
        """Apheresis centres keyed by id."""
        return {c.id: c for c in self.apheresis_centres}

    @cached_property
    def patients_by_id(self) -> dict[str, Patient]:
        """Patients keyed by id."""
        return {p.id: p for p in self.patients}

    @cached_property
    def fixed_by_patient(self) -> dict[str, FixedAssignment]:
        """Started work keyed by patient id."""
        return {f.patient: f for f in self.fixed}

    def day(self, value: date) -> int:
        """Whole days from `start_date` to `value` (negative before the start)."""
        return (value - self.start_date).days

    def date_of(self, day: int) -> date:
        """The calendar date `day` days after `start_date`."""
        return self.start_date + timedelta(days=day)


def _unique(field: str, ids: list[str], problems: list[str]) -> set[str]:
    seen: set[str] = set()
    for i, identifier in enumerate(ids):
        if identifier in seen:
            problems.append(f"{field}[{i}]: duplicate id {identifier!r}")
        seen.add(identifier)
    return seen


def _known(ids: set[str]) -> str:
    shown = sorted(ids)
    more = "" if len(shown) <= 8 else f", … ({len(shown)} in all)"
    return f" (known: {', '.join(shown[:8])}{more})"


def describe_validation_error(error: ValidationError, *, root: str) -> str:
    """One line per problem, each naming the field path, e.g. ``patients[2].urgency: ...``."""
    lines = []
    for item in error.errors(include_url=False):
        path = root
        for part in item["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                path += f".{part}" if path else str(part)
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required field is missing"
        for line in message.split("; "):
            lines.append(f"{path}: {line}" if path else line)
    return "\n".join(lines)


def parse_scenario(data: Mapping[str, Any] | str | bytes) -> Scenario:
    """Validate a scenario given as parsed JSON or JSON text; raise `InvalidInput` if wrong."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"scenario is not valid JSON: {error}") from error
    if not isinstance(data, Mapping):
        raise InvalidInput("scenario must be a JSON object")
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(
            "scenario is invalid:\n" + describe_validation_error(error, root="")
        ) from error


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario JSON file; raise `InvalidInput` naming what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"cannot read scenario file {path}: {error.strerror}") from error
    return parse_scenario(text)


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (written to docs/planning/scenario.schema.json)."""
    schema = Scenario.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/veinline/veinline/docs/planning/scenario.schema.json",
        **schema,
        "title": "veinline planning scenario",
        "description": (
            "Input of `veinline plan`: products, facilities and suites, apheresis centres, "
            "QC intake, waiting patients and started work. References (product, centre, "
            "facility, suite) must resolve; see veinline.planning.scenario. Example: "
            "rtp-example.json, a year at the CARsgen RTP facility built for 700 autologous "
            "patients a year (CARsgen Therapeutics Business Wire release, 2022)."
        ),
    }


def scenario_to_json(scenario: Scenario) -> str:
    """The scenario as indented JSON, in the format `parse_scenario` reads back."""
    return json.dumps(scenario.model_dump(mode="json"), indent=2) + "\n"
