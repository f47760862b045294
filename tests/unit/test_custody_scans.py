"""Custody scans and the DIN's type 3 flag (ISBT 128 ST-001 §2.4.1, Table 3 [RT004]).

A label may carry the DIN's check character in its barcode as flags 60–96 (60 + the
MOD 37-2 check value). A scan whose flags contradict its DIN was misprinted or misread, so
the hand-off is refused like any other identity mismatch: kept as an incident, nothing
else written. The handlers run on the in-memory fakes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import FixedClock
from tests.fakes import FakeUnitOfWork, release_panels
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.domain import custody, isbt128
from veinline.domain.case import Case, CaseState
from veinline.domain.case_parts import Collection
from veinline.domain.user import User
from veinline.services import commands, handlers
from veinline.services.messagebus import MessageBus

COI = "CHA999026000001"


def _type3(din: str, *, right: bool) -> str:
    value = isbt128.mod37_2_check_value(din)
    return f"{60 + (value if right else (value + 1) % 37):02d}"


def _case(din: str) -> Case:
    return Case(
        id="C2026-00001",
        product_code="eque-cel",
        jurisdiction="HK",
        treatment_site="demo-hk-treatment",
        patient_name="Test Patient",
        wristband_id="WB-0001",
        treating_physician="physician",
        coi=COI,
        enrolled_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        enrolled_by="coordinator",
        consent={"given": True},
        eligibility={"eligible": True},
        patient_facts={},
        state=CaseState.COLLECTED,
        collections=[
            Collection(
                din=din,
                check_character=None,
                collected_at=datetime(2026, 3, 9, 8, 0, tzinfo=UTC),
                site="HK-APH",
                by="nurse",
            )
        ],
    )


# ---------------------------------------------------------------- the pure domain


def test_a_scan_whose_type_3_flag_matches_its_din_is_read() -> None:
    # ST-001 Appendix A: G123417654321 has K = 'A', so its type 3 flag is 70.
    assert custody.read_identifiers(f"=G12341765432170&/{COI}") == ("G123417654321", COI)


def test_a_scan_whose_type_3_flag_contradicts_its_din_is_refused() -> None:
    with pytest.raises(custody.IdentityMismatch, match="could not be read as ISBT 128") as refused:
        custody.check_scan(_case("G123417654321"), f"=G12341765432171&/{COI}")
    assert "flags 71 carry check character 'B'" in refused.value.message


@pytest.mark.parametrize("flags", [f"{n:02d}" for n in range(60, 97) if n != 70])
def test_every_wrong_type_3_flag_is_refused_even_when_the_din_is_the_cases(flags: str) -> None:
    with pytest.raises(custody.IdentityMismatch):
        custody.check_scan(_case("G123417654321"), f"=G123417654321{flags}")


def test_a_refused_scan_quotes_only_a_short_prefix_of_what_was_scanned() -> None:
    scanned = f"=G12341765432170&/{COI}" + "\x1b[2J" * 2_000
    with pytest.raises(custody.IdentityMismatch) as refused:
        custody.check_scan(_case("G123417654321"), scanned)
    assert refused.value.message.isprintable()
    assert len(refused.value.message) < 250


# ---------------------------------------------------------------- the handlers on fakes


class PlainHasher:
    def hash(self, password: str) -> str:
        return "plain$" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "plain$" + password


class World:
    """The demo catalogue on a fake unit of work, with a case collected and picked up."""

    def __init__(self, clock: FixedClock) -> None:
        self.uow = FakeUnitOfWork(clock)
        handlers.ensure_system_user(self.uow, clock=clock)
        self.bus = MessageBus(
            lambda: self.uow,
            {"clock": clock, "hasher": PlainHasher(), "release_panels": release_panels},
        )
        self.bus.handle(demo_command(), actor=self.user("system"))
        driver = Driver(self.bus, self.user, clock)
        case = driver.enrol(EQUE_CEL_HK, patient_name="Test Patient", wristband="WB-1")
        self.case = driver.advance(case, EQUE_CEL_HK, CaseState.COLLECTED)
        assert self.case.current_din is not None
        self.din: str = self.case.current_din
        self.scan("apheresis_pickup", self.label(right=True), "courier")

    def user(self, username: str) -> User:
        user = self.uow.users.get(username)
        assert user is not None, username
        return user

    def label(self, *, right: bool) -> str:
        return f"={self.din}{_type3(self.din, right=right)}&/{self.case.coi}"

    def scan(self, point: str, data: str, as_user: str) -> object:
        return self.bus.handle(
            commands.ScanCustody(self.case.id, point, data), actor=self.user(as_user)
        )

    def stored(self) -> Case:
        case = self.uow.cases.get(self.case.id)
        assert case is not None
        return case


@pytest.fixture
def world(clock: FixedClock) -> World:
    return World(clock)


def test_a_hand_off_scan_with_the_right_type_3_flag_is_accepted(world: World) -> None:
    world.scan("manufacturing_receipt", world.label(right=True), "operator")
    assert world.stored().state is CaseState.AT_MANUFACTURING
    assert world.uow.incidents.find(case_id=world.case.id) == []


def test_a_hand_off_scan_with_a_wrong_type_3_flag_is_refused_as_an_incident(
    world: World,
) -> None:
    before = (world.stored().snapshot(), len(world.uow.custody_events.list()))
    scanned = world.label(right=False)

    with pytest.raises(custody.IdentityMismatch, match="type 3 flags") as refused:
        world.scan("manufacturing_receipt", scanned, "operator")

    (incident,) = world.uow.incidents.find(case_id=world.case.id)
    assert (incident.point, incident.actor, incident.scan_data) == (
        "manufacturing_receipt",
        "operator",
        scanned,
    )
    assert incident.message == refused.value.message
    assert world.uow.ledger.committed[-1].action == "custody.identity_incident"
    assert (world.stored().snapshot(), len(world.uow.custody_events.list())) == before
    assert world.stored().state is CaseState.COLLECTED
