"""Identifiers veinline issues: ISBT 128 DINs and chain-of-identity (CoI) identifiers.

The database allocates the sequence numbers (see the adapters) so two concurrent
requests never get the same one; this module builds and describes the identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from veinline.domain import isbt128
from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject, snapshot_time

# ST-001: the DIN sequence is six digits within a nominal year; ST-028: so is the CoI's.
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
        return isbt128.coi_barcode_data(self.fin, self.year, self.sequence)

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
        check: str | None = isbt128.check_character(text)
    else:
        text = isbt128.format_coi(fin, yy, sequence)
        check = None
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
