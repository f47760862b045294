"""Jobs on SQLite and PostgreSQL: a sweep runs in the runner's thread with its progress
stored and its result cached by its inputs; a plan job makes its plan through the
planning handler and ledger; a job cut short by a restart reads "interrupted"; inputs
out of bounds are refused in words before anything is stored; claiming skips what
another worker holds; reading a job needs the read its result needs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import FixedClock
from veinline.adapters.jobs import SqlJobStore
from veinline.adapters.orm import jobs as jobs_table
from veinline.bootstrap import App
from veinline.domain.errors import InvalidInput, NotAllowed, NotFound
from veinline.domain.job import Job, JobKind, JobState, job_key
from veinline.domain.ledger_actions import LedgerAction
from veinline.planning import simulation
from veinline.services import ledger
from veinline.services.jobs import STALE_AFTER, THREAD_PREFIX, JobRunner, parse_inputs

SMALL_SWEEP = {"low": 26, "high": 27, "replications": 10}


def _wait(app: App, job_id: str, seconds: float = 120.0) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = app.jobs.store.get(job_id)
        assert found is not None
        if found.state.finished:
            return found
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s")


def _counting_sweeps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the simulator's sweeps, naming the thread each ran in."""
    threads: list[str] = []
    real = simulation.sweep_suites

    def counted(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(simulation, "sweep_suites", counted)
    return threads


def test_a_sweep_runs_in_the_runner_and_its_result_is_cached_by_its_inputs(
    demo_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = _counting_sweeps(monkeypatch)
    planner = demo_app.user("planner")
    inputs = parse_inputs(JobKind.SWEEP, SMALL_SWEEP)
    job = demo_app.jobs.submit(JobKind.SWEEP, inputs, actor=planner)
    assert job.state is JobState.QUEUED and job.submitted_by == "planner"
    done = _wait(demo_app, job.id)
    assert done.state is JobState.DONE, done.message
    assert done.progress == 1.0 and done.message == "2 suite counts, 10 replications each"
    assert [p["suites"] for p in (done.result or {})["points"]] == [26, 27]
    chart = demo_app.jobs.artifact(done)
    assert chart is not None and chart.startswith(b"\x89PNG")
    assert len(threads) == 1 and threads[0].startswith(THREAD_PREFIX)

    # The same inputs, in another order and as text: the same job, not another sweep.
    again = demo_app.jobs.submit(
        JobKind.SWEEP,
        parse_inputs(JobKind.SWEEP, {"replications": "10", "high": "27", "low": "26"}),
        actor=demo_app.user("coordinator"),
    )
    assert again.id == job.id and again.state is JobState.DONE
    assert len(threads) == 1
    # Other inputs: another job.
    other = demo_app.jobs.submit(
        JobKind.SWEEP, parse_inputs(JobKind.SWEEP, {**SMALL_SWEEP, "high": 26}), actor=planner
    )
    assert other.id != job.id
    _wait(demo_app, other.id)


def test_a_job_run_here_reports_its_progress_as_it_goes(
    demo_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[float, str]] = []
    stored: list[float] = []
    store = demo_app.jobs.store
    real_progress = store.progress

    def recording(job_id: str, fraction: float, message: str, now: Any) -> None:
        stored.append(fraction)
        real_progress(job_id, fraction, message, now)

    monkeypatch.setattr(store, "progress", recording)
    job = demo_app.jobs.submit(
        JobKind.SWEEP,
        parse_inputs(JobKind.SWEEP, {**SMALL_SWEEP, "replications": 40}),
        actor=demo_app.user("planner"),
        here=True,
        listen=lambda fraction, message: seen.append((fraction, message)),
    )
    assert job.state is JobState.DONE and job.worker == demo_app.jobs.worker
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert any(m.endswith("of 80 replications") for _, m in seen)
    assert "drawing the chart" in [m for _, m in seen]
    # Stored as it went (at most twice a second), and done is 1.
    assert stored and stored[0] == 0.0 and job.progress == 1.0


def test_a_plan_job_makes_its_plan_through_the_planning_handler(demo_app: App) -> None:
    planner = demo_app.user("planner")
    inputs = parse_inputs(JobKind.PLAN, {"patients": 12, "policy": "fifo", "time_limit_s": 1})
    job = demo_app.jobs.submit(JobKind.PLAN, inputs, actor=planner, here=True)
    assert job.state is JobState.DONE, job.message
    plan_id = (job.result or {})["plan_id"]
    with demo_app.uow() as uow:
        record = uow.plans.get(plan_id)
    assert record is not None and record.created_by == "planner"
    (entry,) = ledger.history(demo_app.uow(), f"plan/{plan_id}")
    assert entry.action == LedgerAction.PLANNING_PLAN_MADE and entry.actor == "planner"
    # The same inputs under the same weights: the same plan, not another.
    assert demo_app.jobs.submit(JobKind.PLAN, inputs, actor=planner).id == job.id


def test_a_job_cut_short_by_a_restart_reads_interrupted(demo_app: App, clock: FixedClock) -> None:
    store = demo_app.jobs.store
    inputs = parse_inputs(JobKind.SWEEP, SMALL_SWEEP)

    def running(job_id: str, worker: str) -> Job:
        return Job(
            id=job_id,
            kind=JobKind.SWEEP,
            key=job_key(JobKind.SWEEP, inputs),
            inputs=inputs,
            submitted_by="planner",
            submitted_at=clock(),
            state=JobState.RUNNING,
            started_at=clock(),
            heartbeat_at=clock(),
            worker=worker,
        )

    store.add(running("J-cut-short", "a stopped server"))
    clock.advance(seconds=STALE_AFTER.total_seconds() + 1)
    store.add(running("J-still-alive", "a live worker"))  # its heartbeat is fresh

    restarted = JobRunner(SqlJobStore(demo_app.engine), {}, clock=clock)
    assert restarted.recover() == 1
    cut = store.get("J-cut-short")
    assert cut is not None and cut.state is JobState.INTERRUPTED
    assert cut.message.startswith("interrupted") and cut.finished_at == clock()
    alive = store.get("J-still-alive")
    assert alive is not None and alive.state is JobState.RUNNING
    # An interrupted job does not answer its inputs again: they run anew.
    store.finish("J-still-alive", state=JobState.INTERRUPTED, now=clock(), message="x")
    fresh = demo_app.jobs.submit(JobKind.SWEEP, inputs, actor=demo_app.user("planner"), here=True)
    assert fresh.id not in ("J-cut-short", "J-still-alive") and fresh.state is JobState.DONE


def test_inputs_out_of_bounds_reach_no_job(demo_app: App) -> None:
    with pytest.raises(InvalidInput, match="replications: choose 10 to 1000"):
        demo_app.jobs.submit(
            JobKind.SWEEP,
            parse_inputs(JobKind.SWEEP, {"replications": 10**6}),
            actor=demo_app.user("planner"),
        )
    with demo_app.engine.connect() as connection:
        assert connection.execute(select(jobs_table.c.id)).all() == []


def test_a_plan_of_too_many_patients_is_refused_by_its_handler_too(demo_app: App) -> None:
    import json

    from veinline.planning import generate
    from veinline.planning.scenario import scenario_to_json
    from veinline.services import commands

    scenario: dict[str, object] = json.loads(scenario_to_json(generate.small(patients=1001)))
    with pytest.raises(InvalidInput, match="takes 1 to 1,000 patients, not 1,001"):
        demo_app.bus.handle(
            commands.MakePlan(scenario, "fifo", 1.0), actor=demo_app.user("planner")
        )
    with demo_app.uow() as uow:
        assert uow.plans.list() == []


def test_reading_or_submitting_a_job_needs_the_right_of_its_work(demo_app: App) -> None:
    inputs = parse_inputs(JobKind.SWEEP, SMALL_SWEEP)
    courier, coordinator = demo_app.user("courier"), demo_app.user("coordinator")
    with pytest.raises(NotAllowed, match="plan"):
        demo_app.jobs.submit(JobKind.SWEEP, inputs, actor=courier)
    plan = parse_inputs(JobKind.PLAN, {"patients": 5})
    with pytest.raises(NotAllowed, match="make plans"):
        demo_app.jobs.submit(JobKind.PLAN, plan, actor=coordinator)  # reads plans only
    job = demo_app.jobs.submit(JobKind.SWEEP, inputs, actor=coordinator)
    with pytest.raises(NotAllowed):
        demo_app.jobs.get(job.id, actor=courier)
    assert demo_app.jobs.latest(actor=courier) == []
    assert [j.id for j in demo_app.jobs.latest(actor=coordinator)] == [job.id]
    with pytest.raises(NotFound, match="there is no job J-none"):
        demo_app.jobs.get("J-none", actor=coordinator)
    _wait(demo_app, job.id)


def test_each_queued_job_is_claimed_once_and_a_held_one_is_skipped(
    demo_app: App, clock: FixedClock
) -> None:
    store = SqlJobStore(demo_app.engine)
    for n in range(3):
        inputs = {"n": n}
        store.add(
            Job(
                id=f"J-{n}",
                kind=JobKind.SWEEP,
                key=job_key(JobKind.SWEEP, inputs),
                inputs=inputs,
                submitted_by="planner",
                submitted_at=clock(),
            )
        )
        clock.advance(seconds=1)
    if demo_app.engine.dialect.name == "postgresql":
        # Another worker holds the oldest (its claim's transaction is open): SKIP LOCKED
        # takes the next, without waiting.
        with demo_app.engine.connect() as other:
            other.execute(select(jobs_table.c.id).where(jobs_table.c.id == "J-0").with_for_update())
            claimed = store.claim("worker-b", clock())
            other.rollback()
        assert claimed is not None and claimed.id == "J-1"
        order = ["J-0", "J-2"]
    else:
        order = ["J-0", "J-1", "J-2"]
    taken = [store.claim("worker-a", clock()) for _ in order]
    assert [job.id for job in taken if job] == order
    assert all(job and job.state is JobState.RUNNING and job.worker == "worker-a" for job in taken)
    assert store.claim("worker-a", clock()) is None


def test_a_failing_job_is_failed_in_words_and_the_runner_goes_on(
    app: App, clock: FixedClock
) -> None:
    from veinline.domain.user import SYSTEM_USERNAME

    def refuse(job: Job, progress: Callable[[float, str], None]) -> Any:
        raise InvalidInput("the scenario names no facility")

    runner = JobRunner(SqlJobStore(app.engine), {JobKind.PLAN: refuse}, clock=clock)
    job = Job(
        id="J-bad",
        kind=JobKind.PLAN,
        key="k",
        inputs={},
        submitted_by=SYSTEM_USERNAME,
        submitted_at=clock(),
    )
    runner.store.add(job)
    finished = runner.run_next()
    assert finished is not None and finished.state is JobState.FAILED
    assert finished.error == "the scenario names no facility"
    assert finished.message == "failed: the scenario names no facility"
    assert runner.run_next() is None
