"""States shown as coloured badges: each enum's labels and colours declared once.

A `Styled` enum takes its `label` and `colour` from the table given to `styled`
beside it, which must name every member (checked on import, so a new state cannot
reach a page without a label).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar


class Styled(StrEnum):
    """A state with a display label and a badge colour (see `styled`)."""

    @property
    def label(self) -> str:
        return _STYLES[type(self)][self][0]

    @property
    def colour(self) -> str:
        return _STYLES[type(self)][self][1]


S = TypeVar("S", bound=Styled)

_STYLES: dict[type[Styled], Mapping[Any, tuple[str, str]]] = {}


def styled(kind: type[S], table: dict[S, tuple[str, str]]) -> dict[S, tuple[str, str]]:
    """Register `table` (member -> (label, colour)) as `kind`'s styles and return it."""
    missing = [member.value for member in kind if member not in table]
    if missing:
        raise ValueError(f"{kind.__name__} has no label and colour for: {', '.join(missing)}")
    _STYLES[kind] = table
    return table
