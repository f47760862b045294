"""The CoA PDF reads back: render, rasterise (pdfium), extract text (pypdf), refuse bad content."""

from __future__ import annotations

import copy
import io
import re
from typing import Any

import pypdfium2
import pytest
from PIL import Image
from pypdf import PdfReader

from veinline.adapters.coa_pdf import render_coa
from veinline.domain import isbt128
from veinline.domain.errors import InvalidInput

DIN = "A999526000001"
SHA = "sha256:" + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
# 72 dpi × 2: enough to count ink, quick to render.
SCALE = 2


def _test(
    name: str,
    spec: str,
    result: str | float,
    unit: str | None = None,
    *,
    method: str | None = None,
    verdict: str = "pass",
) -> dict[str, Any]:
    test: dict[str, Any] = {
        "name": name,
        "specification": spec,
        "result": result,
        "verdict": verdict,
        "changed_after_first_entry": False,
    }
    if unit is not None:
        test["unit"] = unit
    if method is not None:
        test["method"] = method
    return test


def _signature(name: str, username: str, meaning: str, at: str) -> dict[str, Any]:
    return {
        "printed_name": name,
        "username": username,
        "meaning": meaning,
        "signed_at": at,
        "content_hash": SHA,
    }


def released_content() -> dict[str, Any]:
    """eque-cel batch that met every release specification; one value corrected."""
    viability = _test("Viability", "≥ 70 %", "91.4", "%", method="Flow cytometry, 7-AAD")
    viability |= {
        "changed_after_first_entry": True,
        "first_value": "19.4",
        "correction_reason": "Transcription error; corrected against the cytometer printout",
        "corrected_by": "Li Wen",
        "corrected_at": "2026-03-20T07:12:00Z",
    }
    return {
        "product": {"code": "eque-cel", "name": "equecabtagene autoleucel (Fucaso)"},
        "identifiers": {
            "coi": "CHA999526000001",
            "din": DIN,
            "din_check": isbt128.check_character(DIN),
            "batch_id": "B-26-0001",
            "manufacturing_site": "Demo GMP facility Shanghai",
            "expiry": "2026-09-02T09:00:00Z",
        },
        "specification": {"id": "SPEC-EQUE-REL", "version": 3, "market": "CN"},
        "tests": [
            viability,
            _test("CD3+ T cells", "≥ 80 %", "96.2", "%", method="Flow cytometry"),
            _test("CAR+ T cells", "≥ 20 %", "48.7", "%", method="Flow cytometry"),
            _test("Vector copy number", "≤ 5 copies/cell", "2.1", "copies/cell", method="ddPCR"),
            _test("Endotoxin", "< 5 EU/mL", "< 0.5", "EU/mL", method="LAL kinetic"),
            _test("Sterility", "No growth", "No growth", method="Ph. Eur. 2.6.27"),
            _test("Mycoplasma", "Not detected", "Not detected", method="qPCR"),
            _test("RCL", "Not detected", "Not detected", method="qPCR (VSV-G)"),
            _test("Identity (CAR transgene)", "Positive", "Positive", method="qPCR"),
            _test("Potency (IFN-γ release)", "≥ 500 pg/mL", 1320, "pg/mL", method="ELISA"),
        ],
        "disposition": {"decision": "released"},
        "signatures": [
            # Listed out of time order: the certificate prints them in time order.
            _signature("Chen Hui", "chui", "released", "2026-03-21T14:40:02+08:00"),
            _signature("Zhang Min", "zmin", "reviewed", "2026-03-21T02:05:31Z"),
        ],
    }


def conditional_content() -> dict[str, Any]:
    """The same product, viability out of specification, released under the OOS process."""
    content = released_content()
    content["identifiers"] |= {
        "coi": "CHA999526000002",
        "din": "A999526000002",
        "din_check": isbt128.check_character("A999526000002"),
        "batch_id": "B-26-0002",
    }
    content["tests"][0] = _test(
        "Viability", "≥ 70 %", "64.0", "%", method="Flow cytometry, 7-AAD", verdict="fail"
    )
    content["disposition"] = {
        "decision": "conditionally_released",
        "justification": (
            "Viability below specification; no other deviation. No re-collection possible "
            "(patient too frail); the treating physician requested the product."
        ),
        "physician_acknowledgement": {
            "printed_name": "Dr Wong Ka Ming",
            "acknowledged_at": "2026-03-21T04:30:00Z",
            "statement": "I accept the out-of-specification product for this patient.",
        },
    }
    content["signatures"].append(
        _signature("Liu Yang", "lyang", "approved", "2026-03-21T05:00:00Z")
    )
    return content


def _text(pdf: bytes) -> str:
    """The text, a line for each line on the page: a table row comes out as one line."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    lines = "\n".join(page.extract_text(extraction_mode="layout") for page in pages)
    return "\n".join(" ".join(line.split()) for line in lines.splitlines() if line.strip())


def _flat(pdf: bytes) -> str:
    """The text as one line, for sentences a paragraph wraps."""
    return " ".join(_text(pdf).split())


def _pages(pdf: bytes) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=SCALE).to_pil().convert("L") for page in document]
    finally:
        document.close()


@pytest.fixture(scope="module")
def released() -> bytes:
    return render_coa(released_content())


@pytest.fixture(scope="module")
def conditional() -> bytes:
    return render_coa(conditional_content())


# --- the rendered page ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["released", "conditional"])
def test_rendered_page_is_a4_with_ink_in_the_results_table(
    name: str, request: pytest.FixtureRequest
) -> None:
    pdf: bytes = request.getfixturevalue(name)
    pages = _pages(pdf)
    assert len(pages) == 1
    page = pages[0]
    # A4 is 595 × 842 pt.
    assert page.size == (round(595.28 * SCALE), round(841.89 * SCALE))
    width, height = page.size
    # The results table sits in the upper middle of the page (about 25–55% down).
    table = page.crop((0, int(height * 0.25), width, int(height * 0.55)))
    dark = sum(table.histogram()[:128])
    assert dark > 0.01 * table.width * table.height
    # And the bottom strip holds the footer, not nothing.
    footer = page.crop((0, int(height * 0.95), width, height))
    assert sum(footer.histogram()[:160]) > 200


def test_an_oos_row_is_shaded(conditional: bytes, released: bytes) -> None:
    def shaded(pdf: bytes) -> int:
        # The OOS shading is #F1F1F1: grey level 241.
        return _pages(pdf)[0].histogram()[241]

    # One failed row: a band of 241 grey across the table, about 480 × 24 px at this scale.
    assert shaded(conditional) > shaded(released) + 10_000


# --- the text on it ---------------------------------------------------------------------------


def test_title_identifiers_and_specification(released: bytes) -> None:
    text = _text(released)
    assert "CERTIFICATE OF ANALYSIS" in text
    assert "equecabtagene autoleucel (Fucaso) (eque-cel)" in text
    assert "CHA999526000001" in text
    assert "A9995 26 000001" in text
    assert "B-26-0001" in text
    assert "Demo GMP facility Shanghai" in text
    assert "2026-09-02 09:00 UTC" in text
    assert "SPEC-EQUE-REL version 3, market CN" in text
    assert "RELEASED" in text


@pytest.mark.parametrize("name", ["released", "conditional"])
def test_every_test_shows_its_specification_result_and_verdict(
    name: str, request: pytest.FixtureRequest
) -> None:
    text = _text(request.getfixturevalue(name))
    content = released_content() if name == "released" else conditional_content()
    lines = text.splitlines()
    for test in content["tests"]:
        assert test["name"] in text
        assert test["specification"] in text
        if "method" in test:
            assert test["method"] in text
        result = f"{test['result']} {test.get('unit', '')}".strip()
        verdict = "PASS" if test["verdict"] == "pass" else "FAIL (OOS)"
        # Specification, result and verdict come out on the row of the test's name.
        row = next(line for line in lines if line.startswith(test["name"]))
        assert test["specification"] in row, row
        assert result in row, row
        assert row.rstrip().endswith(verdict), row


def test_corrected_value_carries_a_dagger_and_its_footnote(released: bytes) -> None:
    text = _text(released)
    assert re.search(r"Viability .*91\.4 % †1 PASS", text)
    footnote = _flat(released)
    assert (
        "†1 Viability: first entered as 19.4 %, changed to 91.4 % by Li Wen on "
        "2026-03-20 07:12:00 UTC. Reason: Transcription error; corrected against the "
        "cytometer printout"
    ) in footnote
    assert "changed after first entry (EU GMP Annex 11 §8.2)" in footnote
    assert "†2" not in text


def test_certificate_says_when_nothing_changed_after_first_entry(conditional: bytes) -> None:
    text = _text(conditional)
    assert "No result on this certificate was changed after first entry." in text
    assert "†" not in text


@pytest.mark.parametrize("name", ["released", "conditional"])
def test_every_signature_shows_printed_name_meaning_and_utc_time(
    name: str, request: pytest.FixtureRequest
) -> None:
    text = _text(request.getfixturevalue(name))
    content = released_content() if name == "released" else conditional_content()
    lines = text.splitlines()
    times = {
        "Zhang Min": "2026-03-21 02:05:31 UTC",
        # Signed at 14:40:02 Shanghai time, printed in UTC.
        "Chen Hui": "2026-03-21 06:40:02 UTC",
        "Liu Yang": "2026-03-21 05:00:00 UTC",
    }
    for signature in content["signatures"]:
        row = next(line for line in lines if line.startswith(signature["printed_name"]))
        assert signature["meaning"].capitalize() in row
        assert times[signature["printed_name"]] in row
        assert "sha256:9f86d081884c…" in row
        assert f"user {signature['username']}" in text
    # Printed in time order, whatever order the content gives.
    order = [text.index(f"{n} ") for n in ("Zhang Min", "Chen Hui")]
    assert order == sorted(order)


def test_conditional_release_shows_oos_justification_and_acknowledgement(
    conditional: bytes,
) -> None:
    text = _flat(conditional)
    assert "CONDITIONALLY RELEASED" in text
    assert re.search(r"Viability .*64\.0 % FAIL \(OOS\)", text)
    assert "9 of 10 results meet specification; 1 out of specification (OOS)" in text
    justification = conditional_content()["disposition"]["justification"]
    assert f"Justification: {justification}" in text
    assert (
        "Treating physician's acknowledgement: Dr Wong Ka Ming, 2026-03-21 04:30:00 UTC: "
        "“I accept the out-of-specification product for this patient.”"
    ) in text


def test_footer_numbers_pages_and_names_the_generator(released: bytes) -> None:
    text = _text(released)
    assert "Generated by veinline · Page 1 of 1" in text
    assert f"DIN A9995 26 000001 [{isbt128.check_character(DIN)}]" in text


def test_long_certificate_numbers_every_page_of_the_total() -> None:
    content = released_content()
    content["tests"] = content["tests"] * 8
    pdf = render_coa(content)
    reader = PdfReader(io.BytesIO(pdf))
    total = len(reader.pages)
    assert total >= 2
    for number, page in enumerate(reader.pages, start=1):
        page_text = " ".join(page.extract_text(extraction_mode="layout").split())
        assert f"Page {number} of {total}" in page_text
        # The table's header row is repeated on every page it runs over.
        if number < total:
            assert "Test Specification Result Verdict" in page_text


def test_same_content_gives_same_bytes(released: bytes) -> None:
    assert render_coa(released_content()) == released


# --- refusals ---------------------------------------------------------------------------------


def _without(content: dict[str, Any], path: str) -> dict[str, Any]:
    content = copy.deepcopy(content)
    *parents, last = path.split(".")
    node: Any = content
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[last]
    return content


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("product", "product"),
        ("product.name", "product.name"),
        ("identifiers.din_check", "identifiers.din_check"),
        ("identifiers.expiry", "identifiers.expiry"),
        ("specification.version", "specification.version"),
        ("tests.1.verdict", "tests[1].verdict"),
        ("tests.1.changed_after_first_entry", "tests[1].changed_after_first_entry"),
        ("tests.0.first_value", "tests[0].first_value"),
        ("tests.0.correction_reason", "tests[0].correction_reason"),
        ("disposition.decision", "disposition.decision"),
        ("signatures.0.signed_at", "signatures[0].signed_at"),
        ("signatures.1.meaning", "signatures[1].meaning"),
    ],
)
def test_missing_field_is_refused_by_name(path: str, named: str) -> None:
    with pytest.raises(InvalidInput, match=f"missing {re.escape(named)}$"):
        render_coa(_without(released_content(), path))


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("disposition.justification", "disposition.justification"),
        ("disposition.physician_acknowledgement", "disposition.physician_acknowledgement"),
        (
            "disposition.physician_acknowledgement.acknowledged_at",
            "disposition.physician_acknowledgement.acknowledged_at",
        ),
    ],
)
def test_conditional_release_needs_justification_and_acknowledgement(path: str, named: str) -> None:
    with pytest.raises(InvalidInput, match=f"missing {re.escape(named)}$"):
        render_coa(_without(conditional_content(), path))


def _changed(**changes: Any) -> dict[str, Any]:
    content = released_content()
    for path, value in changes.items():
        *parents, last = path.split("__")
        node: Any = content
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value
    return content


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_changed(tests=[]), r"tests is empty"),
        (_changed(signatures="Chen Hui"), r"signatures must be a list, not text"),
        (_changed(tests__2__verdict="ok"), r"tests\[2\]\.verdict is 'ok': use pass or fail"),
        (_changed(tests__2__result=True), r"tests\[2\]\.result must be text or a number"),
        (_changed(tests__2__unit="  "), r"tests\[2\]\.unit is empty"),
        (
            _changed(tests__3__changed_after_first_entry="no"),
            r"tests\[3\]\.changed_after_first_entry must be true or false",
        ),
        (
            _changed(tests__3__correction_reason="typo"),
            r"tests\[3\]\.correction_reason is given, but .*changed_after_first_entry is false",
        ),
        (_changed(tests__2__methods="x"), r"tests\[2\] has a field the CoA does not know: methods"),
        (_changed(identifiers__din_check="A"), r"identifiers\.din_check is 'A', but"),
        (_changed(identifiers__din="A99952600001"), r"identifiers\.din .* 13-character DIN"),
        (_changed(identifiers__coi="CHA99952600001"), r"identifiers\.coi: .*15 characters"),
        (_changed(identifiers__expiry="next year"), r"identifiers\.expiry .* ISO 8601"),
        (
            _changed(signatures__0__signed_at="2026-03-21T02:05:31"),
            r"signatures\[0\]\.signed_at .* has no UTC offset",
        ),
        (_changed(signatures__0__meaning="liked"), r"signatures\[0\]\.meaning: 'liked' is not"),
        (_changed(signatures__0__content_hash="abc"), r"signatures\[0\]\.content_hash 'abc'"),
        (_changed(disposition__decision="passed"), r"disposition\.decision is 'passed'"),
        (
            _changed(identifiers__manufacturing_site="上海 GMP"),
            r"identifiers\.manufacturing_site .* standard PDF fonts cannot print \('上', '海'\)",
        ),
        (
            _changed(tests__1__verdict="fail"),
            r"decision is released, but CD3\+ T cells failed specification",
        ),
        (
            _changed(signatures__0__meaning="approved"),
            r"signatures has no signature meaning 'released'",
        ),
        (
            _changed(
                disposition__physician_acknowledgement={
                    "printed_name": "Dr X",
                    "acknowledged_at": "2026-03-22T01:15:00Z",
                }
            ),
            r"physician_acknowledgement belongs to a conditional release",
        ),
    ],
)
def test_malformed_or_contradictory_content_is_refused(
    content: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        render_coa(content)


def test_content_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidInput, match="content must be an object, not a list"):
        render_coa([])  # type: ignore[arg-type]
