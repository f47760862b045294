"""The electronic batch record: steps in order, signed "performed" and (critical) "verified"
by a second person, locked once signed, corrections that keep the first value, deviations
raised by excursions and closed by QA, and the release guard."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from veinline.domain.batch import (
    BATCH_STYLE,
    DEVIATION_STYLE,
    SEVERITY_STYLE,
    STEP_STYLE,
    Batch,
    BatchStatus,
    Deviation,
    DeviationState,
    Severity,
    StepRecord,
    StepStatus,
    start_batch,
)
from veinline.domain.catalog import Modality
from veinline.domain.errors import DomainError, InvalidInput, NotAllowed
from veinline.domain.ledger import content_hash
from veinline.domain.process import (
    ParameterKind,
    ParameterSpec,
    ProcessTemplate,
    StepSpec,
    default_template,
    draft_template,
    transfer,
)
from veinline.domain.signature import Meaning
from veinline.domain.user import Role, User

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SITE = "carsgen-rtp"
COI = "CHA999026000001"
DIN = "A999126000001"


def user(username: str, role: Role, site: str | None = None) -> User:
    return User(username, f"{username.title()} Printed", role, site, T0)


OP = user("op.li", Role.MANUFACTURING_OPERATOR)
OP2 = user("op.garcia", Role.MANUFACTURING_OPERATOR)
QA = user("qa.wang", Role.QA_REVIEWER)
QA2 = user("qa.smith", Role.QA_REVIEWER)
QC = user("qc.chen", Role.QC_ANALYST)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


STEPS = (
    StepSpec(
        "selection",
        "T-cell selection",
        4,
        (ParameterSpec("CD3+ purity", unit="%", low=80),),
    ),
    StepSpec(
        "transduction",
        "Lentiviral transduction",
        24,
        (
            ParameterSpec("Vector lot", ParameterKind.TEXT),
            ParameterSpec("MOI", low=1, high=5),
        ),
        critical=True,
    ),
    StepSpec("expansion", "Expansion", 168, (ParameterSpec("Viability", unit="%", low=70),)),
)


def approved_template(steps: tuple[StepSpec, ...] = STEPS) -> ProcessTemplate:
    template = draft_template("zevor-cel", SITE, steps, by=OP, at=T0)
    template.approve(by=QA, at=T0)
    return template


def new_batch(template: ProcessTemplate | None = None) -> Batch:
    return start_batch(
        "B-26-0001",
        template or approved_template(),
        by=OP,
        at=at(1),
        case_id="C2026-00001",
        coi=COI,
        din=DIN,
    )


def run_selection(batch: Batch, value: float = 92.5) -> None:
    batch.start_step("selection", by=OP, at=at(2), suite="Suite 3", equipment=["BSC-07"])
    batch.record_value("selection", "CD3+ purity", value, by=OP, at=at(3))
    batch.complete_step("selection", by=OP, at=at(4))


def run_transduction(batch: Batch, moi: float = 3) -> None:
    batch.start_step("transduction", by=OP, at=at(5), suite="Suite 3", equipment=["INC-02"])
    batch.record_value("transduction", "Vector lot", "LV-26-014", by=OP, at=at(6))
    batch.record_value("transduction", "MOI", moi, by=OP, at=at(6))
    batch.complete_step("transduction", by=OP, at=at(7))


def run_expansion(batch: Batch, viability: float = 88) -> None:
    batch.start_step("expansion", by=OP2, at=at(9), suite="Suite 3", equipment=["BIOR-1"])
    batch.record_value("expansion", "Viability", viability, by=OP2, at=at(100))
    batch.complete_step("expansion", by=OP2, at=at(101))


def finished_batch() -> Batch:
    batch = new_batch()
    run_selection(batch)
    run_transduction(batch)
    batch.verify_step("transduction", by=OP2, at=at(8))
    run_expansion(batch)
    return batch


def refused(batch: Batch, error: type[DomainError], match: str, act: Callable[[], object]) -> None:
    """The act is refused with this message and the batch record is left exactly as it was."""
    before = json.dumps(batch.snapshot(), sort_keys=True)
    with pytest.raises(error, match=match):
        act()
    assert json.dumps(batch.snapshot(), sort_keys=True) == before


# ------------------------------------------------------------------ starting a batch


def test_batch_binds_the_template_version_it_started_on() -> None:
    template = approved_template()
    batch = new_batch(template)
    assert batch.template_id == template.id
    assert batch.template_hash == content_hash(template.content())
    assert [s.code for s in batch.steps] == ["selection", "transduction", "expansion"]
    assert batch.status is BatchStatus.IN_PROGRESS


def test_batch_cannot_start_on_a_draft_template() -> None:
    draft = draft_template("zevor-cel", SITE, STEPS, by=OP, at=T0)
    with pytest.raises(NotAllowed, match="is a draft"):
        start_batch("B-1", draft, by=OP, at=T0, case_id="C1", coi=COI, din=DIN)


def test_tech_transferred_template_cannot_start_a_batch_until_approved_at_the_receiving_site() -> (
    None
):
    china = default_template("zevor-cel", Modality.AUTOLOGOUS_CAR_T, "carsgen-shanghai", at=T0)
    china.approve(by=QA, at=T0)
    rtp = transfer(china, SITE, OP, at=T0)
    with pytest.raises(NotAllowed, match="transferred from zevor-cel/carsgen-shanghai/v1"):
        start_batch("B-1", rtp, by=OP, at=T0, case_id="C1", coi=COI, din=DIN)
    rtp.approve(by=user("qa.rtp", Role.QA_REVIEWER, SITE), at=T0)
    batch = start_batch("B-1", rtp, by=OP, at=T0, case_id="C1", coi=COI, din=DIN)
    assert batch.site == SITE and batch.template_id == rtp.id


def test_batch_belongs_to_exactly_one_case_or_one_lot() -> None:
    template = approved_template()
    with pytest.raises(InvalidInput, match="exactly one case"):
        start_batch("B-1", template, by=OP, at=T0)
    with pytest.raises(InvalidInput, match="exactly one case"):
        start_batch("B-1", template, by=OP, at=T0, case_id="C1", lot_id="L1", coi=COI, din=DIN)
    lot = start_batch("B-1", template, by=OP, at=T0, lot_id="L-2026-01")
    assert lot.lot_id == "L-2026-01"


def test_autologous_batch_needs_its_chain_of_identity() -> None:
    with pytest.raises(InvalidInput, match="chain-of-identity"):
        start_batch("B-1", approved_template(), by=OP, at=T0, case_id="C1")


def test_snapshot_is_json_ready_with_utc_times() -> None:
    batch = finished_batch()
    snapshot = batch.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["started_at"] == "2026-03-02T10:30:00.000000Z"
    assert snapshot["steps"][1]["verified"]["meaning"] == "verified"
    assert batch.ENTITY_TYPE == "batch" and batch.entity_id == "B-26-0001"


def test_every_state_has_a_label_and_colour() -> None:
    assert set(BATCH_STYLE) == set(BatchStatus)
    assert set(STEP_STYLE) == set(StepStatus)
    assert set(SEVERITY_STYLE) == set(Severity)
    assert set(DEVIATION_STYLE) == set(DeviationState)


# ------------------------------------------------------------------ steps in order


def test_steps_run_in_template_order() -> None:
    batch = new_batch()
    refused(
        batch,
        NotAllowed,
        r"step 2 \(Lentiviral transduction\) cannot start before step 1",
        lambda: batch.start_step("transduction", by=OP, at=at(2), suite="Suite 3"),
    )


def test_step_three_cannot_start_while_critical_step_two_awaits_verification() -> None:
    batch = new_batch()
    run_selection(batch)
    run_transduction(batch)
    refused(
        batch,
        NotAllowed,
        "awaiting second-person verification",
        lambda: batch.start_step("expansion", by=OP, at=at(9), suite="Suite 3"),
    )


def test_step_records_suite_and_equipment() -> None:
    batch = new_batch()
    batch.start_step("selection", by=OP, at=at(2), suite=" Suite  3 ", equipment=["BSC-07"])
    batch.add_equipment("selection", "CEN-11", by=OP)
    step = batch.step("selection")
    assert step.suite == "Suite 3"
    assert step.equipment == ["BSC-07", "CEN-11"]
    assert step.started_by == "op.li"


def test_step_needs_a_suite() -> None:
    batch = new_batch()
    refused(
        batch,
        InvalidInput,
        "suite",
        lambda: batch.start_step("selection", by=OP, at=at(2), suite=" "),
    )


def test_a_step_cannot_be_signed_until_every_parameter_is_recorded() -> None:
    batch = new_batch()
    run_selection(batch)
    batch.start_step("transduction", by=OP, at=at(5), suite="Suite 3")
    batch.record_value("transduction", "MOI", 3, by=OP, at=at(6))
    refused(
        batch,
        InvalidInput,
        "still needs: Vector lot",
        lambda: batch.complete_step("transduction", by=OP, at=at(7)),
    )


def test_operator_signs_a_step_performed_over_its_content() -> None:
    batch = new_batch()
    run_selection(batch)
    step = batch.step("selection")
    assert step.performed is not None
    assert step.performed.meaning is Meaning.PERFORMED
    assert step.performed.printed_name == "Op.Li Printed"
    assert step.performed.content_hash == content_hash(step.content(batch.id))
    assert step.status is StepStatus.COMPLETED


def test_non_critical_step_is_complete_on_the_performer_signature() -> None:
    batch = new_batch()
    run_selection(batch)
    assert batch.step("selection").completed_at == at(4)


def test_recording_an_unknown_parameter_is_refused() -> None:
    batch = new_batch()
    batch.start_step("selection", by=OP, at=at(2), suite="Suite 3")
    refused(
        batch,
        InvalidInput,
        "records no parameter 'MOI'",
        lambda: batch.record_value("selection", "MOI", 3, by=OP, at=at(3)),
    )


# ------------------------------------------------------------------ second-person verification


def test_critical_step_waits_for_a_second_persons_verification() -> None:
    batch = new_batch()
    run_selection(batch)
    run_transduction(batch)
    assert batch.step("transduction").status is StepStatus.AWAITING_VERIFICATION
    batch.verify_step("transduction", by=OP2, at=at(8))
    step = batch.step("transduction")
    assert step.status is StepStatus.COMPLETED
    assert step.verified is not None and step.verified.meaning is Meaning.VERIFIED
    assert step.performed is not None
    assert step.verified.content_hash == step.performed.content_hash


def test_same_person_verification_is_refused() -> None:
    batch = new_batch()
    run_selection(batch)
    run_transduction(batch)
    refused(
        batch,
        NotAllowed,
        r"op.li performed step 2 \(Lentiviral transduction\) and cannot verify it",
        lambda: batch.verify_step("transduction", by=OP, at=at(8)),
    )


def test_someone_who_entered_a_value_cannot_verify_the_step() -> None:
    batch = new_batch()
    run_selection(batch)
    batch.start_step("transduction", by=OP, at=at(5), suite="Suite 3")
    batch.record_value("transduction", "Vector lot", "LV-26-014", by=OP2, at=at(6))
    batch.record_value("transduction", "MOI", 3, by=OP, at=at(6))
    batch.complete_step("transduction", by=OP, at=at(7))
    refused(
        batch,
        NotAllowed,
        "took part in",
        lambda: batch.verify_step("transduction", by=OP2, at=at(8)),
    )


def test_qa_may_verify_a_critical_step() -> None:
    batch = new_batch()
    run_selection(batch)
    run_transduction(batch)
    batch.verify_step("transduction", by=QA, at=at(8))
    assert batch.step("transduction").status is StepStatus.COMPLETED


def test_a_non_critical_step_needs_no_verification() -> None:
    batch = new_batch()
    run_selection(batch)
    refused(
        batch,
        InvalidInput,
        "not critical",
        lambda: batch.verify_step("selection", by=OP2, at=at(5)),
    )


def test_batch_completes_when_the_last_step_completes() -> None:
    batch = finished_batch()
    assert batch.status is BatchStatus.COMPLETED
    assert batch.completed_at == at(101)


def test_default_car_t_process_runs_end_to_end() -> None:
    template = default_template("zevor-cel", Modality.AUTOLOGOUS_CAR_T, SITE, at=T0)
    template.approve(by=QA, at=T0)
    batch = new_batch(template)
    for i, step in enumerate(template.steps):
        batch.start_step(step.code, by=OP, at=at(i * 10), suite="Suite 1")
        for parameter in step.parameters:
            value: float | str
            if parameter.kind is not ParameterKind.NUMBER:
                value = parameter.expected or "LOT-1"
            else:
                bound = parameter.low if parameter.low is not None else parameter.high
                value = bound if bound is not None else 1.0
            batch.record_value(step.code, parameter.name, value, by=OP, at=at(i * 10 + 1))
        batch.complete_step(step.code, by=OP, at=at(i * 10 + 2))
        if step.critical:
            batch.verify_step(step.code, by=OP2, at=at(i * 10 + 3))
    assert batch.status is BatchStatus.COMPLETED
    assert batch.deviations == []
    batch.guard_release()


# ------------------------------------------------------------------ locked once signed, corrections


def test_editing_a_value_after_signature_is_refused() -> None:
    batch = new_batch()
    run_selection(batch)
    refused(
        batch,
        NotAllowed,
        "was signed by Op.Li Printed and is locked",
        lambda: batch.record_value("selection", "CD3+ purity", 95, by=OP, at=at(5)),
    )


def test_recording_a_parameter_twice_is_refused_before_signature_too() -> None:
    batch = new_batch()
    batch.start_step("selection", by=OP, at=at(2), suite="Suite 3")
    batch.record_value("selection", "CD3+ purity", 90, by=OP, at=at(3))
    refused(
        batch,
        NotAllowed,
        "already recorded",
        lambda: batch.record_value("selection", "CD3+ purity", 91, by=OP, at=at(3)),
    )


def test_adding_equipment_after_signature_is_refused() -> None:
    batch = new_batch()
    run_selection(batch)
    refused(
        batch,
        NotAllowed,
        "locked",
        lambda: batch.add_equipment("selection", "CEN-99", by=OP),
    )


def test_a_correction_is_a_new_entry_and_the_first_value_stays() -> None:
    batch = new_batch()
    batch.start_step("selection", by=OP, at=at(2), suite="Suite 3")
    first = batch.record_value("selection", "CD3+ purity", 29.5, by=OP, at=at(3))
    fixed = batch.correct_value(first.seq, 92.5, reason="digits transposed", by=OP, at=at(3.5))
    step = batch.step("selection")
    assert [e.value for e in step.entries] == [29.5, 92.5]
    assert fixed.corrects == first.seq and fixed.reason == "digits transposed"
    assert step.current("CD3+ purity") is fixed
    assert not fixed.after_signature


def test_a_correction_needs_a_reason() -> None:
    batch = new_batch()
    batch.start_step("selection", by=OP, at=at(2), suite="Suite 3")
    first = batch.record_value("selection", "CD3+ purity", 91, by=OP, at=at(3))
    refused(
        batch,
        InvalidInput,
        "reason",
        lambda: batch.correct_value(first.seq, 92, reason=" ", by=OP, at=at(3)),
    )


def test_only_the_latest_entry_of_a_chain_can_be_corrected() -> None:
    batch = new_batch()
    batch.start_step("selection", by=OP, at=at(2), suite="Suite 3")
    first = batch.record_value("selection", "CD3+ purity", 91, by=OP, at=at(3))
    second = batch.correct_value(first.seq, 92, reason="typo", by=OP, at=at(3))
    refused(
        batch,
        InvalidInput,
        f"corrected already by entry #{second.seq}",
        lambda: batch.correct_value(first.seq, 93, reason="again", by=OP, at=at(3)),
    )


def test_a_correction_after_signature_is_signed_and_leaves_the_signed_content_alone() -> None:
    batch = new_batch()
    run_selection(batch)
    step = batch.step("selection")
    signed_content = step.content(batch.id)
    fixed = batch.correct_value(
        step.entries[0].seq, 93.5, reason="printout reread", by=OP, at=at(4.5)
    )
    assert fixed.after_signature
    assert fixed.signature is not None and fixed.signature.meaning is Meaning.AUTHORED
    assert step.content(batch.id) == signed_content
    assert step.performed is not None and step.performed.covers(signed_content)
    assert [e.value for e in step.entries] == [92.5, 93.5]


def test_a_correction_after_signature_blocks_release_until_a_second_person_verifies_it() -> None:
    batch = finished_batch()
    fixed = batch.correct_value(
        batch.step("expansion").entries[0].seq, 86, reason="reread", by=OP2, at=at(102)
    )
    refused(batch, NotAllowed, "no second person has verified", batch.guard_release)
    refused(
        batch,
        NotAllowed,
        "made correction .* cannot verify it",
        lambda: batch.verify_correction(fixed.seq, by=OP2, at=at(103)),
    )
    batch.verify_correction(fixed.seq, by=QA, at=at(103))
    batch.guard_release()


# ------------------------------------------------------------------ deviations


def test_a_value_outside_its_limit_raises_a_deviation_automatically() -> None:
    batch = new_batch()
    run_selection(batch, value=72)
    (deviation,) = batch.deviations
    assert deviation.automatic
    assert deviation.description == "CD3+ purity 72% is below the in-process limit ≥ 80%"
    assert deviation.severity is Severity.MINOR
    assert deviation.state is DeviationState.OPEN
    assert deviation.step_code == "selection"
    assert deviation.entry_seq == batch.step("selection").entries[0].seq


def test_an_excursion_on_a_critical_step_starts_as_a_major_deviation() -> None:
    batch = new_batch()
    run_selection(batch)
    run_transduction(batch, moi=8)
    assert batch.open_deviations(Severity.MAJOR)[0].description == (
        "MOI 8 is above the in-process limit 1 to 5"
    )


def test_a_value_within_its_limit_raises_no_deviation() -> None:
    batch = new_batch()
    run_selection(batch, value=80)
    assert batch.deviations == []


def test_correcting_an_excursion_back_into_limits_leaves_its_deviation_open() -> None:
    batch = new_batch()
    batch.start_step("selection", by=OP, at=at(2), suite="Suite 3")
    first = batch.record_value("selection", "CD3+ purity", 8.5, by=OP, at=at(3))
    batch.correct_value(first.seq, 85, reason="decimal slipped", by=OP, at=at(3))
    assert [d.is_open for d in batch.deviations] == [True]


def test_deviation_moves_open_then_under_investigation_then_closed() -> None:
    batch = new_batch()
    deviation = batch.raise_deviation("door alarm", Severity.MINOR, by=OP, at=at(2))
    assert deviation.id == "B-26-0001-D01"
    refused(
        batch,
        NotAllowed,
        "open: it cannot be closed now",
        lambda: batch.close_deviation(deviation.id, root_cause="x", capa="y", by=QA, at=at(3)),
    )
    batch.investigate_deviation(deviation.id, by=QA, at=at(3))
    assert deviation.state is DeviationState.UNDER_INVESTIGATION
    batch.close_deviation(
        deviation.id,
        root_cause="door propped during delivery",
        capa="delivery SOP revised; retraining",
        by=QA,
        at=at(4),
    )
    assert batch.deviation(deviation.id).state is DeviationState.CLOSED
    assert deviation.closure is not None
    assert deviation.closure.meaning is Meaning.APPROVED
    assert deviation.closure.covers(deviation.content(batch.id))


def test_closing_a_deviation_needs_a_root_cause_and_a_capa() -> None:
    batch = new_batch()
    deviation = batch.raise_deviation("door alarm", Severity.MINOR, by=OP, at=at(2))
    batch.investigate_deviation(deviation.id, by=QA, at=at(3))
    refused(
        batch,
        InvalidInput,
        "root cause",
        lambda: batch.close_deviation(deviation.id, root_cause=" ", capa="y", by=QA, at=at(4)),
    )
    refused(
        batch,
        InvalidInput,
        "CAPA",
        lambda: batch.close_deviation(deviation.id, root_cause="x", capa="", by=QA, at=at(4)),
    )


def test_qa_reclassifies_an_open_deviation_and_the_old_class_stays_on_file() -> None:
    batch = new_batch()
    deviation = batch.raise_deviation("bag leak", Severity.MINOR, by=OP, at=at(2))
    batch.classify_deviation(
        deviation.id, Severity.CRITICAL, reason="sterility at risk", by=QA, at=at(3)
    )
    assert deviation.severity is Severity.CRITICAL
    assert deviation.reclassifications[0]["from"] == "minor"


def test_open_deviations_filters_by_severity_most_severe_first() -> None:
    batch = new_batch()
    minor = batch.raise_deviation("label smudge", Severity.MINOR, by=OP, at=at(2))
    critical = batch.raise_deviation("bag leak", Severity.CRITICAL, by=QC, at=at(2))
    assert batch.open_deviations() == [critical, minor]
    assert batch.open_deviations(Severity.CRITICAL) == [critical]
    assert batch.open_deviations(Severity.MAJOR) == []


# ------------------------------------------------------------------ the release guard


def test_releasing_with_an_open_critical_deviation_is_refused() -> None:
    batch = finished_batch()
    batch.raise_deviation("bag leak at fill", Severity.CRITICAL, by=QA, at=at(102))
    refused(
        batch,
        NotAllowed,
        r"1 deviation\(s\) are open: B-26-0001-D01 \(critical",
        batch.guard_release,
    )


def test_releasing_with_an_open_minor_deviation_is_refused_too() -> None:
    batch = finished_batch()
    deviation = batch.raise_deviation("label smudge", Severity.MINOR, by=OP, at=at(102))
    batch.investigate_deviation(deviation.id, by=QA, at=at(103))
    refused(batch, NotAllowed, "minor, under investigation", batch.guard_release)


def test_release_guard_passes_once_every_deviation_is_closed() -> None:
    batch = finished_batch()
    deviation = batch.raise_deviation("bag leak", Severity.CRITICAL, by=QA, at=at(102))
    batch.investigate_deviation(deviation.id, by=QA, at=at(103))
    batch.close_deviation(
        deviation.id, root_cause="overwrap only", capa="supplier notified", by=QA2, at=at(104)
    )
    batch.guard_release()


def test_an_unfinished_batch_cannot_be_released() -> None:
    batch = new_batch()
    run_selection(batch)
    refused(
        batch, NotAllowed, r"step 2 \(Lentiviral transduction\) is not started", batch.guard_release
    )


def test_an_aborted_batch_cannot_be_released_or_changed() -> None:
    batch = new_batch()
    batch.abort_batch(reason="apheresis bag damaged", by=QA, at=at(2))
    refused(batch, NotAllowed, "aborted", batch.guard_release)
    refused(
        batch,
        NotAllowed,
        "aborted",
        lambda: batch.start_step("selection", by=OP, at=at(3), suite="Suite 3"),
    )


def test_signatures_lists_every_signature_in_time_order() -> None:
    batch = finished_batch()
    meanings = [(what, s.meaning.value) for what, s in batch.signatures()]
    assert meanings == [
        ("step 1 (T-cell selection)", "performed"),
        ("step 2 (Lentiviral transduction)", "performed"),
        ("step 2 (Lentiviral transduction)", "verified"),
        ("step 3 (Expansion)", "performed"),
    ]


def test_deviation_class_is_parsed_from_what_a_user_types() -> None:
    assert Severity.parse(" Critical ") is Severity.CRITICAL
    with pytest.raises(InvalidInput, match="use one of: minor, major, critical"):
        Severity.parse("severe")


# ------------------------------------------------------------------ the stored form


def test_a_batch_read_back_from_its_stored_form_has_the_same_snapshot_and_signatures() -> None:
    batch = finished_batch()
    batch.correct_value(1, 91.0, reason="transcription error", by=OP2, at=at(102))
    batch.raise_deviation("door left ajar", Severity.MINOR, by=OP, at=at(103))
    stored = json.loads(json.dumps([s.stored() for s in batch.steps]))
    deviations = json.loads(json.dumps([d.to_dict() for d in batch.deviations]))
    steps = [StepRecord.from_stored(s) for s in stored]
    again = Batch(
        **{
            **{k: getattr(batch, k) for k in ("id", "product_code", "site", "template_id")},
            "template_number": batch.template_number,
            "template_hash": batch.template_hash,
            "steps": steps,
            "started_at": batch.started_at,
            "started_by": batch.started_by,
            "case_id": batch.case_id,
            "coi": batch.coi,
            "din": batch.din,
            "status": batch.status,
            "deviations": [Deviation.from_dict(d) for d in deviations],
            "completed_at": batch.completed_at,
            "entry_count": batch.entry_count,
            "version": batch.version,
        }
    )
    assert again.snapshot() == batch.snapshot()
    assert content_hash(again.record_content()) == content_hash(batch.record_content())
    step = again.step("transduction")
    assert step.spec == batch.step("transduction").spec
    assert step.performed is not None and step.performed.covers(step.content(batch.id))
    assert step.verified is not None and step.verified.username == OP2.username
    assert again.signatures() == batch.signatures()
