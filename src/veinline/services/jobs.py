"""The job runner: long work (a capacity sweep, a plan, a full ledger verification) run
off the request path, its progress stored as it goes, its result cached by its inputs
(docs/architecture.md, "Jobs").

A page or an API call only submits (a row) and reads (a row); the work runs in the
runner's own threads, named `veinline-job-N`, or, for the command line, in the process
that asked (`submit(..., here=True)`). Submitting inputs whose job is done, queued or
running answers that job: a second view of the same sweep is served from its result.

Several processes (server workers, a command line) may run runners on one database:
each claims queued jobs one at a time (`SELECT ... FOR UPDATE SKIP LOCKED` on
PostgreSQL), stamps a heartbeat on the jobs it runs every few seconds, and marks
interrupted any running job whose heartbeat is older than `STALE_AFTER` (its process
stopped). So a job cut short by a restart reads "interrupted" within a minute of any
runner starting, and is run again only when submitted again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from veinline.domain.errors import DomainError, InvalidInput, NotFound
from veinline.domain.job import (
    Job,
    JobKind,
    JobState,
    answers_again,
    job_key,
    plan_inputs,
    sweep_inputs,
    trial_report_inputs,
)
from veinline.domain.ledger import JsonObject
from veinline.domain.trial import TrialData
from veinline.domain.user import User
from veinline.services import authority, commands
from veinline.services.unit_of_work import AbstractUnitOfWork

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
"""Called by running work with the fraction done (0 to 1) and a word on where it is."""

THREAD_PREFIX = "veinline-job"
HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=60)
# How often a runner with nothing to do looks for jobs another process queued.
POLL_S = 2.0
# Progress is written at most this often (seconds), and always at the end.
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True)
class Outcome:
    """What finished work gives: a JSON result, perhaps a file (a chart), a last word."""

    result: JsonObject
    artifact: bytes | None = None
    message: str = "done"


Work = Callable[[Job, Progress], Outcome]


class JobStore(Protocol):
    """Where jobs are kept (adapters/jobs.py; tests' fakes)."""

    def add(self, job: Job) -> None: ...
    def get(self, job_id: str) -> Job | None: ...
    def newest(self, key: str) -> Job | None: ...
    def latest(self, *, limit: int, kinds: Iterable[JobKind] | None = None) -> list[Job]: ...
    def artifact(self, job_id: str) -> bytes | None: ...
    def claim(self, worker: str, now: datetime) -> Job | None: ...
    def progress(self, job_id: str, fraction: float, message: str, now: datetime) -> None: ...
    def heartbeat(self, job_ids: Iterable[str], now: datetime) -> None: ...
    def finish(
        self,
        job_id: str,
        *,
        state: JobState,
        now: datetime,
        message: str,
        result: JsonObject | None = None,
        artifact: bytes | None = None,
        error: str | None = None,
    ) -> None: ...
    def interrupt_stale(self, *, silent_since: datetime, now: datetime) -> int: ...


def parse_inputs(kind: JobKind, raw: Mapping[str, Any]) -> JsonObject:
    """A job's inputs from a form, a JSON body or the command line, bounded, or
    InvalidInput in words."""

    def whole(name: str, default: int | None = None) -> int:
        value = raw.get(name, default)
        if isinstance(value, bool) or value is None:
            raise InvalidInput(f"{name}: give a whole number")
        try:
            return int(str(value).strip())
        except ValueError:
            raise InvalidInput(f"{name}: give a whole number, not {value!r}") from None

    def number(name: str, default: float) -> float:
        value = raw.get(name, default)
        if isinstance(value, bool):
            raise InvalidInput(f"{name}: give a number of seconds")
        try:
            return float(str(value).strip())
        except ValueError:
            raise InvalidInput(f"{name}: give a number of seconds, not {value!r}") from None

    def yes_or_no(name: str) -> bool:
        value = raw.get(name, False)
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word not in ("true", "false", "1", "0", "yes", "no", ""):
            raise InvalidInput(f"{name}: give true or false, not {value!r}")
        return word in ("true", "1", "yes")

    known = {
        JobKind.SWEEP: {"low", "high", "replications"},
        JobKind.PLAN: {"patients", "scenario", "policy", "time_limit_s"},
        JobKind.LEDGER_VERIFY: {"full"},
        JobKind.TRIAL_REPORT: {"trial_id", "as_of"},
    }[kind]
    if unknown := sorted(set(raw) - known):
        raise InvalidInput(f"a {kind.value} job takes {', '.join(sorted(known))}, not {unknown[0]}")
    if kind is JobKind.LEDGER_VERIFY:
        return {"full": yes_or_no("full")}
    if kind is JobKind.TRIAL_REPORT:
        try:
            as_of = date.fromisoformat(str(raw.get("as_of", "")).strip())
        except ValueError:
            raise InvalidInput("as_of: give the data cut-off as a date like 2026-03-31") from None
        return trial_report_inputs(str(raw.get("trial_id", "")), as_of)
    if kind is JobKind.SWEEP:
        return sweep_inputs(whole("low", 22), whole("high", 32), whole("replications", 100))
    scenario = raw.get("scenario")
    if scenario is not None and not isinstance(scenario, dict):
        raise InvalidInput("scenario: give the scenario as a JSON object")
    return plan_inputs(
        policy=str(raw.get("policy", "optimal")),
        time_limit_s=number("time_limit_s", 5.0),
        patients=None if scenario is not None else whole("patients", 40),
        scenario=scenario,
    )


class JobRunner:
    """Submits, runs and reports jobs for one process."""

    def __init__(
        self,
        store: JobStore,
        work: Mapping[JobKind, Work],
        *,
        clock: Callable[[], datetime],
        cache_context: Mapping[JobKind, Callable[[JsonObject], JsonObject]] | None = None,
        threads: int = 1,
    ) -> None:
        self.store = store
        self.work = dict(work)
        self.clock = clock
        self.cache_context = dict(cache_context or {})
        self.threads = threads
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool: list[threading.Thread] = []
        self._running: set[str] = set()

    # Asking ------------------------------------------------------------------------

    def submit(
        self,
        kind: JobKind,
        inputs: JsonObject,
        *,
        actor: User,
        again: bool = False,
        here: bool = False,
        listen: Progress | None = None,
    ) -> Job:
        """The job that gives these inputs' result: the cached, running or failed one
        (`answers_again`), else a new one, queued for the runner's threads or (`here`)
        run now in this thread."""
        authority.check(actor, authority.JOBS[kind].submit)
        key = job_key(kind, {**inputs, **self._context(kind, inputs)})
        found = self.store.newest(key)
        if found is not None and answers_again(found, again=again):
            return found
        now = self.clock()
        job = Job(
            id=f"J{now:%Y%m%d}-{uuid.uuid4().hex[:10]}",
            kind=kind,
            key=key,
            inputs=inputs,
            submitted_by=actor.username,
            submitted_at=now,
        )
        if here:
            job.state, job.worker, job.message = JobState.RUNNING, self.worker, "started"
            job.started_at = job.heartbeat_at = now
            self.store.add(job)
            self.execute(job, listen=listen)
            return self.store.get(job.id) or job
        self.store.add(job)
        self.start()
        self._wake.set()
        return job

    def get(self, job_id: str, *, actor: User) -> Job:
        """A job the user may read (the read its work's result needs), or NotFound."""
        job = self.store.get(job_id)
        if job is None:
            raise NotFound(f"there is no job {job_id}")
        authority.check(actor, authority.JOBS[job.kind].read)
        return job

    def latest(self, *, actor: User, limit: int = 50) -> list[Job]:
        """The newest jobs of the kinds this user may read."""
        kinds = [k for k, rule in authority.JOBS.items() if authority.may(actor, rule.read)]
        return self.store.latest(limit=limit, kinds=kinds) if kinds else []

    def artifact(self, job: Job) -> bytes | None:
        return self.store.artifact(job.id) if job.has_artifact else None

    def _context(self, kind: JobKind, inputs: JsonObject) -> JsonObject:
        """What else a result depends on, read now (`cache_context`, given the inputs):
        the triage weights in force for a plan; the ledger's tip and newest checkpoint
        for a verification (a new entry or checkpoint, a new verification)."""
        make = self.cache_context.get(kind)
        return {"context": make(inputs)} if make else {}

    # Running -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the threads (once): mark the jobs of stopped processes interrupted, then
        run queued jobs as they come."""
        with self._lock:
            if self._pool or self._stopping.is_set():
                return
            self.recover()
            self._pool = [
                threading.Thread(target=self._loop, name=f"{THREAD_PREFIX}-{n}", daemon=True)
                for n in range(1, self.threads + 1)
            ]
            self._pool.append(
                threading.Thread(target=self._beat, name=f"{THREAD_PREFIX}-heartbeat", daemon=True)
            )
            for thread in self._pool:
                thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a job still running is left to finish or, if the process
        ends first, to be marked interrupted by the next runner."""
        self._stopping.set()
        self._wake.set()
        for thread in self._pool:
            thread.join(timeout)

    def recover(self) -> int:
        """Mark interrupted the running jobs nobody has been heard from for STALE_AFTER."""
        now = self.clock()
        count = self.store.interrupt_stale(silent_since=now - STALE_AFTER, now=now)
        if count:
            log.warning("%d job(s) were cut short by a stopped worker: marked interrupted", count)
        return count

    def run_next(self) -> Job | None:
        """Claim and run the oldest queued job in this thread; None when none waits."""
        job = self.store.claim(self.worker, self.clock())
        if job is None:
            return None
        self.execute(job)
        return self.store.get(job.id)

    def execute(self, job: Job, *, listen: Progress | None = None) -> None:
        """Run a claimed job's work and store how it ended."""
        work = self.work[job.kind]
        with self._lock:
            self._running.add(job.id)
        try:
            outcome = work(job, self._reporter(job, listen))
        except DomainError as exc:
            self._end(job, JobState.FAILED, f"failed: {exc.message}", error=exc.message)
        except Exception as exc:  # the job fails, the runner goes on
            log.exception("job %s (%s) failed", job.id, job.kind.value)
            error = f"the job failed unexpectedly ({type(exc).__name__}); see the server log"
            self._end(job, JobState.FAILED, error, error=error)
        else:
            if listen is not None:
                listen(1.0, outcome.message)
            self._end(
                job,
                JobState.DONE,
                outcome.message,
                result=outcome.result,
                artifact=outcome.artifact,
            )
        finally:
            with self._lock:
                self._running.discard(job.id)

    def _end(self, job: Job, state: JobState, message: str, **values: Any) -> None:
        self.store.finish(job.id, state=state, now=self.clock(), message=message, **values)

    def _reporter(self, job: Job, listen: Progress | None) -> Progress:
        last = [0.0]

        def report(fraction: float, message: str) -> None:
            fraction = min(1.0, max(0.0, fraction))
            if listen is not None:
                listen(fraction, message)
            moment = time.monotonic()
            if moment - last[0] >= PROGRESS_EVERY_S or fraction >= 1.0:
                last[0] = moment
                self.store.progress(job.id, fraction, message, self.clock())

        return report

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                ran = self.run_next()
            except Exception:  # the database was away: try again after a pause
                log.exception("the job runner could not claim a job")
                ran = None
            if ran is None:
                self._wake.wait(POLL_S)
                self._wake.clear()

    def _beat(self) -> None:
        while not self._stopping.wait(HEARTBEAT_S):
            try:
                with self._lock:
                    running = list(self._running)
                self.store.heartbeat(running, self.clock())
                self.recover()
            except Exception:
                log.exception("the job runner's heartbeat failed")


@contextmanager
def timed_progress(
    progress: Progress, *, start: float, end: float, seconds: float, message: str
) -> Iterator[None]:
    """Report progress from `start` to `end` over `seconds` while a step that gives no
    progress of its own runs (a solver bounded by its time limit)."""
    done = threading.Event()

    def tick() -> None:
        began = time.monotonic()
        while not done.wait(1.0):
            share = min(1.0, (time.monotonic() - began) / max(seconds, 0.1))
            progress(start + (end - start) * share, message)

    ticker = threading.Thread(target=tick, name=f"{THREAD_PREFIX}-ticker", daemon=True)
    progress(start, message)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()


# The work of each kind ----------------------------------------------------------------

SWEEP_SEED = 2026


def run_sweep(job: Job, progress: Progress) -> Outcome:
    """A suite-count sweep of CARsgen's RTP facility (Business Wire release, 2022), and its
    chart."""
    import tempfile
    from importlib import resources
    from pathlib import Path

    from veinline.planning.simulation import load_scenario, sweep_suites
    from veinline.planning.simulation.plots import plot_sweep

    low, high = int(job.inputs["low"]), int(job.inputs["high"])
    replications = int(job.inputs["replications"])
    example = resources.files("veinline.planning") / "examples" / "rtp-simulation.json"
    config = load_scenario(Path(str(example)))
    counts = list(range(low, high + 1))
    total = replications * len(counts)
    finished = [0]

    def advance(count: int) -> None:
        finished[0] += count
        progress(0.95 * finished[0] / total, f"{finished[0]:,} of {total:,} replications")

    progress(0.0, f"simulating {total:,} replications")
    points = sweep_suites(
        config,
        counts,
        replications=replications,
        seed=SWEEP_SEED,
        engine="fast",
        workers=1,
        on_progress=advance,
    )
    progress(0.96, "drawing the chart")
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "sweep.png"
        plot_sweep(
            points,
            target,
            title=f"RTP facility, 700 patients a year: {replications} replications per suite count",
        )
        chart = target.read_bytes()
    result: JsonObject = {
        "seed": SWEEP_SEED,
        "points": [{"suites": p.suites, "network": p.summary.as_dict()["network"]} for p in points],
    }
    return Outcome(result, chart, f"{len(points)} suite counts, {replications} replications each")


def plan_work(
    handle: Callable[[commands.MakePlan, User], Any], user: Callable[[str], User]
) -> Work:
    """A plan job: the demo generator's patients (or the scenario given), planned through
    the planning handler (MakePlan: its ledger entry, its authority) as the submitter."""

    def run(job: Job, progress: Progress) -> Outcome:
        import json

        inputs = job.inputs
        scenario = inputs.get("scenario")
        if scenario is None:
            from veinline.planning import generate
            from veinline.planning.scenario import scenario_to_json

            patients = int(inputs["patients"])
            progress(0.02, f"generating {patients:,} demo patients")
            scenario = json.loads(scenario_to_json(generate.small(patients=patients)))
        limit = float(inputs["time_limit_s"])
        with timed_progress(
            progress, start=0.05, end=0.95, seconds=limit, message=f"planning (up to {limit:g} s)"
        ):
            record = handle(
                commands.MakePlan(
                    scenario=scenario, policy=str(inputs["policy"]), time_limit_s=limit
                ),
                user(job.submitted_by),
            )
        return Outcome({"plan_id": record.id}, message=f"plan {record.id} made")

    return run


def verify_work(uow: Callable[[], AbstractUnitOfWork], user: Callable[[str], User]) -> Work:
    """A ledger verification (services/ledger.py `check`, full or routine) as its
    submitter, who signs the checkpoint it records; progress as entries are walked."""

    def run(job: Job, progress: Progress) -> Outcome:
        from veinline.services import ledger

        full = bool(job.inputs["full"])

        def advance(done: int, total: int) -> None:
            if total and done >= total:
                progress(0.9, "comparing the records with their last snapshots")
            else:
                progress(0.9 * done / max(total, 1), f"{done:,} of {total:,} entries checked")

        progress(0.0, "walking the whole chain" if full else "walking the new entries")
        checkpoint, report = ledger.check(
            uow(), actor=user(job.submitted_by), full=full, progress=advance
        )
        result = ledger.outcome(checkpoint, report)
        if report.ok:
            message = (
                f"checkpoint #{checkpoint.number}: {checkpoint.entries_checked:,} entries and "
                f"{checkpoint.records_checked:,} records verified"
            )
        else:
            message = f"checkpoint #{checkpoint.number}: broken: {report.breaks[0].message}"
        return Outcome(result, message=message)

    return run


def trial_report_work(
    uow: Callable[[], AbstractUnitOfWork], render: Callable[[TrialData, Progress], Outcome]
) -> Work:
    """A trial's report at its cut-off: the outcomes read here, the report made by
    `render` (adapters/trial_report.py, wired by bootstrap: the fits, the curves, the
    HTML and the PDF)."""

    def run(job: Job, progress: Progress) -> Outcome:
        from veinline.services.trials import trial_data

        progress(0.02, "reading the trial's outcomes")
        with uow() as unit:
            data = trial_data(
                unit,
                str(job.inputs["trial_id"]),
                as_of=date.fromisoformat(str(job.inputs["as_of"])),
            )
        return render(data, progress)

    return run


def trial_report_context(
    uow: Callable[[], AbstractUnitOfWork],
) -> Callable[[JsonObject], JsonObject]:
    """A report's cache context: the fingerprint of the data it is made from, read as it
    is asked for (a few milliseconds: the trial's outcomes, no fitting or drawing); an
    unknown trial is NotFound here, before anything is queued."""

    def context(inputs: JsonObject) -> JsonObject:
        from veinline.services.trials import fingerprint, trial_data

        with uow() as unit:
            data = trial_data(
                unit, str(inputs["trial_id"]), as_of=date.fromisoformat(str(inputs["as_of"]))
            )
        return {"data": fingerprint(data)}

    return context
