"""Benchmark: the capacity page and a plan's page, now that sweeps and plans run as jobs,
each next to a trivial page (the sign-in form) timed in the same run as its anchor.

Run from the repository root:

    .venv/bin/python benchmarks/capacity_page.py                # SQLite (a temp file)
    VEINLINE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/capacity_page.py            # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/capacity_page.py --replications 20 --views 20   # quicker

In-process (FastAPI's TestClient against the app on a demo database; the job runner's
thread runs the work as in the server). For each database it prints:

- the capacity page's first view of a sweep (it queues the job and shows its progress),
  the sweep job's own time (what every view used to cost), then the page and its chart
  seen again (from the job's cached result): median and 95th percentile of `--views`;
- the plan page of a 1,000-patient plan (the most a plan takes), its size and time, and
  its second page of the waiting list;
- the sign-in page, timed the same way, as the anchor.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _scratch import demo_app, scratch_postgres
from fastapi.testclient import TestClient

from veinline.adapters.seed import DEMO_PASSWORD
from veinline.bootstrap import App
from veinline.entrypoints.http.app import create_app

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def _sign_in(client: TestClient, username: str) -> None:
    found = _CSRF.search(client.get("/login").text)
    assert found is not None
    answer = client.post(
        "/login",
        data={"username": username, "password": DEMO_PASSWORD, "csrf_token": found.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = _CSRF.search(client.get("/planning").text)
    assert page is not None
    client.headers["X-CSRF-Token"] = page.group(1)


def _timed(request: Callable[[], object], views: int) -> tuple[float, float]:
    """Median and 95th percentile (ms) of `views` requests, after one not counted."""
    request()
    times = []
    for _ in range(views):
        started = time.perf_counter()
        request()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def _finish(client: TestClient, job_id: str) -> float:
    """Wait for a job; its run time as the runner stored it (seconds)."""
    while True:
        status = client.get(f"/jobs/{job_id}/status.json").json()
        if status["finished"]:
            assert status["state"] == "done", status
            break
        time.sleep(0.05)
    app: App = client.app.state.veinline  # type: ignore[attr-defined]
    job = app.jobs.store.get(job_id)
    assert job is not None and job.started_at and job.finished_at
    return (job.finished_at - job.started_at).total_seconds()


def run(name: str, url: str, data_dir: Path, args: argparse.Namespace) -> None:
    app = demo_app(url, data_dir)
    try:
        with TestClient(create_app(app)) as client:
            _sign_in(client, "planner")
            anchor = _timed(lambda: client.get("/login"), args.views)

            sweep = f"/capacity?low={args.low}&high={args.high}&replications={args.replications}"
            started = time.perf_counter()
            first = client.get(sweep)
            first_ms = (time.perf_counter() - started) * 1000
            assert first.status_code == 200 and 'data-testid="job-status"' in first.text
            found = re.search(r'data-job-status="/jobs/([^/]+)/status.json"', first.text)
            assert found is not None
            job_seconds = _finish(client, found.group(1))
            cached = _timed(lambda: client.get(sweep), args.views)
            assert 'data-testid="sweep"' in client.get(sweep).text
            chart = _timed(lambda: client.get(f"/jobs/{found.group(1)}/chart.png"), args.views)
            counts = args.high - args.low + 1

            made = client.post(
                "/planning/plans",
                data={"patients": "1000", "policy": "fifo", "time_limit": "5"},
                follow_redirects=False,
            )
            assert made.status_code == 303, made.text
            plan_job = made.headers["location"].rsplit("/", 1)[1]
            plan_seconds = _finish(client, plan_job)
            plan_page = client.get(f"/jobs/{plan_job}", follow_redirects=False).headers["location"]
            plan_bytes = len(client.get(plan_page).content)
            plan = _timed(lambda: client.get(plan_page), args.views)
            second = _timed(lambda: client.get(plan_page + "?page=2"), args.views)
    finally:
        app.close()

    print(f"{name}: anchor, the sign-in page: median {anchor[0]:.1f} ms, p95 {anchor[1]:.1f} ms")
    print(
        f"{name}: capacity page, first view ({counts} suite counts × {args.replications} "
        f"replications): {first_ms:.1f} ms (the job queued, its progress shown)"
    )
    print(f"{name}:   the sweep job itself (what each view used to take): {job_seconds:.2f} s")
    print(
        f"{name}: capacity page seen again (cached): median {cached[0]:.1f} ms, "
        f"p95 {cached[1]:.1f} ms; its chart: median {chart[0]:.1f} ms, p95 {chart[1]:.1f} ms"
    )
    print(f"{name}: plan job, 1,000 patients (fifo): {plan_seconds:.2f} s")
    print(
        f"{name}: plan page, 1,000 patients: {plan_bytes / 1024:,.0f} KB, median "
        f"{plan[0]:.1f} ms, p95 {plan[1]:.1f} ms; its page 2: median {second[0]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--low", type=int, default=22, help="fewest suites (the page's default)")
    parser.add_argument("--high", type=int, default=32, help="most suites (the page's default)")
    parser.add_argument("--replications", type=int, default=100, help="per suite count")
    parser.add_argument("--views", type=int, default=50, help="timed views of each page")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("VEINLINE_BENCH_POSTGRES_URL"),
        help="a PostgreSQL URL (default: $VEINLINE_BENCH_POSTGRES_URL; none: SQLite only)",
    )
    args = parser.parse_args()
    print(f"capacity and plan pages ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as workdir:
        run("SQLite", f"sqlite:///{Path(workdir) / 'v.db'}", Path(workdir), args)
        if args.postgres:
            with scratch_postgres(args.postgres) as url:
                run("PostgreSQL", url, Path(workdir), args)


if __name__ == "__main__":
    main()
