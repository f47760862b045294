"""Reading the ledger: verification end to end, and one record's history."""

from __future__ import annotations

from veinline.domain.ledger import ChainVerifier, LedgerEntry, VerificationReport
from veinline.domain.user import User
from veinline.services.permissions import Permission, require
from veinline.services.unit_of_work import AbstractUnitOfWork


def verify(uow: AbstractUnitOfWork) -> VerificationReport:
    """Walk the whole chain, then check every regulated row against its last snapshot."""
    verifier = ChainVerifier()
    with uow:
        if verifier.walk(uow.ledger.entries()):
            verifier.compare_records(uow.regulated_snapshots())
    return verifier.report


def history(
    uow: AbstractUnitOfWork, entity_id: str, *, actor: User | None = None
) -> list[LedgerEntry]:
    """Every entry about one record, oldest first. `type/id` narrows to one kind."""
    if actor is not None:
        require(actor, Permission.READ_LEDGER)
    entity_type: str | None = None
    if "/" in entity_id:
        entity_type, _, entity_id = entity_id.partition("/")
    with uow:
        return uow.ledger.for_entity(entity_id, entity_type)
