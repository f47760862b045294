"""Reading the ledger: verification (full, or routine from the last good checkpoint) and
the checkpoints that keep its results, and one record's history."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from datetime import date

from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import (
    GENESIS_HASH,
    Break,
    ChainVerifier,
    Checkpoint,
    JsonObject,
    LedgerEntry,
    VerificationReport,
    seal_checkpoint,
)
from veinline.domain.user import User
from veinline.services import authority
from veinline.services.unit_of_work import AbstractUnitOfWork, LedgerQuery

# Told (entries checked so far, entries to check) as a verification goes.
Progress = Callable[[int, int], None]

# A request verifies in the request only a routine check with at most this many entries
# to walk (at the measured 100,000+ entries/s, a few tenths of a second; benchmarks/
# ledger.py): a full verification, or a routine one with more to walk, runs as a job
# (services/jobs.py, JobKind.LEDGER_VERIFY). The routine check also compares every
# regulated record with its snapshot: that part grows with the records kept, not with
# the ledger (docs/architecture.md, "The ledger").
ROUTINE_INLINE_ENTRIES = 20_000


def entries_to_walk(uow: AbstractUnitOfWork, *, full: bool) -> int:
    """How many entries a check would walk now: all of them for a full one (and for the
    first), else those after the last good checkpoint. Two indexed reads."""
    with uow:
        last = uow.ledger.last_seq()
        start = None if full else uow.checkpoints.last(good=True)
    return last - (start.last_seq if start else 0)


def fits_a_request(uow: AbstractUnitOfWork, *, full: bool) -> bool:
    """Whether a check may run in a request: a routine one with at most
    ROUTINE_INLINE_ENTRIES to walk; anything else is a job."""
    return not full and entries_to_walk(uow, full=False) <= ROUTINE_INLINE_ENTRIES


def outcome(checkpoint: Checkpoint, report: VerificationReport) -> JsonObject:
    """A check's result as a job keeps it (no patient data: counts, hashes, the break)."""
    first = report.breaks[0] if report.breaks else None
    return {
        "checkpoint": checkpoint.number,
        "ok": checkpoint.ok,
        "full": checkpoint.full,
        "last_seq": checkpoint.last_seq,
        "tip_hash": checkpoint.tip_hash,
        "entries_checked": checkpoint.entries_checked,
        "records_checked": checkpoint.records_checked,
        "first_break": (
            {"seq": first.seq, "entity": first.entity, "message": first.message} if first else None
        ),
    }


def verify(uow: AbstractUnitOfWork, *, progress: Progress | None = None) -> VerificationReport:
    """Walk the whole chain, then check every regulated row against its last snapshot.
    Reads only: no checkpoint is recorded (`check` records one)."""
    verifier = ChainVerifier(protect=uow.protected)
    with uow:
        uow.read_consistently()
        if _walk(uow, verifier, 0, progress):
            _compare(uow, verifier)
    return verifier.report


def check(
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    full: bool = False,
    progress: Progress | None = None,
) -> tuple[Checkpoint, VerificationReport]:
    """Verify the ledger and record the result as a checkpoint.

    A routine check (`full=False`) walks only the entries after the last good checkpoint,
    starting from that checkpoint's tip hash, then compares every regulated record with
    its last snapshot; `full=True` walks the whole chain again (an entry edited before
    the last checkpoint is found only so, and so is a checkpoint that no longer agrees
    with the ledger). Either way the release signatures are checked and the result, good
    or not, becomes the newest checkpoint, signed by `actor`.
    """
    with uow:
        uow.read_consistently()
        start = None if full else uow.checkpoints.last(good=True)
        verifier = ChainVerifier(
            after_seq=start.last_seq if start else 0,
            tip_hash=start.tip_hash if start else GENESIS_HASH,
            protect=uow.protected,
        )
        if start is None or _start_holds(uow, start, verifier.report):
            after_seq = start.last_seq if start else 0
            if _walk(uow, verifier, after_seq, progress) and (
                start is not None or _checkpoints_hold(uow, verifier.report)
            ):
                if start is not None:
                    # The records not changed since the checkpoint are compared with their
                    # snapshot as of then, vouched for by the checkpoint.
                    for etype, eid, seq, after in uow.ledger.latest_snapshots(start.last_seq):
                        verifier.last_after.setdefault((etype, eid), (seq, after))
                _compare(uow, verifier)
    report = verifier.report
    with uow:
        uow.checkpoints.lock()
        checkpoint = seal_checkpoint(
            report,
            tip=verifier.tip,
            full=start is None,
            checked_by=actor.username,
            checked_at=uow.clock(),
            previous=uow.checkpoints.last(),
        )
        uow.checkpoints.add(checkpoint)
        uow.commit()
    return checkpoint, report


def last_checkpoint(uow: AbstractUnitOfWork, *, actor: User | None = None) -> Checkpoint | None:
    """The newest verification's result, None before the first: what pages show instead
    of verifying while they render."""
    if actor is not None:
        authority.require_read(actor, authority.Read.LEDGER)
    with uow:
        return uow.checkpoints.last()


def _start_holds(uow: AbstractUnitOfWork, start: Checkpoint, report: VerificationReport) -> bool:
    """A routine check trusts what its checkpoint vouches for only while the checkpoint
    is as sealed and its tip entry still carries the hash it recorded."""
    problem = None
    if not start.intact:
        problem = f"checkpoint #{start.number} does not match its own hash (it was edited)"
    elif start.last_seq and uow.ledger.stored_hash(start.last_seq) != start.tip_hash:
        problem = (
            f"entry #{start.last_seq} no longer has the hash checkpoint #{start.number} "
            "recorded for it (it was edited or removed after it was verified)"
        )
    if problem is None:
        return True
    report.breaks.append(Break(seq=start.last_seq or None, entity=None, message=problem))
    return False


def _checkpoints_hold(uow: AbstractUnitOfWork, report: VerificationReport) -> bool:
    """A full check also walks the checkpoints: each as sealed, chained to the one before,
    and naming its tip entry with the hash the (now verified) ledger holds for it. A chain
    rewritten with its hashes recomputed walks clean, but disagrees with the checkpoints
    recorded before the rewrite."""
    previous_hash, number = GENESIS_HASH, 0
    for checkpoint, entry_hash in uow.checkpoints.with_ledger_hashes():
        label = f"checkpoint #{checkpoint.number}"
        problem = None
        if not checkpoint.intact:
            problem = f"{label} does not match its own hash (it was edited)"
        elif checkpoint.number != number + 1 or checkpoint.prev_hash != previous_hash:
            problem = f"{label} does not follow checkpoint #{number} (one was removed or moved)"
        elif checkpoint.last_seq and entry_hash != checkpoint.tip_hash:
            problem = (
                f"{label} recorded entry #{checkpoint.last_seq} with another hash than the "
                "ledger now holds (the chain was rewritten after that verification)"
            )
        if problem is not None:
            report.breaks.append(Break(seq=None, entity=label, message=problem))
            return False
        previous_hash, number = checkpoint.hash, checkpoint.number
    return True


def _walk(
    uow: AbstractUnitOfWork, verifier: ChainVerifier, after_seq: int, progress: Progress | None
) -> bool:
    tick: Callable[[int], None] | None = None
    if progress is not None:
        total = uow.ledger.count(after_seq)
        progress(0, total)

        def tick(done: int) -> None:
            progress(done, total)

    with closing(uow.ledger.rows(after_seq)) as rows:
        ok = verifier.walk_rows(rows, tick)
    if ok and tick is not None:
        tick(verifier.report.entries_checked)
    return ok


def _compare(uow: AbstractUnitOfWork, verifier: ChainVerifier) -> None:
    with closing(uow.regulated_snapshots()) as records:
        if verifier.compare_records(records):
            _check_release_decisions(uow, verifier.report)


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


def page(
    uow: AbstractUnitOfWork, query: LedgerQuery, *, actor: User
) -> tuple[list[LedgerEntry], int]:
    """One page of the entries the query asks for, newest first, and how many match
    (docs/architecture.md, "Search and lists"); dates are checked before anything is read."""
    authority.require_read(actor, authority.Read.LEDGER)
    for name, day in (("from", query.since), ("to", query.until)):
        if day:
            try:
                date.fromisoformat(day)
            except ValueError:
                raise InvalidInput(
                    f"the date {name!r} must be a date like 2026-03-31, not {day!r}",
                    fields={name: "a date like 2026-03-31"},
                ) from None
    if query.since and query.until and query.since > query.until:
        raise InvalidInput(
            f"the range starts on {query.since}, after it ends on {query.until}",
            fields={"from": "on or before the end of the range"},
        )
    with uow:
        return uow.ledger.search(query)
