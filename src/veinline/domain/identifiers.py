"""Identifiers veinline issues: ISBT 128 DINs and chain-of-identity (CoI) identifiers.

The database allocates the sequence numbers (see the adapters) so two concurrent
requests never get the same one; this module builds and describes the identifiers.

A DIN identifies one donation (ISBT 128 ST-001 §2.4.1). A CoI identifier (ST-001 §2.4.40,
ST-028, IG-050) identifies one therapy event: veinline issues one per case at enrolment,
before the first collection, and every DIN collected for the case is linked by it. It
never stands in for a DIN. Both are kept with their keyboard entry check character K,
which ST-001 §7.5 and Table 30 require wherever either is printed as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from veinline.domain import isbt128
from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject, snapshot_time

# ST-001 §2.4.1: the DIN sequence is six digits within a nominal year. ST-001 §2.4.40 allows
# A–Z as well in the CoI's six characters; veinline issues digits only, so both kinds map
# one to one onto the database's numeric sequence.
MAX_SEQUENCE = 999_999


class IdentifierKind(StrEnum):
    """Which ISBT 128 identifier a record is."""

    DIN = "din"
    COI = "coi"

    @property
    def label(self) -> str:
        return {"din": "Donation identification number", "coi": "Chain-of-identity identifier"}[
            self.value
        ]


@dataclass(eq=False)
class IssuedIdentifier:
    """One identifier veinline has issued, never to be issued again."""

    ENTITY_TYPE = "identifier"

    value: str
    kind: IdentifierKind
    fin: str
    year: int
    sequence: int
    purpose: str
    issued_at: datetime
    issued_by: str
    check_character: str | None = None

    @property
    def entity_id(self) -> str:
        return self.value

    @property
    def barcode_data(self) -> str:
        if self.kind is IdentifierKind.DIN:
            return isbt128.Din.parse(self.value).barcode_data()
        return isbt128.Coi.parse(self.value).barcode_data

    @property
    def check(self) -> str:
        """The keyboard entry check character K, recomputed from the value.

        CoI identifiers issued before veinline kept their K have none stored; a stored K
        that contradicts the value is refused rather than printed.
        """
        if self.kind is IdentifierKind.DIN:
            computed = isbt128.check_character(self.value)
        else:
            computed = isbt128.Coi.parse(self.value).check
        if self.check_character is not None and self.check_character != computed:
            raise isbt128.CheckCharacterMismatch(
                f"{self.kind.label} {self.value} is stored with check character "
                f"{self.check_character!r}, but its check character is {computed!r}"
            )
        return computed

    def snapshot(self) -> JsonObject:
        return {
            "value": self.value,
            "kind": self.kind.value,
            "fin": self.fin,
            "year": self.year,
            "sequence": self.sequence,
            "check_character": self.check_character,
            "purpose": self.purpose,
            "issued_at": snapshot_time(self.issued_at),
            "issued_by": self.issued_by,
        }


def build(
    kind: IdentifierKind,
    *,
    fin: str,
    issued_at: datetime,
    sequence: int,
    purpose: str,
    issued_by: str,
) -> IssuedIdentifier:
    """Make the identifier for an allocated sequence number."""
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise InvalidInput(
            f"facility {fin} has used all {MAX_SEQUENCE:,} {kind.value.upper()} numbers "
            f"for {issued_at.year}"
        )
    yy = f"{issued_at.year % 100:02d}"
    if kind is IdentifierKind.DIN:
        text = f"{fin}{yy}{sequence:06d}"
        check = isbt128.check_character(text)
    else:
        # ST-028 via ST-001 §2.4.40: the FIN is the issuing organisation's and yy the
        # nominal year of issue, here the year the case is enrolled.
        coi = isbt128.Coi(fin=fin, year=yy, sequence=f"{sequence:06d}")
        text, check = coi.text, coi.check
    return IssuedIdentifier(
        value=text,
        kind=kind,
        fin=fin,
        year=issued_at.year,
        sequence=sequence,
        purpose=purpose,
        issued_at=issued_at,
        issued_by=issued_by,
        check_character=check,
    )
