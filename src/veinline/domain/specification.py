"""Release specifications: the tests a batch is released against, and their limits.

A specification is a controlled document per product and market, versioned and approved
by QA like a process template. Each test has a numeric limit (≥, ≤, <, >, or an
inclusive range, with its unit) or an expected qualitative result (negative, not
detected, positive, no growth). A QC analyst enters results (`domain.release`); each is
evaluated here with a reason an operator can read ("viability 62% is below the limit
≥ 70%").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from veinline.domain import quantity
from veinline.domain.catalog import check_code
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.ledger import JsonObject, aware
from veinline.domain.process import (
    DocumentStatus,
    approve_version,
    guard_approval,
    lifecycle_snapshot,
    retire_version,
    with_unit,
)
from veinline.domain.signature import SignatureRecord
from veinline.domain.user import User

_MARKET = re.compile(r"^[A-Z]{2}[A-Z0-9-]{0,9}$")
_TEST_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_BELOW_LOQ = re.compile(r"(?i)(?:below\s+(?:the\s+)?loq|<\s*loq|blq)")

# ------------------------------------------------------------------ tests and limits


class Comparator(StrEnum):
    """How a result is compared with its limit."""

    AT_LEAST = ">="
    AT_MOST = "<="
    LESS_THAN = "<"
    MORE_THAN = ">"
    RANGE = "range"
    QUALITATIVE = "is"

    @property
    def symbol(self) -> str:
        return {">=": "≥", "<=": "≤", "<": "<", ">": ">"}.get(self.value, self.value)


class Qualitative(StrEnum):
    """A qualitative result, written as it is printed."""

    NEGATIVE = "negative"
    POSITIVE = "positive"
    NOT_DETECTED = "not detected"
    DETECTED = "detected"
    NO_GROWTH = "no growth"
    GROWTH = "growth"

    @property
    def opposite(self) -> Qualitative:
        return _OPPOSITES[self]

    @classmethod
    def parse(cls, text: str) -> Qualitative:
        key = " ".join(text.strip().lower().replace("-", " ").replace("_", " ").split())
        try:
            return cls(key)
        except ValueError:
            choices = ", ".join(q.value for q in cls)
            raise InvalidInput(
                f"{text!r} is not a qualitative result; use one of: {choices}"
            ) from None


_OPPOSITES = {
    Qualitative.NEGATIVE: Qualitative.POSITIVE,
    Qualitative.POSITIVE: Qualitative.NEGATIVE,
    Qualitative.NOT_DETECTED: Qualitative.DETECTED,
    Qualitative.DETECTED: Qualitative.NOT_DETECTED,
    Qualitative.NO_GROWTH: Qualitative.GROWTH,
    Qualitative.GROWTH: Qualitative.NO_GROWTH,
}


def _subject(name: str) -> str:
    # 'Viability' reads 'viability' mid-sentence; 'CD3+ T cells' keeps its capitals.
    return name[0].lower() + name[1:] if name[1:2].islower() else name


@dataclass(frozen=True)
class Verdict:
    """Whether a result meets its test, and why, in words an operator reads."""

    passes: bool
    reason: str


@dataclass(frozen=True)
class ReleaseTest:
    """One test of a release specification with its limit or expected result."""

    code: str
    name: str
    comparator: Comparator
    limit: float | None = None
    low: float | None = None
    high: float | None = None
    unit: str = ""
    expected: Qualitative | None = None
    method: str = ""
    # Whether the method reports results as "<x" or ">x" (below or above what it can
    # quantify), and its limit of quantitation, for a result typed as "below LoQ".
    qualifiers: bool = False
    loq: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.loq, int) and not isinstance(self.loq, bool):
            object.__setattr__(self, "loq", float(self.loq))
        if self.loq is not None:
            object.__setattr__(self, "qualifiers", True)
        # Limits are floats whatever was typed (70 or 70.0), so the specification hashes
        # the same before and after it is stored.
        for name in ("limit", "low", "high"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        if not _TEST_CODE.match(self.code):
            raise InvalidInput(
                f"test code {self.code!r} is not allowed: use 2 to 40 lower-case letters, "
                "digits or '_', starting with a letter"
            )
        if not self.name.strip():
            raise InvalidInput(f"test {self.code} needs a name")
        c = self.comparator
        if c is Comparator.QUALITATIVE:
            if self.expected is None or self.limit is not None or self.low is not None:
                raise InvalidInput(f"test {self.code} is qualitative: give an expected result only")
        elif c is Comparator.RANGE:
            if self.low is None or self.high is None or self.limit is not None:
                raise InvalidInput(f"test {self.code} is a range: give a low and a high limit")
            if self.low > self.high:
                raise InvalidInput(f"test {self.code}: the low limit is above the high limit")
        elif self.limit is None or self.low is not None or self.high is not None:
            raise InvalidInput(f"test {self.code} compares with {c.symbol}: give one limit")
        if c is not Comparator.QUALITATIVE and self.expected is not None:
            raise InvalidInput(f"test {self.code} is numeric: it has no expected text result")
        if c is Comparator.QUALITATIVE and self.qualifiers:
            raise InvalidInput(f"test {self.code} is qualitative: it has no '<' or '>' results")
        if self.loq is not None and not self.loq > 0:
            raise InvalidInput(f"test {self.code}: the limit of quantitation must be above 0")

    @property
    def numeric(self) -> bool:
        return self.comparator is not Comparator.QUALITATIVE

    @property
    def limit_text(self) -> str:
        """The limit as printed on the certificate: '≥ 70%', '< 5 EU/mL', 'not detected'."""
        if self.expected is not None:
            return self.expected.value
        if self.low is not None and self.high is not None:
            return f"{with_unit(self.low, self.unit)} to {with_unit(self.high, self.unit)}"
        assert self.limit is not None
        return f"{self.comparator.symbol} {with_unit(self.limit, self.unit)}"

    def parse(self, value: float | str) -> tuple[float | str, str]:
        """(the value as evaluated, the text as entered): the text keeps significant figures."""
        if self.expected is not None:
            if not isinstance(value, str):
                raise InvalidInput(f"{self.name} is reported as {self._choices()}, not a number")
            result = Qualitative.parse(value)
            if result not in (self.expected, self.expected.opposite):
                raise InvalidInput(f"{self.name} is reported as {self._choices()}, not {result}")
            return result.value, result.value
        reading = self.read(value)
        return reading.value, _as_entered(value, reading)

    def read(self, value: float | str) -> quantity.Reading:
        """A numeric result in the test's unit (converted from the unit it was typed in),
        with its qualifier where the method reports one ('<0.5', 'below LoQ')."""
        if isinstance(value, str) and _BELOW_LOQ.fullmatch(value.strip()):
            if self.loq is None:
                raise InvalidInput(
                    f"{self.name}: the specification states no limit of quantitation; "
                    "report the value, or '<' and the value the method gives"
                )
            return quantity.Reading(self.loq, quantity.Qualifier.BELOW)
        return quantity.read(value, self.unit, name=self.name, qualifiers=self.qualifiers)

    def judge(self, value: float | str) -> tuple[float | str, str, Verdict]:
        """(the value as evaluated, the text as entered, the verdict) for a typed result.

        A qualified result ('<0.5') is judged by every value it may stand for: it passes
        when all of them meet the limit, fails when none does, and is refused when the
        limit falls inside it (the method cannot tell; a number is needed).
        """
        if self.expected is not None:
            parsed, text = self.parse(value)
            return parsed, text, self.evaluate(parsed)
        reading = self.read(value)
        text = _as_entered(value, reading)
        if reading.qualifier is None:
            return reading.value, text, self.evaluate(reading.value)
        subject = _subject(self.name)
        shown = f"{reading.qualifier.value} {with_unit(reading.value, self.unit)}"
        if self._passes_throughout(reading):
            verdict = Verdict(True, f"{subject} {shown} meets the limit {self.limit_text}")
        elif self._fails_throughout(reading):
            verdict = Verdict(False, f"{subject} {shown} does not meet the limit {self.limit_text}")
        else:
            raise InvalidInput(
                f"{self.name} {shown} cannot be judged against {self.limit_text}: "
                "report the measured value"
            )
        return reading.value, text, verdict

    def _passes_throughout(self, reading: quantity.Reading) -> bool:
        """Whether every value the qualified reading stands for meets the limit: [0, x) for
        '<x', (x, +inf) for '>x' (a strict limit equal to x is met by the open interval)."""
        x = reading.value
        below = reading.qualifier is quantity.Qualifier.BELOW
        if not self.evaluate(0.0 if below else float("inf")).passes:
            return False
        strict = Comparator.LESS_THAN if below else Comparator.MORE_THAN
        return self.evaluate(x).passes or (self.comparator is strict and x == self.limit)

    def _fails_throughout(self, reading: quantity.Reading) -> bool:
        """Whether every value the qualified reading stands for fails the limit."""
        x = reading.value
        c = self.comparator
        if reading.qualifier is quantity.Qualifier.BELOW:  # values in [0, x)
            if c in (Comparator.AT_LEAST, Comparator.MORE_THAN):
                return self.limit is not None and x <= self.limit
            if c is Comparator.RANGE:
                return self.low is not None and x <= self.low
            return False
        # values in (x, +inf)
        if c in (Comparator.AT_MOST, Comparator.LESS_THAN):
            return self.limit is not None and x >= self.limit
        if c is Comparator.RANGE:
            return self.high is not None and x >= self.high
        return False

    def _choices(self) -> str:
        assert self.expected is not None
        return f"{self.expected.value} or {self.expected.opposite.value}"

    def evaluate(self, value: float | str) -> Verdict:
        """Compare a parsed value with the limit: a boundary value meets ≥ and ≤, never < or >."""
        subject = _subject(self.name)
        limit = self.limit_text
        if isinstance(value, str):
            if value == self.expected:
                return Verdict(True, f"{subject}: {value}, as specified")
            return Verdict(False, f"{subject}: {value}, where the specification is {limit}")
        shown = f"{subject} {with_unit(value, self.unit)}"
        c = self.comparator
        if c is Comparator.RANGE:
            assert self.low is not None and self.high is not None
            if value < self.low:
                return Verdict(False, f"{shown} is below the range {limit}")
            if value > self.high:
                return Verdict(False, f"{shown} is above the range {limit}")
            return Verdict(True, f"{shown} is within the range {limit}")
        assert self.limit is not None
        bound = self.limit
        failure: str | None = None
        if c is Comparator.AT_LEAST and value < bound:
            failure = "is below"
        elif c is Comparator.AT_MOST and value > bound:
            failure = "is above"
        elif c is Comparator.LESS_THAN and value >= bound:
            failure = "is above" if value > bound else "is not below"
        elif c is Comparator.MORE_THAN and value <= bound:
            failure = "is below" if value < bound else "is not above"
        if failure:
            return Verdict(False, f"{shown} {failure} the limit {limit}")
        return Verdict(True, f"{shown} meets the limit {limit}")

    def to_dict(self) -> JsonObject:
        return {
            "code": self.code,
            "name": self.name,
            "comparator": self.comparator.value,
            "limit": self.limit,
            "low": self.low,
            "high": self.high,
            "unit": self.unit,
            "expected": self.expected.value if self.expected else None,
            "method": self.method,
            "limit_text": self.limit_text,
            # Only tests whose method reports them carry these, so older records hash as
            # they did.
            **({"qualifiers": True} if self.qualifiers else {}),
            **({"loq": self.loq} if self.loq is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReleaseTest:
        def number(key: str) -> float | None:
            return None if data.get(key) is None else float(data[key])

        try:
            comparator = Comparator(data.get("comparator", ""))
        except ValueError:
            choices = ", ".join(c.value for c in Comparator)
            raise InvalidInput(
                f"unknown comparator {data.get('comparator')!r} (use {choices})"
            ) from None
        expected = data.get("expected")
        return cls(
            code=str(data.get("code", "")),
            name=str(data.get("name", "")),
            comparator=comparator,
            limit=number("limit"),
            low=number("low"),
            high=number("high"),
            unit=str(data.get("unit", "")),
            expected=None if expected is None else Qualitative.parse(str(expected)),
            method=str(data.get("method", "")),
            qualifiers=bool(data.get("qualifiers", False)),
            loq=number("loq"),
        )


def _as_entered(value: float | str, reading: quantity.Reading) -> str:
    """The result as the analyst typed it (significant figures, unit, qualifier kept)."""
    return " ".join(value.split()) if isinstance(value, str) else reading.text


def _check_tests(tests: Sequence[ReleaseTest]) -> tuple[ReleaseTest, ...]:
    if not tests:
        raise InvalidInput("a release specification needs at least one test")
    codes = [t.code for t in tests]
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        raise InvalidInput(f"a test code is used twice: {', '.join(twice)}")
    return tuple(tests)


def check_market(market: str) -> str:
    if not _MARKET.match(market):
        raise InvalidInput(f"market {market!r} is not a jurisdiction code such as CN, US or HK")
    return market


# ------------------------------------------------------------------ the specification


@dataclass(eq=False)
class Specification:
    """One version of a product's release specification for one market."""

    ENTITY_TYPE = "release_specification"

    product_code: str
    market: str
    number: int
    tests: tuple[ReleaseTest, ...]
    author: str
    created_at: datetime
    status: DocumentStatus = DocumentStatus.DRAFT
    notes: str = ""
    demo: bool = False
    approval: SignatureRecord | None = None
    superseded_at: datetime | None = None
    superseded_by: str | None = None
    retirement: JsonObject | None = None
    version: int = 1

    @property
    def id(self) -> str:
        return f"{self.product_code}/{self.market}/v{self.number}"

    @property
    def entity_id(self) -> str:
        return self.id

    def test(self, code: str) -> ReleaseTest:
        for test in self.tests:
            if test.code == code:
                return test
        raise InvalidInput(f"specification {self.id} has no test {code!r}")

    def content(self) -> JsonObject:
        """What an approval signs, and what a release record binds."""
        return {
            "id": self.id,
            "product_code": self.product_code,
            "market": self.market,
            "number": self.number,
            "tests": [t.to_dict() for t in self.tests],
            "notes": self.notes,
        }

    def snapshot(self) -> JsonObject:
        return {**self.content(), **lifecycle_snapshot(self)}

    def approve(
        self, *, by: User, at: datetime, siblings: Iterable[Specification] = ()
    ) -> list[Specification]:
        """QA approves this draft; the version in force for the same market is superseded."""
        guard_approval(
            what=f"specification {self.id}", status=self.status, author=self.author, by=by
        )
        superseded = [
            s
            for s in siblings
            if s is not self
            and s.product_code == self.product_code
            and s.market == self.market
            and s.status is DocumentStatus.APPROVED
        ]
        return approve_version(self, by=by, at=at, superseded=superseded)

    def retire(self, *, by: User, at: datetime, reason: str) -> None:
        retire_version(self, f"specification {self.id}", by=by, at=at, reason=reason)

    def guard_use(self) -> None:
        if self.status is not DocumentStatus.APPROVED:
            raise NotAllowed(
                f"specification {self.id} is {self.status.label.lower()}: QC tests against "
                "the approved version in force"
            )


def draft_specification(
    product_code: str,
    market: str,
    tests: Sequence[ReleaseTest],
    *,
    by: User,
    at: datetime,
    existing: Iterable[Specification] = (),
    notes: str = "",
) -> Specification:
    """A new draft version of a product's specification for a market."""
    check_code(product_code)
    check_market(market)
    numbers = [s.number for s in existing if s.product_code == product_code and s.market == market]
    return Specification(
        product_code=product_code,
        market=market,
        number=max(numbers, default=0) + 1,
        tests=_check_tests(tests),
        author=by.username,
        created_at=aware(at),
        notes=notes.strip(),
    )


def specification_in_force(
    specifications: Iterable[Specification], product_code: str, market: str
) -> Specification:
    approved = [
        s
        for s in specifications
        if s.product_code == product_code
        and s.market == market
        and s.status is DocumentStatus.APPROVED
    ]
    if len(approved) != 1:
        raise NotAllowed(
            f"there is no single approved release specification for {product_code} in {market}"
        )
    return approved[0]
