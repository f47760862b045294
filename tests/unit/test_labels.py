"""Label content: ISBT 128 barcode data and eye-readable text of each label of the journey."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from veinline.domain import isbt128
from veinline.domain.errors import InvalidInput
from veinline.domain.labels import (
    INVESTIGATIONAL_STATEMENTS,
    BedsideIdentifiers,
    Label,
    LabelFacts,
    LabelKind,
    Symbology,
    Text,
    build_label,
    investigational_statement,
    reconcile,
    reconciliation_totals,
)

DIN = "A999526000001"
COI = "CHA999526000001"
# 2026-03-02 09:30 in Hong Kong; 2026-09-02 17:00 in Shanghai (both UTC+8).
COLLECTED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
EXPIRES = datetime(2026, 9, 2, 9, 0, tzinfo=UTC)


def make_facts(**changes: Any) -> LabelFacts:
    facts = LabelFacts(
        product_code="eque-cel",
        product_name="equecabtagene autoleucel (Fucaso)",
        coi=COI,
        din=DIN,
        isbt_product_code="S9999",
        collection_type="1",
        collected_at=COLLECTED,
        site_name="Demo Hospital Hong Kong",
        site_timezone="Asia/Hong_Kong",
        manufacturing_timezone="Asia/Shanghai",
        expires_at=EXPIRES,
        batch_id="B-26-0001",
        bag_number=1,
        bag_count=2,
        storage_max_c=-150,
        post_thaw_window_minutes=30,
        shipper_type_label="LN2 dry vapour shipper",
        ship_from="Demo GMP facility Shanghai",
        ship_to="Demo Hospital Hong Kong",
        shipment_id="SHP-26-0042",
        dispatched_at=datetime(2026, 4, 1, 2, 0, tzinfo=UTC),
        volume_ml=250.0,
        anticoagulant="ACD-A",
        # Fictional: the identifiers the bedside check compares (name and MRN).
        patient_identifiers=(("Patient", "TEST PATIENT"), ("MRN", "MRN-0001")),
    )
    return dataclasses.replace(facts, **changes)


def data_of(label: Label) -> list[str]:
    return [b.data for b in label.linear]


def text_of(label: Label, caption: str) -> Text:
    for text in [*(b.text for b in label.linear if b.text is not None), *label.lines]:
        if text.caption == caption:
            return text
    raise AssertionError(f"no {caption!r} on the label: {label.text_lines()}")


# --- barcode data, per kind ----------------------------------------------------------------


def test_apheresis_bag_carries_din_coi_product_code_and_collection_time() -> None:
    label = build_label(LabelKind.APHERESIS_BAG, make_facts(expires_at=None, bag_count=1))

    assert data_of(label) == [
        "=A99952600000100",
        "&/CHA999526000001",
        "=<S9999100",
        "&*0260610930",  # day 061 of 2026, 09:30 Hong Kong time
    ]


def test_final_product_bag_carries_its_division_and_expiry() -> None:
    label = build_label(LabelKind.PRODUCT_BAG, make_facts(bag_number=2, bag_count=3))

    assert data_of(label) == [
        "=A99952600000100",
        "&/CHA999526000001",
        "=<S99991B0",  # S9999, autologous use only, division B: bag 2 of 3
        "&>0262451700",  # day 245 of 2026, 17:00 Shanghai time
    ]


def test_single_final_product_bag_is_undivided() -> None:
    label = build_label(LabelKind.PRODUCT_BAG, make_facts(bag_count=1))

    assert "=<S9999100" in data_of(label)
    assert label.title == "FINAL PRODUCT — bag 1 of 1"


def test_every_bag_of_a_divided_product_has_its_own_product_code() -> None:
    codes = {
        build_label(LabelKind.PRODUCT_BAG, make_facts(bag_number=n, bag_count=4)).linear[2].data
        for n in range(1, 5)
    }

    assert codes == {"=<S99991A0", "=<S99991B0", "=<S99991C0", "=<S99991D0"}


@pytest.mark.parametrize(
    ("bag_number", "bag_count", "flags"),
    [(1, 1, "00"), (1, 2, "01"), (2, 2, "02"), (4, 4, "04"), (5, 9, "15"), (9, 9, "19")],
)
def test_apheresis_bags_of_one_collection_are_flagged_as_containers_of_a_set(
    bag_number: int, bag_count: int, flags: str
) -> None:
    label = build_label(
        LabelKind.APHERESIS_BAG, make_facts(bag_number=bag_number, bag_count=bag_count)
    )

    din = isbt128.parse(label.linear[0].data)[0]
    assert din.fields["flags"] == flags
    assert label.linear[0].text is not None
    assert label.linear[0].text.flags == flags


def test_shipper_carries_din_coi_and_expiry_but_leaves_product_codes_to_the_bags() -> None:
    label = build_label(LabelKind.SHIPPER, make_facts())

    assert data_of(label) == ["=A99952600000100", "&/CHA999526000001", "&>0262451700"]


@pytest.mark.parametrize("kind", list(LabelKind))
def test_every_barcode_reads_back_through_the_isbt_128_reader(kind: LabelKind) -> None:
    label = build_label(kind, make_facts())

    read = {}
    for barcode in label.linear:
        (structure,) = isbt128.parse(barcode.data)  # exactly one structure a linear barcode
        read[structure.number] = structure.fields
    assert read["001"]["din"] == DIN
    assert read["001"]["check_character"] == text_of(label, "DIN").boxed
    assert read["040"]["coi"] == COI
    assert read["040"]["check_character"] == text_of(label, "CoI").boxed
    if kind is not LabelKind.SHIPPER:
        assert read["003"]["product_description_code"] == "S9999"
        assert read["003"]["collection_type_meaning"] == "for autologous use only"


@pytest.mark.parametrize("kind", list(LabelKind))
def test_data_matrix_is_a_compound_message_of_every_linear_barcode(kind: LabelKind) -> None:
    label = build_label(kind, make_facts())

    assert label.matrix.symbology is Symbology.DATAMATRIX
    header, *structures = isbt128.parse(label.matrix.data)
    assert header.number == "023"
    assert header.fields["declared_count"] == len(label.linear) == len(structures)
    assert header.fields["order_reference"] == "000"
    assert [s.number for s in structures] == [isbt128.parse(d)[0].number for d in data_of(label)]
    assert label.matrix.data == f"=+{len(label.linear):02d}000" + "".join(data_of(label))


def test_data_matrix_of_a_label_without_product_code_counts_one_structure_less() -> None:
    with_code = build_label(LabelKind.PRODUCT_BAG, make_facts())
    without = build_label(LabelKind.PRODUCT_BAG, make_facts(isbt_product_code=None))

    counts = [
        isbt128.parse(label.matrix.data)[0].fields["declared_count"]
        for label in (with_code, without)
    ]
    assert counts == [4, 3]


# --- eye-readable text ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LabelKind))
def test_din_is_printed_grouped_with_its_check_character_boxed(kind: LabelKind) -> None:
    din = text_of(build_label(kind, make_facts()), "DIN")

    assert din.value == "A9995 26 000001"
    assert din.boxed == isbt128.check_character(DIN) == "L"


def test_coi_is_printed_with_its_own_check_character_boxed() -> None:
    coi = text_of(build_label(LabelKind.PRODUCT_BAG, make_facts()), "CoI")

    assert coi.value == "CH A9995 26 000001"
    assert coi.boxed == isbt128.coi_check_character(COI)


def test_dates_are_iso_8601_24_hour_in_the_local_zone_and_in_utc() -> None:
    label = build_label(LabelKind.APHERESIS_BAG, make_facts())

    collected = text_of(label, "Collected (Asia/Hong_Kong)")
    assert collected.value == "2026-03-02 09:30 +08:00"
    assert collected.detail == "2026-03-02 01:30 UTC"


def test_isbt_dates_are_the_labelling_facilitys_local_time() -> None:
    # The bag is labelled in New York: 09:00 UTC is 05:00 EDT there.
    label = build_label(
        LabelKind.PRODUCT_BAG, make_facts(manufacturing_timezone="America/New_York")
    )

    assert "&>0262450500" in data_of(label)
    expires = text_of(label, "Expires (America/New_York)")
    assert (expires.value, expires.detail) == ("2026-09-02 05:00 -04:00", "2026-09-02 09:00 UTC")
    (structure,) = isbt128.parse("&>0262450500")
    assert structure.fields["datetime"] == "2026-09-02T05:00"


def test_a_collection_late_in_utc_takes_the_next_local_day_and_year() -> None:
    label = build_label(
        LabelKind.APHERESIS_BAG,
        make_facts(
            collected_at=datetime(2026, 12, 31, 20, 0, tzinfo=UTC),
            expires_at=None,
            dispatched_at=None,
        ),
    )

    assert "&*0270010400" in data_of(label)  # 2027-01-01 04:00 in Hong Kong


def test_expiry_drops_seconds_so_it_never_reads_late() -> None:
    label = build_label(
        LabelKind.PRODUCT_BAG, make_facts(expires_at=EXPIRES + timedelta(seconds=59))
    )

    assert "&>0262451700" in data_of(label)


def test_collection_type_is_written_in_words() -> None:
    label = build_label(LabelKind.PRODUCT_BAG, make_facts(collection_type="X"))

    assert text_of(label, "Collection type").value == "For autologous use only, biohazard"
    assert "=<S9999X" in label.linear[2].data


def test_missing_product_code_is_said_and_its_barcode_left_out() -> None:
    label = build_label(LabelKind.PRODUCT_BAG, make_facts(isbt_product_code=None))

    assert text_of(label, "ISBT 128 product code").value == "product code not assigned"
    assert not [d for d in data_of(label) if d.startswith("=<")]


@pytest.mark.parametrize(
    ("kind", "changes", "title"),
    [
        (LabelKind.APHERESIS_BAG, {"bag_count": 1}, "APHERESIS COLLECTION"),
        (LabelKind.APHERESIS_BAG, {"bag_count": 2}, "APHERESIS COLLECTION — bag 1 of 2"),
        (LabelKind.PRODUCT_BAG, {"bag_count": 2}, "FINAL PRODUCT — bag 1 of 2"),
        (LabelKind.SHIPPER, {}, "SHIPPER"),
    ],
)
def test_title_names_the_item_and_its_bag(
    kind: LabelKind, changes: dict[str, Any], title: str
) -> None:
    assert build_label(kind, make_facts(**changes)).title == title


def test_product_bag_shows_batch_storage_and_thaw_window() -> None:
    lines = build_label(LabelKind.PRODUCT_BAG, make_facts()).text_lines()

    assert "Batch: B-26-0001" in lines
    assert "Storage: cryopreserved, at or below -150 °C" in lines
    assert "After thaw: use within 30 minutes" in lines
    assert "Collection site: Demo Hospital Hong Kong" in lines


def test_shipper_shows_route_contents_and_dispatch_time() -> None:
    lines = build_label(LabelKind.SHIPPER, make_facts()).text_lines()

    assert "Shipment: SHP-26-0042" in lines
    assert "Contents: Final product, 2 bags" in lines
    assert "From: Demo GMP facility Shanghai" in lines
    assert "To: Demo Hospital Hong Kong" in lines
    assert "Shipper: LN2 dry vapour shipper" in lines
    assert "Dispatched (Asia/Shanghai): 2026-04-01 10:00 +08:00 / 2026-04-01 02:00 UTC" in lines


def test_shipper_of_an_apheresis_collection_is_dated_in_the_collection_sites_zone() -> None:
    label = build_label(
        LabelKind.SHIPPER,
        make_facts(
            shipper_contents=LabelKind.APHERESIS_BAG,
            manufacturing_timezone="Europe/London",
            expires_at=None,
        ),
    )

    assert "Contents: Apheresis collection, 2 bags" in label.text_lines()
    assert text_of(label, "Dispatched (Asia/Hong_Kong)").value == "2026-04-01 10:00 +08:00"


def test_validation_identifiers_are_marked_not_for_clinical_use() -> None:
    demo = build_label(LabelKind.PRODUCT_BAG, make_facts())
    real = build_label(
        LabelKind.PRODUCT_BAG, make_facts(din="W123426000001", coi="CHW123426000001")
    )

    assert demo.notice == "VALIDATION DATA (FIN A9995): NOT FOR CLINICAL USE"
    assert real.notice is None


# --- no patient identity on any label ------------------------------------------------------

# Audited: each input is an identifier, the product, a site, or logistics. A new field must
# be added here on purpose, after checking it cannot carry who the patient is.
AUDITED_FACTS = {
    "product_code",
    "product_name",
    "coi",
    "din",
    "isbt_product_code",
    "collection_type",
    "collected_at",
    "site_name",
    "site_timezone",
    "manufacturing_timezone",
    "expires_at",
    "batch_id",
    "bag_number",
    "bag_count",
    "storage_max_c",
    "post_thaw_window_minutes",
    "shipper_type_label",
    "ship_from",
    "ship_to",
    "shipment_id",
    "dispatched_at",
    "shipper_contents",
    "volume_ml",
    "anticoagulant",
    # Printed on final product bags only (the bedside check's identifiers).
    "patient_identifiers",
    "statements",
}
PERSONAL_WORDS = ("patient", "birth", "dob", "born", "mrn", "medical record", "recipient name")


def test_label_facts_fields_are_audited_and_one_alone_carries_the_patient() -> None:
    names = {f.name for f in dataclasses.fields(LabelFacts)}

    assert names == AUDITED_FACTS
    personal = [n for n in names if any(w in n.replace("_", " ") for w in PERSONAL_WORDS)]
    assert personal == ["patient_identifiers"]


@pytest.mark.parametrize("kind", [LabelKind.APHERESIS_BAG, LabelKind.SHIPPER])
def test_collection_and_shipper_labels_carry_no_patient_identity(kind: LabelKind) -> None:
    # Given the identifiers, these labels still leave them off: manufacturing and couriers
    # see the DIN and CoI only.
    label = build_label(kind, make_facts())

    lowered = "\n".join(label.text_lines()).lower()
    assert not [w for w in PERSONAL_WORDS if w in lowered]
    assert "test patient" not in lowered and "mrn-0001" not in lowered


@pytest.mark.parametrize("kind", list(LabelKind))
def test_no_barcode_carries_the_patients_identity(kind: LabelKind) -> None:
    label = build_label(kind, make_facts())
    structures = [s for b in label.barcodes for s in isbt128.parse(b.data)]
    # ST-001 DS024 is the patient's date of birth, DS025 the patient identification number.
    assert not {"024", "025"} & {s.number for s in structures}
    assert not any("TEST PATIENT" in b.data or "MRN-0001" in b.data for b in label.barcodes)


def test_a_final_bag_carries_the_identifiers_the_bedside_check_compares() -> None:
    label = build_label(LabelKind.PRODUCT_BAG, make_facts())

    assert text_of(label, "Patient").value == "TEST PATIENT"
    assert text_of(label, "MRN").value == "MRN-0001"
    assert text_of(label, "Patient").strong


def test_a_final_bag_without_two_patient_identifiers_is_refused() -> None:
    with pytest.raises(InvalidInput, match="name and a second identifier"):
        build_label(
            LabelKind.PRODUCT_BAG,
            make_facts(patient_identifiers=(("Patient", "TEST PATIENT"),)),
        )


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"din": "A99952600000"}, "a DIN has 13 characters"),
        ({"din": "a999526000001"}, "upper case"),
        ({"din": "A99952600000100"}, "leave out the 2 flag characters"),
        ({"coi": "CHA99952600001"}, "a CoI identifier has 15 characters"),
        ({"collected_at": datetime(2026, 3, 2, 9, 30)}, "collected_at 2026-03-02T09:30:00 has no"),
        ({"expires_at": datetime(2026, 9, 2, 17, 0)}, "expires_at 2026-09-02T17:00:00 has no"),
        ({"dispatched_at": datetime(2026, 4, 1)}, "dispatched_at 2026-04-01T00:00:00 has no"),
        ({"bag_number": 3, "bag_count": 2}, "bag_number 3 is not between 1 and bag_count 2"),
        ({"bag_number": 0}, "bag_number 0 is not between 1"),
        ({"bag_count": 0, "bag_number": 0}, "bag_count is at least 1"),
        ({"site_timezone": "Asia/Hongkong_Typo"}, "unknown site time zone 'Asia/Hongkong_Typo'"),
        ({"manufacturing_timezone": "UTC+8"}, "unknown manufacturing time zone"),
        ({"expires_at": COLLECTED}, "is not after collected_at"),
        ({"dispatched_at": EXPIRES}, "an expired product is not shipped"),
        ({"dispatched_at": COLLECTED - timedelta(hours=1)}, "dispatched_at is before"),
        ({"collection_type": "Z"}, "unknown ISBT 128 collection type 'Z'"),
        ({"isbt_product_code": "S999"}, "product description code is 5 characters"),
        ({"isbt_product_code": "T1234"}, "carries no collection type"),
        ({"site_name": "  "}, "the site name is empty"),
        ({"ship_to": "Ward 5\nBed 3"}, "one line of printable text"),
        ({"product_name": "x" * 61}, "has 61 characters; a label line holds 60"),
        ({"post_thaw_window_minutes": 0}, "post_thaw_window_minutes must be positive"),
        ({"storage_max_c": float("nan")}, "storage_max_c must be a temperature"),
        ({"shipper_contents": LabelKind.SHIPPER}, "not shippers"),
        ({"collected_at": datetime(1999, 12, 31, 23, 0, tzinfo=UTC)}, "as an ISBT 128 date"),
    ],
)
def test_malformed_facts_are_refused_with_a_clear_message(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        make_facts(**changes)


@pytest.mark.parametrize(
    ("kind", "changes", "message"),
    [
        (LabelKind.PRODUCT_BAG, {"expires_at": None}, "final product label needs expires_at"),
        (LabelKind.PRODUCT_BAG, {"batch_id": None}, "final product label needs batch_id"),
        (LabelKind.SHIPPER, {"ship_to": None}, "shipper label needs ship_to"),
        (
            LabelKind.SHIPPER,
            {"ship_from": None, "shipment_id": None},
            "needs ship_from, shipment_id",
        ),
        (LabelKind.APHERESIS_BAG, {"bag_number": 10, "bag_count": 10}, "at most 9 containers"),
        (LabelKind.PRODUCT_BAG, {"bag_number": 1, "bag_count": 27}, "at most 26 bags"),
    ],
)
def test_a_label_missing_what_its_kind_needs_is_refused(
    kind: LabelKind, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        build_label(kind, make_facts(**changes))


# --- ISBT 128 product code per bag; IND statement; collection volume ----------------------


@pytest.mark.parametrize("count", [2, 5, 26])
def test_every_bag_of_a_divided_product_has_its_own_division(count: int) -> None:
    # ISBT 128 ST-001 §2.4.3 (DS003 '=<' αoooo t ds): first-level divisions A–Z in
    # position 7, so DIN + product code is unique for each bag of the set.
    codes = [
        next(
            d
            for d in data_of(
                build_label(LabelKind.PRODUCT_BAG, make_facts(bag_number=n, bag_count=count))
            )
            if d.startswith("=<")
        )
        for n in range(1, count + 1)
    ]
    assert len(set(codes)) == count
    for n, code in enumerate(codes):
        assert re.fullmatch(r"=<S99991[A-Z]0", code)
        assert code[-2] == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[n]


@pytest.mark.parametrize("count", [2, 4])
def test_bags_of_a_set_differ_in_their_barcodes_before_a_product_code_is_configured(
    count: int,
) -> None:
    # ISBT 128 ST-001 Table 3: flags 01-04 mark the containers of a set, so every bag's
    # DIN barcode differs even where no product description code (DS003) is printed.
    labels = [
        build_label(
            LabelKind.PRODUCT_BAG,
            make_facts(bag_number=n, bag_count=count, isbt_product_code=None),
        )
        for n in range(1, count + 1)
    ]
    data = [tuple(data_of(label)) for label in labels]
    assert len(set(data)) == count
    dins = [next(d for d in row if d.startswith("=") and not d.startswith("=<")) for row in data]
    assert [d[-2:] for d in dins] == ["01", "02", "03", "04"][:count]
    assert not any(d.startswith("=<") for row in data for d in row)


def test_a_large_set_without_a_product_code_is_refused() -> None:
    with pytest.raises(InvalidInput, match="needs an ISBT 128 product description code"):
        build_label(
            LabelKind.PRODUCT_BAG, make_facts(bag_number=1, bag_count=12, isbt_product_code=None)
        )


def test_a_single_bag_is_undivided() -> None:
    label = build_label(LabelKind.PRODUCT_BAG, make_facts(bag_number=1, bag_count=1))
    assert "=<S9999100" in data_of(label)


def test_the_us_ind_statement_is_the_words_of_21_cfr_312_6_a() -> None:
    assert INVESTIGATIONAL_STATEMENTS["US"] == (
        "Caution: New Drug\u2014Limited by Federal (or United States) law to investigational use.",
        "21 CFR 312.6(a)",
    )
    assert (
        investigational_statement("us", investigational=True)
        == (INVESTIGATIONAL_STATEMENTS["US"][0])
    )
    # Approved use carries none; a jurisdiction without a defined statement gets none.
    assert investigational_statement("US", investigational=False) is None
    assert investigational_statement("CN", investigational=True) is None


def test_a_final_bag_prints_the_statement_and_other_labels_do_not() -> None:
    statement = investigational_statement("US", investigational=True)
    assert statement is not None
    facts = make_facts(statements=(statement,))
    assert statement in build_label(LabelKind.PRODUCT_BAG, facts).text_lines()
    for kind in (LabelKind.APHERESIS_BAG, LabelKind.SHIPPER):
        assert statement not in build_label(kind, facts).text_lines()


def test_a_collection_label_carries_volume_and_anticoagulant() -> None:
    label = build_label(LabelKind.APHERESIS_BAG, make_facts(bag_count=1))
    assert text_of(label, "Volume").value == "250 mL"
    assert text_of(label, "Anticoagulant").value == "ACD-A"
    bare = build_label(
        LabelKind.APHERESIS_BAG, make_facts(bag_count=1, volume_ml=None, anticoagulant=None)
    )
    assert text_of(bare, "Volume").value == "not recorded"
    assert text_of(bare, "Anticoagulant").value == "not recorded"


def test_bedside_identifier_policy_defaults_to_the_medical_record_number() -> None:
    assert BedsideIdentifiers.parse(None) is BedsideIdentifiers.NAME_AND_MRN
    assert BedsideIdentifiers.parse("name_and_birth_date") is BedsideIdentifiers.NAME_AND_BIRTH_DATE
    with pytest.raises(InvalidInput, match="unknown bedside identifier policy"):
        BedsideIdentifiers.parse("name_only")


# --- label reconciliation (FACT-JACIE: labels issued, used, destroyed) --------------------


def _reconcile(record: dict[str, Any], **counts: Any) -> dict[str, Any]:
    item = counts.pop("item", "product_bag")
    return reconcile(record, item, at="2026-04-01T00:00:00+00:00", by="op", reason="run", **counts)


def test_reconciliation_adds_up_per_item_and_shows_what_is_unaccounted() -> None:
    record = _reconcile({}, issued=4, used=2, destroyed=1)
    record = _reconcile(record, issued=0, used=1, destroyed=0)
    record = _reconcile(record, item="apheresis_bag", issued=1, used=1, destroyed=0)
    totals = reconciliation_totals(record)
    assert totals["product_bag"] == {"issued": 4, "used": 3, "destroyed": 1, "unaccounted": 0}
    assert totals["apheresis_bag"]["unaccounted"] == 0
    assert len(record["entries"]) == 3


def test_more_labels_used_or_destroyed_than_issued_is_refused() -> None:
    with pytest.raises(InvalidInput, match="every label used or destroyed must have been issued"):
        _reconcile({}, issued=2, used=2, destroyed=1)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"issued": -1, "used": 0, "destroyed": 0}, "whole number"),
        ({"issued": 0, "used": 0, "destroyed": 0}, "at least one label"),
        ({"item": "wristband", "issued": 1, "used": 1, "destroyed": 0}, "unknown label item"),
    ],
)
def test_reconciliation_refuses_nonsense(counts: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _reconcile({}, **counts)
