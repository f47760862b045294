from __future__ import annotations

import pytest

from veinline.domain.batch import BatchStatus
from veinline.domain.case import CaseState
from veinline.domain.style import MINIMUM_CONTRAST, Styled, contrast, styled


class Light(Styled):
    ON = "on"
    OFF = "off"


class Switch(Styled):
    ON = "on"


def test_each_enum_reads_its_own_table_even_where_values_match() -> None:
    styled(Light, {Light.ON: ("Lit", "#15803d"), Light.OFF: ("Dark", "#374151")})
    styled(Switch, {Switch.ON: ("Switched on", "#2563eb")})
    assert (Light.ON.label, Light.ON.colour) == ("Lit", "#15803d")
    assert (Switch.ON.label, Switch.ON.colour) == ("Switched on", "#2563eb")
    assert (CaseState.RELEASED.label, BatchStatus.COMPLETED.label) == (
        "Released",
        "Manufactured, awaiting release",
    )


def test_a_table_missing_a_member_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="Light has no label and colour for: off"):
        styled(Light, {Light.ON: ("Lit", "#15803d")})


def test_contrast_ratios_match_the_wcag_definition() -> None:
    # Black on white is 21:1, a colour on itself 1:1; white on the green the issue found
    # on the "completed" pill was 3.3:1, its darker shade passes.
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#777777") == pytest.approx(1.0)
    assert contrast("#ffffff", "#16a34a") == pytest.approx(3.30, abs=0.01)
    assert contrast("#ffffff", "#15803d") == pytest.approx(5.02, abs=0.01)


def test_a_colour_too_faint_for_white_text_is_refused_by_name() -> None:
    faint = r"Light: white text is too faint .* off \(#ea580c: 3.56:1\)"
    with pytest.raises(ValueError, match=faint):
        styled(Light, {Light.ON: ("Lit", "#15803d"), Light.OFF: ("Dark", "#ea580c")})
    with pytest.raises(ValueError, match="not a colour of the form #rrggbb"):
        styled(Light, {Light.ON: ("Lit", "green"), Light.OFF: ("Dark", "#374151")})


@pytest.mark.parametrize("kind", [CaseState, BatchStatus])
def test_every_state_colour_carries_white_text(kind: type[Styled]) -> None:
    assert all(contrast("#ffffff", member.colour) >= MINIMUM_CONTRAST for member in kind)
