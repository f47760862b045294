"""Identifiers veinline issues: a DIN per donation, a CoI identifier per therapy event.

ISBT 128 ST-001 §2.4.1 (DIN), §2.4.40 (CoI, data structure 040), §7.5 and Table 30 (the
keyboard entry check character K is required for both wherever they are printed).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from veinline.domain import isbt128
from veinline.domain.errors import InvalidInput
from veinline.domain.identifiers import IdentifierKind, IssuedIdentifier, build

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _issue(kind: IdentifierKind, sequence: int = 1, fin: str = "A9995") -> IssuedIdentifier:
    return build(kind, fin=fin, issued_at=AT, sequence=sequence, purpose="case", issued_by="x")


def test_a_coi_identifier_is_ch_the_issuing_fin_the_year_of_issue_and_six_characters() -> None:
    coi = _issue(IdentifierKind.COI, 42)
    assert coi.value == "CHA999526000042"
    assert isbt128.Coi.parse(coi.value) == isbt128.Coi(fin="A9995", year="26", sequence="000042")
    assert coi.barcode_data == "&/CHA999526000042"


def test_a_coi_identifier_is_issued_with_its_check_character() -> None:
    coi = _issue(IdentifierKind.COI)
    assert coi.check_character == isbt128.coi_check_character(coi.value) == "C"
    assert coi.snapshot()["check_character"] == "C"
    assert coi.check == "C"


def test_a_din_is_issued_with_its_check_character_and_no_coi_layout() -> None:
    din = _issue(IdentifierKind.DIN)
    assert din.value == "A999526000001"
    assert din.check_character == din.check == isbt128.check_character("A999526000001")
    assert din.barcode_data == "=A99952600000100"


def test_a_coi_identifier_stored_without_its_check_character_stays_readable() -> None:
    # Issued before veinline kept K for CoI identifiers: the value alone is enough.
    older = replace(_issue(IdentifierKind.COI), check_character=None)
    assert older.check == "C"
    assert older.barcode_data == "&/CHA999526000001"


def test_a_stored_check_character_that_contradicts_the_value_is_refused() -> None:
    tampered = replace(_issue(IdentifierKind.COI), check_character="D")
    with pytest.raises(isbt128.CheckCharacterMismatch, match="stored with check character 'D'"):
        _ = tampered.check


def test_a_stored_coi_value_with_a_wrong_layout_is_refused_when_read() -> None:
    broken = replace(_issue(IdentifierKind.COI), value="HCA999526000001")
    with pytest.raises(InvalidInput, match="must be 'C'"):
        _ = broken.barcode_data


def test_the_sequence_runs_out_at_999999_per_facility_and_year() -> None:
    assert _issue(IdentifierKind.COI, 999_999).value == "CHA999526999999"
    with pytest.raises(InvalidInput, match="has used all 999,999 COI numbers for 2026"):
        _issue(IdentifierKind.COI, 1_000_000)
