"""Small hand-made scenarios whose right answer can be worked out on paper."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from veinline.planning.scenario import Scenario, parse_scenario

START = date(2025, 1, 6)


def day(offset: int) -> str:
    """The ISO date `offset` days after START."""
    return (START + timedelta(days=offset)).isoformat()


def patient(pid: str, ready: int = 0, **extra: Any) -> dict[str, Any]:
    """A patient of product A at centre C, ready `ready` days after START."""
    return {"id": pid, "product": "A", "centre": "C", "ready_date": day(ready), **extra}


def tiny_data(
    *,
    patients: list[dict[str, Any]] | None = None,
    suites: int = 1,
    horizon: int = 60,
    centre_capacity: int = 5,
    transport: int = 1,
    qc: int | None = None,
    closures: list[dict[str, Any]] | None = None,
    fixed: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One product (5 days manufacturing, 3 QC, 1 shipping), one facility F, one centre C."""
    data: dict[str, Any] = {
        "start_date": START.isoformat(),
        "horizon_days": horizon,
        "products": [{"code": "A", "manufacturing_days": 5, "qc_days": 3, "ship_days": 1}],
        "facilities": [{"id": "F", "suites": suites, "closures": closures or []}],
        "apheresis_centres": [
            {"id": "C", "daily_capacity": centre_capacity, "transport_days": {"F": transport}}
        ],
        "patients": patients if patients is not None else [patient("P1")],
        "fixed": fixed or [],
    }
    if qc is not None:
        data["qc"] = {"daily_capacity": {"F": qc}}
    return data


def tiny(**kwargs: Any) -> Scenario:
    """`tiny_data` validated into a scenario."""
    return parse_scenario(tiny_data(**kwargs))
