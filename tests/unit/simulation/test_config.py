from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from veinline.domain.errors import InvalidInput
from veinline.planning.simulation import load_scenario, parse_scenario
from veinline.planning.simulation.config import DAYS_PER_MONTH

from .scenarios import RTP_EXAMPLE, scenario, scenario_data


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_scenario(data, source="s.json")
    return caught.value.message


def test_reads_the_rtp_example() -> None:
    config = load_scenario(RTP_EXAMPLE)
    (rtp,) = config.facilities
    assert (rtp.id, rtp.suites, rtp.qc_capacity) == ("RTP", 28, 4)
    assert rtp.patients_per_day * 365 == pytest.approx(700)
    assert [p.code for p in config.products] == ["zevor-cel", "satri-cel"]
    assert [p.share for p in config.products] == pytest.approx([0.7, 0.3])
    assert config.window == (90.0, 455.0)


def test_missing_simulation_section_names_the_field() -> None:
    data = scenario_data()
    del data["simulation"]
    assert "simulation: Field required" in refused(data)


def test_patients_per_year_must_be_positive() -> None:
    message = refused(scenario_data(patients_per_year=0))
    assert message.startswith("s.json: simulation.patients_per_year:")
    assert "greater than 0" in message


def test_a_misspelt_simulation_field_is_refused_not_ignored() -> None:
    assert "simulation.patients_per_yaer: Extra inputs are not permitted" in refused(
        scenario_data(patients_per_yaer=700)
    )


def test_a_product_field_out_of_range_names_the_product_position() -> None:
    data = scenario_data()
    data["products"][1]["failure_rate"] = 1.2
    assert "products.1.failure_rate" in refused(data)


def test_a_mix_naming_an_unknown_product_is_refused() -> None:
    message = refused(scenario_data(product_mix={"a": 1, "zevor-cel": 1}))
    assert (
        message
        == "s.json: simulation.product_mix.zevor-cel: no product 'zevor-cel' in the scenario"
    )


def test_a_mix_with_no_positive_weight_is_refused() -> None:
    assert "at least one weight" in refused(scenario_data(product_mix={"a": 0}))


def test_qc_capacity_for_an_unknown_facility_is_refused() -> None:
    data = scenario_data()
    data["qc"] = {"daily_capacity": {"north": 2}}
    assert "qc.daily_capacity.north: no facility 'north'" in refused(data)


def test_duplicate_facility_ids_are_refused() -> None:
    data = scenario_data()
    data["facilities"] = [{"id": "east", "suites": 2}, {"id": "east", "suites": 3}]
    assert "facilities.1.id: 'east' appears twice" in refused(data)


def test_a_monthly_dropout_probability_becomes_a_constant_hazard() -> None:
    config = scenario(
        scenario_data(dropout_hazard_per_month=None, dropout_probability_per_month=0.1)
    )
    # P(leave within a month) = 1 - exp(-hazard × month) = 0.1
    assert 1 - math.exp(-config.dropout_hazard_per_day * DAYS_PER_MONTH) == pytest.approx(0.1)


def test_dropout_hazard_and_probability_together_are_refused() -> None:
    message = refused(scenario_data(dropout_probability_per_month=0.1))
    assert "not both" in message


def test_without_a_share_facilities_get_referrals_in_proportion_to_suites() -> None:
    data = scenario_data()
    data["facilities"] = [{"id": "east", "suites": 6}, {"id": "west", "suites": 2}]
    east, west = scenario(data).facilities
    assert east.patients_per_day == pytest.approx(3 * west.patients_per_day)


def test_extra_top_level_fields_for_the_scheduler_are_left_alone() -> None:
    data = scenario_data()
    data["cases"] = [{"id": "C1"}]
    assert scenario(data).facilities[0].id == "east"


def test_invalid_json_reports_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"start_date": "2026-01-01",\n  "products": [}', encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"not valid JSON: .* at line 2, column 16"):
        load_scenario(path)


def test_a_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_scenario(tmp_path / "nope.json")


def test_a_scenario_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        load_scenario(path)


def test_changing_suites_needs_a_facility_when_there_are_several() -> None:
    data = scenario_data()
    data["facilities"] = [{"id": "east", "suites": 6}, {"id": "west", "suites": 2}]
    config = scenario(data)
    with pytest.raises(InvalidInput, match="name the one whose suites vary"):
        config.with_suites(9)
    assert [f.suites for f in config.with_suites(9, "west").facilities] == [6, 9]
    with pytest.raises(InvalidInput, match="no facility 'north'"):
        config.with_suites(9, "north")
