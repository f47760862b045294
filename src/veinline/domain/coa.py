"""The certificate of analysis (CoA) a decided batch is issued with, as typed values.

`certificate_of_analysis` builds it from the batch and its release record: every test with
its limit, result, verdict and whether it changed after first entry (with the first value
and the reason), QA's decision, the physician's acknowledgement of a conditional release,
and every signature with printed name, date-time and meaning and what it signed: the batch
record's steps, verifications, corrections and deviation closures as well as the decision
(21 CFR 11.50; EU GMP Annex 11 §8.2). `adapters.coa_pdf` draws it.

`to_dict()` gives the JSON read model (plain dicts, lists, strings, numbers and booleans)
and `from_dict()` reads it back, checking its shape: a missing required key, a key not
listed below or a value of the wrong kind is refused with `InvalidInput` naming the field
as a path (`tests[2].verdict`). The shape (`NotRequired` keys may be left out):

    product:         {code: str, name: str}
    identifiers:     {coi: str,          # CoI identifier, 15 characters 'CH…' (ST-028)
                      din: str,          # ISBT 128 DIN, 13 characters, no flags
                      din_check: str,    # its keyboard entry check character (MOD 37-2)
                      batch_id: str,
                      manufacturing_site: str,
                      expiry: str}       # ISO 8601 date, or date-time with its offset
    specification:   {id: str, version: str | int, market: str}
    tests:           list[Test]          # at least one, printed in this order
    disposition:     Disposition
    signatures:      list[Signature]     # at least one, printed in time order

    Test:
        name: str                            # 'Viability'
        method: NotRequired[str]             # 'Flow cytometry, 7-AAD'
        specification: str                   # '≥ 70 %', 'not detected'
        result: str | int | float            # as entered; a string keeps its significant
                                             # figures ('81.20'), a float is printed by repr
        unit: NotRequired[str]               # '%', 'EU/mL'; left out for 'not detected'
        verdict: 'pass' | 'fail'
        changed_after_first_entry: bool      # required, never assumed false
        # only when changed_after_first_entry is true, and then the first two required:
        first_value: str | int | float       # the value first entered, in the same unit
        correction_reason: str
        corrected_by: NotRequired[str]       # printed name of who corrected it
        corrected_at: NotRequired[str]       # ISO 8601 date-time with its offset

    Disposition:
        decision: 'released' | 'conditionally_released' | 'rejected'
        justification: str                   # NotRequired when released
        physician_acknowledgement: Acknowledgement   # only, and always, when conditional

    Acknowledgement:                         # the treating physician's, of an OOS release
        printed_name: str
        acknowledged_at: str                 # ISO 8601 date-time with its offset
        statement: NotRequired[str]

    Signature:                               # 21 CFR 11.50 and 11.70
        printed_name: str
        username: str
        meaning: str                         # a `veinline.domain.signature.Meaning` value
        signed_at: str                       # ISO 8601 date-time with its offset
        content_hash: str                    # hex digest, optionally 'sha256:'-prefixed
        signed: NotRequired[str]             # what it signed: 'step 4 (Transduction)'

Beyond the shape, the certificate must agree with itself, or it would mislead: the DIN's
check character and the CoI identifier are verified (ISBT 128 ST-001 §7.5); a batch
'released' without condition has no failed test; a released or conditionally released batch
carries a 'released' signature and a rejected one a 'rejected' signature. Date-times carry
their offset (a naive time is ambiguous).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Final

from veinline.domain import isbt128
from veinline.domain.batch import Batch
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.ledger import JsonObject, aware, snapshot_time
from veinline.domain.release import Disposition, ReleaseRecord
from veinline.domain.signature import Meaning, SignatureRecord

Value = str | int | float
"""A measured value as entered: text keeps its significant figures, a number is printed by
repr."""


class Decision(StrEnum):
    """What quality assurance decided about the batch; printed boxed beside the title."""

    RELEASED = "released"
    CONDITIONALLY_RELEASED = "conditionally_released"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").upper()

    @property
    def signature_meaning(self) -> Meaning:
        """The meaning the QA signature that made this decision carries."""
        return Meaning.REJECTED if self is Decision.REJECTED else Meaning.RELEASED


# ------------------------------------------------------------------ the parts


@dataclass(frozen=True, slots=True)
class CoaProduct:
    code: str
    name: str

    def to_dict(self) -> JsonObject:
        return {"code": self.code, "name": self.name}


@dataclass(frozen=True, slots=True)
class CoaIdentifiers:
    coi: str
    din: str
    din_check: str
    batch_id: str
    manufacturing_site: str
    expiry: date | datetime

    @property
    def parsed_din(self) -> isbt128.Din:
        return isbt128.Din(self.din[:5], self.din[5:7], int(self.din[7:]))

    def to_dict(self) -> JsonObject:
        return {
            "coi": self.coi,
            "din": self.din,
            "din_check": self.din_check,
            "batch_id": self.batch_id,
            "manufacturing_site": self.manufacturing_site,
            "expiry": _expiry_text(self.expiry),
        }


@dataclass(frozen=True, slots=True)
class CoaSpecification:
    id: str
    version: Value
    market: str

    def to_dict(self) -> JsonObject:
        return {"id": self.id, "version": self.version, "market": self.market}


@dataclass(frozen=True, slots=True)
class Correction:
    """A result changed after first entry: its first value and why (Annex 11 §8.2)."""

    first_value: Value
    reason: str
    by: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CoaResult:
    """One test on the certificate: its limit, the result standing now and the verdict."""

    name: str
    specification: str
    result: Value
    passed: bool
    method: str | None = None
    unit: str | None = None
    correction: Correction | None = None

    @property
    def changed_after_first_entry(self) -> bool:
        return self.correction is not None

    def to_dict(self) -> JsonObject:
        row: JsonObject = {
            "name": self.name,
            "specification": self.specification,
            "result": self.result,
            "verdict": "pass" if self.passed else "fail",
            "changed_after_first_entry": self.changed_after_first_entry,
        }
        if self.method is not None:
            row["method"] = self.method
        if self.unit is not None:
            row["unit"] = self.unit
        if self.correction is not None:
            row["first_value"] = self.correction.first_value
            row["correction_reason"] = self.correction.reason
            if self.correction.by is not None:
                row["corrected_by"] = self.correction.by
            if self.correction.at is not None:
                row["corrected_at"] = snapshot_time(self.correction.at)
        return row


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """The treating physician's acknowledgement of the OOS results of a conditional release."""

    printed_name: str
    at: datetime
    statement: str | None = None

    def to_dict(self) -> JsonObject:
        ack: JsonObject = {
            "printed_name": self.printed_name,
            "acknowledged_at": snapshot_time(self.at),
        }
        if self.statement is not None:
            ack["statement"] = self.statement
        return ack


@dataclass(frozen=True, slots=True)
class CoaDisposition:
    decision: Decision
    justification: str | None = None
    acknowledgement: Acknowledgement | None = None

    def to_dict(self) -> JsonObject:
        disposition: JsonObject = {"decision": self.decision.value}
        if self.justification is not None:
            disposition["justification"] = self.justification
        if self.acknowledgement is not None:
            disposition["physician_acknowledgement"] = self.acknowledgement.to_dict()
        return disposition


@dataclass(frozen=True, slots=True)
class CoaSignature:
    printed_name: str
    username: str
    meaning: Meaning
    at: datetime
    content_hash: str
    signed: str | None = None

    def to_dict(self) -> JsonObject:
        signature: JsonObject = {
            "printed_name": self.printed_name,
            "username": self.username,
            "meaning": self.meaning.value,
            "signed_at": snapshot_time(self.at),
            "content_hash": self.content_hash,
        }
        if self.signed is not None:
            signature["signed"] = self.signed
        return signature


@dataclass(frozen=True, slots=True)
class CertificateOfAnalysis:
    """One batch's release results and its disposition, as the certificate states them."""

    product: CoaProduct
    identifiers: CoaIdentifiers
    specification: CoaSpecification
    tests: tuple[CoaResult, ...]
    disposition: CoaDisposition
    signatures: tuple[CoaSignature, ...]

    def __post_init__(self) -> None:
        decision = self.disposition.decision
        failed = [t.name for t in self.tests if not t.passed]
        if decision is Decision.RELEASED and failed:
            raise InvalidInput(
                f"disposition.decision is released, but {', '.join(failed)} failed "
                "specification: an out-of-specification batch is conditionally released or "
                "rejected"
            )
        meaning = decision.signature_meaning
        if not any(s.meaning is meaning for s in self.signatures):
            raise InvalidInput(
                f"signatures has no signature meaning {meaning.value!r}: a "
                f"{decision.value.replace('_', ' ')} batch carries the QA signature that "
                "decided it"
            )

    def signatures_in_time_order(self) -> tuple[CoaSignature, ...]:
        return tuple(sorted(self.signatures, key=lambda s: s.at))

    def to_dict(self) -> JsonObject:
        return {
            "product": self.product.to_dict(),
            "identifiers": self.identifiers.to_dict(),
            "specification": self.specification.to_dict(),
            "tests": [t.to_dict() for t in self.tests],
            "disposition": self.disposition.to_dict(),
            "signatures": [s.to_dict() for s in self.signatures],
        }

    @classmethod
    def from_dict(cls, content: Any) -> CertificateOfAnalysis:
        """Read the JSON read model back, refusing a malformed one by the field at fault."""
        top = _Fields.of(content, "content", _TOP)
        top = _Fields(top.data, "")
        product = top.object("product", ("code", "name"))
        ids = top.object("identifiers", _IDENTIFIERS)
        spec = top.object("specification", ("id", "version", "market"))
        din, din_check = _din(ids)
        identifiers = CoaIdentifiers(
            coi=_coi(ids),
            din=din,
            din_check=din_check,
            batch_id=ids.text("batch_id"),
            manufacturing_site=ids.text("manufacturing_site"),
            expiry=ids.date_or_moment("expiry"),
        )
        tests = tuple(_test(t) for t in top.objects("tests", _TEST))
        disposition = _disposition(top)
        signatures = tuple(_signature(s) for s in top.objects("signatures", _SIGNATURE))
        return cls(
            product=CoaProduct(code=product.text("code"), name=product.text("name")),
            identifiers=identifiers,
            specification=CoaSpecification(
                id=spec.text("id"), version=spec.value("version"), market=spec.text("market")
            ),
            tests=tests,
            disposition=disposition,
            signatures=signatures,
        )


# ------------------------------------------------------------------ built from a release


def certificate_of_analysis(
    batch: Batch,
    record: ReleaseRecord,
    *,
    product_name: str,
    expiry: date | datetime | str,
    manufacturing_site: str | None = None,
) -> CertificateOfAnalysis:
    """The certificate of a batch QA has decided on, from its batch and release record."""
    if batch.id != record.batch_id:
        raise InvalidInput(f"release record {record.batch_id} is not for batch {batch.id}")
    if not record.disposition.final or record.decision is None:
        raise NotAllowed(
            f"batch {batch.id} is {record.disposition.label.lower()}: a certificate of "
            "analysis is issued after QA's decision"
        )
    if not batch.coi or not batch.din:
        raise InvalidInput(f"batch {batch.id} has no chain-of-identity id and DIN to certify")
    tests: list[CoaResult] = []
    for test in record.tests:
        result = record.result(test.code)
        if result is None:
            continue
        correction = None
        if result.changed_after_first_entry:
            correction = Correction(
                first_value=result.first.text,
                reason=result.current.correction_reason or "",
                by=result.current.entered_by_name,
                at=result.current.entered_at,
            )
        tests.append(
            CoaResult(
                name=test.name,
                specification=test.limit_text,
                result=result.current.text,
                passed=result.passes,
                method=test.method or None,
                unit=test.unit if test.numeric and test.unit else None,
                correction=correction,
            )
        )
    signatures: list[tuple[str, SignatureRecord]] = [
        *batch.signatures(),
        (f"QA decision on batch {batch.id}", record.decision),
    ]
    acknowledgement = None
    if record.disposition is Disposition.CONDITIONALLY_RELEASED:
        ack = record.acknowledgement
        assert ack is not None
        acknowledgement = Acknowledgement(
            printed_name=ack.printed_name,
            at=ack.at,
            statement=record.acknowledgement_statement or None,
        )
        signatures.append(("acknowledgement of the out-of-specification results", ack))
    if isinstance(expiry, datetime):
        expires: date | datetime = aware(expiry, "the expiry")
    elif isinstance(expiry, date):
        expires = expiry
    else:
        expires = _Fields({"expiry": expiry}, "identifiers").date_or_moment("expiry")
    return CertificateOfAnalysis(
        product=CoaProduct(code=batch.product_code, name=product_name),
        identifiers=CoaIdentifiers(
            coi=batch.coi,
            din=batch.din,
            din_check=isbt128.check_character(batch.din),
            batch_id=batch.id,
            manufacturing_site=manufacturing_site or batch.site,
            expiry=expires,
        ),
        specification=CoaSpecification(
            id=record.specification_id,
            version=record.specification_number,
            market=record.market,
        ),
        tests=tuple(tests),
        disposition=CoaDisposition(
            decision=Decision(record.disposition.value),
            justification=record.justification or None,
            acknowledgement=acknowledgement,
        ),
        signatures=tuple(
            CoaSignature(
                printed_name=s.printed_name,
                username=s.username,
                meaning=s.meaning,
                at=s.at,
                content_hash=s.content_hash,
                signed=what,
            )
            for what, s in sorted(signatures, key=lambda pair: pair[1].at)
        ),
    )


def _expiry_text(expiry: date | datetime) -> str:
    if isinstance(expiry, datetime):
        return snapshot_time(expiry) or ""
    return expiry.isoformat()


# ------------------------------------------------------------------ reading the read model

_TOP: Final = ("product", "identifiers", "specification", "tests", "disposition", "signatures")
_IDENTIFIERS: Final = ("coi", "din", "din_check", "batch_id", "manufacturing_site", "expiry")
_TEST: Final = (
    "name",
    "method",
    "specification",
    "result",
    "unit",
    "verdict",
    "changed_after_first_entry",
    "first_value",
    "correction_reason",
    "corrected_by",
    "corrected_at",
)
_CORRECTION_ONLY: Final = ("first_value", "correction_reason", "corrected_by", "corrected_at")
_SIGNATURE: Final = ("printed_name", "username", "meaning", "signed_at", "content_hash", "signed")
_HEX: Final = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class _Fields:
    """One JSON object of the content and where it sits (`tests[2]`), for error messages."""

    data: Mapping[str, Any]
    path: str

    @classmethod
    def of(cls, value: Any, path: str, allowed: Sequence[str]) -> _Fields:
        if not isinstance(value, Mapping):
            raise InvalidInput(f"{path} must be an object, not {_kind(value)}")
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise InvalidInput(
                f"{path} has a field the CoA does not know: {unknown[0]} "
                f"(expected {', '.join(allowed)})"
            )
        return cls(value, path)

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def raw(self, key: str) -> Any:
        if key not in self.data or self.data[key] is None:
            raise InvalidInput(f"the CoA content is missing {self.where(key)}")
        return self.data[key]

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise InvalidInput(f"{self.where(key)} must be text, not {_kind(value)}")
        return _non_empty(value, self.where(key))

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def value(self, key: str) -> Value:
        """A measured value: text (kept as given, stripped) or a finite number."""
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidInput(f"{self.where(key)} must be text or a number, not {_kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{self.where(key)} must be a finite number, not {value}")
        return _non_empty(value, self.where(key)) if isinstance(value, str) else value

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise InvalidInput(f"{self.where(key)} must be true or false, not {_kind(value)}")
        return value

    def moment(self, key: str) -> datetime:
        """An ISO 8601 date-time with its offset."""
        value = self.raw(key)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidInput(
                    f"{self.where(key)} {value!r} is not an ISO 8601 date-time"
                ) from None
        if not isinstance(value, datetime):
            raise InvalidInput(f"{self.where(key)} must be an ISO 8601 date-time")
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInput(
                f"{self.where(key)} {value.isoformat()} has no UTC offset: write it as "
                f"{value.isoformat()}Z if it is UTC"
            )
        return value.astimezone(UTC)

    def date_or_moment(self, key: str) -> date | datetime:
        value = self.raw(key)
        if isinstance(value, str) and len(value) == 10:
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise InvalidInput(f"{self.where(key)} {value!r} is not an ISO 8601 date") from None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        return self.moment(key)

    def objects(self, key: str, allowed: Sequence[str]) -> list[_Fields]:
        value = self.raw(key)
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
            raise InvalidInput(f"{self.where(key)} must be a list, not {_kind(value)}")
        if not value:
            raise InvalidInput(f"{self.where(key)} is empty: a CoA lists at least one")
        return [
            _Fields.of(item, f"{self.where(key)}[{i}]", allowed) for i, item in enumerate(value)
        ]

    def object(self, key: str, allowed: Sequence[str]) -> _Fields:
        return _Fields.of(self.raw(key), self.where(key), allowed)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _non_empty(text: str, where: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput(f"{where} is empty")
    return text


def _din(ids: _Fields) -> tuple[str, str]:
    text = ids.text("din").upper()
    if len(text) != 13:
        raise InvalidInput(
            f"{ids.where('din')} {text!r} is not a 13-character DIN (no flags, no check character)"
        )
    try:
        din = isbt128.Din(text[:5], text[5:7], int(text[7:]))
    except (InvalidInput, ValueError) as exc:
        detail = exc.message if isinstance(exc, InvalidInput) else "the sequence is 6 digits"
        raise InvalidInput(f"{ids.where('din')} {text!r} is not a DIN: {detail}") from None
    given = ids.text("din_check").upper()
    if given != din.check:
        raise InvalidInput(
            f"{ids.where('din_check')} is {given!r}, but the check character of DIN "
            f"{din.text} is {din.check!r}: check the DIN and its check character"
        )
    return text, given


def _coi(ids: _Fields) -> str:
    coi = ids.text("coi")
    try:
        isbt128.coi_check_character(coi)
    except InvalidInput as exc:
        raise InvalidInput(f"{ids.where('coi')}: {exc.message}") from None
    return coi


def _test(fields: _Fields) -> CoaResult:
    verdict = fields.text("verdict").lower()
    if verdict not in ("pass", "fail"):
        raise InvalidInput(f"{fields.where('verdict')} is {verdict!r}: use pass or fail")
    changed = fields.boolean("changed_after_first_entry")
    correction = None
    if changed:
        at = fields.moment("corrected_at") if fields.has("corrected_at") else None
        correction = Correction(
            first_value=fields.value("first_value"),
            reason=fields.text("correction_reason"),
            by=fields.optional_text("corrected_by"),
            at=at,
        )
    else:
        stray = [key for key in _CORRECTION_ONLY if fields.has(key)]
        if stray:
            raise InvalidInput(
                f"{fields.where(stray[0])} is given, but "
                f"{fields.where('changed_after_first_entry')} is false"
            )
    return CoaResult(
        name=fields.text("name"),
        method=fields.optional_text("method"),
        specification=fields.text("specification"),
        result=fields.value("result"),
        unit=fields.optional_text("unit"),
        passed=verdict == "pass",
        correction=correction,
    )


def _disposition(top: _Fields) -> CoaDisposition:
    fields = top.object("disposition", ("decision", "justification", "physician_acknowledgement"))
    token = fields.text("decision").lower().replace(" ", "_").replace("-", "_")
    try:
        decision = Decision(token)
    except ValueError:
        choices = ", ".join(d.value for d in Decision)
        raise InvalidInput(
            f"{fields.where('decision')} is {token!r}: use one of {choices}"
        ) from None
    justification = (
        fields.optional_text("justification")
        if decision is Decision.RELEASED
        else fields.text("justification")
    )
    acknowledgement = None
    if decision is Decision.CONDITIONALLY_RELEASED:
        ack = fields.object(
            "physician_acknowledgement", ("printed_name", "acknowledged_at", "statement")
        )
        acknowledgement = Acknowledgement(
            printed_name=ack.text("printed_name"),
            at=ack.moment("acknowledged_at"),
            statement=ack.optional_text("statement"),
        )
    elif fields.has("physician_acknowledgement"):
        raise InvalidInput(
            f"{fields.where('physician_acknowledgement')} belongs to a conditional release, "
            f"not a {decision.value} batch"
        )
    return CoaDisposition(decision, justification, acknowledgement)


def _signature(fields: _Fields) -> CoaSignature:
    try:
        meaning = Meaning.parse(fields.text("meaning"))
    except InvalidInput as exc:
        raise InvalidInput(f"{fields.where('meaning')}: {exc.message}") from None
    content_hash = fields.text("content_hash")
    digest = content_hash.rpartition(":")[2]
    if len(digest) < 16 or not set(digest) <= _HEX:
        raise InvalidInput(
            f"{fields.where('content_hash')} {content_hash!r} is not a hex digest "
            "(at least 16 hexadecimal digits, optionally after 'sha256:')"
        )
    return CoaSignature(
        printed_name=fields.text("printed_name"),
        username=fields.text("username"),
        meaning=meaning,
        at=fields.moment("signed_at"),
        content_hash=content_hash,
        signed=fields.optional_text("signed"),
    )
