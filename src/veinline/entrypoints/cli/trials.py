"""CLI for trials: set up a protocol, enrol cases in cohorts, import outcomes, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from veinline.entrypoints.cli.context import cli_context

# One `veinline report` group for every report: `report trial` joins the group of
# cli/reports.py (`report bookings`); two groups of one name would hide one another.
from veinline.entrypoints.cli.reports import report_app
from veinline.services import commands

trial_app = typer.Typer(help="Trials: protocols, cohorts, outcomes.", no_args_is_help=True)


def _json_file(path: Path) -> Any:
    cli = cli_context()
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        cli.fail(f"cannot read {path}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        cli.fail(f"{path} is not JSON: {exc}")


@trial_app.command("create")
def trial_create(
    file: Annotated[
        Path,
        typer.Option(
            help="JSON: {id, title, product_code, criteria "
            "(recist_1_1|imwg), cohorts: [{id, dose_label, "
            "dose_cells_per_kg}]}."
        ),
    ],
) -> None:
    """Set up a trial protocol with its dose cohorts."""
    cli = cli_context()
    data = _json_file(file)
    if not isinstance(data, dict):
        cli.fail("the trial file must hold a JSON object")
    record = cli.handle(
        commands.CreateTrial(
            id=str(data.get("id", "")),
            title=str(data.get("title", "")),
            product_code=str(data.get("product_code", "")),
            criteria=str(data.get("criteria", "recist_1_1")),
            cohorts=list(data.get("cohorts", [])),
        )
    )
    cli.out.print(f"trial {record.id}: {len(record.cohorts)} cohort(s)", highlight=False)


@trial_app.command("enrol")
def trial_enrol(
    trial_id: Annotated[str, typer.Argument()],
    case_id: Annotated[str, typer.Argument()],
    cohort: Annotated[str, typer.Option(help="Cohort id.")],
) -> None:
    """Enrol a case in a cohort; its outcome is read from its follow-up."""
    cli = cli_context()
    patient = cli.handle(
        commands.EnrolInCohort(trial_id=trial_id, case_id=case_id, cohort_id=cohort)
    )
    cli.out.print(f"{patient.subject} in {trial_id}, cohort {patient.cohort_id}", highlight=False)


@trial_app.command("import")
def trial_import(
    trial_id: Annotated[str, typer.Argument()],
    file: Annotated[
        Path,
        typer.Option(
            help="JSON list of outcomes: {subject, cohort_id, "
            "best_response, infused_on, last_contact_on, "
            "died_on, progressed_on, ...}."
        ),
    ],
) -> None:
    """Import a sponsor's outcome records (all or nothing)."""
    cli = cli_context()
    data = _json_file(file)
    if not isinstance(data, list):
        cli.fail("the outcomes file must hold a JSON list")
    count = cli.handle(commands.ImportTrialOutcomes(trial_id=trial_id, outcomes=data))
    cli.out.print(f"{count} outcome(s) imported into {trial_id}", highlight=False)


@report_app.command("trial")
def report_trial(
    trial_id: Annotated[str, typer.Argument()],
    out: Annotated[Path, typer.Option(help="Folder for report.pdf, report.html, CSV, PNG.")],
) -> None:
    """ORR, DCR and CR rate with exact 95% intervals, Kaplan–Meier OS/PFS, toxicity tables."""
    from veinline.adapters.trial_report import build_report, write_report
    from veinline.services.trials import trial_data

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors(), application.uow() as uow:
        data = trial_data(uow, trial_id, as_of=application.clock().date())
    # In the operator's own process (the web and the API make it as a job): a spinner
    # while the fits, the curves and the PDF are made.
    with cli.friendly_errors(), cli.err.status(f"making the report of {trial_id}"):
        report = build_report(data.trial, data.outcomes, as_of=data.data_cutoff)
        out.mkdir(parents=True, exist_ok=True)
        written = write_report(report, out)
    for path in written:
        cli.out.print(f"wrote {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(trial_app, name="trial")
    app.add_typer(report_app, name="report")
