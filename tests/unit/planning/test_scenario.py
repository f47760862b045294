from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from tests.unit.planning.helpers import day, patient, tiny_data
from veinline.domain.errors import InvalidInput
from veinline.planning.generate import facility_year
from veinline.planning.scenario import (
    load_scenario,
    parse_scenario,
    scenario_json_schema,
    scenario_to_json,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "planning"


def test_the_rtp_example_holds_700_patients_and_cites_the_carsgen_release() -> None:
    scenario = load_scenario(DOCS / "rtp-example.json")
    assert len(scenario.patients) == 700
    assert scenario.facilities[0].id == "RTP"
    assert scenario.description is not None
    assert "CARsgen Therapeutics Business Wire release" in scenario.description


def test_the_rtp_example_is_what_the_generator_makes() -> None:
    assert (DOCS / "rtp-example.json").read_text() == scenario_to_json(facility_year(suites=24))


def test_the_schema_file_matches_the_models() -> None:
    assert json.loads((DOCS / "scenario.schema.json").read_text()) == scenario_json_schema()


def test_a_scenario_round_trips_through_json() -> None:
    scenario = parse_scenario(tiny_data())
    assert parse_scenario(scenario_to_json(scenario)) == scenario


def _mutate(path: str, value: Any) -> dict[str, Any]:
    data = deepcopy(tiny_data(patients=[patient("P1"), patient("P2")]))
    target: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is _DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("patients.0.product", "Z", "patients[0].product: unknown product 'Z' (known: A)"),
        ("patients.1.centre", "X", "patients[1].centre: unknown apheresis centre 'X'"),
        (
            "apheresis_centres.0.transport_days",
            {"G": 1},
            "apheresis_centres[0].transport_days: unknown facility 'G'",
        ),
        ("qc", {"daily_capacity": {"G": 2}}, "qc.daily_capacity: unknown facility 'G'"),
        ("patients.0.urgency", 6, "patients[0].urgency: Input should be less than or equal to 5"),
        ("patients.1.id", "P1", "patients[1]: duplicate id 'P1'"),
        ("horizon_days", _DELETE, "horizon_days: required field is missing"),
        ("patients.0.ready_date", "soon", "patients[0].ready_date"),
        ("patients.0.latest_infusion_date", day(-5), "is before ready_date"),
        (
            "facilities.0.closures",
            [{"suite": 4, "first_day": day(1), "last_day": day(2)}],
            "suite 4 does not exist",
        ),
        (
            "fixed",
            [
                {
                    "patient": "P9",
                    "facility": "F",
                    "suite": 1,
                    "apheresis_date": day(0),
                    "manufacturing_start": day(1),
                }
            ],
            "fixed[0].patient: unknown patient 'P9'",
        ),
        (
            "fixed",
            [
                {
                    "patient": "P1",
                    "facility": "F",
                    "suite": 3,
                    "apheresis_date": day(0),
                    "manufacturing_start": day(1),
                }
            ],
            "fixed[0].suite: suite 3 does not exist",
        ),
        ("patients.0.colour", "blue", "patients[0].colour: Extra inputs are not permitted"),
    ],
)
def test_a_bad_scenario_is_refused_naming_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_scenario(_mutate(path, value))
    assert message in refused.value.message


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_scenario("{nope")


def test_a_json_array_is_refused() -> None:
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        parse_scenario("[]")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read scenario file"):
        load_scenario(tmp_path / "absent.json")
