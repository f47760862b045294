"""Small scenarios for the simulator's tests, built as the JSON a user would write."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from veinline.planning.simulation import SimulationConfig, parse_scenario

RTP_EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "planning" / "rtp-simulation.json"

BASE: dict[str, Any] = {
    "start_date": "2026-01-01",
    "horizon_days": 365,
    "products": [
        {"code": "a", "manufacturing_days": 12, "qc_days": 8, "ship_days": 2, "failure_rate": 0.1},
        {
            "code": "b",
            "manufacturing_days": 14,
            "qc_days": 10,
            "ship_days": 3,
            "failure_rate": 0.05,
        },
    ],
    "facilities": [{"id": "east", "suites": 6}],
    "qc": {"daily_capacity": 1},
    "simulation": {
        "patients_per_year": 160,
        "years": 1,
        "warmup_days": 30,
        "dropout_hazard_per_month": 0.1,
        "recollection_days": 21,
    },
}


def scenario_data(**simulation: Any) -> dict[str, Any]:
    """The base scenario as a dict, with `simulation` fields overridden."""
    data = copy.deepcopy(BASE)
    data["simulation"].update(simulation)
    return data


def scenario(data: dict[str, Any] | None = None, **simulation: Any) -> SimulationConfig:
    """A compiled configuration from `data` (default: the base) and overrides."""
    data = copy.deepcopy(data) if data is not None else scenario_data()
    data["simulation"].update(simulation)
    return parse_scenario(data, source="test scenario")


def network(**simulation: Any) -> SimulationConfig:
    """Two facilities: one with QC capacity, one with unlimited QC."""
    data = scenario_data(**simulation)
    data["facilities"] = [{"id": "east", "suites": 6}, {"id": "west", "suites": 4}]
    data["qc"] = {"daily_capacity": {"east": 1}}
    data["simulation"]["patients_per_year"] = 250
    return parse_scenario(data, source="test scenario")
