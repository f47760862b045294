"""Who may do what with allogeneic MSC, and where (services/authority.py; docs/security.md,
"Site scope"): donors at the collection facility, lots at the facility, storage at the
depot, orders at the treatment centre, allocation and recall by QA; patients named only
to the care team of the order's centre; stock seen by everyone at work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veinline.domain.msc import Order
from veinline.domain.user import Role, User
from veinline.services import authority, commands, places
from veinline.services.authority import DataClass, Place, Read, Where

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DONOR = Where.at("donor D1", Place.FACILITY, "plant")
LOT = Where.at("lot L1", Place.FACILITY, "plant")
UNIT = Where.at_depot("storage unit T1", "depot")


def _user(role: Role, site: str | None) -> User:
    return User(f"{role.value}-{site}", "A user", role, site, T0)


def _order(depot: str | None = "depot") -> Order:
    order = Order("O1", "vum02", "CN", "centre", "doc", "Name", "WB-1", {}, 60, T0, {})
    order.depot = depot
    return order


@pytest.mark.parametrize(
    ("subject", "role", "home", "where"),
    [
        (commands.RegisterDonor, Role.QA_REVIEWER, "plant", DONOR),
        (commands.RegisterDonor, Role.QC_ANALYST, "plant", DONOR),
        (commands.ScreenDonor, Role.QA_REVIEWER, "plant", DONOR),
        (commands.StartLot, Role.MANUFACTURING_OPERATOR, "plant", LOT),
        (commands.RecallLot, Role.QA_REVIEWER, "plant", LOT),
        (commands.StoreVial, Role.MANUFACTURING_OPERATOR, "depot", UNIT),
        (commands.ImportUnitReadings, Role.QA_REVIEWER, "depot", UNIT),
        (commands.DisposeVials, Role.QA_REVIEWER, "depot", UNIT),
        (commands.PlaceOrder, Role.PHYSICIAN, "centre", places.of_order(_order())),
        (commands.ShipOrder, Role.COURIER, "depot", places.of_order(_order())),
        (commands.ReceiveOrder, Role.APHERESIS_NURSE, "centre", places.of_order(_order())),
        (commands.InfuseVial, Role.PHYSICIAN, "centre", places.of_order(_order())),
        (commands.ReturnVial, Role.MANUFACTURING_OPERATOR, "depot", UNIT),
    ],
)
def test_each_msc_step_is_done_at_its_own_site_only(
    subject: type[commands.Command], role: Role, home: str, where: Where
) -> None:
    assert authority.may(_user(role, home), subject, where)
    assert not authority.may(_user(role, "elsewhere"), subject, where)


@pytest.mark.parametrize(
    ("subject", "role"),
    [
        (commands.ScreenDonor, Role.QC_ANALYST),
        (commands.StartLot, Role.QA_REVIEWER),
        (commands.PlaceOrder, Role.APHERESIS_NURSE),
        (commands.AllocateOrder, Role.PHYSICIAN),
        (commands.RecallLot, Role.MANUFACTURING_OPERATOR),
        (commands.DisposeVials, Role.MANUFACTURING_OPERATOR),
        (commands.InfuseVial, Role.COURIER),
    ],
)
def test_the_wrong_role_is_refused_wherever_it_works(
    subject: type[commands.Command], role: Role
) -> None:
    assert not authority.may(_user(role, "anywhere"), subject)


def test_qa_allocates_from_any_depot() -> None:
    qa = _user(Role.QA_REVIEWER, "plant")
    assert authority.may(qa, commands.AllocateOrder, places.of_order(_order(None)))


def test_only_the_care_team_of_the_orders_centre_sees_the_patient() -> None:
    where = places.of_order(_order())
    assert authority.sees(_user(Role.PHYSICIAN, "centre"), Read.ORDER, where) is DataClass.FULL
    assert authority.sees(_user(Role.COORDINATOR, "centre"), Read.ORDER, where) is DataClass.FULL
    for reader in (
        _user(Role.PHYSICIAN, "another-centre"),
        _user(Role.QA_REVIEWER, "depot"),
        _user(Role.COURIER, "depot"),
        _user(Role.PLANNER, None),
    ):
        assert authority.sees(reader, Read.ORDER, where) is DataClass.IDENTIFIERS
    assert not authority.may(_user(Role.ADMIN, None), Read.ORDER, where)


def test_stock_is_seen_by_everyone_at_work_but_administrators() -> None:
    assert authority.may(_user(Role.PLANNER, None), Read.INVENTORY)
    assert authority.may(_user(Role.COURIER, "depot"), Read.INVENTORY)
    assert not authority.may(_user(Role.ADMIN, None), Read.INVENTORY)
