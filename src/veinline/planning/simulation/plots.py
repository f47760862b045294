"""Charts of simulation results, drawn with Matplotlib's Agg renderer (no display needed).

Figures are built with `matplotlib.figure.Figure`, never through `pyplot`, so drawing
one leaves no global state behind (no open-figure registry, no backend switch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from veinline.planning.simulation.kpi import Estimate, Summary
from veinline.planning.simulation.runner import SweepPoint

FORMATS = (".png", ".svg", ".pdf")

_BLUE, _GREEN, _RED, _GREY, _ORANGE = "#1f77b4", "#2ca02c", "#d62728", "#7f7f7f", "#ff7f0e"


def plot_run(summary: Summary, path: Path, *, title: str) -> None:
    """Three panels: patients per year, utilisation, and days, each with its 95% CI."""
    k = summary.network
    figure = Figure(figsize=(13, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontsize=11)
    patients, use, days = figure.subplots(1, 3)

    _bars(
        patients,
        [
            ("referred", k["arrived_per_year"], _GREY),
            ("infused", k["treated_per_year"], _GREEN),
            ("lost waiting", k["lost_per_year"], _RED),
            ("batches failed", k["failed_batches_per_year"], _ORANGE),
        ],
        "{:.0f}",
    )
    patients.set_title("Patients per year")

    utilisation = [("suites", k["suite_utilisation"], _BLUE)]
    if k["qc_utilisation"].n:
        utilisation.append(("QC intake", k["qc_utilisation"], _BLUE))
    _bars(use, [(n, _scaled(e, 100), c) for n, e, c in utilisation], "{:.0f}%")
    use.set_ylim(0, 105)
    use.set_title("Utilisation (% of capacity)")

    _bars(
        days,
        [
            ("wait\nmedian", k["wait_days_p50"], _BLUE),
            ("wait\n90th pct", k["wait_days_p90"], _BLUE),
            ("vein-to-vein\nmedian", k["vein_to_vein_days_p50"], _GREEN),
            ("vein-to-vein\n90th pct", k["vein_to_vein_days_p90"], _GREEN),
        ],
        "{:.1f}",
    )
    days.set_title("Days")
    figure.supxlabel(
        f"{summary.replications} replications; bars are means, whiskers 95% confidence "
        "intervals. Wait: referral → manufacturing start; vein-to-vein: apheresis → infusion.",
        fontsize=8,
        color=_GREY,
    )
    figure.savefig(path, dpi=110)


def plot_sweep(points: Sequence[SweepPoint], path: Path, *, title: str) -> None:
    """Treated, lost, wait and utilisation against the number of suites."""
    suites = np.array([p.suites for p in points])
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontsize=11)
    (treated, lost), (wait, use) = figure.subplots(2, 2, sharex=True)

    def series(key: str, scale: float = 1.0) -> list[Estimate]:
        return [_scaled(p.summary.network[key], scale) for p in points]

    _line(treated, suites, series("arrived_per_year"), "referred", _GREY, dashed=True)
    _line(treated, suites, series("treated_per_year"), "infused", _GREEN)
    treated.set_title("Patients infused per year")
    treated.legend(loc="lower right", fontsize=8)

    _line(lost, suites, series("lost_per_year"), "lost while waiting", _RED)
    lost.set_title("Patients lost while waiting, per year")
    lost.set_ylim(bottom=0)

    _line(wait, suites, series("wait_days_p50"), "median", _BLUE)
    _line(wait, suites, series("wait_days_p90"), "90th percentile", _BLUE, dashed=True)
    wait.set_title("Wait, referral → manufacturing start (days)")
    wait.legend(loc="upper right", fontsize=8)
    wait.set_ylim(bottom=0)

    _line(use, suites, series("suite_utilisation", 100), "suites", _BLUE)
    if all(p.summary.network["qc_utilisation"].n for p in points):
        _line(use, suites, series("qc_utilisation", 100), "QC intake", _ORANGE, dashed=True)
    use.set_title("Utilisation (% of capacity)")
    use.set_ylim(0, 105)
    use.legend(loc="lower left", fontsize=8)

    for axes in (wait, use):
        axes.set_xlabel("manufacturing suites")
    for axes in (treated, lost, wait, use):
        axes.grid(alpha=0.3)
        axes.set_xticks(suites if len(suites) <= 16 else suites[:: math.ceil(len(suites) / 16)])
    replications = points[0].summary.replications if points else 0
    figure.supxlabel(
        f"{replications} replications per point, the same random numbers at every suite "
        "count; bands are 95% confidence intervals",
        fontsize=8,
        color=_GREY,
    )
    figure.savefig(path, dpi=110)


def _scaled(e: Estimate, factor: float) -> Estimate:
    return Estimate(e.mean * factor, e.low * factor, e.high * factor, e.n)


def _half_widths(estimates: Sequence[Estimate]) -> np.ndarray:
    """Distances from mean to the interval ends, 0 where there is no interval."""
    low = [e.mean - e.low for e in estimates]
    high = [e.high - e.mean for e in estimates]
    return np.nan_to_num(np.array([low, high], dtype=np.float64), nan=0.0)


def _bars(axes: Axes, bars: Sequence[tuple[str, Estimate, str]], label: str) -> None:
    names = [name for name, _, _ in bars]
    means = np.nan_to_num([e.mean for _, e, _ in bars], nan=0.0)
    x = np.arange(len(bars))
    axes.bar(x, means, color=[c for _, _, c in bars], alpha=0.85)
    axes.errorbar(
        x, means, yerr=_half_widths([e for _, e, _ in bars]), fmt="none", ecolor="black", capsize=4
    )
    for xi, (_, e, _) in zip(x, bars, strict=True):
        text = "n/a" if math.isnan(e.mean) else label.format(e.mean)
        axes.annotate(
            text,
            (xi, 0 if math.isnan(e.mean) else e.mean),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=9,
        )
    axes.set_xticks(x, names, fontsize=9)
    axes.margins(y=0.12)
    axes.grid(axis="y", alpha=0.3)


def _line(
    axes: Axes,
    x: np.ndarray,
    estimates: Sequence[Estimate],
    label: str,
    colour: str,
    *,
    dashed: bool = False,
) -> None:
    mean = np.array([e.mean for e in estimates], dtype=np.float64)
    low = np.array([e.low for e in estimates], dtype=np.float64)
    high = np.array([e.high for e in estimates], dtype=np.float64)
    axes.plot(x, mean, "--" if dashed else "-", marker="o", ms=4, color=colour, label=label)
    known = ~(np.isnan(low) | np.isnan(high))
    if known.any():
        axes.fill_between(x[known], low[known], high[known], color=colour, alpha=0.2, lw=0)
