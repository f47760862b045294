"""The electronic batch record: one manufacturing run, step by step, signed as it happens.

A batch binds the process version in force when it started and follows its steps in
order (21 CFR 11.10(f): operational checks enforce the permitted sequence). Each step
records its suite, equipment and parameter values and is signed "performed" by the
operator; a critical step is also signed "verified" by a second person, never the one
who performed it (EU GMP Annex 11 §6: critical data entered by hand get an additional
check by a second operator). A signed step is locked: a correction is a new entry that points to
the one it corrects, so the first value stays visible (Annex 11 §9, ALCOA+ "original"),
and a correction made after signature waits for a second person's verification before
the batch can be released.

A value outside its in-process limit raises a deviation at once. Deviations move
open → under investigation → closed; closing needs a root cause, a CAPA and a QA
signature, and no batch is released while any deviation is open.

Signatures are kept as data (who, printed name, meaning, when, hash of the content
signed); the service layer checks the signer's password before calling in here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from veinline.domain.errors import InvalidInput, NotAllowed, require_text
from veinline.domain.ledger import JsonObject, aware, content_hash, snapshot_time
from veinline.domain.process import ProcessTemplate, StepSpec, with_unit
from veinline.domain.signature import Meaning, SignatureRecord, signature_from
from veinline.domain.state_table import StateTable, arrow
from veinline.domain.style import Styled, styled
from veinline.domain.user import User

_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")


class BatchStatus(Styled):
    """Where a batch is, from the first step to QA's decision."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    RELEASED = "released"
    CONDITIONALLY_RELEASED = "conditionally_released"
    REJECTED = "rejected"
    ABORTED = "aborted"

    @property
    def disposed(self) -> bool:
        """QA has decided: the record is closed for good."""
        return self in (
            BatchStatus.RELEASED,
            BatchStatus.CONDITIONALLY_RELEASED,
            BatchStatus.REJECTED,
        )


BATCH_STYLE = styled(
    BatchStatus,
    {
        BatchStatus.IN_PROGRESS: ("In manufacturing", "#9333ea"),
        BatchStatus.COMPLETED: ("Manufactured, awaiting release", "#c026d3"),
        BatchStatus.RELEASED: ("Released", "#15803d"),
        BatchStatus.CONDITIONALLY_RELEASED: ("Released conditionally", "#a16207"),
        BatchStatus.REJECTED: ("Rejected", "#374151"),
        BatchStatus.ABORTED: ("Aborted", "#6b7280"),
    },
)


class StepStatus(Styled):
    """Where one step of a batch is."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    AWAITING_VERIFICATION = "awaiting_verification"
    COMPLETED = "completed"


STEP_STYLE = styled(
    StepStatus,
    {
        StepStatus.PENDING: ("Not started", "#6b7280"),
        StepStatus.IN_PROGRESS: ("In progress", "#2563eb"),
        StepStatus.AWAITING_VERIFICATION: ("Awaiting second-person verification", "#c2410c"),
        StepStatus.COMPLETED: ("Completed", "#15803d"),
    },
)


class Severity(Styled):
    """How much a deviation may affect the product (classified by QA)."""

    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise InvalidInput(
                f"{text!r} is not a deviation class; use one of: {choices}"
            ) from None


SEVERITY_STYLE = styled(
    Severity,
    {
        Severity.MINOR: ("Minor", "#a16207"),
        Severity.MAJOR: ("Major", "#c2410c"),
        Severity.CRITICAL: ("Critical", "#dc2626"),
    },
)


class DeviationState(Styled):
    """Where a deviation is in its handling."""

    OPEN = "open"
    UNDER_INVESTIGATION = "under_investigation"
    CLOSED = "closed"


DEVIATION_STYLE = styled(
    DeviationState,
    {
        DeviationState.OPEN: ("Open", "#dc2626"),
        DeviationState.UNDER_INVESTIGATION: ("Under investigation", "#c2410c"),
        DeviationState.CLOSED: ("Closed", "#15803d"),
    },
)


class DeviationAction(StrEnum):
    """Something QA does to a deviation; one row of its transition table each."""

    INVESTIGATE = "investigate"
    CLOSE = "close"


# The deviation's state table (who may fire each action is the authority table's).
DEVIATION_TRANSITIONS: StateTable[DeviationAction, DeviationState] = StateTable(
    "deviation",
    DeviationAction,
    {
        DeviationAction.INVESTIGATE: arrow(
            {DeviationState.OPEN}, DeviationState.UNDER_INVESTIGATION
        ),
        DeviationAction.CLOSE: arrow({DeviationState.UNDER_INVESTIGATION}, DeviationState.CLOSED),
    },
)


# ------------------------------------------------------------------ records inside a batch


@dataclass(eq=False)
class ValueEntry:
    """One parameter value as entered; a correction is another entry pointing to this one."""

    seq: int
    step_code: str
    parameter: str
    value: float | str
    unit: str
    entered_by: str
    entered_by_name: str
    entered_at: datetime
    excursion: str | None = None
    corrects: int | None = None
    reason: str = ""
    # A correction made after the step was signed carries its own signature and needs a
    # second person's verification.
    after_signature: bool = False
    signature: SignatureRecord | None = None
    verification: SignatureRecord | None = None

    @property
    def within_limits(self) -> bool:
        return self.excursion is None

    @property
    def shown(self) -> str:
        if isinstance(self.value, float):
            return with_unit(self.value, self.unit)
        return self.value

    def content(self, batch_id: str) -> JsonObject:
        """What a signature on this entry covers."""
        return {
            "batch_id": batch_id,
            "seq": self.seq,
            "step_code": self.step_code,
            "parameter": self.parameter,
            "value": self.value,
            "unit": self.unit,
            "entered_by": self.entered_by,
            "entered_at": snapshot_time(self.entered_at),
            "corrects": self.corrects,
            "reason": self.reason,
        }

    def to_dict(self) -> JsonObject:
        return {
            "seq": self.seq,
            "step_code": self.step_code,
            "parameter": self.parameter,
            "value": self.value,
            "unit": self.unit,
            "entered_by": self.entered_by,
            "entered_by_name": self.entered_by_name,
            "entered_at": snapshot_time(self.entered_at),
            "excursion": self.excursion,
            "corrects": self.corrects,
            "reason": self.reason,
            "after_signature": self.after_signature,
            "signature": self.signature.to_dict() if self.signature else None,
            "verification": self.verification.to_dict() if self.verification else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValueEntry:
        return cls(
            seq=data["seq"],
            step_code=data["step_code"],
            parameter=data["parameter"],
            value=data["value"],
            unit=data["unit"],
            entered_by=data["entered_by"],
            entered_by_name=data["entered_by_name"],
            entered_at=datetime.fromisoformat(data["entered_at"]),
            excursion=data.get("excursion"),
            corrects=data.get("corrects"),
            reason=data.get("reason", ""),
            after_signature=data.get("after_signature", False),
            signature=signature_from(data.get("signature")),
            verification=signature_from(data.get("verification")),
        )


@dataclass(eq=False)
class StepRecord:
    """One step of one batch: where and with what it ran, what was recorded, who signed."""

    spec: StepSpec
    position: int
    status: StepStatus = StepStatus.PENDING
    suite: str | None = None
    equipment: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    started_by: str | None = None
    entries: list[ValueEntry] = field(default_factory=list)
    performed: SignatureRecord | None = None
    verified: SignatureRecord | None = None
    completed_at: datetime | None = None

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def title(self) -> str:
        return f"step {self.position} ({self.spec.name})"

    @property
    def signed(self) -> bool:
        return self.performed is not None

    def current(self, parameter: str) -> ValueEntry | None:
        """The value that stands now for a parameter: the last entry in its correction chain."""
        entries = [e for e in self.entries if e.parameter == parameter]
        return entries[-1] if entries else None

    def missing(self) -> list[str]:
        return [p.name for p in self.spec.parameters if self.current(p.name) is None]

    def people(self) -> set[str]:
        """Everyone who took part in the step; none of them may verify it."""
        names = {e.entered_by for e in self.entries if not e.after_signature}
        if self.started_by:
            names.add(self.started_by)
        if self.performed:
            names.add(self.performed.username)
        return names

    def content(self, batch_id: str) -> JsonObject:
        """What "performed" and "verified" sign: the step as it stood when it was signed.

        Corrections made after signature are signed on their own, so the first signatures
        keep covering exactly what their signers saw.
        """
        return {
            "batch_id": batch_id,
            "position": self.position,
            "code": self.code,
            "name": self.spec.name,
            "critical": self.spec.critical,
            "suite": self.suite,
            "equipment": list(self.equipment),
            "started_at": snapshot_time(self.started_at),
            "started_by": self.started_by,
            "values": [e.content(batch_id) for e in self.entries if not e.after_signature],
        }

    def to_dict(self) -> JsonObject:
        return {
            "position": self.position,
            "code": self.code,
            "name": self.spec.name,
            "critical": self.spec.critical,
            "expected_hours": self.spec.expected_hours,
            "parameters": [p.to_dict() for p in self.spec.parameters],
            "status": self.status.value,
            "suite": self.suite,
            "equipment": list(self.equipment),
            "started_at": snapshot_time(self.started_at),
            "started_by": self.started_by,
            "entries": [e.to_dict() for e in self.entries],
            "performed": self.performed.to_dict() if self.performed else None,
            "verified": self.verified.to_dict() if self.verified else None,
            "completed_at": snapshot_time(self.completed_at),
        }

    def stored(self) -> JsonObject:
        """The step as stored: its snapshot and the full step specification it follows."""
        return {**self.to_dict(), "spec": self.spec.to_dict()}

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> StepRecord:
        return cls(
            spec=StepSpec.from_dict(data["spec"]),
            position=data["position"],
            status=StepStatus(data["status"]),
            suite=data.get("suite"),
            equipment=list(data.get("equipment", [])),
            started_at=_moment(data.get("started_at")),
            started_by=data.get("started_by"),
            entries=[ValueEntry.from_dict(e) for e in data.get("entries", [])],
            performed=signature_from(data.get("performed")),
            verified=signature_from(data.get("verified")),
            completed_at=_moment(data.get("completed_at")),
        )


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(eq=False)
class Deviation:
    """A departure from the approved process or its limits, found during one batch."""

    id: str
    description: str
    severity: Severity
    raised_at: datetime
    raised_by: str
    step_code: str | None = None
    entry_seq: int | None = None
    automatic: bool = False
    state: DeviationState = DeviationState.OPEN
    investigation_started_at: datetime | None = None
    investigation_started_by: str | None = None
    root_cause: str | None = None
    capa: str | None = None
    closure: SignatureRecord | None = None
    reclassifications: list[JsonObject] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.state is not DeviationState.CLOSED

    @property
    def summary(self) -> str:
        return f"{self.id} ({self.severity.value}, {self.state.label.lower()}: {self.description})"

    def content(self, batch_id: str) -> JsonObject:
        """What QA signs when closing the deviation."""
        return {
            "batch_id": batch_id,
            "id": self.id,
            "description": self.description,
            "severity": self.severity.value,
            "step_code": self.step_code,
            "entry_seq": self.entry_seq,
            "raised_at": snapshot_time(self.raised_at),
            "raised_by": self.raised_by,
            "root_cause": self.root_cause,
            "capa": self.capa,
        }

    def to_dict(self) -> JsonObject:
        return {
            **{k: v for k, v in self.content("").items() if k != "batch_id"},
            "automatic": self.automatic,
            "state": self.state.value,
            "investigation_started_at": snapshot_time(self.investigation_started_at),
            "investigation_started_by": self.investigation_started_by,
            "closure": self.closure.to_dict() if self.closure else None,
            "reclassifications": [dict(r) for r in self.reclassifications],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deviation:
        return cls(
            id=data["id"],
            description=data["description"],
            severity=Severity(data["severity"]),
            raised_at=datetime.fromisoformat(data["raised_at"]),
            raised_by=data["raised_by"],
            step_code=data.get("step_code"),
            entry_seq=data.get("entry_seq"),
            automatic=data.get("automatic", False),
            state=DeviationState(data["state"]),
            investigation_started_at=_moment(data.get("investigation_started_at")),
            investigation_started_by=data.get("investigation_started_by"),
            root_cause=data.get("root_cause"),
            capa=data.get("capa"),
            closure=signature_from(data.get("closure")),
            reclassifications=[dict(r) for r in data.get("reclassifications", [])],
        )


# ------------------------------------------------------------------ the batch


@dataclass(eq=False)
class Batch:
    """One manufacturing run of one product, bound to the process version it started on."""

    ENTITY_TYPE = "batch"

    id: str
    product_code: str
    site: str
    template_id: str
    template_number: int
    template_hash: str
    steps: list[StepRecord]
    started_at: datetime
    started_by: str
    case_id: str | None = None
    lot_id: str | None = None
    coi: str | None = None
    din: str | None = None
    status: BatchStatus = BatchStatus.IN_PROGRESS
    deviations: list[Deviation] = field(default_factory=list)
    completed_at: datetime | None = None
    abort: JsonObject | None = None
    entry_count: int = 0
    version: int = 1

    @property
    def entity_id(self) -> str:
        return self.id

    def snapshot(self) -> JsonObject:
        return {
            "id": self.id,
            "product_code": self.product_code,
            "site": self.site,
            "template_id": self.template_id,
            "template_number": self.template_number,
            "template_hash": self.template_hash,
            "case_id": self.case_id,
            "lot_id": self.lot_id,
            "coi": self.coi,
            "din": self.din,
            "started_at": snapshot_time(self.started_at),
            "started_by": self.started_by,
            "status": self.status.value,
            "steps": [s.to_dict() for s in self.steps],
            "deviations": [d.to_dict() for d in self.deviations],
            "completed_at": snapshot_time(self.completed_at),
            "abort": dict(self.abort) if self.abort else None,
            "entry_count": self.entry_count,
            "version": self.version,
        }

    # -------------------------------------------------------------- reading

    def recorded_count(self, unit: str) -> int | None:
        """The containers the record says were filled ('bags', 'vials'): the current value of
        the parameter counted in that unit, or None when the process records none."""
        for step in self.steps:
            for parameter in step.spec.parameters:
                entry = step.current(parameter.name)
                if parameter.unit == unit and entry is not None and isinstance(entry.value, float):
                    return int(entry.value)
        return None

    def step(self, code: str) -> StepRecord:
        for step in self.steps:
            if step.code == code:
                return step
        known = ", ".join(s.code for s in self.steps)
        raise InvalidInput(f"batch {self.id} has no step {code!r} (its steps: {known})")

    def entry(self, seq: int) -> tuple[StepRecord, ValueEntry]:
        for step in self.steps:
            for entry in step.entries:
                if entry.seq == seq:
                    return step, entry
        raise InvalidInput(f"batch {self.id} has no entry #{seq}")

    def deviation(self, deviation_id: str) -> Deviation:
        for deviation in self.deviations:
            if deviation.id == deviation_id:
                return deviation
        raise InvalidInput(f"batch {self.id} has no deviation {deviation_id}")

    def open_deviations(self, severity: Severity | None = None) -> list[Deviation]:
        """Deviations not yet closed, most severe first; only one class if `severity` is given."""
        found = [
            d for d in self.deviations if d.is_open and (severity is None or d.severity is severity)
        ]
        return sorted(found, key=lambda d: -d.severity.rank)

    def unverified_corrections(self) -> list[ValueEntry]:
        return [
            e for s in self.steps for e in s.entries if e.after_signature and e.verification is None
        ]

    def signatures(self) -> list[tuple[str, SignatureRecord]]:
        """Every signature on the record, with what it signed, in the order given."""
        found: list[tuple[str, SignatureRecord]] = []
        for step in self.steps:
            if step.performed:
                found.append((f"{step.title}", step.performed))
            if step.verified:
                found.append((f"{step.title}", step.verified))
            for entry in step.entries:
                what = f"correction #{entry.seq} of {entry.parameter} ({step.title})"
                if entry.signature:
                    found.append((what, entry.signature))
                if entry.verification:
                    found.append((what, entry.verification))
        for deviation in self.deviations:
            if deviation.closure:
                found.append((f"closure of deviation {deviation.id}", deviation.closure))
        return sorted(found, key=lambda pair: pair[1].at)

    def guard_release(self) -> None:
        """What the batch record itself must satisfy before QA may release the product.

        Every step completed and signed; every deviation closed, whatever its class
        (a minor deviation still needs its root cause and CAPA on file before the
        release decision relies on it); every correction made after signature verified.
        """
        if self.status is BatchStatus.ABORTED:
            raise NotAllowed(f"batch {self.id} was aborted: it cannot be released")
        if self.status.disposed:
            raise NotAllowed(f"batch {self.id} is {self.status.label.lower()} already")
        unfinished = [s for s in self.steps if s.status is not StepStatus.COMPLETED]
        if unfinished:
            first = unfinished[0]
            raise NotAllowed(
                f"batch {self.id} is not finished: {first.title} is {first.status.label.lower()}"
            )
        still_open = self.open_deviations()
        if still_open:
            listed = "; ".join(d.summary for d in still_open)
            raise NotAllowed(
                f"batch {self.id} cannot be released while {len(still_open)} deviation(s) "
                f"are open: {listed}. Close each with a root cause, a CAPA and a QA signature"
            )
        unverified = self.unverified_corrections()
        if unverified:
            seqs = ", ".join(f"#{e.seq}" for e in unverified)
            raise NotAllowed(
                f"batch {self.id} has corrections made after signature that no second person "
                f"has verified: {seqs}"
            )

    # -------------------------------------------------------------- steps

    def _guard_running(self) -> None:
        if self.status is not BatchStatus.IN_PROGRESS:
            raise NotAllowed(
                f"batch {self.id} is {self.status.label.lower()}: its steps can no longer change"
            )

    def start_step(
        self,
        code: str,
        *,
        by: User,
        at: datetime,
        suite: str,
        equipment: Iterable[str] = (),
    ) -> StepRecord:
        """Start the next step in template order, in a suite, with its equipment."""
        self._guard_running()
        step = self.step(code)
        if step.status is not StepStatus.PENDING:
            raise NotAllowed(f"{step.title} of batch {self.id} was started already")
        before = [s for s in self.steps if s.position < step.position]
        unfinished = [s for s in before if s.status is not StepStatus.COMPLETED]
        if unfinished:
            first = unfinished[0]
            raise NotAllowed(
                f"{step.title} cannot start before {first.title} is completed "
                f"({first.status.label.lower()}): steps follow the process order"
            )
        where = require_text(suite, f"the suite of {step.title}")
        tools = _equipment_ids(equipment)
        aware(at)
        if before and before[-1].completed_at and at < before[-1].completed_at:
            raise InvalidInput(f"{step.title} cannot start before the step before it ended")
        step.suite = where
        step.equipment = tools
        step.started_at = at
        step.started_by = by.username
        step.status = StepStatus.IN_PROGRESS
        self.version += 1
        return step

    def add_equipment(self, code: str, equipment_id: str, *, by: User) -> None:
        """Record another piece of equipment used in a step that is not signed yet."""
        self._guard_running()
        step = self.step(code)
        self._guard_unsigned(step)
        (tool,) = _equipment_ids([equipment_id])
        if tool in step.equipment:
            raise InvalidInput(f"{tool} is already recorded for {step.title}")
        step.equipment.append(tool)
        self.version += 1

    def _guard_unsigned(self, step: StepRecord) -> None:
        if step.status is StepStatus.PENDING:
            raise NotAllowed(f"{step.title} of batch {self.id} has not started")
        if step.signed:
            assert step.performed is not None
            raise NotAllowed(
                f"{step.title} of batch {self.id} was signed by {step.performed.printed_name} "
                "and is locked: enter a correction with a reason instead"
            )

    def record_value(
        self,
        code: str,
        parameter: str,
        value: float | str,
        *,
        by: User,
        at: datetime,
    ) -> ValueEntry:
        """Record a parameter's value at a running step; outside its limit, a deviation opens."""
        self._guard_running()
        step = self.step(code)
        self._guard_unsigned(step)
        spec = step.spec.parameter(parameter)
        if step.current(parameter) is not None:
            raise NotAllowed(
                f"{parameter} is already recorded for {step.title}: enter a correction "
                "with a reason, so the first value stays visible"
            )
        parsed = spec.parse(value)
        aware(at)
        return self._add_entry(step, parameter, parsed, spec.unit, spec.excursion(parsed), by, at)

    def correct_value(
        self,
        seq: int,
        value: float | str,
        *,
        reason: str,
        by: User,
        at: datetime,
    ) -> ValueEntry:
        """Correct an entry by adding a new one that points to it; the first value stays.

        After the step was signed, the correction carries its corrector's own signature
        and waits for a second person's verification.
        """
        if self.status is not BatchStatus.IN_PROGRESS and self.status is not BatchStatus.COMPLETED:
            raise NotAllowed(
                f"batch {self.id} is {self.status.label.lower()}: its record is closed"
            )
        step, old = self.entry(seq)
        latest = step.current(old.parameter)
        if latest is not old:
            assert latest is not None
            raise InvalidInput(
                f"entry #{seq} was corrected already by entry #{latest.seq}: correct that one"
            )
        why = require_text(reason, "a reason for the correction")
        spec = step.spec.parameter(old.parameter)
        parsed = spec.parse(value)
        if parsed == old.value:
            raise InvalidInput(f"entry #{seq} already holds {old.shown}: nothing to correct")
        aware(at)
        return self._add_entry(
            step,
            old.parameter,
            parsed,
            spec.unit,
            spec.excursion(parsed),
            by,
            at,
            corrects=seq,
            reason=why,
            after_signature=step.signed,
        )

    def _add_entry(
        self,
        step: StepRecord,
        parameter: str,
        value: float | str,
        unit: str,
        excursion: str | None,
        by: User,
        at: datetime,
        *,
        corrects: int | None = None,
        reason: str = "",
        after_signature: bool = False,
    ) -> ValueEntry:
        entry = ValueEntry(
            seq=self.entry_count + 1,
            step_code=step.code,
            parameter=parameter,
            value=value,
            unit=unit,
            entered_by=by.username,
            entered_by_name=by.printed_name,
            entered_at=at,
            excursion=excursion,
            corrects=corrects,
            reason=reason,
            after_signature=after_signature,
        )
        if after_signature:
            entry.signature = SignatureRecord.of(by, Meaning.AUTHORED, at, entry.content(self.id))
        self.entry_count += 1
        step.entries.append(entry)
        if excursion is not None:
            # An in-process limit breached on a critical step starts as major; QA may
            # reclassify once it has looked (classification is QA's judgement).
            self._new_deviation(
                excursion,
                Severity.MAJOR if step.spec.critical else Severity.MINOR,
                by,
                at,
                step_code=step.code,
                entry_seq=entry.seq,
                automatic=True,
            )
        self.version += 1
        return entry

    def complete_step(self, code: str, *, by: User, at: datetime) -> StepRecord:
        """The operator signs the step "performed"; a critical step then waits for verification."""
        self._guard_running()
        step = self.step(code)
        self._guard_unsigned(step)
        missing = step.missing()
        if missing:
            raise InvalidInput(f"{step.title} still needs: {', '.join(missing)}")
        aware(at)
        if step.started_at and at < step.started_at:
            raise InvalidInput(f"{step.title} cannot end before it started")
        step.performed = SignatureRecord.of(by, Meaning.PERFORMED, at, step.content(self.id))
        if step.spec.critical:
            step.status = StepStatus.AWAITING_VERIFICATION
        else:
            self._finish(step, at)
        self.version += 1
        return step

    def verify_step(self, code: str, *, by: User, at: datetime) -> StepRecord:
        """A second person signs a critical step "verified"; never someone who performed it."""
        self._guard_running()
        step = self.step(code)
        if not step.spec.critical:
            raise InvalidInput(f"{step.title} is not critical: it needs no second-person check")
        if step.status is not StepStatus.AWAITING_VERIFICATION:
            raise NotAllowed(
                f"{step.title} is {step.status.label.lower()}: only a step signed "
                "'performed' can be verified"
            )
        if by.username in step.people():
            role = "performed" if by.username == _performer(step) else "took part in"
            raise NotAllowed(
                f"{by.username} {role} {step.title} and cannot verify it: a second person must"
            )
        aware(at)
        assert step.performed is not None
        if at < step.performed.at:
            raise InvalidInput(f"{step.title} cannot be verified before it was performed")
        step.verified = SignatureRecord.of(by, Meaning.VERIFIED, at, step.content(self.id))
        self._finish(step, at)
        self.version += 1
        return step

    def verify_correction(self, seq: int, *, by: User, at: datetime) -> ValueEntry:
        """A second person verifies a correction made after signature."""
        if self.status.disposed or self.status is BatchStatus.ABORTED:
            raise NotAllowed(
                f"batch {self.id} is {self.status.label.lower()}: its record is closed"
            )
        _, entry = self.entry(seq)
        if not entry.after_signature:
            raise InvalidInput(
                f"entry #{seq} was not a correction after signature: the step's own "
                "signatures cover it"
            )
        if entry.verification is not None:
            raise NotAllowed(f"entry #{seq} was verified already")
        if by.username == entry.entered_by:
            raise NotAllowed(
                f"{by.username} made correction #{seq} and cannot verify it: a second person must"
            )
        entry.verification = SignatureRecord.of(
            by, Meaning.VERIFIED, aware(at), entry.content(self.id)
        )
        self.version += 1
        return entry

    def _finish(self, step: StepRecord, at: datetime) -> None:
        step.status = StepStatus.COMPLETED
        step.completed_at = at
        if all(s.status is StepStatus.COMPLETED for s in self.steps):
            self.status = BatchStatus.COMPLETED
            self.completed_at = at

    def abort_batch(self, *, reason: str, by: User, at: datetime) -> None:
        """QA stops a batch that cannot go on (its deviations still need closing)."""
        if self.status is not BatchStatus.IN_PROGRESS and self.status is not BatchStatus.COMPLETED:
            raise NotAllowed(
                f"batch {self.id} is {self.status.label.lower()}: it cannot be aborted"
            )
        why = require_text(reason, "a reason to abort the batch")
        self.abort = {"by": by.username, "at": snapshot_time(aware(at)), "reason": why}
        self.status = BatchStatus.ABORTED
        self.version += 1

    def mark_disposed(self, status: BatchStatus) -> None:
        """Record QA's decision on the batch; called by the release record, after its checks."""
        if not status.disposed:
            raise ValueError(f"{status} is not a disposition")
        self.status = status
        self.version += 1

    # -------------------------------------------------------------- deviations

    def raise_deviation(
        self,
        description: str,
        severity: Severity,
        *,
        by: User,
        at: datetime,
        step_code: str | None = None,
    ) -> Deviation:
        """Report a deviation by hand (an excursion raises its own automatically)."""
        what = require_text(description, "a description of the deviation")
        if step_code is not None:
            self.step(step_code)
        if self.status.disposed:
            raise NotAllowed(
                f"batch {self.id} is {self.status.label.lower()}: its record is closed"
            )
        deviation = self._new_deviation(what, severity, by, aware(at), step_code=step_code)
        self.version += 1
        return deviation

    def _new_deviation(
        self,
        description: str,
        severity: Severity,
        by: User,
        at: datetime,
        *,
        step_code: str | None = None,
        entry_seq: int | None = None,
        automatic: bool = False,
    ) -> Deviation:
        deviation = Deviation(
            id=f"{self.id}-D{len(self.deviations) + 1:02d}",
            description=description,
            severity=severity,
            raised_at=at,
            raised_by=by.username,
            step_code=step_code,
            entry_seq=entry_seq,
            automatic=automatic,
        )
        self.deviations.append(deviation)
        return deviation

    def _guard_deviation(self, action: DeviationAction, deviation: Deviation) -> DeviationState:
        done = "investigated" if action is DeviationAction.INVESTIGATE else "closed"
        return DEVIATION_TRANSITIONS.fire(
            action,
            deviation.state,
            lambda: (
                f"deviation {deviation.id} is {deviation.state.label.lower()}: "
                f"it cannot be {done} now"
            ),
        )

    def investigate_deviation(self, deviation_id: str, *, by: User, at: datetime) -> Deviation:
        deviation = self.deviation(deviation_id)
        target = self._guard_deviation(DeviationAction.INVESTIGATE, deviation)
        deviation.investigation_started_at = aware(at)
        deviation.investigation_started_by = by.username
        deviation.state = target
        self.version += 1
        return deviation

    def classify_deviation(
        self, deviation_id: str, severity: Severity, *, reason: str, by: User, at: datetime
    ) -> Deviation:
        """QA changes a deviation's class while it is open; the earlier class stays on file."""
        deviation = self.deviation(deviation_id)
        if not deviation.is_open:
            raise NotAllowed(f"deviation {deviation.id} is closed: its class is final")
        if deviation.severity is severity:
            raise InvalidInput(f"deviation {deviation.id} is {severity.value} already")
        why = require_text(reason, "a reason for the new class")
        deviation.reclassifications.append(
            {
                "from": deviation.severity.value,
                "to": severity.value,
                "reason": why,
                "by": by.username,
                "at": snapshot_time(aware(at)),
            }
        )
        deviation.severity = severity
        self.version += 1
        return deviation

    def close_deviation(
        self, deviation_id: str, *, root_cause: str, capa: str, by: User, at: datetime
    ) -> Deviation:
        """QA closes an investigated deviation with its root cause and CAPA, and signs."""
        deviation = self.deviation(deviation_id)
        target = self._guard_deviation(DeviationAction.CLOSE, deviation)
        cause = require_text(root_cause, "a root cause")
        action = require_text(capa, "a corrective and preventive action (CAPA)")
        aware(at)
        deviation.root_cause = cause
        deviation.capa = action
        deviation.closure = SignatureRecord.of(by, Meaning.APPROVED, at, deviation.content(self.id))
        deviation.state = target
        self.version += 1
        return deviation

    def record_content(self) -> JsonObject:
        """The batch record as QA signs it at release: all but what the decision changes
        (its status and version counter), so the signed content can be rebuilt later."""
        snapshot = self.snapshot()
        del snapshot["status"], snapshot["version"]
        return snapshot

    def people(self) -> set[str]:
        """Everyone who started, performed, verified, entered or corrected anything in the
        record (closing a deviation is QA's review, not making the batch)."""
        names = {self.started_by}
        for step in self.steps:
            names |= step.people()
            names |= {e.entered_by for e in step.entries}
            if step.verified:
                names.add(step.verified.username)
            names |= {e.verification.username for e in step.entries if e.verification}
        return names


def _performer(step: StepRecord) -> str | None:
    return step.performed.username if step.performed else None


def _equipment_ids(equipment: Iterable[str]) -> list[str]:
    tools = [" ".join(e.split()) for e in equipment]
    if any(not t for t in tools):
        raise InvalidInput("an equipment id cannot be empty")
    if len(set(tools)) != len(tools):
        raise InvalidInput("the same equipment is listed twice")
    return tools


def check_batch_id(batch_id: str) -> str:
    if not _BATCH_ID.match(batch_id):
        raise InvalidInput(
            f"batch id {batch_id!r} is not allowed: use 1 to 40 letters, digits or '-'"
        )
    return batch_id


def start_batch(
    batch_id: str,
    template: ProcessTemplate,
    *,
    by: User,
    at: datetime,
    case_id: str | None = None,
    lot_id: str | None = None,
    coi: str | None = None,
    din: str | None = None,
) -> Batch:
    """Open a batch record on the process version in force (it binds that version).

    A batch belongs to exactly one case (autologous) or one lot (allogeneic); an
    autologous batch carries its patient's chain-of-identity id and donation number.
    """
    check_batch_id(batch_id)
    template.guard_use()
    if (case_id is None) == (lot_id is None):
        raise InvalidInput("a batch belongs to exactly one case (autologous) or one lot")
    if case_id is not None and not (coi and din):
        raise InvalidInput(
            "an autologous batch needs the case's chain-of-identity id and donation number"
        )
    return Batch(
        id=batch_id,
        product_code=template.product_code,
        site=template.site,
        template_id=template.id,
        template_number=template.number,
        template_hash=content_hash(template.content()),
        steps=[StepRecord(spec=s, position=i) for i, s in enumerate(template.steps, start=1)],
        started_at=aware(at),
        started_by=by.username,
        case_id=case_id,
        lot_id=lot_id,
        coi=coi,
        din=din,
    )
