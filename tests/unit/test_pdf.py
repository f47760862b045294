"""The PDF adapters' shared text helpers: markup escaping and what the standard fonts print."""

from __future__ import annotations

import pytest

from veinline.adapters.pdf import is_winansi, markup, unprintable


def test_markup_escapes_what_reportlab_reads_as_tags_and_leaves_quotes() -> None:
    assert markup("<b> & \"x\" 'y'") == "&lt;b&gt; &amp; \"x\" 'y'"


def test_markup_keeps_line_breaks_only_when_asked() -> None:
    assert markup("a\nb") == "a\nb"
    assert markup("a < b\nc", line_breaks=True) == "a &lt; b<br/>c"


@pytest.mark.parametrize(
    ("text", "winansi"),
    [("Crème brûlée – €5", True), ("≥ 70%", False), ("上海", False), ("", True)],
)
def test_winansi_is_what_windows_1252_encodes(text: str, winansi: bool) -> None:
    assert is_winansi(text) is winansi


def test_unprintable_allows_the_symbol_fallback_and_names_the_rest() -> None:
    assert unprintable("IFN-γ ≥ 500 pg/mL, − 2 °C") == []
    assert unprintable("上海 GMP\n\tsite") == ["上", "海"]
    assert unprintable("bell\x07") == ["\x07"]
