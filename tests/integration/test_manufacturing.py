"""Manufacturing and release through the message bus, on SQLite and PostgreSQL.

Each refusal is checked to change nothing: the batch, its QC record and the ledger stay
exactly as they were.
"""

from __future__ import annotations

import json

import pypdfium2
import pytest
from sqlalchemy import text

from tests.conftest import FixedClock
from tests.fakes import present
from veinline.adapters.coa_pdf import render_coa
from veinline.adapters.seed.cases import DEMO_PASSWORD, EQUE_CEL_HK, ZEVOR_CEL_US, Driver
from veinline.bootstrap import App
from veinline.domain.batch import Batch, BatchStatus
from veinline.domain.case import Case, CaseState
from veinline.domain.errors import DomainError, InvalidInput, NotAllowed
from veinline.domain.ledger import content_hash
from veinline.domain.process import DocumentStatus
from veinline.domain.release import Disposition
from veinline.domain.user import Role
from veinline.services import commands, ledger, release

S = CaseState


@pytest.fixture
def driver(demo_app: App, clock: FixedClock) -> Driver:
    return Driver(demo_app.bus, demo_app.user, clock)


def _at(driver: Driver, state: CaseState, route: object = EQUE_CEL_HK) -> Case:
    case = driver.enrol(route, patient_name="Chan Tai Man", wristband="WB-0001")  # type: ignore[arg-type]
    return driver.advance(case, route, state)  # type: ignore[arg-type]


def _footprint(app: App, batch_id: str) -> str:
    """What a refused command must leave as it was (a wrong signature password is
    ledgered apart, against the signer's sign-in guard)."""
    with app.uow() as uow:
        batch = uow.batches.get(batch_id)
        record = uow.release_records.get(batch_id)
        count = sum(1 for e in uow.ledger.entries() if not e.action.startswith("sign_in."))
    return json.dumps(
        [
            batch.snapshot() if batch else None,
            record.snapshot() if record else None,
            count,
        ],
        sort_keys=True,
    )


def _refused(
    app: App, batch_id: str, cmd: commands.Command, user: str, error: type[DomainError], match: str
) -> None:
    before = _footprint(app, batch_id)
    with pytest.raises(error, match=match):
        app.bus.handle(cmd, actor=app.user(user))
    assert _footprint(app, batch_id) == before


def _batch(app: App, batch_id: str) -> Batch:
    with app.uow() as uow:
        batch = uow.batches.get(batch_id)
    assert batch is not None
    return batch


# ------------------------------------------------------------------ the happy path


def test_a_batch_goes_from_receipt_to_qa_release_and_every_signature_is_in_the_ledger(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.RELEASED)
    batch_id = present(case.release).batch_id
    batch = _batch(demo_app, batch_id)
    assert batch.status is BatchStatus.RELEASED
    assert batch.steps[0].code == "receipt" and len(batch.steps) == 9
    assert all(s.performed is not None for s in batch.steps)
    critical = [s for s in batch.steps if s.spec.critical]
    assert critical and all(
        s.verified is not None and s.verified.username == "operator2" for s in critical
    )
    signed = [
        (e.action, e.signature_meaning, e.actor)
        for e in ledger.history(demo_app.uow(), batch_id)
        if e.signature_meaning
    ]
    assert signed.count(("batch.step_performed", "performed", "operator")) == 9
    assert signed.count(("batch.step_verified", "verified", "operator2")) == len(critical)
    assert signed[-1] == ("release_record.released", "released", "qa")
    for entry in ledger.history(demo_app.uow(), batch_id):
        if entry.signature_meaning:
            assert entry.signed_hash == content_hash(entry.after)
    report = ledger.verify(demo_app.uow())
    assert report.ok, report.breaks


def test_the_process_in_force_is_bound_and_a_new_version_supersedes_it(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.MANUFACTURING)
    batch = _batch(demo_app, present(case.batch_id))
    assert batch.template_id == "eque-cel/demo-suzhou-manufacturing/v1"
    draft = driver.do(commands.DraftProcess("eque-cel", "demo-suzhou-manufacturing"), "operator")
    assert draft.number == 2 and draft.status is DocumentStatus.DRAFT
    # QA of another facility only (RTP): the process is Suzhou's.
    demo_app.bus.handle(
        commands.CreateUser(
            "qa.rtp", "QA of RTP", Role.QA_REVIEWER, "carsgen-rtp", password=DEMO_PASSWORD
        ),
        actor=demo_app.user("admin"),
    )
    _refused(
        demo_app,
        batch.id,
        commands.ApproveProcess(draft.id, "qa.rtp", DEMO_PASSWORD),
        "qa.rtp",
        NotAllowed,
        r"qa.rtp works as a QA reviewer at carsgen-rtp, not at the sites of process "
        r"template eque-cel/demo-suzhou-manufacturing/v2",
    )
    driver.do(commands.ApproveProcess(draft.id, "qa2", DEMO_PASSWORD), "qa2")
    with demo_app.uow() as uow:
        versions = {t.number: t.status for t in uow.process_templates.find(product_code="eque-cel")}
    assert versions == {1: DocumentStatus.SUPERSEDED, 2: DocumentStatus.APPROVED}
    assert _batch(demo_app, batch.id).template_number == 1  # the running batch keeps v1


def test_technology_transfer_arrives_as_a_draft_the_receiving_site_approves(
    demo_app: App, driver: Driver
) -> None:
    driver.prepare_manufacturing(ZEVOR_CEL_US)
    copy = driver.do(
        commands.TransferProcess("zevor-cel/carsgen-rtp/v1", "demo-suzhou-manufacturing"), "qa"
    )
    assert copy.status is DocumentStatus.DRAFT
    assert copy.transferred_from == "zevor-cel/carsgen-rtp/v1"
    approved = driver.do(commands.ApproveProcess(copy.id, "qa2", DEMO_PASSWORD), "qa2")
    assert approved.status is DocumentStatus.APPROVED and approved.approval.username == "qa2"


# ------------------------------------------------------------------ refusals


def test_the_performer_cannot_verify_their_own_critical_step(demo_app: App, driver: Driver) -> None:
    case = _at(driver, S.MANUFACTURING)
    batch_id = present(case.batch_id)
    driver.do(commands.StartStep(batch_id, "receipt", "Suite 1", ["BSC-1"]), "operator")
    for name, value in (
        ("Chain-of-identity label match", "match"),
        ("Temperature on receipt", "5"),
        ("Total nucleated cells", "3.1"),
    ):
        driver.do(commands.RecordValue(batch_id, "receipt", name, value), "operator")
    driver.do(commands.CompleteStep(batch_id, "receipt", "operator", DEMO_PASSWORD), "operator")
    _refused(
        demo_app,
        batch_id,
        commands.VerifyStep(batch_id, "receipt", "operator", DEMO_PASSWORD),
        "operator",
        NotAllowed,
        "operator performed step 1 .* and cannot verify it: a second person must",
    )
    _refused(
        demo_app,
        batch_id,
        commands.VerifyStep(batch_id, "receipt", "operator2", "not the password"),
        "operator2",
        NotAllowed,
        "the password is wrong: nothing was signed",
    )
    _refused(
        demo_app,
        batch_id,
        commands.VerifyStep(batch_id, "receipt", "operator", DEMO_PASSWORD),
        "operator2",
        NotAllowed,
        "signer's own user name",
    )
    driver.do(commands.VerifyStep(batch_id, "receipt", "operator2", DEMO_PASSWORD), "operator2")
    assert _batch(demo_app, batch_id).step("receipt").verified is not None


def test_an_unsigned_entry_is_corrected_without_a_signature_but_a_wrong_password_is_refused(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.MANUFACTURING)
    batch_id = present(case.batch_id)
    driver.do(commands.StartStep(batch_id, "receipt", "Suite 1", ["BSC-1"]), "operator")
    driver.do(commands.RecordValue(batch_id, "receipt", "Temperature on receipt", "5"), "operator")
    entry = _batch(demo_app, batch_id).step("receipt").current("Temperature on receipt")
    assert entry is not None
    # The form asks for credentials only for signed steps; given anyway, they are checked.
    _refused(
        demo_app,
        batch_id,
        commands.CorrectValue(batch_id, entry.seq, "6", "misread the display", "operator", "x"),
        "operator",
        NotAllowed,
        "password is wrong",
    )
    driver.do(commands.CorrectValue(batch_id, entry.seq, "6", "misread the display"), "operator")
    current = _batch(demo_app, batch_id).step("receipt").current("Temperature on receipt")
    assert current is not None and current.value == 6.0 and current.corrects == entry.seq


def test_a_signed_step_cannot_be_edited_only_corrected_with_a_signed_second_checked_entry(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.MANUFACTURING)
    batch_id = present(case.batch_id)
    driver.run_steps(case, count=2)
    _refused(
        demo_app,
        batch_id,
        commands.RecordValue(batch_id, "selection", "Cell recovery", "75"),
        "operator",
        NotAllowed,
        "was signed by Demo Manufacturing Operator and is locked",
    )
    batch = _batch(demo_app, batch_id)
    entry = batch.step("selection").current("Cell recovery")
    assert entry is not None
    _refused(
        demo_app,
        batch_id,
        commands.CorrectValue(batch_id, entry.seq, "71", "transcription error", "operator", "x"),
        "operator",
        NotAllowed,
        "password is wrong",
    )
    driver.do(
        commands.CorrectValue(
            batch_id, entry.seq, "71", "transcription error", "operator", DEMO_PASSWORD
        ),
        "operator",
    )
    corrected = _batch(demo_app, batch_id).step("selection")
    assert [e.value for e in corrected.entries if e.parameter == "Cell recovery"] == [
        entry.value,
        71.0,
    ]
    _refused(
        demo_app,
        batch_id,
        commands.VerifyCorrection(batch_id, entry.seq + 0, "operator2", DEMO_PASSWORD),
        "operator2",
        InvalidInput,
        "was not a correction after signature",
    )


def test_an_out_of_limit_value_opens_a_deviation_and_an_open_critical_one_blocks_release(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.MANUFACTURING)
    batch_id = present(case.batch_id)
    driver.run_steps(case, count=1)
    driver.do(commands.StartStep(batch_id, "selection", "Suite 1", ["BSC-1"]), "operator")
    recorded = driver.do(
        commands.RecordValue(batch_id, "selection", "CD3+ purity after selection", "61"),
        "operator",
    )
    (deviation,) = recorded.deviations
    assert deviation.automatic and deviation.severity.value == "minor"
    assert "below the in-process limit ≥ 80%" in deviation.description
    driver.do(commands.InvestigateDeviation(batch_id, deviation.id), "qa")
    driver.do(
        commands.ClassifyDeviation(batch_id, deviation.id, "critical", "purity drives potency"),
        "qa",
    )
    driver.do(commands.RecordValue(batch_id, "selection", "Cell recovery", "70"), "operator")
    driver.do(commands.CompleteStep(batch_id, "selection", "operator", DEMO_PASSWORD), "operator")
    driver.run_steps(case)
    case = driver.finish_batch(case, driver.clock())
    driver.test_batch(case)
    _refused(
        demo_app,
        batch_id,
        commands.ReleaseBatch(batch_id, "qa", DEMO_PASSWORD),
        "qa",
        NotAllowed,
        f"cannot be released while 1 deviation.* {deviation.id} \\(critical",
    )
    _refused(
        demo_app,
        batch_id,
        commands.CloseDeviation(batch_id, deviation.id, "cause", "capa", "qa", "wrong"),
        "qa",
        NotAllowed,
        "password is wrong",
    )
    driver.do(
        commands.CloseDeviation(
            batch_id, deviation.id, "selection column lot", "lot quarantined", "qa", DEMO_PASSWORD
        ),
        "qa",
    )
    record = driver.do(commands.ReleaseBatch(batch_id, "qa", DEMO_PASSWORD), "qa")
    assert record.disposition is Disposition.RELEASED
    assert ledger.verify(demo_app.uow()).ok


def test_qa_signing_with_a_wrong_password_or_as_a_maker_is_refused(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.IN_QC)
    batch_id = present(case.batch_id)
    driver.test_batch(case)
    _refused(
        demo_app,
        batch_id,
        commands.ReleaseBatch(batch_id, "qa", "guess"),
        "qa",
        NotAllowed,
        "the password is wrong: nothing was signed",
    )
    _refused(
        demo_app,
        batch_id,
        commands.ReleaseBatch(batch_id, "operator", DEMO_PASSWORD),
        "operator",
        NotAllowed,
        "a manufacturing operator may not release",
    )
    _refused(
        demo_app,
        batch_id,
        commands.EnterResult(batch_id, "viability", "90"),
        "qc",
        NotAllowed,
        "already has a result",
    )


def test_a_batch_goes_through_oos_to_a_conditional_release_and_the_coa_marks_it(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.OUT_OF_SPECIFICATION)
    batch_id = present(case.release).batch_id
    driver.do(
        commands.CorrectResult(batch_id, "viability", "64.0", "recount of the same sample"), "qc"
    )
    driver.do(commands.OpenInvestigation(batch_id, "OOS-26-014", "low viability"), "qc")
    driver.do(
        commands.AcknowledgeResults(batch_id, "physician", DEMO_PASSWORD, "no alternative"),
        "physician",
    )
    driver.do(
        commands.ReleaseBatchConditionally(
            batch_id, "no alternative therapy; risk explained", "qa", DEMO_PASSWORD
        ),
        "qa",
    )
    with demo_app.uow() as uow:
        stored = uow.cases.get(case.id)
    assert stored is not None and stored.state is S.RELEASED
    assert present(stored.release).kind == "conditional"

    content = release.certificate(demo_app.uow(), batch_id, demo_app.user("qa"))
    pdf = render_coa(content)
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0]
        image = page.render(scale=2).to_pil().convert("L")
        words = " ".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()
    width, height = image.size
    assert abs(height / width - 297 / 210) < 0.01  # an A4 page
    inked = image.point(lambda v: 255 if v < 128 else 0).histogram()[255] / (width * height)
    assert 0.01 < inked < 0.5
    flat = " ".join(words.split())
    for expected in (
        "equecabtagene autoleucel",
        case.coi,
        batch_id,
        "Viability",
        "64.0",
        "recount of the same sample",
        "Demo QA Reviewer",
        "Demo Physician",
        "Demo Manufacturing Operator",
        "conditionally released",
    ):
        assert expected.lower() in flat.lower(), expected
    assert "†1" in flat or "† 1" in flat


def test_an_edited_batch_after_release_breaks_the_ledger(demo_app: App, driver: Driver) -> None:
    case = _at(driver, S.RELEASED)
    batch_id = present(case.release).batch_id
    with demo_app.engine.begin() as connection:
        connection.execute(
            text("UPDATE batches SET entry_count = entry_count + 1 WHERE id = :id"),
            {"id": batch_id},
        )
    report = ledger.verify(demo_app.uow())
    assert not report.ok
    assert f"batch {batch_id}" in report.breaks[0].message


# ------------------------------------------------------------------ release is one decision


def _standing(
    app: App, case_id: str, batch_id: str
) -> tuple[BatchStatus, Disposition, S, list[str], int]:
    with app.uow() as uow:
        batch = uow.batches.get(batch_id)
        record = uow.release_records.get(batch_id)
        case = uow.cases.get(case_id)
        shipments = [s.leg.value for s in uow.shipments.find(case_id=case_id)]
        tip = uow.ledger.last()
    assert batch is not None and record is not None and case is not None and tip is not None
    return batch.status, record.disposition, case.state, shipments, tip.seq


def test_a_qa_release_moves_the_batch_the_case_and_the_shipment_in_one_transaction(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.IN_QC)
    driver.test_batch(case)
    batch_id = present(case.batch_id)
    status, disposition, state, legs, tip = _standing(demo_app, case.id, batch_id)
    assert (state, disposition, legs) == (S.IN_QC, Disposition.READY_FOR_RELEASE, ["apheresis"])

    demo_app.bus.handle(
        commands.ReleaseBatch(batch_id, "qa", DEMO_PASSWORD), actor=demo_app.user("qa")
    )

    status, disposition, state, legs, new_tip = _standing(demo_app, case.id, batch_id)
    assert (status, disposition, state) == (
        BatchStatus.RELEASED,
        Disposition.RELEASED,
        S.RELEASED,
    )
    assert legs == ["apheresis", "product"]
    with demo_app.uow() as uow:
        actions = [e.action for e in uow.ledger.entries() if e.seq > tip]
    # One decision, written in one go: the record, the batch, then what follows from it.
    assert actions == [
        "release_record.released",
        "batch.released",
        "case.release",
        "shipment.created",
    ]
    assert new_tip == tip + 4


def test_when_the_case_cannot_follow_the_release_nothing_is_released(
    demo_app: App, driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from veinline.services import journey

    case = _at(driver, S.IN_QC)
    driver.test_batch(case)
    batch_id = present(case.batch_id)
    before = _standing(demo_app, case.id, batch_id)

    def no_shipper(*args: object, **kwargs: object) -> None:
        raise NotAllowed("no shipper is free")

    monkeypatch.setattr(journey, "ship_product", no_shipper)
    with pytest.raises(NotAllowed, match="no shipper is free"):
        demo_app.bus.handle(
            commands.ReleaseProduct(case.id, "qa", DEMO_PASSWORD), actor=demo_app.user("qa")
        )
    assert _standing(demo_app, case.id, batch_id) == before
