"""Handlers of the electronic batch record: steps started, values recorded and corrected,
steps signed performed and verified, deviations raised, classified, investigated and
closed, the batch aborted. Each signature re-enters user name and password (21 CFR
11.200) before the domain records it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from veinline.domain.batch import Batch, Severity, start_batch
from veinline.domain.case import Case
from veinline.domain.errors import Conflict, NotAllowed, NotFound
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.process import (
    in_force,
)
from veinline.domain.signature import Meaning
from veinline.domain.user import User
from veinline.services import commands, signatures
from veinline.services.handlers import Clock, expect_version
from veinline.services.passwords import PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork


def get_batch(uow: AbstractUnitOfWork, batch_id: str, *, for_update: bool = False) -> Batch:
    batch = uow.batches.get(batch_id.strip(), for_update=for_update)
    if batch is None:
        raise NotFound(f"there is no batch {batch_id}")
    return batch


def _change_batch(
    uow: AbstractUnitOfWork,
    batch_id: str,
    actor: User,
    action: LedgerAction,
    change: Callable[[Batch], object],
    *,
    reason: str = "",
    meaning: Meaning | None = None,
    expected_version: int | None = None,
) -> Batch:
    batch = get_batch(uow, batch_id, for_update=True)
    expect_version(batch, batch.version, expected_version)
    before = batch.snapshot()
    change(batch)
    signatures.record_change(uow, batch, actor, action, before, reason, meaning)
    return batch


def open_case_batch(
    uow: AbstractUnitOfWork, case: Case, batch_id: str, actor: User, clock: Clock
) -> Batch:
    """Start the batch record of a case on the process version in force at its facility
    (the journey's "start manufacturing" calls this inside its own transaction)."""
    if case.manufacturing_site is None:
        raise NotAllowed(f"case {case.id} has no manufacturing facility booked")
    if uow.batches.get(batch_id) is not None:
        raise Conflict(f"batch {batch_id} exists already")
    templates = uow.process_templates.find(
        product_code=case.product_code, site=case.manufacturing_site
    )
    template = in_force(templates, case.product_code, case.manufacturing_site)
    batch = start_batch(
        batch_id,
        template,
        by=actor,
        at=clock(),
        case_id=case.id,
        coi=case.coi,
        din=case.current_din,
    )
    uow.batches.add(batch)
    signatures.record_change(
        uow,
        batch,
        actor,
        LedgerAction.BATCH_STARTED,
        None,
        f"case {case.id} on process {template.id}",
    )
    return batch


def _batch_handler(
    action: LedgerAction,
    change: Callable[[Batch, Any, User, datetime], object],
    reason: Callable[[Any], str],
    meaning: Meaning | None = None,
) -> Callable[..., Batch]:
    """The handler of one change to a batch record, with its ledger entry; a change with a
    meaning is a signature, so the signer's user name and password are checked first."""

    def handle(
        cmd: Any, uow: AbstractUnitOfWork, *, actor: User, clock: Clock, hasher: PasswordHasher
    ) -> Batch:
        with uow:
            by = actor
            if meaning is not None:
                by = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
            batch = _change_batch(
                uow,
                cmd.batch_id,
                by,
                action,
                lambda b: change(b, cmd, by, clock()),
                reason=reason(cmd),
                meaning=meaning,
                expected_version=cmd.expected_version,
            )
            uow.commit()
            return batch

    return handle


start_step = _batch_handler(
    LedgerAction.BATCH_STEP_STARTED,
    lambda b, c, by, at: b.start_step(c.step, by=by, at=at, suite=c.suite, equipment=c.equipment),
    lambda c: f"{c.step} in {c.suite}",
)

record_value = _batch_handler(
    LedgerAction.BATCH_VALUE_RECORDED,
    lambda b, c, by, at: b.record_value(c.step, c.parameter, c.value, by=by, at=at),
    lambda c: f"{c.step}: {c.parameter}",
)

complete_step = _batch_handler(
    LedgerAction.BATCH_STEP_PERFORMED,
    lambda b, c, by, at: b.complete_step(c.step, by=by, at=at),
    lambda c: str(c.step),
    Meaning.PERFORMED,
)

verify_step = _batch_handler(
    LedgerAction.BATCH_STEP_VERIFIED,
    lambda b, c, by, at: b.verify_step(c.step, by=by, at=at),
    lambda c: str(c.step),
    Meaning.VERIFIED,
)

verify_correction = _batch_handler(
    LedgerAction.BATCH_CORRECTION_VERIFIED,
    lambda b, c, by, at: b.verify_correction(c.seq, by=by, at=at),
    lambda c: f"entry #{c.seq}",
    Meaning.VERIFIED,
)

raise_deviation = _batch_handler(
    LedgerAction.BATCH_DEVIATION_RAISED,
    lambda b, c, by, at: b.raise_deviation(
        c.description, Severity.parse(c.severity), by=by, at=at, step_code=c.step or None
    ),
    lambda c: str(c.description),
)

investigate_deviation = _batch_handler(
    LedgerAction.BATCH_DEVIATION_INVESTIGATED,
    lambda b, c, by, at: b.investigate_deviation(c.deviation_id, by=by, at=at),
    lambda c: str(c.deviation_id),
)

classify_deviation = _batch_handler(
    LedgerAction.BATCH_DEVIATION_CLASSIFIED,
    lambda b, c, by, at: b.classify_deviation(
        c.deviation_id, Severity.parse(c.severity), reason=c.reason, by=by, at=at
    ),
    lambda c: str(c.reason),
)

close_deviation = _batch_handler(
    LedgerAction.BATCH_DEVIATION_CLOSED,
    lambda b, c, by, at: b.close_deviation(
        c.deviation_id, root_cause=c.root_cause, capa=c.capa, by=by, at=at
    ),
    lambda c: str(c.deviation_id),
    Meaning.APPROVED,
)

abort_batch = _batch_handler(
    LedgerAction.BATCH_ABORTED,
    lambda b, c, by, at: b.abort_batch(reason=c.reason, by=by, at=at),
    lambda c: str(c.reason),
)


def correct_value(
    cmd: commands.CorrectValue,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> Batch:
    with uow:
        batch = get_batch(uow, cmd.batch_id)
        step, _ = batch.entry(cmd.seq)
        signer, meaning = actor, None
        if step.signed:
            # A correction to a signed step is signed on its own (11.200 applies).
            signer = signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
            meaning = Meaning.AUTHORED
        elif cmd.username or cmd.password:
            # An unsigned entry needs no signature, but credentials given are never
            # ignored: a wrong password is refused, not passed over.
            signatures.signer(uow, actor, cmd.username, cmd.password, hasher)
        batch = _change_batch(
            uow,
            cmd.batch_id,
            signer,
            LedgerAction.BATCH_VALUE_CORRECTED,
            lambda b: b.correct_value(cmd.seq, cmd.value, reason=cmd.reason, by=signer, at=clock()),
            reason=cmd.reason,
            meaning=meaning,
            expected_version=cmd.expected_version,
        )
        uow.commit()
        return batch


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.StartStep: start_step,
    commands.RecordValue: record_value,
    commands.CorrectValue: correct_value,
    commands.CompleteStep: complete_step,
    commands.VerifyStep: verify_step,
    commands.VerifyCorrection: verify_correction,
    commands.RaiseDeviation: raise_deviation,
    commands.InvestigateDeviation: investigate_deviation,
    commands.ClassifyDeviation: classify_deviation,
    commands.CloseDeviation: close_deviation,
    commands.AbortBatch: abort_batch,
}
