"""Site scope: each role acts on the records of the sites it works at, and nowhere else.

The authority table decides it (services/authority.py), against the sites of the record
(`Where`); the bus resolves them before any handler runs (services/places.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veinline.domain import custody
from veinline.domain.custody import CustodyPoint
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.user import Membership, Role, User
from veinline.services import authority, commands
from veinline.services.authority import DataClass, Read, Where

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

HK_CASE = Where(
    "case C1",
    treatment="hk-centre",
    apheresis="hk-unit",
    facility="suzhou-plant",
)
US_CASE = Where("case C2", treatment="nc-centre", apheresis="nc-unit", facility="rtp-plant")


def _user(role: Role, site: str | None, *also: Membership) -> User:
    return User(f"{role.value}-{site}", "A user", role, site, T0, also_at=tuple(also))


@pytest.mark.parametrize(
    ("role", "home", "subject"),
    [
        (Role.COORDINATOR, "hk-centre", commands.BookApheresis),
        (Role.PHYSICIAN, "hk-centre", commands.ConfirmEligibility),
        (Role.APHERESIS_NURSE, "hk-unit", commands.Collect),
        (Role.COURIER, "hk-unit", CustodyPoint.APHERESIS_PICKUP),
        (Role.MANUFACTURING_OPERATOR, "suzhou-plant", commands.StartManufacturing),
        (Role.QC_ANALYST, "suzhou-plant", commands.EnterResult),
        (Role.QA_REVIEWER, "suzhou-plant", commands.ReleaseBatch),
    ],
)
def test_each_role_acts_at_its_own_sites_records_only(
    role: Role, home: str, subject: authority.Subject
) -> None:
    user = _user(role, home)
    assert authority.may(user, subject, HK_CASE)
    assert not authority.may(user, subject, US_CASE)
    with pytest.raises(NotAllowed, match=r"not at the sites of case C2 \(treatment centre nc-"):
        authority.check(user, subject, US_CASE)


def test_a_facilitys_staff_do_not_act_for_the_treatment_centre_nor_the_reverse() -> None:
    # A facility's operator on a case whose facility is elsewhere, even at the same city.
    operator = _user(Role.MANUFACTURING_OPERATOR, "hk-centre")
    assert not authority.may(operator, commands.StartManufacturing, HK_CASE)
    coordinator = _user(Role.COORDINATOR, "suzhou-plant")
    assert not authority.may(coordinator, commands.BookApheresis, HK_CASE)


def test_a_user_who_works_at_several_sites_acts_at_each_with_the_role_held_there() -> None:
    user = _user(
        Role.COORDINATOR,
        "nc-centre",
        Membership("hk-centre", Role.COORDINATOR),
        Membership("suzhou-plant", Role.QA_REVIEWER),
    )
    assert authority.may(user, commands.BookApheresis, HK_CASE)
    assert authority.may(user, commands.BookApheresis, US_CASE)
    # QA at Suzhou, so QA's release there; but not QA at RTP.
    assert authority.may(user, commands.ReleaseBatch, HK_CASE)
    assert not authority.may(user, commands.ReleaseBatch, US_CASE)
    assert user.roles == {Role.COORDINATOR, Role.QA_REVIEWER}


def test_planners_work_across_the_network_and_administrators_on_no_patient() -> None:
    planner = _user(Role.PLANNER, None)
    assert authority.may(planner, commands.SetPlannedDates, HK_CASE)
    assert authority.may(planner, commands.SetPlannedDates, US_CASE)
    assert authority.sees(planner, Read.CASE, HK_CASE) is DataClass.IDENTIFIERS
    admin = _user(Role.ADMIN, None)
    assert authority.may(admin, commands.CreateUser)
    for subject in (commands.EnrolPatient, commands.Collect, commands.Infuse, Read.CASE):
        assert not authority.may(admin, subject, HK_CASE)


def test_patient_data_is_seen_by_the_care_team_of_the_record_only() -> None:
    coordinator = _user(Role.COORDINATOR, "hk-centre")
    assert authority.sees(coordinator, Read.CASE, HK_CASE) is DataClass.FULL
    # Another centre's coordinator may not even read the case.
    other = _user(Role.COORDINATOR, "nc-centre")
    assert not authority.visible(other, Read.CASE, HK_CASE)
    assert authority.sees(other, Read.CASE, HK_CASE) is DataClass.IDENTIFIERS
    for role, site in (
        (Role.QA_REVIEWER, "suzhou-plant"),
        (Role.COURIER, "hk-unit"),
        (Role.QC_ANALYST, "suzhou-plant"),
    ):
        reader = _user(role, site)
        assert authority.require_read(reader, Read.CASE, HK_CASE) is DataClass.IDENTIFIERS


def test_a_deactivated_user_acts_nowhere() -> None:
    user = _user(Role.COORDINATOR, "hk-centre")
    user.deactivate()
    with pytest.raises(NotAllowed, match="deactivated"):
        authority.check(user, commands.BookApheresis, HK_CASE)


def test_rules_that_belong_to_no_site_ignore_the_record() -> None:
    qa = _user(Role.QA_REVIEWER, "rtp-plant")
    assert authority.rule_for(commands.ApproveSpecification).scope is authority.Scope.ANY_SITE
    assert authority.may(qa, commands.ApproveSpecification, HK_CASE)


def test_memberships_are_granted_once_and_the_home_site_is_not_revoked() -> None:
    user = _user(Role.COURIER, None)
    user.grant(Membership("hk-unit", Role.COURIER))
    with pytest.raises(InvalidInput, match="already works at hk-unit"):
        user.grant(Membership("hk-unit", Role.COURIER))
    user.revoke("hk-unit")
    assert user.memberships == ()
    with pytest.raises(InvalidInput, match="does not work at hk-unit"):
        user.revoke("hk-unit")
    home = _user(Role.COORDINATOR, "hk-centre")
    with pytest.raises(InvalidInput, match="home site"):
        home.revoke("hk-centre")
    assert Membership.parse("hk-unit:apheresis nurse", Role.COURIER) == Membership(
        "hk-unit", Role.APHERESIS_NURSE
    )
    assert Membership.parse("hk-unit", Role.COURIER).role is Role.COURIER


class _Case:
    apheresis_site = "hk-unit"
    manufacturing_site = "suzhou-plant"
    treatment_site = "hk-centre"


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        (CustodyPoint.COLLECTION, "hk-unit"),
        (CustodyPoint.APHERESIS_PICKUP, "hk-unit"),
        (CustodyPoint.MANUFACTURING_RECEIPT, "suzhou-plant"),
        (CustodyPoint.PRODUCT_PICKUP, "suzhou-plant"),
        (CustodyPoint.SITE_RECEIPT, "hk-centre"),
        (CustodyPoint.BEDSIDE, "hk-centre"),
    ],
)
def test_each_hand_off_happens_where_the_material_is_expected(
    point: CustodyPoint, expected: str
) -> None:
    assert custody.expected_place(point, _Case()) == expected  # type: ignore[arg-type]


def test_a_shipments_own_ends_say_where_its_pickup_and_receipt_happen() -> None:
    place = custody.expected_place(
        CustodyPoint.MANUFACTURING_RECEIPT,
        _Case(),  # type: ignore[arg-type]
        shipment_from="hk-unit",
        shipment_to="other-plant",
    )
    assert place == "other-plant"


def test_a_scan_place_is_checked_never_taken_on_the_clients_word() -> None:
    point = CustodyPoint.APHERESIS_PICKUP
    sites = frozenset({"hk-unit", "hk-centre"})
    assert custody.check_place(point, "hk-unit", None, sites) == "hk-unit"
    assert custody.check_place(point, "hk-unit", " hk-unit ", sites) == "hk-unit"
    with pytest.raises(NotAllowed, match="happens at hk-unit, where the material is expected"):
        custody.check_place(point, "hk-unit", "invented-site", sites)
    with pytest.raises(NotAllowed, match="you do not work at hk-unit"):
        custody.check_place(point, "hk-unit", None, frozenset({"nc-unit"}))
    with pytest.raises(InvalidInput, match="say where"):
        custody.check_place(point, None, "", sites)
