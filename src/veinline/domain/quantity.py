"""Numbers with their units, as people type them at a bench (docs/architecture.md, "Typed values").

A process parameter or a QC test declares its unit ("×10^9 cells", "×10^6 cells/mL", "%",
"EU/mL", "°C", "mL"); an operator may type the number bare (it is read in the declared unit)
or with a unit of the same kind, which is converted: ``1.5e9 cells`` is 1.5 in "×10^9 cells",
``50 µL`` is 0.05 in "mL". A value of another kind ("5 mL" for a cell count) is refused, and so
is a bare number that can only be a count in the wrong scale (1500000000 typed where the unit
is ×10^9 cells). A leading ``<`` or ``>`` (a result below or above what the method can
quantify) is kept as a qualifier, for the callers that accept one.

Units are a small table of the kinds a cell-therapy batch record uses, not a general units
library: the record's units are few, and each conversion here is one exact factor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from veinline.domain.errors import InvalidInput

# One factor per unit, within its kind: a unit converts only to a unit of the same kind.
_ATOMS: dict[str, tuple[str, float]] = {
    "": ("count", 1.0),
    "cell": ("count", 1.0),
    "cells": ("count", 1.0),
    "copies": ("copies", 1.0),
    "copy": ("copies", 1.0),
    "g": ("mass", 1.0),
    "kg": ("mass", 1e3),
    "mg": ("mass", 1e-3),
    "µg": ("mass", 1e-6),
    "ug": ("mass", 1e-6),
    "ng": ("mass", 1e-9),
    "pg": ("mass", 1e-12),
    "l": ("volume", 1e3),
    "ml": ("volume", 1.0),
    "µl": ("volume", 1e-3),
    "ul": ("volume", 1e-3),
    "%": ("percent", 1.0),
    "°c": ("celsius", 1.0),
    "degc": ("celsius", 1.0),
    "eu": ("endotoxin units", 1.0),
    "iu": ("international units", 1.0),
    "h": ("time", 1.0),
    "hour": ("time", 1.0),
    "hours": ("time", 1.0),
    "min": ("time", 1 / 60),
    "day": ("time", 24.0),
    "days": ("time", 24.0),
    "d": ("time", 24.0),
    "bag": ("bags", 1.0),
    "bags": ("bags", 1.0),
    "vial": ("vials", 1.0),
    "vials": ("vials", 1.0),
}

_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻−μ", "0123456789--µ")
_SCALE = re.compile(r"^(?:[x×*]\s*)?10\s*\^?\s*(?P<exp>[-+]?\d{1,2})\s*")
_NUMBER = re.compile(r"^(?P<num>[-+]?(?:\d[\d,]*(?:\.\d*)?|[.,]\d+)(?:[eE][-+]?\d{1,3})?)\s*")
_QUALIFIER = {"<": "<", "≤": "<", "<=": "<", ">": ">", "≥": ">", ">=": ">"}


class Qualifier(StrEnum):
    """A result the method reports only as below or above a value."""

    BELOW = "<"
    ABOVE = ">"


@dataclass(frozen=True)
class Unit:
    """A unit as a scale and a kind: "×10^6 cells/mL" is 1e6 × (count / volume in mL)."""

    text: str
    kind: str
    factor: float

    @classmethod
    def parse(cls, text: str) -> Unit:
        raw = " ".join(text.translate(_SUPERSCRIPT).split())
        rest = raw
        scale = 1.0
        match = _SCALE.match(rest)
        if match:
            scale = 10.0 ** int(match["exp"])
            rest = rest[match.end() :]
        numerator, _, denominator = rest.partition("/")
        top = _atom(numerator, raw)
        if not denominator:
            return cls(raw, top[0], scale * top[1])
        bottom = _atom(denominator, raw)
        return cls(raw, f"{top[0]}/{bottom[0]}", scale * top[1] / bottom[1])


def _atom(text: str, whole: str) -> tuple[str, float]:
    key = text.strip().lower()
    if key not in _ATOMS:
        raise InvalidInput(f"unit {whole!r} is not known: use one of {known_units()}")
    return _ATOMS[key]


def known_units() -> str:
    """The unit words a value may be typed in, for messages and --help."""
    return ", ".join(sorted({k for k in _ATOMS if k}))


@dataclass(frozen=True)
class Reading:
    """A typed value in its declared unit, with the qualifier when one was typed."""

    value: float
    qualifier: Qualifier | None = None

    @property
    def text(self) -> str:
        number = f"{self.value:g}"
        return f"{self.qualifier.value}{number}" if self.qualifier else number


def read(typed: float | str, unit: str, *, name: str, qualifiers: bool = False) -> Reading:
    """`typed` as a number in `unit`, converted from the unit it was typed in.

    Refuses, naming `name`: text that is not a number; a unit of another kind; a qualifier
    where the method gives exact numbers (`qualifiers` False); a bare count that is
    clearly in single cells where the unit counts in powers of ten.
    """
    if isinstance(typed, bool):
        raise InvalidInput(f"{name} needs a number, not {typed!r}")
    try:
        declared = Unit.parse(unit)
    except InvalidInput:
        # A unit this table does not know: only a bare number or that very unit is read.
        declared = Unit(unit, f"as {unit}", 1.0)
    if isinstance(typed, int | float):
        return _checked(float(typed), None, declared, name, bare=True)
    text = " ".join(typed.translate(_SUPERSCRIPT).split())
    qualifier: Qualifier | None = None
    for sign in sorted(_QUALIFIER, key=len, reverse=True):
        if text.startswith(sign):
            qualifier = Qualifier(_QUALIFIER[sign])
            text = text[len(sign) :].lstrip()
            break
    if qualifier is not None and not qualifiers:
        raise InvalidInput(
            f"{name} is recorded as a measured number: {typed!r} has a qualifier "
            f"({qualifier.value}) the method does not report"
        )
    match = _NUMBER.match(text)
    if not match:
        raise InvalidInput(f"{name} needs a number{_in(declared)}, not {typed!r}")
    number = float(_decimal(match["num"]))
    rest = text[match.end() :]
    scale = _SCALE.match(rest)
    if scale:
        number *= 10.0 ** int(scale["exp"])
        rest = rest[scale.end() :]
    if not rest.strip():
        return _checked(number, qualifier, declared, name, bare=scale is None)
    try:
        given = Unit.parse(rest)
    except InvalidInput as exc:
        if " ".join(rest.split()) != declared.text:
            raise InvalidInput(f"{name}: {exc}") from None
        given = declared
    if given.kind != declared.kind:
        raise InvalidInput(
            f"{name} is recorded in {declared.text}: {given.text!r} is not a unit of that kind"
        )
    return _checked(number * given.factor / declared.factor, qualifier, declared, name, bare=False)


def _decimal(number: str) -> str:
    if re.fullmatch(r"[-+]?\d{1,3},\d{3}", number):
        raise InvalidInput(f"{number!r} is ambiguous: type it without the comma, or with a point")
    if number.count(",") == 1 and "." not in number:
        return number.replace(",", ".")  # a decimal comma
    if "," in number:
        raise InvalidInput(f"{number!r} has thousands separators: type the number without them")
    return number


def _in(unit: Unit) -> str:
    return f" in {unit.text}" if unit.text else ""


def _checked(
    value: float, qualifier: Qualifier | None, unit: Unit, name: str, *, bare: bool
) -> Reading:
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidInput(f"{name} needs a finite number")
    if bare and unit.kind == "count" and unit.factor >= 1e3 and abs(value) >= unit.factor:
        # 1500000000 typed where the unit is ×10^9 cells: a billion times too many.
        raise InvalidInput(
            f"{name} is recorded in {unit.text}: {value:g} looks like a count of single cells; "
            f"type it with its unit ({value:g} cells) or in {unit.text} "
            f"({value / unit.factor:g})"
        )
    return Reading(value, qualifier)
