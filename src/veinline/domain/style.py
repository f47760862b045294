"""States shown as coloured badges: each enum's labels and colours declared once.

A `Styled` enum takes its `label` and `colour` from the table given to `styled`
beside it, which must name every member (checked on import, so a new state cannot
reach a page without a label). Pages print the label in white on the colour, so each
colour must give white text a contrast ratio of at least 4.5:1 (WCAG 2.2, success
criterion 1.4.3, for text under 18 pt), also checked on import.
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

# WCAG 2.2 success criterion 1.4.3 (Contrast, Minimum): 4.5:1 for text below 18 pt
# (14 pt bold); the badges' labels are 12.8 to 15 px.
MINIMUM_CONTRAST = 4.5


def _luminance(colour: str) -> float:
    """The relative luminance of an sRGB colour "#rrggbb" (WCAG 2.2, "relative luminance")."""
    digits = colour.removeprefix("#")
    if len(digits) != 6:
        raise ValueError(f"{colour!r} is not a colour of the form #rrggbb")
    try:
        channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    except ValueError:
        raise ValueError(f"{colour!r} is not a colour of the form #rrggbb") from None
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """The contrast ratio of two colours, 1 to 21 (WCAG 2.2, "contrast ratio")."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


_STYLES: dict[type[Styled], Mapping[Any, tuple[str, str]]] = {}


def styled(kind: type[S], table: dict[S, tuple[str, str]]) -> dict[S, tuple[str, str]]:
    """Register `table` (member -> (label, colour)) as `kind`'s styles and return it."""
    missing = [member.value for member in kind if member not in table]
    if missing:
        raise ValueError(f"{kind.__name__} has no label and colour for: {', '.join(missing)}")
    faint = [
        f"{member.value} ({colour}: {contrast('#ffffff', colour):.2f}:1)"
        for member, (_, colour) in table.items()
        if contrast("#ffffff", colour) < MINIMUM_CONTRAST
    ]
    if faint:
        raise ValueError(
            f"{kind.__name__}: white text is too faint (under {MINIMUM_CONTRAST}:1) on: "
            + ", ".join(faint)
        )
    _STYLES[kind] = table
    return table
