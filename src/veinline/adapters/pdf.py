"""What the PDF adapters share: escaping text for reportlab's markup, and what the standard
fonts can print.

The standard PDF fonts need no embedding: Helvetica sets Windows-1252 (cp1252), and
reportlab sets the few characters it lacks ('≥', '≤', 'γ', '−') from Symbol. Text beyond
both (Chinese, say) would print as blanks, so the adapters refuse it, or set it in a
configured TrueType font (labels).
"""

from __future__ import annotations

import html
from functools import cache
from typing import Final

from reportlab.pdfbase import pdfmetrics

TEXT_FONT: Final = "Helvetica"
SUBSTITUTE_FONT: Final = "Symbol"  # reportlab falls back to it for what Helvetica lacks


def markup(text: str, *, line_breaks: bool = False) -> str:
    """Text as reportlab paragraph markup: '&', '<' and '>' escaped (quotes need not be);
    with `line_breaks`, each line break kept as '<br/>'."""
    escaped = html.escape(text, quote=False)
    return escaped.replace("\n", "<br/>") if line_breaks else escaped


def is_winansi(text: str) -> bool:
    """Whether Helvetica alone sets all of `text` (Windows-1252)."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


@cache
def _printable(ch: str) -> bool:
    for name in (TEXT_FONT, SUBSTITUTE_FONT):
        try:
            ch.encode(pdfmetrics.getFont(name).encName)
        except UnicodeEncodeError:
            continue
        return True
    return False


def unprintable(text: str) -> list[str]:
    """The characters of `text` neither Helvetica nor its Symbol fallback sets, sorted;
    control characters other than a line break or a tab count among them."""
    return sorted({ch for ch in text if ch not in "\n\t" and (ch < " " or not _printable(ch))})
