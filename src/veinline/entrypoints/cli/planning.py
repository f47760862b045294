"""`veinline plan` and `veinline replan`: manufacturing-slot planning from the command line.

These commands read and write files only (no database): a scenario JSON in, a plan
JSON out. Bad input prints what is wrong on stderr and exits with code 2.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from veinline.domain.errors import DomainError

if TYPE_CHECKING:
    from veinline.planning.plan_io import Plan

_out = Console(soft_wrap=True)
_err = Console(stderr=True, soft_wrap=True)


class Policy(StrEnum):
    """How slots are allocated."""

    optimal = "optimal"
    fifo = "fifo"


PLAN_HELP = (
    "Book every waiting patient into a manufacturing slot and promise an infusion date."
    "\n\n"
    "The scenario (JSON; schema in docs/planning/scenario.schema.json) lists the products "
    "with their manufacturing, QC and shipping days; the facilities and their suites, with "
    "closed days; the apheresis centres with their daily capacity and transport days to each "
    "facility; the QC intake per facility (optional); the waiting patients with their ready "
    "date, latest infusion date and triage inputs (urgency 1-5, waiting-list date); and the "
    "work already started, which every plan keeps."
    "\n\n"
    "The plan (JSON) gives each patient an apheresis date, facility and suite, manufacturing "
    "start and end, release date (end + QC days) and infusion date (release + shipping "
    "days); it lists who could not be placed and why, and every patient's priority score "
    "with its parts."
    "\n\n"
    "--policy optimal keeps as many latest infusion dates as possible, then minimises "
    "waiting weighted by triage score, and reports a proven lower bound and the gap to it. "
    "It stops at --time-limit, or sooner once the plan is proven within --target-gap "
    "percent of the bound. "
    "--policy fifo books first come, first served by waiting-list date, for comparison."
    "\n\n"
    "Example: veinline plan --scenario docs/planning/rtp-example.json --out plan.json"
)

REPLAN_HELP = (
    "Replan after a batch failure or a slip, moving as few patients as possible."
    "\n\n"
    'The event file is one JSON object: {"type": "batch_failure", "patient": "P0123", '
    '"date": "2025-05-02"} for a failed batch (the patient is collected again after that '
    'date), or {"type": "slip", "patient": "P0456", "date": "2025-05-02", '
    '"new_manufacturing_end": "2025-05-09"} for a batch that runs late.'
    "\n\n"
    "Work whose cells were collected on or before the event date stays as planned. Another "
    "patient is moved only when that keeps a latest infusion date or saves more "
    "priority-weighted waiting than the move costs; the new plan lists every move and why."
    "\n\n"
    "Example: veinline replan --plan plan.json --scenario scenario.json --event failure.json "
    "--out new-plan.json"
)


def register(app: typer.Typer) -> None:
    """Add the `plan` and `replan` commands to `app`."""
    app.command("plan", help=PLAN_HELP)(_plan_command)
    app.command("replan", help=REPLAN_HELP)(_replan_command)


def _plan_command(
    scenario: Annotated[
        Path, typer.Option("--scenario", help="Scenario JSON file.", show_default=False)
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the plan JSON.", show_default=False)
    ],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Seconds the optimiser may use.")
    ] = 10.0,
    policy: Annotated[
        Policy, typer.Option("--policy", help="optimal (default) or fifo.")
    ] = Policy.optimal,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed of the search.")] = 0,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="CP-SAT worker threads.")
    ] = 1,
    target_gap: Annotated[
        float,
        typer.Option(
            "--target-gap",
            min=0.0,
            max=100.0,
            help="Stop once the plan is proven within this many percent of the bound "
            "(0: search until the time limit).",
        ),
    ] = 0.5,
) -> None:
    try:
        from veinline.planning.fifo import fifo_plan
        from veinline.planning.scenario import load_scenario
        from veinline.planning.scheduler import SolverOptions, plan

        loaded = load_scenario(scenario)
        if policy is Policy.fifo:
            result = fifo_plan(loaded)
        else:
            result = plan(
                loaded,
                options=SolverOptions(
                    time_limit_s=time_limit,
                    workers=workers,
                    seed=seed,
                    target_gap=target_gap / 100,
                ),
            )
        _write(out, result)
    except DomainError as error:
        _fail(error.message)
    _summary(result, out)


def _replan_command(
    plan_file: Annotated[
        Path, typer.Option("--plan", help="The current plan JSON.", show_default=False)
    ],
    scenario: Annotated[
        Path, typer.Option("--scenario", help="The scenario it was made for.", show_default=False)
    ],
    event: Annotated[
        Path, typer.Option("--event", help="Event JSON (failure or slip).", show_default=False)
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the new plan.", show_default=False)
    ],
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Seconds the search may use.")
    ] = 0.6,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed of the search.")] = 0,
) -> None:
    try:
        from veinline.planning.events import load_event
        from veinline.planning.plan_io import load_plan
        from veinline.planning.replan import ReplanOptions, replan
        from veinline.planning.scenario import load_scenario

        current = load_plan(plan_file)
        loaded = load_scenario(scenario)
        happened = load_event(event)
        result = replan(
            current, loaded, happened, options=ReplanOptions(time_limit_s=time_limit, seed=seed)
        )
        _write(out, result)
    except DomainError as error:
        _fail(error.message)
    _summary(result, out)
    if result.moves:
        table = Table(title=f"{len(result.moves)} patient(s) moved")
        table.add_column("patient")
        table.add_column("infusion shift (days)", justify="right")
        table.add_column("why")
        for move in result.moves:
            shift = "-" if move.shift_days is None else f"{move.shift_days:+d}"
            table.add_row(move.patient, shift, move.reason)
        _out.print(table)


def _write(path: Path, result: Plan) -> None:
    from veinline.planning.plan_io import plan_to_json

    try:
        path.write_text(plan_to_json(result), encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {path}: {error.strerror}")


def _fail(message: str) -> NoReturn:
    _err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code=2)


def _summary(result: Plan, out: Path) -> None:
    m = result.metrics
    table = Table(title=f"{result.policy} plan written to {out}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("patients planned", f"{m.scheduled} of {m.patients}")
    table.add_row(
        "treated by their latest infusion date", f"{m.treated_by_deadline} of {m.with_deadline}"
    )
    table.add_row("missed latest infusion date", str(m.missed_deadline))
    table.add_row("not planned", str(m.unscheduled))
    table.add_row("priority-weighted wait", f"{m.weighted_wait:,}")
    table.add_row("mean / longest wait (days)", f"{m.mean_wait_days:.1f} / {m.max_wait_days}")
    table.add_row("objective", f"{result.objective:,}")
    if result.bound is not None and result.gap is not None:
        table.add_row("bound", f"{result.bound:,}")
        table.add_row("gap", f"{100 * result.gap:.2f} %")
    wall = result.stats.get("wall_time_s")
    if wall is not None:
        table.add_row("time (s)", str(wall))
    _out.print(table)
