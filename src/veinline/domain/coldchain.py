"""The cold chain: shipper types, temperature limits, data-logger files, excursions and gaps.

Limits come from what travels: fresh apheresis material at 2–8 °C, a cryopreserved
product at or below its own storage limit (stored per product in the catalogue, never
assumed here). Times are kept in UTC; a logger's local times are read in
the zone it was set to.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from itertools import pairwise

from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject

__all__ = [
    "Excursion",
    "Gap",
    "Reading",
    "ShipperType",
    "TemperatureLimits",
    "find_excursions",
    "find_gaps",
    "limits_for",
    "parse_logger_csv",
]

# Liquid nitrogen boils at −196 °C: a vapour shipper cannot hold anything colder, so a
# storage limit below it could never be met and is a typing error.
_LN2_BOILING_C = -196.0
_ABSOLUTE_ZERO_C = -273.15


class ShipperType(StrEnum):
    """The kind of shipper, which decides the temperature the material must stay within."""

    FRESH_2_8 = "fresh_2_8"
    LN2_VAPOUR = "ln2_vapour"

    @property
    def label(self) -> str:
        return _SHIPPER_LABELS[self]


_SHIPPER_LABELS = {
    ShipperType.FRESH_2_8: "Fresh apheresis material, 2–8 °C",
    ShipperType.LN2_VAPOUR: "Cryopreserved product, liquid-nitrogen vapour dry shipper",
}


def _c(value: float) -> str:
    return f"{value:g} °C"


@dataclass(frozen=True)
class TemperatureLimits:
    """The range a shipment must stay within, inclusive; None is no limit on that side."""

    low: float | None
    high: float | None

    def __post_init__(self) -> None:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InvalidInput(
                f"the low limit {_c(self.low)} is above the high limit {_c(self.high)}"
            )

    def breach(self, celsius: float) -> str | None:
        """'high' or 'low' when the temperature is outside the limits, else None."""
        if self.high is not None and celsius > self.high:
            return "high"
        if self.low is not None and celsius < self.low:
            return "low"
        return None

    @property
    def label(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g} to {_c(self.high)}"
        if self.high is not None:
            return f"at or below {_c(self.high)}"
        if self.low is not None:
            return f"at or above {_c(self.low)}"
        return "no limit"

    def to_dict(self) -> JsonObject:
        return {"low_c": self.low, "high_c": self.high}


def limits_for(shipper_type: ShipperType, product_storage_max_c: float | None) -> TemperatureLimits:
    """The limits for a shipment: 2–8 °C fresh, or the product's own cryogenic limit."""
    if shipper_type is ShipperType.FRESH_2_8:
        # Fresh apheresis material travels at 2–8 °C whatever the product's storage
        # limit after cryopreservation; that limit does not apply yet.
        return TemperatureLimits(low=2.0, high=8.0)
    if product_storage_max_c is None:
        raise InvalidInput(
            "the product has no storage limit: set its storage_max_c "
            "before shipping it in liquid-nitrogen vapour"
        )
    limit = float(product_storage_max_c)
    if not math.isfinite(limit) or limit >= 0:
        raise InvalidInput(
            f"storage limit {product_storage_max_c} °C is not a cryogenic limit "
            "(a cryopreserved product is stored far below 0 °C, e.g. −150 °C)"
        )
    if limit < _LN2_BOILING_C:
        raise InvalidInput(
            f"storage limit {_c(limit)} is colder than liquid nitrogen ({_c(_LN2_BOILING_C)}): "
            "no vapour shipper can meet it"
        )
    # Colder is never an excursion in a vapour shipper: no lower limit.
    return TemperatureLimits(low=None, high=limit)


# --------------------------------------------------------------- logger files


@dataclass(frozen=True)
class Reading:
    """One temperature a data logger recorded, at a moment (UTC)."""

    at: datetime
    celsius: float
    # The line of the logger file it came from, so QA can find it in the original.
    line: int | None = None

    def to_dict(self) -> JsonObject:
        return {"at": self.at.isoformat(), "celsius": self.celsius, "line": self.line}


def _header_key(cell: str) -> str:
    return re.sub(r"[^0-9a-z°]", "", cell.casefold())


_TIME_HEADERS = {"timestamp", "time", "datetime", "date", "datetimeutc", "timeutc", "utc"}
_CELSIUS_HEADERS = {
    "temperaturec",
    "temperature°c",
    "tempc",
    "temp°c",
    "°c",
    "c",
    "celsius",
    "temp",
    "temperature",
    "degc",
    "degreesc",
}
_FAHRENHEIT = re.compile(r"(°f|tempf|temperaturef|fahrenheit|degf)$")


def _delimiter(line: str) -> str:
    # A semicolon file is the usual export where a comma is the decimal mark.
    return ";" if ";" in line else ","


def _cells(line: str, delimiter: str) -> list[str]:
    return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))]


def _looks_like_header(cells: list[str]) -> bool:
    return not any(ch.isdigit() for ch in cells[0])


def _check_header(cells: list[str], number: int) -> None:
    if len(cells) != 2:
        raise InvalidInput(
            f"line {number}: expected two columns, a timestamp and °C, "
            f"not {len(cells)} ({', '.join(cells)})"
        )
    time_key, temp_key = (_header_key(c) for c in cells)
    if _FAHRENHEIT.search(temp_key):
        raise InvalidInput(f"line {number}: temperatures must be in °C, not {cells[1]!r}")
    if time_key not in _TIME_HEADERS:
        raise InvalidInput(
            f"line {number}: the first column must be the timestamp, not {cells[0]!r}"
        )
    if temp_key not in _CELSIUS_HEADERS:
        raise InvalidInput(
            f"line {number}: the second column must be the temperature in °C, not {cells[1]!r}"
        )


def _moment(cell: str, number: int, default_tz: tzinfo) -> datetime:
    # A date alone says nothing about when in the day the reading was taken.
    if not re.search(r"\d[Tt ]\d", cell):
        raise InvalidInput(f"line {number}: {cell!r} is not a date and time (ISO 8601)")
    try:
        moment = datetime.fromisoformat(cell)
    except ValueError:
        raise InvalidInput(
            f"line {number}: {cell!r} is not an ISO 8601 timestamp "
            "(such as 2026-03-02T09:30:00+08:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_tz)
    # Kept in UTC: local times on either side of a clock change then sort correctly.
    return moment.astimezone(UTC)


def _celsius(cell: str, number: int, delimiter: str) -> float:
    text = cell
    if delimiter == ";" and "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"line {number}: {cell!r} is not a temperature in °C") from None
    if not math.isfinite(value):
        raise InvalidInput(f"line {number}: {cell!r} is not a temperature in °C")
    if value < _ABSOLUTE_ZERO_C:
        # Loggers write codes such as -999 for a failed probe; that is not a reading.
        raise InvalidInput(f"line {number}: {cell} °C is below absolute zero (a probe error?)")
    return value


def parse_logger_csv(text: str, *, default_tz: tzinfo) -> list[Reading]:
    """Read a data logger's CSV export (timestamp, °C) into readings in time order.

    An optional header names the columns; comma or semicolon separated; blank lines and
    lines starting with '#' are skipped. Timestamps without an offset are taken to be in
    `default_tz`. Readings are sorted; the same moment twice is refused.
    """
    readings: list[Reading] = []
    delimiter: str | None = None
    first = True
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if delimiter is None:
            delimiter = _delimiter(line)
        cells = _cells(line, delimiter)
        if first:
            first = False
            if _looks_like_header(cells):
                _check_header(cells, number)
                continue
        if len(cells) != 2:
            raise InvalidInput(
                f"line {number}: expected a timestamp and a temperature, "
                f"found {len(cells)} column{'s' if len(cells) != 1 else ''}"
            )
        at = _moment(cells[0], number, default_tz)
        readings.append(Reading(at=at, celsius=_celsius(cells[1], number, delimiter), line=number))
    if not readings:
        raise InvalidInput("the logger file holds no readings")
    readings.sort(key=lambda r: r.at)
    for before, after in pairwise(readings):
        if before.at == after.at:
            lines = sorted(n for n in (before.line, after.line) if n is not None)
            raise InvalidInput(
                f"line {lines[-1]}: reading at {after.at.isoformat()} repeats line {lines[0]}"
            )
    return readings


# --------------------------------------------------------------- excursions and gaps


def _seconds(span: timedelta) -> int | float:
    seconds = span.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


@dataclass(frozen=True)
class Excursion:
    """A run of readings outside the limits, in one direction.

    `start` is the first reading outside; `end` is the first reading back inside the
    limits, or the last reading when the log ends outside them (`open`). The duration
    between them is what the log shows; a gap before `start` may hide an earlier start.
    """

    start: datetime
    end: datetime
    direction: str
    extreme: float
    limit: float
    readings: int
    open: bool

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def to_dict(self) -> JsonObject:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "duration_seconds": _seconds(self.duration),
            "direction": self.direction,
            "extreme_c": self.extreme,
            "limit_c": self.limit,
            "readings": self.readings,
            "open": self.open,
        }


@dataclass(frozen=True)
class Gap:
    """A silence in the log longer than the logger's interval allows."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def to_dict(self) -> JsonObject:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "duration_seconds": _seconds(self.duration),
        }


def _in_order(readings: Iterable[Reading]) -> list[Reading]:
    return sorted(readings, key=lambda r: r.at)


def find_excursions(readings: Sequence[Reading], limits: TemperatureLimits) -> list[Excursion]:
    """Contiguous runs of readings outside the limits, earliest first."""
    excursions: list[Excursion] = []
    run: list[Reading] = []
    direction: str | None = None

    def close(end: datetime, is_open: bool) -> None:
        assert direction is not None
        temps = [r.celsius for r in run]
        extreme = max(temps) if direction == "high" else min(temps)
        limit = limits.high if direction == "high" else limits.low
        assert limit is not None
        excursions.append(Excursion(run[0].at, end, direction, extreme, limit, len(run), is_open))

    for reading in _in_order(readings):
        breach = limits.breach(reading.celsius)
        if run and breach != direction:
            # Back inside (or straight across to the other side): the run ends here.
            close(reading.at, is_open=False)
            run = []
        if breach is not None:
            run.append(reading)
            direction = breach
    if run:
        close(run[-1].at, is_open=True)
    return excursions


def find_gaps(readings: Sequence[Reading], max_interval: timedelta) -> list[Gap]:
    """Intervals between consecutive readings longer than `max_interval`."""
    if max_interval <= timedelta(0):
        raise InvalidInput("the longest allowed logging interval must be longer than zero")
    ordered = _in_order(readings)
    return [
        Gap(before.at, after.at)
        for before, after in pairwise(ordered)
        if after.at - before.at > max_interval
    ]
