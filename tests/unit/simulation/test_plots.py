from __future__ import annotations

from pathlib import Path

import pytest

from veinline.planning.simulation import simulate, sweep_suites
from veinline.planning.simulation.plots import plot_run, plot_sweep

from .scenarios import scenario, scenario_data

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_a_run_is_drawn_as_a_png(tmp_path: Path) -> None:
    result = simulate(scenario(), replications=10, seed=1, workers=1)
    path = tmp_path / "run.png"
    plot_run(result.summary, path, title="east")
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert path.stat().st_size > 20_000


def test_a_run_where_nobody_is_infused_still_draws(tmp_path: Path) -> None:
    data = scenario_data(years=0.02, warmup_days=0)  # a week: no batch gets through QC
    del data["qc"]
    result = simulate(scenario(data), replications=3, seed=1, workers=1)
    assert result.summary.network["vein_to_vein_days_p50"].n == 0
    plot_run(result.summary, tmp_path / "empty.svg", title="east")
    assert b"<svg" in (tmp_path / "empty.svg").read_bytes()[:500]


@pytest.mark.parametrize("suffix", [".png", ".pdf"])
def test_a_sweep_is_drawn_in_the_format_its_name_asks_for(tmp_path: Path, suffix: str) -> None:
    points = sweep_suites(scenario(), [4, 5, 6], replications=5, seed=1, workers=1)
    path = tmp_path / f"sweep{suffix}"
    plot_sweep(points, path, title="east")
    head = path.read_bytes()[:8]
    assert head.startswith(PNG_SIGNATURE if suffix == ".png" else b"%PDF")
