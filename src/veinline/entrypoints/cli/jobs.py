"""`veinline job`: long work (a capacity sweep, a plan) as jobs: run one here with a
progress bar, list them, show one, wait for one another process runs
(docs/architecture.md, "Jobs").

`job run` runs the work in this process (it is the command line's own worker); the same
inputs as a finished job answer with its cached result at once. Exit codes: 0 done,
1 the job failed or was interrupted (or `wait` timed out), 2 bad input or refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from veinline.domain.job import Job, JobKind, JobState
from veinline.entrypoints.cli.context import cli_context

if TYPE_CHECKING:
    from veinline.bootstrap import App

job_app = typer.Typer(
    help="Long work as jobs: capacity sweeps and plans, their progress and results.",
    no_args_is_help=True,
)

ChartOption = Annotated[
    Path | None, typer.Option("--chart", help="Write a sweep's chart (PNG) to this file.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the job as JSON.")]


@job_app.command("run")
def run(
    kind: Annotated[
        JobKind, typer.Argument(help="capacity-sweep, plan, ledger-verify or trial-report.")
    ],
    low: Annotated[int, typer.Option(help="Sweep: the fewest suites.")] = 22,
    high: Annotated[int, typer.Option(help="Sweep: the most suites.")] = 32,
    replications: Annotated[int, typer.Option(help="Sweep: replications per count.")] = 100,
    patients: Annotated[int, typer.Option(help="Plan: demo patients to generate.")] = 40,
    scenario: Annotated[
        Path | None, typer.Option(help="Plan: a scenario file (JSON) instead of demo patients.")
    ] = None,
    policy: Annotated[str, typer.Option(help="Plan: optimal or fifo.")] = "optimal",
    time_limit: Annotated[float, typer.Option(help="Plan: the solver's time limit (s).")] = 5.0,
    full: Annotated[
        bool, typer.Option("--full", help="Ledger verify: the whole chain, not only what is new.")
    ] = False,
    trial: Annotated[str, typer.Option(help="Trial report: the trial's id.")] = "",
    again: Annotated[
        bool, typer.Option("--again", help="Run again inputs whose last job failed.")
    ] = False,
    chart: ChartOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a job here, with a progress bar, and show its result.

    The same inputs as a job already done answer with its result at once; as a job
    another process runs, wait for it.

    Examples:

    \b
      veinline --as planner job run capacity-sweep --low 26 --high 30 --replications 50
      veinline --as planner job run plan --patients 200 --policy fifo
      veinline --as qa job run ledger-verify --full
    """
    from veinline.services.jobs import parse_inputs

    cli = cli_context()
    application = cli.app()
    raw: dict[str, Any]
    if kind is JobKind.SWEEP:
        raw = {"low": low, "high": high, "replications": replications}
    elif kind is JobKind.LEDGER_VERIFY:
        raw = {"full": full}
    elif kind is JobKind.TRIAL_REPORT:
        raw = {"trial_id": trial, "as_of": application.clock().date().isoformat()}
    else:
        raw = {"policy": policy, "time_limit_s": time_limit}
        if scenario is not None:
            try:
                raw["scenario"] = json.loads(scenario.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                cli.fail(f"cannot read the scenario {scenario}: {exc}")
        else:
            raw["patients"] = patients
    with cli.friendly_errors():
        actor = application.user(cli.acting_user)
        inputs = parse_inputs(kind, raw)
        with _bar(f"{kind.value}") as show:
            job = application.jobs.submit(
                kind, inputs, actor=actor, again=again, here=True, listen=show
            )
            if not job.state.finished:  # another process runs it: wait for it
                job = _follow(application, job, show, timeout=None)
    _report(application, job, chart=chart, as_json=as_json)


@job_app.command("list")
def list_jobs(
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the jobs as JSON.")] = False,
) -> None:
    """The newest jobs of the kinds you may read."""
    from rich.table import Table

    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors():
        actor = application.user(cli.acting_user)
        found = application.jobs.latest(actor=actor, limit=limit)
    if as_json:
        cli.print_json([job.to_dict() for job in found])
        return
    if not found:
        cli.out.print("No jobs you may read.")
        return
    table = Table(title="Jobs, newest first")
    table.add_column("Job", no_wrap=True)
    for column in ("Kind", "State", "Done", "Message", "By", "Submitted"):
        table.add_column(column)
    for job in found:
        table.add_row(
            job.id,
            job.kind.value,
            job.state.value,
            f"{job.progress:.0%}",
            job.message,
            job.submitted_by,
            f"{job.submitted_at:%Y-%m-%d %H:%M}",
        )
    cli.out.print(table)


@job_app.command("show")
def show(
    job_id: Annotated[str, typer.Argument(help="The job, e.g. J20260302-0a1b2c3d4e.")],
    chart: ChartOption = None,
    as_json: JsonOption = False,
) -> None:
    """A job: its state, progress and result."""
    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors():
        job = application.jobs.get(job_id, actor=application.user(cli.acting_user))
    _report(application, job, chart=chart, as_json=as_json, exit_on_failure=False)


@job_app.command("wait")
def wait(
    job_id: Annotated[str, typer.Argument(help="The job to wait for.")],
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Give up after this many seconds (exit 1).")
    ] = 3600.0,
    chart: ChartOption = None,
    as_json: JsonOption = False,
) -> None:
    """Wait for a job another process runs (the server), with a progress bar."""
    cli = cli_context()
    application = cli.app()
    with cli.friendly_errors():
        job = application.jobs.get(job_id, actor=application.user(cli.acting_user))
        with _bar(job.kind.value) as show:
            job = _follow(application, job, show, timeout=timeout)
    if not job.state.finished:
        cli.fail(f"job {job.id} is still {job.state.value} after {timeout:g} s", 1)
    _report(application, job, chart=chart, as_json=as_json)


def _follow(
    application: App, job: Job, show: Callable[[float, str], None], *, timeout: float | None
) -> Job:
    """Poll a job another process runs until it finishes (or the timeout passes)."""
    started = time.monotonic()
    while not job.state.finished:
        show(job.progress, job.message)
        if timeout is not None and time.monotonic() - started > timeout:
            return job
        time.sleep(0.5)
        found = application.jobs.store.get(job.id)
        if found is None:
            break
        job = found
    return job


@contextmanager
def _bar(label: str) -> Iterator[Callable[[float, str], None]]:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    progress = Progress(
        TextColumn(label),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("starting", total=1.0)

        def show(fraction: float, message: str) -> None:
            progress.update(task, completed=fraction, description=message)

        yield show


def _report(
    application: App,
    job: Job,
    *,
    chart: Path | None,
    as_json: bool,
    exit_on_failure: bool = True,
) -> None:
    cli = cli_context()
    if chart is not None:
        found = application.jobs.artifact(job)
        if found is None:
            cli.fail(f"job {job.id} has no chart")
        try:
            chart.write_bytes(found)
        except OSError as exc:
            cli.fail(f"cannot write {chart}: {exc}")
    if as_json:
        cli.print_json(job.to_dict())
    else:
        cli.out.print(
            f"job {job.id} ({job.kind.value}): {job.state.value}, {job.message}", highlight=False
        )
        if job.state is JobState.DONE and job.kind is JobKind.SWEEP and job.result:
            _print_sweep(job.result)
        if job.state is JobState.DONE and job.kind is JobKind.PLAN and job.result:
            cli.out.print(f"plan {job.result['plan_id']}: see `veinline planning apply`")
    if exit_on_failure and job.state in (JobState.FAILED, JobState.INTERRUPTED):
        raise typer.Exit(1)


def _print_sweep(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="Capacity sweep (network means)")
    points = result.get("points", [])
    shown = ("treated_per_year", "lost_per_year", "suite_utilisation", "wait_days_p50")
    names = [n for n in shown if points and n in points[0]["network"]]
    table.add_column("Suites")
    for name in names:
        table.add_column(name.replace("_", " "))
    for point in points:
        cells = [point["network"][name]["mean"] for name in names]
        table.add_row(str(point["suites"]), *("—" if c is None else f"{c:,.2f}" for c in cells))
    cli_context().out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(job_app, name="job")
