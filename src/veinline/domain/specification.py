"""Release specifications, QC results against them, and QA's disposition of a batch.

A specification is a controlled document per product and market, versioned and approved
by QA like a process template. Each test has a numeric limit (≥, ≤, <, >, or an
inclusive range, with its unit) or an expected qualitative result (negative, not
detected, positive, no growth). A QC analyst enters results; each is evaluated with a
reason an operator can read ("viability 62% is below the limit ≥ 70%"). A corrected
result keeps its first value visible (Annex 11 §8.2: a batch-release printout shows
whether data changed after first entry).

The release record moves through the DISPOSITION table: awaiting results → ready for QA
release when every test has a passing result; any out-of-specification (OOS) result sends
it to OOS, where an investigation must be opened (FDA, Investigating OOS Test Results for
Pharmaceutical Production, 2006); QA may then release conditionally with a documented
justification and the treating physician's acknowledgement, or reject. Commercial
autologous manufacturing fails specification in about 5–10% of batches (unconfirmed), so
the conditional path is a normal, documented one, not an override.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from veinline.domain import isbt128
from veinline.domain.batch import Batch, BatchStatus
from veinline.domain.catalog import Modality, check_code
from veinline.domain.errors import InvalidInput, NotAllowed, require_text
from veinline.domain.ledger import JsonObject, aware, content_hash, snapshot_time
from veinline.domain.process import (
    DocumentStatus,
    approve_version,
    guard_approval,
    lifecycle_snapshot,
    retire_version,
    with_unit,
)
from veinline.domain.signature import Meaning, SignatureRecord
from veinline.domain.state_table import StateTable, arrow
from veinline.domain.style import Styled, styled
from veinline.domain.user import SYSTEM_USERNAME, User

_MARKET = re.compile(r"^[A-Z]{2}[A-Z0-9-]{0,9}$")
_TEST_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

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

    def __post_init__(self) -> None:
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
        if isinstance(value, bool):
            raise InvalidInput(f"{self.name} needs a number")
        if isinstance(value, int | float):
            number, text = float(value), f"{value:g}"
        else:
            text = value.strip()
            try:
                number = float(text.replace(",", "."))
            except ValueError:
                raise InvalidInput(f"{self.name} needs a number, not {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(f"{self.name} needs a finite number")
        return number, text

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
        )


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


# DEMO DEFAULTS, not a registered specification: a typical CAR-T panel (an example to
# configure per product and market). The CAR+ and potency floors are product-specific and
# not in any seed; these are placeholders an administrator must replace.
DEMO_CAR_FLOOR_PERCENT = 20.0
DEMO_POTENCY_FLOOR_PG_ML = 500.0

_C = Comparator
_Q = Qualitative


def default_tests(
    modality: Modality,
    *,
    car_floor: float = DEMO_CAR_FLOOR_PERCENT,
    potency_floor: float = DEMO_POTENCY_FLOOR_PG_ML,
) -> tuple[ReleaseTest, ...]:
    safety = (
        ReleaseTest("endotoxin", "Endotoxin", _C.LESS_THAN, 5, unit="EU/mL", method="LAL, kinetic"),
        ReleaseTest(
            "sterility",
            "Sterility",
            _C.QUALITATIVE,
            expected=_Q.NO_GROWTH,
            method="USP <71> / Ph. Eur. 2.6.27",
        ),
        ReleaseTest(
            "mycoplasma",
            "Mycoplasma",
            _C.QUALITATIVE,
            expected=_Q.NOT_DETECTED,
            method="qPCR (Ph. Eur. 2.6.7)",
        ),
    )
    if modality is Modality.AUTOLOGOUS_CAR_T:
        return (
            ReleaseTest(
                "viability", "Viability", _C.AT_LEAST, 70, unit="%", method="Flow cytometry, 7-AAD"
            ),
            ReleaseTest("cd3", "CD3+ T cells", _C.AT_LEAST, 80, unit="%", method="Flow cytometry"),
            ReleaseTest(
                "car_expression",
                "CAR+ T cells",
                _C.AT_LEAST,
                car_floor,
                unit="%",
                method="Flow cytometry",
            ),
            ReleaseTest(
                "vcn", "Vector copy number", _C.AT_MOST, 5, unit="copies/cell", method="qPCR"
            ),
            *safety,
            ReleaseTest(
                "rcl",
                "Replication-competent lentivirus",
                _C.QUALITATIVE,
                expected=_Q.NOT_DETECTED,
                method="qPCR for VSV-G",
            ),
            ReleaseTest(
                "identity",
                "Identity (CAR transgene)",
                _C.QUALITATIVE,
                expected=_Q.POSITIVE,
                method="qPCR",
            ),
            ReleaseTest(
                "potency",
                "Potency (IFN-γ release)",
                _C.AT_LEAST,
                potency_floor,
                unit="pg/mL",
                method="ELISA after target-cell co-culture",
            ),
        )
    # ISCT minimal criteria for MSC (Dominici et al., Cytotherapy 2006): CD73, CD90, CD105
    # ≥ 95%; CD45, CD34, CD14 or CD11b, CD79α or CD19, HLA-DR ≤ 2%.
    return (
        ReleaseTest(
            "viability", "Viability", _C.AT_LEAST, 80, unit="%", method="Trypan blue exclusion"
        ),
        ReleaseTest(
            "positive_markers",
            "CD73+ CD90+ CD105+ cells",
            _C.AT_LEAST,
            95,
            unit="%",
            method="Flow cytometry",
        ),
        ReleaseTest(
            "negative_markers",
            "CD45/CD34/CD14/CD19/HLA-DR+ cells",
            _C.AT_MOST,
            2,
            unit="%",
            method="Flow cytometry",
        ),
        *safety,
    )


def default_specification(
    product_code: str,
    modality: Modality,
    market: str,
    *,
    at: datetime,
    author: str = SYSTEM_USERNAME,
    car_floor: float = DEMO_CAR_FLOOR_PERCENT,
    potency_floor: float = DEMO_POTENCY_FLOOR_PG_ML,
) -> Specification:
    """A DEMO DEFAULT draft specification (see the note above); QA approves it before use."""
    check_code(product_code)
    check_market(market)
    return Specification(
        product_code=product_code,
        market=market,
        number=1,
        tests=default_tests(modality, car_floor=car_floor, potency_floor=potency_floor),
        author=author,
        created_at=aware(at),
        notes="demo default release panel: not a registered specification",
        demo=True,
    )


# ------------------------------------------------------------------ QC results


@dataclass(frozen=True)
class ResultEntry:
    """One result as entered for a test; a correction is a later entry, the first stays."""

    value: float | str
    text: str
    passes: bool
    reason: str
    entered_by: str
    entered_by_name: str
    entered_at: datetime
    correction_reason: str | None = None

    def to_dict(self) -> JsonObject:
        return {
            "value": self.value,
            "text": self.text,
            "passes": self.passes,
            "reason": self.reason,
            "entered_by": self.entered_by,
            "entered_by_name": self.entered_by_name,
            "entered_at": snapshot_time(self.entered_at),
            "correction_reason": self.correction_reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultEntry:
        return cls(
            value=data["value"],
            text=data["text"],
            passes=data["passes"],
            reason=data["reason"],
            entered_by=data["entered_by"],
            entered_by_name=data["entered_by_name"],
            entered_at=datetime.fromisoformat(data["entered_at"]),
            correction_reason=data.get("correction_reason"),
        )


@dataclass(eq=False)
class QcResult:
    """The result of one release test for one batch, with every value it ever held."""

    test_code: str
    entries: list[ResultEntry] = field(default_factory=list)

    @property
    def current(self) -> ResultEntry:
        return self.entries[-1]

    @property
    def first(self) -> ResultEntry:
        return self.entries[0]

    @property
    def history(self) -> list[ResultEntry]:
        """The values this result held before the one that stands now, oldest first."""
        return self.entries[:-1]

    @property
    def changed_after_first_entry(self) -> bool:
        return len(self.entries) > 1

    @property
    def passes(self) -> bool:
        return self.current.passes

    def to_dict(self) -> JsonObject:
        return {
            "test_code": self.test_code,
            "current": self.current.to_dict(),
            "changed_after_first_entry": self.changed_after_first_entry,
            "entries": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QcResult:
        return cls(
            test_code=data["test_code"],
            entries=[ResultEntry.from_dict(e) for e in data["entries"]],
        )


# ------------------------------------------------------------------ disposition


class Disposition(Styled):
    """Where a batch stands between its QC results and QA's decision."""

    AWAITING_RESULTS = "awaiting_results"
    READY_FOR_RELEASE = "ready_for_release"
    OUT_OF_SPECIFICATION = "out_of_specification"
    UNDER_INVESTIGATION = "under_investigation"
    RELEASED = "released"
    CONDITIONALLY_RELEASED = "conditionally_released"
    REJECTED = "rejected"

    @property
    def final(self) -> bool:
        return self in FINAL_DISPOSITIONS


DISPOSITION_STYLE = styled(
    Disposition,
    {
        Disposition.AWAITING_RESULTS: ("Awaiting QC results", "#6b7280"),
        Disposition.READY_FOR_RELEASE: ("Ready for QA release", "#2563eb"),
        Disposition.OUT_OF_SPECIFICATION: ("Out of specification", "#dc2626"),
        Disposition.UNDER_INVESTIGATION: ("OOS under investigation", "#ea580c"),
        Disposition.RELEASED: ("Released", "#16a34a"),
        Disposition.CONDITIONALLY_RELEASED: ("Released conditionally", "#ca8a04"),
        Disposition.REJECTED: ("Rejected", "#374151"),
    },
)

FINAL_DISPOSITIONS = frozenset(
    {Disposition.RELEASED, Disposition.CONDITIONALLY_RELEASED, Disposition.REJECTED}
)
# The states the results alone decide between; the others are reached by a person.
RESULT_DRIVEN = frozenset(
    {
        Disposition.AWAITING_RESULTS,
        Disposition.READY_FOR_RELEASE,
        Disposition.OUT_OF_SPECIFICATION,
    }
)


class ReleaseAction(StrEnum):
    """Something a person does to a release record; one row of the table each."""

    OPEN_INVESTIGATION = "open_investigation"
    ACKNOWLEDGE = "acknowledge"
    RELEASE = "release"
    RELEASE_CONDITIONALLY = "release_conditionally"
    REJECT = "reject"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


D = Disposition
RELEASE_TRANSITIONS: StateTable[ReleaseAction, Disposition] = StateTable(
    "release record",
    ReleaseAction,
    {
        ReleaseAction.OPEN_INVESTIGATION: arrow({D.OUT_OF_SPECIFICATION}, D.UNDER_INVESTIGATION),
        # The treating physician acknowledges the OOS results; the state does not move.
        ReleaseAction.ACKNOWLEDGE: arrow({D.UNDER_INVESTIGATION}),
        ReleaseAction.RELEASE: arrow({D.READY_FOR_RELEASE}, D.RELEASED),
        ReleaseAction.RELEASE_CONDITIONALLY: arrow(
            {D.UNDER_INVESTIGATION}, D.CONDITIONALLY_RELEASED
        ),
        # An OOS batch is rejected only once its investigation is open: the OOS must be
        # investigated whatever becomes of the batch (FDA OOS guidance, 2006).
        ReleaseAction.REJECT: arrow(
            {D.AWAITING_RESULTS, D.READY_FOR_RELEASE, D.UNDER_INVESTIGATION}, D.REJECTED
        ),
    },
)

_BATCH_STATUS = {
    D.RELEASED: BatchStatus.RELEASED,
    D.CONDITIONALLY_RELEASED: BatchStatus.CONDITIONALLY_RELEASED,
    D.REJECTED: BatchStatus.REJECTED,
}


@dataclass(eq=False)
class ReleaseRecord:
    """One batch's QC results against the bound specification, and QA's disposition."""

    ENTITY_TYPE = "release_record"

    batch_id: str
    product_code: str
    market: str
    specification_id: str
    specification_number: int
    specification_hash: str
    tests: tuple[ReleaseTest, ...]
    opened_at: datetime
    opened_by: str
    results: list[QcResult] = field(default_factory=list)
    disposition: Disposition = Disposition.AWAITING_RESULTS
    investigation: JsonObject | None = None
    acknowledgement: SignatureRecord | None = None
    acknowledgement_statement: str = ""
    justification: str | None = None
    decision: SignatureRecord | None = None
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.batch_id

    def snapshot(self) -> JsonObject:
        return {
            "batch_id": self.batch_id,
            "product_code": self.product_code,
            "market": self.market,
            "specification_id": self.specification_id,
            "specification_number": self.specification_number,
            "specification_hash": self.specification_hash,
            "tests": [t.to_dict() for t in self.tests],
            "opened_at": snapshot_time(self.opened_at),
            "opened_by": self.opened_by,
            "results": [r.to_dict() for r in self.results],
            "disposition": self.disposition.value,
            "investigation": dict(self.investigation) if self.investigation else None,
            "acknowledgement": self.acknowledgement.to_dict() if self.acknowledgement else None,
            "acknowledgement_statement": self.acknowledgement_statement,
            "justification": self.justification,
            "decision": self.decision.to_dict() if self.decision else None,
            "version": self.version,
        }

    # -------------------------------------------------------------- reading

    def test(self, code: str) -> ReleaseTest:
        for test in self.tests:
            if test.code == code:
                return test
        known = ", ".join(t.code for t in self.tests)
        raise InvalidInput(f"specification {self.specification_id} has no test {code!r} ({known})")

    def result(self, code: str) -> QcResult | None:
        for result in self.results:
            if result.test_code == code:
                return result
        return None

    def missing_tests(self) -> list[ReleaseTest]:
        return [t for t in self.tests if self.result(t.code) is None]

    def out_of_specification(self) -> list[QcResult]:
        """Results that stand out of specification now."""
        return [r for r in self.results if not r.passes]

    def ever_out_of_specification(self) -> bool:
        """Whether any result was ever OOS; a correction does not erase that it was."""
        return any(not e.passes for r in self.results for e in r.entries)

    def available_actions(self) -> list[ReleaseAction]:
        """What the disposition table allows now (whoever may do it)."""
        return RELEASE_TRANSITIONS.available(self.disposition)

    def oos_content(self) -> JsonObject:
        """What the treating physician acknowledges: the OOS results and the investigation."""
        return {
            "batch_id": self.batch_id,
            "specification_id": self.specification_id,
            "out_of_specification": [
                {
                    "test": r.test_code,
                    "limit": self.test(r.test_code).limit_text,
                    "entries": [e.to_dict() for e in r.entries],
                }
                for r in self.results
                if any(not e.passes for e in r.entries)
            ],
            "investigation": dict(self.investigation) if self.investigation else None,
        }

    # -------------------------------------------------------------- results

    def _guard_open(self) -> None:
        if self.disposition.final:
            raise NotAllowed(
                f"batch {self.batch_id} is {self.disposition.label.lower()}: its QC results "
                "are locked"
            )

    def enter_result(self, code: str, value: float | str, *, by: User, at: datetime) -> QcResult:
        """A QC analyst enters a test's result; it is evaluated against the specification."""
        self._guard_open()
        test = self.test(code)
        existing = self.result(code)
        if existing is not None:
            raise NotAllowed(
                f"{test.name} already has a result ({existing.current.text}): enter a "
                "correction with a reason, so the first value stays visible"
            )
        entry = self._entry(test, value, by, at, None)
        result = QcResult(test_code=code, entries=[entry])
        self.results.append(result)
        self._reevaluate()
        self.version += 1
        return result

    def correct_result(
        self, code: str, value: float | str, *, reason: str, by: User, at: datetime
    ) -> QcResult:
        """Correct a result: a new entry with its reason; the earlier values stay in history."""
        self._guard_open()
        test = self.test(code)
        result = self.result(code)
        if result is None:
            raise InvalidInput(f"{test.name} has no result to correct yet")
        why = require_text(reason, "a reason for the correction")
        entry = self._entry(test, value, by, at, why)
        if entry.value == result.current.value:
            raise InvalidInput(f"{test.name} already stands at {result.current.text}")
        result.entries.append(entry)
        self._reevaluate()
        self.version += 1
        return result

    def _entry(
        self, test: ReleaseTest, value: float | str, by: User, at: datetime, why: str | None
    ) -> ResultEntry:
        parsed, text = test.parse(value)
        verdict = test.evaluate(parsed)
        return ResultEntry(
            value=parsed,
            text=text,
            passes=verdict.passes,
            reason=verdict.reason,
            entered_by=by.username,
            entered_by_name=by.printed_name,
            entered_at=aware(at),
            correction_reason=why,
        )

    def _reevaluate(self) -> None:
        if self.disposition not in RESULT_DRIVEN:
            return
        if self.ever_out_of_specification():
            self.disposition = Disposition.OUT_OF_SPECIFICATION
        elif self.missing_tests():
            self.disposition = Disposition.AWAITING_RESULTS
        else:
            self.disposition = Disposition.READY_FOR_RELEASE

    # -------------------------------------------------------------- the disposition table

    def _guard(self, action: ReleaseAction) -> Disposition:
        """The disposition after `action`, or a refusal that says what is missing."""

        def refusal() -> str:
            hint = ""
            if self.disposition is Disposition.OUT_OF_SPECIFICATION:
                hint = ": open an OOS investigation first"
            elif self.disposition is Disposition.AWAITING_RESULTS and action is not (
                ReleaseAction.REJECT
            ):
                missing = ", ".join(t.name for t in self.missing_tests())
                hint = f": results are missing for {missing}"
            return (
                f"batch {self.batch_id} is {self.disposition.label.lower()}: it cannot "
                f"{action.label} now{hint}"
            )

        return RELEASE_TRANSITIONS.fire(action, self.disposition, refusal)

    def _guard_batch(self, batch: Batch, by: User) -> None:
        if batch.id != self.batch_id:
            raise InvalidInput(f"release record {self.batch_id} is not for batch {batch.id}")
        batch.guard_release()
        # QA decides independently of production and testing (EU GMP Chapter 2: the heads
        # of production and quality are independent); whoever made the record cannot
        # release it.
        makers = batch.people() | {e.entered_by for r in self.results for e in r.entries}
        if by.username in makers:
            raise NotAllowed(
                f"{by.username} performed, verified or tested batch {self.batch_id} and "
                "cannot also decide on its release"
            )

    def open_investigation(self, *, reference: str, summary: str, by: User, at: datetime) -> None:
        """Open the OOS investigation (its reference in the quality system, what is known)."""
        target = self._guard(ReleaseAction.OPEN_INVESTIGATION)
        ref = require_text(reference, "the investigation's reference")
        what = require_text(summary, "a summary of the investigation")
        self.investigation = {
            "reference": ref,
            "summary": what,
            "opened_by": by.username,
            "opened_at": snapshot_time(aware(at)),
            "results": [r.test_code for r in self.results if any(not e.passes for e in r.entries)],
        }
        self.disposition = target
        self.version += 1

    def acknowledge(
        self, physician: User, *, treating_physician: str, at: datetime, statement: str = ""
    ) -> SignatureRecord:
        """The treating physician acknowledges the OOS results before a conditional release."""
        self._guard(ReleaseAction.ACKNOWLEDGE)
        if physician.username != treating_physician:
            raise NotAllowed(
                f"only the treating physician ({treating_physician}) may acknowledge the OOS "
                f"results of batch {self.batch_id}, not {physician.username}"
            )
        if self.acknowledgement is not None and self.acknowledgement.covers(self.oos_content()):
            raise NotAllowed(f"{physician.username} has acknowledged these results already")
        signature = SignatureRecord.of(physician, Meaning.ACKNOWLEDGED, at, self.oos_content())
        self.acknowledgement = signature
        self.acknowledgement_statement = " ".join(statement.split())
        self.version += 1
        return signature

    def release(self, batch: Batch, *, by: User, at: datetime) -> SignatureRecord:
        """QA releases a batch that meets every test, signing the release content."""
        target = self._guard(ReleaseAction.RELEASE)
        self._guard_batch(batch, by)
        return self._decide(batch, target, by, at, None)

    def release_conditionally(
        self, batch: Batch, *, justification: str, by: User, at: datetime
    ) -> SignatureRecord:
        """QA releases an OOS batch under its investigation, justified and acknowledged."""
        target = self._guard(ReleaseAction.RELEASE_CONDITIONALLY)
        why = require_text(justification, "a documented justification for a conditional release")
        if self.missing_tests():
            missing = ", ".join(t.name for t in self.missing_tests())
            raise NotAllowed(f"results are missing for {missing}: nothing is released untested")
        if self.acknowledgement is None:
            raise NotAllowed(
                "the treating physician must acknowledge the out-of-specification results "
                "before a conditional release"
            )
        if not self.acknowledgement.covers(self.oos_content()):
            raise NotAllowed(
                f"the results changed after {self.acknowledgement.printed_name} acknowledged "
                "them: the treating physician must acknowledge them again"
            )
        self._guard_batch(batch, by)
        return self._decide(batch, target, by, at, why)

    def reject(self, batch: Batch, *, reason: str, by: User, at: datetime) -> SignatureRecord:
        """QA rejects the batch (the case may then be re-collected)."""
        target = self._guard(ReleaseAction.REJECT)
        why = require_text(reason, "a reason to reject the batch")
        if batch.id != self.batch_id:
            raise InvalidInput(f"release record {self.batch_id} is not for batch {batch.id}")
        if batch.status.disposed:
            raise NotAllowed(f"batch {batch.id} is {batch.status.label.lower()} already")
        return self._decide(batch, target, by, at, why)

    def _decide(
        self,
        batch: Batch,
        target: Disposition,
        by: User,
        at: datetime,
        justification: str | None,
    ) -> SignatureRecord:
        meaning = Meaning.REJECTED if target is Disposition.REJECTED else Meaning.RELEASED
        content = release_content(batch, self, decision=target, justification=justification)
        signature = SignatureRecord.of(by, meaning, at, content)
        self.decision = signature
        self.justification = justification
        self.disposition = target
        self.version += 1
        if batch.status is not BatchStatus.ABORTED:
            batch.mark_disposed(_BATCH_STATUS[target])
        return signature

    def decision_is_intact(self, batch: Batch) -> bool:
        """Whether QA's signature still covers the batch record and results as they are now."""
        if self.decision is None:
            return False
        content = release_content(
            batch, self, decision=self.disposition, justification=self.justification
        )
        return self.decision.covers(content)


def open_release_record(
    batch: Batch, specification: Specification, *, market: str, by: User, at: datetime
) -> ReleaseRecord:
    """Open a batch's QC record against the specification in force; it binds that version."""
    specification.guard_use()
    if specification.product_code != batch.product_code:
        raise InvalidInput(
            f"specification {specification.id} is for {specification.product_code}, "
            f"not for batch {batch.id} of {batch.product_code}"
        )
    if specification.market != market:
        raise InvalidInput(f"specification {specification.id} is not for market {market}")
    if batch.status is BatchStatus.ABORTED:
        raise NotAllowed(f"batch {batch.id} was aborted: there is nothing to test for release")
    return ReleaseRecord(
        batch_id=batch.id,
        product_code=batch.product_code,
        market=market,
        specification_id=specification.id,
        specification_number=specification.number,
        specification_hash=content_hash(specification.content()),
        tests=specification.tests,
        opened_at=aware(at),
        opened_by=by.username,
    )


def release_content(
    batch: Batch,
    record: ReleaseRecord,
    *,
    decision: Disposition = Disposition.RELEASED,
    justification: str | None = None,
) -> JsonObject:
    """What QA signs at release: the batch record, the results, the decision and why.

    JSON-ready, for `content_hash`. It leaves out what the decision itself changes (the
    batch's status, version counters), so the same content can be rebuilt and checked
    against the signature afterwards (11.70).
    """
    return {
        "decision": decision.value,
        "justification": justification,
        "batch": batch.record_content(),
        "specification": {
            "id": record.specification_id,
            "number": record.specification_number,
            "hash": record.specification_hash,
            "market": record.market,
            "tests": [t.to_dict() for t in record.tests],
        },
        "results": [r.to_dict() for r in record.results],
        "investigation": dict(record.investigation) if record.investigation else None,
        "acknowledgement": record.acknowledgement.to_dict() if record.acknowledgement else None,
    }


# ------------------------------------------------------------------ certificate of analysis


def coa_content(
    batch: Batch,
    record: ReleaseRecord,
    *,
    product_name: str,
    expiry: date | datetime | str,
    manufacturing_site: str | None = None,
) -> JsonObject:
    """The read model a Certificate of Analysis is drawn from (`adapters.coa_pdf.render_coa`).

    Every test with its limit, result, verdict and whether it changed after first entry
    (with the first value and the reason), QA's decision, the physician's acknowledgement
    of a conditional release, and every signature with printed name, date-time and
    meaning and what it signed: the batch record's steps, verifications, corrections and
    deviation closures as well as the decision (11.50; Annex 11 §8.2).
    """
    if batch.id != record.batch_id:
        raise InvalidInput(f"release record {record.batch_id} is not for batch {batch.id}")
    if not record.disposition.final or record.decision is None:
        raise NotAllowed(
            f"batch {batch.id} is {record.disposition.label.lower()}: a certificate of "
            "analysis is issued after QA's decision"
        )
    if not batch.coi or not batch.din:
        raise InvalidInput(f"batch {batch.id} has no chain-of-identity id and DIN to certify")
    tests: list[JsonObject] = []
    for test in record.tests:
        result = record.result(test.code)
        if result is None:
            continue
        row: JsonObject = {
            "name": test.name,
            "specification": test.limit_text,
            "result": result.current.text,
            "verdict": "pass" if result.passes else "fail",
            "changed_after_first_entry": result.changed_after_first_entry,
        }
        if test.method:
            row["method"] = test.method
        if test.numeric and test.unit:
            row["unit"] = test.unit
        if result.changed_after_first_entry:
            row["first_value"] = result.first.text
            row["correction_reason"] = result.current.correction_reason or ""
            row["corrected_by"] = result.current.entered_by_name
            row["corrected_at"] = snapshot_time(result.current.entered_at)
        tests.append(row)
    disposition: JsonObject = {"decision": record.disposition.value}
    if record.justification:
        disposition["justification"] = record.justification
    signatures: list[tuple[str, SignatureRecord]] = [
        *batch.signatures(),
        (f"QA decision on batch {batch.id}", record.decision),
    ]
    if record.disposition is Disposition.CONDITIONALLY_RELEASED:
        ack = record.acknowledgement
        assert ack is not None
        acknowledgement: JsonObject = {
            "printed_name": ack.printed_name,
            "acknowledged_at": snapshot_time(ack.at),
        }
        if record.acknowledgement_statement:
            acknowledgement["statement"] = record.acknowledgement_statement
        disposition["physician_acknowledgement"] = acknowledgement
        signatures.append(("acknowledgement of the out-of-specification results", ack))
    if isinstance(expiry, datetime):
        expiry_text = snapshot_time(aware(expiry, "the expiry"))
    elif isinstance(expiry, date):
        expiry_text = expiry.isoformat()
    else:
        expiry_text = expiry
    return {
        "product": {"code": batch.product_code, "name": product_name},
        "identifiers": {
            "coi": batch.coi,
            "din": batch.din,
            "din_check": isbt128.check_character(batch.din),
            "batch_id": batch.id,
            "manufacturing_site": manufacturing_site or batch.site,
            "expiry": expiry_text,
        },
        "specification": {
            "id": record.specification_id,
            "version": record.specification_number,
            "market": record.market,
        },
        "tests": tests,
        "disposition": disposition,
        "signatures": [
            {
                "printed_name": s.printed_name,
                "username": s.username,
                "meaning": s.meaning.value,
                "signed_at": snapshot_time(s.at),
                "content_hash": s.content_hash,
                "signed": what,
            }
            for what, s in sorted(signatures, key=lambda pair: pair[1].at)
        ],
    }
