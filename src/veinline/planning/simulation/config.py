"""The simulator's input: a scenario file, checked, and compiled into a `SimulationConfig`.

The scenario file is the planning scenario the scheduler reads too (`start_date`,
`horizon_days`, `products`, `facilities`, `qc`); the simulator adds a `simulation`
section, documented in docs/planning/simulation.md. Fields the simulator does not use
are left alone so one file can serve both tools; inside `simulation` an unknown field
is refused, because there a typo would silently change an answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from veinline.domain.errors import InvalidInput

DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0

DistributionKind = Literal["fixed", "lognormal", "triangular"]


class DurationModel(BaseModel):
    """How one stage's duration scatters around the product's mean number of days."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    distribution: DistributionKind = "lognormal"
    cv: float = Field(default=0.15, ge=0.0, le=2.0)
    """lognormal: coefficient of variation (standard deviation / mean)."""
    spread: float = Field(default=0.3, ge=0.0, le=1.0)
    """triangular: half-width as a fraction of the mean; the mode is the mean."""


class Durations(BaseModel):
    """Distributions of the three timed stages, each scaled by the product's mean."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    manufacturing: DurationModel = DurationModel(distribution="lognormal", cv=0.1)
    qc: DurationModel = DurationModel(distribution="lognormal", cv=0.15)
    ship: DurationModel = DurationModel(distribution="triangular", spread=0.5)


class SimulationSection(BaseModel):
    """The `simulation` section of a scenario file."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    patients_per_year: float = Field(gt=0)
    years: float = Field(default=1.0, gt=0, le=50)
    warmup_days: float = Field(default=0.0, ge=0)
    product_mix: dict[str, float] | None = None
    facility_share: dict[str, float] | None = None
    dropout_hazard_per_month: float | None = Field(default=None, ge=0)
    dropout_probability_per_month: float | None = Field(default=None, ge=0, lt=1)
    recollection_days: float = Field(default=21.0, ge=0)
    qc_slot_days: float | None = Field(default=1.0, gt=0)
    durations: Durations = Durations()

    @model_validator(mode="after")
    def _one_dropout_measure(self) -> SimulationSection:
        if self.dropout_hazard_per_month is not None and (
            self.dropout_probability_per_month is not None
        ):
            raise ValueError(
                "give dropout_hazard_per_month or dropout_probability_per_month, not both"
            )
        return self


class ProductEntry(BaseModel):
    """A product's process times and batch failure rate, as the scenario lists them."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    code: str = Field(min_length=1)
    manufacturing_days: float = Field(gt=0)
    qc_days: float = Field(ge=0)
    ship_days: float = Field(ge=0)
    failure_rate: float = Field(default=0.0, ge=0, lt=1)


class FacilityEntry(BaseModel):
    """A manufacturing facility and its number of suites (one batch per suite at a time)."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    id: str = Field(min_length=1)
    suites: int = Field(ge=1, le=10_000)


class QcEntry(BaseModel):
    """QC capacity: batches QC can take in per day, for every facility or per facility id."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    daily_capacity: int | dict[str, int] | None = None


class Scenario(BaseModel):
    """A planning scenario file, as far as the simulator reads it."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    start_date: date
    horizon_days: int | None = Field(default=None, ge=1)
    products: list[ProductEntry] = Field(min_length=1)
    facilities: list[FacilityEntry] = Field(min_length=1)
    qc: QcEntry | None = None
    simulation: SimulationSection


@dataclass(frozen=True)
class DurationSpec:
    """A compiled duration model: a unit-mean multiplier of the product's mean days."""

    distribution: DistributionKind
    cv: float
    spread: float


@dataclass(frozen=True)
class FacilityConfig:
    """One facility as the engines see it."""

    id: str
    suites: int
    qc_capacity: int | None
    """Batches QC can take in per day; None is unlimited QC."""
    patients_per_day: float


@dataclass(frozen=True)
class ProductConfig:
    """One product as the engines see it."""

    code: str
    share: float
    manufacturing_days: float
    qc_days: float
    ship_days: float
    failure_rate: float


@dataclass(frozen=True)
class SimulationConfig:
    """Everything both engines need, validated, in days; picklable for worker processes."""

    start_date: date
    facilities: tuple[FacilityConfig, ...]
    products: tuple[ProductConfig, ...]
    years: float
    warmup_days: float
    dropout_hazard_per_day: float
    recollection_days: float
    qc_slot_days: float | None
    manufacturing: DurationSpec
    qc: DurationSpec
    ship: DurationSpec

    @property
    def end_day(self) -> float:
        """Simulated time runs from day 0 (the start date, facility empty) to here."""
        return self.warmup_days + self.years * DAYS_PER_YEAR

    @property
    def window(self) -> tuple[float, float]:
        """KPIs count what happens in this window: after the warm-up, to the end."""
        return (self.warmup_days, self.end_day)

    @property
    def facility_ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.facilities)

    def with_suites(self, suites: int, facility: str | None = None) -> SimulationConfig:
        """The same scenario with one facility's suite count changed (for a sweep)."""
        if suites < 1:
            raise InvalidInput(f"suites must be at least 1 (got {suites})")
        if facility is None:
            if len(self.facilities) != 1:
                raise InvalidInput(
                    "the scenario has several facilities "
                    f"({', '.join(self.facility_ids)}): name the one whose suites vary"
                )
            facility = self.facilities[0].id
        if facility not in self.facility_ids:
            raise InvalidInput(
                f"no facility {facility!r} in the scenario "
                f"(facilities: {', '.join(self.facility_ids)})"
            )
        facilities = tuple(
            replace(f, suites=suites) if f.id == facility else f for f in self.facilities
        )
        return replace(self, facilities=facilities)


def load_scenario(path: Path) -> SimulationConfig:
    """Read a scenario JSON file and compile it; `InvalidInput` names the faulty field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"scenario file {path} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read scenario file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"scenario file {path} is not valid JSON: {exc.msg} "
            f"at line {exc.lineno}, column {exc.colno}"
        ) from None
    return parse_scenario(data, source=str(path))


def parse_scenario(data: Any, *, source: str = "scenario") -> SimulationConfig:
    """Check a decoded scenario and compile it into a `SimulationConfig`."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{source}: the scenario must be a JSON object")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"{source}: {_describe(exc)}") from None
    return compile_scenario(scenario, source=source)


def compile_scenario(scenario: Scenario, *, source: str = "scenario") -> SimulationConfig:
    """Resolve references between sections (product codes, facility ids) and convert units."""
    sim = scenario.simulation

    def fail(field: str, message: str) -> InvalidInput:
        return InvalidInput(f"{source}: {field}: {message}")

    codes = [p.code for p in scenario.products]
    _refuse_duplicates(codes, "products", "code", fail)
    ids = [f.id for f in scenario.facilities]
    _refuse_duplicates(ids, "facilities", "id", fail)

    mix = _weights(sim.product_mix, codes, "simulation.product_mix", "product", fail)
    default_share = {f.id: float(f.suites) for f in scenario.facilities}
    share = _weights(
        sim.facility_share, ids, "simulation.facility_share", "facility", fail, default_share
    )

    qc_capacity = _qc_capacity(scenario, ids, fail)

    if sim.dropout_probability_per_month is not None:
        # A monthly probability p of leaving is a constant hazard -ln(1 - p) per month.
        hazard_per_month = -math.log1p(-sim.dropout_probability_per_month)
    else:
        hazard_per_month = sim.dropout_hazard_per_month or 0.0

    patients_per_day = sim.patients_per_year / DAYS_PER_YEAR
    facilities = tuple(
        FacilityConfig(
            id=f.id,
            suites=f.suites,
            qc_capacity=qc_capacity[f.id],
            patients_per_day=patients_per_day * share[f.id],
        )
        for f in scenario.facilities
    )
    products = tuple(
        ProductConfig(
            code=p.code,
            share=mix[p.code],
            manufacturing_days=p.manufacturing_days,
            qc_days=p.qc_days,
            ship_days=p.ship_days,
            failure_rate=p.failure_rate,
        )
        for p in scenario.products
    )
    d = sim.durations
    return SimulationConfig(
        start_date=scenario.start_date,
        facilities=facilities,
        products=products,
        years=sim.years,
        warmup_days=sim.warmup_days,
        dropout_hazard_per_day=hazard_per_month / DAYS_PER_MONTH,
        recollection_days=sim.recollection_days,
        qc_slot_days=sim.qc_slot_days,
        manufacturing=DurationSpec(
            d.manufacturing.distribution, d.manufacturing.cv, d.manufacturing.spread
        ),
        qc=DurationSpec(d.qc.distribution, d.qc.cv, d.qc.spread),
        ship=DurationSpec(d.ship.distribution, d.ship.cv, d.ship.spread),
    )


def _refuse_duplicates(values: Sequence[str], section: str, key: str, fail: Any) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise fail(f"{section}.{i}.{key}", f"{value!r} appears twice")
        seen.add(value)


def _weights(
    given: Mapping[str, float] | None,
    names: Sequence[str],
    field: str,
    noun: str,
    fail: Any,
    default: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Normalise weights over `names`; names left out get weight 0."""
    if given is None:
        raw = dict(default) if default is not None else dict.fromkeys(names, 1.0)
    else:
        for name, weight in given.items():
            if name not in names:
                raise fail(f"{field}.{name}", f"no {noun} {name!r} in the scenario")
            if not math.isfinite(weight) or weight < 0:
                raise fail(f"{field}.{name}", f"weight must be a number ≥ 0 (got {weight})")
        raw = {name: float(given.get(name, 0.0)) for name in names}
    total = sum(raw.values())
    if total <= 0:
        raise fail(field, "at least one weight must be greater than 0")
    return {name: raw[name] / total for name in names}


def _qc_capacity(scenario: Scenario, ids: Sequence[str], fail: Any) -> dict[str, int | None]:
    capacity = None if scenario.qc is None else scenario.qc.daily_capacity
    if capacity is None:
        return dict.fromkeys(ids, None)
    if isinstance(capacity, int):
        if capacity < 1:
            raise fail("qc.daily_capacity", f"must be at least 1 (got {capacity})")
        return dict.fromkeys(ids, capacity)
    result: dict[str, int | None] = dict.fromkeys(ids, None)
    for facility, value in capacity.items():
        if facility not in ids:
            raise fail(f"qc.daily_capacity.{facility}", f"no facility {facility!r} in the scenario")
        if value < 1:
            raise fail(f"qc.daily_capacity.{facility}", f"must be at least 1 (got {value})")
        result[facility] = value
    return result


def _describe(exc: ValidationError) -> str:
    """One line per problem, each naming the field as a dotted path."""
    lines = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{loc}: {error['msg']}")
    return "; ".join(lines)
