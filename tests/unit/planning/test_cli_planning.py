from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.unit.planning.helpers import patient, tiny
from veinline.entrypoints.cli.planning import register
from veinline.planning.generate import small
from veinline.planning.scenario import scenario_to_json


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(scenario_to_json(small(seed=3)))
    return path


def test_plan_writes_the_plan_and_prints_a_summary(
    app: typer.Typer, scenario_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(
        app, ["plan", "--scenario", str(scenario_file), "--out", str(out), "--time-limit", "0.5"]
    )
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["policy"] == "optimal"
    assert "treated by their latest infusion date" in result.output
    assert "gap" in result.output


@pytest.mark.parametrize(("percent", "fraction"), [("0", 0.0), ("5", 0.05)])
def test_plan_stops_at_the_target_gap_given_in_percent(
    app: typer.Typer, scenario_file: Path, tmp_path: Path, percent: str, fraction: float
) -> None:
    out = tmp_path / "plan.json"
    args = ["plan", "--scenario", str(scenario_file), "--out", str(out), "--time-limit", "0.5"]
    result = CliRunner().invoke(app, [*args, "--target-gap", percent])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    stats = written["stats"]
    assert stats["target_gap"] == fraction
    if stats["stopped_by"] == "gap":
        gap = (written["objective"] - written["bound"]) / written["objective"]
        assert gap <= fraction + 1e-9


def test_plan_with_the_fifo_policy(app: typer.Typer, scenario_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = CliRunner().invoke(
        app, ["plan", "--scenario", str(scenario_file), "--out", str(out), "--policy", "fifo"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["policy"] == "fifo"


def test_a_bad_scenario_exits_with_2_and_says_why_on_stderr(
    app: typer.Typer, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    data = json.loads(scenario_to_json(tiny()))
    data["patients"][0]["product"] = "XX"
    bad.write_text(json.dumps(data))
    result = CliRunner().invoke(
        app, ["plan", "--scenario", str(bad), "--out", str(tmp_path / "p.json")]
    )
    assert result.exit_code == 2
    assert "patients[0].product: unknown product 'XX'" in result.stderr
    assert not (tmp_path / "p.json").exists()


def test_a_missing_scenario_file_exits_with_2(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["plan", "--scenario", str(tmp_path / "none.json"), "--out", str(tmp_path / "p")]
    )
    assert result.exit_code == 2
    assert "cannot read scenario file" in result.stderr


def test_replan_writes_the_new_plan_and_lists_moves(app: typer.Typer, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(scenario_to_json(tiny(patients=[patient("P1"), patient("P2", ready=4)])))
    first = tmp_path / "plan.json"
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["plan", "--scenario", str(scenario), "--out", str(first), "--time-limit", "0.5"]
        ).exit_code
        == 0
    )
    booked = next(a for a in json.loads(first.read_text())["assignments"] if a["patient"] == "P1")
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {"type": "batch_failure", "patient": "P1", "date": booked["manufacturing_start"]}
        )
    )
    out = tmp_path / "new.json"
    result = runner.invoke(
        app,
        [
            "replan",
            "--plan",
            str(first),
            "--scenario",
            str(scenario),
            "--event",
            str(event),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["policy"] == "replan"
    assert "moved" in result.output and "P1" in result.output


def test_replan_with_a_bad_event_exits_with_2(app: typer.Typer, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(scenario_to_json(tiny()))
    first = tmp_path / "plan.json"
    runner = CliRunner()
    runner.invoke(
        app, ["plan", "--scenario", str(scenario), "--out", str(first), "--time-limit", "0.5"]
    )
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"type": "batch_failure", "patient": "P1"}))
    result = runner.invoke(
        app,
        [
            "replan",
            "--plan",
            str(first),
            "--scenario",
            str(scenario),
            "--event",
            str(event),
            "--out",
            str(tmp_path / "new.json"),
        ],
    )
    assert result.exit_code == 2
    assert "date: required field is missing" in result.stderr


def test_help_teaches_the_files_and_the_policies(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["plan", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "scenario.schema.json" in text
    assert "first come, first served" in text
    assert "--time-limit" in text
    replan_help = " ".join(CliRunner().invoke(app, ["replan", "--help"]).output.split())
    assert "batch_failure" in replan_help and "slip" in replan_help
