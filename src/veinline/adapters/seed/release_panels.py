"""DEMO DEFAULT release-test panels per modality: seed data, not registered specifications.

The service that drafts a specification without tests starts from one of these panels;
it receives them as a dependency wired in `bootstrap.py` (`services.specifications.
ReleasePanels`), so the domain holds no product data.
"""

from __future__ import annotations

from datetime import datetime

from veinline.domain.catalog import Modality, check_code
from veinline.domain.ledger import aware
from veinline.domain.specification import (
    Comparator,
    Qualitative,
    ReleaseTest,
    Specification,
    check_market,
)
from veinline.domain.user import SYSTEM_USERNAME

# DEMO DEFAULTS, not a registered specification: a typical CAR-T panel (an example to
# configure per product and market). The CAR+ and potency floors are product-specific and
# not in any seed; these are placeholders an administrator must replace.
DEMO_CAR_FLOOR_PERCENT = 20.0
DEMO_POTENCY_FLOOR_PG_ML = 500.0

_C = Comparator
_Q = Qualitative


def default_tests(
    modality: Modality,
    *,
    car_floor: float = DEMO_CAR_FLOOR_PERCENT,
    potency_floor: float = DEMO_POTENCY_FLOOR_PG_ML,
) -> tuple[ReleaseTest, ...]:
    safety = (
        # Kinetic LAL and qPCR report results below their range as "<x" (the lab's LoQ
        # is its own, so none is stated here: unconfirmed).
        ReleaseTest(
            "endotoxin",
            "Endotoxin",
            _C.LESS_THAN,
            5,
            unit="EU/mL",
            method="LAL, kinetic",
            qualifiers=True,
        ),
        ReleaseTest(
            "sterility",
            "Sterility",
            _C.QUALITATIVE,
            expected=_Q.NO_GROWTH,
            method="USP <71> / Ph. Eur. 2.6.27",
        ),
        ReleaseTest(
            "mycoplasma",
            "Mycoplasma",
            _C.QUALITATIVE,
            expected=_Q.NOT_DETECTED,
            method="qPCR (Ph. Eur. 2.6.7)",
        ),
    )
    if modality is Modality.AUTOLOGOUS_CAR_T:
        return (
            ReleaseTest(
                "viability", "Viability", _C.AT_LEAST, 70, unit="%", method="Flow cytometry, 7-AAD"
            ),
            ReleaseTest("cd3", "CD3+ T cells", _C.AT_LEAST, 80, unit="%", method="Flow cytometry"),
            ReleaseTest(
                "car_expression",
                "CAR+ T cells",
                _C.AT_LEAST,
                car_floor,
                unit="%",
                method="Flow cytometry",
            ),
            ReleaseTest(
                "vcn",
                "Vector copy number",
                _C.AT_MOST,
                5,
                unit="copies/cell",
                method="qPCR",
                qualifiers=True,
            ),
            *safety,
            ReleaseTest(
                "rcl",
                "Replication-competent lentivirus",
                _C.QUALITATIVE,
                expected=_Q.NOT_DETECTED,
                method="qPCR for VSV-G",
            ),
            ReleaseTest(
                "identity",
                "Identity (CAR transgene)",
                _C.QUALITATIVE,
                expected=_Q.POSITIVE,
                method="qPCR",
            ),
            ReleaseTest(
                "potency",
                "Potency (IFN-γ release)",
                _C.AT_LEAST,
                potency_floor,
                unit="pg/mL",
                method="ELISA after target-cell co-culture",
            ),
        )
    # ISCT minimal criteria for MSC (Dominici et al., Cytotherapy 2006): CD73, CD90, CD105
    # ≥ 95%; CD45, CD34, CD14 or CD11b, CD79α or CD19, HLA-DR ≤ 2%.
    return (
        ReleaseTest(
            "viability", "Viability", _C.AT_LEAST, 80, unit="%", method="Trypan blue exclusion"
        ),
        ReleaseTest(
            "positive_markers",
            "CD73+ CD90+ CD105+ cells",
            _C.AT_LEAST,
            95,
            unit="%",
            method="Flow cytometry",
        ),
        ReleaseTest(
            "negative_markers",
            "CD45/CD34/CD14/CD19/HLA-DR+ cells",
            _C.AT_MOST,
            2,
            unit="%",
            method="Flow cytometry",
        ),
        *safety,
    )


def default_specification(
    product_code: str,
    modality: Modality,
    market: str,
    *,
    at: datetime,
    author: str = SYSTEM_USERNAME,
    car_floor: float = DEMO_CAR_FLOOR_PERCENT,
    potency_floor: float = DEMO_POTENCY_FLOOR_PG_ML,
) -> Specification:
    """A DEMO DEFAULT draft specification (see the note above); QA approves it before use."""
    check_code(product_code)
    check_market(market)
    return Specification(
        product_code=product_code,
        market=market,
        number=1,
        tests=default_tests(modality, car_floor=car_floor, potency_floor=potency_floor),
        author=author,
        created_at=aware(at),
        notes="demo default release panel: not a registered specification",
        demo=True,
    )
