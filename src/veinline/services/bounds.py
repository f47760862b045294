"""Bounded input: the one rule every command's text and nested data meet before the bus
hands it to authority or a handler (docs/security.md, "Bounded input").

A command field declares its bound as `typing.Annotated` metadata (`Text`, `Nested`);
a field without one gets the default for its value: `Text()` (200 characters, one line)
for text, `Nested()` for a dict, list or record. Text may not hold control characters
(multi-line free text may hold line feeds, carriage returns and tabs) nor unpaired
surrogates, which no database stores the same way. The limits match the column lengths
in `adapters/orm.py`, so a value that passes is stored alike on SQLite and PostgreSQL.

A refusal is an `InvalidInput` naming the field (never echoing the value): 422 on the
API, exit 2 on the CLI, the form again on the pages.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from enum import Enum
from typing import Annotated

from veinline.domain.errors import InvalidInput

# Defaults: names and identifiers fit a String(200) column, free text a reason or note.
NAME_MAX = 200
FREE_TEXT_MAX = 2_000

_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class Text:
    """A text field: at most `max` characters; `multiline` allows \\n, \\r and \\t."""

    max: int = NAME_MAX
    multiline: bool = False


@dataclass(frozen=True)
class Nested:
    """A dict, list or record: how deep, how many entries in all, how many characters of
    text in all, and the bound of each text value (keys are one-line names)."""

    max_depth: int = 6
    max_items: int = 2_000
    max_chars: int = 100_000
    text: Text = Text(max=FREE_TEXT_MAX, multiline=True)


# The field types commands use; each names its bound once (column lengths: adapters/orm.py).
Id = Annotated[str, Text(max=40)]
LongId = Annotated[str, Text(max=120)]
Username = Annotated[str, Text(max=64)]
Code = Annotated[str, Text(max=64)]
Date = Annotated[str, Text(max=40)]
Name = Annotated[str, Text(max=NAME_MAX)]
Secret = Annotated[str, Text(max=256)]
# Scanned barcode data: a keyboard-wedge scanner ends it with Enter or Tab, which the
# domain strips; NUL and every other control character are refused.
Scan = Annotated[str, Text(max=1_000, multiline=True)]
FreeText = Annotated[str, Text(max=FREE_TEXT_MAX, multiline=True)]

# A temperature logger's CSV export: a reading a minute for a fortnight fits easily.
LOGGER_CSV_MAX = 4_000_000
# A sponsor's outcome file or a planning scenario: many records, still bounded.
LARGE = Nested(max_depth=8, max_items=200_000, max_chars=4_000_000)
# The seed catalogue (products with their sources and notes), loaded by the system.
CATALOGUE = Nested(
    max_depth=10, max_items=200_000, max_chars=4_000_000, text=Text(max=50_000, multiline=True)
)


def check_text(value: str, where: str, bound: Text) -> None:
    """Refuse text over its length, with a control character or an unpaired surrogate."""
    if len(value) > bound.max:
        raise InvalidInput(f"{where} is too long (at most {bound.max:,} characters)")
    if _SURROGATE.search(value):
        raise InvalidInput(f"{where} contains an invalid character (an unpaired surrogate)")
    control = (_CONTROL_MULTILINE if bound.multiline else _CONTROL_ONE_LINE).search(value)
    if control:
        allowed = " (only line breaks and tabs are allowed)" if bound.multiline else ""
        raise InvalidInput(
            f"{where} contains a control character "
            f"(U+{ord(control.group()):04X} at position {control.start() + 1}){allowed}"
        )


def check_nested(value: object, where: str, bound: Nested) -> None:
    """Refuse nested data deeper, bigger or with worse text than its bound allows."""
    budget = _Budget(bound)
    budget.walk(value, where, 0)


@dataclass
class _Budget:
    bound: Nested
    items: int = 0
    chars: int = 0

    def walk(self, value: object, where: str, depth: int) -> None:
        if isinstance(value, str):
            self._text(value, where, self.bound.text)
            return
        if value is None or isinstance(value, (bool, int, float, Enum)):
            return
        if depth >= self.bound.max_depth:
            raise InvalidInput(
                f"{where} is nested too deeply (at most {self.bound.max_depth} levels)"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                self._count(where)
                if not isinstance(key, str):
                    raise InvalidInput(f"{where} has a key that is not text")
                self._text(key, f"a key of {where}", Text())
                self.walk(item, f"{where}.{key}", depth + 1)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for index, item in enumerate(value):
                self._count(where)
                self.walk(item, f"{where}[{index}]", depth + 1)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                self._count(where)
                self.walk(getattr(value, f.name), f"{where}.{f.name}", depth + 1)
        # Other values (dates, decimals) carry no text of their own.

    def _count(self, where: str) -> None:
        self.items += 1
        if self.items > self.bound.max_items:
            raise InvalidInput(f"{where} has too many entries (at most {self.bound.max_items:,})")

    def _text(self, value: str, where: str, bound: Text) -> None:
        self.chars += len(value)
        if self.chars > self.bound.max_chars:
            raise InvalidInput(
                f"{where} is too large (at most {self.bound.max_chars:,} characters of text)"
            )
        check_text(value, where, bound)


_BOUNDS: dict[type, dict[str, Text | Nested | None]] = {}


def bounds_of(cls: type) -> dict[str, Text | Nested | None]:
    """Each field of a command class → its declared bound (None: use the default)."""
    if cls in _BOUNDS:
        return _BOUNDS[cls]
    hints = typing.get_type_hints(cls, include_extras=True)
    declared: dict[str, Text | Nested | None] = {}
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name)
        metadata = getattr(hint, "__metadata__", ())
        declared[f.name] = next((m for m in metadata if isinstance(m, (Text, Nested))), None)
    _BOUNDS[cls] = declared
    return declared


def check(cmd: object) -> None:
    """Refuse a command whose input is out of bounds; the first problem, by field."""
    for name, bound in bounds_of(type(cmd)).items():
        value = getattr(cmd, name)
        if isinstance(value, str) and not isinstance(bound, Nested):
            check_text(value, name, bound or Text())
        elif value is None or isinstance(value, (bool, int, float)):
            continue
        else:
            check_nested(value, name, bound if isinstance(bound, Nested) else Nested())
