"""Handlers of manufacturing, QC and release: process templates, specifications, batch
records and the release decision. One handler per mutation, each with its ledger entry.

Every signature (performed, verified, approved, acknowledged, released, rejected) is
given with the signer's user name and password re-entered (21 CFR 11.200), checked here
before the domain records it. The ledger entry of a signed change carries the signature's
meaning and the hash of the record as signed (11.70); the record itself keeps the
signature with the hash of exactly the content it covers.

An autologous batch belongs to its case: the case starts it, QC results that fall out of
specification move the case out of specification, and QA's decision on the batch is the
case's release (or its rejection).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from veinline.domain.batch import Batch, BatchStatus, Severity, start_batch
from veinline.domain.case import Action, Case, CaseState, parse_moment
from veinline.domain.catalog import SiteKind
from veinline.domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from veinline.domain.ledger import JsonObject, Regulated, Signature, content_hash
from veinline.domain.process import (
    ProcessTemplate,
    StepSpec,
    default_steps,
    draft_template,
    in_force,
    transfer,
)
from veinline.domain.signature import Meaning, SignatureRecord
from veinline.domain.specification import (
    Disposition,
    ReleaseRecord,
    ReleaseTest,
    Specification,
    coa_content,
    default_tests,
    draft_specification,
    open_release_record,
    specification_in_force,
)
from veinline.domain.user import User
from veinline.services import commands, signatures
from veinline.services.handlers import Clock
from veinline.services.journey import case_for_update, ship_product, transition
from veinline.services.passwords import PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork

R = TypeVar("R")


# ------------------------------------------------------------------ shared steps


def _signer(
    uow: AbstractUnitOfWork, actor: User, username: str, password: str, hasher: PasswordHasher
) -> User:
    """The signer as stored now (their current password and state), once their re-entered
    user name and password check out."""
    signer = uow.users.get(actor.username) or actor
    signatures.check_signer(signer, username=username, password=password, hasher=hasher)
    return signer


def _ledger(
    uow: AbstractUnitOfWork,
    record: Regulated,
    actor: User,
    action: str,
    before: Any,
    reason: str = "",
    meaning: Meaning | None = None,
) -> None:
    signature = None
    if meaning is not None:
        signature = Signature(meaning=meaning.value, signed_hash=content_hash(record.snapshot()))
    uow.record(
        record, actor=actor, action=action, before=before, reason=reason, signature=signature
    )


def get_batch(uow: AbstractUnitOfWork, batch_id: str, *, for_update: bool = False) -> Batch:
    batch = uow.batches.get(batch_id.strip(), for_update=for_update)
    if batch is None:
        raise NotFound(f"there is no batch {batch_id}")
    return batch


def get_release_record(uow: AbstractUnitOfWork, batch_id: str) -> ReleaseRecord:
    record = uow.release_records.get(batch_id.strip(), for_update=True)
    if record is None:
        raise NotAllowed(f"batch {batch_id} has no QC results yet: nothing to decide on")
    return record


def _template(uow: AbstractUnitOfWork, template_id: str) -> ProcessTemplate:
    template = uow.process_templates.get(template_id.strip(), for_update=True)
    if template is None:
        raise NotFound(f"there is no process template {template_id}")
    return template


def _specification(uow: AbstractUnitOfWork, specification_id: str) -> Specification:
    found = uow.specifications.get(specification_id.strip(), for_update=True)
    if found is None:
        raise NotFound(f"there is no release specification {specification_id}")
    return found


def _change_batch(
    uow: AbstractUnitOfWork,
    batch_id: str,
    actor: User,
    action: str,
    change: Callable[[Batch], object],
    *,
    reason: str = "",
    meaning: Meaning | None = None,
) -> Batch:
    batch = get_batch(uow, batch_id, for_update=True)
    before = batch.snapshot()
    change(batch)
    _ledger(uow, batch, actor, f"batch.{action}", before, reason, meaning)
    return batch


# ------------------------------------------------------------------ process templates


def _steps(rows: list[dict[str, object]]) -> list[StepSpec]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidInput("steps must be a list of objects (code, name, expected_hours, ...)")
    return [StepSpec.from_dict(r) for r in rows]


def draft_process(
    cmd: commands.DraftProcess, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> ProcessTemplate:
    with uow:
        product = uow.products.get(cmd.product_code)
        if product is None:
            raise NotFound(f"there is no product {cmd.product_code} in the catalogue")
        _manufacturing_site(uow, cmd.site)
        steps = default_steps(product.modality) if cmd.steps is None else _steps(cmd.steps)
        existing = uow.process_templates.find(product_code=product.code, site=cmd.site)
        template = draft_template(
            product.code, cmd.site, steps, by=actor, at=clock(), existing=existing, notes=cmd.notes
        )
        if cmd.steps is None:
            template.notes = template.notes or (
                f"demo default {product.modality.label} process: not a validated master "
                "batch record"
            )
            template.demo = True
        uow.process_templates.add(template)
        _ledger(uow, template, actor, "process_template.drafted", None, template.notes)
        uow.commit()
        return template


def _manufacturing_site(uow: AbstractUnitOfWork, code: str) -> None:
    site = uow.sites.get(code)
    if site is None:
        raise NotFound(f"there is no site {code} in the catalogue")
    if site.kind is not SiteKind.MANUFACTURING_FACILITY:
        raise InvalidInput(f"{site.name} is not a manufacturing facility")


def approve_process(
    cmd: commands.ApproveProcess,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> ProcessTemplate:
    with uow:
        signer = _signer(uow, actor, cmd.username, cmd.password, hasher)
        template = _template(uow, cmd.template_id)
        siblings = uow.process_templates.find(
            product_code=template.product_code, site=template.site
        )
        before = template.snapshot()
        earlier = {t.id: t.snapshot() for t in siblings}
        superseded = template.approve(by=signer, at=clock(), siblings=siblings)
        for old in superseded:
            _ledger(uow, old, signer, "process_template.superseded", earlier[old.id], template.id)
        _ledger(uow, template, signer, "process_template.approved", before, "", Meaning.APPROVED)
        uow.commit()
        return template


def transfer_process(
    cmd: commands.TransferProcess, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> ProcessTemplate:
    with uow:
        source = _template(uow, cmd.template_id)
        _manufacturing_site(uow, cmd.to_site)
        existing = uow.process_templates.find(product_code=source.product_code, site=cmd.to_site)
        copy = transfer(source, cmd.to_site, actor, at=clock(), existing=existing)
        uow.process_templates.add(copy)
        _ledger(uow, copy, actor, "process_template.transferred", None, copy.notes)
        uow.commit()
        return copy


def retire_process(
    cmd: commands.RetireProcess, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> ProcessTemplate:
    with uow:
        template = _template(uow, cmd.template_id)
        before = template.snapshot()
        template.retire(by=actor, at=clock(), reason=cmd.reason)
        _ledger(uow, template, actor, "process_template.retired", before, cmd.reason)
        uow.commit()
        return template


# ------------------------------------------------------------------ specifications


def draft_spec(
    cmd: commands.DraftSpecification, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Specification:
    with uow:
        product = uow.products.get(cmd.product_code)
        if product is None:
            raise NotFound(f"there is no product {cmd.product_code} in the catalogue")
        if cmd.tests is None:
            tests: tuple[ReleaseTest, ...] | list[ReleaseTest] = default_tests(product.modality)
        elif isinstance(cmd.tests, list) and all(isinstance(t, dict) for t in cmd.tests):
            tests = [ReleaseTest.from_dict(t) for t in cmd.tests]
        else:
            raise InvalidInput("tests must be a list of objects (code, name, comparator, ...)")
        existing = uow.specifications.find(product_code=product.code, market=cmd.market)
        spec = draft_specification(
            product.code,
            cmd.market,
            tests,
            by=actor,
            at=clock(),
            existing=existing,
            notes=cmd.notes,
        )
        if cmd.tests is None:
            spec.notes = spec.notes or (
                "demo default release panel (products.md): not a registered specification"
            )
            spec.demo = True
        uow.specifications.add(spec)
        _ledger(uow, spec, actor, "release_specification.drafted", None, spec.notes)
        uow.commit()
        return spec


def approve_spec(
    cmd: commands.ApproveSpecification,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> Specification:
    with uow:
        signer = _signer(uow, actor, cmd.username, cmd.password, hasher)
        spec = _specification(uow, cmd.specification_id)
        siblings = uow.specifications.find(product_code=spec.product_code, market=spec.market)
        before = spec.snapshot()
        earlier = {s.id: s.snapshot() for s in siblings}
        superseded = spec.approve(by=signer, at=clock(), siblings=siblings)
        for old in superseded:
            _ledger(uow, old, signer, "release_specification.superseded", earlier[old.id], spec.id)
        _ledger(uow, spec, signer, "release_specification.approved", before, "", Meaning.APPROVED)
        uow.commit()
        return spec


def retire_spec(
    cmd: commands.RetireSpecification, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Specification:
    with uow:
        spec = _specification(uow, cmd.specification_id)
        before = spec.snapshot()
        spec.retire(by=actor, at=clock(), reason=cmd.reason)
        _ledger(uow, spec, actor, "release_specification.retired", before, cmd.reason)
        uow.commit()
        return spec


# ------------------------------------------------------------------ the batch record


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
    _ledger(uow, batch, actor, "batch.started", None, f"case {case.id} on process {template.id}")
    return batch


def _batch_handler(
    action: str,
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
                by = _signer(uow, actor, cmd.username, cmd.password, hasher)
            batch = _change_batch(
                uow,
                cmd.batch_id,
                by,
                action,
                lambda b: change(b, cmd, by, clock()),
                reason=reason(cmd),
                meaning=meaning,
            )
            uow.commit()
            return batch

    return handle


start_step = _batch_handler(
    "step_started",
    lambda b, c, by, at: b.start_step(c.step, by=by, at=at, suite=c.suite, equipment=c.equipment),
    lambda c: f"{c.step} in {c.suite}",
)
record_value = _batch_handler(
    "value_recorded",
    lambda b, c, by, at: b.record_value(c.step, c.parameter, c.value, by=by, at=at),
    lambda c: f"{c.step}: {c.parameter}",
)
complete_step = _batch_handler(
    "step_performed",
    lambda b, c, by, at: b.complete_step(c.step, by=by, at=at),
    lambda c: str(c.step),
    Meaning.PERFORMED,
)
verify_step = _batch_handler(
    "step_verified",
    lambda b, c, by, at: b.verify_step(c.step, by=by, at=at),
    lambda c: str(c.step),
    Meaning.VERIFIED,
)
verify_correction = _batch_handler(
    "correction_verified",
    lambda b, c, by, at: b.verify_correction(c.seq, by=by, at=at),
    lambda c: f"entry #{c.seq}",
    Meaning.VERIFIED,
)
raise_deviation = _batch_handler(
    "deviation_raised",
    lambda b, c, by, at: b.raise_deviation(
        c.description, Severity.parse(c.severity), by=by, at=at, step_code=c.step or None
    ),
    lambda c: str(c.description),
)
investigate_deviation = _batch_handler(
    "deviation_investigated",
    lambda b, c, by, at: b.investigate_deviation(c.deviation_id, by=by, at=at),
    lambda c: str(c.deviation_id),
)
classify_deviation = _batch_handler(
    "deviation_classified",
    lambda b, c, by, at: b.classify_deviation(
        c.deviation_id, Severity.parse(c.severity), reason=c.reason, by=by, at=at
    ),
    lambda c: str(c.reason),
)
close_deviation = _batch_handler(
    "deviation_closed",
    lambda b, c, by, at: b.close_deviation(
        c.deviation_id, root_cause=c.root_cause, capa=c.capa, by=by, at=at
    ),
    lambda c: str(c.deviation_id),
    Meaning.APPROVED,
)
abort_batch = _batch_handler(
    "aborted",
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
            signer = _signer(uow, actor, cmd.username, cmd.password, hasher)
            meaning = Meaning.AUTHORED
        batch = _change_batch(
            uow,
            cmd.batch_id,
            signer,
            "value_corrected",
            lambda b: b.correct_value(cmd.seq, cmd.value, reason=cmd.reason, by=signer, at=clock()),
            reason=cmd.reason,
            meaning=meaning,
        )
        uow.commit()
        return batch


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
    if case is None:
        raise NotAllowed(f"batch {batch.id} belongs to no case: its market is not known")
    if case.state is not CaseState.IN_QC:
        raise NotAllowed(
            f"case {case.id} is {case.state.label.lower()}: QC results are entered once "
            "manufacturing is completed (bags and expiry recorded)"
        )
    specs = uow.specifications.find(product_code=batch.product_code, market=case.jurisdiction)
    spec = specification_in_force(specs, batch.product_code, case.jurisdiction)
    record = open_release_record(batch, spec, market=case.jurisdiction, by=actor, at=clock())
    uow.release_records.add(record)
    _ledger(uow, record, actor, "release_record.opened", None, f"specification {spec.id}")
    return record


def _shown(test: ReleaseTest, text: str) -> str:
    unit = "" if not (test.numeric and test.unit) else test.unit
    spaced = unit if unit in ("%", "°C") or not unit else f" {unit}"
    return f"{test.name} {text}{spaced} (specification {test.limit_text})"


def _follow_results(
    uow: AbstractUnitOfWork, batch: Batch, record: ReleaseRecord, actor: User
) -> None:
    """An out-of-specification result takes the case out of specification at once."""
    if record.disposition is not Disposition.OUT_OF_SPECIFICATION:
        return
    case = _case_of(uow, batch)
    if case is None or case.state is not CaseState.IN_QC:
        return
    failed = "; ".join(
        _shown(record.test(r.test_code), r.current.text) for r in record.out_of_specification()
    )
    before = case.snapshot()
    case.fire(
        Action.FAIL_SPECIFICATION,
        release={"kind": "out_of_specification", "batch_id": batch.id, "reason": failed},
    )
    uow.record(case, actor=actor, action="case.fail_specification", before=before, reason=failed)


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
        _ledger(uow, record, actor, "release_record.result_entered", before, result.current.reason)
        _follow_results(uow, batch, record, actor)
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
        _ledger(uow, record, actor, "release_record.result_corrected", before, cmd.reason)
        _follow_results(uow, batch, record, actor)
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
        _ledger(uow, record, actor, "release_record.investigation_opened", before, cmd.reference)
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
        signer = _signer(uow, actor, cmd.username, cmd.password, hasher)
        batch = get_batch(uow, cmd.batch_id)
        record = get_release_record(uow, cmd.batch_id)
        case = _case_of(uow, batch)
        if case is None:
            raise NotAllowed(f"batch {batch.id} has no patient: there is no treating physician")
        before = record.snapshot()
        record.acknowledge(
            signer, treating_physician=case.treating_physician, at=clock(), statement=cmd.statement
        )
        _ledger(
            uow,
            record,
            signer,
            "release_record.acknowledged",
            before,
            cmd.statement,
            Meaning.ACKNOWLEDGED,
        )
        uow.commit()
        return record


# ------------------------------------------------------------------ the decision


def _decide(
    uow: AbstractUnitOfWork,
    batch: Batch,
    record: ReleaseRecord,
    signer: User,
    action: str,
    decide: Callable[[], SignatureRecord],
    reason: str,
) -> SignatureRecord:
    batch_before = batch.snapshot()
    before = record.snapshot()
    signature = decide()
    _ledger(uow, record, signer, f"release_record.{action}", before, reason, signature.meaning)
    _ledger(uow, batch, signer, f"batch.{action}", batch_before, f"QA decision: {action}")
    return signature


def _release_case(
    uow: AbstractUnitOfWork,
    case: Case | None,
    record: ReleaseRecord,
    signer: User,
    clock: Clock,
) -> None:
    if case is None:
        return
    conditional = record.disposition is Disposition.CONDITIONALLY_RELEASED
    action = Action.CONDITIONAL_RELEASE if conditional else Action.RELEASE
    now = clock()
    release: dict[str, object] = {
        "kind": "conditional" if conditional else "full",
        "batch_id": record.batch_id,
        "at": now.isoformat(),
        "by": signer.username,
    }
    if conditional:
        assert record.acknowledgement is not None
        release["justification"] = record.justification
        release["acknowledged_by"] = record.acknowledgement.username
    before = case.snapshot()
    case.fire(action, release=release)
    uow.record(
        case,
        actor=signer,
        action=f"case.{action.value}",
        before=before,
        reason=f"batch {record.batch_id} {record.disposition.label.lower()}",
    )
    ship_product(uow, case, signer, now)


def _decision_parts(
    uow: AbstractUnitOfWork,
    batch_id: str,
    actor: User,
    username: str,
    password: str,
    hasher: PasswordHasher,
    doing: str,
) -> tuple[User, Batch, ReleaseRecord, Case | None]:
    signer = _signer(uow, actor, username, password, hasher)
    batch = get_batch(uow, batch_id, for_update=True)
    record = get_release_record(uow, batch_id)
    return signer, batch, record, _case_of(uow, batch)


def release_batch(
    cmd: commands.ReleaseBatch,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> ReleaseRecord:
    with uow:
        signer, batch, record, case = _decision_parts(
            uow, cmd.batch_id, actor, cmd.username, cmd.password, hasher, "release"
        )
        _decide(
            uow,
            batch,
            record,
            signer,
            "released",
            lambda: record.release(batch, by=signer, at=clock()),
            "every result within specification",
        )
        _release_case(uow, case, record, signer, clock)
        uow.commit()
        return record


def release_batch_conditionally(
    cmd: commands.ReleaseBatchConditionally,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> ReleaseRecord:
    with uow:
        signer, batch, record, case = _decision_parts(
            uow, cmd.batch_id, actor, cmd.username, cmd.password, hasher, "release conditionally"
        )
        _decide(
            uow,
            batch,
            record,
            signer,
            "conditionally_released",
            lambda: record.release_conditionally(
                batch, justification=cmd.justification, by=signer, at=clock()
            ),
            cmd.justification,
        )
        _release_case(uow, case, record, signer, clock)
        uow.commit()
        return record


def reject_batch(
    cmd: commands.RejectBatch,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> ReleaseRecord:
    with uow:
        signer, batch, record, case = _decision_parts(
            uow, cmd.batch_id, actor, cmd.username, cmd.password, hasher, "reject"
        )
        _decide(
            uow,
            batch,
            record,
            signer,
            "rejected",
            lambda: record.reject(batch, reason=cmd.reason, by=signer, at=clock()),
            cmd.reason,
        )
        if case is not None and case.state is CaseState.IN_QC:
            before = case.snapshot()
            case.fire(
                Action.FAIL_SPECIFICATION,
                release={"kind": "rejected", "batch_id": batch.id, "reason": cmd.reason},
            )
            uow.record(
                case,
                actor=signer,
                action="case.fail_specification",
                before=before,
                reason=f"batch {batch.id} rejected: {cmd.reason}",
            )
        uow.commit()
        return record


# ------------------------------------------------------------------ the case's side


def start_manufacturing(
    cmd: commands.StartManufacturing, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Case:
    """The received material goes into manufacturing as a batch on the process in force."""
    with uow:
        case = case_for_update(uow, cmd.case_id)
        earlier = uow.batches.find(case_id=case.id)
        batch_id = cmd.batch_id.strip() or (
            f"B-{case.id}-{len(earlier) + 1}" if earlier else f"B-{case.id}"
        )
        transition(
            uow,
            case,
            Action.START_MANUFACTURING,
            actor,
            f"batch {batch_id}",
            manufacturing={
                "batch_id": batch_id,
                "started_at": clock().isoformat(),
                "started_by": actor.username,
            },
        )
        open_case_batch(uow, case, batch_id, actor, clock)
        uow.commit()
        return case


def complete_manufacturing(
    cmd: commands.CompleteManufacturing, uow: AbstractUnitOfWork, *, actor: User, clock: Clock
) -> Case:
    """Filled and frozen: the bags and expiry are recorded and the product goes to QC,
    once every step of its batch record is signed."""
    if not 1 <= cmd.bag_count <= 4:
        # ISBT 128 flags 01-04 mark the containers of a set.
        raise InvalidInput("a product is filled into 1 to 4 bags")
    expires = parse_moment(cmd.expires_at, "expires_at")
    now = clock()
    if expires <= now:
        raise InvalidInput("the expiry must be in the future")
    with uow:
        case = case_for_update(uow, cmd.case_id)
        batch = get_batch(uow, case_batch_id(case))
        if batch.status is not BatchStatus.COMPLETED:
            open_steps = [s for s in batch.steps if s.status.value != "completed"]
            where = (
                f"{open_steps[0].title} is {open_steps[0].status.label.lower()}"
                if open_steps
                else batch.status.label.lower()
            )
            raise NotAllowed(f"batch {batch.id} is not finished: {where}")
        done = {
            **case.manufacturing,
            "completed_at": now.isoformat(),
            "completed_by": actor.username,
            "bag_count": cmd.bag_count,
            "expires_at": expires.isoformat(),
            "total_cells": cmd.total_cells,
        }
        transition(
            uow, case, Action.COMPLETE_MANUFACTURING, actor, "filled and frozen", manufacturing=done
        )
        uow.commit()
        return case


def release_case(
    cmd: commands.ReleaseProduct,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> Case:
    """QA releases the case's batch (the same signature as releasing the batch)."""
    batch_id = _batch_of_case(uow, cmd.case_id)
    release_batch(
        commands.ReleaseBatch(batch_id, cmd.username, cmd.password),
        uow,
        actor=actor,
        clock=clock,
        hasher=hasher,
    )
    return _reload_case(uow, cmd.case_id)


def release_case_conditionally(
    cmd: commands.ConditionalRelease,
    uow: AbstractUnitOfWork,
    *,
    actor: User,
    clock: Clock,
    hasher: PasswordHasher,
) -> Case:
    batch_id = _batch_of_case(uow, cmd.case_id)
    release_batch_conditionally(
        commands.ReleaseBatchConditionally(batch_id, cmd.justification, cmd.username, cmd.password),
        uow,
        actor=actor,
        clock=clock,
        hasher=hasher,
    )
    return _reload_case(uow, cmd.case_id)


def _batch_of_case(uow: AbstractUnitOfWork, case_id: str) -> str:
    with uow:
        case = uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"there is no case {case_id}")
        if case.state not in (CaseState.IN_QC, CaseState.OUT_OF_SPECIFICATION):
            raise NotAllowed(
                f"case {case.id} is {case.state.label.lower()}: it cannot be released now"
            )
        return case_batch_id(case)


def _reload_case(uow: AbstractUnitOfWork, case_id: str) -> Case:
    with uow:
        case = uow.cases.get(case_id)
        assert case is not None
        return case


# ------------------------------------------------------------------ reading


def certificate(uow: AbstractUnitOfWork, batch_id: str) -> JsonObject:
    """The certificate of analysis of a decided batch, as `adapters.coa_pdf` draws it."""
    with uow:
        batch = get_batch(uow, batch_id)
        record = uow.release_records.get(batch.id)
        if record is None:
            raise NotAllowed(f"batch {batch.id} has no QC results: there is nothing to certify")
        product = uow.products.get(batch.product_code)
        site = uow.sites.get(batch.site)
        case = uow.cases.get(batch.case_id) if batch.case_id else None
        expiry = (case.manufacturing.get("expires_at") if case else None) or "not recorded"
        return coa_content(
            batch,
            record,
            product_name=product.name if product else batch.product_code,
            expiry=str(expiry),
            manufacturing_site=site.name if site else batch.site,
        )


def case_batch_id(case: Case) -> str:
    """The batch a case's release decision is about."""
    batch_id = case.manufacturing.get("batch_id")
    if not batch_id:
        raise NotAllowed(f"case {case.id} has no batch: start manufacturing first")
    return str(batch_id)


HANDLERS: dict[type[commands.Command], Callable[..., Any]] = {
    commands.StartManufacturing: start_manufacturing,
    commands.CompleteManufacturing: complete_manufacturing,
    commands.ReleaseProduct: release_case,
    commands.ConditionalRelease: release_case_conditionally,
    commands.DraftProcess: draft_process,
    commands.ApproveProcess: approve_process,
    commands.TransferProcess: transfer_process,
    commands.RetireProcess: retire_process,
    commands.DraftSpecification: draft_spec,
    commands.ApproveSpecification: approve_spec,
    commands.RetireSpecification: retire_spec,
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
    commands.EnterResult: enter_result,
    commands.CorrectResult: correct_result,
    commands.OpenInvestigation: open_investigation,
    commands.AcknowledgeResults: acknowledge_results,
    commands.ReleaseBatch: release_batch,
    commands.ReleaseBatchConditionally: release_batch_conditionally,
    commands.RejectBatch: reject_batch,
}
