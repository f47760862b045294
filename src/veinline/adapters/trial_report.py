"""Trial results the way a sponsor reports them, gathered and drawn.

`build_report` gathers the statistics of `veinline.domain.trial_statistics` (exact
intervals, Kaplan–Meier survival, vein-to-vein time, toxicity) into a `TrialReport`;
`render_html`, `render_pdf` and `write_report` present it. Figures are drawn on
`matplotlib.figure.Figure` with the Agg canvas, never through pyplot, so nothing global
changes.

The PDF is set in Helvetica, which covers Windows-1252; a title or label beyond it
(Chinese, say) is refused with a message rather than printed with blanks.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from veinline.adapters.pdf import is_winansi, markup
from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject
from veinline.domain.trial import (
    MAX_TOXICITY_GRADE,
    OVERALL,
    PatientOutcome,
    TimeToEvent,
    Trial,
    TrialData,
    check_outcomes,
    overall_survival,
    progression_free_survival,
    responses_by_cohort,
)
from veinline.domain.trial_statistics import (
    CONFIDENCE,
    DAYS_PER_MONTH,
    DistributionSummary,
    ResponseRow,
    SurvivalCurve,
    ToxicityTable,
    fit_survival,
    months_text,
    rate,
    summarise,
    toxicity_table,
)
from veinline.services.jobs import Outcome, Progress

__all__ = [
    "PATIENT_COLUMNS",
    "PatientRow",
    "TrialReport",
    "build_report",
    "render_html",
    "render_pdf",
    "summary_rows",
    "write_report",
]

_OVERALL_LABEL: Final = "All patients"
_COLOURS: Final = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


# --- the report ---------------------------------------------------------------------------


PATIENT_COLUMNS: Final = (
    "case_id",
    "cohort_id",
    "evaluable",
    "best_response",
    "infused_on",
    "last_contact_on",
    "died_on",
    "progressed_on",
    "os_days",
    "os_event",
    "pfs_days",
    "pfs_event",
    "vein_to_vein_days",
    "max_crs_grade",
    "max_icans_grade",
)


@dataclass(frozen=True)
class PatientRow:
    """One patient of the listing: the outcome and its survival times at the cut-off."""

    outcome: PatientOutcome
    os: TimeToEvent
    pfs: TimeToEvent

    def to_dict(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "case_id": o.case_id,
            "cohort_id": o.cohort_id,
            "evaluable": o.evaluable,
            "best_response": o.best_response.value,
            "infused_on": o.infused_on.isoformat(),
            "last_contact_on": o.last_contact_on.isoformat(),
            "died_on": _iso(o.died_on),
            "progressed_on": _iso(o.progressed_on),
            "os_days": self.os.days,
            "os_event": self.os.event,
            "pfs_days": self.pfs.days,
            "pfs_event": self.pfs.event,
            "vein_to_vein_days": o.vein_to_vein_days,
            "max_crs_grade": o.max_crs_grade,
            "max_icans_grade": o.max_icans_grade,
        }


@dataclass(frozen=True)
class TrialReport:
    """Everything a trial report shows, at one data cut-off."""

    trial: Trial
    as_of: date
    responses: tuple[ResponseRow, ...]
    os: tuple[SurvivalCurve, ...]
    pfs: tuple[SurvivalCurve, ...]
    vein_to_vein: tuple[DistributionSummary, ...]
    crs: ToxicityTable
    icans: ToxicityTable
    patients: tuple[PatientRow, ...]
    km_os_png: bytes = field(repr=False)
    km_pfs_png: bytes = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the curve images are left out (they are in km_os.png, km_pfs.png)."""
        trial = self.trial
        return {
            "trial": {
                "id": trial.id,
                "title": trial.title,
                "product_code": trial.product_code,
                "criteria": trial.criteria.value,
                "cohorts": [
                    {
                        "id": c.id,
                        "dose_label": c.dose_label,
                        "dose_cells_per_kg": c.dose_cells_per_kg,
                    }
                    for c in trial.cohorts
                ],
            },
            "as_of": self.as_of.isoformat(),
            "confidence": CONFIDENCE,
            "responses": [r.to_dict() for r in self.responses],
            "overall_survival": [c.to_dict() for c in self.os],
            "progression_free_survival": [c.to_dict() for c in self.pfs],
            "vein_to_vein_days": [s.to_dict() for s in self.vein_to_vein],
            "crs": self.crs.to_dict(),
            "icans": self.icans.to_dict(),
            "patients": [p.to_dict() for p in self.patients],
        }


def build_report(trial: Trial, outcomes: Sequence[PatientOutcome], *, as_of: date) -> TrialReport:
    """Rates, survival, vein-to-vein time, toxicity and a listing of every patient at `as_of`."""
    check_outcomes(trial, outcomes)
    groups: list[tuple[str, str, Sequence[PatientOutcome]]] = [
        (c.id, c.dose_label, [o for o in outcomes if o.cohort_id == c.id]) for c in trial.cohorts
    ]
    groups.append((OVERALL, _OVERALL_LABEL, list(outcomes)))
    doses: dict[str, float | None] = {c.id: c.dose_cells_per_kg for c in trial.cohorts}
    patients = tuple(
        PatientRow(o, overall_survival(o, as_of=as_of), progression_free_survival(o, as_of=as_of))
        for o in outcomes
    )
    by_case = {p.outcome.case_id: p for p in patients}
    responses = tuple(
        ResponseRow(
            group=counts.group,
            label=label,
            dose_cells_per_kg=doses.get(counts.group),
            counts=counts,
            orr=rate(counts.objective, counts.evaluable),
            dcr=rate(counts.disease_control, counts.evaluable),
            cr=rate(counts.complete, counts.evaluable),
        )
        for counts, (_, label, _) in zip(responses_by_cohort(trial, outcomes), groups, strict=True)
    )
    os_curves = tuple(
        fit_survival("OS", g, lbl, [by_case[o.case_id].os for o in members])
        for g, lbl, members in groups
    )
    pfs_curves = tuple(
        fit_survival("PFS", g, lbl, [by_case[o.case_id].pfs for o in members])
        for g, lbl, members in groups
    )
    v2v = tuple(
        summarise(g, lbl, [o.vein_to_vein_days for o in members if o.vein_to_vein_days is not None])
        for g, lbl, members in groups
    )
    return TrialReport(
        trial=trial,
        as_of=as_of,
        responses=responses,
        os=os_curves,
        pfs=pfs_curves,
        vein_to_vein=v2v,
        crs=toxicity_table("CRS", groups, lambda o: o.max_crs_grade),
        icans=toxicity_table("ICANS", groups, lambda o: o.max_icans_grade),
        patients=patients,
        km_os_png=km_png(os_curves, title="Overall survival", as_of=as_of),
        km_pfs_png=km_png(pfs_curves, title="Progression-free survival", as_of=as_of),
    )


# --- Kaplan–Meier figure ------------------------------------------------------------------


def km_png(curves: Sequence[SurvivalCurve], *, title: str, as_of: date) -> bytes:
    """Kaplan–Meier curves of each cohort (solid) and of all patients (dashed, with its 95%
    band), censoring ticks, and the number at risk under the plot."""
    fig = Figure(figsize=(8.0, 5.4), dpi=150)
    FigureCanvasAgg(fig)
    drawn = [c for c in curves if c.n > 0]
    grid = fig.add_gridspec(2, 1, height_ratios=(4.0, 0.32 * len(drawn) + 0.35), hspace=0.32)
    ax: Axes = fig.add_subplot(grid[0])
    risk: Axes = fig.add_subplot(grid[1], sharex=ax)
    longest = max((max(c.times) for c in drawn), default=0.0) / DAYS_PER_MONTH
    step = 3 if longest <= 36 else 6
    ticks = list(range(0, math.ceil(longest / step) * step + 1, step)) or [0]
    palette = [_colour(c, i) for i, c in enumerate(drawn)]
    for curve, colour in zip(drawn, palette, strict=True):
        months = np.array(curve.times) / DAYS_PER_MONTH
        overall = curve.group == OVERALL
        median = "NR" if curve.median_days is None else f"{months_text(curve.median_days)} mo"
        ax.step(
            months,
            curve.survival,
            where="post",
            color=colour,
            linestyle="--" if overall else "-",
            linewidth=1.5 if overall else 2.0,
            label=f"{curve.label}: n={curve.n}, median {median}",
            zorder=3,
        )
        if overall:
            ax.fill_between(
                months,
                curve.lower,
                curve.upper,
                step="post",
                color=colour,
                alpha=0.09,
                linewidth=0,
                label="All patients: 95% CI",
            )
        if curve.censored:
            cx, cy = zip(*curve.censored, strict=True)
            ax.plot(
                np.array(cx) / DAYS_PER_MONTH,
                cy,
                linestyle="none",
                marker="|",
                markersize=9,
                markeredgewidth=1.5,
                color=colour,
                zorder=4,
            )
    ax.set_title(f"{title}, data cut-off {as_of.isoformat()}", fontsize=11)
    ax.set_ylabel("Probability (Kaplan–Meier)")
    ax.set_xlabel("Months since infusion  (| censored)", fontsize=9)
    ax.set_ylim(-0.02, 1.04)
    ax.set_xlim(0, ticks[-1] + step * 0.05)
    ax.set_xticks(ticks)
    ax.axhline(0.5, color="0.7", linewidth=0.8, linestyle=":")
    ax.grid(True, color="0.92")
    ax.spines[["top", "right"]].set_visible(False)
    if drawn:
        ax.legend(loc="upper right", fontsize=8, frameon=True, framealpha=0.9, edgecolor="0.85")
    else:
        ax.text(0.5, 0.5, "no patients", transform=ax.transAxes, ha="center", va="center")
    risk.axis("off")
    risk.set_ylim(len(drawn) - 0.5, -1.2)
    risk.text(
        -0.02,
        -1,
        "Number at risk",
        transform=risk.get_yaxis_transform(),
        ha="right",
        va="center",
        fontsize=8,
        fontweight="bold",
    )
    for row, (curve, colour) in enumerate(zip(drawn, palette, strict=True)):
        risk.text(
            -0.02,
            row,
            curve.label,
            transform=risk.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=8,
            color=colour,
        )
        for tick in ticks:
            risk.text(
                tick,
                row,
                str(curve.at_risk(tick * DAYS_PER_MONTH)),
                ha="center",
                va="center",
                fontsize=8,
                color=colour,
            )
    fig.subplots_adjust(left=0.19, right=0.97, top=0.93, bottom=0.03)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _colour(curve: SurvivalCurve, index: int) -> str:
    return "0.3" if curve.group == OVERALL else _COLOURS[index % len(_COLOURS)]


# --- tables shared by HTML and PDF ---------------------------------------------------------


def _dose(cells_per_kg: float | None) -> tuple[str, str]:
    """(mantissa, exponent) of a dose: 3e6 → ('3', '6'); the renderers set the superscript."""
    if cells_per_kg is None:
        return ("", "")
    exponent = math.floor(math.log10(cells_per_kg))
    mantissa = round(cells_per_kg / 10**exponent, 2)
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return (f"{mantissa:g}", str(exponent))


def _response_table(report: TrialReport) -> list[list[str]]:
    responses = report.trial.criteria.responses
    head = ["Group", "Treated", "Evaluable", *[r.value for r in responses]]
    rows = [head]
    for row in report.responses:
        rows.append(
            [
                row.label,
                str(row.counts.treated),
                str(row.counts.evaluable),
                *[str(row.counts.by_response.get(r, 0)) for r in responses],
            ]
        )
    return rows


def _rate_table(report: TrialReport) -> list[list[str]]:
    rows = [["Group", "ORR (95% CI)", "DCR (95% CI)", "CR rate (95% CI)"]]
    for row in report.responses:
        rows.append([row.label, row.orr.short_text(), row.dcr.short_text(), row.cr.short_text()])
    return rows


def _survival_table(report: TrialReport) -> list[list[str]]:
    rows = [
        ["Group", "n", "Deaths", "Median OS, mo (95% CI)", "PFS events", "Median PFS, mo (95% CI)"]
    ]
    for os_, pfs in zip(report.os, report.pfs, strict=True):
        rows.append(
            [
                os_.label,
                str(os_.n),
                str(os_.events),
                os_.median_short(),
                str(pfs.events),
                pfs.median_short(),
            ]
        )
    return rows


def _v2v_table(report: TrialReport) -> list[list[str]]:
    rows = [["Group", "n", "Median (days)", "IQR (days)", "Range (days)"]]
    for s in report.vein_to_vein:
        rows.append([s.label, str(s.n), *s.text()])
    return rows


def _toxicity_table(table: ToxicityTable) -> list[list[str]]:
    grades = [f"Grade {g}" for g in range(1, MAX_TOXICITY_GRADE + 1)]
    rows = [["Group", "n", "None", *grades, "Any", "Grade 3–5"]]
    for i, (label, counts) in enumerate(zip(table.labels, table.counts, strict=True)):
        rows.append(
            [
                label,
                str(sum(counts)),
                *[str(c) for c in counts],
                str(table.any_grade(i)),
                str(table.grade_3_or_more(i)),
            ]
        )
    return rows


def _patient_table(report: TrialReport) -> list[list[str]]:
    labels = {c.id: c.dose_label for c in report.trial.cohorts}
    rows = [
        [
            "Case",
            "Cohort",
            "Eval.",
            "Best",
            "Infused",
            "OS (d)",
            "PFS (d)",
            "V2V (d)",
            "CRS",
            "ICANS",
        ]
    ]
    for p in report.patients:
        o = p.outcome
        rows.append(
            [
                o.case_id,
                labels[o.cohort_id],
                "yes" if o.evaluable else "no",
                o.best_response.value,
                o.infused_on.isoformat(),
                _time_text(p.os),
                _time_text(p.pfs),
                "" if o.vein_to_vein_days is None else str(o.vein_to_vein_days),
                str(o.max_crs_grade),
                str(o.max_icans_grade),
            ]
        )
    return rows


def _time_text(t: TimeToEvent) -> str:
    """Days, with '+' for a censored time (the usual listing convention)."""
    return f"{t.days}" if t.event else f"{t.days}+"


_METHODS = (
    "ORR = {objective}; DCR = {control}; CR rate = {complete}; all over evaluable patients, "
    "with Clopper–Pearson exact 95% intervals. Survival is counted from the infusion and "
    "estimated by Kaplan–Meier; PFS events are progression or death; patients without the "
    "event are censored at their last contact or the data cut-off. Medians take the first "
    "time the curve falls to 0.5; their 95% intervals come from the log-log pointwise bands. "
    "NR: not reached. In the listing, + marks a censored time. Toxicity counts every treated "
    "patient by the worst ASTCT grade."
)


def _methods(report: TrialReport) -> str:
    imwg = report.trial.criteria.value == "imwg"
    return _METHODS.format(
        objective="sCR + CR + VGPR + PR" if imwg else "CR + PR",
        control="ORR + MR + SD" if imwg else "CR + PR + SD",
        complete="sCR + CR" if imwg else "CR",
    )


def _dose_lines(report: TrialReport, sup: Callable[[str], str]) -> list[str]:
    lines = []
    for cohort in report.trial.cohorts:
        mantissa, exponent = _dose(cohort.dose_cells_per_kg)
        lines.append(f"{cohort.dose_label}: {mantissa} × 10{sup(exponent)} cells/kg")
    return lines


# --- HTML ---------------------------------------------------------------------------------


def render_html(report: TrialReport) -> str:
    """An HTML fragment: the tables, and the curves embedded as data: URIs (no external assets)."""
    e = html.escape
    t = report.trial
    parts = [
        '<section class="trial-report">',
        f"<h2>{e(t.id)}: {e(t.title)}</h2>",
        f"<p>Product {e(t.product_code)} · {e(t.criteria.label)} · data cut-off "
        f"{report.as_of.isoformat()}</p>",
        "<p>" + "<br>".join(_dose_lines(report, lambda x: f"<sup>{e(x)}</sup>")) + "</p>",
        "<h3>Best overall response</h3>",
        _html_table(_response_table(report)),
        "<h3>Response rates (95% CI)</h3>",
        _html_table(_rate_table(report)),
        "<h3>Survival (months)</h3>",
        _html_table(_survival_table(report)),
        _html_figure(report.km_os_png, "Kaplan–Meier overall survival by cohort"),
        _html_figure(report.km_pfs_png, "Kaplan–Meier progression-free survival by cohort"),
        "<h3>Vein-to-vein time</h3>",
        _html_table(_v2v_table(report)),
        "<h3>Cytokine release syndrome (worst ASTCT grade)</h3>",
        _html_table(_toxicity_table(report.crs)),
        "<h3>ICANS (worst ASTCT grade)</h3>",
        _html_table(_toxicity_table(report.icans)),
        "<h3>Patients</h3>",
        _html_table(_patient_table(report)),
        f'<p class="methods">{e(_methods(report))}</p>',
        "</section>",
    ]
    return "\n".join(parts)


def _html_table(rows: list[list[str]]) -> str:
    e = html.escape
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in rows[0])
    body = "".join(
        "<tr>"
        + f'<th scope="row">{e(r[0])}</th>'
        + "".join(f"<td>{e(c)}</td>" for c in r[1:])
        + "</tr>"
        for r in rows[1:]
    )
    # tabindex: on a phone the table scrolls in its own box, which the keyboard must reach.
    return f'<table tabindex="0"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _html_figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}" '
        f'style="max-width:100%"><figcaption>{html.escape(caption)}</figcaption></figure>'
    )


_HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }}
th[scope=row], thead th:first-child {{ text-align: left; }}
thead th {{ background: #f3f5f8; }}
.methods {{ font-size: 0.85rem; color: #555; max-width: 48rem; }}
</style></head><body>
{body}
</body></html>
"""


# --- PDF ----------------------------------------------------------------------------------


_PAGE_WIDTH: Final = float(A4[0])
_MARGIN: Final = 16 * float(mm)
_FRAME_WIDTH: Final = _PAGE_WIDTH - 2 * _MARGIN


def render_pdf(report: TrialReport) -> bytes:
    """An A4 PDF: title, response and rate tables, survival with both curves, vein-to-vein
    time, CRS and ICANS tables, the patient listing and the methods."""
    _check_winansi(report)
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=9, leading=11.5)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5, textColor="#444444")
    h1 = ParagraphStyle("h1", parent=styles["Heading1"], fontSize=15, leading=18, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], fontSize=11.5, spaceBefore=8, spaceAfter=4)
    t = report.trial
    story: list[Any] = [
        Paragraph(markup(f"{t.id}: {t.title}"), h1),
        Paragraph(
            markup(
                f"Product {t.product_code} · {t.criteria.label} · data cut-off "
                f"{report.as_of.isoformat()}"
            ),
            body,
        ),
        Paragraph("<br/>".join(_dose_lines(report, lambda x: f"<super>{markup(x)}</super>")), body),
        Paragraph("Best overall response (patients)", h2),
        _pdf_table(_response_table(report), body),
        Paragraph("Response rates (95% CI, Clopper–Pearson)", h2),
        _pdf_table(_rate_table(report), body, widths=(0.22, 0.26, 0.26, 0.26)),
        Paragraph("Survival (months from infusion)", h2),
        _pdf_table(_survival_table(report), body, widths=(0.22, 0.07, 0.09, 0.235, 0.15, 0.235)),
        Spacer(1, 4),
        _pdf_image(report.km_os_png),
        _pdf_image(report.km_pfs_png),
        KeepTogether(
            [
                Paragraph("Vein-to-vein time (apheresis to infusion)", h2),
                _pdf_table(_v2v_table(report), body),
            ]
        ),
        KeepTogether(
            [
                Paragraph("Cytokine release syndrome: patients by worst grade (ASTCT)", h2),
                _pdf_table(_toxicity_table(report.crs), body, widths=_TOXICITY_WIDTHS),
            ]
        ),
        KeepTogether(
            [
                Paragraph("ICANS: patients by worst grade (ASTCT)", h2),
                _pdf_table(_toxicity_table(report.icans), body, widths=_TOXICITY_WIDTHS),
            ]
        ),
        Paragraph("Patients", h2),
        _pdf_table(
            _patient_table(report),
            small,
            widths=(0.13, 0.16, 0.06, 0.06, 0.13, 0.09, 0.09, 0.09, 0.09, 0.10),
        ),
        Spacer(1, 6),
        Paragraph(markup(_methods(report)), small),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN + 4,
        title=f"{t.id} trial report, data cut-off {report.as_of.isoformat()}",
        author="veinline",
        invariant=True,
    )
    footer = f"{t.id} · data cut-off {report.as_of.isoformat()} · veinline"

    def on_page(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(_MARGIN, _MARGIN - 6, footer)
        canvas.drawRightString(_PAGE_WIDTH - _MARGIN, _MARGIN - 6, f"page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


_TOXICITY_WIDTHS: Final = (0.20, 0.06, 0.08, *[0.085] * MAX_TOXICITY_GRADE, 0.10, 0.135)


def _pdf_table(
    rows: list[list[str]], style: ParagraphStyle, widths: Sequence[float] | None = None
) -> Any:
    """A table over the frame's width; `widths` are fractions of it, the first column 22% and
    the rest shared by default."""
    right = ParagraphStyle("right", parent=style, alignment=TA_RIGHT)
    cells = [
        [
            Paragraph(f"<b>{markup(c)}</b>" if r == 0 else markup(c), style if i == 0 else right)
            for i, c in enumerate(row)
        ]
        for r, row in enumerate(rows)
    ]
    columns = len(rows[0])
    if widths is None:
        widths = (0.22, *[0.78 / (columns - 1)] * (columns - 1))
    table = Table(cells, colWidths=[_FRAME_WIDTH * w for w in widths], repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EDF3")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#4A5A6A")),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#C8CFD6")),
                ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#F6F7F9"))
                if rows[-1][0] == _OVERALL_LABEL
                else ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _pdf_image(png: bytes) -> Any:
    width = _FRAME_WIDTH * 0.94
    # The figure is 8.0 × 5.4 inches.
    return Image(io.BytesIO(png), width=width, height=width * 5.4 / 8.0)


def _check_winansi(report: TrialReport) -> None:
    texts = [report.trial.id, report.trial.title, report.trial.product_code]
    texts += [c.dose_label for c in report.trial.cohorts]
    texts += [p.outcome.case_id for p in report.patients]
    for text in texts:
        if not is_winansi(text):
            raise InvalidInput(
                f"{text!r} has characters the report's PDF font (Helvetica, Windows-1252) "
                "cannot show; use the HTML report, or a Latin transcription"
            )


# --- files --------------------------------------------------------------------------------


def write_report(report: TrialReport, out_dir: Path) -> list[Path]:
    """Write report.pdf, report.html, summary.csv, patients.csv, km_os.png and km_pfs.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "report.pdf": render_pdf(report),
        "report.html": _HTML_PAGE.format(
            title=html.escape(f"{report.trial.id} trial report"), body=render_html(report)
        ).encode("utf-8"),
        "summary.csv": _csv(summary_rows(report), list(summary_rows(report)[0])),
        "patients.csv": _csv([p.to_dict() for p in report.patients], PATIENT_COLUMNS),
        "km_os.png": report.km_os_png,
        "km_pfs.png": report.km_pfs_png,
    }
    paths = []
    for name, content in files.items():
        path = out_dir / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def summary_rows(report: TrialReport) -> list[dict[str, Any]]:
    """One row per cohort and one for all patients, flat, for summary.csv."""
    rows = []
    for i, row in enumerate(report.responses):
        os_, pfs, v2v = report.os[i], report.pfs[i], report.vein_to_vein[i]
        flat: dict[str, Any] = {
            "group": row.group,
            "label": row.label,
            "dose_cells_per_kg": row.dose_cells_per_kg,
            "treated": row.counts.treated,
            "evaluable": row.counts.evaluable,
        }
        flat |= {r.value: n for r, n in row.counts.by_response.items()}
        for name, r in (("orr", row.orr), ("dcr", row.dcr), ("cr_rate", row.cr)):
            flat |= {
                f"{name}_n": r.successes,
                name: r.estimate,
                f"{name}_lower": r.lower,
                f"{name}_upper": r.upper,
            }
        for name, c in (("os", os_), ("pfs", pfs)):
            flat |= {
                f"{name}_events": c.events,
                f"{name}_median_days": c.median_days,
                f"{name}_median_lower_days": c.median_lower_days,
                f"{name}_median_upper_days": c.median_upper_days,
            }
        flat |= {
            "v2v_n": v2v.n,
            "v2v_median_days": v2v.median,
            "v2v_q1_days": v2v.q1,
            "v2v_q3_days": v2v.q3,
            "v2v_min_days": v2v.minimum,
            "v2v_max_days": v2v.maximum,
            "crs_any": report.crs.any_grade(i),
            "crs_grade_3_or_more": report.crs.grade_3_or_more(i),
            "icans_any": report.icans.any_grade(i),
            "icans_grade_3_or_more": report.icans.grade_3_or_more(i),
        }
        rows.append(flat)
    return rows


def _csv(rows: list[dict[str, Any]], columns: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue().encode("utf-8")


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def made_by_job(data: TrialData, progress: Progress) -> Outcome:
    """A trial report job's work (services/jobs.py `trial_report_work`): the report, its
    HTML, its JSON and its summary CSV as the result, its PDF as the artifact."""
    progress(0.1, f"fitting survival and drawing the curves ({len(data.outcomes)} patients)")
    report = build_report(data.trial, data.outcomes, as_of=data.data_cutoff)
    progress(0.6, "writing the PDF")
    pdf = render_pdf(report)
    progress(0.95, "writing the page")
    rows = summary_rows(report)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    result: JsonObject = {
        "report": report.to_dict(),
        "html": render_html(report),
        "summary_csv": buffer.getvalue(),
    }
    return Outcome(
        result,
        pdf,
        f"{len(data.outcomes)} patients, data cut-off {data.data_cutoff.isoformat()}",
    )
