"""The autologous journey through the message bus on SQLite and PostgreSQL: every step
stored and in the ledger, every refusal leaving the database as it was."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import FixedClock
from tests.fakes import present
from veinline.adapters.seed.cases import (
    DEMO_PASSWORD,
    DEMO_STATES,
    EQUE_CEL_HK,
    HAPPY_PATH,
    Driver,
    barcode,
    load_demo_cases,
)
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState, local_date
from veinline.domain.custody import IdentityMismatch
from veinline.domain.errors import DomainError, InvalidInput, NotAllowed
from veinline.domain.infusion import InfusionRefused
from veinline.domain.ledger import content_hash
from veinline.domain.release import release_content
from veinline.domain.shipment import Leg, Shipment, ShipmentStatus
from veinline.services import commands, ledger

S = CaseState


@pytest.fixture
def driver(demo_app: App, clock: FixedClock) -> Driver:
    return Driver(demo_app.bus, demo_app.user, clock)


def _at(driver: Driver, state: CaseState, wristband: str = "WB-0001") -> Case:
    case = driver.enrol(EQUE_CEL_HK, patient_name="Chan Tai Man", wristband=wristband)
    return driver.advance(case, EQUE_CEL_HK, state)


def _case(app: App, case_id: str) -> Case:
    with app.uow() as uow:
        case = uow.cases.get(case_id)
    assert case is not None
    return case


def _shipment(app: App, case_id: str, leg: Leg) -> Shipment:
    with app.uow() as uow:
        found = uow.shipments.find(case_id=case_id, leg=leg)
    assert found, f"case {case_id} has no {leg} shipment"
    return found[-1]


def _sequences(app: App) -> list[tuple[Any, ...]]:
    with app.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, fin, year, last_value FROM identifier_sequences ORDER BY 1, 2, 3")
        )
        return [tuple(row) for row in rows]


def _footprint(app: App, case_id: str) -> dict[str, Any]:
    """What a refused command about this case must leave exactly as it was (a wrong
    signature password is ledgered apart, against the signer's sign-in guard)."""
    # Read apart from the unit of work: on SQLite it holds the write lock.
    sequences = _sequences(app)
    with app.uow() as uow:
        case = uow.cases.get(case_id)
        return {
            "case": case.snapshot() if case else None,
            "ledger_head": sum(
                1 for e in uow.ledger.entries() if not e.action.startswith("sign_in.")
            ),
            "identifiers": sorted(i.value for i in uow.identifiers.list()),
            "shipments": [s.snapshot() for s in uow.shipments.find(case_id=case_id)],
            "events": [e.snapshot() for e in uow.custody_events.find(case_id=case_id)],
            "incidents": sorted(i.id for i in uow.incidents.find(case_id=case_id)),
            "sequences": sequences,
        }


def _refused(
    app: App,
    case_id: str,
    cmd: commands.Command,
    as_user: str,
    error: type[DomainError],
    message: str,
) -> DomainError:
    before = _footprint(app, case_id)
    with pytest.raises(error, match=message) as refused:
        app.bus.handle(cmd, actor=app.user(as_user))
    assert _footprint(app, case_id) == before, f"{type(cmd).__name__} left a trace"
    return refused.value


def _verified(app: App) -> None:
    report = ledger.verify(app.uow())
    assert report.ok, report.breaks


# ---------------------------------------------------------------- the whole journey


def test_a_case_goes_from_enrolment_to_follow_up_and_the_ledger_verifies(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.FOLLOW_UP)
    stored = _case(demo_app, case.id)
    assert (stored.state, stored.version) == (S.FOLLOW_UP, len(HAPPY_PATH))
    assert (present(stored.infusion).bag_din, present(stored.infusion).bag_coi) == (
        stored.current_din,
        stored.coi,
    )
    _verified(demo_app)

    history = ledger.history(demo_app.uow(), f"case/{case.id}")
    assert [(e.action, e.actor, e.actor_name) for e in history] == [
        ("case.enrolled", "coordinator", "Demo Coordinator"),
        ("case.confirm_eligibility", "physician", "Demo Physician"),
        ("case.book_apheresis", "coordinator", "Demo Coordinator"),
        ("case.collect", "nurse", "Demo Apheresis Nurse"),
        ("case.receive_at_manufacturing", "operator", "Demo Manufacturing Operator"),
        ("case.start_manufacturing", "operator", "Demo Manufacturing Operator"),
        ("case.complete_manufacturing", "operator", "Demo Manufacturing Operator"),
        ("case.release", "qa", "Demo QA Reviewer"),
        ("case.ship", "courier", "Demo Courier"),
        ("case.receive_at_site", "coordinator", "Demo Coordinator"),
        ("case.infuse", "physician", "Demo Physician"),
        ("case.start_follow_up", "physician", "Demo Physician"),
    ]
    moves = [e for e in history if not e.action.startswith("signature.")]
    assert [e.after["state"] for e in moves if e.after] == [s.value for s in HAPPY_PATH]
    assert [e.before["state"] for e in moves[1:] if e.before] == [s.value for s in HAPPY_PATH[:-1]]
    assert [e.seq for e in history] == sorted(e.seq for e in history)

    with demo_app.uow() as uow:
        points = [e.point.value for e in uow.custody_events.find(case_id=case.id)]
        legs = [(s.leg, s.status) for s in uow.shipments.find(case_id=case.id)]
    assert points == [
        "apheresis_pickup",
        "manufacturing_receipt",
        "product_pickup",
        "site_receipt",
        "bedside",
    ]
    assert legs == [
        (Leg.APHERESIS, ShipmentStatus.RECEIVED),
        (Leg.PRODUCT, ShipmentStatus.RECEIVED),
    ]


# ---------------------------------------------------------------- refusals


def test_refused_transitions_say_why_and_leave_the_database_as_it_was(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.IN_QC)
    refusals: list[tuple[commands.Command, str, type[DomainError], str]] = [
        (
            commands.ReleaseProduct(case.id, "nurse", DEMO_PASSWORD),
            "nurse",
            NotAllowed,
            "apheresis nurse may not release",
        ),
        (
            commands.ConfirmEligibility(case.id),
            "courier",
            NotAllowed,
            "a courier may not confirm eligibility",
        ),
        # The DIN is drawn before the state is checked: both must roll back.
        (
            commands.Collect(case.id, driver.clock().isoformat(), 150.0),
            "nurse",
            NotAllowed,
            "is in qc: it cannot be collected now",
        ),
        (
            commands.StartFollowUp(case.id),
            "physician",
            NotAllowed,
            "is in qc: it cannot be moved to follow-up now",
        ),
        (
            commands.CancelCase(case.id, "  "),
            "coordinator",
            InvalidInput,
            "a cancellation needs a reason",
        ),
        (
            commands.ReleaseProduct(case.id, "qa", "not the password"),
            "qa",
            NotAllowed,
            "the password is wrong: nothing was signed",
        ),
        (
            commands.ReleaseProduct(case.id, "admin", DEMO_PASSWORD),
            "qa",
            NotAllowed,
            "signer's own user name",
        ),
    ]
    for cmd, as_user, error, message in refusals:
        _refused(demo_app, case.id, cmd, as_user, error, message)
    assert _case(demo_app, case.id).state is S.IN_QC
    _verified(demo_app)


def test_collect_before_booking_and_release_before_qc_are_refused(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.ELIGIBLE)
    now = driver.clock().isoformat()
    _refused(
        demo_app,
        case.id,
        commands.Collect(case.id, now, 150.0),
        "nurse",
        NotAllowed,
        "has no apheresis booking",
    )
    _refused(
        demo_app,
        case.id,
        commands.ReleaseProduct(case.id, "qa", DEMO_PASSWORD),
        "qa",
        NotAllowed,
        # Before its booking the case is at no facility: no facility's QA may release it.
        r"case C\d{4}-\d{5} is not at a manufacturing facility yet: nobody there may release",
    )
    cancelled = driver.do(commands.CancelCase(case.id, "patient withdrew"), "coordinator")
    assert cancelled.cancellation["from_state"] == "eligible"
    _refused(
        demo_app,
        case.id,
        commands.CancelCase(case.id, "again"),
        "coordinator",
        NotAllowed,
        "is cancelled: it cannot be cancelled now",
    )


def test_enrolment_is_refused_without_consent_when_ineligible_or_for_an_msc(
    demo_app: App, driver: Driver
) -> None:
    def enrol(**overrides: Any) -> commands.EnrolPatient:
        fields: dict[str, Any] = {
            "product_code": "eque-cel",
            "jurisdiction": "HK",
            "treatment_site": "demo-hk-treatment",
            "patient_name": "Wong Ka Yan",
            "wristband_id": "WB-0077",
            "treating_physician": "physician",
            "consent_given": True,
            "consent_date": "2026-03-01",
            "patient_facts": dict(EQUE_CEL_HK.facts),
        }
        return commands.EnrolPatient(**{**fields, **overrides})

    attempts: list[tuple[commands.EnrolPatient, str]] = [
        (enrol(consent_given=False), "informed consent must be recorded"),
        (
            enrol(patient_facts={**EQUE_CEL_HK.facts, "age_years": 15}),
            "the patient is not eligible: ",
        ),
        (
            enrol(
                product_code="amimestrocel",
                jurisdiction="CN",
                patient_facts={"age_years": 40, "diagnosis": "acute_gvhd"},
            ),
            "off-the-shelf product",
        ),
    ]
    before = _footprint(demo_app, "C2026-00001")
    for cmd, message in attempts:
        with pytest.raises(InvalidInput, match=message):
            driver.do(cmd, "coordinator")
    assert _footprint(demo_app, "C2026-00001") == before
    with demo_app.uow() as uow:
        assert uow.cases.list() == []

    facts = {k: v for k, v in EQUE_CEL_HK.facts.items() if k != "prior_lines"}
    undetermined: Case = driver.do(enrol(patient_facts=facts), "coordinator")
    assert undetermined.eligibility["eligible"] is None
    _refused(
        demo_app,
        undetermined.id,
        commands.ConfirmEligibility(undetermined.id),
        "physician",
        NotAllowed,
        "eligibility is undetermined: number of prior lines not given",
    )


# ---------------------------------------------------------------- custody


def test_wrong_scans_at_a_hand_off_are_kept_as_incidents_and_change_nothing_else(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.COLLECTED)
    driver.do(commands.ScanCustody(case.id, "apheresis_pickup", barcode(case)), "courier")
    assert case.current_din is not None
    wrong = [
        f"={case.current_din[:-1]}9" + f"00&/{case.coi}",
        f"={case.current_din}00&/{case.coi[:-1]}9",
        "garbage that is not ISBT 128",
    ]
    before = _footprint(demo_app, case.id)
    for scanned in wrong:
        with pytest.raises(IdentityMismatch):
            driver.do(commands.ScanCustody(case.id, "manufacturing_receipt", scanned), "operator")
    after = _footprint(demo_app, case.id)
    for unchanged in ("case", "shipments", "events", "identifiers", "sequences"):
        assert after[unchanged] == before[unchanged], unchanged
    assert after["incidents"] == [f"{case.id}-X00{n}" for n in (1, 2, 3)]
    assert after["ledger_head"] == before["ledger_head"] + 3
    with demo_app.uow() as uow:
        incidents = uow.incidents.find(case_id=case.id)
        actions = [e.action for e in uow.ledger.recent(3)]
        assert sorted(i.scan_data for i in incidents) == sorted(wrong)
        assert {(i.point, i.actor) for i in incidents} == {("manufacturing_receipt", "operator")}
    assert actions == ["custody.identity_incident"] * 3
    assert _shipment(demo_app, case.id, Leg.APHERESIS).status is ShipmentStatus.IN_TRANSIT

    _refused(
        demo_app,
        case.id,
        commands.ScanCustody(case.id, "site_receipt", barcode(case)),
        "coordinator",
        NotAllowed,
        "'Received at the treatment centre' happens when it is shipped",
    )
    driver.do(commands.ScanCustody(case.id, "manufacturing_receipt", barcode(case)), "operator")
    assert _case(demo_app, case.id).state is S.AT_MANUFACTURING
    _verified(demo_app)


# ---------------------------------------------------------------- cold chain

EXCURSION_CSV = """timestamp,temperature_c
2026-03-02T07:30:00Z,5.0
2026-03-02T07:45:00Z,8.6
2026-03-02T08:00:00Z,5.4
"""


def _logged_excursion(demo_app: App, driver: Driver) -> tuple[Case, Shipment]:
    case = _at(driver, S.COLLECTED)
    driver.do(commands.ScanCustody(case.id, "apheresis_pickup", barcode(case)), "courier")
    shipment = _shipment(demo_app, case.id, Leg.APHERESIS)
    logged: Shipment = driver.do(commands.ImportLoggerData(shipment.id, EXCURSION_CSV), "courier")
    assert [(e["direction"], e["extreme_c"]) for e in logged.excursions] == [("high", 8.6)]
    return case, logged


def test_an_excursion_blocks_manufacturing_receipt_until_qa_accepts_it(
    demo_app: App, driver: Driver
) -> None:
    case, shipment = _logged_excursion(demo_app, driver)
    receipt = commands.ScanCustody(case.id, "manufacturing_receipt", barcode(case))
    _refused(
        demo_app, case.id, receipt, "operator", NotAllowed, "receipt waits for QA's disposition"
    )
    _refused(
        demo_app,
        case.id,
        commands.DisposeExcursion(shipment.id, "accept", "fine by me"),
        "operator",
        NotAllowed,
        "only QA disposes",
    )
    driver.do(
        commands.DisposeExcursion(
            shipment.id, "accept", "15 min at 8.6 °C: in stability", "qa", DEMO_PASSWORD
        ),
        "qa",
    )
    driver.do(receipt, "operator")
    assert _case(demo_app, case.id).state is S.AT_MANUFACTURING
    stored = _shipment(demo_app, case.id, Leg.APHERESIS)
    assert stored.status is ShipmentStatus.RECEIVED
    assert stored.disposition is not None and stored.disposition["by"] == "qa"
    assert len(stored.readings) == 3
    _verified(demo_app)


def test_after_qa_rejects_an_excursion_the_material_is_not_received(
    demo_app: App, driver: Driver
) -> None:
    case, shipment = _logged_excursion(demo_app, driver)
    driver.do(
        commands.DisposeExcursion(shipment.id, "reject", "above 8 °C", "qa", DEMO_PASSWORD), "qa"
    )
    _refused(
        demo_app,
        case.id,
        commands.ScanCustody(case.id, "manufacturing_receipt", barcode(case)),
        "operator",
        NotAllowed,
        "QA rejected shipment",
    )
    _verified(demo_app)


def test_the_cryopreserved_product_ships_at_the_products_own_storage_limit(
    demo_app: App, driver: Driver
) -> None:
    driver.do(
        commands.SetProductField("eque-cel", "storage_max_c", "-135", "label says -135 °C"),
        "admin",
    )
    case = _at(driver, S.RELEASED)
    product = _shipment(demo_app, case.id, Leg.PRODUCT)
    assert (product.shipper_type.value, product.low_c, product.high_c) == (
        "ln2_vapour",
        None,
        -135.0,
    )
    apheresis = _shipment(demo_app, case.id, Leg.APHERESIS)
    assert (apheresis.low_c, apheresis.high_c) == (2.0, 8.0)


# ---------------------------------------------------------------- release and signatures


def test_release_is_a_signature_meaning_released_over_the_batch_record_and_results(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.RELEASED)
    stored = _case(demo_app, case.id)
    batch_id = present(stored.release).batch_id
    entries = ledger.history(demo_app.uow(), f"release_record/{batch_id}")
    signed = [e for e in entries if e.signature_meaning]
    assert [(e.action, e.signature_meaning, e.actor) for e in signed] == [
        ("release_record.released", "released", "qa")
    ]
    with demo_app.uow() as uow:
        record = uow.release_records.get(batch_id)
        batch = uow.batches.get(batch_id)
    assert record is not None and batch is not None
    assert signed[0].signed_hash == content_hash(record.snapshot())
    assert record.decision is not None and record.decision.printed_name == "Demo QA Reviewer"
    assert record.decision.covers(release_content(batch, record))
    assert record.decision_is_intact(batch)
    assert present(stored.release).kind == "full" and present(stored.release).by == "qa"
    assert ledger.history(demo_app.uow(), f"case/{case.id}")[-1].action == "case.release"


# ---------------------------------------------------------------- out of specification


def test_a_conditional_release_needs_an_investigation_the_physicians_signature_and_a_reason(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.OUT_OF_SPECIFICATION)
    batch_id = present(case.release).batch_id
    assert present(case.release).kind == "out_of_specification"
    assert "Viability 62" in present(present(case.release).reason)

    def conditional(**overrides: str) -> commands.ConditionalRelease:
        fields: dict[str, Any] = {
            "justification": "no alternative therapy; risk discussed",
            "username": "qa",
            "password": DEMO_PASSWORD,
        }
        return commands.ConditionalRelease(case.id, **{**fields, **overrides})

    _refused(demo_app, case.id, conditional(), "qa", NotAllowed, "open an OOS investigation first")
    driver.do(commands.OpenInvestigation(batch_id, "OOS-26-001", "viability low"), "qc")
    _refused(demo_app, case.id, conditional(), "qa", NotAllowed, "physician must acknowledge")
    _refused(
        demo_app,
        case.id,
        commands.AcknowledgeResults(batch_id, "coordinator", DEMO_PASSWORD),
        "coordinator",
        NotAllowed,
        "coordinator may not acknowledge",
    )
    _refused(
        demo_app,
        case.id,
        commands.AcknowledgeResults(batch_id, "physician", "guess"),
        "physician",
        NotAllowed,
        "password is wrong",
    )
    driver.do(
        commands.AcknowledgeResults(batch_id, "physician", DEMO_PASSWORD, "risk accepted"),
        "physician",
    )
    for cmd, error, message in [
        (conditional(justification=" "), InvalidInput, "documented justification"),
        (conditional(password="guess"), NotAllowed, "password is wrong"),
    ]:
        _refused(demo_app, case.id, cmd, "qa", error, message)
    released: Case = driver.do(conditional(), "qa")
    stored = _case(demo_app, case.id)
    assert stored.state is S.RELEASED and released.state is S.RELEASED
    assert present(stored.release).kind == "conditional"
    assert present(stored.release).acknowledged_by == "physician"
    assert present(stored.release).justification == "no alternative therapy; risk discussed"
    signed = [
        e.signature_meaning
        for e in ledger.history(demo_app.uow(), f"release_record/{batch_id}")
        if e.signature_meaning
    ]
    assert signed == ["acknowledged", "released"]
    _verified(demo_app)


def test_a_recollection_returns_to_eligible_and_the_second_bag_gets_a_new_din(
    demo_app: App, driver: Driver
) -> None:
    case = _at(driver, S.OUT_OF_SPECIFICATION)
    first = case.current_din
    _refused(
        demo_app,
        case.id,
        commands.Recollect(case.id, "viability low"),
        "qa",
        NotAllowed,
        "a QA reviewer may not recollect",
    )
    batch_id = present(case.release).batch_id
    _refused(
        demo_app,
        case.id,
        commands.Recollect(case.id, "viability low"),
        "coordinator",
        NotAllowed,
        f"batch {batch_id} is .*: QA rejects it before",
    )
    driver.do(commands.OpenInvestigation(batch_id, "OOS-26-002", "viability low"), "qc")
    driver.do(commands.RejectBatch(batch_id, "viability low", "qa", DEMO_PASSWORD), "qa")
    back: Case = driver.do(commands.Recollect(case.id, "viability low"), "coordinator")
    assert back.state is S.ELIGIBLE
    again = driver.advance(back, EQUE_CEL_HK, S.COLLECTED)
    stored = _case(demo_app, case.id)
    assert [c.din for c in stored.collections] == [first, again.current_din]
    assert again.current_din != first
    with pytest.raises(IdentityMismatch, match=f"DIN {first} does not belong"):
        driver.do(
            commands.ScanCustody(case.id, "apheresis_pickup", f"={first}00&/{case.coi}"),
            "courier",
        )
    driver.advance(_case(demo_app, case.id), EQUE_CEL_HK, S.FOLLOW_UP)
    with demo_app.uow() as uow:
        batches = [(b.id, b.status.value, b.din) for b in uow.batches.find(case_id=case.id)]
    assert batches == [
        (batch_id, "rejected", first),
        (f"{batch_id}-2", "released", again.current_din),
    ]
    _verified(demo_app)


# ---------------------------------------------------------------- the bedside


def test_the_bedside_refuses_what_is_unsafe_and_records_a_physicians_override(
    demo_app: App, driver: Driver, clock: FixedClock
) -> None:
    case = _at(driver, S.RECEIVED_AT_SITE)
    now = clock()

    def infuse(
        wristband: str = case.wristband_id,
        bag: str = barcode(case),
        thawed: int = 40,
        started: int = 20,
        dose: float = 68e6,
        override: str = "",
    ) -> commands.Infuse:
        return commands.Infuse(
            case.id,
            wristband,
            bag,
            (now - timedelta(minutes=thawed)).isoformat(),
            (now - timedelta(minutes=started)).isoformat(),
            68.0,
            dose,
            override_reason=override,
        )

    with pytest.raises(IdentityMismatch, match="the scanned wristband is not the patient"):
        driver.do(infuse(wristband="WB-0999"), "nurse")
    with pytest.raises(IdentityMismatch, match="chain-of-identity identifier is missing"):
        driver.do(infuse(bag=f"={case.current_din}00"), "nurse")
    with demo_app.uow() as uow:
        incidents = [(i.point, i.actor) for i in uow.incidents.find(case_id=case.id)]
    assert incidents == [("bedside", "nurse"), ("bedside", "nurse")]

    late = infuse(thawed=125, started=5)
    _refused(demo_app, case.id, late, "nurse", InfusionRefused, "within 90 minutes")
    _refused(
        demo_app,
        case.id,
        infuse(thawed=125, started=5, override="ward was busy"),
        "nurse",
        InfusionRefused,
        "only a physician may override",
    )
    _refused(demo_app, case.id, infuse(dose=95e6), "physician", InfusionRefused, "outside")
    assert _case(demo_app, case.id).state is S.RECEIVED_AT_SITE

    driver.do(
        infuse(thawed=125, started=5, override="pump failure; product inspected"), "physician"
    )
    stored = _case(demo_app, case.id)
    assert stored.state is S.INFUSED
    assert [f.check for f in present(stored.infusion).flags] == ["post_thaw_window"]
    assert present(stored.infusion).override_reason == "pump failure; product inspected"
    assert present(stored.infusion).minutes_after_thaw == 120.0
    _refused(
        demo_app,
        case.id,
        commands.CancelCase(case.id, "adverse event"),
        "physician",
        NotAllowed,
        "is infused: it cannot be cancelled now",
    )
    _verified(demo_app)


# ---------------------------------------------------------------- concurrency and demo data


def test_concurrent_enrolments_never_share_a_case_id_or_a_chain_of_identity(
    demo_app: App,
) -> None:
    coordinator = demo_app.user("coordinator")
    barrier = threading.Barrier(6)

    def enrol(n: int) -> tuple[str, str]:
        cmd = commands.EnrolPatient(
            product_code="eque-cel",
            jurisdiction="HK",
            treatment_site="demo-hk-treatment",
            patient_name=f"Patient {n}",
            wristband_id=f"WB-{n:04d}",
            treating_physician="physician",
            consent_given=True,
            consent_date="2026-03-01",
            patient_facts=dict(EQUE_CEL_HK.facts),
        )
        barrier.wait()
        case: Case = demo_app.bus.handle(cmd, actor=coordinator)
        return case.id, case.coi

    with ThreadPoolExecutor(max_workers=6) as pool:
        made = list(pool.map(enrol, range(6)))
    assert sorted(case_id for case_id, _ in made) == [f"C2026-{n:05d}" for n in range(1, 7)]
    assert sorted(coi for _, coi in made) == [f"CHA999026{n:06d}" for n in range(1, 7)]
    with demo_app.uow() as uow:
        stored = {(c.id, c.coi) for c in uow.cases.list()}
    assert stored == set(made)
    _verified(demo_app)


def test_the_demo_cases_stand_in_every_state_once_and_load_only_once(
    demo_app: App, driver: Driver
) -> None:
    assert load_demo_cases(driver) == len(CaseState)
    with demo_app.uow() as uow:
        states = sorted(c.state.value for c in uow.cases.list())
    assert states == sorted(s.value for s in CaseState)
    assert sorted(DEMO_STATES) == sorted(CaseState)
    head = _footprint(demo_app, "DEMO-01")["ledger_head"]
    assert load_demo_cases(driver) == 0
    assert _footprint(demo_app, "DEMO-01")["ledger_head"] == head
    _verified(demo_app)


def test_two_scans_of_one_case_at_once_are_both_kept_in_order(demo_app: App) -> None:
    driver = Driver(demo_app.bus, demo_app.user, demo_app.clock)
    case = driver.advance(
        driver.enrol(EQUE_CEL_HK, patient_name="Twice", wristband="WB-2"),
        EQUE_CEL_HK,
        CaseState.COLLECTED,
    )
    barrier = threading.Barrier(2)

    def scan(_: int) -> str:
        barrier.wait()
        event = demo_app.bus.handle(
            commands.ScanCustody(case.id, "collection", barcode(case)), actor=demo_app.user("nurse")
        )
        return str(event.id)

    with ThreadPoolExecutor(max_workers=2) as pool:
        ids = sorted(pool.map(scan, range(2)))
    assert ids == [f"{case.id}-E001", f"{case.id}-E002"]
    assert ledger.verify(demo_app.uow()).ok


def test_the_demo_tells_one_coherent_story_of_dates_and_places(
    demo_app: App, driver: Driver
) -> None:
    load_demo_cases(driver)
    now = demo_app.clock()
    with demo_app.uow() as uow:
        cases = uow.cases.list()
        zones = {s.code: s.timezone for s in uow.sites.list()}
        events = {c.id: uow.custody_events.find(case_id=c.id) for c in cases}
    expected = {
        "apheresis_pickup": "apheresis_site",
        "manufacturing_receipt": "manufacturing_site",
        "product_pickup": "manufacturing_site",
        "site_receipt": "treatment_site",
    }
    checked = 0
    for case in cases:
        for collection in case.collections:
            assert case.apheresis_site is not None and case.apheresis_date is not None
            collected_on = local_date(collection.collected_at, zones[case.apheresis_site])
            # No apheresis date after the collection it booked, none in the future once done.
            assert case.apheresis_date <= collected_on.isoformat(), case.id
            assert collection.collected_at <= now
            assert collection.site == case.apheresis_site
        for event in events[case.id]:
            wanted = expected.get(event.point.value)
            if wanted is not None:
                assert event.site_code == getattr(case, wanted), (case.id, event.point)
                checked += 1
            assert event.at <= now
    assert checked >= 20  # every hand-off of the demo's cases, not a vacuous pass
