"""ISBT 128: DIN check character, DIN and CoI identifiers, barcode data (ST-001, ST-028)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veinline.domain import isbt128
from veinline.domain.errors import InvalidInput

FIN_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
FIN_MIDDLE = "ABCDEFGHIJKLMNPQRSTUVWXYZ0123456789"
DIGITS = "0123456789"
DATA_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


dins = st.builds(
    lambda *parts: "".join(parts),
    _chars(FIN_FIRST, 1),
    _chars(FIN_MIDDLE, 2),
    _chars(DIGITS, 2),
    _chars(DIGITS, 2),
    _chars(DIGITS, 6),
)


# --- check character: public examples (ST-001 Appendix A, §7.5.1.1) ---------------------


@pytest.mark.parametrize(
    ("din", "expected"),
    [
        ("G123417654321", "A"),
        ("G123498654321", "H"),
        ("A999921123456", "3"),
        ("A999922012346", "*"),
        ("A999818123456", "N"),
    ],
)
def test_check_character_matches_the_published_examples(din: str, expected: str) -> None:
    assert isbt128.check_character(din) == expected


def test_type_3_flag_of_the_published_example_is_70() -> None:
    din = isbt128.Din.parse("G123417654321")
    assert din.type3_flag == "70"
    assert din.barcode_data("70") == "=G12341765432170"


def test_validation_fins_are_a9990_to_a9999() -> None:
    assert isbt128.VALIDATION_FINS == (
        "A9990",
        "A9991",
        "A9992",
        "A9993",
        "A9994",
        "A9995",
        "A9996",
        "A9997",
        "A9998",
        "A9999",
    )


# --- check character: malformed DINs say what is wrong ---------------------------------


def test_lower_case_din_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"upper case: 'a' at position 1"):
        isbt128.check_character("a999921123456")


def test_din_of_wrong_length_is_refused_with_its_length() -> None:
    with pytest.raises(InvalidInput, match=r"13 characters .* has 12"):
        isbt128.check_character("A99992112345")


def test_din_with_flags_left_on_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidInput, match="leave out the 2 flag characters"):
        isbt128.check_character("A99992112345600")


def test_din_with_a_punctuation_character_names_its_position() -> None:
    with pytest.raises(InvalidInput, match="bad character '-' at position 6"):
        isbt128.check_character("A9999-2112345")


@pytest.mark.parametrize("first", ["O", "0"])
def test_din_starting_with_o_or_zero_is_refused(first: str) -> None:
    with pytest.raises(InvalidInput, match=f"cannot start with '{first}'"):
        isbt128.check_character(f"{first}999921123456")


def test_din_year_must_be_digits() -> None:
    with pytest.raises(InvalidInput, match=r"position 7 of the DIN: the year .* digits"):
        isbt128.check_character("A99992X123456")


def test_din_sequence_must_be_digits() -> None:
    with pytest.raises(InvalidInput, match=r"position 13 of the DIN: the sequence .* digits"):
        isbt128.check_character("A99992112345Z")


def test_fin_positions_2_and_3_may_be_letters_as_st001_foresees() -> None:
    assert isbt128.check_character("ABC1221123456") == isbt128.mod37_2_check_character(
        "ABC1221123456"
    )


def test_fin_positions_4_and_5_must_be_digits() -> None:
    with pytest.raises(InvalidInput, match="position 4 of the DIN: the FIN positions 4–5"):
        isbt128.check_character("A99AB21123456")


# --- validate_with_check ---------------------------------------------------------------


def test_din_with_its_check_character_is_valid() -> None:
    assert isbt128.validate_with_check("A9999211234563") is True
    assert isbt128.validate_with_check("A999922012346*") is True


def test_din_with_a_wrong_check_character_is_invalid() -> None:
    assert isbt128.validate_with_check("A9999211234564") is False


def test_circular_shift_is_the_known_blind_spot_of_mod37_2() -> None:
    # ST-001 Appendix A: MOD 37-2 misses some circular shifts; both strings pass.
    assert isbt128.validate_with_check("A999914123456N") is True
    assert isbt128.validate_with_check("NA999914123456") is True


def test_lower_case_check_character_is_refused() -> None:
    with pytest.raises(InvalidInput, match="check character must be upper case"):
        isbt128.validate_with_check("G123498654321h")


def test_impossible_check_character_is_refused() -> None:
    with pytest.raises(InvalidInput, match="bad check character '#' at position 14"):
        isbt128.validate_with_check("A999921123456#")


def test_din_and_check_of_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidInput, match="14 characters"):
        isbt128.validate_with_check("A999921123456")


# --- MOD 37-2 values, running form and sum form ----------------------------------------


def test_values_follow_iso_7064_mod37_2() -> None:
    assert [isbt128.value_of(c) for c in "09AZ*"] == [0, 9, 10, 35, 36]
    assert isbt128.character_of(36) == "*"


def test_lower_case_has_no_check_value() -> None:
    with pytest.raises(InvalidInput, match="lower case 'a'"):
        isbt128.value_of("a")


def test_check_value_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInput, match="0–36"):
        isbt128.character_of(37)


def test_star_is_never_a_data_character() -> None:
    with pytest.raises(InvalidInput, match="only be a check character"):
        isbt128.mod37_2_check_value("A*1")


@given(dins)
def test_running_form_and_sum_form_agree(din: str) -> None:
    k = isbt128.check_character(din)
    assert isbt128.mod37_2_is_valid(din + k)
    weights = sum(isbt128.value_of(c) * 2 ** (13 - i) for i, c in enumerate(din))
    assert (weights + isbt128.value_of(k)) % 37 == 1


@given(dins, st.integers(min_value=0, max_value=13), st.data())
def test_every_single_substitution_is_detected(
    din: str, position: int, data: st.DataObject
) -> None:
    text = din + isbt128.check_character(din)
    alphabet = DATA_CHARACTERS + "*" if position == 13 else DATA_CHARACTERS
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != text[position]]))
    altered = text[:position] + replacement + text[position + 1 :]
    assert not isbt128.mod37_2_is_valid(altered)


# --- Din ---------------------------------------------------------------------------------


def test_din_builds_its_text_check_and_barcode_data() -> None:
    din = isbt128.Din(fin="A9999", year="26", sequence=123)
    assert din.text == "A999926000123"
    assert din.check == "P"
    assert din.barcode_data() == "=A99992600012300"
    assert din.nominal_year == 2026
    assert din.is_validation


def test_din_eye_readable_text_groups_fin_year_and_sequence() -> None:
    din = isbt128.Din(fin="A9998", year="18", sequence=123456)
    assert din.eye_readable() == "A9998 18 123456"
    assert din.eye_readable(with_check=True) == "A9998 18 123456 [N]"


@pytest.mark.parametrize(
    "typed", ["A999818123456", "A999818123456N", "A9998 18 123456 N", "=A99981812345607"]
)
def test_din_parses_typed_keyed_and_scanned_forms(typed: str) -> None:
    assert isbt128.Din.parse(typed) == isbt128.Din(fin="A9998", year="18", sequence=123456)


def test_din_keyed_with_a_wrong_check_character_is_refused() -> None:
    with pytest.raises(InvalidInput, match="does not match DIN A999818123456"):
        isbt128.Din.parse("A9998 18 123456 M")


def test_din_sequence_beyond_six_digits_is_refused() -> None:
    with pytest.raises(InvalidInput, match="0–999999"):
        isbt128.Din(fin="A9999", year="26", sequence=1_000_000)


def test_din_year_of_one_digit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="2 digits"):
        isbt128.Din(fin="A9999", year="6", sequence=1)


def test_din_fin_starting_with_zero_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot start with '0'"):
        isbt128.Din(fin="09999", year="26", sequence=1)


def test_type_3_flag_that_contradicts_the_din_is_refused() -> None:
    din = isbt128.Din.parse("G123417654321")
    with pytest.raises(InvalidInput, match="flag 71 would carry check character 'B'"):
        din.barcode_data("71")


def test_flag_with_a_letter_i_is_refused() -> None:
    with pytest.raises(InvalidInput, match="bad flag character 'I'"):
        isbt128.Din(fin="A9999", year="26", sequence=1).barcode_data("0I")


def test_nineties_years_are_read_as_1990s() -> None:
    assert isbt128.nominal_year("98") == 1998
    assert isbt128.nominal_year("93") == 2093


# --- Chain of identity identifier (DS040) -----------------------------------------------


def test_coi_content_is_ch_fin_year_and_six_digit_sequence() -> None:
    assert isbt128.format_coi("A9999", 2026, 42) == "CHA999926000042"
    assert isbt128.format_coi("A9999", "26", 42) == "CHA999926000042"
    assert isbt128.coi_barcode_data("A9999", 2026, 1) == "&/CHA999926000001"


def test_coi_sequence_may_be_alphanumeric_as_st001_allows() -> None:
    assert isbt128.format_coi("A9999", "26", "AB12C3") == "CHA999926AB12C3"


def test_coi_with_a_sequence_of_seven_digits_is_refused() -> None:
    with pytest.raises(InvalidInput, match="CoI sequence"):
        isbt128.format_coi("A9999", 2026, 1_000_000)


def test_coi_with_a_lower_case_fin_is_refused() -> None:
    with pytest.raises(InvalidInput, match="upper case"):
        isbt128.format_coi("a9999", 2026, 1)


def test_coi_check_character_covers_the_whole_content() -> None:
    assert isbt128.coi_check_character("CHA999926000001") == isbt128.mod37_2_check_character(
        "CHA999926000001"
    )


cois = st.builds(
    lambda *parts: "CH" + "".join(parts),
    _chars(FIN_FIRST, 1),
    _chars(FIN_MIDDLE, 2),
    _chars(DIGITS, 2),
    _chars(DIGITS, 2),
    _chars(DATA_CHARACTERS, 6),
)


@given(cois)
def test_coi_check_character_is_mod37_2_over_all_15_characters_ch_included(coi: str) -> None:
    # ST-001 §7.5: K is computed on the data content string; only DS001 leaves some out.
    k = isbt128.coi_check_character(coi)
    weights = sum(isbt128.value_of(c) * 2 ** (15 - i) for i, c in enumerate(coi))
    assert (weights + isbt128.value_of(k)) % 37 == 1


def test_coi_check_character_is_not_that_of_the_content_without_ch() -> None:
    assert isbt128.coi_check_character("CHA999926000001") == "*"
    assert isbt128.mod37_2_check_character("A999926000001") == "8"


@given(cois, st.integers(min_value=0, max_value=15), st.data())
def test_every_single_substitution_in_a_coi_is_detected(
    coi: str, position: int, data: st.DataObject
) -> None:
    text = coi + isbt128.coi_check_character(coi)
    alphabet = DATA_CHARACTERS + "*" if position == 15 else DATA_CHARACTERS
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != text[position]]))
    altered = text[:position] + replacement + text[position + 1 :]
    assert not isbt128.mod37_2_is_valid(altered)


def test_coi_builds_its_text_check_barcode_data_and_eye_readable_text() -> None:
    coi = isbt128.Coi(fin="A9999", year="26", sequence="000001")
    assert coi.text == "CHA999926000001"
    assert coi.check == "*"
    assert coi.barcode_data == "&/CHA999926000001"
    assert coi.nominal_year == 2026
    assert coi.is_validation
    assert coi.eye_readable() == "CH A9999 26 000001"
    assert coi.eye_readable(with_check=True) == "CH A9999 26 000001 [*]"


@pytest.mark.parametrize(
    "typed",
    [
        "CHA999926ABCDEF",
        "CHA999926ABCDEFX",
        "CH A9999 26 ABCDEF X",
        "  CH A9999 26 ABCDEF  ",
        "&/CHA999926ABCDEF",
    ],
)
def test_coi_parses_typed_keyed_and_scanned_forms(typed: str) -> None:
    assert isbt128.Coi.parse(typed) == isbt128.Coi(fin="A9999", year="26", sequence="ABCDEF")


def test_coi_with_its_check_character_is_valid_and_a_wrong_one_is_not() -> None:
    assert isbt128.validate_coi_with_check("CHA999926000001*") is True
    assert isbt128.validate_coi_with_check("CHA9999260000018") is False  # K without 'CH'
    with pytest.raises(InvalidInput, match="16 characters"):
        isbt128.validate_coi_with_check("CHA999926000001")


def test_coi_keyed_with_a_wrong_check_character_is_a_failed_check() -> None:
    with pytest.raises(
        isbt128.CheckCharacterMismatch,
        match="check character 'Y' does not match CoI identifier CHA999926ABCDEF",
    ):
        isbt128.Coi.parse("CH A9999 26 ABCDEF Y")


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("CHA999926ABCDEFx", "must be upper case: 'x' at position 16"),
        ("CHA999926ABCDEF#", "bad check character '#' at position 16"),
        ("A999926ABCDEF", "has 13; it starts with 'CH'"),
        ("CHA999926ABCDE", "15 characters .* has 14"),
        ("HCA999926ABCDEF", "position 1 .* must be 'C'"),
        ("CCA999926ABCDEF", "position 2 .* must be 'H'"),
        ("chA999926ABCDEF", "upper case: 'c' at position 1"),
        ("CH0999926ABCDEF", "position 3 .* first FIN character"),
        ("CHA99AB26ABCDEF", "position 6 .* FIN positions 4–5"),
        ("CHA9999X6ABCDEF", "position 8 .* the year"),
        ("CHA999926ABCdEF", "upper case: 'd' at position 13"),
        ("CHA999926ABC-EF", "bad character '-' at position 13"),
        ("&/CHA999926ABCDEF=A99992600012300", "not the barcode data of one CoI"),
        ("=A99992600012300", "a CoI identifier has only letters and digits"),
    ],
)
def test_coi_with_a_wrong_layout_is_refused_saying_where(typed: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        isbt128.Coi.parse(typed)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("&/HCA999926000001", "position 3 of the Chain of Identity Identifier"),
        ("&/CCA999926000001", "position 4 of the Chain of Identity Identifier"),
        ("&/chA999926000001", "lower case 'c' at position 3"),
        ("&/CHO999926000001", "position 5 .* first FIN character"),
        ("&/CHA9999260000", "needs 15 characters after '&/' but only 13 remain"),
    ],
)
def test_coi_barcode_data_with_a_wrong_layout_is_refused(data: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        isbt128.parse(data)


def test_coi_check_character_refuses_a_wrong_literal() -> None:
    with pytest.raises(InvalidInput, match="must be 'C'"):
        isbt128.coi_check_character("HCA999926000001")


def test_coi_and_din_scanned_together_are_two_identifiers() -> None:
    # ST-028: the CoI links the DINs of one therapy event; it does not replace the DIN.
    din, coi = isbt128.parse("=A99992600012300&/CHA999926000001")
    assert (din.number, din.fields["din"]) == ("001", "A999926000123")
    assert (coi.number, coi.fields["coi"]) == ("040", "CHA999926000001")
    assert "din" not in coi.fields


# --- parse: single and concatenated data structures ------------------------------------


def test_din_barcode_data_decodes_fin_year_sequence_and_flags() -> None:
    [ds] = isbt128.parse("=A99992600012307")
    assert ds.to_dict() == {
        "number": "001",
        "name": "Donation Identification Number",
        "data_identifier": "=A",
        "data": "A99992600012307",
        "fields": {
            "din": "A999926000123",
            "fin": "A9999",
            "year": "26",
            "nominal_year": 2026,
            "sequence": "000123",
            "check_character": "P",
            "is_validation_fin": True,
            "flags": "07",
            "flag_type": 1,
            "flag_meaning": "test tube label",
            "flag_check_character": None,
            "flag_check_matches": None,
        },
    }


@pytest.mark.parametrize(
    ("flags", "meaning"),
    [("00", "flag not used"), ("03", "container 3 of a set"), ("16", "container 6 of a set")],
)
def test_din_flags_are_explained(flags: str, meaning: str) -> None:
    [ds] = isbt128.parse(f"=A999926000123{flags}")
    assert ds.fields["flag_meaning"] == meaning


def test_type_3_flag_reports_the_check_character_it_carries() -> None:
    [ds] = isbt128.parse("=G12341765432170")
    assert ds.fields["flag_type"] == 3
    assert ds.fields["flag_check_character"] == "A"
    assert ds.fields["flag_check_matches"] is True


def test_type_3_flag_that_does_not_match_the_din_is_a_failed_check() -> None:
    # ST-001 Table 3 [RT004]: 71 would carry 'B', but G123417654321 has K = 'A' (flag 70).
    with pytest.raises(isbt128.CheckCharacterMismatch, match="flags 71 carry check character 'B'"):
        isbt128.parse("=G12341765432171")


def test_a_failed_flag_check_is_invalid_input_for_every_caller() -> None:
    with pytest.raises(
        InvalidInput, match=r"DIN G123417654321 has check character 'A' \(flags 70\)"
    ):
        isbt128.parse("=G12341765432171")


@given(dins, st.integers(min_value=60, max_value=96))
def test_only_the_flag_60_plus_the_check_value_passes(din: str, flags: int) -> None:
    right = 60 + isbt128.mod37_2_check_value(din)
    data = f"={din}{flags:02d}"
    if flags == right:
        [ds] = isbt128.parse(data)
        assert ds.fields["flag_check_character"] == isbt128.check_character(din)
    else:
        with pytest.raises(isbt128.CheckCharacterMismatch):
            isbt128.parse(data)


def test_wrong_type_3_flag_is_refused_inside_a_concatenated_scan() -> None:
    with pytest.raises(isbt128.CheckCharacterMismatch, match="position 1"):
        isbt128.parse("=G12341765432171&/CHA999926000001")


def test_wrong_type_3_flag_is_refused_inside_a_compound_message() -> None:
    with pytest.raises(isbt128.CheckCharacterMismatch):
        isbt128.parse("=+02000=%6200=G12341765432171")


def test_din_read_from_barcode_data_checks_its_type_3_flag() -> None:
    assert isbt128.Din.parse("=G12341765432170").text == "G123417654321"
    with pytest.raises(isbt128.CheckCharacterMismatch):
        isbt128.Din.parse("=G12341765432171")


def test_din_keyed_with_a_wrong_check_character_is_a_failed_check() -> None:
    with pytest.raises(isbt128.CheckCharacterMismatch):
        isbt128.Din.parse("A9998 18 123456 M")


@pytest.mark.parametrize(
    ("flags", "flag_type"), [("59", 2), ("97", None), ("98", None), ("99", None)]
)
def test_flags_outside_60_to_96_carry_no_check_character(flags: str, flag_type: int | None) -> None:
    # ST-001 Table 3: 20–59 are local, 97–99 reserved; neither is checked against the DIN.
    [ds] = isbt128.parse(f"=G123417654321{flags}")
    assert ds.fields["flag_type"] == flag_type
    assert ds.fields["flag_check_character"] is None


def test_din_and_blood_groups_read_as_one_concatenated_scan() -> None:
    din, groups = isbt128.parse("=A99992600012300=%6200")
    assert (din.number, groups.number) == ("001", "002")
    assert groups.fields == {"blood_group_code": "62", "phenotype_code": "0", "reserved": "0"}


def test_product_code_and_expiry_read_as_one_concatenated_scan() -> None:
    product, expiry = isbt128.parse("=<S1295V00&>0183652359")
    assert product.fields["product_description_code"] == "S1295"
    assert product.fields["product_category"] == "cellular therapy"
    assert product.fields["collection_type_meaning"] == "volunteer allogeneic (default)"
    assert product.fields["division"] == "00"
    assert product.fields["divided"] is False
    assert expiry.fields["datetime"] == "2018-12-31T23:59"


@pytest.mark.parametrize(
    ("t", "meaning"),
    [
        ("1", "for autologous use only"),
        ("A", "autologous, eligible for crossover"),
        ("X", "for autologous use only, biohazard"),
        ("V", "volunteer allogeneic (default)"),
        ("7", "for allogeneic use"),
        ("0", "not specified"),
    ],
)
def test_cellular_therapy_collection_types_are_explained(t: str, meaning: str) -> None:
    [product] = isbt128.parse(f"=<S1295{t}A0")
    assert product.fields["collection_type"] == t
    assert product.fields["collection_type_meaning"] == meaning
    assert product.fields["divided"] is True


def test_tissue_product_code_uses_three_characters_for_the_division() -> None:
    [product] = isbt128.parse("=<T0416003")
    assert product.fields["division"] == "003"
    assert product.fields["collection_type"] is None


def test_product_code_with_upper_case_last_division_character_is_refused() -> None:
    with pytest.raises(InvalidInput, match="position 10 of the Product Code"):
        isbt128.parse("=<S1295VAA")


@pytest.mark.parametrize(
    ("data", "iso"),
    [
        ("=>018365", "2018-12-31"),
        ("=*020366", "2020-12-31"),
        ("=}026001", "2026-01-01"),
        ("=>126032", "2126-02-01"),
    ],
)
def test_dates_are_read_as_iso_8601(data: str, iso: str) -> None:
    [ds] = isbt128.parse(data)
    assert ds.fields["date"] == iso


def test_collection_and_production_date_times_are_read_as_iso_8601() -> None:
    collected, produced = isbt128.parse("&*0260451030&}0260460000")
    assert collected.fields["datetime"] == "2026-02-14T10:30"
    assert produced.fields["datetime"] == "2026-02-15T00:00"


def test_day_366_of_a_common_year_is_refused() -> None:
    with pytest.raises(InvalidInput, match="day 366 does not exist in 2018"):
        isbt128.parse("&>0183662359")


def test_day_zero_is_refused() -> None:
    with pytest.raises(InvalidInput, match="day 000 does not exist"):
        isbt128.parse("=>026000")


def test_hour_24_is_refused() -> None:
    with pytest.raises(InvalidInput, match="24:00 is not a time of day"):
        isbt128.parse("&>0260012400")


def test_processing_facility_information_code_is_read() -> None:
    [ds] = isbt128.parse("&+A9999AB3456")
    assert ds.fields == {"fin_p": "A9999", "facility_product_code": "AB3456"}


def test_single_european_code_is_read() -> None:
    [ds] = isbt128.parse("&,4PL001499Z549917123456A00T041600320181231")
    assert ds.number == "038"
    assert ds.data_identifier == "&,4"
    assert ds.fields["unique_donation_number"] == "Z549917123456"
    assert ds.fields["coding_system_name"] == "ISBT 128"
    assert ds.fields["expiry_date"] == "2018-12-31"


def test_grid_reports_whether_its_checksum_matches() -> None:
    [good] = isbt128.parse("&:1234ABCDEFGHIJKLM12")
    [bad] = isbt128.parse("&:1234ABCDEFGHIJKLM05")
    assert good.fields["checksum_matches"] is True
    assert bad.fields["checksum_matches"] is False


def test_grid_checksum_above_36_is_refused() -> None:
    with pytest.raises(InvalidInput, match="00–36"):
        isbt128.parse("&:1234ABCDEFGHIJKLM37")


def test_coi_barcode_data_is_read() -> None:
    [ds] = isbt128.parse(isbt128.coi_barcode_data("A9999", 2026, 1))
    assert ds.number == "040"
    assert ds.fields["fin"] == "A9999"
    assert ds.fields["year"] == "26"
    assert ds.fields["sequence"] == "000001"


def test_parsed_structures_are_json_ready() -> None:
    data = "=+03000=A99992600012300=<S1295V00&>0183652359"
    dumped = json.dumps([ds.to_dict() for ds in isbt128.parse(data)])
    assert '"number": "023"' in dumped


# --- parse: compound messages -----------------------------------------------------------


def test_compound_message_with_unspecified_order_is_read_header_first() -> None:
    data = "=+04000=/A9997XYZ100T0479=A99991712345600=,000012=>019031"
    structures = isbt128.parse(data)
    assert [s.number for s in structures] == ["023", "034", "001", "032", "004"]
    assert structures[0].fields["declared_count"] == 4


def test_compound_message_declaring_too_many_structures_is_refused() -> None:
    with pytest.raises(
        InvalidInput, match="compound message declares 3 data structures but 2 follow"
    ):
        isbt128.parse("=+03000=A99992600012300=%6200")


def test_compound_message_declaring_too_few_structures_is_refused() -> None:
    with pytest.raises(InvalidInput, match="declares 1 data structure but 2 follow"):
        isbt128.parse("=+01000=A99992600012300=%6200")


def test_compound_message_in_its_specified_order_is_read() -> None:
    # ST-017 §4.3.2: RT017 message 035 is PPIC, product divisions, DIN, expiration date.
    data = "=+04035=/A9997XYZ100T0479=,000012=A99991712345600=>019031"
    header = isbt128.parse(data)[0]
    assert header.fields["specified_order"] == ["034", "032", "001", "004"]


def test_compound_message_out_of_its_specified_order_is_refused() -> None:
    data = "=+04035=/A9997XYZ100T0479=A99991712345600=,000012=>019031"
    with pytest.raises(InvalidInput, match="specifies the order 034, 032, 001, 004"):
        isbt128.parse(data)


def test_compound_message_with_an_unknown_specified_order_is_refused() -> None:
    with pytest.raises(InvalidInput, match="specified order 099, which veinline does not know"):
        isbt128.parse("=+02099=A99992600012300=%6200")


def test_compound_message_order_can_come_from_the_callers_rt017_table() -> None:
    structures = isbt128.parse(
        "=+02099=A99992600012300=%6200", specified_orders={"099": ("001", "002")}
    )
    assert structures[0].fields["specified_order"] == ["001", "002"]


def test_compound_message_of_no_structures_is_refused() -> None:
    with pytest.raises(InvalidInput, match="declares no data structures"):
        isbt128.parse("=+00000")


def test_compound_message_header_in_the_middle_is_refused() -> None:
    with pytest.raises(InvalidInput, match="may only open the data"):
        isbt128.parse("=%6200=+01000=%6200")


# --- parse: malformed data --------------------------------------------------------------


def test_unknown_data_identifier_is_refused_with_its_position() -> None:
    with pytest.raises(InvalidInput, match=r"unknown data identifier '=@' at position 17"):
        isbt128.parse("=A99992600012300=@1234")


def test_trailing_garbage_is_refused_with_its_position() -> None:
    with pytest.raises(InvalidInput, match="trailing characters 'xx' at position 17"):
        isbt128.parse("=A99992600012300xx")


def test_truncated_din_is_refused() -> None:
    with pytest.raises(InvalidInput, match="needs 15 characters after '=' but only 11 remain"):
        isbt128.parse("=A9999260001")


def test_lower_case_din_in_barcode_data_is_refused() -> None:
    with pytest.raises(InvalidInput, match="lower case 'a' at position 2"):
        isbt128.parse("=a99992600012300")


def test_letter_o_inside_a_fin_is_refused_with_its_position() -> None:
    with pytest.raises(InvalidInput, match="bad character 'O' at position 3 of the Donation"):
        isbt128.parse("=AO9992600012300")


def test_lower_case_flag_is_refused() -> None:
    with pytest.raises(InvalidInput, match="lower case 'a' at position 16"):
        isbt128.parse("=A9999260001230a")


def test_changing_a_dict_does_not_change_the_parsed_structure() -> None:
    header = isbt128.parse("=+04035=/A9997XYZ100T0479=,000012=A99991712345600=>019031")[0]
    dumped = header.to_dict()
    fields = dumped["fields"]
    assert isinstance(fields, dict)
    fields["specified_order"].append("999")
    assert header.fields["specified_order"] == ["034", "032", "001", "004"]


def test_din_with_the_letter_o_in_barcode_data_is_refused() -> None:
    with pytest.raises(InvalidInput, match="a DIN cannot start with 'O'"):
        isbt128.parse("=O99992600012300")


def test_nationally_defined_structure_is_refused() -> None:
    with pytest.raises(InvalidInput, match="'&a' at position 1 is defined nationally"):
        isbt128.parse("&a1234")


def test_data_not_starting_with_an_identifier_is_refused() -> None:
    with pytest.raises(InvalidInput, match="starts with '=' or '&'"):
        isbt128.parse("A99992600012300")


def test_empty_data_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no barcode data"):
        isbt128.parse("")


def test_variable_length_structure_reads_its_declared_length() -> None:
    [dimensions, din] = isbt128.parse("&$01" + "01000100450000" + "=A99992600012300")
    assert dimensions.data == "0101000100450000"
    assert din.number == "001"


def test_variable_length_structure_shorter_than_declared_is_refused() -> None:
    with pytest.raises(InvalidInput, match="declares 30 characters"):
        isbt128.parse("&$02" + "01000100450000")


# --- hostile input: messages quote a short, escaped prefix ------------------------------

LONG = "A" * 10_000
CONTROL = "\x00\x1b[2J\r\n\u202e" * 20


def _refusal(read: Callable[[str], object], text: str) -> str:
    with pytest.raises(InvalidInput) as refused:
        read(text)
    return refused.value.message


READERS: list[Callable[[str], object]] = [
    isbt128.parse,
    isbt128.Din.parse,
    isbt128.Coi.parse,
    isbt128.check_character,
    isbt128.validate_with_check,
    isbt128.validate_coi_with_check,
    isbt128.coi_check_character,
    isbt128.nominal_year,
    isbt128.value_of,
    lambda text: isbt128.format_coi(text, 2026, 1),
    lambda text: isbt128.format_coi("A9999", text, 1),
    lambda text: isbt128.format_coi("A9999", 2026, text),
    lambda text: isbt128.Din(fin="A9999", year="26", sequence=1).barcode_data(text),
]


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize(
    "text",
    [
        LONG,
        "=A99992600012300" + LONG,
        "&/CHA999926000001" + LONG,
        "=" + LONG,
        "CH A9999 26 " + LONG,
    ],
)
def test_a_very_long_input_is_quoted_by_a_short_prefix_only(
    read: Callable[[str], object], text: str
) -> None:
    message = _refusal(read, text)
    assert "A" * 41 not in message
    assert len(message) < 200


@pytest.mark.parametrize("read", READERS)
@pytest.mark.parametrize(
    "text", [CONTROL, "=A99992600012300" + CONTROL, "CHA9999\x0026000001", "A9999\x1b21123456"]
)
def test_control_characters_are_escaped_never_written(
    read: Callable[[str], object], text: str
) -> None:
    message = _refusal(read, text)
    assert message.isprintable()
    assert len(message) < 200


def test_a_quoted_prefix_ends_with_an_ellipsis() -> None:
    message = _refusal(isbt128.parse, "=A99992600012300" + "x" * 100)
    assert f"'{'x' * 40}'…" in message
    escaped = _refusal(isbt128.parse, "=A99992600012300" + "\x1b" * 100)
    assert "\\x1b" in escaped
    assert escaped.count("\\x1b") <= 10
