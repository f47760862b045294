"""Charts of plans: the Gantt of suites × days (matplotlib, Agg; no pyplot state)."""

from __future__ import annotations

import io
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from veinline.planning.plan_io import Plan

# Colour by how much the bar's patient was prioritised (light: low score, dark: high).
_COLOURS = ["#c7d7ee", "#8fb3dd", "#5a8fcb", "#2f6db5", "#174f8f"]
_FIXED = "#7a7a7a"
_LATE = "#c0392b"


def gantt_png(
    plan: Plan, *, deadlines: dict[str, date] | None = None, max_suites: int = 60
) -> bytes:
    """Suites on the vertical axis, days across; one bar per batch in its suite.

    Bars are shaded by the patient's triage score; a red edge marks a patient planned
    after their latest infusion date; grey bars are started work the plan kept.
    """
    deadlines = deadlines or {}
    scores = {p.patient: p.score for p in plan.priorities}
    top = max(scores.values(), default=1.0) or 1.0
    rows = sorted({(a.facility, a.suite) for a in plan.assignments})[:max_suites]
    index = {row: i for i, row in enumerate(rows)}
    height = max(3.4, 0.28 * len(rows) + 2.0)
    figure = Figure(figsize=(12, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    start = plan.start_date
    for a in plan.assignments:
        row = index.get((a.facility, a.suite))
        if row is None:
            continue
        left = (a.manufacturing_start - start).days
        width = max(1, (a.manufacturing_end - a.manufacturing_start).days)
        shade = _COLOURS[min(4, int(4 * scores.get(a.patient, 0.0) / top))]
        late = a.patient in deadlines and a.infusion_date > deadlines[a.patient]
        axes.broken_barh(
            [(left, width)],
            (row - 0.4, 0.8),
            facecolors=_FIXED if a.fixed else shade,
            edgecolors=_LATE if late else "white",
            linewidth=1.5 if late else 0.5,
        )
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([f"{f} · {s}" for f, s in rows], fontsize=7)
    axes.invert_yaxis()
    axes.set_xlim(0, plan.horizon_days)
    axes.set_xlabel(f"days from {start.isoformat()}")
    axes.set_title(
        f"{plan.policy} plan: {plan.metrics.scheduled} of {plan.metrics.patients} patients "
        f"scheduled, {plan.metrics.missed_deadline} miss their date",
        fontsize=10,
    )
    axes.grid(axis="x", linestyle=":", linewidth=0.5)
    axes.legend(
        handles=[
            Patch(facecolor=_COLOURS[0], label="lower priority"),
            Patch(facecolor=_COLOURS[4], label="higher priority"),
            Patch(facecolor=_FIXED, label="started (kept)"),
            Patch(facecolor="white", edgecolor=_LATE, label="after latest date"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
        fontsize=7,
        ncols=4,
        frameon=False,
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
