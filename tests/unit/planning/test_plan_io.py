from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.planning.helpers import patient, tiny
from veinline.domain.errors import InvalidInput
from veinline.planning.plan_io import load_plan, parse_plan, plan_to_json
from veinline.planning.scheduler import SolverOptions, plan


def test_a_plan_round_trips_through_json(tmp_path: Path) -> None:
    result = plan(
        tiny(patients=[patient("P1"), patient("P2")]), options=SolverOptions(time_limit_s=0.5)
    )
    path = tmp_path / "plan.json"
    path.write_text(plan_to_json(result))
    assert load_plan(path) == result


def test_a_plan_with_a_bad_field_is_refused_naming_it() -> None:
    result = plan(tiny(), options=SolverOptions(time_limit_s=0.5))
    data = result.model_dump(mode="json")
    data["assignments"][0]["suite"] = 0
    with pytest.raises(InvalidInput, match=r"assignments\[0\]\.suite"):
        parse_plan(data)


def test_a_plan_of_another_format_is_refused() -> None:
    result = plan(tiny(), options=SolverOptions(time_limit_s=0.5))
    data = result.model_dump(mode="json")
    data["format"] = "veinline.plan/0"
    with pytest.raises(InvalidInput, match="format"):
        parse_plan(data)
