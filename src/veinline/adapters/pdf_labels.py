"""PDF labels: draws `veinline.domain.labels.Label`s with reportlab, one 4 × 6 inch page each.

The domain decides what a label says; this module only decides where it goes. Top to
bottom: a black title bar, the product, a two-column grid of Code 128 barcodes (each with
its eye-readable text under it) ending with the Data Matrix, the other text, and a boxed
notice when the identifiers are validation data.

Code 128 uses an X dimension of 0.24 mm and quiet zones of 10X each side (ST-001 asks for
at least 10X); reportlab switches to subset C for digit runs by itself. The Data Matrix is
ECC 200 (ISO/IEC 16022), the symbology ST-001 requires for 2-D symbols on containers.

Text is set in the PDF standard Helvetica, which covers Windows-1252 (Western European
languages). Text beyond it (a site name in Chinese, say) needs `unicode_font`, a TrueType
file that is embedded; without one, or when it lacks a glyph, rendering refuses rather than
print a label with blanks on it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.ecc200datamatrix import ECC200DataMatrix
from reportlab.lib.units import inch, mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from veinline.adapters.pdf import is_winansi
from veinline.domain.errors import InvalidInput
from veinline.domain.labels import Barcode, Label, Symbology, Text

__all__ = ["PAGE_SIZE", "QUIET_ZONE", "X_DIMENSION", "render_labels"]

_INCH: Final = float(inch)
_MM: Final = float(mm)
PAGE_SIZE: Final = (4 * _INCH, 6 * _INCH)
X_DIMENSION: Final = 0.24 * _MM
QUIET_ZONE: Final = 10 * X_DIMENSION
BAR_HEIGHT: Final = 36.0  # 12.7 mm; shorter only when a label is crowded
MATRIX_MODULE: Final = 0.5 * _MM
_MATRIX_MODULES: Final = 44  # reportlab draws the 44 × 44 ECC 200 symbol only

_MARGIN: Final = 10.0
_GUTTER: Final = 8.0
_WIDTH: Final = PAGE_SIZE[0] - 2 * _MARGIN
_CELL: Final = (_WIDTH - _GUTTER) / 2
_ROW: Final = 76.0  # the tallest a grid row grows: caption, bars, value, UTC line
_ROW_TEXT: Final = 36.0  # the part of a row that is not bars
_MIN_BAR_HEIGHT: Final = 24.0  # 8.5 mm
_TITLE_BAR: Final = 24.0
_LINE: Final = 12.0
_DETAIL_LINE: Final = 9.5
_NOTICE: Final = 14.0
_STATEMENT_LINE: Final = 10.0
_MIN_FONT: Final = 5.5

_REGULAR: Final = "Helvetica"
_BOLD: Final = "Helvetica-Bold"


class _IsbtDataMatrix(ECC200DataMatrix):  # type: ignore[misc]
    """reportlab's 44 × 44 ECC 200 symbol, its data encoded in ASCII mode.

    reportlab 4–5 encode in C40 and give ':' to '@' the wrong shift-2 values (ISO/IEC
    16022 Table C.1), which corrupts '=', '<' and '>': the ISBT 128 data identifiers.
    ASCII encodation (one codeword a character, one per digit pair) has no such table and
    fits any ISBT 128 compound message a label carries. reportlab's `encode` calls this
    hook; its Reed-Solomon and module placement are used as they are.
    """

    def _encode_c40(self, value: str) -> list[int]:
        return _ascii_codewords(value, self.cw_data)


def _ascii_codewords(value: str, capacity: int) -> list[int]:
    """ECC 200 data codewords of `value` in ASCII encodation, padded (ISO/IEC 16022 §5.2.3)."""
    codewords: list[int] = []
    index = 0
    while index < len(value):
        pair = value[index : index + 2]
        if len(pair) == 2 and pair.isascii() and pair.isdigit():
            codewords.append(130 + int(pair))
            index += 2
            continue
        code = ord(value[index])
        if code > 127:
            raise InvalidInput(f"{value[index]!r} cannot go into an ISBT 128 Data Matrix")
        codewords.append(code + 1)
        index += 1
    if len(codewords) > capacity:
        raise InvalidInput(f"{len(value)} characters are too many for the label's Data Matrix")
    if len(codewords) < capacity:
        codewords.append(129)
    while len(codewords) < capacity:
        # ISO/IEC 16022 §5.2.3: the 253-state randomising of pad codewords.
        pad = 129 + (149 * (len(codewords) + 1)) % 253 + 1
        codewords.append(pad if pad <= 254 else pad - 254)
    return codewords


def _code128(data: str, bar_height: float = BAR_HEIGHT) -> Any:
    return Code128(
        data, barWidth=X_DIMENSION, barHeight=bar_height, lquiet=QUIET_ZONE, rquiet=QUIET_ZONE
    )


def _string_width(text: str, font: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text, font, size))


def _unicode_font(path: str | Path) -> tuple[str, frozenset[int]]:
    """Register a TrueType file once; its reportlab name and the code points it covers."""
    name = f"veinline-unicode-{Path(path).name}"
    if name not in pdfmetrics.getRegisteredFontNames():
        try:
            pdfmetrics.registerFont(TTFont(name, str(path)))
        except (OSError, TTFError) as exc:
            raise InvalidInput(f"cannot use {path} as the label font: {exc}") from exc
    font = pdfmetrics.getFont(name)
    return name, frozenset(font.face.charToGlyph)


@dataclass(frozen=True, slots=True)
class _Grid:
    """Where each barcode goes: (row, column, spans both columns), and the row height."""

    places: tuple[tuple[int, int, bool], ...]
    rows: int
    row_height: float

    @property
    def bar_height(self) -> float:
        return min(BAR_HEIGHT, self.row_height - _ROW_TEXT)

    @property
    def matrix_module(self) -> float:
        return min(MATRIX_MODULE, (self.row_height - 4) / (_MATRIX_MODULES + 4))


def _plan_grid(label: Label, height: float) -> _Grid:
    """Barcodes two to a row, in order; one too wide for a column takes a row of its own,
    and the next narrow one fills the gap it leaves."""
    places: list[tuple[int, int, bool]] = []
    rows = 0
    gap: int | None = None  # a row whose right-hand column is free
    for barcode in label.barcodes:
        wide = barcode.symbology is Symbology.CODE128 and _code128(barcode.data).width > _CELL
        if wide:
            places.append((rows, 0, True))
            rows += 1
        elif gap is not None:
            places.append((gap, 1, False))
            gap = None
        else:
            places.append((rows, 0, False))
            gap, rows = rows, rows + 1
    row_height = min(_ROW, height / rows)
    if row_height - _ROW_TEXT < _MIN_BAR_HEIGHT:
        raise InvalidInput(f"the {label.kind} label has more on it than fits a 4 × 6 inch page")
    return _Grid(tuple(places), rows, row_height)


class _Page:
    """Draws one label on a canvas page, choosing a font that has every glyph."""

    def __init__(self, canvas: Any, unicode_font: tuple[str, frozenset[int]] | None) -> None:
        self.canvas = canvas
        self.unicode_font = unicode_font

    # -- text ----------------------------------------------------------------

    def font_for(self, text: str, *, bold: bool) -> str:
        if is_winansi(text):
            return _BOLD if bold else _REGULAR
        if self.unicode_font is None:
            raise InvalidInput(
                f"{text!r} has characters the standard label font cannot print: "
                f"configure a Unicode TrueType font for labels"
            )
        name, covered = self.unicode_font
        missing = sorted({ch for ch in text if ord(ch) not in covered})
        if missing:
            raise InvalidInput(
                f"the label font has no glyph for {''.join(missing)!r} in {text!r}: "
                f"configure a font that covers it"
            )
        return name

    def text(
        self, text: str, x: float, y: float, size: float, width: float, *, bold: bool = False
    ) -> float:
        """One line, shrunk (to a floor, then squeezed) to `width`; returns the width drawn."""
        font = self.font_for(text, bold=bold)
        while size > _MIN_FONT and _string_width(text, font, size) > width:
            size -= 0.25
        natural = _string_width(text, font, size)
        line = self.canvas.beginText(x, y)
        line.setFont(font, size)
        if natural > width:
            # Past the smallest readable size: squeeze rather than cut anything off.
            line.setHorizScale(100 * width / natural)
            natural = width
        line.textOut(text)
        # The horizontal scale is graphics state: keep it from leaking to later text.
        self.canvas.saveState()
        self.canvas.drawText(line)
        self.canvas.restoreState()
        return natural

    def wrap(self, text: str, width: float, size: float) -> list[str]:
        """`text` in lines of whole words that fit `width` in bold at `size`."""
        font = self.font_for(text, bold=True)
        lines: list[str] = []
        for word in text.split():
            trial = f"{lines[-1]} {word}" if lines else word
            if lines and _string_width(trial, font, size) <= width:
                lines[-1] = trial
            else:
                lines.append(word)
        return lines or [""]

    def caption(self, text: str, x: float, y: float, width: float) -> None:
        self.canvas.saveState()
        self.canvas.setFillGray(0.3)
        self.text(text, x, y, 6.5, width, bold=True)
        self.canvas.restoreState()

    def boxed(self, character: str, x: float, baseline: float, size: float) -> float:
        """A keyboard entry check character in its box (ST-001 §7.5.1.1); returns the width."""
        pad = 2.0
        box = _string_width(character, _BOLD, size) + 2 * pad
        self.canvas.saveState()
        self.canvas.setLineWidth(0.9)
        self.canvas.rect(x, baseline - 0.3 * size, box, 1.45 * size, stroke=1, fill=0)
        self.canvas.restoreState()
        self.text(character, x + pad, baseline, size, box, bold=True)
        return box

    def flags(self, flags: str, x: float, baseline: float) -> float:
        """DIN flags, small and turned 90° as ISBT 128 labels print them; returns the width."""
        size = 6.0
        self.canvas.saveState()
        self.canvas.translate(x + size, baseline)
        self.canvas.rotate(90)
        self.canvas.setFont(_REGULAR, size)
        self.canvas.drawString(0, 0, flags)
        self.canvas.restoreState()
        return size + 1

    def value(self, text: Text, x: float, baseline: float, width: float) -> None:
        """A value in bold, then its flags and boxed check character when it has them."""
        size = 10.5
        reserved = (8.0 if text.flags else 0.0) + (size + 6 if text.boxed else 0.0)
        used = self.text(text.value, x, baseline, size, width - reserved, bold=True)
        cursor = x + used + 3
        if text.flags:
            cursor += self.flags(text.flags, cursor, baseline)
        if text.boxed:
            self.boxed(text.boxed, cursor, baseline, size)

    # -- barcodes ------------------------------------------------------------

    def linear(
        self, barcode: Barcode, x: float, top: float, width: float, bar_height: float
    ) -> None:
        """A Code 128 symbol (quiet zones included), caption above, eye-readable text below."""
        text = barcode.text
        inner = width - QUIET_ZONE
        if text is not None:
            self.caption(text.caption, x + QUIET_ZONE, top - 7, inner)
        _code128(barcode.data, bar_height).drawOn(self.canvas, x, top - 10 - bar_height)
        if text is not None:
            baseline = top - 10 - bar_height - 11.5
            self.value(text, x + QUIET_ZONE, baseline, inner)
            if text.detail:
                self.text(text.detail, x + QUIET_ZONE, baseline - 9, 7.5, inner)

    def matrix(self, barcode: Barcode, x: float, top: float, module: float, count: int) -> None:
        symbol = _IsbtDataMatrix(barcode.data, barWidth=module, x=0, y=0)
        size = symbol.width
        quiet = 2 * module  # ISO/IEC 16022 asks for 1 module
        symbol.drawOn(self.canvas, x + quiet, top - size - quiet)
        caption_x = x + size + 2 * quiet + 4
        caption_width = _CELL - size - 2 * quiet - 4
        for line, words in enumerate(("Data Matrix", f"{count} ISBT 128", "structures")):
            self.caption(words, caption_x, top - 10 - 8 * line, caption_width)

    def grid(self, label: Label, grid: _Grid, top: float) -> float:
        """The barcodes where the grid puts them; returns the y below the grid."""
        count = len(label.linear)
        for barcode, (row, column, wide) in zip(label.barcodes, grid.places, strict=True):
            x = _MARGIN + column * (_CELL + _GUTTER)
            y = top - row * grid.row_height
            if barcode.symbology is Symbology.CODE128:
                self.linear(barcode, x, y, _WIDTH if wide else _CELL, grid.bar_height)
            else:
                self.matrix(barcode, x, y, grid.matrix_module, count)
        return top - grid.rows * grid.row_height

    # -- blocks --------------------------------------------------------------

    def information(self, lines: Sequence[Text], top: float) -> float:
        """Caption and value pairs; a date's UTC line sits under its local time."""
        widest = max((_string_width(t.caption, _BOLD, 6.5) for t in lines), default=0.0)
        caption_width = min(widest + 8, 110.0)
        value_x = _MARGIN + caption_width
        value_width = _WIDTH - caption_width
        y = top
        for text in lines:
            y -= _LINE
            self.caption(text.caption, _MARGIN, y + 1, caption_width - 4)
            self.text(text.value, value_x, y, 10, value_width, bold=text.strong)
            if text.detail:
                y -= _DETAIL_LINE
                self.text(text.detail, value_x, y, 8, value_width)
        return y

    def label(self, label: Label) -> None:
        canvas = self.canvas
        width, height = PAGE_SIZE
        top = height - _MARGIN

        canvas.setFillGray(0)
        canvas.rect(_MARGIN, top - _TITLE_BAR, _WIDTH, _TITLE_BAR, stroke=0, fill=1)
        canvas.saveState()
        canvas.setFillGray(1)
        self.text(label.title, _MARGIN + 8, top - 17, 13, _WIDTH - 16, bold=True)
        canvas.restoreState()
        y = top - _TITLE_BAR - 10

        self.caption(label.heading.caption, _MARGIN, y, _WIDTH)
        y -= 13
        self.text(label.heading.value, _MARGIN, y, 12, _WIDTH, bold=True)
        if label.heading.detail:
            y -= 11
            self.text(label.heading.detail, _MARGIN, y, 9, _WIDTH)
        y -= 6
        canvas.setLineWidth(0.5)
        canvas.line(_MARGIN, y, width - _MARGIN, y)

        statements = [self.wrap(text, _WIDTH - 8, 8.0) for text in label.statements]
        statements_height = sum(len(lines) * _STATEMENT_LINE + 6 for lines in statements)
        floor = _MARGIN + (_NOTICE + 4 if label.notice else 0) + statements_height
        lines_height = sum(_LINE + (_DETAIL_LINE if t.detail else 0) for t in label.lines)
        grid = _plan_grid(label, y - 4 - floor - lines_height - 6)
        y = self.grid(label, grid, y - 4)
        canvas.line(_MARGIN, y - 2, width - _MARGIN, y - 2)
        self.information(label.lines, y - 2)

        # Statements a regulation prescribes (21 CFR 312.6(a)), boxed above the notice.
        bottom = _MARGIN + (_NOTICE + 4 if label.notice else 0)
        for lines in reversed(statements):
            box = len(lines) * _STATEMENT_LINE + 4
            canvas.setLineWidth(0.9)
            canvas.rect(_MARGIN, bottom, _WIDTH, box, stroke=1, fill=0)
            for index, line in enumerate(lines):
                baseline = bottom + box - 2 - _STATEMENT_LINE * (index + 1) + 2.5
                self.text(line, _MARGIN + 4, baseline, 8.0, _WIDTH - 8, bold=True)
            bottom += box + 2

        if label.notice:
            canvas.setLineWidth(0.9)
            canvas.rect(_MARGIN, _MARGIN, _WIDTH, _NOTICE, stroke=1, fill=0)
            drawn = _string_width(label.notice, _BOLD, 7.5)
            x = max(_MARGIN + 4, (width - drawn) / 2)
            self.text(label.notice, x, _MARGIN + 4.5, 7.5, _WIDTH - 8, bold=True)


def render_labels(labels: Sequence[Label], *, unicode_font: str | Path | None = None) -> bytes:
    """A PDF with one 4 × 6 inch page a label, in the order given.

    `unicode_font` is a TrueType file for text Helvetica cannot print (embedded when used).
    """
    if not labels:
        raise InvalidInput("there are no labels to print")
    font = _unicode_font(unicode_font) if unicode_font is not None else None
    buffer = io.BytesIO()
    # invariant: the same labels give the same bytes (no creation date, no random id).
    canvas = Canvas(buffer, pagesize=PAGE_SIZE, invariant=1, pageCompression=1)
    canvas.setTitle("veinline labels")
    canvas.setCreator("veinline")
    page = _Page(canvas, font)
    for label in labels:
        page.label(label)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
