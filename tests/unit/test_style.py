from __future__ import annotations

import pytest

from veinline.domain.batch import BatchStatus
from veinline.domain.case import CaseState
from veinline.domain.style import Styled, styled


class Light(Styled):
    ON = "on"
    OFF = "off"


class Switch(Styled):
    ON = "on"


def test_each_enum_reads_its_own_table_even_where_values_match() -> None:
    styled(Light, {Light.ON: ("Lit", "#16a34a"), Light.OFF: ("Dark", "#374151")})
    styled(Switch, {Switch.ON: ("Switched on", "#2563eb")})
    assert (Light.ON.label, Light.ON.colour) == ("Lit", "#16a34a")
    assert (Switch.ON.label, Switch.ON.colour) == ("Switched on", "#2563eb")
    assert (CaseState.RELEASED.label, BatchStatus.COMPLETED.label) == (
        "Released",
        "Manufactured, awaiting release",
    )


def test_a_table_missing_a_member_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="Light has no label and colour for: off"):
        styled(Light, {Light.ON: ("Lit", "#16a34a")})
