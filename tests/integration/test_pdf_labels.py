"""PDF labels scan back: render, rasterise (pdfium), decode (zxing-cpp), extract text (pypdf)."""

from __future__ import annotations

import dataclasses
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pypdfium2
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from veinline.adapters.pdf_labels import PAGE_SIZE, QUIET_ZONE, X_DIMENSION, render_labels
from veinline.domain import isbt128
from veinline.domain.errors import InvalidInput
from veinline.domain.labels import (
    Label,
    LabelFacts,
    LabelKind,
    Symbology,
    build_label,
    investigational_statement,
)

# 72 dpi × 3 = 216 dpi, a common label printer resolution is 203–300 dpi.
SCALE = 3
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def make_facts(**changes: Any) -> LabelFacts:
    facts = LabelFacts(
        product_code="eque-cel",
        product_name="equecabtagene autoleucel (Fucaso)",
        coi="CHA999526000001",
        din="A999526000001",
        isbt_product_code="S9999",
        collection_type="1",
        collected_at=datetime(2026, 3, 2, 1, 30, tzinfo=UTC),
        site_name="Demo Hospital Hong Kong",
        site_timezone="Asia/Hong_Kong",
        manufacturing_timezone="Asia/Shanghai",
        expires_at=datetime(2026, 9, 2, 9, 0, tzinfo=UTC),
        batch_id="B-26-0001",
        bag_number=1,
        bag_count=2,
        storage_max_c=-150,
        post_thaw_window_minutes=30,
        shipper_type_label="LN2 dry vapour shipper",
        ship_from="Demo GMP facility Shanghai",
        ship_to="Demo Hospital Hong Kong",
        shipment_id="SHP-26-0042",
        dispatched_at=datetime(2026, 4, 1, 2, 0, tzinfo=UTC),
        volume_ml=250.0,
        anticoagulant="ACD-A",
        # Fictional: the identifiers the bedside check compares (name and MRN).
        patient_identifiers=(("Patient", "TEST PATIENT"), ("MRN", "MRN-0001")),
    )
    return dataclasses.replace(facts, **changes)


# A product used under an IND at a US site (21 CFR 312.6(a)).
IND_STATEMENT = investigational_statement("US", investigational=True)


def journey() -> list[Label]:
    """The labels of one journey under a US IND: apheresis bag, three product bags, shipper."""
    statements = (IND_STATEMENT,) if IND_STATEMENT else ()
    return [
        build_label(LabelKind.APHERESIS_BAG, make_facts(bag_count=1)),
        *(
            build_label(
                LabelKind.PRODUCT_BAG,
                make_facts(bag_number=n, bag_count=3, statements=statements),
            )
            for n in (1, 2, 3)
        ),
        build_label(LabelKind.SHIPPER, make_facts()),
    ]


@pytest.fixture(scope="module")
def labels() -> list[Label]:
    return journey()


@pytest.fixture(scope="module")
def pdf(labels: list[Label]) -> bytes:
    return render_labels(labels)


@pytest.fixture(scope="module")
def pages(pdf: bytes) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=SCALE).to_pil().convert("L") for page in document]
    finally:
        document.close()


@pytest.fixture(scope="module")
def texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_one_4_by_6_inch_page_a_label_in_order(pdf: bytes, labels: list[Label]) -> None:
    reader = PdfReader(io.BytesIO(pdf))

    assert len(reader.pages) == len(labels)
    for page in reader.pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (288.0, 432.0)
    assert PAGE_SIZE == (288.0, 432.0)


def test_every_barcode_on_every_page_scans_back_exactly(
    pages: list[Image.Image], labels: list[Label]
) -> None:
    for image, label in zip(pages, labels, strict=True):
        scanned = Counter(
            (read.format, read.text) for read in zxingcpp.read_barcodes(image, try_rotate=False)
        )

        expected = Counter(
            (
                zxingcpp.BarcodeFormat.Code128
                if barcode.symbology is Symbology.CODE128
                else zxingcpp.BarcodeFormat.DataMatrix,
                barcode.data,
            )
            for barcode in label.barcodes
        )
        assert scanned == expected, label.title


def test_scanned_data_matrix_reads_as_a_checked_compound_message(
    pages: list[Image.Image], labels: list[Label]
) -> None:
    image, label = pages[1], labels[1]
    (matrix,) = [
        read
        for read in zxingcpp.read_barcodes(image)
        if read.format == zxingcpp.BarcodeFormat.DataMatrix
    ]

    header, *structures = isbt128.parse(matrix.text)
    assert header.fields["declared_count"] == len(structures) == len(label.linear) == 4
    assert [s.number for s in structures] == ["001", "040", "003", "005"]


def test_code128_symbols_have_quiet_zones_of_at_least_10x(
    pages: list[Image.Image], labels: list[Label]
) -> None:
    assert QUIET_ZONE >= 10 * X_DIMENSION
    quiet_px = int(10 * X_DIMENSION * SCALE)  # 10X in pixels, rounded down
    for image in pages:
        found = [
            read
            for read in zxingcpp.read_barcodes(image, try_rotate=False)
            if read.format == zxingcpp.BarcodeFormat.Code128
        ]
        assert found
        for read in found:
            p = read.position
            left = min(p.top_left.x, p.bottom_left.x)
            right = max(p.top_right.x, p.bottom_right.x)
            middle = (p.top_left.y + p.bottom_left.y) // 2
            margins = [
                cast("int", image.getpixel((x, middle)))
                for x in [*range(left - quiet_px, left - 1), *range(right + 2, right + quiet_px)]
            ]
            assert min(margins) > 200, f"something printed in the quiet zone of {read.text}"


def test_eye_readable_text_is_on_each_page(texts: list[str]) -> None:
    apheresis, product_1, product_2, _product_3, shipper = texts

    for text in texts:
        assert "A9995 26 000001" in text
        assert "CH A9995 26 000001" in text
        assert "equecabtagene autoleucel (Fucaso)" in text
        assert "For autologous use only" in text
        assert "VALIDATION DATA (FIN A9995): NOT FOR CLINICAL USE" in text
    assert "APHERESIS COLLECTION" in apheresis
    assert "Collected (Asia/Hong_Kong)" in apheresis
    assert "2026-03-02 09:30 +08:00" in apheresis
    assert "2026-03-02 01:30 UTC" in apheresis
    assert "FINAL PRODUCT — bag 1 of 3" in product_1
    assert "FINAL PRODUCT — bag 2 of 3" in product_2
    assert "S99991B0" in product_2
    assert "2026-09-02 17:00 +08:00" in product_1
    assert "2026-09-02 09:00 UTC" in product_1
    assert "cryopreserved, at or below -150 °C" in product_1
    assert "-150" not in apheresis and "keep at 2–8 °C, do not freeze" in apheresis
    assert "SHIPPER" in shipper
    assert "Demo Hospital Hong Kong" in shipper
    assert "SHP-26-0042" in shipper


def _text_and_rectangles(
    page: Any,
) -> tuple[list[tuple[str, float, float]], list[tuple[float, float, float, float]]]:
    """Text runs with their origin, and rectangles, in page space."""
    runs: list[tuple[str, float, float]] = []
    rectangles: list[tuple[float, float, float, float]] = []

    def on_text(text: str, cm: list[float], tm: list[float], *_: Any) -> None:
        if text.strip():
            runs.append((text.strip(), cm[4] + tm[4], cm[5] + tm[5]))

    def on_operator(operator: bytes, args: list[Any], cm: list[float], tm: list[float]) -> None:
        if operator == b"re":
            x, y, w, h = (float(a) for a in args)
            rectangles.append((cm[4] + x, cm[5] + y, w, h))

    page.extract_text(visitor_text=on_text, visitor_operand_before=on_operator)
    return runs, rectangles


def test_check_characters_are_printed_inside_a_box(pdf: bytes, labels: list[Label]) -> None:
    page = PdfReader(io.BytesIO(pdf)).pages[1]
    runs, rectangles = _text_and_rectangles(page)

    boxed = [t.boxed for b in labels[1].linear if b.text and b.text.boxed for t in [b.text]]
    assert boxed == [isbt128.check_character("A999526000001"), "C"]
    for character in boxed:
        origins = [(x, y) for text, x, y in runs if text == character]
        assert any(
            rx < x < rx + w and ry < y < ry + h
            for x, y in origins
            for rx, ry, w, h in rectangles
            if w < 20 and h < 20  # a character's box, not a barcode bar or the title bar
        ), f"check character {character!r} is not boxed"


def test_the_same_labels_give_the_same_bytes(pdf: bytes) -> None:
    assert render_labels(journey()) == pdf


def test_an_empty_print_run_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no labels to print"):
        render_labels([])


def test_text_beyond_the_standard_font_is_refused_without_a_unicode_font() -> None:
    label = build_label(LabelKind.SHIPPER, make_facts(ship_to="Москва, клиника 1"))

    with pytest.raises(InvalidInput, match="configure a Unicode TrueType font"):
        render_labels([label])


@pytest.mark.skipif(not DEJAVU.exists(), reason="needs the DejaVu Sans font")
def test_a_unicode_font_prints_what_helvetica_cannot() -> None:
    label = build_label(LabelKind.SHIPPER, make_facts(ship_to="Москва, клиника 1"))

    pdf = render_labels([label], unicode_font=DEJAVU)

    assert "Москва, клиника 1" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


@pytest.mark.skipif(not DEJAVU.exists(), reason="needs the DejaVu Sans font")
def test_a_unicode_font_without_the_glyphs_is_refused_rather_than_print_blanks() -> None:
    label = build_label(LabelKind.SHIPPER, make_facts(ship_to="北京大学人民医院"))

    with pytest.raises(InvalidInput, match="no glyph"):
        render_labels([label], unicode_font=DEJAVU)


def test_a_crowded_label_still_scans(tmp_path: Path) -> None:
    # A CoI sequence with letters makes the widest Code 128 (a row of its own); long zone
    # names and text shrink to fit.
    label = build_label(
        LabelKind.APHERESIS_BAG,
        make_facts(
            coi="CHA999526ABCDEF",
            site_timezone="America/Argentina/ComodRivadavia",
            product_name="equecabtagene autoleucel (Fucaso) for a very long name",
            bag_number=9,
            bag_count=9,
            batch_id="B" * 60,
        ),
    )
    document = pypdfium2.PdfDocument(render_labels([label]))
    image = document[0].render(scale=SCALE).to_pil().convert("L")
    document.close()

    scanned = {read.text for read in zxingcpp.read_barcodes(image, try_rotate=False)}
    assert scanned == {barcode.data for barcode in label.barcodes}


def _scanned(image: Image.Image) -> list[str]:
    return [read.text for read in zxingcpp.read_barcodes(image, try_rotate=False)]


def _product_codes(texts: list[str]) -> list[str]:
    # ISBT 128 ST-001 DS003: '=<' then the product description code, the collection type
    # and the division; a Data Matrix compound message ('=+') holds it again.
    return [t for t in texts if t.startswith("=<")]


def test_every_final_bag_of_a_set_scans_a_distinct_product_code(
    pages: list[Image.Image], labels: list[Label]
) -> None:
    # ISBT 128 ST-001 §2.4.3: each bag of a divided product is its own division, so the
    # DIN + product code scanned from every bag differs.
    bag_pages = [i for i, label in enumerate(labels) if label.kind is LabelKind.PRODUCT_BAG]
    codes = [_product_codes(_scanned(pages[i])) for i in bag_pages]
    assert all(len(found) == 1 for found in codes)
    scanned = [found[0] for found in codes]
    assert scanned == ["=<S99991A0", "=<S99991B0", "=<S99991C0"]
    assert len(set(scanned)) == len(bag_pages)
    for i in bag_pages:
        (matrix,) = [t for t in _scanned(pages[i]) if t.startswith("=+")]
        assert scanned[bag_pages.index(i)] in matrix


def test_the_ind_statement_is_on_every_final_bag_and_nowhere_else(
    texts: list[str], labels: list[Label]
) -> None:
    assert IND_STATEMENT == (
        "Caution: New Drug\u2014Limited by Federal (or United States) law to investigational use."
    )
    for text, label in zip(texts, labels, strict=True):
        flat = " ".join(text.split())
        if label.kind is LabelKind.PRODUCT_BAG:
            assert IND_STATEMENT in flat, label.title
        else:
            assert "investigational use" not in flat, label.title


def test_final_bags_print_the_patient_identifiers_and_no_other_label_does(
    texts: list[str], labels: list[Label], pages: list[Image.Image]
) -> None:
    for text, label, image in zip(texts, labels, pages, strict=True):
        printed = "TEST PATIENT" in text and "MRN-0001" in text
        assert printed is (label.kind is LabelKind.PRODUCT_BAG), label.title
        # Identity is eye-readable only: no barcode carries it.
        assert not any("TEST PATIENT" in t or "MRN-0001" in t for t in _scanned(image))


def test_the_collection_label_prints_volume_and_anticoagulant(texts: list[str]) -> None:
    assert "250 mL" in texts[0]
    assert "ACD-A" in texts[0]
