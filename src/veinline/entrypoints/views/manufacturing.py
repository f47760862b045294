"""Read models of the manufacturing, QC and release pages, and of one batch record as
the API and `veinline batch show` give it (`batch_view`): JSON-ready dicts.

The batch page shows identifiers only (CoI, DIN, batch), never the patient's name:
manufacturing, QC and QA work from identifiers (the same rule as the case page).
What a viewer is offered follows the authority table and the records' state tables;
the bus checks them again, so a form shown by mistake is still refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from veinline.domain.batch import (
    Batch,
    BatchStatus,
    Deviation,
    DeviationState,
    Severity,
    StepRecord,
    StepStatus,
    ValueEntry,
)
from veinline.domain.case import Case, CaseState
from veinline.domain.errors import DomainError, NotFound
from veinline.domain.process import DocumentStatus, ProcessTemplate
from veinline.domain.release import Disposition, QcResult, ReleaseAction, ReleaseRecord
from veinline.domain.signature import SignatureRecord
from veinline.domain.specification import ReleaseTest, Specification, specification_in_force
from veinline.domain.user import Role, User
from veinline.services import authority, commands, places
from veinline.services.unit_of_work import AbstractUnitOfWork

# ------------------------------------------------------------------ small pieces


def when(moment: datetime | None) -> str | None:
    """A moment as the record shows it: UTC, to the second."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _when_text(text: object) -> str | None:
    if not text:
        return None
    try:
        return when(datetime.fromisoformat(str(text)))
    except ValueError:
        return str(text)


def signature_view(signature: SignatureRecord | None) -> dict[str, Any] | None:
    """A signature as it is manifested on the page (21 CFR 11.50): printed name, date and
    time, meaning; the user name, role and hash of what was signed beside them."""
    if signature is None:
        return None
    try:
        role = Role(signature.role).label
    except ValueError:
        role = signature.role
    return {
        "printed_name": signature.printed_name,
        "username": signature.username,
        "role": role,
        "meaning": signature.meaning.value,
        "at": when(signature.at),
        "hash": signature.content_hash,
    }


class _Names:
    """Catalogue and user names looked up once per page, not once per row."""

    def __init__(self, uow: AbstractUnitOfWork) -> None:
        self.products = {p.code: p.name for p in uow.products.list()}
        self.sites = {s.code: s.name for s in uow.sites.list()}
        self.users = {u.username: u.printed_name for u in uow.users.list()}

    def product(self, code: str) -> str:
        return self.products.get(code, code)

    def site(self, code: str) -> str:
        return self.sites.get(code, code)

    def user(self, username: str | None) -> str | None:
        if username is None:
            return None
        return self.users.get(username, username)


def _current_step(batch: Batch) -> StepRecord | None:
    return next((s for s in batch.steps if s.status is not StepStatus.COMPLETED), None)


def _batch_row(
    batch: Batch, record: ReleaseRecord | None, names: _Names, case: Case | None = None
) -> dict[str, Any]:
    """One batch on a queue: what it is, where it is, what holds it up."""
    step = _current_step(batch)
    still_open = batch.open_deviations()
    done = sum(1 for s in batch.steps if s.status is StepStatus.COMPLETED)
    return {
        "id": batch.id,
        "product_code": batch.product_code,
        "product_name": names.product(batch.product_code),
        "site": batch.site,
        "site_name": names.site(batch.site),
        "case_id": batch.case_id,
        "case_state": case.state.label if case else None,
        "coi": batch.coi,
        "din": batch.din,
        "status": batch.status.value,
        "status_label": batch.status.label,
        "status_colour": batch.status.colour,
        "current_step": step.title if step else None,
        "current_step_status": step.status.label if step else None,
        "steps_done": f"{done}/{len(batch.steps)}",
        "open_deviations": len(still_open),
        "worst_deviation": still_open[0].severity.label if still_open else None,
        "worst_colour": still_open[0].severity.colour if still_open else None,
        "unverified_corrections": len(batch.unverified_corrections()),
        "started_at": when(batch.started_at),
        "disposition": record.disposition.value if record else None,
        "disposition_label": record.disposition.label if record else None,
        "disposition_colour": record.disposition.colour if record else None,
    }


def _document_row(
    document: ProcessTemplate | Specification, names: _Names, scope: str
) -> dict[str, Any]:
    return {
        "id": document.id,
        "product_name": names.product(document.product_code),
        "scope": scope,
        "number": document.number,
        "status": document.status.value,
        "status_label": document.status.label,
        "status_colour": document.status.colour,
        "author": names.user(document.author),
        "approval": signature_view(document.approval),
        "demo": document.demo,
        "in_force": document.status is DocumentStatus.APPROVED,
    }


# ------------------------------------------------------------------ the manufacturing queue


def visible_batches(
    uow: AbstractUnitOfWork, viewer: User, batches: list[Batch] | None = None
) -> list[Batch]:
    """The batches this viewer may read: those of their sites (services/authority.py)."""
    authority.require_read(viewer, authority.Read.BATCH)
    return [
        b
        for b in (uow.batches.list() if batches is None else batches)
        if authority.visible(viewer, authority.Read.BATCH, places.of_batch(uow, b))
    ]


def readable_batch(uow: AbstractUnitOfWork, batch_id: str, viewer: User) -> Batch:
    """One batch, if it exists and this viewer works at one of its sites."""
    batch = uow.batches.get(batch_id)
    if batch is None:
        raise NotFound(f"there is no batch {batch_id}")
    authority.require_read(viewer, authority.Read.BATCH, places.of_batch(uow, batch))
    return batch


def manufacturing_queue(uow: AbstractUnitOfWork, viewer: User) -> dict[str, Any]:
    """Batches on the floor, batches awaiting release, recent decisions, and the
    process versions and release specifications they run on (the viewer's sites')."""
    names = _Names(uow)
    records = {r.batch_id: r for r in uow.release_records.list()}
    batches = visible_batches(uow, viewer)
    rows = [_batch_row(b, records.get(b.id), names) for b in batches]
    decided = [r for r in rows if r["status"] not in ("in_progress", "completed")]
    templates = uow.process_templates.list()
    specifications = uow.specifications.list()
    return {
        "in_progress": [r for r in rows if r["status"] == "in_progress"],
        "completed": [r for r in rows if r["status"] == "completed"],
        "decided": sorted(decided, key=lambda r: r["started_at"] or "", reverse=True)[:20],
        "templates": [
            {
                **_document_row(t, names, names.site(t.site)),
                "steps": len(t.steps),
                "hours": t.total_hours,
                "transferred_from": t.transferred_from,
            }
            for t in templates
        ],
        "specifications": [
            {**_document_row(s, names, s.market), "tests": len(s.tests)} for s in specifications
        ],
    }


# ------------------------------------------------------------------ the batch record


def _entry_view(entry: ValueEntry, current: bool, names: _Names) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "value": entry.shown,
        "excursion": entry.excursion,
        "corrects": entry.corrects,
        "reason": entry.reason,
        "entered_by": entry.entered_by,
        "entered_by_name": entry.entered_by_name or names.user(entry.entered_by),
        "entered_at": when(entry.entered_at),
        "after_signature": entry.after_signature,
        "signature": signature_view(entry.signature),
        "verification": signature_view(entry.verification),
        "current": current,
    }


def _step_view(step: StepRecord, names: _Names) -> dict[str, Any]:
    parameters = []
    for spec in step.spec.parameters:
        entries = [e for e in step.entries if e.parameter == spec.name]
        parameters.append(
            {
                "name": spec.name,
                "limit": spec.limit_text,
                "entries": [
                    _entry_view(e, i == len(entries) - 1, names) for i, e in enumerate(entries)
                ],
            }
        )
    return {
        "position": step.position,
        "code": step.code,
        "name": step.spec.name,
        "title": step.title,
        "critical": step.spec.critical,
        "expected_hours": step.spec.expected_hours,
        "status": step.status.value,
        "status_label": step.status.label,
        "status_colour": step.status.colour,
        "suite": step.suite,
        "equipment": list(step.equipment),
        "started_at": when(step.started_at),
        "started_by": names.user(step.started_by),
        "completed_at": when(step.completed_at),
        "parameters": parameters,
        "performed": signature_view(step.performed),
        "verified": signature_view(step.verified),
    }


def _deviation_view(deviation: Deviation, batch: Batch, names: _Names) -> dict[str, Any]:
    step = next((s for s in batch.steps if s.code == deviation.step_code), None)
    return {
        "id": deviation.id,
        "description": deviation.description,
        "severity": deviation.severity.value,
        "severity_label": deviation.severity.label,
        "severity_colour": deviation.severity.colour,
        "state": deviation.state.value,
        "state_label": deviation.state.label,
        "state_colour": deviation.state.colour,
        "is_open": deviation.is_open,
        "step": step.title if step else None,
        "entry_seq": deviation.entry_seq,
        "automatic": deviation.automatic,
        "raised_at": when(deviation.raised_at),
        "raised_by": names.user(deviation.raised_by),
        "investigation_started_at": when(deviation.investigation_started_at),
        "investigation_started_by": names.user(deviation.investigation_started_by),
        "root_cause": deviation.root_cause,
        "capa": deviation.capa,
        "closure": signature_view(deviation.closure),
        "reclassifications": [
            {**r, "by": names.user(str(r.get("by"))), "at": _when_text(r.get("at"))}
            for r in deviation.reclassifications
        ],
    }


def _result_view(test: ReleaseTest, result: QcResult | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "code": test.code,
        "name": test.name,
        "method": test.method,
        "limit": test.limit_text,
        "unit": test.unit if test.numeric else "",
        "numeric": test.numeric,
        "choices": []
        if test.expected is None
        else [test.expected.value, test.expected.opposite.value],
        "result": None,
        "history": [],
        "changed": False,
    }
    if result is None:
        return row
    current = result.current
    unit = test.unit if test.numeric else ""
    row.update(
        result=_shown(current.text, unit),
        passes=current.passes,
        reason=current.reason,
        entered_by_name=current.entered_by_name,
        entered_at=when(current.entered_at),
        correction_reason=current.correction_reason,
        changed=result.changed_after_first_entry,
        history=[
            {
                "text": _shown(e.text, unit),
                "passes": e.passes,
                "entered_by_name": e.entered_by_name,
                "entered_at": when(e.entered_at),
            }
            for e in result.history
        ],
    )
    return row


def _shown(text: str, unit: str) -> str:
    """'84%', '0.5 EU/mL', 'no growth': a result as the certificate prints it."""
    if not unit:
        return text
    return f"{text}{unit}" if unit in ("%", "°C") else f"{text} {unit}"


def _tests_for(
    uow: AbstractUnitOfWork, batch: Batch, record: ReleaseRecord | None, case: Case | None
) -> tuple[tuple[ReleaseTest, ...], str | None]:
    """The tests the batch is (or will be) released against, and the specification's id."""
    if record is not None:
        return record.tests, record.specification_id
    # A case's market is its jurisdiction; an allogeneic lot names its own market.
    lot = uow.msc_lots.get(batch.lot_id) if case is None and batch.lot_id else None
    market = case.jurisdiction if case is not None else lot.market if lot is not None else None
    if market is None:
        return (), None
    specs = uow.specifications.find(product_code=batch.product_code, market=market)
    try:
        spec = specification_in_force(specs, batch.product_code, market)
    except DomainError:
        return (), None
    return spec.tests, spec.id


def _release_blockers(batch: Batch, record: ReleaseRecord, viewer: User) -> list[str]:
    """Why a release signed now would be refused (the domain's own checks, asked first)."""
    blockers = []
    try:
        batch.guard_release()
    except DomainError as exc:
        blockers.append(exc.message)
    makers = batch.people() | {e.entered_by for r in record.results for e in r.entries}
    if viewer.username in makers:
        blockers.append(
            f"you performed, verified or tested batch {batch.id}: another QA reviewer "
            "decides on its release"
        )
    return blockers


def _decision_forms(
    batch: Batch, record: ReleaseRecord | None, case: Case | None, viewer: User
) -> dict[str, Any]:
    """The disposition actions this viewer may take now, and what stands in their way."""
    if record is None:
        return {"actions": [], "blockers": [], "notes": []}
    actions = authority.release_actions(viewer, record)
    notes: list[str] = []
    if ReleaseAction.ACKNOWLEDGE in actions and (
        case is None or case.treating_physician != viewer.username
    ):
        actions.remove(ReleaseAction.ACKNOWLEDGE)
        notes.append("only the case's treating physician acknowledges these results")
    blockers: list[str] = []
    if ReleaseAction.RELEASE in actions or ReleaseAction.RELEASE_CONDITIONALLY in actions:
        blockers = _release_blockers(batch, record, viewer)
    if ReleaseAction.RELEASE_CONDITIONALLY in actions:
        acknowledged = record.acknowledgement
        if acknowledged is None:
            blockers.append(
                "the treating physician has not acknowledged the out-of-specification results"
            )
        elif not acknowledged.covers(record.oos_content()):
            blockers.append(
                f"the results changed after {acknowledged.printed_name} acknowledged them: "
                "the treating physician must acknowledge them again"
            )
    if blockers:
        actions = [
            a
            for a in actions
            if a not in (ReleaseAction.RELEASE, ReleaseAction.RELEASE_CONDITIONALLY)
        ]
    return {"actions": [a.value for a in actions], "blockers": blockers, "notes": notes}


def _forms(
    batch: Batch,
    record: ReleaseRecord | None,
    case: Case | None,
    tests: tuple[ReleaseTest, ...],
    viewer: User,
) -> dict[str, Any]:
    """What this viewer is offered on the batch page, by role and by the record's state."""
    operates = authority.may(viewer, commands.StartStep)
    verifies = authority.may(viewer, commands.VerifyStep)
    running = batch.status is BatchStatus.IN_PROGRESS
    record_open = batch.status in (BatchStatus.IN_PROGRESS, BatchStatus.COMPLETED)
    forms: dict[str, Any] = {"notes": []}

    start = None
    if operates and running:
        pending = next((s for s in batch.steps if s.status is StepStatus.PENDING), None)
        before_done = pending is not None and all(
            s.status is StepStatus.COMPLETED for s in batch.steps if s.position < pending.position
        )
        if pending is not None and before_done:
            start = {"code": pending.code, "title": pending.title}
    forms["start_step"] = start
    forms["running_steps"] = (
        [
            {
                "code": s.code,
                "title": s.title,
                "missing": s.missing(),
                # One field per parameter still to record, of its kind (pick list or number).
                "fields": [p.to_dict() for p in s.spec.parameters if s.current(p.name) is None],
            }
            for s in batch.steps
            if s.status is StepStatus.IN_PROGRESS
        ]
        if operates and running
        else []
    )
    verify, took_part = [], []
    if verifies and running:
        for s in batch.steps:
            if s.status is StepStatus.AWAITING_VERIFICATION:
                if viewer.username in s.people():
                    took_part.append(s.title)
                else:
                    verify.append({"code": s.code, "title": s.title})
    forms["verify_steps"] = verify
    if took_part:
        forms["notes"].append(
            f"you took part in {', '.join(took_part)}: a second person verifies it"
        )
    forms["correctable"] = (
        [
            {
                "seq": e.seq,
                "label": f"#{e.seq} {s.spec.name}: {e.parameter} = {e.shown}",
                "signed": s.signed,
            }
            for s in batch.steps
            for e in s.entries
            if s.current(e.parameter) is e
        ]
        if authority.may(viewer, commands.CorrectValue) and record_open
        else []
    )
    forms["verify_corrections"] = (
        [
            {"seq": e.seq, "label": f"#{e.seq} {e.parameter} = {e.shown} ({e.reason})"}
            for e in batch.unverified_corrections()
            if e.entered_by != viewer.username
        ]
        if authority.may(viewer, commands.VerifyCorrection) and record_open
        else []
    )
    forms["raise_deviation"] = (
        authority.may(viewer, commands.RaiseDeviation) and not batch.status.disposed
    )
    forms["steps"] = [{"code": s.code, "title": s.title} for s in batch.steps]
    forms["severities"] = [(s.value, s.label) for s in Severity]
    forms["deviation_qa"] = authority.may(viewer, commands.InvestigateDeviation)
    forms["abort"] = authority.may(viewer, commands.AbortBatch) and record_open

    entering = False
    if authority.may(viewer, commands.EnterResult):
        if record is not None:
            entering = not record.disposition.final
        elif batch.status is BatchStatus.COMPLETED and case and case.state is CaseState.IN_QC:
            entering = True
        elif batch.status is BatchStatus.COMPLETED and batch.lot_id and case is None:
            # An allogeneic lot's batch goes to QC once its record is complete
            # (docs/architecture.md, "Allogeneic MSC"): there is no case to wait on.
            entering = True
        elif batch.status is not BatchStatus.ABORTED and not batch.status.disposed:
            forms["notes"].append(
                "QC results are entered once manufacturing is completed "
                "(every step signed, bags and expiry recorded)"
            )
    forms["enter_results"] = entering and bool(tests)
    forms["correct_results"] = (
        [
            {"code": t.code, "name": t.name}
            for t in tests
            if record is not None and record.result(t.code) is not None
        ]
        if entering
        else []
    )
    decision = _decision_forms(batch, record, case, viewer)
    forms["decision"] = decision["actions"]
    forms["blockers"] = decision["blockers"]
    forms["notes"] += decision["notes"]
    return forms


def _release_view(record: ReleaseRecord | None, batch: Batch) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "specification_id": record.specification_id,
        "specification_number": record.specification_number,
        "market": record.market,
        "disposition": record.disposition.value,
        "label": record.disposition.label,
        "colour": record.disposition.colour,
        "final": record.disposition.final,
        "missing": [t.name for t in record.missing_tests()],
        "investigation": {
            **record.investigation,
            "opened_at": _when_text(record.investigation.get("opened_at")),
        }
        if record.investigation
        else None,
        "acknowledgement": signature_view(record.acknowledgement),
        "acknowledgement_statement": record.acknowledgement_statement,
        "justification": record.justification,
        "decision": signature_view(record.decision),
        "intact": record.decision_is_intact(batch) if record.decision else None,
    }


def batch_detail(uow: AbstractUnitOfWork, batch_id: str, viewer: User) -> dict[str, Any]:
    """The batch record as a page shows it, with the forms this viewer may use."""
    batch = readable_batch(uow, batch_id, viewer)
    names = _Names(uow)
    record = uow.release_records.get(batch.id)
    case = uow.cases.get(batch.case_id) if batch.case_id else None
    tests, specification_id = _tests_for(uow, batch, record, case)
    signatures = [(what, s) for what, s in batch.signatures()]
    if record is not None and record.acknowledgement is not None:
        signatures.append(
            ("acknowledgement of the out-of-specification results", record.acknowledgement)
        )
    if record is not None and record.decision is not None:
        signatures.append((f"QA decision on batch {batch.id}", record.decision))
    facility = uow.sites.get(batch.site)
    return {
        # The page shows each time in the facility's zone (docs/architecture.md, "Local time").
        "zone": facility.timezone if facility is not None else "UTC",
        "batch": {
            **_batch_row(batch, record, names, case),
            "template_id": batch.template_id,
            "template_number": batch.template_number,
            "template_hash": batch.template_hash,
            "started_by": names.user(batch.started_by),
            "completed_at": when(batch.completed_at),
            "abort": {
                **batch.abort,
                "by": names.user(str(batch.abort.get("by"))),
                "at": _when_text(batch.abort.get("at")),
            }
            if batch.abort
            else None,
            "decided": batch.status.disposed,
        },
        "steps": [_step_view(s, names) for s in batch.steps],
        "deviations": [_deviation_view(d, batch, names) for d in batch.deviations],
        "release": _release_view(record, batch),
        "specification_id": specification_id,
        "results": [_result_view(t, record.result(t.code) if record else None) for t in tests],
        "signatures": [
            {"what": what, **(signature_view(s) or {})}
            for what, s in sorted(signatures, key=lambda pair: pair[1].at)
        ],
        "forms": _forms(batch, record, case, tests, viewer),
        "deviation_states": {
            "open": DeviationState.OPEN.value,
            "investigating": DeviationState.UNDER_INVESTIGATION.value,
        },
    }


# ------------------------------------------------------------------ QC and QA work lists


def qc_worklist(uow: AbstractUnitOfWork, viewer: User) -> list[dict[str, Any]]:
    """Manufactured batches that still need QC: results to enter, or out of specification
    (at the viewer's sites)."""
    names = _Names(uow)
    rows = []
    for batch in visible_batches(uow, viewer, uow.batches.find(status=BatchStatus.COMPLETED)):
        record = uow.release_records.get(batch.id)
        if record is not None and record.disposition not in (
            Disposition.AWAITING_RESULTS,
            Disposition.OUT_OF_SPECIFICATION,
        ):
            continue
        case = uow.cases.get(batch.case_id) if batch.case_id else None
        tests, specification_id = _tests_for(uow, batch, record, case)
        missing = record.missing_tests() if record else list(tests)
        ready = record is not None or (case is not None and case.state is CaseState.IN_QC)
        rows.append(
            {
                **_batch_row(batch, record, names, case),
                "specification_id": specification_id,
                "entered": len(tests) - len(missing),
                "tests": len(tests),
                "missing": [t.name for t in missing],
                "out_of_specification": [r.current.reason for r in record.out_of_specification()]
                if record
                else [],
                "ready": ready,
            }
        )
    return rows


def release_queue(uow: AbstractUnitOfWork, viewer: User) -> dict[str, list[dict[str, Any]]]:
    """Release records by where they stand: ready, held (every result passes but a major
    or critical deviation is open: never listed as ready), out of specification,
    awaiting results, and the latest decisions; each flagged with what would stop a
    release (the viewer's sites' batches)."""
    names = _Names(uow)
    queue: dict[str, list[dict[str, Any]]] = {
        "ready": [],
        "held": [],
        "investigation": [],
        "awaiting": [],
        "decided": [],
    }
    section = {
        Disposition.READY_FOR_RELEASE: "ready",
        Disposition.OUT_OF_SPECIFICATION: "investigation",
        Disposition.UNDER_INVESTIGATION: "investigation",
        Disposition.AWAITING_RESULTS: "awaiting",
    }
    for record in uow.release_records.list():
        batch = uow.batches.get(record.batch_id)
        if batch is None or not visible_batches(uow, viewer, [batch]):
            continue
        row = {
            **_batch_row(batch, record, names),
            "missing": [t.name for t in record.missing_tests()],
            "out_of_specification": [r.current.reason for r in record.out_of_specification()],
            "investigation": (record.investigation or {}).get("reference"),
            "acknowledged": record.acknowledgement is not None,
            "decision": signature_view(record.decision),
        }
        place = section.get(record.disposition, "decided")
        holding = batch.open_deviations(Severity.CRITICAL) + batch.open_deviations(Severity.MAJOR)
        if place == "ready" and holding:
            place = "held"
            row["held_by"] = [d.summary for d in holding]
        queue[place].append(row)
    queue["decided"] = sorted(
        queue["decided"], key=lambda r: r["decision"]["at"] if r["decision"] else "", reverse=True
    )[:20]
    return queue


def batch_view(uow: AbstractUnitOfWork, batch_id: str, viewer: User) -> dict[str, Any]:
    """A batch record with its QC record and the signatures on both (API and CLI)."""
    batch = readable_batch(uow, batch_id, viewer)
    record = uow.release_records.get(batch_id)
    signatures = [{"signed": what, **signature.to_dict()} for what, signature in batch.signatures()]
    if record is not None:
        for what, signature in (
            ("acknowledgement of the out-of-specification results", record.acknowledgement),
            ("QA decision", record.decision),
        ):
            if signature is not None:
                signatures.append({"signed": what, **signature.to_dict()})
    return {
        **batch.snapshot(),
        "release_record": record.snapshot() if record else None,
        "disposition": record.disposition.value if record else None,
        "decision_intact": record.decision_is_intact(batch) if record and record.decision else None,
        "signatures": sorted(signatures, key=lambda s: str(s["at"])),
    }
