"""The pure rules of allogeneic MSC: donors, vials, storage, dose, allocation, recall."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from veinline.domain import msc
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.user import Role, User

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
QA = User("qa", "QA Printed", Role.QA_REVIEWER, "fac", T0)
OP = User("op", "Operator Printed", Role.MANUFACTURING_OPERATOR, "fac", T0)

NEGATIVE = {test: "negative" for test in msc.REQUIRED_TESTS}


def donor(consent: bool = True) -> msc.Donor:
    return msc.new_donor(
        "DNR-1",
        "fac",
        "cord 2026-17",
        consent_given=consent,
        consent_date="2026-02-01",
        by=QA,
        at=T0,
    )


def vial(
    n: int,
    *,
    lot: str = "LOT-1",
    site: str = "depot-a",
    days: int = 365,
    status: msc.VialStatus = msc.VialStatus.STORED,
) -> msc.Vial:
    return msc.Vial(
        id=f"{lot}-{n:03d}",
        lot_id=lot,
        product_code="vum02",
        din="A999726000001",
        division=msc.division(n),
        cells=1e8,
        volume_ml=10,
        expires_at=T0 + timedelta(days=days),
        site=site,
        status=status,
    )


def test_donor_with_every_required_test_negative_and_consent_is_eligible() -> None:
    d = donor()
    assert d.screen(NEGATIVE, questionnaire_passed=True, by=QA, at=T0) is msc.DonorStatus.ELIGIBLE
    assert d.review is not None and d.review.meaning.value == "reviewed"
    d.guard_start_lot()


@pytest.mark.parametrize(
    ("results", "questionnaire", "consent", "reason"),
    [
        ({**NEGATIVE, "hcv": "reactive"}, True, True, "hcv reactive"),
        ({k: v for k, v in NEGATIVE.items() if k != "hiv_2"}, True, True, "hiv_2 not tested"),
        (NEGATIVE, False, True, "questionnaire"),
        (NEGATIVE, True, False, "no consent"),
        ({**NEGATIVE, "cmv": "positive"}, True, True, "cmv positive"),
    ],
)
def test_an_ineligible_donor_never_starts_a_lot(
    results: dict[str, str], questionnaire: bool, consent: bool, reason: str
) -> None:
    d = donor(consent)
    assert d.screen(results, questionnaire_passed=questionnaire, by=QA, at=T0) is (
        msc.DonorStatus.INELIGIBLE
    )
    with pytest.raises(NotAllowed, match=reason):
        d.guard_start_lot()


def test_unreviewed_donor_cannot_start_a_lot_and_review_is_once() -> None:
    d = donor()
    with pytest.raises(NotAllowed, match="pending"):
        d.guard_start_lot()
    d.screen(NEGATIVE, questionnaire_passed=True, by=QA, at=T0)
    with pytest.raises(NotAllowed, match="reviewed already"):
        d.screen(NEGATIVE, questionnaire_passed=True, by=QA, at=T0)


def test_each_vial_is_its_own_isbt_division() -> None:
    assert [msc.division(n) for n in (1, 2, 10, 11, 36, 37)] == [
        "A0",
        "A1",
        "A9",
        "Aa",
        "Az",
        "B0",
    ]
    assert len({msc.division(n) for n in range(1, msc.MAX_DIVISIONS + 1)}) == msc.MAX_DIVISIONS
    with pytest.raises(InvalidInput):
        msc.division(msc.MAX_DIVISIONS + 1)


def test_storage_addresses_are_checked_against_the_unit() -> None:
    unit = msc.new_unit(
        "TANK-1", "depot-a", "ln2_tank", racks=2, boxes_per_rack=2, rows=3, columns=3
    )
    assert unit.capacity == 36
    assert unit.address("R2/B1/C3") == "TANK-1/R2/B1/C3"
    for bad in ("R3/B1/A1", "R1/B1/D1", "R1/B1/A4", "nonsense"):
        with pytest.raises(InvalidInput):
            unit.address(bad)
    assert unit.first_free({"TANK-1/R1/B1/A1"}) == "TANK-1/R1/B1/A2"
    with pytest.raises(NotAllowed, match="full"):
        unit.first_free(set(unit.positions()))
    with pytest.raises(InvalidInput, match="kind"):
        msc.new_unit("X", "s", "fridge", racks=1, boxes_per_rack=1, rows=1, columns=1)


def test_putting_away_and_moving_are_recorded_in_the_vials_history() -> None:
    unit = msc.new_unit(
        "TANK-1", "depot-a", "ln2_tank", racks=1, boxes_per_rack=1, rows=2, columns=2
    )
    v = vial(1, status=msc.VialStatus.FILLED)
    v.put_away(unit, "R1/B1/A1", by=OP, at=T0)
    v.put_away(unit, "R1/B1/B2", by=OP, at=T0)
    assert v.status is msc.VialStatus.STORED and v.position == "TANK-1/R1/B1/B2"
    assert [h["what"] for h in v.history] == ["put away", "moved"]
    assert v.history[1]["was"] == "TANK-1/R1/B1/A1"


def test_alarm_over_the_limit_and_none_within() -> None:
    unit = msc.new_unit(
        "F-1", "d", "freezer", racks=1, boxes_per_rack=1, rows=1, columns=1, max_c=-150
    )
    assert unit.raise_alarm([(T0, -190.0), (T0 + timedelta(hours=1), -180.0)]) is None
    alarm = unit.raise_alarm([(T0, -190.0), (T0 + timedelta(hours=1), -120.0)])
    assert alarm is not None and alarm["max_c"] == -120.0


def test_dose_is_rounded_up_to_whole_vials_per_infusion_and_says_so() -> None:
    rule = {"kind": "per_kg", "cells_per_kg": 1e6, "infusions": 8}
    course = msc.course_of(rule, 55, 5e7)
    assert course.vials_per_infusion == 2  # 5.5e7 cells → 1.1 vials → 2
    assert course.vials == 16
    assert "rounded up to 2 whole vial(s)" in course.rounding
    assert msc.course_of(rule, 50, 5e7).vials_per_infusion == 1  # exactly one vial
    with pytest.raises(NotAllowed, match="dose rule"):
        msc.course_of(None, 50, 5e7)
    with pytest.raises(InvalidInput, match="plausible"):
        msc.course_of(rule, 0, 5e7)


def test_allocation_is_fefo_from_the_depot_that_delivers_soonest() -> None:
    near = [vial(n, site="near", days=100 + n) for n in range(1, 5)]
    far = [vial(n, lot="LOT-2", site="far", days=10) for n in range(1, 9)]
    result = msc.allocate(
        3,
        [*reversed(near), *far],
        transport_hours={"near": 4, "far": 30},
        released_lots={"LOT-1", "LOT-2"},
        now=T0,
    )
    assert result.complete and result.depot == "near"
    assert result.vial_ids == ("LOT-1-001", "LOT-1-002", "LOT-1-003")


def test_a_depot_that_cannot_serve_the_whole_course_is_passed_over() -> None:
    near = [vial(n, site="near") for n in range(1, 3)]
    far = [vial(n, lot="LOT-2", site="far") for n in range(1, 9)]
    result = msc.allocate(
        4,
        [*near, *far],
        transport_hours={"near": 4, "far": 30},
        released_lots={"LOT-1", "LOT-2"},
        now=T0,
    )
    assert result.depot == "far" and len(result.vial_ids) == 4


@pytest.mark.parametrize("why", ["expired", "quarantined", "unreleased", "ordered", "no lane"])
def test_expired_quarantined_unreleased_or_taken_vials_are_never_allocated(why: str) -> None:
    v = vial(1)
    released = {"LOT-1"}
    lanes = {"depot-a": 5.0}
    if why == "expired":
        v.expires_at = T0 + timedelta(hours=2)  # expires before it could arrive
    elif why == "quarantined":
        v.hold("alarm", "alarm", by=QA, at=T0)
    elif why == "unreleased":
        released = set()
    elif why == "ordered":
        v.order_id = "ORD-1"
    else:
        lanes = {}
    result = msc.allocate(1, [v], transport_hours=lanes, released_lots=released, now=T0)
    assert not result.complete and result.short == 1 and result.vial_ids == ()


def test_shortage_says_what_is_short_and_when_stock_is_expected() -> None:
    result = msc.allocate(
        5,
        [vial(n) for n in range(1, 3)],
        transport_hours={"depot-a": 5},
        released_lots={"LOT-1"},
        now=T0,
        incoming=[(T0 + timedelta(days=20), 2), (T0 + timedelta(days=40), 10)],
    )
    assert result.short == 3
    assert "3 short" in result.message
    assert result.expected is not None and result.expected.startswith("2026-04-10")


def test_recall_quarantines_every_unused_vial_and_names_the_recipients() -> None:
    lot = msc.Lot("LOT-1", "vum02", "DNR-1", "B-1", "fac", "CN", "A999726000001", T0)
    vials = [vial(n) for n in range(1, 6)]
    vials[0].status, vials[0].order_id = msc.VialStatus.INFUSED, "ORD-1"
    vials[1].status, vials[1].order_id = msc.VialStatus.SHIPPED, "ORD-2"
    held = msc.recall_lot(lot, vials, reason="sterility failure found late", by=QA, at=T0)
    assert [v.id for v in held] == [v.id for v in vials[1:]]
    assert all(v.quarantined for v in vials[1:]) and not vials[0].quarantined
    assert msc.recipients(vials) == ["ORD-1", "ORD-2"]
    with pytest.raises(NotAllowed, match="recalled"):
        vials[2].dispose(release=True, reason="looks fine", by=QA, at=T0)
    with pytest.raises(NotAllowed, match="already"):
        msc.recall_lot(lot, vials, reason="again", by=QA, at=T0)


def test_lookback_shows_names_only_to_the_care_team() -> None:
    order = msc.Order(
        "ORD-1",
        "vum02",
        "CN",
        "centre",
        "doc",
        "Patient Name",
        "WB-1",
        {},
        60,
        T0,
        {},
    )
    v = vial(1)
    v.status, v.order_id = msc.VialStatus.INFUSED, "ORD-1"
    full = msc.lookback([v, vial(2)], {"ORD-1": order}, shown={"ORD-1"})
    assert full[0].recipient == "Patient Name (WB-1)" and full[1].recipient is None
    masked = msc.lookback([v], {"ORD-1": order}, shown=set())
    assert masked[0].recipient == "ORD-1"


def test_a_hand_off_needs_every_vial_of_the_order_scanned_and_no_other() -> None:
    from veinline.domain.custody import IdentityMismatch

    vials = [vial(1), vial(2)]
    codes = [f"={v.barcode}" for v in vials]
    msc.check_scans(vials, codes, point="pickup")
    for scans, why in (
        (codes[:1], "not scanned: LOT-1-002"),
        ([*codes, "=A999926000099A0"], "not this order's"),
        ([*codes, codes[0]], "scanned twice"),
    ):
        with pytest.raises(IdentityMismatch, match=why):
            msc.check_scans(vials, scans, point="pickup")


def test_return_to_stock_is_decided_by_the_cold_chain_and_time() -> None:
    v = vial(1, status=msc.VialStatus.RECEIVED)
    ok = msc.may_return(v, cold_chain="", out_since=T0, now=T0 + timedelta(hours=2), hours=48)
    assert ok == ""
    warm = "the cold-chain record shows a temperature excursion"
    assert msc.may_return(v, cold_chain=warm, out_since=T0, now=T0, hours=48) == warm
    late = msc.may_return(v, cold_chain="", out_since=T0, now=T0 + timedelta(days=3), hours=48)
    assert "48 hours" in late
    v.status = msc.VialStatus.THAWED
    assert "thawed" in msc.may_return(v, cold_chain="", out_since=T0, now=T0, hours=48)


def test_a_vial_is_read_from_its_isbt_din_and_product_code_barcodes() -> None:
    from veinline.domain.custody import IdentityMismatch

    v = vial(2)  # division A1
    # DS001 (DIN with its flags) then DS003 (product code: S1234, collection type V, A1).
    scan = f"={v.din}00=<S1234VA1"
    assert msc.read_vial_scan(scan, isbt_product_code="S1234") == v.barcode
    assert msc.read_vial_scan(f"={v.barcode}") == v.barcode  # the short form, typed
    with pytest.raises(IdentityMismatch, match="not this product's"):
        msc.read_vial_scan(scan, isbt_product_code="S9999")
    read = msc.check_scans([v], [scan], point="pickup", isbt_product_code="S1234")
    assert read == {"dins": [v.din], "vials": [v.barcode]}


def test_a_shipment_restocks_only_with_a_logger_record_and_no_excursion() -> None:
    from veinline.domain.coldchain import Reading, ShipperType
    from veinline.domain.shipment import Leg, Shipment

    def shipment() -> Shipment:
        return Shipment(
            "ORD-1-S01", None, Leg.VIALS, ShipperType.LN2_VAPOUR, "depot", "centre", T0,
            None, -150.0, order_id="ORD-1",
        )  # fmt: skip

    cold = shipment()
    assert cold.may_restock() == "the shipment has no logger readings" and cold.blocked
    cold.record_readings([Reading(T0 + timedelta(minutes=10 * i), -185.0) for i in range(3)])
    assert cold.may_restock() == "" and not cold.blocked
    assert cold.snapshot()["order_id"] == "ORD-1" and cold.snapshot()["case_id"] is None
    warm = shipment()
    warm.record_readings([Reading(T0, -185.0), Reading(T0 + timedelta(minutes=10), -120.0)])
    assert warm.blocked
    warm.dispose("accept", "10 min at -120 °C, within the stability data", "qa", T0)
    # QA's acceptance lets this patient's vials be received, never restocked for another.
    assert not warm.blocked and "excursion" in warm.may_restock()


def test_forecast_gives_days_left_with_an_interval() -> None:
    [line] = msc.forecast({("d", "vum02"): 30}, {("d", "vum02"): 9}, window_days=90)
    assert line.rate_per_day == pytest.approx(0.1)
    assert line.days_left == pytest.approx(300)
    assert line.days_low is not None and line.days_high is not None
    assert line.days_low < 300 < line.days_high
    [idle] = msc.forecast({("d", "p"): 10}, {}, window_days=90)
    assert idle.days_left is None and idle.days_low is not None and idle.days_high is None


def test_a_vial_label_carries_the_lots_din_its_division_and_says_what_is_unconfirmed() -> None:
    from veinline.domain.labels import VialFacts, vial_label

    facts = VialFacts(
        product_code="vum02",
        product_name="VUM02",
        din="A999726000001",
        division="B3",
        isbt_product_code=None,
        collection_type="7",
        lot_id="LOT-1",
        cells=5e7,
        volume_ml=10,
        expires_at=T0 + timedelta(days=200),
        facility_name="Demo plant",
        facility_timezone="Asia/Shanghai",
    )
    text = "\n".join(vial_label(facts).text_lines())
    assert "vial B3 of lot LOT-1" in text and "Division: B3" in text
    assert "storage limit to be confirmed" in text and "product code not assigned" in text
    assert "NOT FOR CLINICAL USE" in text  # a validation FIN
    coded = vial_label(replace(facts, isbt_product_code="S1234", storage_max_c=-150.0))
    assert "=<S12347B3" in [b.data for b in coded.linear]  # ST-001 §2.4.3: the division
    assert "Storage: cryopreserved, at or below -150 °C" in coded.text_lines()
