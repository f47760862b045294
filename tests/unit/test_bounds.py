"""Bounded input: the one rule the bus applies to every command before anything else."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime

import pytest

from veinline.domain.errors import InvalidInput
from veinline.services import bounds, commands
from veinline.services.messagebus import HANDLERS
from veinline.services.unit_of_work import AbstractUnitOfWork


def _enrol(**changes: object) -> commands.EnrolPatient:
    base = commands.EnrolPatient(
        product_code="eque-cel",
        jurisdiction="HK",
        treatment_site="demo-hk-treatment",
        patient_name="Test Patient",
        wristband_id="WB-1",
        treating_physician="physician",
        consent_given=True,
        consent_date="2026-03-01",
        patient_facts={"age": 40, "diagnosis": "r/r LBCL"},
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _refusal(cmd: object) -> str:
    with pytest.raises(InvalidInput) as refused:
        bounds.check(cmd)
    return refused.value.message


def test_a_command_within_bounds_passes() -> None:
    bounds.check(_enrol())
    bounds.check(commands.CancelCase(case_id="C-1", reason="line one\nline two\twith a tab\r\n"))


def test_over_long_text_is_refused_naming_the_field() -> None:
    assert _refusal(_enrol(patient_name="x" * 201)) == (
        "patient_name is too long (at most 200 characters)"
    )
    assert "wristband_id is too long (at most 64" in _refusal(_enrol(wristband_id="w" * 65))
    assert "case_id is too long (at most 40" in _refusal(_enrol(case_id="c" * 41))
    bounds.check(_enrol(patient_name="x" * 200))


def test_a_five_megabyte_name_is_refused_without_echoing_it() -> None:
    message = _refusal(_enrol(patient_name="x" * 5_000_000))
    assert "patient_name" in message
    assert len(message) < 100


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\n", "\t"])
def test_control_characters_are_refused_in_one_line_text(bad: str) -> None:
    message = _refusal(_enrol(patient_name=f"Ann{bad}Lee"))
    assert message.startswith("patient_name contains a control character")
    assert f"U+{ord(bad):04X} at position 4" in message


def test_free_text_allows_line_breaks_and_tabs_but_no_other_control() -> None:
    bounds.check(commands.CancelCase(case_id="C-1", reason="a\nb\tc\r\n"))
    message = _refusal(commands.CancelCase(case_id="C-1", reason="a\x00b"))
    assert message.startswith("reason contains a control character (U+0000")
    assert "reason is too long (at most 2,000" in _refusal(
        commands.CancelCase(case_id="C-1", reason="r" * 2_001)
    )


@pytest.mark.parametrize("surrogate", ["\ud800", "\udfff", "a\udc00b"])
def test_unpaired_surrogates_are_refused(surrogate: str) -> None:
    assert _refusal(_enrol(patient_name=surrogate)) == (
        "patient_name contains an invalid character (an unpaired surrogate)"
    )


def test_astral_characters_and_accents_pass() -> None:
    bounds.check(_enrol(patient_name="Zoë 陳 \U0001f600"))


def test_nested_input_is_bounded_in_depth_size_entries_and_text() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(10):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    assert "patient_facts" in _refusal(_enrol(patient_facts=deep))
    assert "nested too deeply" in _refusal(_enrol(patient_facts=deep))
    many = {f"k{i}": i for i in range(3_000)}
    assert "patient_facts has too many entries" in _refusal(_enrol(patient_facts=many))
    big = {f"k{i}": "y" * 1_500 for i in range(100)}
    assert "too large" in _refusal(_enrol(patient_facts=big))
    assert _refusal(_enrol(patient_facts={"notes": "a\x00b"})).startswith(
        "patient_facts.notes contains a control character"
    )
    assert "a key of patient_facts" in _refusal(_enrol(patient_facts={"a\x00": 1}))
    lone = commands.RecordAssessment(
        case_id="C-1", kind="crs", assessed_on="2026-03-01", inputs={"grades": ["\ud800"]}
    )
    assert _refusal(lone).startswith("inputs.grades[0] contains an invalid character")


def test_logger_csv_is_multiline_and_allowed_to_be_large() -> None:
    csv = "time,temperature\n" + "2026-03-01T00:00:00Z,-150.0\n" * 50_000
    bounds.check(commands.ImportLoggerData(shipment_id="S-1", csv_text=csv))
    assert "csv_text contains a control character" in _refusal(
        commands.ImportLoggerData(shipment_id="S-1", csv_text="a\x00")
    )


def test_scan_data_may_end_with_a_scanner_s_enter_but_holds_no_other_control() -> None:
    bounds.check(commands.ScanCustody(case_id="C-1", point="p", data="=A9999\r\n"))
    assert _refusal(commands.ScanCustody(case_id="C-1", point="p", data="=A99\x1d99")).startswith(
        "data contains a control character (U+001D"
    )


def test_scan_data_with_a_nul_is_refused_before_any_transaction() -> None:
    assert _refusal(commands.ScanCustody(case_id="C-1", point="p", data="=A9999\x00")).startswith(
        "data contains a control character"
    )


def test_every_text_field_of_every_command_has_a_bound_within_its_column() -> None:
    """Each command's bounds resolve; no text field is unbounded or over 4,000,000."""
    for command_class in HANDLERS:
        declared = bounds.bounds_of(command_class)
        hints = typing.get_type_hints(command_class)
        for name, bound in declared.items():
            if hints[name] in (str, str | None) and bound is not None:
                assert isinstance(bound, bounds.Text), (command_class, name)
                assert bound.max <= bounds.LOGGER_CSV_MAX


def test_the_bus_checks_bounds_before_authority_and_handler() -> None:
    from veinline.domain.user import Role, User
    from veinline.services.messagebus import MessageBus

    called: list[object] = []

    def handler(cmd: object, uow: object, *, actor: object) -> None:
        called.append(cmd)

    def no_uow() -> AbstractUnitOfWork:
        raise AssertionError("no unit of work may open for input out of bounds")

    bus = MessageBus(
        uow_factory=no_uow,
        dependencies={},
        handlers_by_command={commands.CancelCase: handler},
    )
    nobody = User(
        username="courier",
        printed_name="C",
        role=Role.COURIER,
        site_code=None,
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    with pytest.raises(InvalidInput, match="reason contains a control character"):
        bus.handle(commands.CancelCase(case_id="C-1", reason="\x00"), actor=nobody)
    assert called == []
