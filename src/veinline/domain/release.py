"""QC results against a bound specification, and QA's disposition of a batch.

A QC analyst enters results against the specification a release record binds; each is
evaluated with a reason an operator can read. A corrected result keeps its first value
visible (Annex 11 §8.2: a batch-release printout shows whether data changed after first
entry).

The release record moves through the DISPOSITION table: awaiting results → ready for QA
release when every test has a passing result; any out-of-specification (OOS) result sends
it to OOS, where an investigation must be opened (FDA, Investigating OOS Test Results for
Pharmaceutical Production, 2006); QA may then release conditionally with a documented
justification and the treating physician's acknowledgement, or reject. Commercial
autologous manufacturing fails specification in about 5–10% of batches (unconfirmed), so
the conditional path is a normal, documented one, not an override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from veinline.domain.batch import Batch, BatchStatus
from veinline.domain.errors import InvalidInput, NotAllowed, require_text
from veinline.domain.ledger import JsonObject, aware, content_hash, snapshot_time
from veinline.domain.signature import Meaning, SignatureRecord
from veinline.domain.specification import ReleaseTest, Specification
from veinline.domain.state_table import StateTable, arrow
from veinline.domain.style import Styled, styled
from veinline.domain.user import User

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
        Disposition.UNDER_INVESTIGATION: ("OOS under investigation", "#c2410c"),
        Disposition.RELEASED: ("Released", "#15803d"),
        Disposition.CONDITIONALLY_RELEASED: ("Released conditionally", "#a16207"),
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
        parsed, text, verdict = test.judge(value)
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
