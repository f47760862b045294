"""Handlers of QC and release: results entered and corrected against the bound
specification, the OOS investigation, the treating physician's acknowledgement, and QA's
decision, which is one handler for every door (a batch's or its case's).

QA's decision is signed with user name and password re-entered (21 CFR 11.200) and bound
to a hash of the batch record and results it covers (11.70). The case follows the
decision through a domain event handled in the same unit of work (services.journey), so
the batch, the case and the product shipment change together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veinline.domain.batch import Batch, BatchStatus
from veinline.domain.case import Case, CaseState
from veinline.domain.coa import CertificateOfAnalysis, certificate_of_analysis
from veinline.domain.errors import NotAllowed, NotFound
from veinline.domain.events import BatchDisposed, ResultsOutOfSpecification
from veinline.domain.ledger import JsonObject
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.release import Disposition, ReleaseRecord, open_release_record
from veinline.domain.signature import Meaning
from veinline.domain.specification import ReleaseTest, specification_in_force
from veinline.domain.user import User
from veinline.services import authority, commands, places, signatures
from veinline.services.batch_record import get_batch
from veinline.services.handlers import Clock
from veinline.services.passwords import PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork


def get_release_record(uow: AbstractUnitOfWork, batch_id: str) -> ReleaseRecord:
    record = uow.release_records.get(batch_id.strip(), for_update=True)
    if record is None:
        raise NotAllowed(f"batch {batch_id} has no QC results yet: nothing to decide on")
    return record


def _case_of(uow: AbstractUnitOfWork, batch: Batch) -> Case | None:
    if batch.case_id is None:
        return None
    case = uow.cases.get(batch.case_id, for_update=True)
    if case is None:
        raise NotFound(f"batch {batch.id} names case {batch.case_id}, which does not exist")
    return case


def _open_record(uow: AbstractUnitOfWork, batch: Batch, actor: User, clock: Clock) -> ReleaseRecord:
    case = _case_of(uow, batch)
    if batch.status is BatchStatus.IN_PROGRESS:
        running = next(s for s in batch.steps if s.status.value != "completed")
        raise NotAllowed(
            f"QC tests the finished product: batch {batch.id} is still in manufacturing "
            f"({running.title} is {running.status.label.lower()})"
        )
    if case is not None:
        if case.state is not CaseState.IN_QC:
            raise NotAllowed(
                f"case {case.id} is {case.state.label.lower()}: QC results are entered once "
                "manufacturing is completed (bags and expiry recorded)"
            )
        market = case.jurisdiction
    else:
        # An allogeneic lot's batch: the lot names its market (docs/architecture.md,
        # "Allogeneic MSC").
        lot = uow.msc_lots.get(batch.lot_id) if batch.lot_id else None
        if lot is None:
            raise NotAllowed(f"batch {batch.id} belongs to no case or lot: its market is not known")
        market = lot.market
    specs = uow.specifications.find(product_code=batch.product_code, market=market)
    spec = specification_in_force(specs, batch.product_code, market)
    record = open_release_record(batch, spec, market=market, by=actor, at=clock())
    uow.release_records.add(record)
    signatures.record_change(
        uow, record, actor, LedgerAction.RELEASE_RECORD_OPENED, None, f"specification {spec.id}"
    )
    return record


def _shown(test: ReleaseTest, text: str) -> str:
    unit = "" if not (test.numeric and test.unit) else test.unit
    spaced = unit if unit in ("%", "°C") or not unit else f" {unit}"
    return f"{test.name} {text}{spaced} (specification {test.limit_text})"


def enter_result(
    cmd: commands.EnterResult, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> ReleaseRecord:
    with uow:
        batch = get_batch(uow, cmd.batch_id)
        record = uow.release_records.get(batch.id, for_update=True)
        if record is None:
            record = _open_record(uow, batch, actor, clock)
        before = record.snapshot()
        result = record.enter_result(cmd.test, cmd.value, by=actor, at=clock())
        signatures.record_change(
            uow,
            record,
            actor,
            LedgerAction.RELEASE_RECORD_RESULT_ENTERED,
            before,
            result.current.reason,
        )
        _follow_results(uow, batch, record)
        uow.commit()
        return record


def correct_result(
    cmd: commands.CorrectResult, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> ReleaseRecord:
    with uow:
        batch = get_batch(uow, cmd.batch_id)
        record = get_release_record(uow, cmd.batch_id)
        before = record.snapshot()
        record.correct_result(cmd.test, cmd.value, reason=cmd.reason, by=actor, at=clock())
        signatures.record_change(
            uow, record, actor, LedgerAction.RELEASE_RECORD_RESULT_CORRECTED, before, cmd.reason
        )
        _follow_results(uow, batch, record)
        uow.commit()
        return record


def open_investigation(
    cmd: commands.OpenInvestigation, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> ReleaseRecord:
    with uow:
        record = get_release_record(uow, cmd.batch_id)
        before = record.snapshot()
        record.open_investigation(
            reference=cmd.reference, summary=cmd.summary, by=actor, at=clock()
        )
        signatures.record_change(
            uow,
            record,
            actor,
            LedgerAction.RELEASE_RECORD_INVESTIGATION_OPENED,
            before,
            cmd.reference,
        )
        uow.commit()
        return record


def acknowledge_results(
    cmd: commands.AcknowledgeResults,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> ReleaseRecord:
    with uow:
        signer = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
        batch = get_batch(uow, cmd.batch_id)
        record = get_release_record(uow, cmd.batch_id)
        case = _case_of(uow, batch)
        if case is None:
            raise NotAllowed(f"batch {batch.id} has no patient: there is no treating physician")
        before = record.snapshot()
        record.acknowledge(
            signer, treating_physician=case.treating_physician, at=clock(), statement=cmd.statement
        )
        signatures.record_change(
            uow,
            record,
            signer,
            LedgerAction.RELEASE_RECORD_ACKNOWLEDGED,
            before,
            cmd.statement,
            Meaning.ACKNOWLEDGED,
        )
        uow.commit()
        return record


def certificate(uow: AbstractUnitOfWork, batch_id: str, reader: User) -> JsonObject:
    """The certificate of analysis of a decided batch, as its JSON read model
    (`domain.coa`), which `adapters.coa_pdf` draws."""
    return certificate_of(uow, batch_id, reader).to_dict()


def certificate_of(uow: AbstractUnitOfWork, batch_id: str, reader: User) -> CertificateOfAnalysis:
    """The certificate of analysis of a decided batch, for a reader of the batch's sites."""
    with uow:
        batch = get_batch(uow, batch_id)
        authority.require_read(reader, authority.Read.BATCH, places.of_batch(uow, batch))
        record = uow.release_records.get(batch.id)
        if record is None:
            raise NotAllowed(f"batch {batch.id} has no QC results: there is nothing to certify")
        product = uow.products.get(batch.product_code)
        site = uow.sites.get(batch.site)
        case = uow.cases.get(batch.case_id) if batch.case_id else None
        expires = case.manufacturing.expires_at if case and case.manufacturing else None
        expiry = expires.isoformat() if expires else "not recorded"
        return certificate_of_analysis(
            batch,
            record,
            product_name=product.name if product else batch.product_code,
            expiry=str(expiry),
            manufacturing_site=site.name if site else batch.site,
        )


def _follow_results(uow: AbstractUnitOfWork, batch: Batch, record: ReleaseRecord) -> None:
    """Results out of specification are news for the batch's case (services.journey)."""
    if record.disposition is not Disposition.OUT_OF_SPECIFICATION:
        return
    failed = "; ".join(
        _shown(record.test(r.test_code), r.current.text) for r in record.out_of_specification()
    )
    uow.emit(ResultsOutOfSpecification(batch_id=batch.id, case_id=batch.case_id, failed=failed))


# ------------------------------------------------------------------ the decision

_BY_CASE = (commands.ReleaseProduct, commands.ConditionalRelease)
Decision = (
    commands.ReleaseBatch
    | commands.ReleaseBatchConditionally
    | commands.RejectBatch
    | commands.ReleaseProduct
    | commands.ConditionalRelease
)

# Every door to QA's decision: a batch's own, or its case's.
DECISIONS: tuple[type[commands.Command], ...] = (
    commands.ReleaseBatch,
    commands.ReleaseBatchConditionally,
    commands.RejectBatch,
    commands.ReleaseProduct,
    commands.ConditionalRelease,
)


def decide_release(
    cmd: Decision,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> ReleaseRecord | Case:
    """QA releases, releases conditionally or rejects a batch, by its id or its case's.

    One transaction: the signed decision on the release record and the batch, then (by
    the BatchDisposed event) the case and its product shipment. Addressed by case, the
    case is returned as it now stands; addressed by batch, the release record."""
    with uow:
        signer = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
        case_id = cmd.case_id if isinstance(cmd, _BY_CASE) else None
        batch_id = (
            cmd.batch_id if not isinstance(cmd, _BY_CASE) else _batch_of_case(uow, cmd.case_id)
        )
        batch = get_batch(uow, batch_id, for_update=True)
        record = get_release_record(uow, batch_id)
        batch_before, before = batch.snapshot(), record.snapshot()
        now = clock()
        if isinstance(cmd, commands.ReleaseBatchConditionally | commands.ConditionalRelease):
            reason = cmd.justification
            signature = record.release_conditionally(
                batch, justification=cmd.justification, by=signer, at=now
            )
        elif isinstance(cmd, commands.RejectBatch):
            reason = cmd.reason
            signature = record.reject(batch, reason=cmd.reason, by=signer, at=now)
        else:
            reason = "every result within specification"
            signature = record.release(batch, by=signer, at=now)
        done = record.disposition.value
        signatures.record_change(
            uow,
            record,
            signer,
            LedgerAction.of("release_record", done),
            before,
            reason,
            signature.meaning,
        )
        signatures.record_change(
            uow, batch, signer, LedgerAction.of("batch", done), batch_before, f"QA decision: {done}"
        )
        uow.emit(
            BatchDisposed(
                batch_id=batch.id,
                case_id=batch.case_id,
                disposition=record.disposition,
                reason=reason,
                acknowledged_by=(
                    record.acknowledgement.username if record.acknowledgement else None
                ),
                at=now,
            )
        )
        uow.commit()
        if case_id is not None:
            case = uow.cases.get(case_id)
            assert case is not None
            return case
        return record


def _batch_of_case(uow: AbstractUnitOfWork, case_id: str) -> str:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"there is no case {case_id}")
    if case.state not in (CaseState.IN_QC, CaseState.OUT_OF_SPECIFICATION):
        raise NotAllowed(f"case {case.id} is {case.state.label.lower()}: it cannot be released now")
    return case_batch_id(case)


def case_batch_id(case: Case) -> str:
    """The batch a case's release decision is about."""
    if case.batch_id is None:
        raise NotAllowed(f"case {case.id} has no batch: start manufacturing first")
    return case.batch_id


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.EnterResult: enter_result,
    commands.CorrectResult: correct_result,
    commands.OpenInvestigation: open_investigation,
    commands.AcknowledgeResults: acknowledge_results,
    **dict.fromkeys(DECISIONS, decide_release),
}
