"""The MSC forecast chart: days of stock left per depot and product, with the 90%
interval of the order rate (matplotlib, Agg; no pyplot state, as adapters/plan_charts.py)."""

from __future__ import annotations

import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_BAR = "#2f6db5"
_IDLE = "#c7d7ee"


def forecast_png(lines: list[dict[str, Any]], *, horizon_days: float = 365.0) -> bytes:
    """One horizontal bar per (depot, product): days until it runs short at the recent
    order rate, the whisker its 90% interval; depots with no recent orders show their
    lower bound only (at least this long), pale. Bars are cut at `horizon_days`."""
    rows = lines or [
        {
            "depot": "no stock",
            "product_code": "",
            "days_left": None,
            "days_left_90": [None, None],
            "stock": 0,
        }
    ]
    height = max(2.6, 0.45 * len(rows) + 1.4)
    figure = Figure(figsize=(9, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for i, line in enumerate(rows):
        days = line["days_left"]
        low, high = line["days_left_90"]
        if days is None:
            shown = min(low or 0.0, horizon_days)
            axes.barh(i, shown, color=_IDLE, height=0.6)
            axes.text(shown, i, "  no recent orders", va="center", fontsize=8)
            continue
        axes.barh(i, min(days, horizon_days), color=_BAR, height=0.6)
        left = min(days, horizon_days) - min(low or days, horizon_days)
        right = min(high or horizon_days, horizon_days) - min(days, horizon_days)
        axes.errorbar(
            min(days, horizon_days), i, xerr=[[left], [right]], fmt="none", ecolor="#333", capsize=4
        )
        axes.text(min(days, horizon_days), i, f"  {days:.0f} d", va="bottom", fontsize=8)
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels(
        [f"{r['depot']} · {r['product_code']} ({r['stock']})" for r in rows], fontsize=8
    )
    axes.invert_yaxis()
    axes.set_xlim(0, horizon_days)
    axes.set_xlabel("days until the depot runs short (90% interval of the order rate)")
    axes.set_title("MSC stock forecast at the recent order rate")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
