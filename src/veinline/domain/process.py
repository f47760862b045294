"""Manufacturing process templates: the ordered steps a batch of one product follows at one site.

A template is a controlled document (EU GMP Chapter 4: documents are approved, signed and
dated by authorised people; only the current version is in use). It is versioned per
product and site; a draft is approved by QA, never by its author, and approving a new
version supersedes the one in force, so exactly one approved version is in force for a
(product, site). A technology transfer copies the version in force at one site to
another as a new draft that QA at the receiving site must approve before a batch may use
it (the first clinical batch at CARsgen's RTP site followed such a transfer: CARsgen
Therapeutics Business Wire release, 2022).

This module also holds the life of a controlled document, which the release
specification shares.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from veinline.domain import quantity
from veinline.domain.catalog import Modality, check_code
from veinline.domain.errors import InvalidInput, NotAllowed, require_text
from veinline.domain.ledger import JsonObject, aware, snapshot_time
from veinline.domain.signature import Meaning, SignatureRecord
from veinline.domain.state_table import StateTable, arrow
from veinline.domain.style import Styled, styled
from veinline.domain.user import SYSTEM_USERNAME, User

# ------------------------------------------------------------------ shared pieces


class DocumentStatus(Styled):
    """Where a controlled document (process template, specification) is in its life."""

    DRAFT = "draft"
    APPROVED = "approved"
    SUPERSEDED = "superseded"
    RETIRED = "retired"


DOCUMENT_STYLE = styled(
    DocumentStatus,
    {
        DocumentStatus.DRAFT: ("Draft", "#6b7280"),
        DocumentStatus.APPROVED: ("Approved, in force", "#15803d"),
        DocumentStatus.SUPERSEDED: ("Superseded", "#a16207"),
        DocumentStatus.RETIRED: ("Retired", "#374151"),
    },
)


class DocumentAction(StrEnum):
    """Something done to a controlled document; one row of its state table each."""

    APPROVE = "approve"
    SUPERSEDE = "supersede"
    RETIRE = "retire"


DOCUMENT_TRANSITIONS: StateTable[DocumentAction, DocumentStatus] = StateTable(
    "controlled document",
    DocumentAction,
    {
        DocumentAction.APPROVE: arrow({DocumentStatus.DRAFT}, DocumentStatus.APPROVED),
        DocumentAction.SUPERSEDE: arrow({DocumentStatus.APPROVED}, DocumentStatus.SUPERSEDED),
        DocumentAction.RETIRE: arrow(
            {DocumentStatus.DRAFT, DocumentStatus.APPROVED}, DocumentStatus.RETIRED
        ),
    },
)


def guard_approval(
    *,
    what: str,
    status: DocumentStatus,
    author: str,
    by: User,
    site: str | None = None,
) -> None:
    """The checks shared by approving a template and a specification.

    EU GMP Chapter 4.3: documents are approved by appropriate authorised persons; the
    four-eyes principle keeps the author from approving their own work.
    """
    DOCUMENT_TRANSITIONS.fire(
        DocumentAction.APPROVE,
        status,
        lambda: f"{what} is {status.label.lower()}: only a draft can be approved",
    )
    if by.username == author:
        raise NotAllowed(
            f"{by.username} wrote {what} and cannot approve it: another QA reviewer must"
        )
    works_at = {m.site_code for m in by.memberships}
    if site is not None and works_at and site not in works_at:
        raise NotAllowed(
            f"{what} is for site {site}: a QA reviewer of {site} must approve it, "
            f"not one of {', '.join(sorted(works_at))}"
        )


class ControlledDocument(Protocol):
    """A versioned GMP document (process template, release specification)."""

    @property
    def id(self) -> str: ...

    status: DocumentStatus
    approval: SignatureRecord | None
    superseded_at: datetime | None
    superseded_by: str | None
    retirement: JsonObject | None
    version: int

    def content(self) -> JsonObject: ...


D = TypeVar("D", bound=ControlledDocument)


def lifecycle_snapshot(document: Any) -> JsonObject:
    """Who wrote a controlled document and where it is in its life, for its snapshot."""
    return {
        "author": document.author,
        "created_at": snapshot_time(document.created_at),
        "status": document.status.value,
        "demo": document.demo,
        "approval": document.approval.to_dict() if document.approval else None,
        "superseded_at": snapshot_time(document.superseded_at),
        "superseded_by": document.superseded_by,
        "retirement": dict(document.retirement) if document.retirement else None,
        "version": document.version,
    }


def approve_version(document: D, *, by: User, at: datetime, superseded: Sequence[D]) -> list[D]:
    """Sign the draft approved and supersede the version it replaces (one place for both
    kinds of document, so their lifecycles cannot drift apart)."""
    aware(at)
    document.approval = SignatureRecord.of(by, Meaning.APPROVED, at, document.content())
    document.status = DOCUMENT_TRANSITIONS.fire(
        DocumentAction.APPROVE, document.status, lambda: f"{document.id} is not a draft"
    )
    document.version += 1
    for old in superseded:
        old.status = DOCUMENT_TRANSITIONS.fire(
            DocumentAction.SUPERSEDE, old.status, _not_in_force(old.id)
        )
        old.superseded_at = at
        old.superseded_by = document.id
        old.version += 1
    return list(superseded)


def _not_in_force(document_id: str) -> Callable[[], str]:
    return lambda: f"{document_id} is not in force"


def retire_version(
    document: ControlledDocument, what: str, *, by: User, at: datetime, reason: str
) -> None:
    """Take a draft or the version in force out of use, with QA's reason."""
    why = require_text(reason, f"a reason to retire a {what.split()[0]}")
    target = DOCUMENT_TRANSITIONS.fire(
        DocumentAction.RETIRE,
        document.status,
        lambda: f"{what} is {document.status.label.lower()} already",
    )
    document.retirement = {"by": by.username, "at": snapshot_time(aware(at)), "reason": why}
    document.status = target
    document.version += 1


# ------------------------------------------------------------------ parameters and steps


class ParameterKind(StrEnum):
    """What an operator records for a parameter: each kind has its own form field.

    A number is typed with or without its unit (converted to the declared one, see
    domain/quantity.py); a match is a check of a label against the chain of identity
    (match or mismatch); yes/no and choice are pick lists; a text (a lot number) is free.
    """

    NUMBER = "number"
    TEXT = "text"
    CHOICE = "choice"
    MATCH = "match"
    YES_NO = "yes_no"


# The fixed pick lists of the kinds that have one (a choice declares its own).
_FIXED_CHOICES: dict[ParameterKind, tuple[str, ...]] = {
    ParameterKind.MATCH: ("match", "mismatch"),
    ParameterKind.YES_NO: ("yes", "no"),
}


def _num(value: float) -> str:
    return f"{value:g}"


def with_unit(value: float, unit: str) -> str:
    """'70%', '5 EU/mL', '3.2': a number as an operator reads it."""
    if not unit:
        return _num(value)
    return f"{_num(value)}{unit}" if unit in ("%", "°C") else f"{_num(value)} {unit}"


@dataclass(frozen=True)
class ParameterSpec:
    """A value an operator records at a step, with its in-process limits.

    Numeric limits are inclusive (low ≤ value ≤ high); a text parameter with an expected
    value must match it (case and spacing ignored); a text parameter without one (a lot
    number, an equipment reading) is recorded only.
    """

    name: str
    kind: ParameterKind = ParameterKind.NUMBER
    unit: str = ""
    low: float | None = None
    high: float | None = None
    expected: str | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        if not self.name.strip():
            raise InvalidInput("a process parameter needs a name")
        if self.kind is ParameterKind.NUMBER and self.expected is not None:
            raise InvalidInput(f"parameter {self.name!r} is a number: give limits, not a text")
        if self.kind is not ParameterKind.NUMBER and (
            self.low is not None or self.high is not None
        ):
            raise InvalidInput(
                f"parameter {self.name!r} is a {self.kind.value}: it cannot have number limits"
            )
        fixed = _FIXED_CHOICES.get(self.kind)
        if fixed is not None:
            object.__setattr__(self, "choices", fixed)
        elif self.kind is ParameterKind.CHOICE:
            tidy = tuple(_norm(c) for c in self.choices)
            if len(set(tidy)) < 2 or "" in tidy:
                raise InvalidInput(
                    f"parameter {self.name!r} is a choice: give two or more distinct choices"
                )
            object.__setattr__(self, "choices", tidy)
        elif self.choices:
            raise InvalidInput(f"parameter {self.name!r} is a {self.kind.value}: it has no choices")
        if self.choices and self.expected is not None:
            if _norm(self.expected) not in self.choices:
                raise InvalidInput(
                    f"parameter {self.name!r}: the expected {self.expected!r} is not one of "
                    f"its choices ({', '.join(self.choices)})"
                )
            object.__setattr__(self, "expected", _norm(self.expected))
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InvalidInput(
                f"parameter {self.name!r}: the low limit {_num(self.low)} is above "
                f"the high limit {_num(self.high)}"
            )

    @property
    def limit_text(self) -> str:
        if self.kind is not ParameterKind.NUMBER:
            if self.expected is None and self.choices:
                return "one of " + ", ".join(self.choices)
            return self.expected or "recorded"
        if self.low is not None and self.high is not None:
            return f"{with_unit(self.low, self.unit)} to {with_unit(self.high, self.unit)}"
        if self.low is not None:
            return f"≥ {with_unit(self.low, self.unit)}"
        if self.high is not None:
            return f"≤ {with_unit(self.high, self.unit)}"
        return "recorded"

    def parse(self, value: float | str) -> float | str:
        """The value as it is stored: a float in the declared unit for a number (converted
        from the unit it was typed in), one of the choices for a pick list, tidy text for a
        text. A value of the wrong type is refused with the field's name."""
        if self.kind is ParameterKind.NUMBER:
            return quantity.read(value, self.unit, name=self.name).value
        if self.kind is ParameterKind.YES_NO and isinstance(value, bool):
            return "yes" if value else "no"
        if not isinstance(value, str):
            raise InvalidInput(f"{self.name} needs a text, not a number")
        text = require_text(value, f"a value for {self.name}")
        if self.choices:
            if _norm(text) not in self.choices:
                raise InvalidInput(
                    f"{self.name} is recorded as {' or '.join(self.choices)}, not {value!r}"
                )
            return _norm(text)
        return text

    def excursion(self, value: float | str) -> str | None:
        """Why a parsed value is outside the in-process limits, or None when it is within."""
        if isinstance(value, float):
            shown = with_unit(value, self.unit)
            if self.low is not None and value < self.low:
                return f"{self.name} {shown} is below the in-process limit {self.limit_text}"
            if self.high is not None and value > self.high:
                return f"{self.name} {shown} is above the in-process limit {self.limit_text}"
            return None
        if self.expected is not None and _norm(value) != _norm(self.expected):
            return f"{self.name} is {value!r}, expected {self.expected!r}"
        return None

    def to_dict(self) -> JsonObject:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "unit": self.unit,
            "low": self.low,
            "high": self.high,
            "expected": self.expected,
            "limit": self.limit_text,
            # Only the pick-list kinds carry choices, so older records hash as they did.
            **({"choices": list(self.choices)} if self.choices else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParameterSpec:
        try:
            kind = ParameterKind(data.get("kind", "number"))
        except ValueError:
            raise InvalidInput(f"unknown parameter kind {data.get('kind')!r}") from None
        return cls(
            name=str(data.get("name", "")),
            kind=kind,
            unit=str(data.get("unit", "")),
            low=None if data.get("low") is None else float(data["low"]),
            high=None if data.get("high") is None else float(data["high"]),
            expected=None if data.get("expected") is None else str(data["expected"]),
            choices=tuple(str(c) for c in data.get("choices") or ()),
        )


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").split())


_STEP_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class StepSpec:
    """One step of a process template: what is done, how long it takes, what is recorded."""

    code: str
    name: str
    expected_hours: float
    parameters: tuple[ParameterSpec, ...] = ()
    # A critical step needs a second person's "verified" signature (EU GMP Annex 11 §6:
    # critical data entered by hand get an additional check by a second operator).
    critical: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.expected_hours, int) and not isinstance(self.expected_hours, bool):
            object.__setattr__(self, "expected_hours", float(self.expected_hours))
        if not _STEP_CODE.match(self.code):
            raise InvalidInput(
                f"step code {self.code!r} is not allowed: use 2 to 40 lower-case letters, "
                "digits or '_', starting with a letter"
            )
        if not self.name.strip():
            raise InvalidInput(f"step {self.code} needs a name")
        if not self.expected_hours > 0:
            raise InvalidInput(f"step {self.code} needs an expected duration above 0 hours")
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise InvalidInput(f"step {self.code} names a parameter twice")

    def parameter(self, name: str) -> ParameterSpec:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        known = ", ".join(p.name for p in self.parameters) or "none"
        raise InvalidInput(f"step {self.code} records no parameter {name!r} (it records: {known})")

    def to_dict(self) -> JsonObject:
        return {
            "code": self.code,
            "name": self.name,
            "expected_hours": self.expected_hours,
            "parameters": [p.to_dict() for p in self.parameters],
            "critical": self.critical,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepSpec:
        return cls(
            code=str(data.get("code", "")),
            name=str(data.get("name", "")),
            expected_hours=float(data.get("expected_hours", 0)),
            parameters=tuple(ParameterSpec.from_dict(p) for p in data.get("parameters", [])),
            critical=bool(data.get("critical", False)),
        )


def check_steps(steps: Sequence[StepSpec]) -> tuple[StepSpec, ...]:
    if not steps:
        raise InvalidInput("a process template needs at least one step")
    codes = [s.code for s in steps]
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        raise InvalidInput(f"a step code is used twice: {', '.join(twice)}")
    return tuple(steps)


# ------------------------------------------------------------------ the template


def template_id(product_code: str, site: str, number: int) -> str:
    return f"{product_code}/{site}/v{number}"


@dataclass(eq=False)
class ProcessTemplate:
    """One version of a product's manufacturing process at one site."""

    ENTITY_TYPE = "process_template"

    product_code: str
    site: str
    number: int
    steps: tuple[StepSpec, ...]
    author: str
    created_at: datetime
    status: DocumentStatus = DocumentStatus.DRAFT
    transferred_from: str | None = None
    notes: str = ""
    demo: bool = False
    approval: SignatureRecord | None = None
    superseded_at: datetime | None = None
    superseded_by: str | None = None
    retirement: JsonObject | None = None
    version: int = 1

    @property
    def id(self) -> str:
        return template_id(self.product_code, self.site, self.number)

    @property
    def entity_id(self) -> str:
        return self.id

    @property
    def total_hours(self) -> float:
        return sum(s.expected_hours for s in self.steps)

    def step(self, code: str) -> StepSpec:
        for step in self.steps:
            if step.code == code:
                return step
        raise InvalidInput(f"process {self.id} has no step {code!r}")

    def content(self) -> JsonObject:
        """What an approval signs: the process itself, not its life cycle."""
        return {
            "id": self.id,
            "product_code": self.product_code,
            "site": self.site,
            "number": self.number,
            "steps": [s.to_dict() for s in self.steps],
            "transferred_from": self.transferred_from,
            "notes": self.notes,
        }

    def snapshot(self) -> JsonObject:
        return {**self.content(), **lifecycle_snapshot(self)}

    # -------------------------------------------------------------- changing

    def revise(self, steps: Sequence[StepSpec], *, by: User, notes: str | None = None) -> None:
        """Change a draft's steps; an approved version is never edited (write a new one)."""
        if self.status is not DocumentStatus.DRAFT:
            raise NotAllowed(
                f"process {self.id} is {self.status.label.lower()}: it cannot be edited; "
                "draft a new version instead"
            )
        checked = check_steps(steps)
        self.steps = checked
        if notes is not None:
            self.notes = notes.strip()
        self.version += 1

    def approve(
        self, *, by: User, at: datetime, siblings: Iterable[ProcessTemplate] = ()
    ) -> list[ProcessTemplate]:
        """QA approves this draft; the version in force at the same site is superseded.

        `siblings` are the other versions of this product at this site; the ones this
        approval supersedes are returned so the caller can store (and ledger) them.
        """
        guard_approval(
            what=f"process {self.id}",
            status=self.status,
            author=self.author,
            by=by,
            site=self.site,
        )
        superseded = [
            t
            for t in siblings
            if t is not self
            and t.product_code == self.product_code
            and t.site == self.site
            and t.status is DocumentStatus.APPROVED
        ]
        return approve_version(self, by=by, at=at, superseded=superseded)

    def retire(self, *, by: User, at: datetime, reason: str) -> None:
        """Take a draft or the version in force out of use; a batch can no longer start on it."""
        retire_version(self, f"process {self.id}", by=by, at=at, reason=reason)

    def guard_use(self) -> None:
        """A batch may start only on an approved version in force."""
        if self.status is DocumentStatus.APPROVED:
            return
        if self.status is DocumentStatus.DRAFT:
            transferred = (
                f" (transferred from {self.transferred_from})" if self.transferred_from else ""
            )
            raise NotAllowed(
                f"process {self.id}{transferred} is a draft: QA at {self.site} must approve "
                "it before a batch can use it"
            )
        raise NotAllowed(
            f"process {self.id} is {self.status.label.lower()}: start the batch on the "
            "version in force"
        )


def next_number(existing: Iterable[ProcessTemplate], product_code: str, site: str) -> int:
    numbers = [t.number for t in existing if t.product_code == product_code and t.site == site]
    return max(numbers, default=0) + 1


def draft_template(
    product_code: str,
    site: str,
    steps: Sequence[StepSpec],
    *,
    by: User,
    at: datetime,
    existing: Iterable[ProcessTemplate] = (),
    notes: str = "",
) -> ProcessTemplate:
    """A new draft version of a product's process at a site, numbered after the others."""
    check_code(product_code)
    check_code(site, "site code")
    return ProcessTemplate(
        product_code=product_code,
        site=site,
        number=next_number(existing, product_code, site),
        steps=check_steps(steps),
        author=by.username,
        created_at=aware(at),
        notes=notes.strip(),
    )


def transfer(
    template: ProcessTemplate,
    to_site: str,
    by: User,
    *,
    at: datetime,
    existing: Iterable[ProcessTemplate] = (),
) -> ProcessTemplate:
    """Technology transfer: the version in force at one site becomes a draft at another.

    The receiving site owns the copy: its QA must approve it before a batch can start
    on it there (the transfer does not carry the sending site's approval across).
    """
    check_code(to_site, "site code")
    if template.status is not DocumentStatus.APPROVED:
        raise NotAllowed(
            f"process {template.id} is {template.status.label.lower()}: only the approved "
            "version in force can be transferred"
        )
    if to_site == template.site:
        raise InvalidInput(f"process {template.id} is at {to_site} already: draft a new version")
    return ProcessTemplate(
        product_code=template.product_code,
        site=to_site,
        number=next_number(existing, template.product_code, to_site),
        steps=template.steps,
        author=by.username,
        created_at=aware(at),
        transferred_from=template.id,
        notes=f"technology transfer from {template.site} ({template.id})",
        demo=template.demo,
    )


def in_force(templates: Iterable[ProcessTemplate], product_code: str, site: str) -> ProcessTemplate:
    """The one approved version of a product's process at a site, or a refusal saying why."""
    versions = [t for t in templates if t.product_code == product_code and t.site == site]
    approved = [t for t in versions if t.status is DocumentStatus.APPROVED]
    if len(approved) == 1:
        return approved[0]
    if len(approved) > 1:
        # approve() supersedes the older version, so this means the store was edited.
        ids = ", ".join(t.id for t in approved)
        raise NotAllowed(f"{product_code} at {site} has more than one approved process: {ids}")
    drafts = [t.id for t in versions if t.status is DocumentStatus.DRAFT]
    waiting = f" ({', '.join(drafts)} waits for QA approval)" if drafts else ""
    raise NotAllowed(f"there is no approved process for {product_code} at {site}{waiting}")


# ------------------------------------------------------------------ demo defaults

# DEMO DEFAULTS, not a validated process: durations, parameters and limits are plausible
# values from the published literature on lentiviral CAR-T and umbilical-cord MSC
# manufacturing, for the demo and tests. A facility replaces them with its own
# validated master batch record before any real use.

_P = ParameterSpec
_N = ParameterKind.NUMBER
_T = ParameterKind.TEXT
_MATCH = ParameterKind.MATCH
_FREEZER = ("completed", "aborted")

CAR_T_STEPS: tuple[StepSpec, ...] = (
    StepSpec(
        "receipt",
        "Receipt of apheresis material",
        2,
        (
            _P("Chain-of-identity label match", _MATCH, expected="match"),
            _P("Temperature on receipt", _N, "°C", low=2, high=8),
            _P("Total nucleated cells", _N, "×10^9 cells", low=1),
        ),
        critical=True,
    ),
    StepSpec(
        "selection",
        "T-cell selection",
        4,
        (
            _P("CD3+ purity after selection", _N, "%", low=80),
            _P("Cell recovery", _N, "%", low=50),
        ),
    ),
    StepSpec(
        "activation",
        "Activation",
        24,
        (
            _P("Activation reagent lot", _T),
            _P("Seeding density", _N, "×10^6 cells/mL", low=0.5, high=2),
        ),
    ),
    StepSpec(
        "transduction",
        "Lentiviral transduction",
        24,
        (
            _P("Vector lot", _T),
            _P("Multiplicity of infection (MOI)", _N, low=1, high=5),
        ),
        critical=True,
    ),
    StepSpec(
        "expansion",
        "Expansion",
        168,
        (
            _P("Viability", _N, "%", low=70),
            _P("Total viable cells", _N, "×10^9 cells", low=0.5),
            _P("Culture days", _N, "days", low=6, high=10),
        ),
    ),
    StepSpec(
        "harvest",
        "Harvest and wash",
        4,
        (
            _P("Viability", _N, "%", low=70),
            _P("Total viable cells", _N, "×10^9 cells", low=0.5),
        ),
    ),
    StepSpec(
        "formulation",
        "Formulation",
        2,
        (
            _P("Cell concentration", _N, "×10^6 cells/mL", low=10, high=100),
            _P("DMSO final concentration", _N, "%", low=4.5, high=5.5),
        ),
        critical=True,
    ),
    StepSpec(
        "fill",
        "Fill into bags",
        2,
        (
            _P("Bag count", _N, "bags", low=1, high=4),
            _P("Fill volume per bag", _N, "mL", low=10, high=70),
            _P("Bag labels match chain of identity", _MATCH, expected="match"),
        ),
        critical=True,
    ),
    StepSpec(
        "cryopreservation",
        "Controlled-rate freezing",
        4,
        (
            _P("Freezer program", ParameterKind.CHOICE, expected="completed", choices=_FREEZER),
            _P("End temperature", _N, "°C", high=-90),
        ),
    ),
)

MSC_STEPS: tuple[StepSpec, ...] = (
    StepSpec(
        "isolation",
        "Isolation from umbilical-cord tissue",
        336,
        (
            _P("Donor eligibility confirmed", ParameterKind.YES_NO, expected="yes"),
            _P("Tissue weight", _N, "g", low=5),
        ),
        critical=True,
    ),
    StepSpec(
        "expansion",
        "Expansion",
        240,
        (
            _P("Viability", _N, "%", low=80),
            _P("Passage number", _N, low=1, high=5),
            _P("Cumulative population doublings", _N, high=30),
        ),
    ),
    StepSpec(
        "harvest",
        "Harvest and wash",
        4,
        (
            _P("Viability", _N, "%", low=80),
            _P("Total viable cells", _N, "×10^8 cells", low=1),
        ),
    ),
    StepSpec(
        "fill",
        "Fill into vials",
        3,
        (
            _P("Vial count", _N, "vials", low=1),
            _P("Fill volume per vial", _N, "mL", low=1, high=20),
            _P("Vial labels match lot", _MATCH, expected="match"),
        ),
        critical=True,
    ),
    StepSpec(
        "cryopreservation",
        "Controlled-rate freezing",
        4,
        (
            _P("Freezer program", ParameterKind.CHOICE, expected="completed", choices=_FREEZER),
            _P("End temperature", _N, "°C", high=-90),
        ),
    ),
)


def default_steps(modality: Modality) -> tuple[StepSpec, ...]:
    return CAR_T_STEPS if modality is Modality.AUTOLOGOUS_CAR_T else MSC_STEPS


def default_template(
    product_code: str,
    modality: Modality,
    site: str,
    *,
    at: datetime,
    author: str = SYSTEM_USERNAME,
    number: int = 1,
) -> ProcessTemplate:
    """A DEMO DEFAULT draft template for a product at a site (see the note above the steps).

    It is a draft like any other: QA approves it before a batch can use it.
    """
    check_code(product_code)
    check_code(site, "site code")
    return ProcessTemplate(
        product_code=product_code,
        site=site,
        number=number,
        steps=default_steps(modality),
        author=author,
        created_at=aware(at),
        notes=f"demo default {modality.label} process: not a validated master batch record",
        demo=True,
    )
