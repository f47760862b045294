"""The case state table, custody, cold chain and bedside rules, and the journey handlers
on an in-memory unit of work: what is allowed, what is refused, and that a refusal
changes nothing."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from tests.conftest import FixedClock
from tests.fakes import FakeLedger, FakeSequences, FakeUnitOfWork, present, release_panels
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import (
    DEMO_PASSWORD,
    EQUE_CEL_HK,
    HAPPY_PATH,
    ZEVOR_CEL_US,
    Driver,
    Route,
    barcode,
)
from veinline.domain import coldchain, custody, infusion
from veinline.domain.case import (
    BEFORE_INFUSION,
    STATE_STYLE,
    TRANSITIONS,
    Action,
    Case,
    CaseState,
)
from veinline.domain.case_parts import Collection, ReleaseKind, ReleaseOutcome
from veinline.domain.coldchain import Reading, ShipperType
from veinline.domain.errors import DomainError, InvalidInput, NotAllowed
from veinline.domain.infusion import InfusionRefused
from veinline.domain.ledger import content_hash
from veinline.domain.shipment import Leg, Shipment, ShipmentStatus
from veinline.domain.user import Role, User
from veinline.services import authority, commands, handlers, ledger
from veinline.services.messagebus import MessageBus

S = CaseState
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

# =============================================================== the pure domain


def _user(role: Role, name: str | None = None, site: str | None = None) -> User:
    return User(name or role.value, f"A {role.label}", role, site, T0)


def _case(state: CaseState = S.ENROLLED, **fields: Any) -> Case:
    values: dict[str, Any] = {
        "id": "C2026-00001",
        "product_code": "eque-cel",
        "jurisdiction": "HK",
        "treatment_site": "demo-hk-treatment",
        "patient_name": "Chan Tai Man",
        "wristband_id": "WB-0001",
        "treating_physician": "physician",
        "coi": "CHA999026000001",
        "enrolled_at": T0,
        "enrolled_by": "coordinator",
        "consent": {"given": True},
        "eligibility": {"eligible": True},
        "patient_facts": {},
        "state": state,
        "collections": [
            Collection(
                din="A999126000001",
                check_character=None,
                collected_at=T0,
                site="demo-hk-apheresis",
                by="nurse",
            )
        ],
    }
    values.update(fields)
    return Case(**values)


DIN = "=A99912600000100"
COI = "&/CHA999026000001"
OTHER_DIN = "=A99912600000200"
OTHER_COI = "&/CHA999026000002"


def test_every_state_has_a_label_and_a_colour_declared_once() -> None:
    assert set(STATE_STYLE) == set(CaseState)
    assert S.OUT_OF_SPECIFICATION.label == "Out of specification"
    assert all(state.colour.startswith("#") for state in CaseState)


def test_the_table_has_an_arrow_for_every_step_of_the_happy_path() -> None:
    arrows = {(source, t.target) for t in TRANSITIONS.values() for source in t.sources}
    for before, after in pairwise(HAPPY_PATH):
        assert (before, after) in arrows, f"no arrow {before} -> {after}"
    assert (S.IN_QC, S.OUT_OF_SPECIFICATION) in arrows
    assert (S.OUT_OF_SPECIFICATION, S.RELEASED) in arrows
    assert (S.OUT_OF_SPECIFICATION, S.ELIGIBLE) in arrows


def test_a_case_may_be_cancelled_from_every_state_before_infusion_and_no_other() -> None:
    cancel = TRANSITIONS[Action.CANCEL]
    assert cancel.sources == BEFORE_INFUSION
    assert {S.INFUSED, S.FOLLOW_UP, S.CANCELLED}.isdisjoint(cancel.sources)
    assert S.RECEIVED_AT_SITE in cancel.sources


def test_firing_moves_the_case_and_bumps_its_version() -> None:
    case = _case(S.ENROLLED)
    case.fire(Action.CONFIRM_ELIGIBILITY, weight_kg=70.0)
    assert (case.state, case.version, case.weight_kg) == (S.ELIGIBLE, 2, 70.0)


def test_the_wrong_role_is_refused_in_words_a_coordinator_understands() -> None:
    command = commands.ConfirmEligibility("C2026-00001")
    with pytest.raises(NotAllowed, match=r"a courier may not confirm eligibility \(case C2026"):
        authority.check(_user(Role.COURIER), command)
    authority.check(_user(Role.PHYSICIAN), command)


def test_the_wrong_state_is_refused_and_the_changes_are_not_applied() -> None:
    case = _case(S.MANUFACTURING)
    before = case.snapshot()
    with pytest.raises(NotAllowed, match="is manufacturing: it cannot be released now"):
        case.fire(Action.RELEASE, release=ReleaseOutcome(ReleaseKind.FULL, "B-1"))
    assert case.snapshot() == before


def test_a_refusal_names_the_role_with_the_right_article() -> None:
    nurse = _user(Role.APHERESIS_NURSE)
    with pytest.raises(NotAllowed, match=r"^an apheresis nurse may not release"):
        authority.check(nurse, commands.ReleaseProduct("C2026-00001", "nurse", "x"))
    with pytest.raises(NotAllowed, match=r"^an apheresis nurse does not scan"):
        authority.check(nurse, custody.CustodyPoint.APHERESIS_PICKUP)


def test_an_administrator_takes_no_arrow_of_a_patients_case() -> None:
    # Administrators manage users, sites and the catalogue; they act on no patient.
    admin = _user(Role.ADMIN)
    case = _case(S.ELIGIBLE)
    for subjects in authority.CASE_ACTIONS.values():
        assert not any(authority.may(admin, s) for s in subjects)
    assert authority.case_actions(admin, case) == []


def test_offered_actions_are_what_this_role_may_do_in_this_state_at_this_site() -> None:
    case = _case(S.IN_QC, manufacturing_site="demo-suzhou-manufacturing")
    qa = _user(Role.QA_REVIEWER, site="demo-suzhou-manufacturing")
    assert authority.case_actions(qa, case) == [Action.RELEASE, Action.FAIL_SPECIFICATION]
    # QA of another facility is offered nothing on this case.
    assert authority.case_actions(_user(Role.QA_REVIEWER, site="carsgen-rtp"), case) == []
    coordinator = _user(Role.COORDINATOR, site="demo-hk-treatment")
    assert authority.case_actions(coordinator, case) == [Action.CANCEL]
    assert authority.case_actions(_user(Role.COORDINATOR, site="demo-nc-treatment"), case) == []
    assert authority.case_actions(_user(Role.COURIER, site="demo-hk-treatment"), case) == []
    qa.active = False
    assert authority.case_actions(qa, case) == []


def test_manufacturing_qc_and_couriers_see_the_identifier_never_the_name() -> None:
    case = _case()
    for role in (Role.MANUFACTURING_OPERATOR, Role.QC_ANALYST, Role.COURIER):
        full = authority.sees(_user(role)) is authority.DataClass.FULL
        assert case.patient_label(full_data=full) == "CHA999026000001"
    full = authority.sees(_user(Role.COORDINATOR)) is authority.DataClass.FULL
    assert "Chan Tai Man" in case.patient_label(full_data=full)


# ---------------------------------------------------------------- custody scans


def test_a_scan_with_the_cases_din_and_coi_matches() -> None:
    result = custody.check_scan(_case(S.COLLECTED), DIN + COI, require_both=True)
    assert result.to_dict() == {"din": "A999126000001", "coi": "CHA999026000001"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (OTHER_DIN + COI, "DIN A999126000002 does not belong to case C2026-00001"),
        (DIN + OTHER_COI, "identifier CHA999026000002 does not belong to case C2026-00001"),
        (OTHER_DIN, "DIN A999126000002 does not belong"),
        ("hello world", "could not be read as ISBT 128"),
        ("", "could not be read as ISBT 128"),
        ("=<S1295V00", "neither a DIN nor a chain-of-identity identifier"),
    ],
    ids=["wrong-din", "wrong-coi", "only-a-wrong-din", "garbage", "empty", "no-identifier"],
)
def test_a_scan_that_does_not_match_the_case_is_an_identity_mismatch(
    data: str, message: str
) -> None:
    with pytest.raises(custody.IdentityMismatch, match=message):
        custody.check_scan(_case(S.COLLECTED), data)


def test_the_bedside_needs_both_identifiers_on_the_bag() -> None:
    with pytest.raises(custody.IdentityMismatch, match="chain-of-identity identifier is missing"):
        custody.check_scan(_case(S.RECEIVED_AT_SITE), DIN, require_both=True)
    with pytest.raises(custody.IdentityMismatch, match="the DIN is missing"):
        custody.check_scan(_case(S.RECEIVED_AT_SITE), COI, require_both=True)


def test_a_scan_point_belongs_to_the_states_of_its_action_and_its_roles() -> None:
    point = custody.CustodyPoint.PRODUCT_PICKUP
    assert custody.guard_scan(_case(S.RELEASED), point).advances is Action.SHIP
    with pytest.raises(NotAllowed, match="happens when it is released"):
        custody.guard_scan(_case(S.IN_QC), point)
    with pytest.raises(NotAllowed, match="apheresis nurse does not scan"):
        authority.check(_user(Role.APHERESIS_NURSE), point)
    authority.check(_user(Role.COURIER), point)


def test_the_points_a_page_offers_come_from_the_points_and_the_authority_table() -> None:
    courier = _user(Role.COURIER)
    assert authority.scan_points(courier, S.COLLECTED) == [custody.CustodyPoint.APHERESIS_PICKUP]
    assert authority.scan_points(_user(Role.MANUFACTURING_OPERATOR), S.COLLECTED) == [
        custody.CustodyPoint.MANUFACTURING_RECEIPT
    ]
    # The bedside check belongs to the infusion form, never to the scan form.
    assert authority.scan_points(_user(Role.PHYSICIAN), S.RECEIVED_AT_SITE) == []


# ---------------------------------------------------------------- shipments and cold chain


def _shipment(shipper: ShipperType = ShipperType.FRESH_2_8) -> Shipment:
    limits = coldchain.limits_for(shipper, -150.0)
    return Shipment(
        "C2026-00001-S1",
        "C2026-00001",
        Leg.APHERESIS,
        shipper,
        "demo-hk-apheresis",
        "demo-suzhou-manufacturing",
        T0,
        limits.low,
        limits.high,
    )


def _readings(*celsius: float) -> list[Reading]:
    return [Reading(T0 + timedelta(minutes=10 * i), c) for i, c in enumerate(celsius)]


def test_fresh_material_travels_at_2_to_8_and_cryopreserved_at_the_products_own_limit() -> None:
    assert coldchain.limits_for(ShipperType.FRESH_2_8, -150.0).to_dict() == {
        "low_c": 2.0,
        "high_c": 8.0,
    }
    assert coldchain.limits_for(ShipperType.LN2_VAPOUR, -135.0).to_dict() == {
        "low_c": None,
        "high_c": -135.0,
    }
    with pytest.raises(InvalidInput, match="no storage limit"):
        coldchain.limits_for(ShipperType.LN2_VAPOUR, None)


def test_an_excursion_blocks_receipt_until_qa_accepts_it() -> None:
    shipment = _shipment()
    shipment.dispatch(T0)
    shipment.record_readings(_readings(5.0, 8.5, 5.0))
    assert shipment.blocked
    with pytest.raises(NotAllowed, match="receipt waits for QA's disposition"):
        shipment.receive(T0)
    shipment.dispose("accept", "8.5 °C for 10 minutes; stability data cover it", "qa", T0)
    shipment.receive(T0)
    assert shipment.status is ShipmentStatus.RECEIVED


def test_a_rejected_excursion_blocks_receipt() -> None:
    shipment = _shipment()
    shipment.dispatch(T0)
    shipment.record_readings(_readings(5.0, 1.0, 5.0))
    shipment.dispose("reject", "froze in transit: cells lost", "qa", T0)
    with pytest.raises(NotAllowed, match="QA rejected shipment"):
        shipment.receive(T0)
    assert shipment.status is ShipmentStatus.IN_TRANSIT


def test_a_disposition_needs_an_excursion_a_decision_and_a_reason() -> None:
    shipment = _shipment()
    shipment.record_readings(_readings(5.0, 6.0))
    with pytest.raises(InvalidInput, match="no excursion"):
        shipment.dispose("accept", "fine", "qa", T0)
    shipment.record_readings(_readings(5.0, 9.0))
    with pytest.raises(InvalidInput, match="'accept' or 'reject'"):
        shipment.dispose("maybe", "fine", "qa", T0)
    with pytest.raises(InvalidInput, match="documented reason"):
        shipment.dispose("accept", "  ", "qa", T0)
    assert shipment.disposition is None


def test_a_shipment_is_received_only_after_a_courier_picked_it_up() -> None:
    shipment = _shipment()
    with pytest.raises(NotAllowed, match="not picked up by a courier"):
        shipment.receive(T0)


# ---------------------------------------------------------------- the bedside

EQUE_CEL_DOSE = {"kind": "per_kg", "cells_per_kg": 1.0e6, "tolerance_percent": 20}


def test_the_post_thaw_window_counts_minutes_from_thaw() -> None:
    assert infusion.check_post_thaw_window(T0, T0 + timedelta(minutes=90), 90) is None
    late = infusion.check_post_thaw_window(T0, T0 + timedelta(minutes=91), 90)
    assert late is not None and "within 90 minutes" in late.message
    with pytest.raises(InvalidInput, match="before the product was thawed"):
        infusion.check_post_thaw_window(T0, T0 - timedelta(minutes=1), 90)


@pytest.mark.parametrize(
    ("dose", "accepted"),
    [(68e6, True), (54.4e6, True), (81.6e6, True), (54.3e6, False), (81.7e6, False)],
)
def test_the_dose_is_one_million_cells_per_kg_within_20_percent(
    dose: float, accepted: bool
) -> None:
    finding = infusion.check_dose(EQUE_CEL_DOSE, 68.0, dose)
    assert (finding is None) is accepted


# =============================================================== handlers on a fake


class JourneyFakeUnitOfWork(FakeUnitOfWork):
    """The shared fake (it commits and rolls back every repository, journey ones too)."""

    ledger: FakeLedger
    sequences: FakeSequences


class PlainHasher:
    def hash(self, password: str) -> str:
        return "plain$" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "plain$" + password


@dataclass
class World:
    """The demo catalogue on a fake unit of work, and a driver to move cases."""

    uow: JourneyFakeUnitOfWork
    bus: MessageBus
    driver: Driver
    clock: FixedClock

    def user(self, username: str) -> User:
        user = self.uow.users.get(username)
        assert user is not None, username
        return user

    def do(self, cmd: commands.Command, as_user: str) -> Any:
        return self.bus.handle(cmd, actor=self.user(as_user))

    def case(self, case_id: str) -> Case:
        case = self.uow.cases.get(case_id)
        assert case is not None
        return case

    def at(self, state: CaseState, route: Route = EQUE_CEL_HK, wristband: str = "WB-1") -> Case:
        case = self.driver.enrol(route, patient_name="Test Patient", wristband=wristband)
        return self.driver.advance(case, route, state)

    def shipment(self, case_id: str, leg: Leg) -> Shipment:
        found = self.uow.shipments.find(case_id=case_id, leg=leg)
        assert found, f"no {leg} shipment"
        return found[-1]

    def entries(self) -> int:
        return len(self.uow.ledger.committed)

    def footprint(self, case_id: str) -> dict[str, Any]:
        """Everything a refused command about this case must leave as it was (a wrong
        password is ledgered against the signer's sign-in guard, never the case's)."""
        return {
            "case": self.case(case_id).snapshot(),
            "ledger": sum(
                1 for e in self.uow.ledger.committed if not e.action.startswith("sign_in.")
            ),
            "sequences": dict(self.uow.sequences.values),
            "identifiers": [i.value for i in self.uow.identifiers.list()],
            "shipments": [s.snapshot() for s in self.uow.shipments.find(case_id=case_id)],
            "events": [e.snapshot() for e in self.uow.custody_events.find(case_id=case_id)],
            "incidents": [i.id for i in self.uow.incidents.find(case_id=case_id)],
        }


@pytest.fixture
def world(clock: FixedClock) -> World:
    fake = JourneyFakeUnitOfWork(clock)
    handlers.ensure_system_user(fake, clock=clock)
    bus = MessageBus(
        lambda: fake, {"clock": clock, "hasher": PlainHasher(), "release_panels": release_panels}
    )
    system = fake.users.get("system")
    assert system is not None
    bus.handle(demo_command(), actor=system)
    return World(
        fake, bus, Driver(bus, lambda name: fake.users.get(name) or _nobody(), clock), clock
    )


def _nobody() -> User:
    raise AssertionError("unknown demo user")


def _history(world: World, case_id: str) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in ledger.history(world.uow, f"case/{case_id}")]


# ---------------------------------------------------------------- the whole journey

JOURNEY = [
    ("case.enrolled", "coordinator"),
    ("case.confirm_eligibility", "physician"),
    ("case.book_apheresis", "coordinator"),
    ("case.collect", "nurse"),
    ("case.receive_at_manufacturing", "operator"),
    ("case.start_manufacturing", "operator"),
    ("case.complete_manufacturing", "operator"),
    ("case.release", "qa"),
    ("case.ship", "courier"),
    ("case.receive_at_site", "coordinator"),
    ("case.infuse", "physician"),
    ("case.start_follow_up", "physician"),
]


def test_a_case_goes_from_enrolment_to_follow_up_with_every_step_in_the_ledger(
    world: World,
) -> None:
    case = world.at(S.FOLLOW_UP)
    assert case.state is S.FOLLOW_UP
    assert case.version == len(HAPPY_PATH)
    assert _history(world, case.id) == JOURNEY
    states = [
        e.after["state"]
        for e in ledger.history(world.uow, f"case/{case.id}")
        if e.after and not e.action.startswith("signature.")
    ]
    assert states == [s.value for s in HAPPY_PATH]
    report = ledger.verify(world.uow)
    assert report.ok, report.breaks
    # The journey records were compared with their ledger snapshots too.
    assert report.records_checked == report.entries_checked - _superseded(world)


def _superseded(world: World) -> int:
    """Entries that are not the last about their record (verify compares only the last)."""
    seen = {(e.entity_type, e.entity_id) for e in world.uow.ledger.committed}
    return len(world.uow.ledger.committed) - len(seen)


def test_the_apheresis_and_product_legs_are_scanned_at_each_hand_off(world: World) -> None:
    case = world.at(S.FOLLOW_UP)
    events = world.uow.custody_events.find(case_id=case.id)
    assert [e.point.value for e in events] == [
        "apheresis_pickup",
        "manufacturing_receipt",
        "product_pickup",
        "site_receipt",
        "bedside",
    ]
    assert [e.id for e in events] == [f"{case.id}-E{n:03d}" for n in range(1, 6)]
    legs = [(s.leg, s.status) for s in world.uow.shipments.find(case_id=case.id)]
    assert legs == [
        (Leg.APHERESIS, ShipmentStatus.RECEIVED),
        (Leg.PRODUCT, ShipmentStatus.RECEIVED),
    ]


# ---------------------------------------------------------------- refused transitions

REFUSALS: list[tuple[str, CaseState, Any, str, type[DomainError], str]] = [
    (
        "collect-before-booking",
        S.ELIGIBLE,
        lambda c, now: commands.Collect(c.id, now.isoformat(), 150.0),
        "nurse",
        NotAllowed,
        "has no apheresis booking",
    ),
    (
        "collect-twice",
        S.COLLECTED,
        lambda c, now: commands.Collect(c.id, now.isoformat(), 150.0),
        "nurse",
        NotAllowed,
        "is collected: it cannot be collected now",
    ),
    (
        "rebook-without-a-reason",
        S.APHERESIS_BOOKED,
        lambda c, now: commands.BookApheresis(
            c.id, "demo-hk-apheresis", "2026-03-20", "demo-suzhou-manufacturing"
        ),
        "coordinator",
        InvalidInput,
        "a booked case is rescheduled with a reason: one of patient_unwell",
    ),
    (
        "reschedule-for-another-reason-unsaid",
        S.APHERESIS_BOOKED,
        lambda c, now: commands.BookApheresis(
            c.id,
            "demo-hk-apheresis",
            "2026-03-20",
            "demo-suzhou-manufacturing",
            reschedule_reason="other",
        ),
        "coordinator",
        InvalidInput,
        r"say why the apheresis is rescheduled \(note\)",
    ),
    (
        "book-at-a-facility-without-an-approved-process",
        S.ELIGIBLE,
        lambda c, now: commands.BookApheresis(
            c.id, "demo-hk-apheresis", "2026-03-20", "carsgen-rtp"
        ),
        "coordinator",
        NotAllowed,
        "there is no approved process for eque-cel at carsgen-rtp: book a facility with",
    ),
    (
        "book-after-collection",
        S.COLLECTED,
        lambda c, now: commands.BookApheresis(
            c.id,
            "demo-hk-apheresis",
            "2026-03-20",
            "demo-suzhou-manufacturing",
            reschedule_reason="patient_unwell",
        ),
        "coordinator",
        NotAllowed,
        "is collected: it cannot be booked for apheresis now",
    ),
    (
        "release-before-qc",
        S.MANUFACTURING,
        lambda c, now: commands.ReleaseProduct(c.id, "qa", DEMO_PASSWORD),
        "qa",
        NotAllowed,
        "is manufacturing: it cannot be released now",
    ),
    (
        "courier-confirms-eligibility",
        S.ENROLLED,
        lambda c, now: commands.ConfirmEligibility(c.id),
        "courier",
        NotAllowed,
        "a courier may not confirm eligibility",
    ),
    (
        "nurse-releases",
        S.IN_QC,
        lambda c, now: commands.ReleaseProduct(c.id, "nurse", DEMO_PASSWORD),
        "nurse",
        NotAllowed,
        "apheresis nurse may not release",
    ),
    (
        "release-without-results",
        S.IN_QC,
        lambda c, now: commands.ReleaseProduct(c.id, "qa", DEMO_PASSWORD),
        "qa",
        NotAllowed,
        "has no QC results yet",
    ),
    (
        "qc-releases",
        S.IN_QC,
        lambda c, now: commands.ReleaseProduct(c.id, "qc", DEMO_PASSWORD),
        "qc",
        NotAllowed,
        "a QC analyst may not release",
    ),
    (
        "planner-starts-manufacturing",
        S.AT_MANUFACTURING,
        lambda c, now: commands.StartManufacturing(c.id, "B-X"),
        "planner",
        NotAllowed,
        "a capacity planner may not start manufacturing",
    ),
    (
        "follow-up-before-infusion",
        S.RECEIVED_AT_SITE,
        lambda c, now: commands.StartFollowUp(c.id),
        "physician",
        NotAllowed,
        "is received at site: it cannot be moved to follow-up now",
    ),
    (
        "cancel-after-infusion",
        S.INFUSED,
        lambda c, now: commands.CancelCase(c.id, "patient moved abroad"),
        "coordinator",
        NotAllowed,
        "is infused: it cannot be cancelled now",
    ),
    (
        "cancel-in-follow-up",
        S.FOLLOW_UP,
        lambda c, now: commands.CancelCase(c.id, "patient moved abroad"),
        "physician",
        NotAllowed,
        "is follow-up: it cannot be cancelled now",
    ),
    (
        "cancel-twice",
        S.CANCELLED,
        lambda c, now: commands.CancelCase(c.id, "again"),
        "coordinator",
        NotAllowed,
        "is cancelled: it cannot be cancelled now",
    ),
    (
        "cancel-without-reason",
        S.APHERESIS_BOOKED,
        lambda c, now: commands.CancelCase(c.id, "   "),
        "coordinator",
        InvalidInput,
        "a cancellation needs a reason",
    ),
    (
        "nurse-cancels",
        S.ELIGIBLE,
        lambda c, now: commands.CancelCase(c.id, "no reason to go on"),
        "nurse",
        NotAllowed,
        "apheresis nurse may not cancel",
    ),
    (
        "recollect-without-reason",
        S.OUT_OF_SPECIFICATION,
        lambda c, now: commands.Recollect(c.id, ""),
        "coordinator",
        InvalidInput,
        "a re-collection needs a reason",
    ),
    (
        "recollect-from-qc",
        S.IN_QC,
        lambda c, now: commands.Recollect(c.id, "low yield expected"),
        "coordinator",
        NotAllowed,
        "is in qc: it cannot be sent back for re-collection now",
    ),
    (
        "complete-before-the-batch-record",
        S.MANUFACTURING,
        lambda c, now: commands.CompleteManufacturing(
            c.id, 2, (now + timedelta(days=90)).isoformat()
        ),
        "operator",
        NotAllowed,
        r"is not finished: step 1 \(Receipt of apheresis material\) is not started",
    ),
    (
        "collection-in-the-future",
        S.APHERESIS_BOOKED,
        lambda c, now: commands.Collect(c.id, (now + timedelta(minutes=5)).isoformat()),
        "nurse",
        InvalidInput,
        "collection time is in the future",
    ),
]


@pytest.mark.parametrize(
    ("state", "make", "as_user", "error", "message"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
def test_a_refused_transition_says_why_and_changes_nothing(
    world: World,
    state: CaseState,
    make: Any,
    as_user: str,
    error: type[DomainError],
    message: str,
) -> None:
    case = world.at(state)
    before = world.footprint(case.id)
    with pytest.raises(error, match=message):
        world.do(make(case, world.clock()), as_user)
    assert world.footprint(case.id) == before
    assert world.case(case.id).state is state


def test_a_booked_case_is_rescheduled_with_a_coded_reason_in_the_ledger(world: World) -> None:
    case = world.at(S.APHERESIS_BOOKED)
    first = case.apheresis_date
    moved = world.do(
        commands.BookApheresis(
            case.id,
            "demo-hk-apheresis",
            "2026-03-20",
            "demo-suzhou-manufacturing",
            reschedule_reason="patient_unwell",
            note="febrile",
        ),
        "coordinator",
    )
    assert moved.state is S.APHERESIS_BOOKED and moved.apheresis_date == "2026-03-20"
    reason = world.uow.ledger.for_entity(case.id, "case")[-1].reason
    assert reason.startswith(f"rescheduled (patient_unwell: febrile) from {first}")
    assert moved.version == case.version + 1


# ---------------------------------------------------------------- enrolment


def _enrol(
    world: World, route: Route = EQUE_CEL_HK, *, as_user: str = "coordinator", **overrides: Any
) -> Case:
    fields: dict[str, Any] = {
        "product_code": route.product,
        "jurisdiction": route.jurisdiction,
        "treatment_site": route.treatment_site,
        "patient_name": "Lee Siu Ming",
        "wristband_id": "WB-0042",
        "treating_physician": "physician",
        "consent_given": True,
        "consent_date": "2026-03-01",
        "patient_facts": dict(route.facts),
    }
    fields.update(overrides)
    case: Case = world.do(commands.EnrolPatient(**fields), as_user)
    return case


def test_enrolment_issues_a_chain_of_identity_identifier_from_the_treatment_centre(
    world: World,
) -> None:
    case = _enrol(world)
    assert (case.id, case.coi, case.state) == ("C2026-00001", "CHA999026000001", S.ENROLLED)
    assert case.eligibility["eligible"] is True and case.weight_kg == 68.0
    issued = world.uow.identifiers.get(case.coi)
    assert issued is not None and issued.purpose == f"case {case.id}"
    actions = [e.action for e in world.uow.ledger.committed[-2:]]
    assert actions == ["identifier.coi_issued", "case.enrolled"]


def _nothing_enrolled(world: World, entries: int, sequences: dict[Any, int]) -> None:
    assert world.uow.cases.list() == []
    assert world.entries() == entries
    assert world.uow.sequences.values == sequences


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"patient_facts": {**EQUE_CEL_HK.facts, "prior_lines": 1}},
            "the patient is not eligible: .*prior lines",
        ),
        ({"consent_given": False}, "informed consent must be recorded"),
        (
            {
                "product_code": "amimestrocel",
                "jurisdiction": "CN",
                "patient_facts": {"age_years": 40, "diagnosis": "acute_gvhd"},
            },
            "off-the-shelf product: it is ordered, not enrolled",
        ),
        ({"treating_physician": "nurse"}, "nurse is not a physician"),
        ({"treatment_site": "demo-hk-apheresis"}, "not a treatment centre"),
        ({"wristband_id": " "}, "wristband id is required"),
    ],
    ids=[
        "not-eligible",
        "no-consent",
        "allogeneic",
        "not-a-physician",
        "not-a-centre",
        "no-wristband",
    ],
)
def test_a_refused_enrolment_creates_no_case_and_uses_no_number(
    world: World, overrides: dict[str, Any], message: str
) -> None:
    entries, sequences = world.entries(), dict(world.uow.sequences.values)
    with pytest.raises(DomainError, match=message):
        _enrol(world, **overrides)
    _nothing_enrolled(world, entries, sequences)


def test_a_courier_may_not_enrol_a_patient(world: World) -> None:
    entries, sequences = world.entries(), dict(world.uow.sequences.values)
    with pytest.raises(NotAllowed, match="a courier may not enrol patients"):
        _enrol(world, as_user="courier")
    _nothing_enrolled(world, entries, sequences)


def test_eligibility_cannot_be_confirmed_while_undetermined(world: World) -> None:
    facts = {k: v for k, v in EQUE_CEL_HK.facts.items() if k != "prior_therapy_classes"}
    case = _enrol(world, patient_facts=facts)
    assert case.eligibility["eligible"] is None
    before = world.footprint(case.id)
    with pytest.raises(
        NotAllowed, match="eligibility is undetermined: prior therapy classes not given"
    ):
        world.do(commands.ConfirmEligibility(case.id), "physician")
    assert world.footprint(case.id) == before
    # With the missing fact supplied, the physician confirms.
    world.do(commands.ConfirmEligibility(case.id, dict(EQUE_CEL_HK.facts)), "physician")
    assert world.case(case.id).state is S.ELIGIBLE


def test_eligibility_cannot_be_confirmed_when_new_facts_make_the_patient_ineligible(
    world: World,
) -> None:
    case = _enrol(world)
    with pytest.raises(NotAllowed, match="eligibility is not eligible"):
        world.do(
            commands.ConfirmEligibility(case.id, {**EQUE_CEL_HK.facts, "age_years": 16}),
            "physician",
        )
    assert world.case(case.id).state is S.ENROLLED


# ---------------------------------------------------------------- custody hand-offs


def _picked_up(world: World) -> Case:
    case = world.at(S.COLLECTED)
    world.do(commands.ScanCustody(case.id, "apheresis_pickup", barcode(case)), "courier")
    return case


def _wrong(case: Case, what: str) -> str:
    """A label that is not this case's: another DIN, another CoI, or no ISBT 128 at all."""
    assert case.current_din is not None and case.current_din.endswith("1")
    other_din, other_coi = case.current_din[:-1] + "9", case.coi[:-1] + "9"
    return {
        "din": f"={other_din}00&/{case.coi}",
        "coi": f"={case.current_din}00&/{other_coi}",
        "garbage": "NOT-A-BARCODE",
    }[what]


@pytest.mark.parametrize("what", ["din", "coi", "garbage"])
def test_a_wrong_scan_at_a_hand_off_is_refused_and_kept_as_an_identity_incident(
    world: World, what: str
) -> None:
    case = _picked_up(world)
    before = world.footprint(case.id)
    scanned = _wrong(case, what)
    with pytest.raises(custody.IdentityMismatch) as refused:
        world.do(commands.ScanCustody(case.id, "manufacturing_receipt", scanned), "operator")
    assert "call the coordinator" in refused.value.message or what == "garbage"
    after = world.footprint(case.id)
    incidents = world.uow.incidents.find(case_id=case.id)
    assert [(i.id, i.point, i.actor, i.scan_data) for i in incidents] == [
        (f"{case.id}-X001", "manufacturing_receipt", "operator", scanned)
    ]
    assert incidents[0].message == refused.value.message
    entry = world.uow.ledger.committed[-1]
    assert (entry.action, entry.actor, entry.entity_id) == (
        "custody.identity_incident",
        "operator",
        f"{case.id}-X001",
    )
    # The incident is the only thing written: no hand-off, no receipt, no transition.
    assert after["ledger"] == before["ledger"] + 1
    assert {k: v for k, v in after.items() if k not in ("ledger", "incidents")} == {
        k: v for k, v in before.items() if k not in ("ledger", "incidents")
    }
    assert world.shipment(case.id, Leg.APHERESIS).status is ShipmentStatus.IN_TRANSIT


def test_a_scan_at_a_point_that_is_not_this_cases_next_is_refused_without_an_incident(
    world: World,
) -> None:
    case = world.at(S.COLLECTED)
    before = world.footprint(case.id)
    with pytest.raises(NotAllowed, match="is collected: 'Courier picks up the released product'"):
        world.do(commands.ScanCustody(case.id, "product_pickup", barcode(case)), "courier")
    with pytest.raises(NotAllowed, match="not picked up by a courier"):
        world.do(commands.ScanCustody(case.id, "manufacturing_receipt", barcode(case)), "operator")
    with pytest.raises(NotAllowed, match="apheresis nurse does not scan"):
        world.do(commands.ScanCustody(case.id, "apheresis_pickup", barcode(case)), "nurse")
    with pytest.raises(InvalidInput, match="unknown custody point 'dock'"):
        world.do(commands.ScanCustody(case.id, "dock", barcode(case)), "courier")
    with pytest.raises(InvalidInput, match="part of recording the infusion"):
        world.do(commands.ScanCustody(case.id, "bedside", barcode(case)), "nurse")
    assert world.footprint(case.id) == before


def test_a_shipment_is_picked_up_once(world: World) -> None:
    case = _picked_up(world)
    before = world.footprint(case.id)
    with pytest.raises(NotAllowed, match="it left already"):
        world.do(commands.ScanCustody(case.id, "apheresis_pickup", barcode(case)), "courier")
    assert world.footprint(case.id) == before


def test_a_hand_off_scan_with_the_coi_alone_is_accepted(world: World) -> None:
    case = _picked_up(world)
    world.do(commands.ScanCustody(case.id, "manufacturing_receipt", f"&/{case.coi}"), "operator")
    assert world.case(case.id).state is S.AT_MANUFACTURING


# ---------------------------------------------------------------- cold chain

LOGGER_WITH_EXCURSION = """timestamp,temperature_c
2026-03-02T07:30:00Z,5.1
2026-03-02T07:45:00Z,8.9
2026-03-02T08:00:00Z,9.4
2026-03-02T08:15:00Z,6.0
2026-03-02T08:30:00Z,5.2
"""

LOGGER_CLEAN = """timestamp,temperature_c
2026-03-02T07:30:00Z,5.1
2026-03-02T07:45:00Z,5.3
2026-03-02T08:00:00Z,5.0
"""


def _receipt(world: World, case: Case) -> None:
    world.do(commands.ScanCustody(case.id, "manufacturing_receipt", barcode(case)), "operator")


@pytest.fixture
def excursion(world: World) -> tuple[Case, Shipment]:
    """A case whose apheresis shipment was picked up and logged 9.4 °C on the way."""
    case = _picked_up(world)
    shipment = world.shipment(case.id, Leg.APHERESIS)
    imported: Shipment = world.do(
        commands.ImportLoggerData(shipment.id, LOGGER_WITH_EXCURSION), "courier"
    )
    assert [(e["direction"], e["extreme_c"]) for e in imported.excursions] == [("high", 9.4)]
    assert imported.excursions[0]["duration_seconds"] == 30 * 60
    return case, imported


def test_an_excursion_blocks_manufacturing_receipt_until_qa_accepts_it(
    world: World, excursion: tuple[Case, Shipment]
) -> None:
    case, shipment = excursion
    before = world.footprint(case.id)
    with pytest.raises(NotAllowed, match="receipt waits for QA's disposition"):
        _receipt(world, case)
    assert world.footprint(case.id) == before
    world.do(
        commands.DisposeExcursion(
            shipment.id, "accept", "30 min at 9.4 °C within stability", "qa", DEMO_PASSWORD
        ),
        "qa",
    )
    assert world.uow.ledger.committed[-1].action == "shipment.excursion_accepted"
    _receipt(world, case)
    assert world.case(case.id).state is S.AT_MANUFACTURING
    assert world.shipment(case.id, Leg.APHERESIS).status is ShipmentStatus.RECEIVED


def test_after_qa_rejects_an_excursion_receipt_is_refused(
    world: World, excursion: tuple[Case, Shipment]
) -> None:
    case, shipment = excursion
    world.do(
        commands.DisposeExcursion(
            shipment.id, "reject", "above 8 °C for 30 min", "qa", DEMO_PASSWORD
        ),
        "qa",
    )
    before = world.footprint(case.id)
    with pytest.raises(NotAllowed, match=r"QA rejected shipment .* cannot be received"):
        _receipt(world, case)
    assert world.footprint(case.id) == before


def test_a_clean_logger_file_imported_after_a_rejection_does_not_reopen_receipt(
    world: World, excursion: tuple[Case, Shipment]
) -> None:
    case, shipment = excursion
    world.do(
        commands.DisposeExcursion(
            shipment.id, "reject", "above 8 °C for 30 min", "qa", DEMO_PASSWORD
        ),
        "qa",
    )
    # Refusing the import would be a fix too; what must not happen is the receipt.
    with contextlib.suppress(DomainError):
        world.do(commands.ImportLoggerData(shipment.id, LOGGER_CLEAN), "courier")
    with pytest.raises(NotAllowed):
        _receipt(world, case)


def test_a_rejection_is_final(world: World, excursion: tuple[Case, Shipment]) -> None:
    case, shipment = excursion
    world.do(
        commands.DisposeExcursion(
            shipment.id, "reject", "above 8 °C for 30 min", "qa", DEMO_PASSWORD
        ),
        "qa",
    )
    with pytest.raises(NotAllowed):
        world.do(
            commands.DisposeExcursion(
                shipment.id, "accept", "second thoughts", "qa", DEMO_PASSWORD
            ),
            "qa",
        )
    with pytest.raises(NotAllowed):
        _receipt(world, case)


@pytest.mark.parametrize("as_user", ["operator", "coordinator", "courier", "qc"])
def test_only_qa_disposes_of_an_excursion(
    world: World, excursion: tuple[Case, Shipment], as_user: str
) -> None:
    case, shipment = excursion
    before = world.footprint(case.id)
    with pytest.raises(NotAllowed, match="only QA disposes"):
        world.do(commands.DisposeExcursion(shipment.id, "accept", "looks fine"), as_user)
    assert world.footprint(case.id) == before


def test_the_product_travels_at_its_own_storage_limit(world: World) -> None:
    world.do(
        commands.SetProductField("eque-cel", "storage_max_c", "-135", "label says -135 °C"),
        "admin",
    )
    case = world.at(S.RELEASED)
    shipment = world.shipment(case.id, Leg.PRODUCT)
    assert shipment.shipper_type is ShipperType.LN2_VAPOUR
    assert (shipment.low_c, shipment.high_c) == (None, -135.0)
    assert world.shipment(case.id, Leg.APHERESIS).limits.to_dict() == {
        "low_c": 2.0,
        "high_c": 8.0,
    }
    logged: Shipment = world.do(
        commands.ImportLoggerData(
            shipment.id,
            "time,temp_c\n2026-03-02T01:00:00Z,-180\n2026-03-02T01:10:00Z,-140\n"
            "2026-03-02T01:20:00Z,-130\n2026-03-02T01:30:00Z,-185\n",
        ),
        "courier",
    )
    assert [(e["direction"], e["extreme_c"], e["limit_c"]) for e in logged.excursions] == [
        ("high", -130.0, -135.0)
    ]


# ---------------------------------------------------------------- release and signatures


def test_release_is_signed_with_the_meaning_released(world: World) -> None:
    case = world.at(S.RELEASED)
    entries = ledger.history(world.uow, f"case/{case.id}")
    assert (entries[-1].action, entries[-1].actor) == ("case.release", "qa")
    batch_id = present(world.case(case.id).release).batch_id
    signed = [e for e in ledger.history(world.uow, batch_id) if e.signature_meaning]
    assert [(e.entity_type, e.action, e.signature_meaning) for e in signed][-1] == (
        "release_record",
        "release_record.released",
        "released",
    )
    assert signed[-1].actor_name == "Demo QA Reviewer"
    record = world.uow.release_records.get(batch_id)
    assert record is not None
    assert signed[-1].signed_hash == content_hash(record.snapshot())
    assert present(world.case(case.id).release).kind == "full"


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("qa", "not the password", "the password is wrong: nothing was signed"),
        ("admin", DEMO_PASSWORD, "signer's own user name"),
        ("", DEMO_PASSWORD, "signer's own user name"),
    ],
    ids=["wrong-password", "someone-elses-name", "no-name"],
)
def test_release_without_the_qa_users_own_credentials_changes_nothing(
    world: World, username: str, password: str, message: str
) -> None:
    case = world.at(S.IN_QC)
    before = world.footprint(case.id)
    with pytest.raises(NotAllowed, match=message):
        world.do(commands.ReleaseProduct(case.id, username, password), "qa")
    assert world.footprint(case.id) == before
    if username != "qa":
        return
    # 11.300(d): the failed signature is counted and ledgered, in its own transaction.
    failed = world.uow.ledger.committed[-1]
    assert (failed.action, failed.actor, failed.entity_id) == (
        "sign_in.signature_failed",
        "qa",
        "qa",
    )
    assert world.case(case.id).state is S.IN_QC
    assert world.uow.shipments.find(case_id=case.id, leg=Leg.PRODUCT) == []


# ---------------------------------------------------------------- out of specification


def _conditional(case: Case, **overrides: str) -> commands.ConditionalRelease:
    fields: dict[str, Any] = {
        "justification": "viability 62%; no alternative therapy; physician informed",
        "username": "qa",
        "password": DEMO_PASSWORD,
    }
    fields.update(overrides)
    return commands.ConditionalRelease(case.id, **fields)


def _investigated(world: World, case: Case, *, acknowledged: bool = True) -> str:
    batch_id = present(case.release).batch_id
    world.do(commands.OpenInvestigation(batch_id, "OOS-26-001", "viability low"), "qc")
    if acknowledged:
        world.do(commands.AcknowledgeResults(batch_id, "physician", DEMO_PASSWORD), "physician")
    return batch_id


def test_a_conditional_release_records_the_justification_and_the_physician(
    world: World,
) -> None:
    case = world.at(S.OUT_OF_SPECIFICATION)
    assert present(case.release).reason == "Viability 62% (specification ≥ 70%)"
    _investigated(world, case)
    released: Case = world.do(_conditional(case), "qa")
    assert released.state is S.RELEASED
    assert present(released.release).kind == "conditional"
    assert present(released.release).acknowledged_by == "physician"
    assert _history(world, case.id)[-2:] == [
        ("case.fail_specification", "qc"),
        ("case.conditional_release", "qa"),
    ]
    assert world.shipment(case.id, Leg.PRODUCT).high_c == -150.0
    assert ledger.verify(world.uow).ok


@pytest.mark.parametrize(
    ("overrides", "acknowledged", "error", "message"),
    [
        ({"justification": "  "}, True, InvalidInput, "a documented justification .* is required"),
        ({}, False, NotAllowed, "physician must acknowledge"),
        ({"password": "guess"}, True, NotAllowed, "password is wrong"),
    ],
    ids=["no-justification", "no-acknowledgement", "wrong-password"],
)
def test_a_conditional_release_without_its_conditions_changes_nothing(
    world: World,
    overrides: dict[str, str],
    acknowledged: bool,
    error: type[DomainError],
    message: str,
) -> None:
    case = world.at(S.OUT_OF_SPECIFICATION)
    _investigated(world, case, acknowledged=acknowledged)
    before = world.footprint(case.id)
    with pytest.raises(error, match=message):
        world.do(_conditional(case, **overrides), "qa")
    assert world.footprint(case.id) == before


def test_only_the_treating_physician_acknowledges_out_of_specification_results(
    world: World,
) -> None:
    world.do(
        commands.CreateUser(
            "dr-other",
            "Dr Other",
            Role.PHYSICIAN,
            site_code="demo-hk-treatment",
            password="long enough pw",
        ),
        "admin",
    )
    case = world.at(S.OUT_OF_SPECIFICATION)
    batch_id = _investigated(world, case, acknowledged=False)
    with pytest.raises(NotAllowed, match="only the treating physician \\(physician\\)"):
        world.do(commands.AcknowledgeResults(batch_id, "dr-other", "long enough pw"), "dr-other")


def test_a_recollection_returns_the_case_to_eligible_and_the_next_bag_gets_a_new_din(
    world: World,
) -> None:
    case = world.at(S.OUT_OF_SPECIFICATION)
    first_din = case.current_din
    batch_id = _investigated(world, case, acknowledged=False)
    world.do(commands.RejectBatch(batch_id, "viability low", "qa", DEMO_PASSWORD), "qa")
    back: Case = world.do(
        commands.Recollect(case.id, "viability out of specification"), "physician"
    )
    assert back.state is S.ELIGIBLE
    assert (back.manufacturing, back.release) == (None, None)
    again = world.driver.advance(back, EQUE_CEL_HK, S.COLLECTED)
    assert [c.din for c in again.collections] == [first_din, again.current_din]
    assert again.current_din != first_din
    assert again.current_din is not None and again.current_din.endswith("000002")
    # The first bag's label no longer matches the case at a hand-off.
    with pytest.raises(custody.IdentityMismatch, match=f"DIN {first_din} does not belong"):
        world.do(
            commands.ScanCustody(case.id, "apheresis_pickup", f"={first_din}00&/{case.coi}"),
            "courier",
        )
    world.driver.advance(world.case(case.id), EQUE_CEL_HK, S.FOLLOW_UP)
    legs = [s.leg for s in world.uow.shipments.find(case_id=case.id)]
    assert legs == [Leg.APHERESIS, Leg.APHERESIS, Leg.PRODUCT]
    assert ledger.verify(world.uow).ok


# ---------------------------------------------------------------- the bedside


@pytest.fixture
def at_bedside(world: World) -> Case:
    return world.at(S.RECEIVED_AT_SITE)


def _infuse(
    world: World,
    case: Case,
    *,
    as_user: str = "physician",
    wristband: str | None = None,
    bag: str | None = None,
    thawed_minutes_ago: int = 40,
    started_minutes_ago: int = 20,
    weight: float = 68.0,
    dose: float = 68e6,
    override: str = "",
) -> Case:
    now = world.clock()
    infused: Case = world.do(
        commands.Infuse(
            case.id,
            case.wristband_id if wristband is None else wristband,
            barcode(case) if bag is None else bag,
            (now - timedelta(minutes=thawed_minutes_ago)).isoformat(),
            (now - timedelta(minutes=started_minutes_ago)).isoformat(),
            weight,
            dose,
            override_reason=override,
        ),
        as_user,
    )
    return infused


def test_a_bedside_infusion_within_the_rules_records_both_identifiers(
    world: World, at_bedside: Case
) -> None:
    case = _infuse(world, at_bedside, as_user="nurse")
    assert case.state is S.INFUSED
    assert present(case.infusion).flags == () and present(case.infusion).override_reason is None
    assert present(case.infusion).minutes_after_thaw == 20.0
    assert (present(case.infusion).bag_din, present(case.infusion).bag_coi) == (
        case.current_din,
        case.coi,
    )
    bedside = world.uow.custody_events.find(case_id=case.id)[-1]
    assert bedside.point is custody.CustodyPoint.BEDSIDE
    assert bedside.identifiers["wristband_id"] == case.wristband_id


def test_the_wrong_wristband_is_refused_and_kept_as_an_incident(
    world: World, at_bedside: Case
) -> None:
    before = world.footprint(at_bedside.id)
    with pytest.raises(custody.IdentityMismatch, match="the scanned wristband is not the patient"):
        _infuse(world, at_bedside, wristband="WB-9999")
    (incident,) = world.uow.incidents.find(case_id=at_bedside.id)
    assert (incident.point, incident.actor) == ("bedside", "physician")
    assert incident.scan_data.startswith("wristband WB-9999; bag =")
    assert world.uow.ledger.committed[-1].action == "custody.identity_incident"
    after = world.footprint(at_bedside.id)
    assert after["case"] == before["case"] and after["events"] == before["events"]
    assert after["ledger"] == before["ledger"] + 1


@pytest.mark.parametrize(
    ("bag", "message"),
    [("din", "chain-of-identity identifier is missing"), ("coi", "the DIN is missing")],
)
def test_a_bag_scan_with_one_identifier_is_refused_at_the_bedside(
    world: World, at_bedside: Case, bag: str, message: str
) -> None:
    data = {"din": f"={at_bedside.current_din}00", "coi": f"&/{at_bedside.coi}"}[bag]
    with pytest.raises(custody.IdentityMismatch, match=message):
        _infuse(world, at_bedside, bag=data)
    assert world.case(at_bedside.id).state is S.RECEIVED_AT_SITE
    assert len(world.uow.incidents.find(case_id=at_bedside.id)) == 1


def test_another_patients_bag_is_refused_at_the_bedside(world: World) -> None:
    mine = world.at(S.RECEIVED_AT_SITE, wristband="WB-0001")
    theirs = world.at(S.RECEIVED_AT_SITE, wristband="WB-0002")
    with pytest.raises(custody.IdentityMismatch, match=f"does not belong to case {mine.id}"):
        _infuse(world, mine, bag=barcode(theirs))
    assert world.case(mine.id).state is S.RECEIVED_AT_SITE
    assert [i.point for i in world.uow.incidents.find(case_id=mine.id)] == ["bedside"]
    assert world.uow.incidents.find(case_id=theirs.id) == []


def test_an_expired_product_is_not_infused_without_a_physicians_reason(
    world: World, at_bedside: Case
) -> None:
    expires = present(present(at_bedside.manufacturing).expires_at)
    world.clock.now = expires + timedelta(days=1)
    with pytest.raises(InfusionRefused):
        _infuse(world, at_bedside, as_user="nurse")


def test_an_infusion_after_the_post_thaw_window_is_refused(world: World, at_bedside: Case) -> None:
    before = world.footprint(at_bedside.id)
    with pytest.raises(InfusionRefused, match=r"100 minutes passed since thaw.*within 90"):
        _infuse(world, at_bedside, thawed_minutes_ago=110, started_minutes_ago=10)
    assert world.footprint(at_bedside.id) == before


def test_a_physician_may_infuse_after_the_window_with_a_documented_reason(
    world: World, at_bedside: Case
) -> None:
    case = _infuse(
        world,
        at_bedside,
        thawed_minutes_ago=110,
        started_minutes_ago=10,
        override="line occlusion delayed start; product inspected, no clumps",
    )
    assert case.state is S.INFUSED
    assert [f.check for f in present(case.infusion).flags] == ["post_thaw_window"]
    assert present(present(case.infusion).override_reason).startswith("line occlusion")
    assert "with override: line occlusion" in ledger.history(world.uow, case.id)[-1].reason


def test_a_nurse_may_not_override_the_post_thaw_window(world: World, at_bedside: Case) -> None:
    before = world.footprint(at_bedside.id)
    with pytest.raises(InfusionRefused, match="only a physician may override"):
        _infuse(
            world,
            at_bedside,
            as_user="nurse",
            thawed_minutes_ago=110,
            started_minutes_ago=10,
            override="we were busy",
        )
    assert world.footprint(at_bedside.id) == before


@pytest.mark.parametrize("dose", [50e6, 90e6])
def test_a_dose_outside_one_million_cells_per_kg_within_20_percent_is_refused(
    world: World, at_bedside: Case, dose: float
) -> None:
    before = world.footprint(at_bedside.id)
    with pytest.raises(InfusionRefused, match=r"outside 5\.44e\+07–8\.16e\+07"):
        _infuse(world, at_bedside, dose=dose)
    assert world.footprint(at_bedside.id) == before


def test_an_infusion_start_in_the_future_is_refused(world: World, at_bedside: Case) -> None:
    with pytest.raises(InvalidInput, match="in the future"):
        _infuse(world, at_bedside, thawed_minutes_ago=5, started_minutes_ago=-5)
    assert world.case(at_bedside.id).state is S.RECEIVED_AT_SITE


def test_a_courier_may_not_infuse(world: World, at_bedside: Case) -> None:
    with pytest.raises(NotAllowed, match="a courier does not scan at 'Bedside check"):
        _infuse(world, at_bedside, as_user="courier")
    assert world.uow.incidents.find(case_id=at_bedside.id) == []


def test_a_product_without_a_dose_rule_needs_a_physicians_reason(world: World) -> None:
    case = world.at(S.RECEIVED_AT_SITE, ZEVOR_CEL_US)
    with pytest.raises(InfusionRefused, match="no dose rule"):
        _infuse(world, case, weight=80.0, dose=80e6)
    done = _infuse(world, case, weight=80.0, dose=80e6, override="dose per protocol")
    assert [f.check for f in present(done.infusion).flags] == ["dose"]


# ---------------------------------------------------------------- planning seam


def test_planned_dates_are_kept_and_unknown_fields_refused(world: World) -> None:
    case = world.at(S.ELIGIBLE)
    planned: Case = world.do(
        commands.SetPlannedDates(case.id, {"apheresis_date": "2026-03-10", "suite": "A"}),
        "planner",
    )
    assert planned.planned == {"apheresis_date": "2026-03-10", "suite": "A"}
    with pytest.raises(InvalidInput, match="unknown planned field"):
        world.do(commands.SetPlannedDates(case.id, {"shipping_date": "2026-03-10"}), "planner")
    with pytest.raises(NotAllowed, match="courier may not plan"):
        world.do(commands.SetPlannedDates(case.id, {"suite": "B"}), "courier")
    assert world.case(case.id).planned["suite"] == "A"


@pytest.mark.parametrize("reason", ["", "…", "...", "ok", "-", "n/a", "accepted", "fine ok"])
def test_an_excursion_disposition_refuses_a_placeholder_for_a_reason(
    world: World, excursion: tuple[Case, Shipment], reason: str
) -> None:
    case, shipment = excursion
    before = world.footprint(case.id)
    with pytest.raises(InvalidInput, match="needs a documented reason"):
        world.do(
            commands.DisposeExcursion(shipment.id, "accept", reason, "qa", DEMO_PASSWORD), "qa"
        )
    assert world.footprint(case.id) == before


def test_an_excursion_disposition_is_signed_and_a_wrong_password_changes_nothing(
    world: World, excursion: tuple[Case, Shipment]
) -> None:
    case, shipment = excursion
    before = world.footprint(case.id)
    reason = "30 min at 9.4 °C within stability"
    with pytest.raises(NotAllowed, match="password is wrong"):
        world.do(commands.DisposeExcursion(shipment.id, "accept", reason, "qa", "wrong"), "qa")
    assert world.footprint(case.id) == before
    world.do(commands.DisposeExcursion(shipment.id, "accept", reason, "qa", DEMO_PASSWORD), "qa")
    entry = world.uow.ledger.committed[-1]
    assert entry.action == "shipment.excursion_accepted"
    assert entry.signature_meaning == "approved" and entry.signed_hash is not None


def _book(case: Case, day: str) -> commands.BookApheresis:
    return commands.BookApheresis(case.id, "demo-hk-apheresis", day, "demo-suzhou-manufacturing")


def test_apheresis_is_not_booked_before_consent_nor_long_after_the_fact(world: World) -> None:
    case = world.at(S.ELIGIBLE)  # consent given on the clock's day, 2026-03-02
    world.driver.prepare_manufacturing(EQUE_CEL_HK)
    before = world.footprint(case.id)
    with pytest.raises(InvalidInput, match=r"before the patient's consent \(2026-03-02\)"):
        world.do(_book(case, "2026-03-01"), "coordinator")
    world.clock.now = T0 + timedelta(days=30)  # 2026-04-01, 17:30 in Hong Kong
    with pytest.raises(InvalidInput, match="at most 7 days after the fact"):
        world.do(_book(case, "2026-03-20"), "coordinator")
    assert world.footprint(case.id) == before
    world.do(_book(case, "2026-03-28"), "coordinator")
    entry = world.uow.ledger.committed[-1]
    assert entry.action == "case.book_apheresis"
    assert entry.reason == "apheresis on 2026-03-28 (entered 4 day(s) after the fact)"


def test_the_back_entry_limit_counts_days_at_the_apheresis_unit(world: World) -> None:
    case = world.at(S.ELIGIBLE)
    # 20:00 UTC on 9 March is already 04:00 on 10 March in Hong Kong: a collection on
    # 2 March is 7 days ago by the server's date but 8 at the unit, and is refused.
    world.clock.now = datetime(2026, 3, 9, 20, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput, match=r"is 8 days ago at .*at most 7 days"):
        world.do(_book(case, "2026-03-02"), "coordinator")


# ---------------------------------------------------------------- local dates


CRS_NONE = {
    "temperature_c": 37.0,
    "fever_masked_by_treatment": False,
    "hypotension": False,
    "vasopressors": [],
    "oxygen": {"device": "none"},
    "death_from_crs": False,
}


def test_an_assessment_the_morning_after_an_hk_infusion_counts_days_in_hong_kong(
    world: World, at_bedside: Case
) -> None:
    # 19:55 UTC on 2 March is 03:55 on 3 March in Hong Kong: the infusion (03:45 local) is
    # on 3 March there, whatever the server's UTC date says.
    world.clock.now = datetime(2026, 3, 2, 19, 55, tzinfo=UTC)
    case = _infuse(world, at_bedside, thawed_minutes_ago=30, started_minutes_ago=10)
    before = world.footprint(case.id)
    with pytest.raises(InvalidInput, match="before the infusion"):
        world.do(commands.RecordAssessment(case.id, "crs", "2026-03-02", CRS_NONE), "nurse")
    assert world.footprint(case.id) == before
    same_day = world.do(commands.RecordAssessment(case.id, "crs", "2026-03-03", CRS_NONE), "nurse")
    assert same_day.assessed_on == "2026-03-03"
    world.clock.advance(hours=6)  # 09:55 the same local morning
    with pytest.raises(InvalidInput, match="future"):
        world.do(commands.RecordAssessment(case.id, "icans", "2026-03-04", {}), "nurse")


# ---------------------------------------------------------------- a cryopreserved product's logger


def test_a_cryopreserved_shipment_without_readings_waits_for_qa() -> None:
    shipment = _shipment(ShipperType.LN2_VAPOUR)
    shipment.dispatch(T0)
    assert shipment.question == "no logger readings" and shipment.blocked
    with pytest.raises(NotAllowed, match="has no logger readings"):
        shipment.receive(T0)
    with pytest.raises(InvalidInput, match="documented reason"):
        shipment.dispose("accept", "…", "qa", T0)
    shipment.dispose("accept", "logger failed; dry shipper charge verified at receipt", "qa", T0)
    assert shipment.disposition is not None
    assert shipment.disposition["about"] == "no logger readings"
    shipment.receive(T0)
    assert shipment.status is ShipmentStatus.RECEIVED
    fresh = _shipment(ShipperType.FRESH_2_8)
    fresh.dispatch(T0)
    fresh.receive(T0)  # fresh material at 2-8 °C may travel without a logger
    assert fresh.question is None


def test_a_product_is_received_at_site_only_with_its_logger_or_qas_signature(
    world: World,
) -> None:
    case = world.at(S.RELEASED)
    world.do(commands.ScanCustody(case.id, "product_pickup", barcode(case)), "courier")
    before = world.footprint(case.id)
    receipt = commands.ScanCustody(case.id, "site_receipt", barcode(case))
    with pytest.raises(NotAllowed, match="has no logger readings"):
        world.do(receipt, "coordinator")
    assert world.footprint(case.id) == before
    shipment = world.shipment(case.id, Leg.PRODUCT)
    with pytest.raises(NotAllowed, match="password is wrong"):
        world.do(
            commands.DisposeExcursion(
                shipment.id, "accept", "logger lost; shipper checked", "qa", "wrong"
            ),
            "qa",
        )
    world.do(
        commands.DisposeExcursion(
            shipment.id,
            "accept",
            "logger lost in transit; shipper charge checked",
            "qa",
            DEMO_PASSWORD,
        ),
        "qa",
    )
    signed = world.uow.ledger.committed[-1]
    assert signed.action == "shipment.excursion_accepted" and signed.actor == "qa"
    world.do(receipt, "coordinator")
    assert world.case(case.id).state is S.RECEIVED_AT_SITE
