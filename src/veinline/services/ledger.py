"""Reading the ledger: verification end to end, and one record's history."""

from __future__ import annotations

from contextlib import closing

from veinline.domain.ledger import Break, ChainVerifier, LedgerEntry, VerificationReport
from veinline.domain.user import User
from veinline.services import authority
from veinline.services.unit_of_work import AbstractUnitOfWork


def verify(uow: AbstractUnitOfWork) -> VerificationReport:
    """Walk the whole chain, then check every regulated row against its last snapshot."""
    verifier = ChainVerifier(protect=uow.protected)
    with uow, closing(uow.ledger.entries()) as entries:
        if verifier.walk(entries):
            with closing(uow.regulated_snapshots()) as records:
                if verifier.compare_records(records):
                    _check_release_decisions(uow, verifier.report)
    return verifier.report


def _check_release_decisions(uow: AbstractUnitOfWork, report: VerificationReport) -> None:
    """QA's release signature must still cover the batch record and results as stored
    (11.70): a decision whose signed content no longer matches is a break."""
    for record in uow.release_records.list():
        if record.decision is None:
            continue
        batch = uow.batches.get(record.batch_id)
        if batch is None or not record.decision_is_intact(batch):
            report.breaks.append(
                Break(
                    seq=None,
                    entity=f"release_record {record.batch_id}",
                    message=(
                        f"release_record {record.batch_id}: QA's {record.decision.meaning.value} "
                        f"signature by {record.decision.printed_name} no longer covers the batch "
                        "record and results as stored"
                    ),
                )
            )
            return


def history(
    uow: AbstractUnitOfWork, entity_id: str, *, actor: User | None = None
) -> list[LedgerEntry]:
    """Every entry about one record, oldest first. `type/id` narrows to one kind."""
    if actor is not None:
        authority.require_read(actor, authority.Read.LEDGER)
    entity_type: str | None = None
    if "/" in entity_id:
        entity_type, _, entity_id = entity_id.partition("/")
    with uow:
        return uow.ledger.for_entity(entity_id, entity_type)


def recent(uow: AbstractUnitOfWork, *, limit: int = 50) -> list[LedgerEntry]:
    """The newest entries, newest first (call inside an open unit of work)."""
    return uow.ledger.recent(limit)
