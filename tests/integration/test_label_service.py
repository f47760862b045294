"""Labels a case needs, built from its records, and label reconciliation through the bus:
ISBT 128 ST-001 DS003 product codes per bag, the 21 CFR 312.6(a) statement for a US IND,
the bedside identifiers on final bags, and no unconfirmed catalogue value printed."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
import zxingcpp

from tests.conftest import FixedClock
from tests.fakes import present
from veinline.adapters.pdf_labels import render_labels
from veinline.adapters.seed.cases import EQUE_CEL_HK, ZEVOR_CEL_US, Driver, Route
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.labels import (
    INVESTIGATIONAL_STATEMENTS,
    BedsideIdentifiers,
    Label,
    LabelKind,
    reconciliation_totals,
)
from veinline.domain.ledger_actions import LedgerAction
from veinline.services import commands, ledger
from veinline.services.labels import labels_for, patient_identifiers

US_STATEMENT = INVESTIGATIONAL_STATEMENTS["US"][0]


@pytest.fixture
def driver(demo_app: App, clock: FixedClock) -> Driver:
    return Driver(demo_app.bus, demo_app.user, clock)


def _released(driver: Driver, route: Route, wristband: str) -> Case:
    case = driver.enrol(route, patient_name="TEST PATIENT", wristband=wristband)
    return driver.advance(case, route, CaseState.RELEASED)


def _labels(app: App, case_id: str, item: str, reader: str = "operator") -> list[Label]:
    with app.uow() as uow:
        return labels_for(uow, case_id, item, app.user(reader))


def _set_product(app: App, code: str, field: str, value: str) -> None:
    app.bus.handle(
        commands.SetProductField(code=code, field=field, value=value, reason="site ISBT 128 code"),
        actor=app.user("admin"),
    )


def _scans(labels: list[Label]) -> list[list[str]]:
    document = pdfium.PdfDocument(io.BytesIO(render_labels(labels)))
    try:
        return [
            [r.text for r in zxingcpp.read_barcodes(page.render(scale=3).to_pil())]
            for page in document
        ]
    finally:
        document.close()


def test_us_ind_final_bags_scan_distinct_product_codes_and_carry_the_ind_statement(
    demo_app: App, driver: Driver
) -> None:
    _set_product(demo_app, "zevor-cel", "isbt128_product_code", "S9999")
    case = _released(driver, ZEVOR_CEL_US, "WB-US-1")
    bags = _labels(demo_app, case.id, "product_bag")
    assert len(bags) == present(case.manufacturing).bag_count

    scanned = _scans(bags)
    codes = [[t for t in page if t.startswith("=<")] for page in scanned]
    assert all(len(c) == 1 for c in codes)
    flat = [c[0] for c in codes]
    # ST-001 §2.4.3: one division per bag (undivided '00' when there is one bag).
    assert len(set(flat)) == len(bags)
    for label in bags:
        lines = label.text_lines()
        # 21 CFR 312.6(a): the zevor-cel US authorisation is an IND.
        assert US_STATEMENT in lines
        # The bedside check compares the name and the wristband id (the MRN).
        assert "Patient: TEST PATIENT" in lines
        assert "MRN: WB-US-1" in lines


def test_an_approved_product_outside_the_us_carries_no_investigational_statement(
    demo_app: App, driver: Driver
) -> None:
    case = _released(driver, EQUE_CEL_HK, "WB-HK-1")
    for label in _labels(demo_app, case.id, "product_bag"):
        assert not any("investigational" in line for line in label.text_lines())


def test_no_label_prints_an_unconfirmed_catalogue_value(demo_app: App, driver: Driver) -> None:
    # The seed catalogue marks the storage limit and post-thaw window unconfirmed, and
    # zevor-cel's INN: the labels say the values are to be confirmed (never a number no
    # source supports) and name the product by its CT053 code.
    case = _released(driver, ZEVOR_CEL_US, "WB-US-2")
    printed = 0
    for item in ("apheresis_bag", "product_bag", "shipper"):
        try:
            labels = _labels(demo_app, case.id, item)
        except NotAllowed:
            continue
        for label in labels:
            printed += 1
            text = "\n".join(label.text_lines())
            assert "-150" not in text and "minutes" not in text
            assert "zevorcabtagene" not in text
            assert "CT053" in label.heading.value
            if label.kind is LabelKind.PRODUCT_BAG:
                assert "Storage: cryopreserved; storage limit to be confirmed" in text
                assert "After thaw: use-within window to be confirmed" in text
    assert printed >= 2


def test_labels_follow_the_material_fresh_collections_are_not_told_to_freeze(
    demo_app: App, driver: Driver
) -> None:
    # A fresh apheresis bag travels at 2-8 °C: the product's cryogenic limit, even when
    # confirmed, belongs to the cryopreserved product, never to the fresh cells.
    _set_product(demo_app, "eque-cel", "storage_max_c", "-150")
    case = _released(driver, EQUE_CEL_HK, "WB-HK-9")
    (bag,) = _labels(demo_app, case.id, "apheresis_bag")
    assert "Storage: fresh: keep at 2–8 °C, do not freeze" in bag.text_lines()
    assert not any("-150" in line for line in bag.text_lines())
    (product, *_rest) = _labels(demo_app, case.id, "product_bag")
    assert "Storage: cryopreserved, at or below -150 °C" in product.text_lines()


def test_a_confirmed_storage_limit_is_printed(demo_app: App, driver: Driver) -> None:
    _set_product(demo_app, "eque-cel", "storage_max_c", "-150")
    case = _released(driver, EQUE_CEL_HK, "WB-HK-2")
    (label, *_rest) = _labels(demo_app, case.id, "product_bag")
    assert "Storage: cryopreserved, at or below -150 °C" in label.text_lines()


def test_the_collection_label_carries_volume_and_anticoagulant(
    demo_app: App, driver: Driver
) -> None:
    case = _released(driver, EQUE_CEL_HK, "WB-HK-3")
    (label,) = _labels(demo_app, case.id, "apheresis_bag")
    lines = label.text_lines()
    assert any(line.startswith("Volume: ") for line in lines)
    assert any(line.startswith("Anticoagulant: ") for line in lines)
    # Identity stays off the collection label.
    assert not any("TEST PATIENT" in line for line in lines)


def test_the_birth_date_policy_needs_a_birth_date(demo_app: App, driver: Driver) -> None:
    case = driver.enrol(EQUE_CEL_HK, patient_name="TEST PATIENT", wristband="WB-HK-4")
    with pytest.raises(NotAllowed, match="date of birth"):
        patient_identifiers(case, BedsideIdentifiers.NAME_AND_BIRTH_DATE)
    case.patient_facts = {**case.patient_facts, "birth_date": "1965-04-01"}
    assert patient_identifiers(case, BedsideIdentifiers.NAME_AND_BIRTH_DATE) == (
        ("Patient", "TEST PATIENT"),
        ("Date of birth", "1965-04-01"),
    )


def test_label_reconciliation_is_a_ledger_entry_and_the_ledger_verifies(
    demo_app: App, driver: Driver
) -> None:
    case = _released(driver, EQUE_CEL_HK, "WB-HK-5")
    count = present(present(case.manufacturing).bag_count)
    reconciled: Case = driver.do(
        commands.ReconcileLabels(
            case.id, "product_bag", issued=count + 1, used=count, destroyed=1, reason="print run"
        ),
        "operator",
    )
    assert reconciliation_totals(reconciled.labels)["product_bag"] == {
        "issued": count + 1,
        "used": count,
        "destroyed": 1,
        "unaccounted": 0,
    }
    with demo_app.uow() as uow:
        last = uow.ledger.last()
        assert last is not None
        assert last.action == LedgerAction.CASE_LABELS_RECONCILED
        assert last.entity_id == case.id
    report = ledger.verify(demo_app.uow())
    assert report.ok, report.breaks


def test_a_refused_reconciliation_writes_nothing(demo_app: App, driver: Driver) -> None:
    case = _released(driver, EQUE_CEL_HK, "WB-HK-6")
    with demo_app.uow() as uow:
        head = uow.ledger.last()
    with pytest.raises(InvalidInput, match="must have been issued"):
        driver.do(
            commands.ReconcileLabels(case.id, "product_bag", 1, 2, 0, reason="miscount"),
            "operator",
        )
    with demo_app.uow() as uow:
        assert uow.ledger.last() == head
