"""Trial report: exact intervals, Kaplan–Meier medians, the seed-003 demo, HTML, PDF and files."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pypdfium2
import pytest
from PIL import Image
from pypdf import PdfReader

from veinline.adapters.trial_report import (
    PATIENT_COLUMNS,
    TrialReport,
    build_report,
    render_html,
    render_pdf,
    write_report,
)
from veinline.domain.errors import InvalidInput
from veinline.domain.trial import (
    Cohort,
    PatientOutcome,
    Response,
    Trial,
    TrialData,
    seed_003_trial,
)

START = date(2023, 1, 2)
WEEK = 7


@pytest.fixture(scope="module")
def seed() -> TrialData:
    return seed_003_trial(START)


@pytest.fixture(scope="module")
def report(seed: TrialData) -> TrialReport:
    return build_report(seed.trial, seed.outcomes, as_of=seed.data_cutoff)


@pytest.fixture(scope="module")
def pdf(report: TrialReport) -> bytes:
    return render_pdf(report)


def row(report: TrialReport, group: str) -> int:
    return next(i for i, r in enumerate(report.responses) if r.group == group)


# --- the IMC001 IIT (Immunofoco release, 21 March 2025) -----------------------------------


def test_seed_003_report_gives_dcr_9_of_10_with_its_exact_interval(report: TrialReport) -> None:
    overall = report.responses[row(report, "overall")]
    assert (overall.dcr.successes, overall.dcr.n) == (9, 10)
    assert overall.dcr.text() == "9/10, 90.0% (95% CI 55.5–99.7)"


def test_seed_003_report_gives_the_cohort_pr_rates(report: TrialReport) -> None:
    low = report.responses[row(report, "low")]
    middle = report.responses[row(report, "middle")]
    assert (low.orr.successes, low.orr.n, round(100 * (low.orr.estimate or 0), 1)) == (1, 3, 33.3)
    assert (middle.orr.successes, middle.orr.n) == (2, 7)


def test_seed_003_with_three_dose_groups_gives_40_percent_pr_in_the_middle_group() -> None:
    data = seed_003_trial(START, three_dose_groups=True)
    built = build_report(data.trial, data.outcomes, as_of=data.data_cutoff)
    middle = built.responses[row(built, "middle")]
    assert (middle.orr.successes, middle.orr.n, middle.orr.estimate) == (2, 5, 0.4)
    middle_os = next(c for c in built.os if c.group == "middle")
    assert middle_os.median_days is not None and middle_os.median_days > 55 * WEEK


def test_seed_003_middle_dose_median_overall_survival_exceeds_55_weeks(
    report: TrialReport,
) -> None:
    middle = next(c for c in report.os if c.group == "middle")
    assert middle.median_days is not None
    assert middle.median_days > 55 * WEEK


def test_seed_003_toxicity_tables_count_patients_by_worst_grade(report: TrialReport) -> None:
    overall = row(report, "overall")
    assert report.crs.counts[overall] == (1, 6, 3, 0, 0, 0)
    assert report.icans.counts[overall] == (9, 1, 0, 0, 0, 0)
    assert report.crs.grade_3_or_more(overall) == 0


def test_report_to_dict_is_json_ready(report: TrialReport, seed: TrialData) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    assert data["as_of"] == seed.data_cutoff.isoformat()
    assert [r["group"] for r in data["responses"]] == ["low", "middle", "overall"]
    assert data["responses"][2]["dcr"]["successes"] == 9
    assert len(data["patients"]) == 10


def test_report_counts_survival_only_up_to_the_data_cutoff(seed: TrialData) -> None:
    early = START + timedelta(days=200)
    treated = [o for o in seed.outcomes if o.infused_on <= early]
    built = build_report(seed.trial, treated, as_of=early)
    overall = next(c for c in built.os if c.group == "overall")
    assert all(p.os.days <= 200 for p in built.patients)
    assert overall.events == 0


def test_a_cohort_without_patients_still_reports() -> None:
    trial = Trial("T", "Two cohorts", "p", (Cohort("a", "A", 1e6), Cohort("b", "B", 3e6)))
    patient = PatientOutcome(
        "C1", "a", True, Response.PR, START, START + timedelta(days=90), vein_to_vein_days=30
    )
    built = build_report(trial, [patient], as_of=START + timedelta(days=100))
    empty = built.responses[row(built, "b")]
    assert (empty.counts.treated, empty.orr.estimate) == (0, None)
    assert "B" in render_html(built)
    assert render_pdf(built).startswith(b"%PDF")


# --- HTML, PDF and files ------------------------------------------------------------------


def test_html_embeds_both_curves_and_needs_no_external_asset(report: TrialReport) -> None:
    page = render_html(report)
    assert page.count('src="data:image/png;base64,') == 2
    assert "http" not in page
    assert "9/10, 90.0% (55.5–99.7)" in page
    assert page.startswith('<section class="trial-report">')


def test_html_escapes_what_the_trial_says() -> None:
    trial = Trial("T", "<script>alert(1)</script>", "p", (Cohort("a", "A & B", 1e6),))
    built = build_report(trial, [], as_of=START)
    page = render_html(built)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "A &amp; B" in page


def test_pdf_text_gives_orr_and_dcr_with_their_intervals(pdf: bytes) -> None:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "ORR (95% CI)" in text
    assert "DCR (95% CI)" in text
    assert "9/10, 90.0% (55.5–99.7)" in text
    assert "1/3, 33.3% (0.8–90.6)" in text
    assert "13.8 (5.7–NR)" in text


def test_pdf_renders_pages_with_ink_on_them(pdf: bytes) -> None:
    document = pypdfium2.PdfDocument(pdf)
    try:
        assert len(document) >= 2
        image = document[0].render(scale=1).to_pil().convert("L")
    finally:
        document.close()
    darkest, _ = image.getextrema()
    assert darkest < 64
    # The first page carries a curve: many pixels neither white nor black.
    histogram = image.histogram()
    assert sum(histogram[80:240]) > 5000


def test_pdf_refuses_text_its_font_cannot_show() -> None:
    trial = Trial("T", "胃癌 IMC001", "p", (Cohort("a", "A", 1e6),))
    with pytest.raises(InvalidInput, match="Helvetica"):
        render_pdf(build_report(trial, [], as_of=START))


def test_km_curves_are_png_images(report: TrialReport) -> None:
    for png in (report.km_os_png, report.km_pfs_png):
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG"
        assert image.size == (1200, 810)


def test_write_report_writes_every_file(report: TrialReport, tmp_path: Path) -> None:
    paths = write_report(report, tmp_path / "out")
    assert [p.name for p in paths] == [
        "report.pdf",
        "report.html",
        "summary.csv",
        "patients.csv",
        "km_os.png",
        "km_pfs.png",
    ]
    assert all(p.stat().st_size > 0 for p in paths)
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!doctype html>")


def test_summary_csv_has_a_row_per_cohort_and_overall(report: TrialReport, tmp_path: Path) -> None:
    write_report(report, tmp_path)
    with (tmp_path / "summary.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["group"] for r in rows] == ["low", "middle", "overall"]
    for column in (
        "evaluable",
        "PR",
        "SD",
        "orr",
        "orr_lower",
        "orr_upper",
        "dcr_n",
        "dcr",
        "dcr_lower",
        "dcr_upper",
        "cr_rate",
        "os_median_days",
        "pfs_median_days",
        "v2v_median_days",
        "crs_grade_3_or_more",
        "icans_any",
    ):
        assert column in rows[0], column
    overall = rows[2]
    assert (overall["evaluable"], overall["dcr_n"], overall["dcr"]) == ("10", "9", "0.9")
    assert float(overall["dcr_lower"]) == pytest.approx(0.5550, abs=5e-5)
    assert rows[1]["os_median_upper_days"] == ""  # not reached


def test_patients_csv_lists_every_patient_with_its_survival_times(
    report: TrialReport, tmp_path: Path
) -> None:
    write_report(report, tmp_path)
    with (tmp_path / "patients.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == PATIENT_COLUMNS
    assert len(rows) == 10
    survivor = next(r for r in rows if r["case_id"] == "IMC001-M01")
    assert (survivor["best_response"], survivor["os_event"], survivor["died_on"]) == (
        "PR",
        "False",
        "",
    )
