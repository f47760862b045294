"""ISBT 128 for cellular therapy: DIN, its check character, the CoI identifier, barcode data.

Implements the public, structural parts of the ISBT 128 Standard Technical Specification
(ICCBBA ST-001 v6.2.2) and of the Chain of Identity Identifier (ICCBBA ST-028): the
Donation Identification Number (DIN) and its ISO/IEC 7064 MOD 37-2 check character, the
CoI identifier, and a reader for barcode data (single, concatenated and compound).
The full texts of ST-028 and of its implementation guide IG-050 were not at hand: what is
checked for the CoI comes from ST-001 (§2.4.40 data structure 040, §7.5 its check
character) and ICCBBA's public summaries of ST-028 and IG-050, and anything beyond is
marked unconfirmed.

ISBT 128 is not in the public domain. Production use needs registration with ICCBBA and
its annual licence (ST-001 copyright notice and §12.2); the product, facility and
compound-message databases ICCBBA publishes to licensees are not reproduced here.
Fixtures and demo data use the FINs ICCBBA reserves for validation, A9990–A9999.

Standard library only (plus veinline's own domain errors), so it can run anywhere.
Positions in error messages count from 1, as a person counts characters on a label.
A message quotes at most the first 40 characters of what was typed or scanned, escaped,
so a hostile or garbled scan can neither flood a log nor write control characters to a
terminal. A check character that contradicts its data raises CheckCharacterMismatch, an
InvalidInput a caller can tell apart from malformed data.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Final

from veinline.domain.errors import InvalidInput

__all__ = [
    "COLLECTION_TYPES",
    "MOD37_2_CHARACTERS",
    "SPECIFIED_ORDERS",
    "VALIDATION_FINS",
    "CheckCharacterMismatch",
    "Coi",
    "DataStructure",
    "Din",
    "character_of",
    "check_character",
    "coi_barcode_data",
    "coi_check_character",
    "format_coi",
    "mod37_2_check_character",
    "mod37_2_check_value",
    "mod37_2_is_valid",
    "nominal_year",
    "parse",
    "validate_coi_with_check",
    "validate_with_check",
    "value_of",
]

# ST-001 §2.4.1 and IG-034: FINs A9990–A9999 are reserved for validation, so fixtures and
# demo data can never collide with a real facility's DINs.
VALIDATION_FINS: Final[tuple[str, ...]] = tuple(f"A999{d}" for d in range(10))

# ISO/IEC 7064 MOD 37-2 (ST-001 Appendix A, Table 35): the index of a character is its value.
MOD37_2_CHARACTERS: Final = string.digits + string.ascii_uppercase + "*"

_DIGITS: Final = frozenset(string.digits)
_UPPER: Final = frozenset(string.ascii_uppercase)
_LOWER: Final = frozenset(string.ascii_lowercase)
_UPPER_DIGITS: Final = _UPPER | _DIGITS
_ANY_CASE_ALNUM: Final = _UPPER | _LOWER | _DIGITS
_LOWER_DIGITS: Final = _LOWER | _DIGITS
# ST-001 §2.4.1: the first FIN character is A–N, P–Z or 1–9 (never O or 0, which read alike).
_FIN_FIRST: Final = (_UPPER - {"O"}) | (_DIGITS - {"0"})
# ST-001 §2.4.1: FIN positions 2–3 are A–N, P–Z or 0–9 ("current usage is numeric"; letters
# may come); positions 4–5 are digits.
_FIN_MIDDLE: Final = (_UPPER - {"O"}) | _DIGITS
# ST-001 §2.4.1: flag characters are 0–9, A–H, J–N, P, R–Y.
_FLAG_CHARACTERS: Final = _DIGITS | frozenset("ABCDEFGHJKLMNPRSTUVWXY")

# ISBT 128 was first published in 1994 (ICCBBA was formed that year, ST-001 §12.1), so a
# two-digit nominal year of 94–99 can only be the 1990s. Revisit before 2094.
_FIRST_ISBT128_YEAR: Final = 94

# How much of what was typed or scanned an error message may quote.
_QUOTE_LIMIT: Final = 40

_Fields = dict[str, object]


class CheckCharacterMismatch(InvalidInput):
    """A check character (K, or a type 3 DIN flag) that contradicts the data it protects.

    The data is well formed but was misread or mistyped: a failed check, not malformed
    input. Still an InvalidInput, so every caller that refuses malformed data refuses it.
    """


def _quote(text: str) -> str:
    """`text` as an error message may show it: escaped, at most 40 characters, then '…'.

    The limit holds for the escaped form too: control characters, each shown as four
    ('\\x00'), must not stretch a message past what a person reads at a glance.
    """
    shown = min(len(text), _QUOTE_LIMIT)
    while len(repr(text[:shown])) > _QUOTE_LIMIT + 2:  # + 2: the quotes repr adds
        shown -= 1
    return repr(text[:shown]) + ("" if shown == len(text) else "…")


# ---------------------------------------------------------------------------
# ISO/IEC 7064 MOD 37-2
# ---------------------------------------------------------------------------


def value_of(ch: str) -> int:
    """The ISO/IEC 7064 MOD 37-2 value of one character: 0–9 → 0–9, A–Z → 10–35, * → 36."""
    return _value_at(ch, None)


def character_of(value: int) -> str:
    """The character whose ISO/IEC 7064 MOD 37-2 value is `value` (0–36)."""
    if not 0 <= value <= 36:
        raise InvalidInput(f"a MOD 37-2 check value is 0–36, not {value}")
    return MOD37_2_CHARACTERS[value]


def _value_at(ch: str, position: int | None) -> int:
    where = f" at position {position}" if position is not None else ""
    if len(ch) != 1:
        raise InvalidInput(f"expected one character, got {len(ch)}: {_quote(ch)}")
    if ch in _LOWER:
        # ST-001 §7.5.1: MOD 37-2 has no values for lower case letters.
        raise InvalidInput(f"lower case {ch!r}{where} has no check value: use upper case")
    value = MOD37_2_CHARACTERS.find(ch)
    if value < 0:
        raise InvalidInput(f"bad character {ch!r}{where}: only 0–9, A–Z and * have check values")
    return value


def mod37_2_check_value(data: str) -> int:
    """Check value (0–36) of `data` by the running form of ISO/IEC 7064 MOD 37-2.

    p = 0; for each character v: p = ((p + v) × 2) mod 37; then C = (38 − p) mod 37.
    """
    if not data:
        raise InvalidInput("nothing to compute a check character for")
    p = 0
    for position, ch in enumerate(data, start=1):
        if ch == "*":
            # ISO/IEC 7064: '*' is a check character only, never a data character.
            raise InvalidInput(f"'*' at position {position} may only be a check character")
        p = ((p + _value_at(ch, position)) * 2) % 37
    return (38 - p) % 37


def mod37_2_check_character(data: str) -> str:
    """Check character of `data` (upper case letters and digits) by ISO/IEC 7064 MOD 37-2."""
    return MOD37_2_CHARACTERS[mod37_2_check_value(data)]


def mod37_2_is_valid(text: str) -> bool:
    """Whether `text`, ending in its check character, passes the sum form of MOD 37-2.

    Valid when Σ vᵢ·2^(i−1) ≡ 1 (mod 37), i counted from the right starting at 1. This is a
    second, independent formulation of the running form used to compute the character.
    """
    if len(text) < 2:
        raise InvalidInput("a string with its check character has at least 2 characters")
    total = 0
    for i, ch in enumerate(reversed(text), start=1):
        position = len(text) - i + 1
        if ch == "*" and i != 1:
            raise InvalidInput(f"'*' at position {position} may only be a check character")
        total += _value_at(ch, position) * pow(2, i - 1, 37)
    return total % 37 == 1


# ---------------------------------------------------------------------------
# Character shapes
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Part:
    """A run of characters in a data content string and what it may contain."""

    name: str
    length: int
    allowed: frozenset[str]
    expected: str


def _check_parts(text: str, parts: Sequence[_Part], *, offset: int, subject: str) -> None:
    """Refuse the first character of `text` that its part does not allow, naming its position."""
    index = 0
    for part in parts:
        for ch in text[index : index + part.length]:
            if ch not in part.allowed:
                position = offset + index + 1
                if ch in _LOWER and ch.upper() in part.allowed:
                    raise InvalidInput(
                        f"lower case {ch!r} at position {position} of the {subject}: "
                        f"ISBT 128 uses upper case there"
                    )
                raise InvalidInput(
                    f"bad character {ch!r} at position {position} of the {subject}: "
                    f"the {part.name} must be {part.expected}"
                )
            index += 1


_FIN_PARTS: Final = (
    _Part("first FIN character", 1, _FIN_FIRST, "A–N, P–Z or 1–9"),
    _Part("FIN positions 2–3", 2, _FIN_MIDDLE, "A–N, P–Z or 0–9"),
    _Part("FIN positions 4–5", 2, _DIGITS, "digits"),
)
_DIN_PARTS: Final = (
    *_FIN_PARTS,
    _Part("year (positions 6–7)", 2, _DIGITS, "digits"),
    _Part("sequence (positions 8–13)", 6, _DIGITS, "digits"),
)


def _refuse_lower_case(text: str, *, offset: int, subject: str) -> None:
    for index, ch in enumerate(text):
        if ch in _LOWER:
            raise InvalidInput(
                f"the {subject} must be upper case: {ch!r} at position {offset + index + 1}"
            )


def _validate_fin(fin: str, *, offset: int = 0, subject: str = "FIN") -> None:
    if len(fin) != 5:
        raise InvalidInput(f"a FIN has 5 characters, {_quote(fin)} has {len(fin)}")
    _refuse_lower_case(fin, offset=offset, subject=subject)
    if fin[0] in "O0":
        raise InvalidInput(
            f"a FIN cannot start with {fin[0]!r}: its first character is A–N, P–Z or 1–9"
        )
    _check_parts(fin, _FIN_PARTS, offset=offset, subject=subject)


def _validate_din(din: str) -> None:
    """Refuse anything that is not a 13-character DIN (ST-001 §2.4.1), saying what is wrong."""
    for index, ch in enumerate(din):
        if ch not in _ANY_CASE_ALNUM:
            raise InvalidInput(
                f"bad character {ch!r} at position {index + 1}: a DIN has only letters and digits"
            )
    _refuse_lower_case(din, offset=0, subject="DIN")
    if len(din) != 13:
        hint = {15: "; leave out the 2 flag characters", 14: "; leave out the check character"}
        raise InvalidInput(
            f"a DIN has 13 characters (FIN 5, year 2, sequence 6), {_quote(din)} has {len(din)}"
            f"{hint.get(len(din), '')}"
        )
    if din[0] in "O0":
        raise InvalidInput(
            f"a DIN cannot start with {din[0]!r}: the first FIN character is A–N, P–Z or 1–9"
        )
    _check_parts(din, _DIN_PARTS, offset=0, subject="DIN")


def nominal_year(yy: str) -> int:
    """The four-digit nominal year of a two-digit ISBT 128 year (DIN, CoI)."""
    if len(yy) != 2 or not set(yy) <= _DIGITS:
        raise InvalidInput(f"a nominal year has 2 digits, not {_quote(yy)}")
    value = int(yy)
    return 1900 + value if value >= _FIRST_ISBT128_YEAR else 2000 + value


# ---------------------------------------------------------------------------
# Donation Identification Number (DS001)
# ---------------------------------------------------------------------------


def check_character(din: str) -> str:
    """The keyboard entry check character K of a 13-character DIN (ST-001 §7.5, Appendix A).

    K is computed on the DIN only: no '=' data identifier and no flag characters.
    """
    _validate_din(din)
    return mod37_2_check_character(din)


def validate_with_check(text: str) -> bool:
    """Whether a 14-character DIN + check character (as keyed from a label) is consistent.

    Malformed input raises InvalidInput; a well-formed DIN with the wrong K returns False.
    Like every MOD 37-2 check this catches every single substitution and most
    transpositions, but not every circular shift: `NA999914123456` passes.
    """
    if len(text) != 14:
        raise InvalidInput(
            f"a DIN with its check character has 14 characters, {_quote(text)} has {len(text)}"
        )
    _validate_din(text[:13])
    k = text[13]
    if k in _LOWER:
        raise InvalidInput(f"the check character must be upper case: {k!r} at position 14")
    if k not in MOD37_2_CHARACTERS:
        raise InvalidInput(f"bad check character {k!r} at position 14: it is 0–9, A–Z or *")
    return mod37_2_is_valid(text)


def _type3_flag(din: str) -> str:
    # ST-001 Table 3 [RT004]: a type 3 flag is 60 plus the MOD 37-2 check value of the DIN.
    return f"{60 + mod37_2_check_value(din):02d}"


def _validate_flags(flags: str, din: str) -> None:
    if len(flags) != 2:
        raise InvalidInput(f"DIN flags are 2 characters, {_quote(flags)} has {len(flags)}")
    for index, ch in enumerate(flags):
        if ch not in _FLAG_CHARACTERS:
            raise InvalidInput(
                f"bad flag character {ch!r} at position {index + 1}: "
                f"flags are 0–9, A–H, J–N, P or R–Y"
            )
    if flags.isdigit() and 60 <= int(flags) <= 96 and flags != _type3_flag(din):
        raise InvalidInput(
            f"flag {flags} would carry check character {character_of(int(flags) - 60)!r}, "
            f"but DIN {din} has check character {check_character(din)!r} "
            f"(type 3 flag {_type3_flag(din)})"
        )


@dataclass(frozen=True, slots=True)
class Din:
    """A Donation Identification Number: one donation event, unique for 100 years (ST-001)."""

    fin: str
    year: str
    sequence: int

    def __post_init__(self) -> None:
        _validate_fin(self.fin)
        if len(self.year) != 2 or not set(self.year) <= _DIGITS:
            raise InvalidInput(f"the DIN year is 2 digits, not {_quote(self.year)}")
        if not 0 <= self.sequence <= 999_999:
            raise InvalidInput(f"the DIN sequence is 0–999999, not {self.sequence}")
        _validate_din(self.text)

    @property
    def text(self) -> str:
        """The 13 characters αppppyynnnnnn."""
        return f"{self.fin}{self.year}{self.sequence:06d}"

    @property
    def check(self) -> str:
        """The keyboard entry check character K, printed boxed after the DIN."""
        return mod37_2_check_character(self.text)

    @property
    def nominal_year(self) -> int:
        """The four-digit nominal year of assignment."""
        return nominal_year(self.year)

    @property
    def is_validation(self) -> bool:
        """Whether the DIN belongs to a FIN reserved for validation (A9990–A9999)."""
        return self.fin in VALIDATION_FINS

    @property
    def type3_flag(self) -> str:
        """The flag pair that carries the check character in the barcode (60 + check value)."""
        return _type3_flag(self.text)

    def barcode_data(self, flags: str = "00") -> str:
        """Code 128 / Data Matrix data: '=' + DIN + flags (ST-001 §2.4.1)."""
        _validate_flags(flags, self.text)
        return f"={self.text}{flags}"

    def eye_readable(self, *, with_check: bool = False) -> str:
        """Eye-readable text grouped as on labels: 'A9999 26 000123'.

        With `with_check`, K follows in brackets standing for the box a label draws
        around it (ST-001 §7.5.1.1): 'A9998 18 123456 [N]'.
        """
        text = f"{self.fin} {self.year} {self.sequence:06d}"
        return f"{text} [{self.check}]" if with_check else text

    @classmethod
    def parse(cls, text: str) -> Din:
        """Read a DIN as typed or scanned.

        Accepts the 13-character DIN, the DIN followed by its check character (verified),
        either with the label's spaces ('A9999 26 000123 P'), or DS001 barcode data
        ('=' + DIN + flags).
        """
        raw = text.strip()
        if raw.startswith("="):
            structures = _read_all(raw)
            if len(structures) != 1 or structures[0].number != "001":
                raise InvalidInput(f"{_quote(raw)} is not the barcode data of one DIN")
            din = structures[0].data[:13]
        else:
            din = raw.replace(" ", "")
            if len(din) == 14:
                if not validate_with_check(din):
                    raise CheckCharacterMismatch(
                        f"check character {din[13]!r} does not match DIN {din[:13]}: "
                        f"re-key the DIN from the label"
                    )
                din = din[:13]
            else:
                _validate_din(din)
        return cls(fin=din[:5], year=din[5:7], sequence=int(din[7:13]))


# ---------------------------------------------------------------------------
# Chain of Identity identifier (DS040, ST-028)
# ---------------------------------------------------------------------------


def _two_digit_year(year: int | str) -> str:
    if isinstance(year, int):
        if 0 <= year <= 99:
            return f"{year:02d}"
        if 1900 <= year <= 2099:
            return f"{year % 100:02d}"
        raise InvalidInput(f"the nominal year is 0–99 or a four-digit year, not {year}")
    if len(year) in (2, 4) and set(year) <= _DIGITS:
        return year[-2:]
    raise InvalidInput(f"the nominal year is 2 or 4 digits, not {_quote(year)}")


def _coi_sequence(sequence: int | str) -> str:
    if isinstance(sequence, int):
        if not 0 <= sequence <= 999_999:
            raise InvalidInput(f"the CoI sequence is 0–999999, not {sequence}")
        return f"{sequence:06d}"
    # ST-001 §2.4.40: the CoI sequence is six alphanumeric characters {A–Z, 0–9}.
    if len(sequence) != 6 or not set(sequence) <= _UPPER_DIGITS:
        raise InvalidInput(f"the CoI sequence is 6 characters A–Z or 0–9, not {_quote(sequence)}")
    return sequence


# ST-001 §2.4.40: the literal "CH", the FIN of the issuing organisation, the two-digit
# nominal year of issue and a six-character sequence {A–Z, 0–9} the issuing organisation
# assigns. Each literal character is its own part, so "HC" or "CC" is refused by position.
_COI_PARTS: Final = (
    _Part("literal 'CH' (position 1)", 1, frozenset("C"), "'C'"),
    _Part("literal 'CH' (position 2)", 1, frozenset("H"), "'H'"),
    *_FIN_PARTS,
    _Part("year", 2, _DIGITS, "digits"),
    _Part("sequence", 6, _UPPER_DIGITS, "A–Z or 0–9"),
)
_COI_LENGTH: Final = 15


def _validate_coi(coi: str) -> None:
    """Refuse anything that is not a 15-character CoI identifier (ST-001 §2.4.40)."""
    for index, ch in enumerate(coi):
        if ch not in _ANY_CASE_ALNUM:
            raise InvalidInput(
                f"bad character {ch!r} at position {index + 1}: a CoI identifier has only "
                f"letters and digits"
            )
    if len(coi) != _COI_LENGTH:
        hint = {16: "; leave out the check character", 13: "; it starts with 'CH'"}
        raise InvalidInput(
            f"a CoI identifier has 15 characters ('CH', FIN 5, year 2, sequence 6), "
            f"{_quote(coi)} has {len(coi)}{hint.get(len(coi), '')}"
        )
    _refuse_lower_case(coi, offset=0, subject="CoI identifier")
    _check_parts(coi, _COI_PARTS, offset=0, subject="CoI identifier")


@dataclass(frozen=True, slots=True)
class Coi:
    """A Chain of Identity identifier: one therapy event, linking its DINs (ST-028).

    ST-028 (as ICCBBA describes it publicly) and IG-050: an issuing organisation allocates
    it at or before the first collection for a therapy event, and it is the same on every
    donation collected for that event. It links their DINs and never replaces them: each
    donation keeps its own DIN. What is checked here is the data structure of ST-001
    §2.4.40 and the check character of §7.5; ST-028's further assignment rules (e.g. who
    may issue) are the issuing organisation's business and unconfirmed here.
    """

    fin: str
    year: str
    sequence: str

    def __post_init__(self) -> None:
        _validate_fin(self.fin, subject="FIN of the CoI identifier")
        if len(self.year) != 2 or not set(self.year) <= _DIGITS:
            raise InvalidInput(f"the CoI year is 2 digits, not {_quote(self.year)}")
        _coi_sequence(self.sequence)
        _validate_coi(self.text)

    @property
    def text(self) -> str:
        """The 15-character DS040 data content string 'CH' + αpppp + yy + nnnnnn."""
        return f"CH{self.fin}{self.year}{self.sequence}"

    @property
    def check(self) -> str:
        """The keyboard entry check character K, printed boxed after the text.

        ST-001 §7.5 and Table 30 [RT002]: K is required wherever DS040 is printed as text,
        and is computed with MOD 37-2 on the data content string, so over all 15
        characters, 'CH' included (only DS001 leaves characters, its flags, out).
        """
        return mod37_2_check_character(self.text)

    @property
    def nominal_year(self) -> int:
        """The four-digit nominal year of issue."""
        return nominal_year(self.year)

    @property
    def is_validation(self) -> bool:
        """Whether the issuing FIN is one reserved for validation (A9990–A9999)."""
        return self.fin in VALIDATION_FINS

    @property
    def barcode_data(self) -> str:
        """Code 128 / Data Matrix data: '&/' + the data content string (ST-001 §2.4.40)."""
        return "&/" + self.text

    def eye_readable(self, *, with_check: bool = False) -> str:
        """Eye-readable text grouped as veinline's labels print it: 'CH A9999 26 000001'.

        The grouping is unconfirmed: ST-001 §7.4 fixes no grouping for DS040 text, and
        what ST-028 and IG-050 say of CoI text (IG-050 covers non-ISBT 128 labels) was
        not at hand. The characters are the data content string either way. With
        `with_check`, K follows in brackets standing for the box ST-001 §7.5.1.1 draws.
        """
        text = f"CH {self.fin} {self.year} {self.sequence}"
        return f"{text} [{self.check}]" if with_check else text

    @classmethod
    def parse(cls, text: str) -> Coi:
        """Read a CoI identifier as typed or scanned, checking its layout and its K.

        Accepts the 15-character data content string, the same followed by its check
        character K (verified), either with the label's spaces ('CH A9999 26 000001 K'),
        or DS040 barcode data ('&/' + content, which carries no K).
        """
        raw = text.strip()
        if raw.startswith("&"):
            structures = _read_all(raw)
            if len(structures) != 1 or structures[0].number != "040":
                raise InvalidInput(f"{_quote(raw)} is not the barcode data of one CoI identifier")
            coi = structures[0].data
        else:
            coi = raw.replace(" ", "")
            if len(coi) == _COI_LENGTH + 1:
                if not validate_coi_with_check(coi):
                    raise CheckCharacterMismatch(
                        f"check character {coi[-1]!r} does not match CoI identifier "
                        f"{coi[:-1]}: re-key the CoI identifier from the label"
                    )
                coi = coi[:_COI_LENGTH]
            else:
                _validate_coi(coi)
        return cls(fin=coi[2:7], year=coi[7:9], sequence=coi[9:15])


def format_coi(fin: str, year: int | str, sequence: int | str) -> str:
    """The DS040 data content 'CH' + FIN + yy + six-character sequence (ST-001 §2.4.40).

    `fin` is the issuing organisation's, `year` the nominal year of issue (two or four
    digits), `sequence` a number (zero-padded) or six characters A–Z, 0–9.
    """
    return Coi(fin=fin, year=_two_digit_year(year), sequence=_coi_sequence(sequence)).text


def coi_barcode_data(fin: str, year: int | str, sequence: int | str) -> str:
    """Barcode data of a CoI identifier: '&/' + DS040 content."""
    return "&/" + format_coi(fin, year, sequence)


def validate_coi_with_check(text: str) -> bool:
    """Whether a 16-character CoI identifier + check character (as keyed) is consistent.

    Malformed input raises InvalidInput; a well-formed CoI identifier with the wrong K
    returns False, as `validate_with_check` does for a DIN.
    """
    if len(text) != _COI_LENGTH + 1:
        raise InvalidInput(
            f"a CoI identifier with its check character has 16 characters, {_quote(text)} "
            f"has {len(text)}"
        )
    _validate_coi(text[:_COI_LENGTH])
    k = text[_COI_LENGTH]
    if k in _LOWER:
        raise InvalidInput(f"the check character must be upper case: {k!r} at position 16")
    if k not in MOD37_2_CHARACTERS:
        raise InvalidInput(f"bad check character {k!r} at position 16: it is 0–9, A–Z or *")
    return mod37_2_is_valid(text)


def coi_check_character(coi: str) -> str:
    """Keyboard entry check character K of a 15-character CoI identifier ('CH…').

    ST-001 §7.5 requires K wherever DS040 is printed as text, computed with MOD 37-2 on the
    data content string.
    """
    _validate_coi(coi)
    return mod37_2_check_character(coi)


# ---------------------------------------------------------------------------
# Reference tables embedded in ST-001 §3.1
# ---------------------------------------------------------------------------

# ST-001 Table 3 [RT004]: DIN flag characters, type 1 (ICCBBA-defined process control).
_TYPE1_FLAGS: Final[Mapping[str, str]] = {
    "00": "flag not used",
    **{f"{n:02d}": f"container {n} of a set" for n in range(1, 5)},
    "05": "second (or repeated) demand-printed label",
    "06": "pilot tube label",
    "07": "test tube label",
    "08": "donor record label",
    "09": "sample tube for NAT testing",
    "10": "samples for bacterial testing",
    "11": "match with unit label",
    "12": "affixed partial label",
    "13": "attached label (used with an affixed partial label)",
    **{f"{n:02d}": f"container {n - 10} of a set" for n in range(15, 20)},
}

# ST-001 Table 7 [RT008]: type of collection, the 6th character of a product code.
COLLECTION_TYPES: Final[Mapping[str, str]] = {
    "0": "not specified",
    "V": "volunteer allogeneic (default)",
    "R": "volunteer research, not for human application",
    "S": "volunteer source",
    "T": "volunteer therapeutic",
    "P": "paid allogeneic",
    "r": "paid research, not for human application",
    "s": "paid source",
    "A": "autologous, eligible for crossover",
    "1": "for autologous use only",
    "X": "for autologous use only, biohazard",
    "D": "volunteer directed, eligible for crossover",
    "d": "paid directed, eligible for crossover",
    "2": "for directed recipient use only",
    "L": "for directed recipient use only, limited exposure",
    "E": "medical exception, for specified recipient only (allogeneic)",
    "Q": "see the special testing bar code",
    "3": "for directed recipient use only, biohazard",
    "4": "designated",
    "5": "dedicated",
    "6": "designated, biohazard",
    "F": "family reserved",
    "C": "replacement",
    "7": "for allogeneic use",
    "8": "for autologous use, contains allogeneic material",
    "B": "directed/dedicated/designated collection use only",
    "H": "directed/dedicated/designated collection, biohazardous",
    "J": "directed/dedicated/designated collection, eligible for crossover",
    "G": "for emergency use only",
}

# ST-001 §2.4.3: the first character of a product description code says its category.
_PRODUCT_CATEGORIES: Final[Mapping[str, str]] = {
    "E": "blood components",
    "F": "blood components",
    "H": "MPHO with INN and/or USAN names",
    "M": "other therapies",
    "N": "organs",
    "P": "regenerated tissue",
    "R": "reproductive tissue and cells",
    "S": "cellular therapy",
    "T": "tissues",
    "V": "ocular tissue",
    "W": "fecal microbiota",
    "X": "other blood products",
    "Y": "clinical trials",
    "A": "national code",
    "B": "national code",
    "C": "national code",
    "D": "local (facility) code",
}

# Single European Code coding systems (EU Directive 2015/565 Annex VII; ST-012 §2.2.2).
_SEC_CODING_SYSTEMS: Final[Mapping[str, str]] = {
    "A": "ISBT 128",
    "B": "Eurocode",
    "E": "EUTC",
}

# ICCBBA-specified compound messages (ST-001 §2.4.23, table W2 [RT017]). RT017 itself is
# published only to licensees; these four entries are the excerpt reproduced in ST-017
# v1.0.0 §4.2 Table 3 (medical devices containing MPHO). Callers holding the full table
# pass more entries to `parse(..., specified_orders=...)`.
SPECIFIED_ORDERS: Final[Mapping[str, tuple[str, ...]]] = {
    "034": ("034", "032", "001"),
    "035": ("034", "032", "001", "004"),
    "036": ("034", "032", "001", "008"),
    "037": ("034", "032", "001", "004", "008"),
}


# ---------------------------------------------------------------------------
# Data structures
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataStructure:
    """One ISBT 128 data structure read from barcode data: identifier, content, meaning."""

    number: str
    name: str
    data_identifier: str
    data: str
    fields: Mapping[str, object]
    position: int

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict: number, name, data_identifier, data and decoded fields."""
        return {
            "number": self.number,
            "name": self.name,
            "data_identifier": self.data_identifier,
            "data": self.data,
            "fields": copy.deepcopy(dict(self.fields)),
        }


_Decoder = Callable[[str, str], _Fields]


@dataclass(frozen=True, slots=True)
class _Spec:
    """How to read one data structure: its identifier, content length and decoder."""

    number: str
    name: str
    identifier: str
    length: int
    parts: tuple[_Part, ...] = ()
    decode: _Decoder | None = None
    # Variable-length structures: the total content length from the `length`-character header.
    total_length: Callable[[str], int] | None = None


def _decode_din(content: str, where: str) -> _Fields:
    din, flags = content[:13], content[13:]
    check = mod37_2_check_character(din)
    fields: _Fields = {
        "din": din,
        "fin": din[:5],
        "year": din[5:7],
        "nominal_year": nominal_year(din[5:7]),
        "sequence": din[7:13],
        "check_character": check,
        "is_validation_fin": din[:5] in VALIDATION_FINS,
        "flags": flags,
        "flag_type": None,
        "flag_meaning": "reserved for future assignment",
        "flag_check_character": None,
        "flag_check_matches": None,
    }
    if flags in _TYPE1_FLAGS:
        fields["flag_type"] = 1
        fields["flag_meaning"] = _TYPE1_FLAGS[flags]
    elif flags.isdigit() and 20 <= int(flags) <= 59:
        fields["flag_type"] = 2
        fields["flag_meaning"] = "defined locally by the facility; not to be read elsewhere"
    elif flags.isdigit() and 60 <= int(flags) <= 96:
        # ST-001 §2.4.1 and Table 3 [RT004]: flags 60–96 are 60 + the MOD 37-2 check value of
        # the 13 DIN characters. A scanner reads them, so a mismatch means the DIN or its
        # flags were misprinted or misread: refuse the scan rather than report it.
        encoded = character_of(int(flags) - 60)
        if encoded != check:
            raise CheckCharacterMismatch(
                f"{where}: type 3 flags {flags} carry check character {encoded!r}, but DIN "
                f"{din} has check character {check!r} (flags {_type3_flag(din)}): "
                f"the DIN or its flags were misread; scan the label again"
            )
        fields["flag_type"] = 3
        fields["flag_meaning"] = "MOD 37-2 check character of the DIN"
        fields["flag_check_character"] = encoded
        fields["flag_check_matches"] = True
    return fields


def _decode_blood_groups(content: str, where: str) -> _Fields:
    # ST-001 §2.4.2: gg groups (Table 4) or special message (Table 5); r Rh/Kell/Mia
    # phenotypes (Table 6); e reserved, always 0.
    return {
        "blood_group_code": content[:2],
        "phenotype_code": content[2],
        "reserved": content[3],
    }


def _decode_product_code(content: str, where: str) -> _Fields:
    category = content[0]
    tds = content[5:8]
    fields: _Fields = {
        "product_description_code": content[:5],
        "product_category_code": category,
        "product_category": _PRODUCT_CATEGORIES.get(category),
        "collection_type": None,
        "collection_type_meaning": None,
        "division": None,
        "divided": None,
        "tds": tds,
    }
    # ST-001 §2.4.3: for E, F, H, S, P, X0 and YA–YZ, t is the collection type and ds the
    # division; for M, N, R, T, V and W the three characters are the division; X1–X9 keep
    # 000; A–D are defined nationally or locally.
    if category in "EFHSP" or content[:2] == "X0" or (category == "Y" and content[1] in _UPPER):
        t, ds = content[5], content[6:8]
        fields["collection_type"] = t
        fields["collection_type_meaning"] = COLLECTION_TYPES.get(t)
        fields["division"] = ds
        fields["divided"] = ds != "00"
    elif category in "MNRTVW":
        fields["division"] = tds
        fields["divided"] = tds != "000"
    # ST-001 §2.4.32: 99 in positions 7–8 says the divisions are in data structure 032.
    fields["divisions_in_ds032"] = content[6:8] == "99"
    return fields


def _iso_date(year: int, day_of_year: int, where: str) -> date:
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    if not 1 <= day_of_year <= days:
        raise InvalidInput(f"{where}: day {day_of_year:03d} does not exist in {year}")
    return first + timedelta(days=day_of_year - 1)


def _decode_julian_date(content: str, where: str) -> _Fields:
    # ST-001 §2.4.4–2.4.9: c century, yy year, jjj day of the year; year = 2000 + 100c + yy.
    year = 2000 + 100 * int(content[0]) + int(content[1:3])
    day = _iso_date(year, int(content[3:6]), where)
    fields: _Fields = {"date": day.isoformat(), "year": year, "day_of_year": int(content[3:6])}
    if len(content) == 10:
        hour, minute = int(content[6:8]), int(content[8:10])
        if hour > 23 or minute > 59:
            raise InvalidInput(f"{where}: {content[6:8]}:{content[8:10]} is not a time of day")
        # ISBT 128 dates carry no time zone: they are the labelling facility's local time.
        fields["time"] = f"{hour:02d}:{minute:02d}"
        fields["datetime"] = f"{day.isoformat()}T{hour:02d}:{minute:02d}"
    return fields


def _decode_compound(content: str, where: str) -> _Fields:
    return {
        "declared_count": int(content[:2]),
        "order_reference": content[2:],
        "order_specified": content[2:] != "000",
        "specified_order": None,
    }


def _decode_processing_facility(content: str, where: str) -> _Fields:
    return {"fin_p": content[:5], "facility_product_code": content[5:]}


def _decode_sec(content: str, where: str) -> _Fields:
    # EU Directive 2015/565 Annex VII; ST-012: donation identification sequence (country 2,
    # tissue establishment 6, unique donation number 13) then product identification
    # sequence (coding system 1, product number 7, split number 3, expiry YYYYMMDD 8).
    expiry_text = content[32:40]
    expiry: str | None = None
    if expiry_text != "00000000":  # 00000000: the product has no expiry date
        if not expiry_text.isdigit():
            raise InvalidInput(f"{where}: the SEC expiry date {expiry_text!r} is not YYYYMMDD")
        try:
            expiry = date(
                int(expiry_text[:4]), int(expiry_text[4:6]), int(expiry_text[6:])
            ).isoformat()
        except ValueError as exc:
            raise InvalidInput(
                f"{where}: the SEC expiry date {expiry_text} does not exist"
            ) from exc
    return {
        "country_code": content[:2],
        "tissue_establishment_code": content[2:8],
        "unique_donation_number": content[8:21],
        "coding_system": content[21],
        "coding_system_name": _SEC_CODING_SYSTEMS.get(content[21]),
        "product_number": content[22:29],
        "split_number": content[29:32],
        "expiry_date": expiry,
    }


def _decode_grid(content: str, where: str) -> _Fields:
    checksum = int(content[17:19])
    if checksum > 36:
        raise InvalidInput(f"{where}: the GRID checksum is 00–36, not {content[17:19]}")
    # ST-001 §2.4.39 calls bb "the two-digit modulus 37-2 checksum"; computed here over the
    # 17 characters before it, as ST-017 Appendix 1 does for the Basic UDI-DI (ST-015, which
    # defines the GRID rules, is not public: reported, not enforced).
    computed = mod37_2_check_value(content[:17])
    return {
        "ion": content[:4],
        "registration_donor_identifier": content[4:17],
        "checksum": content[17:19],
        "computed_checksum": f"{computed:02d}",
        "checksum_matches": computed == checksum,
    }


def _decode_coi(content: str, where: str) -> _Fields:
    return {
        "coi": content,
        "fin": content[2:7],
        "year": content[7:9],
        "nominal_year": nominal_year(content[7:9]),
        "sequence": content[9:15],
        "check_character": mod37_2_check_character(content),
        "is_validation_fin": content[2:7] in VALIDATION_FINS,
    }


def _decode_single(key: str) -> _Decoder:
    def decode(content: str, where: str) -> _Fields:
        return {key: content}

    return decode


def _decode_ppic(content: str, where: str) -> _Fields:
    return {
        "fin_p": content[:5],
        "facility_product_code": content[5:11],
        "product_description_code": content[11:16],
    }


def _digits(name: str, length: int) -> _Part:
    return _Part(name, length, _DIGITS, "digits")


_DATE_PARTS: Final = (_digits("century", 1), _digits("year", 2), _digits("day of year", 3))
_DATE_TIME_PARTS: Final = (*_DATE_PARTS, _digits("hour", 2), _digits("minute", 2))


def _variable_length(count: slice, fixed: int, unit: int) -> Callable[[str], int]:
    """Total content length of a variable structure from its fixed-length header."""

    def total(header: str) -> int:
        return fixed + unit * int(header[count])

    return total


# ST-001 §2.3 Table 2 [RT003] and §2.4: identifier, name and content length of each
# ICCBBA-defined data structure. Retired ones are read (old labels exist) but not decoded.
_SPECS: Final[tuple[_Spec, ...]] = (
    _Spec(
        "002",
        "Blood Groups [ABO and RhD]",
        "=%",
        4,
        (
            _Part("blood group code", 2, _ANY_CASE_ALNUM, "letters or digits"),
            _Part("phenotype code", 1, _UPPER_DIGITS, "A–Z or 0–9"),
            _Part("reserved character", 1, _UPPER_DIGITS, "A–Z or 0–9"),
        ),
        _decode_blood_groups,
    ),
    _Spec(
        "003",
        "Product Code",
        "=<",
        8,
        (
            _Part("product category", 1, _UPPER, "A–Z"),
            _Part("product description code", 4, _UPPER_DIGITS, "A–Z or 0–9"),
            _Part("collection type", 1, _ANY_CASE_ALNUM, "a letter or digit"),
            _Part("division (position 7)", 1, _UPPER_DIGITS, "A–Z or 0–9"),
            _Part("division (position 8)", 1, _LOWER_DIGITS, "a–z or 0–9"),
        ),
        _decode_product_code,
    ),
    _Spec("004", "Expiration Date", "=>", 6, _DATE_PARTS, _decode_julian_date),
    _Spec("005", "Expiration Date and Time", "&>", 10, _DATE_TIME_PARTS, _decode_julian_date),
    _Spec("006", "Collection Date", "=*", 6, _DATE_PARTS, _decode_julian_date),
    _Spec("007", "Collection Date and Time", "&*", 10, _DATE_TIME_PARTS, _decode_julian_date),
    _Spec("008", "Production Date", "=}", 6, _DATE_PARTS, _decode_julian_date),
    _Spec("009", "Production Date and Time", "&}", 10, _DATE_TIME_PARTS, _decode_julian_date),
    _Spec("010", "Special Testing: General", "&(", 5),
    _Spec("011", "Special Testing: Red Blood Cell Antigens [RETIRED]", "={", 18),
    _Spec("012", "Special Testing: Red Blood Cell Antigens – General", "=\\", 18),
    _Spec("013", "Special Testing: Red Blood Cell Antigens – Finnish", "&\\", 18),
    _Spec("014", "Special Testing: Platelet HLA and Platelet Specific Antigens", "&{", 18),
    _Spec("015", "Special Testing: HLA-A and -B Alleles [RETIRED]", "=[", 18),
    _Spec("016", "Special Testing: HLA-DRB1 Alleles [RETIRED]", '="', 18),
    _Spec("017", "Container Manufacturer and Catalog Number", "=)", 10),
    _Spec("018", "Container Lot Number", "&)", 10),
    _Spec("019", "Donor Identification Number", "=;", 21),
    _Spec("020", "Staff Member Identification Number", "='", 11),
    _Spec("021", "Manufacturer and Catalog Number: Items Other Than Containers", "=-", 10),
    _Spec("022", "Lot Number: Items Other Than Containers", "&-", 10),
    _Spec(
        "023",
        "Compound Message",
        "=+",
        5,
        (_digits("count", 2), _digits("order reference", 3)),
        _decode_compound,
    ),
    _Spec("024", "Patient Date of Birth", "=#", 10),
    _Spec(
        "025",
        "Patient Identification Number",
        "&#",
        4,
        (_digits("location code", 2), _digits("length", 2)),
        None,
        _variable_length(slice(2, 4), 4, 1),
    ),
    _Spec("026", "Expiration Month and Year", "=]", 6),
    _Spec("027", "Transfusion Transmitted Infection Marker", '&"', 18),
    _Spec("028", "Product Consignment", "=$", 16),
    _Spec(
        "029",
        "Dimensions",
        "&$",
        2,
        (_digits("number of dimensions", 2),),
        None,
        _variable_length(slice(0, 2), 2, 14),
    ),
    _Spec(
        "030",
        "Red Cell Antigens with Test History",
        "&%",
        3,
        (_digits("number of antigens", 3),),
        None,
        _variable_length(slice(0, 3), 3, 10),
    ),
    _Spec("031", "Flexible Date and Time", "=(", 16),
    _Spec(
        "032",
        "Product Divisions",
        "=,",
        6,
        (_Part("division code", 6, _UPPER_DIGITS, "A–Z or 0–9"),),
        _decode_single("division_code"),
    ),
    _Spec(
        "033",
        "Processing Facility Information Code",
        "&+",
        11,
        (
            _Part("FIN(P)", 5, _FIN_MIDDLE, "A–N, P–Z or 0–9"),
            _Part("facility-defined product code", 6, _UPPER_DIGITS, "A–Z or 0–9"),
        ),
        _decode_processing_facility,
    ),
    _Spec(
        "034",
        "Processor Product Identification Code",
        "=/",
        16,
        (
            _Part("FIN(P)", 5, _FIN_MIDDLE, "A–N, P–Z or 0–9"),
            _Part("facility-defined product code", 6, _UPPER_DIGITS, "A–Z or 0–9"),
            _Part("product description code", 5, _UPPER_DIGITS, "A–Z or 0–9"),
        ),
        _decode_ppic,
    ),
    _Spec(
        "035",
        "MPHO Lot Number",
        "&,1",
        18,
        (_Part("lot number", 18, _UPPER_DIGITS, "A–Z or 0–9"),),
        _decode_single("lot_number"),
    ),
    _Spec(
        "036",
        "MPHO Supplemental Identification Number",
        "&,2",
        18,
        (_Part("supplemental identification number", 18, _UPPER_DIGITS, "A–Z or 0–9"),),
        _decode_single("supplemental_identification_number"),
    ),
    _Spec("037", "Global Registration Identifier for Donors [RETIRED]", "&,3", 19),
    # ST-001 §2.4.38: 40 characters A–Z, a–z, 0–9 (Table 2's pattern shows 38 'x', the
    # section text and ST-012's examples have 40).
    _Spec(
        "038",
        "Single European Code (SEC)",
        "&,4",
        40,
        (_Part("SEC", 40, _ANY_CASE_ALNUM, "letters or digits"),),
        _decode_sec,
    ),
    _Spec(
        "039",
        "Global Registration Identifier for Donors",
        "&:",
        19,
        (
            _Part("issuing organization number (first digit)", 1, _DIGITS - {"0"}, "1–9"),
            _digits("issuing organization number", 3),
            _Part("registration donor identifier", 13, _UPPER_DIGITS, "A–Z or 0–9"),
            _digits("checksum", 2),
        ),
        _decode_grid,
    ),
    _Spec("040", "Chain of Identity Identifier", "&/", 15, _COI_PARTS, _decode_coi),
)
_SPECS_BY_IDENTIFIER: Final[Mapping[str, _Spec]] = {spec.identifier: spec for spec in _SPECS}

_DIN_SPEC: Final = _Spec(
    "001",
    "Donation Identification Number",
    "=",
    15,
    (*_DIN_PARTS, _Part("flags", 2, _FLAG_CHARACTERS, "0–9, A–H, J–N, P or R–Y")),
    _decode_din,
)


def _read_one(data: str, start: int) -> tuple[DataStructure, int]:
    """Read the data structure starting at index `start`; return it and where the next starts."""
    position = start + 1
    first = data[start]
    if first not in "=&":
        rest = data[start:]
        if start == 0:
            raise InvalidInput(
                f"{_quote(rest)} is not ISBT 128 barcode data: every data structure starts "
                f"with '=' or '&'"
            )
        raise InvalidInput(
            f"trailing characters {_quote(rest)} at position {position} are not an ISBT 128 "
            f"data structure"
        )
    if start + 1 >= len(data):
        raise InvalidInput(f"the data ends after {first!r} at position {position}")
    second = data[start + 1]
    if first == "=" and second in _FIN_FIRST:
        # ST-001 §2.1: only in the DIN is the second identifier character also content.
        spec, identifier, content_start = _DIN_SPEC, data[start : start + 2], start + 1
    elif first == "=" and second in _LOWER and second.upper() in _FIN_FIRST:
        raise InvalidInput(f"lower case {second!r} at position {position + 1}: a DIN is upper case")
    elif first == "=" and second in "O0":
        raise InvalidInput(
            f"'={second}' at position {position} is not a data identifier: "
            f"a DIN cannot start with {second!r}"
        )
    elif first == "&" and (second in _LOWER or second in ";!"):
        # ST-001 §2.5: nationally defined; ICCBBA fixes no length, so nothing can be read
        # reliably after one, and §2.5.1 keeps them out of compound messages.
        raise InvalidInput(
            f"data identifier '&{second}' at position {position} is defined nationally, "
            f"not by ICCBBA: veinline cannot read it"
        )
    else:
        identifier = data[start : start + (3 if data[start : start + 2] == "&," else 2)]
        found = _SPECS_BY_IDENTIFIER.get(identifier)
        if found is None:
            raise InvalidInput(f"unknown data identifier {identifier!r} at position {position}")
        spec, content_start = found, start + len(identifier)

    length = spec.length
    where = f"the {spec.name} at position {position}"
    after = data[start:content_start]
    available = len(data) - content_start
    if available < length:
        raise InvalidInput(
            f"{where} needs {length} characters after {after!r} but only {available} remain"
        )
    _check_parts(
        data[content_start : content_start + length],
        spec.parts,
        offset=content_start,
        subject=spec.name,
    )
    if spec.total_length is not None:
        length = spec.total_length(data[content_start : content_start + length])
        if available < length:
            raise InvalidInput(
                f"{where} declares {length} characters after {after!r} but only {available} remain"
            )
    content = data[content_start : content_start + length]
    fields = spec.decode(content, where) if spec.decode is not None else {}
    structure = DataStructure(
        number=spec.number,
        name=spec.name,
        data_identifier=identifier,
        data=content,
        fields=fields,
        position=position,
    )
    return structure, content_start + length


def _read_all(data: str) -> list[DataStructure]:
    structures: list[DataStructure] = []
    index = 0
    while index < len(data):
        structure, index = _read_one(data, index)
        structures.append(structure)
    return structures


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _check_compound(
    structures: list[DataStructure], orders: Mapping[str, Sequence[str]]
) -> list[DataStructure]:
    """Check a compound message's declared count and order (ST-001 §2.4.23)."""
    for later in structures[1:]:
        if later.number == "023":
            raise InvalidInput(
                f"a compound message header ('=+') may only open the data, "
                f"but one starts at position {later.position}"
            )
    if not structures or structures[0].number != "023":
        return structures
    header, following = structures[0], structures[1:]
    declared = int(header.data[:2])
    reference = header.data[2:]
    if declared == 0:
        raise InvalidInput("compound message declares no data structures")
    if declared != len(following):
        count = len(following)
        raise InvalidInput(
            f"compound message declares {_plural(declared, 'data structure', 'data structures')} "
            f"but {count} {'follows' if count == 1 else 'follow'}"
        )
    if reference == "000":
        return structures
    order = orders.get(reference)
    if order is None:
        known = ", ".join(sorted(orders))
        raise InvalidInput(
            f"compound message uses ICCBBA specified order {reference}, which veinline does "
            f"not know (known: {known}); ask the sender for an unspecified-order message "
            f"(=+{declared:02d}000)"
        )
    actual = tuple(s.number for s in following)
    if actual != tuple(order):
        raise InvalidInput(
            f"compound message {reference} specifies the order {', '.join(order)} "
            f"but the data has {', '.join(actual)}"
        )
    fields = dict(header.fields)
    fields["specified_order"] = list(order)
    return [replace(header, fields=fields), *following]


def parse(
    data: str, *, specified_orders: Mapping[str, Sequence[str]] | None = None
) -> list[DataStructure]:
    """Read ISBT 128 barcode data into its data structures, in order.

    Reads one data structure, several concatenated (e.g. DIN + blood groups, product code +
    expiry, ST-001 §10), or a compound message (DS023 '=+aabbb' then the structures,
    ST-001 §2.4.23, whose header is returned first). A compound message is only returned
    once its declared count, and its order when bbb ≠ 000, have been checked.
    `specified_orders` adds RT017 entries (reference → data structure numbers) to the
    built-in SPECIFIED_ORDERS excerpt. Anything malformed raises InvalidInput naming the
    position.
    """
    if not data:
        raise InvalidInput("there is no barcode data to read")
    orders: dict[str, Sequence[str]] = {**SPECIFIED_ORDERS, **(specified_orders or {})}
    return _check_compound(_read_all(data), orders)
