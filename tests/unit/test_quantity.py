"""Typed values: numbers with units converted to the declared unit, pick lists, qualifiers."""

from __future__ import annotations

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.process import ParameterKind, ParameterSpec
from veinline.domain.quantity import Qualifier, Reading, Unit, read
from veinline.domain.specification import Comparator, ReleaseTest


@pytest.mark.parametrize(
    ("typed", "unit", "value"),
    [
        ("1.5", "×10^9 cells", 1.5),
        (1.5, "×10^9 cells", 1.5),
        ("1.5e9 cells", "×10^9 cells", 1.5),
        ("1.5 ×10^9 cells", "×10^9 cells", 1.5),
        ("1.5x10^9 cells", "×10^9", 1.5),
        ("1.5 × 10⁹ cells", "×10^9", 1.5),
        ("2e8 cells", "×10^9", 0.2),
        ("5e7 cells/mL", "×10^6 cells/mL", 50.0),
        ("50 cells/µL", "×10^6 cells/mL", 0.05),
        ("87%", "%", 87.0),
        ("87 %", "%", 87.0),
        ("50 µL", "mL", 0.05),
        ("0.05 L", "mL", 50.0),
        ("−95 °C", "°C", -95.0),
        ("2,5", "%", 2.5),  # a decimal comma
        ("7 days", "days", 7.0),
        ("168 h", "days", 7.0),
        ("3 rpm", "rpm", 3.0),  # a unit the table does not know, typed as declared
    ],
)
def test_a_value_is_read_in_its_declared_unit(typed: str | float, unit: str, value: float) -> None:
    assert read(typed, unit, name="x").value == pytest.approx(value)


@pytest.mark.parametrize(
    ("typed", "unit", "message"),
    [
        (1500000000, "×10^9 cells", "looks like a count of single cells"),
        ("1500000000", "×10^9", "type it with its unit"),
        ("1.5e9", "×10^9 cells", "in ×10\\^9 cells \\(1.5\\)"),
        ("5 mL", "×10^9 cells", "is not a unit of that kind"),
        ("87 EU/mL", "%", "is not a unit of that kind"),
        ("yes", "%", "needs a number in %"),
        ("1,000,000", "", "thousands separators"),
        ("1,000", "", "ambiguous"),
        ("<3", "%", "has a qualifier"),
        ("3 parsecs", "mL", "is not known"),
        ("nan", "%", "needs a number"),
        (True, "%", "needs a number"),
        ("1e999", "%", "finite"),
    ],
)
def test_a_careless_value_is_refused_with_its_name(
    typed: str | float, unit: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        read(typed, unit, name="Total nucleated cells")
    assert (
        "Total nucleated cells" in str(refused.value)
        or "ambiguous" in message
        or ("thousands" in message)
    )


def test_units_are_a_scale_and_a_kind() -> None:
    assert Unit.parse("×10^6 cells/mL") == Unit("×10^6 cells/mL", "count/volume", 1e6)
    assert Unit.parse("copies/cell").kind == "copies/count"
    assert read("<0.5", "EU/mL", name="e", qualifiers=True) == Reading(0.5, Qualifier.BELOW)
    assert read(">= 10", "EU/mL", name="e", qualifiers=True) == Reading(10.0, Qualifier.ABOVE)


def test_parameters_of_each_kind_take_their_own_values() -> None:
    match = ParameterSpec("Label match", ParameterKind.MATCH, expected="match")
    assert match.choices == ("match", "mismatch") and match.parse(" Match ") == "match"
    with pytest.raises(InvalidInput, match="recorded as match or mismatch, not 'yes'"):
        match.parse("yes")  # the careless entry that once opened a deviation
    assert match.excursion("mismatch") is not None and match.excursion("match") is None
    donor = ParameterSpec("Donor eligible", ParameterKind.YES_NO, expected="yes")
    assert donor.parse(True) == "yes" and donor.parse("no") == "no"
    freezer = ParameterSpec(
        "Freezer program",
        ParameterKind.CHOICE,
        expected="completed",
        choices=("completed", "aborted"),
    )
    assert freezer.to_dict()["choices"] == ["completed", "aborted"]
    assert ParameterSpec.from_dict(freezer.to_dict()) == freezer
    with pytest.raises(InvalidInput, match="not 'done'"):
        freezer.parse("done")
    cells = ParameterSpec("Total nucleated cells", ParameterKind.NUMBER, "×10^9 cells", low=1)
    assert cells.parse("1.5e9 cells") == 1.5 and cells.excursion(1.5) is None
    assert cells.excursion(cells.parse("5e8 cells")) is not None
    with pytest.raises(InvalidInput, match="single cells"):
        cells.parse("1500000000")
    # A text without choices keeps its old shape, so templates already signed hash as before.
    lot = ParameterSpec("Vector lot", ParameterKind.TEXT)
    assert "choices" not in lot.to_dict() and lot.parse(" LOT 7 ") == "LOT 7"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": ParameterKind.CHOICE, "choices": ("a",)}, "two or more"),
        ({"kind": ParameterKind.CHOICE, "choices": ("a", "b"), "expected": "c"}, "not one of"),
        ({"kind": ParameterKind.MATCH, "low": 1.0}, "cannot have number limits"),
        ({"kind": ParameterKind.TEXT, "choices": ("a", "b")}, "has no choices"),
    ],
)
def test_a_parameter_declared_wrongly_is_refused(spec: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        ParameterSpec("p", **spec)  # type: ignore[arg-type]


ENDOTOXIN = ReleaseTest(
    "endotoxin", "Endotoxin", Comparator.LESS_THAN, 5, unit="EU/mL", qualifiers=True, loq=0.05
)
VIABILITY = ReleaseTest("viability", "Viability", Comparator.AT_LEAST, 70, unit="%")


@pytest.mark.parametrize(
    ("test", "typed", "passes", "text"),
    [
        (ENDOTOXIN, "<0.5", True, "<0.5"),
        (ENDOTOXIN, "< 5 EU/mL", True, "< 5 EU/mL"),  # every value below 5 meets "< 5"
        (ENDOTOXIN, ">5", False, ">5"),
        (ENDOTOXIN, "below LoQ", True, "below LoQ"),
        (ENDOTOXIN, "0.3 EU/mL", True, "0.3 EU/mL"),
        (VIABILITY, "87%", True, "87%"),
        (VIABILITY, "61.50", False, "61.50"),  # significant figures kept as typed
    ],
)
def test_qc_results_are_judged_with_their_qualifier(
    test: ReleaseTest, typed: str, passes: bool, text: str
) -> None:
    _, shown, verdict = test.judge(typed)
    assert verdict.passes is passes and shown == text


def test_a_qualified_result_the_limit_falls_inside_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot be judged against < 5 EU/mL"):
        ENDOTOXIN.judge("<10")
    with pytest.raises(InvalidInput, match="has a qualifier"):
        VIABILITY.judge("<60")  # flow cytometry reports a number
    no_loq = ReleaseTest("vcn", "VCN", Comparator.AT_MOST, 5, unit="copies/cell", qualifiers=True)
    with pytest.raises(InvalidInput, match="states no limit of quantitation"):
        no_loq.judge("BLQ")
    assert ReleaseTest.from_dict(ENDOTOXIN.to_dict()) == ENDOTOXIN
    assert "qualifiers" not in VIABILITY.to_dict()
