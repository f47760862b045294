"""Long work off the request path, through the pages, the API and the CLI (SQLite and
PostgreSQL): the capacity page queues a sweep and shows its progress, then its cached
chart; the planning form queues a plan job whose page leads to the plan, paged; the
API submits and reads jobs; `veinline job` runs, lists, shows and waits. No request
runs the simulator or the planner: here they refuse to run outside a job thread."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.e2e.pages import DEMO_PASSWORD, sign_in_page
from veinline.bootstrap import App
from veinline.entrypoints.cli.context import cli_context
from veinline.entrypoints.cli.main import app as cli_app
from veinline.entrypoints.http.app import create_app
from veinline.planning import scheduler, simulation
from veinline.services.jobs import THREAD_PREFIX


@pytest.fixture
def only_in_jobs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The simulator and the planners refuse to run in any thread but a job runner's
    (the CLI's own `job run` aside: it is not a request). Returns the threads they ran in."""
    ran: list[str] = []

    def guarded(module: Any, name: str) -> None:
        real = getattr(module, name)

        def run(*args: Any, **kwargs: Any) -> Any:
            thread = threading.current_thread().name
            if not thread.startswith(THREAD_PREFIX):
                raise AssertionError(f"{name} ran in {thread}, not in a job")
            ran.append(thread)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, run)

    guarded(simulation, "sweep_suites")
    guarded(scheduler, "plan")
    return ran


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _until_finished(client: TestClient, job_id: str, seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.get(f"/jobs/{job_id}/status.json")
        assert status.status_code == 200, status.text
        body: dict[str, Any] = status.json()
        if body["finished"]:
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_the_capacity_page_queues_a_sweep_then_shows_its_cached_chart(
    client: TestClient, only_in_jobs: list[str]
) -> None:
    assert sign_in_page(client, "planner").status_code == 303
    first = client.get("/capacity?low=26&high=27&replications=10")
    assert first.status_code == 200
    assert 'data-testid="job-status"' in first.text and "<progress" in first.text
    assert '<script src="/static/jobs.js" defer></script>' in first.text
    assert 'data-testid="sweep"' not in first.text
    found = re.search(r'data-job-status="/jobs/([^/]+)/status.json"', first.text)
    assert found is not None
    job_id = found.group(1)
    assert _until_finished(client, job_id) == {
        "state": "done",
        "finished": True,
        "progress": 1.0,
        "message": "2 suite counts, 10 replications each",
    }
    again = client.get("/capacity?low=26&high=27&replications=10")
    assert again.status_code == 200
    assert f'src="/jobs/{job_id}/chart.png"' in again.text and 'data-testid="sweep"' in again.text
    chart = client.get(f"/jobs/{job_id}/chart.png")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    # The chart's old address is served from the same cache.
    old = client.get("/capacity/sweep.png?low=26&high=27&replications=10")
    assert old.status_code == 200 and old.content == chart.content
    # A finished job's page leads to its result.
    page = client.get(f"/jobs/{job_id}", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/capacity?low=26&high=27&replications=10"
    assert len(only_in_jobs) == 1  # one sweep, however many views
    assert client.get("/static/jobs.js").status_code == 200


def test_bad_sweep_input_is_explained_and_queues_nothing(
    client: TestClient, demo_app: App, only_in_jobs: list[str]
) -> None:
    assert sign_in_page(client, "planner").status_code == 303
    page = client.get("/capacity?low=20&high=60&replications=10")
    assert page.status_code == 422 and "choose 1 to 21 suite counts" in page.text
    image = client.get("/capacity/sweep.png?low=26&high=27&replications=100000")
    assert image.status_code == 422 and image.headers["content-type"].startswith("text/plain")
    assert "replications: choose 10 to 1000" in image.text
    assert demo_app.jobs.latest(actor=demo_app.user("planner")) == []


def test_the_planning_form_queues_a_plan_whose_job_leads_to_it(
    client: TestClient, only_in_jobs: list[str]
) -> None:
    assert sign_in_page(client, "planner").status_code == 303
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/planning").text)
    assert csrf is not None
    form = {"csrf_token": csrf.group(1), "policy": "optimal", "time_limit": "1"}
    huge = client.post("/planning/plans", data={**form, "patients": "100000"})
    assert "takes 1 to 1,000 patients, not 100,000" in huge.text
    made = client.post("/planning/plans", data={**form, "patients": "150"}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].startswith("/jobs/J")
    job_id = made.headers["location"].rsplit("/", 1)[1]
    waiting = client.get(f"/jobs/{job_id}", follow_redirects=False)
    if waiting.status_code == 200:  # not yet done: its progress
        assert 'data-testid="job-status"' in waiting.text
    assert _until_finished(client, job_id)["state"] == "done"
    done = client.get(f"/jobs/{job_id}", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/planning/P")
    plan = client.get(done.headers["location"])
    assert plan.status_code == 200 and only_in_jobs == [only_in_jobs[0]]
    rows = re.search(r'data-testid="waitlist">(.*?)</table>', plan.text, re.S)
    assert rows is not None and rows.group(1).count("<tr>") == 101  # head + 100
    assert "Patients 1 to 100 of 150" in plan.text
    second = client.get(done.headers["location"] + "?page=2")
    rows = re.search(r'data-testid="waitlist">(.*?)</table>', second.text, re.S)
    assert rows is not None and rows.group(1).count("<tr>") == 51
    assert "Patients 101 to 150 of 150" in second.text


def test_the_api_submits_and_reads_jobs(client: TestClient, only_in_jobs: list[str]) -> None:
    planner = _token(client, "planner")
    body = {"kind": "capacity-sweep", "inputs": {"low": 26, "high": 26, "replications": 10}}
    submitted = client.post("/api/v1/jobs", json=body, headers=planner)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert job["state"] in ("queued", "running", "done") and job["kind"] == "capacity-sweep"
    deadline = time.monotonic() + 120
    while job["state"] not in ("done", "failed", "interrupted") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/v1/jobs/{job['id']}", headers=planner).json()
    assert job["state"] == "done" and job["progress"] == 1.0
    assert [p["suites"] for p in job["result"]["points"]] == [26]
    cached = client.post("/api/v1/jobs", json=body, headers=planner)
    assert cached.status_code == 200 and cached.json()["id"] == job["id"]
    chart = client.get(f"/api/v1/jobs/{job['id']}/chart.png", headers=planner)
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    listed = client.get("/api/v1/jobs", headers=planner).json()
    assert [j["id"] for j in listed] == [job["id"]]

    bad = client.post(
        "/api/v1/jobs", json={"kind": "plan", "inputs": {"patients": 100000}}, headers=planner
    )
    assert bad.status_code == 422
    assert "takes 1 to 1,000 patients" in bad.json()["message"]
    courier = _token(client, "courier")
    assert client.post("/api/v1/jobs", json=body, headers=courier).status_code == 403
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=courier).status_code == 403
    assert client.get("/api/v1/jobs/J-none", headers=planner).status_code == 404
    assert len(only_in_jobs) == 1


def test_the_cli_runs_lists_shows_and_waits_for_jobs(
    demo_app: App, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("VEINLINE_DATABASE_URL", demo_app.settings.database_url)
    monkeypatch.setenv("VEINLINE_DATA_DIR", str(demo_app.settings.data_dir))
    cli_context().forget()
    try:
        sweep = ["capacity-sweep", "--low", "26", "--high", "26", "--replications", "10"]
        run = CliRunner().invoke(cli_app, ["--as", "planner", "job", "run", *sweep, "--json"])
        assert run.exit_code == 0, run.output
        job = json.loads(run.stdout)
        assert job["state"] == "done" and job["submitted_by"] == "planner"
        chart = tmp_path / "sweep.png"
        shown = CliRunner().invoke(
            cli_app, ["--as", "planner", "job", "show", job["id"], "--chart", str(chart)]
        )
        assert shown.exit_code == 0, shown.output
        assert f"job {job['id']} (capacity-sweep): done" in shown.stdout
        assert "Capacity sweep" in shown.stdout and chart.read_bytes().startswith(b"\x89PNG")
        listed = CliRunner().invoke(cli_app, ["--as", "planner", "job", "list", "--json"])
        assert [j["id"] for j in json.loads(listed.stdout)] == [job["id"]]
        waited = CliRunner().invoke(cli_app, ["--as", "planner", "job", "wait", job["id"]])
        assert waited.exit_code == 0 and "done" in waited.stdout
        refused = CliRunner().invoke(
            cli_app, ["--as", "planner", "job", "run", *sweep[:3], "--replications", "5"]
        )
        assert refused.exit_code == 2 and "replications: choose 10 to 1000" in refused.output
        courier = CliRunner().invoke(cli_app, ["--as", "courier", "job", "show", job["id"]])
        assert courier.exit_code == 2
    finally:
        cli_context().forget()
