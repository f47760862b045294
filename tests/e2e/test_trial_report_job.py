"""A trial's report is made by a job, never in a request (SQLite and PostgreSQL): the API
answers 202 with the job until it is done, then serves the report, its PDF and its CSV
from the job's cached result; the page shows the job's progress, then the report; a
change to the trial's data makes a new report, a second view does not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.pages import DEMO_PASSWORD, sign_in_page
from veinline.adapters import trial_report
from veinline.adapters.seed.cases import Driver, load_demo_trial
from veinline.bootstrap import App
from veinline.domain.job import Job, JobKind
from veinline.entrypoints.http.app import create_app
from veinline.services import commands
from veinline.services.jobs import THREAD_PREFIX, Outcome, Progress

TRIAL = "IMC001-IIT"


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    load_demo_trial(Driver(demo_app.bus, demo_app.user, demo_app.clock))
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads each report was built in; building refuses any but a job runner's."""
    built: list[str] = []
    real = trial_report.build_report

    def guarded(*args: Any, **kwargs: Any) -> Any:
        thread = threading.current_thread().name
        if not thread.startswith(THREAD_PREFIX):
            raise AssertionError(f"a trial report was built in {thread}, not in a job")
        built.append(thread)
        return real(*args, **kwargs)

    monkeypatch.setattr(trial_report, "build_report", guarded)
    return built


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _done(client: TestClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    job: dict[str, Any] = client.get(location, headers=headers).json()
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(location, headers=headers).json()
    return job


def test_the_api_queues_the_report_then_serves_it_from_the_job(
    client: TestClient, demo_app: App, reports: list[str]
) -> None:
    physician = _token(client, "physician")
    first = client.get(f"/api/v1/trials/{TRIAL}/report.pdf", headers=physician)
    assert first.status_code == 202, first.text
    job = first.json()
    assert job["kind"] == "trial-report" and job["inputs"]["trial_id"] == TRIAL
    assert first.headers["location"] == f"/api/v1/jobs/{job['id']}"
    done = _done(client, first.headers["location"], physician)
    assert done["state"] == "done" and "10 patients" in done["message"], done
    pdf = client.get(f"/api/v1/trials/{TRIAL}/report.pdf", headers=physician)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    report = client.get(f"/api/v1/trials/{TRIAL}/report", headers=physician)
    assert report.status_code == 200 and report.json()["trial"]["id"] == TRIAL
    assert len(report.json()["patients"]) == 10
    csv_text = client.get(f"/api/v1/trials/{TRIAL}/summary.csv", headers=physician).text
    assert csv_text.splitlines()[0].startswith("group,label")
    # One report for all three, built once, in the job runner.
    assert len(reports) == 1
    kinds = [j.kind for j in demo_app.jobs.latest(actor=demo_app.user("physician"))]
    assert kinds == [JobKind.TRIAL_REPORT]

    # New data: a new report (and only then).
    with demo_app.uow() as uow:
        patient = uow.trial_patients.find(trial_id=TRIAL)[0]
    demo_app.bus.handle(
        commands.ImportTrialOutcomes(
            trial_id=TRIAL,
            outcomes=[{"subject": "EXTRA-01", "cohort_id": patient.cohort_id, **patient.data}],
            reason="one more patient's outcome",
        ),
        actor=demo_app.user("physician"),
    )
    again = client.get(f"/api/v1/trials/{TRIAL}/report", headers=physician)
    assert again.status_code == 202 and again.json()["id"] != job["id"]
    _done(client, again.headers["location"], physician)
    report = client.get(f"/api/v1/trials/{TRIAL}/report", headers=physician).json()
    assert len(report["patients"]) == 11 and len(reports) == 2

    assert client.get("/api/v1/trials/NOPE/report", headers=physician).status_code == 404
    courier = _token(client, "courier")
    assert client.get(f"/api/v1/trials/{TRIAL}/report", headers=courier).status_code == 403
    assert len(reports) == 2


def test_the_page_shows_the_jobs_progress_then_the_report(
    client: TestClient, demo_app: App, reports: list[str]
) -> None:
    release = threading.Event()
    real = demo_app.jobs.work[JobKind.TRIAL_REPORT]

    def held(job: Job, progress: Progress) -> Outcome:
        progress(0.01, "waiting")
        assert release.wait(30)
        return real(job, progress)

    demo_app.jobs.work[JobKind.TRIAL_REPORT] = held
    assert sign_in_page(client, "physician").status_code == 303
    page = client.get(f"/trials/{TRIAL}")
    assert page.status_code == 200 and 'data-testid="job-status"' in page.text
    assert 'data-testid="trial-report"' not in page.text and reports == []
    release.set()
    job_id = page.text.split('data-job-status="/jobs/', 1)[1].split("/", 1)[0]
    deadline = time.monotonic() + 120
    while not client.get(f"/jobs/{job_id}/status.json").json()["finished"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    page = client.get(f"/trials/{TRIAL}")
    assert page.status_code == 200 and 'data-testid="trial-report"' in page.text
    assert "Clopper" in page.text and "data:image/png" in page.text
    assert f"/api/v1/trials/{TRIAL}/report.pdf" in page.text
    # Seen again: the same report, not made again.
    assert 'data-testid="trial-report"' in client.get(f"/trials/{TRIAL}").text
    assert len(reports) == 1
    finished = client.get(f"/jobs/{job_id}", follow_redirects=False)
    assert finished.status_code == 303 and finished.headers["location"] == f"/trials/{TRIAL}"


def test_the_cli_writes_the_report_in_its_own_process(
    client: TestClient, demo_app: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `veinline report trial` shares the `report` group with `report bookings`: both are
    # there, whichever module registers the group last.
    from typer.testing import CliRunner

    from veinline.entrypoints.cli.context import cli_context
    from veinline.entrypoints.cli.main import app as cli_app

    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)
    monkeypatch.setenv("VEINLINE_DATA_DIR", str(demo_app.settings.data_dir))
    cli_context().forget()
    try:
        out = tmp_path / "report"
        made = CliRunner().invoke(cli_app, ["report", "trial", TRIAL, "--out", str(out)])
        assert made.exit_code == 0, made.output
        assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
        bookings = CliRunner().invoke(cli_app, ["--as", "planner", "report", "bookings"])
        assert bookings.exit_code == 0, bookings.output
    finally:
        cli_context().forget()
