from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from veinline.domain.errors import InvalidInput
from veinline.entrypoints.cli.simulation import parse_suites, register

from .scenarios import RTP_EXAMPLE, scenario_data


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.json"
    path.write_text(json.dumps(scenario_data()), encoding="utf-8")
    return path


def run(app: typer.Typer, *args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_simulate_writes_results_and_a_chart(app: typer.Typer, small: Path, tmp_path: Path) -> None:
    out, plot = tmp_path / "r.json", tmp_path / "r.png"
    code, stdout, stderr = run(
        app,
        "simulate",
        "--scenario",
        small,
        "--replications",
        "12",
        "--seed",
        "3",
        "--workers",
        "1",
        "--out",
        out,
        "--plot",
        plot,
    )
    assert code == 0, stderr
    assert "patients infused per year" in stdout and "12 replications" in stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["replications"] == 12 and data["seed"] == 3
    assert data["kpis"]["network"]["treated_per_year"]["mean"] > 0
    assert plot.stat().st_size > 10_000


def test_the_reference_engine_gives_the_same_numbers(
    app: typer.Typer, small: Path, tmp_path: Path
) -> None:
    outputs = []
    for engine in ("fast", "reference"):
        out = tmp_path / f"{engine}.json"
        code, _, stderr = run(
            app,
            "simulate",
            "-s",
            small,
            "-n",
            "4",
            "--engine",
            engine,
            "--workers",
            "1",
            "--out",
            out,
        )
        assert code == 0, stderr
        outputs.append(json.loads(out.read_text(encoding="utf-8"))["kpis"])
    fast, reference = outputs
    assert fast["network"]["treated_per_year"] == reference["network"]["treated_per_year"]


def test_a_scenario_with_a_bad_field_exits_2_naming_it(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(scenario_data(patients_per_year=-5)), encoding="utf-8")
    code, stdout, stderr = run(app, "simulate", "--scenario", path)
    assert code == 2
    assert "simulation.patients_per_year" in stderr and stdout == ""


def test_a_missing_scenario_file_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    code, _, stderr = run(app, "simulate", "--scenario", tmp_path / "none.json")
    assert code == 2 and "does not exist" in stderr


def test_an_unknown_chart_format_is_refused_before_simulating(
    app: typer.Typer, small: Path, tmp_path: Path
) -> None:
    code, _, stderr = run(app, "simulate", "-s", small, "--plot", tmp_path / "chart.gif")
    assert code == 2 and ".png, .svg, .pdf" in stderr


def test_an_unknown_engine_exits_2(app: typer.Typer, small: Path) -> None:
    code, _, stderr = run(app, "simulate", "-s", small, "--engine", "turbo")
    assert code == 2 and "turbo" in stderr


def test_sweep_reports_each_suite_count(app: typer.Typer, small: Path, tmp_path: Path) -> None:
    out, plot = tmp_path / "s.json", tmp_path / "s.png"
    code, stdout, stderr = run(
        app,
        "sweep",
        "--scenario",
        small,
        "--suites",
        "4:8:2",
        "-n",
        "6",
        "--workers",
        "1",
        "--out",
        out,
        "--plot",
        plot,
    )
    assert code == 0, stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [p["suites"] for p in data["points"]] == [4, 6, 8]
    assert data["facility"] == "east" and plot.exists()
    assert "suites at east vary" in stdout


def test_sweep_with_a_bad_range_exits_2(app: typer.Typer, small: Path) -> None:
    code, _, stderr = run(app, "sweep", "--scenario", small, "--suites", "30:20")
    assert code == 2 and "FIRST:LAST" in stderr


@pytest.mark.parametrize(
    ("text", "counts"), [("20:23", [20, 21, 22, 23]), ("20:30:5", [20, 25, 30]), ("8,4", [8, 4])]
)
def test_suite_ranges_are_inclusive(text: str, counts: list[int]) -> None:
    assert parse_suites(text) == counts


@pytest.mark.parametrize("text", ["20-30", "a:b", "0:3", "5:6:0", ""])
def test_unreadable_suite_ranges_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_suites(text)


def test_help_teaches_the_options_with_an_example(app: typer.Typer) -> None:
    code, stdout, _ = run(app, "simulate", "--help")
    assert code == 0
    for text in ("--replications", "--dask-address", "--engine", "rtp-simulation.json", "95%"):
        assert text in stdout
    code, stdout, _ = run(app, "sweep", "--help")
    assert code == 0 and "FIRST:LAST" in stdout


def test_the_rtp_example_runs(app: typer.Typer) -> None:
    code, stdout, stderr = run(app, "simulate", "-s", RTP_EXAMPLE, "-n", "3", "--workers", "1")
    assert code == 0, stderr
    assert "RTP (28 suites)" in stdout
