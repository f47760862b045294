"""`veinline simulate` and `veinline sweep`: capacity simulation from a scenario file.

The simulator (NumPy, SimPy, Matplotlib) is imported when a command runs, not when the
CLI starts, so other commands stay quick.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from veinline.domain.errors import DomainError, InvalidInput

if TYPE_CHECKING:
    from veinline.planning.simulation import Engine, SimulationConfig, Summary

PLOT_FORMATS = (".png", ".svg", ".pdf")


class EngineName(StrEnum):
    """Which engine computes the model."""

    fast = "fast"
    reference = "reference"


ScenarioOption = Annotated[
    Path,
    typer.Option(
        "--scenario",
        "-s",
        help="Scenario JSON with a `simulation` section (see docs/planning/simulation.md; "
        "example: docs/planning/rtp-simulation.json).",
        show_default=False,
    ),
]
ReplicationsOption = Annotated[
    int,
    typer.Option(
        "--replications",
        "-n",
        help="Independent runs of the whole horizon; KPIs are means over them with 95% "
        "confidence intervals. 100-200 is usually plenty.",
    ),
]
SeedOption = Annotated[
    int, typer.Option("--seed", help="Same seed, same results (whatever the worker count).")
]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write the results as JSON here.")
]
PlotOption = Annotated[
    Path | None,
    typer.Option("--plot", "-p", help="Draw a chart here (.png, .svg or .pdf)."),
]
EngineOption = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="fast: NumPy, vectorised across replications. reference: SimPy, one process "
        "per patient (slow; the model to read). Same model, same numbers for a seed.",
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", "-w", help="Local worker processes [default: all cores]."),
]
DaskOption = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        help="Run on a Dask cluster instead, e.g. tcp://10.0.0.5:8786 (its workers need "
        "veinline installed).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the `simulate` and `sweep` commands to `app`."""

    @app.command("simulate")
    def simulate_command(
        scenario: ScenarioOption,
        replications: ReplicationsOption = 100,
        seed: SeedOption = 0,
        out: OutOption = None,
        plot: PlotOption = None,
        engine: EngineOption = EngineName.fast,
        workers: WorkersOption = None,
        dask_address: DaskOption = None,
    ) -> None:
        """Simulate a facility (or network) under random referrals, process times, batch
        failures and waitlist dropout, and report its KPIs.

        KPIs per year of the measured window: patients referred, infused, lost while
        waiting; suite and QC use; wait (referral → manufacturing start) and
        vein-to-vein (apheresis → infusion) medians and 90th percentiles.

        Example:

        \b
          veinline simulate --scenario docs/planning/rtp-simulation.json \\
            --replications 200 --seed 2 --out rtp.json --plot rtp.png

        Bad input (a missing or wrong field, a bad option) stops with a message
        naming it and exit code 2.
        """
        with _user_errors():
            _check_outputs(out, plot)
            from veinline.planning.simulation import load_scenario, simulate

            config = load_scenario(scenario)
            started = time.perf_counter()
            with _progress(replications, "simulating") as advance:
                result = simulate(
                    config,
                    replications=replications,
                    seed=seed,
                    engine=_engine(engine),
                    workers=workers,
                    dask_address=dask_address,
                    on_progress=advance,
                )
            elapsed = time.perf_counter() - started
            console = Console()
            console.print(_summary_table(result.summary, _title(config)))
            console.print(
                f"{result.facility_years:,.0f} facility-years in {elapsed:.1f} s "
                f"({result.facility_years / elapsed:,.0f} per second, {engine.value} engine)",
                style="dim",
                highlight=False,
            )
            if out is not None:
                _write_json(out, result.as_dict())
            if plot is not None:
                from veinline.planning.simulation.plots import plot_run

                plot_run(result.summary, plot, title=_title(config))

    @app.command("sweep")
    def sweep_command(
        scenario: ScenarioOption,
        suites: Annotated[
            str,
            typer.Option(
                "--suites",
                help="Suite counts to try: a range FIRST:LAST (both included), "
                "FIRST:LAST:STEP, or a list 20,24,28.",
                show_default=False,
            ),
        ],
        facility: Annotated[
            str | None,
            typer.Option(
                "--facility", help="Facility whose suites vary (needed when there are several)."
            ),
        ] = None,
        replications: ReplicationsOption = 100,
        seed: SeedOption = 0,
        out: OutOption = None,
        plot: PlotOption = None,
        engine: EngineOption = EngineName.fast,
        workers: WorkersOption = None,
        dask_address: DaskOption = None,
    ) -> None:
        """Simulate the scenario at each suite count and show how patients infused,
        patients lost and waits change: how many suites does the demand need?

        Every suite count sees the same referrals and draws (same seed), so differences
        between counts come from capacity, not from chance.

        Example:

        \b
          veinline sweep --scenario docs/planning/rtp-simulation.json --suites 22:34 \\
            --replications 100 --seed 2 --out sweep.json --plot sweep.png
        """
        with _user_errors():
            counts = parse_suites(suites)
            _check_outputs(out, plot)
            from veinline.planning.simulation import load_scenario, sweep_suites

            config = load_scenario(scenario)
            with _progress(replications * len(counts), "sweeping") as advance:
                points = sweep_suites(
                    config,
                    counts,
                    facility=facility,
                    replications=replications,
                    seed=seed,
                    engine=_engine(engine),
                    workers=workers,
                    dask_address=dask_address,
                    on_progress=advance,
                )
            varied = facility or config.facilities[0].id
            title = f"{_title(config, varied=varied)}: suites at {varied} vary"
            Console().print(_sweep_table(points, title))
            if out is not None:
                from veinline.planning.simulation.runner import describe

                _write_json(
                    out,
                    {
                        "scenario": describe(config),
                        "facility": varied,
                        "engine": engine.value,
                        "seed": seed,
                        "replications": replications,
                        "points": [
                            {"suites": p.suites, "kpis": p.summary.as_dict()} for p in points
                        ],
                    },
                )
            if plot is not None:
                from veinline.planning.simulation.plots import plot_sweep

                plot_sweep(points, plot, title=title)


def _engine(name: EngineName) -> Engine:
    return "fast" if name is EngineName.fast else "reference"


def parse_suites(text: str) -> list[int]:
    """`20:30` (inclusive), `20:30:2` or `20,24,28` → the suite counts."""
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            first, last = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 1
            if step < 1 or last < first:
                raise ValueError
            counts = list(range(first, last + 1, step))
        else:
            counts = [int(p) for p in text.split(",")]
    except ValueError:
        raise InvalidInput(
            f"--suites {text!r}: give FIRST:LAST (e.g. 20:30), FIRST:LAST:STEP or a list "
            "such as 20,24,28"
        ) from None
    if any(n < 1 for n in counts):
        raise InvalidInput(f"--suites {text!r}: suite counts must be at least 1")
    if len(counts) > 200:
        raise InvalidInput(f"--suites {text!r}: at most 200 suite counts at a time")
    return counts


@contextmanager
def _user_errors() -> Iterator[None]:
    """A user's mistake becomes a message on stderr and exit code 2."""
    try:
        yield
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)  # unwrapped: scripts read it
        raise typer.Exit(2) from None


def _check_outputs(out: Path | None, plot: Path | None) -> None:
    """Refuse unusable output paths before spending minutes simulating."""
    for path, what in ((out, "--out"), (plot, "--plot")):
        if path is not None and not path.parent.is_dir():
            raise InvalidInput(f"{what} {path}: the directory {path.parent} does not exist")
    if plot is not None and plot.suffix.lower() not in PLOT_FORMATS:
        raise InvalidInput(f"--plot {plot}: the file name must end in {', '.join(PLOT_FORMATS)}")


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("replications"),
        TimeRemainingColumn(),
    )
    # No refresh thread: worker processes are forked, and forking beside a running
    # thread is unsafe (see runner._process_context); redraw when a chunk finishes.
    progress = Progress(*columns, console=Console(stderr=True), transient=True, auto_refresh=False)
    with progress:
        task = progress.add_task(label, total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)
            progress.refresh()

        progress.refresh()
        yield advance


def _write_json(path: Path, data: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None


def _title(config: SimulationConfig, *, varied: str | None = None) -> str:
    facilities = ", ".join(
        f.id if f.id == varied else f"{f.id} ({f.suites} suites)" for f in config.facilities
    )
    per_year = sum(f.patients_per_day for f in config.facilities) * 365
    return f"{facilities}; {per_year:,.0f} referrals a year; {config.years:g} year(s)"


def _fmt(mean: float, low: float, high: float, pattern: str) -> str:
    if mean != mean:  # NaN: no patient reached this point in any replication
        return "n/a"
    if low != low:
        return pattern.format(mean)
    return f"{pattern.format(mean)} ({pattern.format(low)}–{pattern.format(high)})"


def _summary_table(summary: Summary, title: str) -> Table:
    from veinline.planning.simulation.kpi import KPI_LABELS

    table = Table(title=title, title_justify="left")
    table.add_column("KPI")
    table.add_column("mean (95% CI)", justify="right")
    for key, label in KPI_LABELS.items():
        e = summary.network[key]
        scale = 100.0 if key.endswith("utilisation") else 1.0
        pattern = "{:.0f}%" if scale == 100 else ("{:.1f}" if "days" in key else "{:.0f}")
        table.add_row(label, _fmt(e.mean * scale, e.low * scale, e.high * scale, pattern))
    table.caption = f"{summary.replications} replications"
    return table


def _sweep_table(points: Any, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name in ("suites", "infused/yr", "lost/yr", "wait p50 d", "wait p90 d", "suite use"):
        table.add_column(name, justify="right")
    for p in points:
        k = p.summary.network
        table.add_row(
            str(p.suites),
            f"{k['treated_per_year'].mean:.0f}",
            f"{k['lost_per_year'].mean:.1f}",
            f"{k['wait_days_p50'].mean:.1f}",
            f"{k['wait_days_p90'].mean:.1f}",
            f"{k['suite_utilisation'].mean * 100:.0f}%",
        )
    return table
