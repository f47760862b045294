"""Labels of the autologous journey: what the apheresis bag, product bags and shipper carry.

This module decides WHAT a label says: its ISBT 128 barcode data (ST-001) and its
eye-readable text. How it is drawn is the PDF adapter's business
(`veinline.adapters.pdf_labels`). Standard library and veinline's domain only.

Identity rules kept here:

- Every linear barcode is one ISBT 128 data structure, and the Data Matrix repeats the same
  structures as one compound message (DS023, order unspecified), so a 2-D scan and the
  linear scans can never disagree.
- The DIN and the CoI identifier are printed with their keyboard entry check character K,
  which the renderer draws boxed (ST-001 §7.5.1.1).
- ISBT 128 date-times carry no time zone: they are the labelling facility's local time.
  The text names that zone and repeats the instant in UTC, because a bag crosses zones.
- Apheresis and shipper labels carry identifiers, never who the patient is. A final
  product bag is the one label read at the bedside, so it carries the patient identifiers
  the bedside check compares: the name and, per the treatment site's policy, the date of
  birth or the medical record number (FACT-JACIE International Standards: a product for
  a specific recipient is labelled with the recipient's name and identifier).
- A product used under an IND in the United States carries the statement 21 CFR 312.6(a)
  prescribes; another jurisdiction's statement is printed only where one is defined here
  (`INVESTIGATIONAL_STATEMENTS`), never invented.
- A collection label carries the volume collected and the anticoagulant.
- The product description code (ISBT 128 data structure 003, `=<αoooo t ds`) is set per
  product by configuration; each bag of a divided product gets its own division, so the
  DIN + product code of every bag differs.
- Label reconciliation (labels issued, used and destroyed, per case and item, as the
  FACT-JACIE standards ask) is pure arithmetic here (`reconcile`); the service records it
  with a ledger entry.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from veinline.domain import coldchain, isbt128
from veinline.domain.case import parse_zone
from veinline.domain.errors import InvalidInput

__all__ = [
    "INVESTIGATIONAL_STATEMENTS",
    "MAX_TEXT_LENGTH",
    "Barcode",
    "BedsideIdentifiers",
    "Label",
    "LabelFacts",
    "LabelKind",
    "Symbology",
    "Text",
    "build_label",
    "check_product_description_code",
    "investigational_statement",
    "reconcile",
    "reconciliation_totals",
]

# Free text has to fit one line of a 4 × 6 inch label at a readable size.
MAX_TEXT_LENGTH: Final = 60

# ST-001 Table 3 [RT004]: flags 01–04 and 15–19 mark containers 1–9 of a set.
_SET_FLAGS: Final[tuple[str, ...]] = ("01", "02", "03", "04", "15", "16", "17", "18", "19")
# ST-001 §2.4.3: first-level divisions are A–Z in position 7 of the product code.
_DIVISIONS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# ST-001 §2.4.3: a product description code is a category letter then 4 letters or digits.
_PRODUCT_CODE: Final = re.compile(r"[A-Z][A-Z0-9]{4}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")

# The statement an investigational product's label carries, by jurisdiction, with the
# rule that prescribes it. Only statements a regulation fixes word for word are listed;
# a jurisdiction without one prints none rather than an invented text.
INVESTIGATIONAL_STATEMENTS: Final[dict[str, tuple[str, str]]] = {
    "US": (
        "Caution: New Drug\u2014Limited by Federal (or United States) law to investigational use.",
        "21 CFR 312.6(a)",
    ),
}


def investigational_statement(jurisdiction: str, *, investigational: bool) -> str | None:
    """The statement a product used under an IND (or a trial) carries, if one is defined."""
    if not investigational:
        return None
    found = INVESTIGATIONAL_STATEMENTS.get(jurisdiction.strip().upper())
    return found[0] if found else None


class BedsideIdentifiers(StrEnum):
    """A treatment site's policy: which identifiers, with the name, a final bag carries.

    The bedside check compares them with the patient's wristband before thaw.
    """

    NAME_AND_MRN = "name_and_mrn"
    NAME_AND_BIRTH_DATE = "name_and_birth_date"

    @classmethod
    def parse(cls, value: object) -> BedsideIdentifiers:
        if value is None:
            # The wristband id (the medical record number) is what veinline's bedside
            # check compares, so it is the default second identifier.
            return cls.NAME_AND_MRN
        try:
            return cls(str(value))
        except ValueError:
            allowed = ", ".join(p.value for p in cls)
            raise InvalidInput(
                f"unknown bedside identifier policy {value!r}: use {allowed}"
            ) from None


class LabelKind(StrEnum):
    """Which physical item of the journey a label goes on."""

    APHERESIS_BAG = "apheresis_bag"
    PRODUCT_BAG = "product_bag"
    SHIPPER = "shipper"

    @property
    def banner(self) -> str:
        """The title line, without a bag number."""
        return {
            "apheresis_bag": "APHERESIS COLLECTION",
            "product_bag": "FINAL PRODUCT",
            "shipper": "SHIPPER",
        }[self.value]

    @property
    def contents(self) -> str:
        """What a shipper holding this kind of bag says it contains."""
        return {
            "apheresis_bag": "Apheresis collection",
            "product_bag": "Final product",
            "shipper": "Shipper",
        }[self.value]


class Symbology(StrEnum):
    """The barcode symbologies ISBT 128 uses on container labels (ST-001 §4)."""

    CODE128 = "code128"
    DATAMATRIX = "datamatrix"


@dataclass(frozen=True, slots=True)
class Text:
    """One eye-readable item: a caption and its value, as a person reads it off the label.

    `flags` are the DIN flag characters, printed small after the DIN; `boxed` is a keyboard
    entry check character the renderer draws in a box; `detail` is a second line (the UTC
    instant under a local date-time); `strong` asks for the value to stand out.
    """

    caption: str
    value: str
    detail: str | None = None
    flags: str | None = None
    boxed: str | None = None
    strong: bool = False

    def plain(self) -> str:
        """The item as one line of plain text, the box shown as brackets: 'DIN: … [K]'."""
        text = f"{self.caption}: {self.value}"
        if self.flags:
            text += f" {self.flags}"
        if self.boxed:
            text += f" [{self.boxed}]"
        if self.detail:
            text += f" / {self.detail}"
        return text


@dataclass(frozen=True, slots=True)
class Barcode:
    """One barcode: its symbology, its ISBT 128 data, and the text printed with it."""

    symbology: Symbology
    data: str
    text: Text | None = None


@dataclass(frozen=True, slots=True)
class Label:
    """Everything printed on one label, in reading order."""

    kind: LabelKind
    title: str
    heading: Text
    barcodes: tuple[Barcode, ...]
    lines: tuple[Text, ...]
    notice: str | None = None
    # Statements a regulation prescribes word for word (21 CFR 312.6(a)), printed boxed.
    statements: tuple[str, ...] = ()

    @property
    def linear(self) -> tuple[Barcode, ...]:
        """The Code 128 barcodes, each with its eye-readable text."""
        return tuple(b for b in self.barcodes if b.symbology is Symbology.CODE128)

    @property
    def matrix(self) -> Barcode:
        """The Data Matrix carrying every structure of the label as one compound message."""
        return next(b for b in self.barcodes if b.symbology is Symbology.DATAMATRIX)

    def text_lines(self) -> list[str]:
        """Every piece of text on the label as plain lines, for review, audit and tests."""
        lines = [self.title, self.heading.plain()]
        lines += [b.text.plain() for b in self.barcodes if b.text is not None]
        lines += [t.plain() for t in self.lines]
        lines += list(self.statements)
        if self.notice:
            lines.append(self.notice)
        return lines


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelFacts:
    """What is known about one labelled item: identifiers and logistics, never the patient.

    The product fields describe the therapy the item belongs to. `site_name` and
    `site_timezone` are the treatment centre that collects (and later infuses);
    `manufacturing_timezone` is where final product and its shipper are labelled (the
    site's zone when not given). `bag_number`/`bag_count` number the bags of a collection
    or a product; on a shipper `bag_count` is how many bags travel in it, of the kind
    `shipper_contents`.
    """

    product_code: str
    product_name: str
    coi: str
    din: str
    isbt_product_code: str | None
    collection_type: str
    collected_at: datetime
    site_name: str
    site_timezone: str
    manufacturing_timezone: str | None = None
    expires_at: datetime | None = None
    batch_id: str | None = None
    bag_number: int = 1
    bag_count: int = 1
    storage_max_c: float | None = None
    post_thaw_window_minutes: int | None = None
    shipper_type_label: str | None = None
    ship_from: str | None = None
    ship_to: str | None = None
    shipment_id: str | None = None
    dispatched_at: datetime | None = None
    shipper_contents: LabelKind = LabelKind.PRODUCT_BAG
    # A collection: how much was collected, and into which anticoagulant.
    volume_ml: float | None = None
    anticoagulant: str | None = None
    # A final product bag: (caption, value) pairs the bedside check compares, the
    # patient's name first (see `BedsideIdentifiers`).
    patient_identifiers: tuple[tuple[str, str], ...] = ()
    # Statements a regulation prescribes for this product here (investigational use).
    statements: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_text("product code", self.product_code)
        if self.anticoagulant is not None:
            _check_text("anticoagulant", self.anticoagulant)
        if self.volume_ml is not None and (
            not math.isfinite(self.volume_ml) or self.volume_ml <= 0
        ):
            raise InvalidInput(f"volume_ml must be a positive volume, not {self.volume_ml}")
        for caption, value in self.patient_identifiers:
            _check_text("patient identifier caption", caption)
            _check_text(f"patient identifier {caption}", value)
        _check_text("product name", self.product_name)
        _check_text("site name", self.site_name)
        for name in ("batch_id", "shipper_type_label", "ship_from", "ship_to", "shipment_id"):
            value = getattr(self, name)
            if value is not None:
                _check_text(name.replace("_", " "), value)
        isbt128.coi_check_character(self.coi)
        isbt128.check_character(self.din)
        if self.isbt_product_code is not None:
            check_product_description_code(self.isbt_product_code)
        if self.collection_type not in isbt128.COLLECTION_TYPES:
            raise InvalidInput(
                f"unknown ISBT 128 collection type {self.collection_type!r}: "
                f"use a code of ST-001 Table 7, e.g. '1' for autologous use only"
            )
        parse_zone(self.site_timezone, "site time zone")
        if self.manufacturing_timezone is not None:
            parse_zone(self.manufacturing_timezone, "manufacturing time zone")
        _check_aware("collected_at", self.collected_at)
        _isbt_year(self.collected_at, "collected_at")
        if self.expires_at is not None:
            _check_aware("expires_at", self.expires_at)
            if self.expires_at <= self.collected_at:
                raise InvalidInput(
                    f"expires_at {self.expires_at.isoformat()} is not after collected_at "
                    f"{self.collected_at.isoformat()}"
                )
        if self.dispatched_at is not None:
            _check_aware("dispatched_at", self.dispatched_at)
            if self.dispatched_at < self.collected_at:
                raise InvalidInput("dispatched_at is before collected_at")
            if self.expires_at is not None and self.dispatched_at >= self.expires_at:
                raise InvalidInput(
                    f"the product expired at {self.expires_at.isoformat()}, before dispatch "
                    f"at {self.dispatched_at.isoformat()}: an expired product is not shipped"
                )
        if self.bag_count < 1:
            raise InvalidInput(f"bag_count is at least 1, not {self.bag_count}")
        if not 1 <= self.bag_number <= self.bag_count:
            raise InvalidInput(
                f"bag_number {self.bag_number} is not between 1 and bag_count {self.bag_count}"
            )
        if self.storage_max_c is not None and not math.isfinite(self.storage_max_c):
            raise InvalidInput(f"storage_max_c must be a temperature, not {self.storage_max_c}")
        if self.post_thaw_window_minutes is not None and self.post_thaw_window_minutes <= 0:
            raise InvalidInput(
                f"post_thaw_window_minutes must be positive, not {self.post_thaw_window_minutes}"
            )
        if self.shipper_contents is LabelKind.SHIPPER:
            raise InvalidInput("a shipper holds apheresis bags or product bags, not shippers")


# ---------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------


def _check_text(name: str, value: str) -> None:
    if not value.strip():
        raise InvalidInput(f"the {name} is empty")
    if _CONTROL.search(value):
        raise InvalidInput(f"the {name} must be one line of printable text")
    if len(value) > MAX_TEXT_LENGTH:
        raise InvalidInput(
            f"the {name} has {len(value)} characters; a label line holds {MAX_TEXT_LENGTH}"
        )


def check_product_description_code(code: str) -> None:
    """Refuse a product description code ISBT 128 ST-001 §2.4.3 (DS003) does not allow."""
    if not _PRODUCT_CODE.fullmatch(code):
        raise InvalidInput(
            f"an ISBT 128 product description code is 5 characters, a letter then 4 letters "
            f"or digits (e.g. 'S1234'), not {code!r}"
        )
    # ST-001 §2.4.3: only these categories put the collection type in position 6.
    if not (code[0] in "EFHPS" or code[:2] == "X0" or (code[0] == "Y" and code[1].isalpha())):
        raise InvalidInput(
            f"product code {code!r} is of a category whose code carries no collection type; "
            f"cellular therapy codes start with 'S'"
        )


def _check_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{name} {value.isoformat()} has no time zone: give an aware date-time (UTC stored)"
        )


def _isbt_year(value: datetime, name: str) -> None:
    # ST-001 §2.4.4: c is the century after 2000, so ISBT 128 dates start in 2000.
    if value.year < 2000 or value.year > 2999:
        raise InvalidInput(f"{name} {value.isoformat()} cannot be written as an ISBT 128 date")


# ---------------------------------------------------------------------------
# Dates: ISBT 128 barcode content and eye-readable text
# ---------------------------------------------------------------------------


def _isbt_datetime(value: datetime, zone: tzinfo) -> str:
    """'cyyjjjhhmm' in the labelling facility's local time (ST-001 §2.4.5, §2.4.7).

    Seconds are dropped, so an expiry reads a little early, never late.
    """
    local = value.astimezone(zone)
    _isbt_year(local, "date")
    century, yy = divmod(local.year - 2000, 100)
    day = local.timetuple().tm_yday
    return f"{century}{yy:02d}{day:03d}{local:%H%M}"


def _offset(value: datetime) -> str:
    delta = value.utcoffset() or timedelta(0)
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _moment(caption: str, value: datetime, zone: ZoneInfo) -> Text:
    """A date-time in ISO 8601 with a 24-hour clock: local (zone named) and UTC."""
    local = value.astimezone(zone)
    utc = value.astimezone(UTC)
    return Text(
        caption=f"{caption} ({zone.key})",
        value=f"{local:%Y-%m-%d %H:%M} {_offset(local)}",
        detail=f"{utc:%Y-%m-%d %H:%M} UTC",
    )


# ---------------------------------------------------------------------------
# Building a label
# ---------------------------------------------------------------------------


def _require(facts: LabelFacts, kind: LabelKind, *names: str) -> None:
    missing = [name for name in names if getattr(facts, name) is None]
    if missing:
        raise InvalidInput(f"a {kind.banner.lower()} label needs {', '.join(missing)}")


def _grouped(fin: str, year: str, sequence: str) -> str:
    return f"{fin} {year} {sequence}"


def _din_barcode(din: isbt128.Din, flags: str) -> Barcode:
    return Barcode(
        Symbology.CODE128,
        din.barcode_data(flags),
        Text("DIN", din.eye_readable(), flags=flags, boxed=din.check),
    )


def _coi_barcode(coi: str) -> Barcode:
    return Barcode(
        Symbology.CODE128,
        "&/" + coi,
        Text(
            "CoI",
            f"{coi[:2]} {_grouped(coi[2:7], coi[7:9], coi[9:])}",
            boxed=isbt128.coi_check_character(coi),
        ),
    )


def _product_barcode(facts: LabelFacts, code: str, division: str) -> Barcode:
    content = f"{code}{facts.collection_type}{division}"
    return Barcode(Symbology.CODE128, "=<" + content, Text("Product code", content))


def _date_barcode(identifier: str, caption: str, value: datetime, zone: ZoneInfo) -> Barcode:
    return Barcode(
        Symbology.CODE128, identifier + _isbt_datetime(value, zone), _moment(caption, value, zone)
    )


def _compound(linear: list[Barcode]) -> Barcode:
    # ST-001 §2.4.23: '=+' + count of the structures that follow + '000' (order unspecified).
    data = f"=+{len(linear):02d}000" + "".join(b.data for b in linear)
    return Barcode(Symbology.DATAMATRIX, data)


def _collection_type_words(code: str) -> str:
    words = isbt128.COLLECTION_TYPES[code]
    return words[0].upper() + words[1:]


TO_BE_CONFIRMED: Final = "to be confirmed"


def _storage(facts: LabelFacts, material: LabelKind) -> list[Text]:
    """Storage follows the material in the container, not the product's final form.

    A fresh collection (an apheresis bag, or a shipper of one) is kept at 2–8 °C and must
    not be frozen: the product's cryogenic limit does not apply to it yet (the fresh
    shipment's own limits, `coldchain.limits_for`). A cryopreserved product carries its
    storage limit when the catalogue confirms one; otherwise the label says the limit is
    to be confirmed, never a value no source supports.
    """
    if material is LabelKind.APHERESIS_BAG:
        fresh = coldchain.limits_for(coldchain.ShipperType.FRESH_2_8, None)
        return [
            Text(
                "Storage",
                f"fresh: keep at {fresh.low:g}–{fresh.high:g} °C, do not freeze",
                strong=True,
            )
        ]
    if facts.storage_max_c is None:
        return [Text("Storage", f"cryopreserved; storage limit {TO_BE_CONFIRMED}", strong=True)]
    return [Text("Storage", f"cryopreserved, at or below {facts.storage_max_c:g} °C", strong=True)]


def _after_thaw(facts: LabelFacts) -> list[Text]:
    """The post-thaw window when the catalogue confirms one; otherwise said to be confirmed."""
    if facts.post_thaw_window_minutes is None:
        return [Text("After thaw", f"use-within window {TO_BE_CONFIRMED}", strong=True)]
    return [Text("After thaw", f"use within {facts.post_thaw_window_minutes} minutes", strong=True)]


def _unassigned_code(facts: LabelFacts) -> list[Text]:
    if facts.isbt_product_code is None:
        return [Text("ISBT 128 product code", "product code not assigned")]
    return []


def _notice(din: isbt128.Din, coi: str) -> str | None:
    fins = sorted({din.fin, coi[2:7]} & set(isbt128.VALIDATION_FINS))
    if not fins:
        return None
    return f"VALIDATION DATA (FIN {', '.join(fins)}): NOT FOR CLINICAL USE"


def _apheresis(facts: LabelFacts, din: isbt128.Din) -> Label:
    kind = LabelKind.APHERESIS_BAG
    if facts.bag_count > len(_SET_FLAGS):
        raise InvalidInput(
            f"ISBT 128 flags number at most {len(_SET_FLAGS)} containers of a collection, "
            f"not {facts.bag_count}"
        )
    zone = parse_zone(facts.site_timezone, "site time zone")
    # ST-001 Table 3: one collection in several bags is a set of containers (flags 01–04,
    # 15–19); a single bag has no flag.
    flags = _SET_FLAGS[facts.bag_number - 1] if facts.bag_count > 1 else "00"
    linear = [_din_barcode(din, flags), _coi_barcode(facts.coi)]
    if facts.isbt_product_code is not None:
        linear.append(_product_barcode(facts, facts.isbt_product_code, "00"))
    linear.append(_date_barcode("&*", "Collected", facts.collected_at, zone))
    if facts.expires_at is not None:
        linear.append(_date_barcode("&>", "Expires", facts.expires_at, zone))
    title = kind.banner
    if facts.bag_count > 1:
        title += f" — bag {facts.bag_number} of {facts.bag_count}"
    lines = [
        Text("Collection type", _collection_type_words(facts.collection_type), strong=True),
        Text("Collection site", facts.site_name),
        Text(
            "Volume",
            f"{facts.volume_ml:g} mL" if facts.volume_ml is not None else "not recorded",
        ),
        Text("Anticoagulant", facts.anticoagulant or "not recorded"),
        *([Text("Batch", facts.batch_id)] if facts.batch_id else []),
        *_storage(facts, LabelKind.APHERESIS_BAG),
        *_unassigned_code(facts),
    ]
    return Label(
        kind=kind,
        title=title,
        heading=Text("For manufacture of", facts.product_name, detail=facts.product_code),
        barcodes=(*linear, _compound(linear)),
        lines=tuple(lines),
        notice=_notice(din, facts.coi),
    )


def _patient(facts: LabelFacts, kind: LabelKind) -> list[Text]:
    # Two identifiers, the name and one more, as the bedside check compares them.
    if len(facts.patient_identifiers) < 2:
        raise InvalidInput(
            f"a {kind.banner.lower()} label needs the patient's name and a second identifier "
            "(date of birth or medical record number, per the site's policy)"
        )
    return [Text(caption, value, strong=True) for caption, value in facts.patient_identifiers]


def _product(facts: LabelFacts, din: isbt128.Din) -> Label:
    kind = LabelKind.PRODUCT_BAG
    _require(facts, kind, "expires_at", "batch_id")
    patient = _patient(facts, kind)
    assert facts.expires_at is not None and facts.batch_id is not None
    if facts.bag_count > len(_DIVISIONS):
        raise InvalidInput(
            f"ISBT 128 divisions A–Z number at most {len(_DIVISIONS)} bags, not {facts.bag_count}"
        )
    zone = parse_zone(facts.manufacturing_timezone or facts.site_timezone, "time zone")
    # ST-001 §2.4.3: each bag of a divided product is its own division (A0, B0, …), so the
    # DIN + product code of every bag is unique; a single bag is undivided (00). Until a
    # product description code is configured, the DIN's flags mark each bag as a container
    # of the set instead (ST-001 Table 3: 01–04, 15–19), so the bags' barcodes still differ.
    division = f"{_DIVISIONS[facts.bag_number - 1]}0" if facts.bag_count > 1 else "00"
    if facts.bag_count > len(_SET_FLAGS) and facts.isbt_product_code is None:
        raise InvalidInput(
            f"a set of {facts.bag_count} bags needs an ISBT 128 product description code: "
            f"without one, flags tell at most {len(_SET_FLAGS)} containers apart"
        )
    unmarked = facts.isbt_product_code is None and facts.bag_count > 1
    flags = _SET_FLAGS[facts.bag_number - 1] if unmarked else "00"
    linear = [_din_barcode(din, flags), _coi_barcode(facts.coi)]
    if facts.isbt_product_code is not None:
        linear.append(_product_barcode(facts, facts.isbt_product_code, division))
    linear.append(_date_barcode("&>", "Expires", facts.expires_at, zone))
    lines = [
        *patient,
        Text("Batch", facts.batch_id, strong=True),
        Text("Collection type", _collection_type_words(facts.collection_type), strong=True),
        _moment("Collected", facts.collected_at, zone),
        Text("Collection site", facts.site_name),
        *_storage(facts, LabelKind.PRODUCT_BAG),
        *_after_thaw(facts),
        *_unassigned_code(facts),
    ]
    return Label(
        kind=kind,
        title=f"{kind.banner} — bag {facts.bag_number} of {facts.bag_count}",
        heading=Text("Product", facts.product_name, detail=facts.product_code),
        barcodes=(*linear, _compound(linear)),
        lines=tuple(lines),
        notice=_notice(din, facts.coi),
        statements=facts.statements,
    )


def _shipper(facts: LabelFacts, din: isbt128.Din) -> Label:
    kind = LabelKind.SHIPPER
    _require(facts, kind, "ship_from", "ship_to", "shipment_id")
    assert facts.shipment_id is not None and facts.ship_from and facts.ship_to
    # The shipper is packed where its contents were labelled.
    packed_in_zone = (
        facts.site_timezone
        if facts.shipper_contents is LabelKind.APHERESIS_BAG
        else facts.manufacturing_timezone or facts.site_timezone
    )
    zone = parse_zone(packed_in_zone, "time zone")
    # The outer label names the donation and the therapy event; the product code and its
    # divisions stay on the bags inside, which a shipper may hold several of.
    linear = [_din_barcode(din, "00"), _coi_barcode(facts.coi)]
    if facts.expires_at is not None:
        linear.append(_date_barcode("&>", "Expires", facts.expires_at, zone))
    bags = "1 bag" if facts.bag_count == 1 else f"{facts.bag_count} bags"
    lines = [
        Text("Shipment", facts.shipment_id),
        Text("Contents", f"{facts.shipper_contents.contents}, {bags}"),
        Text("From", facts.ship_from),
        Text("To", facts.ship_to, strong=True),
        *([Text("Shipper", facts.shipper_type_label)] if facts.shipper_type_label else []),
        *(
            [_moment("Dispatched", facts.dispatched_at, zone)]
            if facts.dispatched_at is not None
            else []
        ),
        *_storage(facts, facts.shipper_contents),
        Text("Collection type", _collection_type_words(facts.collection_type), strong=True),
    ]
    return Label(
        kind=kind,
        title=kind.banner,
        heading=Text("Product", facts.product_name, detail=facts.product_code),
        barcodes=(*linear, _compound(linear)),
        lines=tuple(lines),
        notice=_notice(din, facts.coi),
    )


def build_label(kind: LabelKind, facts: LabelFacts) -> Label:
    """See `_build`. Only a final product bag prints patient identifiers: an apheresis
    bag or a shipper travels through manufacturing and couriers, which see the
    identifiers (DIN, CoI) only, so its label leaves them off whatever it is given."""
    if LabelKind(kind) is not LabelKind.PRODUCT_BAG:
        facts = replace(facts, patient_identifiers=(), statements=())
    return _build(kind, facts)


# ---------------------------------------------------------------------------
# Label reconciliation
# ---------------------------------------------------------------------------

RECONCILED_ITEMS: Final = ("apheresis_bag", "product_bag", "shipper")


def reconcile(
    record: dict[str, Any],
    item: str,
    *,
    issued: int,
    used: int,
    destroyed: int,
    at: str,
    by: str,
    reason: str,
) -> dict[str, Any]:
    """A case's label record with one more count of labels issued, used and destroyed.

    Every label issued for a case is either used on its item or destroyed; what is neither
    is unaccounted for and needs a reason (FACT-JACIE International Standards: label
    reconciliation). Counts add up per item over the case; more used and destroyed than
    issued is refused.
    """
    if item not in RECONCILED_ITEMS:
        raise InvalidInput(f"unknown label item {item!r}; use {', '.join(RECONCILED_ITEMS)}")
    for name, value in (("issued", issued), ("used", used), ("destroyed", destroyed)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput(f"labels {name} must be a whole number, 0 or more, not {value}")
    if issued + used + destroyed == 0:
        raise InvalidInput("a reconciliation counts at least one label")
    totals = reconciliation_totals(record).get(item, {"issued": 0, "used": 0, "destroyed": 0})
    new = {
        "issued": totals["issued"] + issued,
        "used": totals["used"] + used,
        "destroyed": totals["destroyed"] + destroyed,
    }
    if new["used"] + new["destroyed"] > new["issued"]:
        raise InvalidInput(
            f"{item}: {new['used']} used and {new['destroyed']} destroyed, but only "
            f"{new['issued']} issued: every label used or destroyed must have been issued"
        )
    if not reason.strip():
        raise InvalidInput("a label reconciliation needs a reason")
    entries = list(record.get("entries", []))
    entries.append(
        {
            "item": item,
            "issued": issued,
            "used": used,
            "destroyed": destroyed,
            "at": at,
            "by": by,
            "reason": reason.strip(),
        }
    )
    return {"entries": entries}


def reconciliation_totals(record: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per item: labels issued, used, destroyed, and unaccounted (issued - used - destroyed)."""
    totals: dict[str, dict[str, int]] = {}
    for entry in record.get("entries", []):
        row = totals.setdefault(
            str(entry["item"]), {"issued": 0, "used": 0, "destroyed": 0, "unaccounted": 0}
        )
        for key in ("issued", "used", "destroyed"):
            row[key] += int(entry[key])
    for row in totals.values():
        row["unaccounted"] = row["issued"] - row["used"] - row["destroyed"]
    return totals


def _build(kind: LabelKind, facts: LabelFacts) -> Label:
    """The content of the label for `kind`, built from `facts`.

    Refuses (InvalidInput) what that kind of label cannot do without: a final product bag
    needs its expiry and batch, a shipper its origin, destination and shipment id.
    """
    din = isbt128.Din.parse(facts.din)
    builders = {
        LabelKind.APHERESIS_BAG: _apheresis,
        LabelKind.PRODUCT_BAG: _product,
        LabelKind.SHIPPER: _shipper,
    }
    return builders[LabelKind(kind)](facts, din)


# ---------------------------------------------------------------------------
# Allogeneic stock vials (docs/architecture.md, "Allogeneic MSC")
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class VialFacts:
    """One vial of an allogeneic lot: no patient and no chain-of-identity identifier (the
    vial serves whichever patient it is allocated to); the lot's DIN and its division."""

    product_code: str
    product_name: str
    din: str
    division: str
    isbt_product_code: str | None
    collection_type: str
    lot_id: str
    cells: float
    volume_ml: float
    expires_at: datetime
    facility_name: str
    facility_timezone: str
    storage_max_c: float | None = None
    post_thaw_window_minutes: int | None = None
    statements: tuple[str, ...] = ()


def vial_label(facts: VialFacts) -> Label:
    """The label of one stock vial, drawn by the same renderer as a final product bag (it
    is a final-product container): DIN, product code with the vial's own division (ST-001
    §2.4.3) once a product description code is configured, expiry, and the storage and
    after-thaw lines, "to be confirmed" where the catalogue has no source."""
    for name in ("product_code", "product_name", "lot_id", "facility_name"):
        _check_text(name.replace("_", " "), getattr(facts, name))
    if len(facts.division) != 2 or not facts.division.isalnum():
        raise InvalidInput(f"a division is two characters (A0, Ab, …), not {facts.division!r}")
    if facts.isbt_product_code is not None:
        check_product_description_code(facts.isbt_product_code)
    if facts.collection_type not in isbt128.COLLECTION_TYPES:
        raise InvalidInput(f"unknown ISBT 128 collection type {facts.collection_type!r}")
    _check_aware("expires_at", facts.expires_at)
    zone = parse_zone(facts.facility_timezone, "facility time zone")
    din = isbt128.Din.parse(facts.din)
    linear = [_din_barcode(din, "00")]
    if facts.isbt_product_code is not None:
        content = f"{facts.isbt_product_code}{facts.collection_type}{facts.division}"
        linear.append(Barcode(Symbology.CODE128, "=<" + content, Text("Product code", content)))
    linear.append(_date_barcode("&>", "Expires", facts.expires_at, zone))
    lines = [
        Text("Lot", facts.lot_id, strong=True),
        Text("Division", facts.division, strong=True),
        Text("Cells", f"{facts.cells:.3g} per vial in {facts.volume_ml:g} mL"),
        Text("Collection type", _collection_type_words(facts.collection_type), strong=True),
        Text("Manufactured at", facts.facility_name),
        _cryo_storage(facts.storage_max_c),
        _thaw_window(facts.post_thaw_window_minutes),
    ]
    if facts.isbt_product_code is None:
        lines.append(Text("ISBT 128 product code", "product code not assigned"))
    fins = sorted({din.fin} & set(isbt128.VALIDATION_FINS))
    notice = f"VALIDATION DATA (FIN {', '.join(fins)}): NOT FOR CLINICAL USE" if fins else None
    return Label(
        kind=LabelKind.PRODUCT_BAG,
        title=f"ALLOGENEIC PRODUCT — vial {facts.division} of lot {facts.lot_id}",
        heading=Text("Product", facts.product_name, detail=facts.product_code),
        barcodes=(*linear, _compound(linear)),
        lines=tuple(lines),
        notice=notice,
        statements=facts.statements,
    )


def _cryo_storage(storage_max_c: float | None) -> Text:
    if storage_max_c is None:
        return Text("Storage", f"cryopreserved; storage limit {TO_BE_CONFIRMED}", strong=True)
    return Text("Storage", f"cryopreserved, at or below {storage_max_c:g} °C", strong=True)


def _thaw_window(minutes: int | None) -> Text:
    if minutes is None:
        return Text("After thaw", f"use-within window {TO_BE_CONFIRMED}", strong=True)
    return Text("After thaw", f"use within {minutes} minutes", strong=True)
