"""`veinline planning`: the triage weights in force, and plans stored and applied to cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from veinline.entrypoints.cli.context import cli_context
from veinline.services import commands

planning_app = typer.Typer(
    help="Triage weights (ledgered), plans stored in veinline and applied to cases.",
    no_args_is_help=True,
)


@planning_app.command("weights")
def weights(
    set_file: Annotated[
        Path | None, typer.Option("--set", help="JSON file of new weights.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why the weights change (recorded).")] = "",
) -> None:
    """Show the triage weights in force, or change them with --set FILE --reason."""
    from veinline.services.planning import weights_in_force

    cli = cli_context()
    if set_file is not None:
        try:
            data = json.loads(set_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            cli.fail(f"cannot read weights from {set_file}: {exc}")
        cli.handle(commands.SetTriageWeights(weights=data, reason=reason))
    application = cli.app()
    with application.uow() as uow:
        current = weights_in_force(uow)
    cli.print_json(current.model_dump(mode="json"))


@planning_app.command("make")
def make(
    scenario: Annotated[Path, typer.Option(help="Scenario JSON (see docs/planning).")],
    policy: Annotated[str, typer.Option(help="optimal or fifo.")] = "optimal",
    time_limit: Annotated[float, typer.Option(help="Solver seconds.")] = 10.0,
) -> None:
    """Plan a scenario with the weights in force and store the plan in veinline."""
    cli = cli_context()
    try:
        data = json.loads(scenario.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        cli.fail(f"cannot read {scenario}: {exc}")
    record = cli.handle(commands.MakePlan(scenario=data, policy=policy, time_limit_s=time_limit))
    metrics = record.plan["metrics"]
    cli.out.print(
        f"plan {record.id}: {metrics['scheduled']} of {metrics['patients']} "
        f"scheduled, {metrics['missed_deadline']} miss their date",
        highlight=False,
    )


@planning_app.command("apply")
def apply(
    plan_id: Annotated[str, typer.Argument(help="A stored plan's id.")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "planned dates from the "
    "current plan",
) -> None:
    """Give the cases a plan names their planned dates (apheresis to infusion)."""
    cli = cli_context()
    record = cli.handle(commands.ApplyPlan(plan_id=plan_id, reason=reason))
    cli.out.print(
        f"plan {record.id} applied to {len(record.applied_cases)} case(s): "
        f"{', '.join(record.applied_cases)}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(planning_app, name="planning")
