"""The job table (adapters/orm.py, `jobs`) through SQLAlchemy Core: what the job runner
(services/jobs.py) stores and claims.

Each call is one short transaction of its own, outside any unit of work: a job's progress
is written while its work runs, and is not a regulated change. Claiming takes the oldest
queued job with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so the runners of
several server processes never take the same job and never wait on each other
(PostgreSQL manual, "The Locking Clause"); SQLite's writes are serial (BEGIN IMMEDIATE,
adapters/database.py), so there the same statements cannot race.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, select, update

from veinline.adapters.database import READ_ONLY
from veinline.adapters.orm import jobs
from veinline.domain.job import Job, JobKind, JobState
from veinline.domain.ledger import JsonObject

# Every column but the artifact (a PNG can be hundreds of kilobytes): lists and status
# reads never load it.
_COLUMNS = [c for c in jobs.c if c.name != "artifact"]


def _job(row: Row[Any]) -> Job:
    values = row._mapping
    return Job(
        id=values["id"],
        kind=JobKind(values["kind"]),
        key=values["key"],
        inputs=values["inputs"],
        submitted_by=values["submitted_by"],
        submitted_at=values["submitted_at"],
        state=JobState(values["state"]),
        progress=values["progress"],
        message=values["message"],
        started_at=values["started_at"],
        finished_at=values["finished_at"],
        heartbeat_at=values["heartbeat_at"],
        worker=values["worker"],
        result=values["result"],
        has_artifact=bool(values["has_artifact"]),
        error=values["error"],
    )


class SqlJobStore:
    """Jobs in the database veinline runs on."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _select(self) -> Any:
        return select(*_COLUMNS, jobs.c.artifact.is_not(None).label("has_artifact"))

    def _read(self, statement: Any) -> list[Job]:
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            return [_job(row) for row in connection.execute(statement)]

    def add(self, job: Job) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                jobs.insert().values(
                    id=job.id,
                    kind=job.kind.value,
                    key=job.key,
                    inputs=job.inputs,
                    state=job.state.value,
                    progress=job.progress,
                    message=job.message,
                    submitted_by=job.submitted_by,
                    submitted_at=job.submitted_at,
                    started_at=job.started_at,
                    heartbeat_at=job.heartbeat_at,
                    worker=job.worker,
                )
            )

    def get(self, job_id: str) -> Job | None:
        found = self._read(self._select().where(jobs.c.id == job_id))
        return found[0] if found else None

    def newest(self, key: str) -> Job | None:
        """The newest job of these inputs, if any."""
        found = self._read(
            self._select()
            .where(jobs.c.key == key)
            .order_by(jobs.c.submitted_at.desc(), jobs.c.id.desc())
            .limit(1)
        )
        return found[0] if found else None

    def latest(self, *, limit: int, kinds: Iterable[JobKind] | None = None) -> list[Job]:
        statement = self._select().order_by(jobs.c.submitted_at.desc(), jobs.c.id.desc())
        if kinds is not None:
            statement = statement.where(jobs.c.kind.in_([k.value for k in kinds]))
        return self._read(statement.limit(limit))

    def artifact(self, job_id: str) -> bytes | None:
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            found = connection.execute(select(jobs.c.artifact).where(jobs.c.id == job_id))
            value = found.scalar_one_or_none()
        return bytes(value) if value is not None else None

    def claim(self, worker: str, now: datetime) -> Job | None:
        """Take the oldest queued job for `worker`, or None when none waits."""
        # An idle runner looks every few seconds: a read first, so looking takes no
        # write lock (SQLite's BEGIN IMMEDIATE would hold every writer back meanwhile).
        with self.engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            waiting = connection.execute(
                select(jobs.c.id).where(jobs.c.state == JobState.QUEUED.value).limit(1)
            ).first()
        if waiting is None:
            return None
        with self.engine.begin() as connection:
            chosen = connection.execute(
                select(jobs.c.id)
                .where(jobs.c.state == JobState.QUEUED.value)
                .order_by(jobs.c.submitted_at, jobs.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if chosen is None:
                return None
            connection.execute(
                update(jobs)
                .where(jobs.c.id == chosen, jobs.c.state == JobState.QUEUED.value)
                .values(
                    state=JobState.RUNNING.value,
                    worker=worker,
                    started_at=now,
                    heartbeat_at=now,
                    message="started",
                )
            )
        return self.get(chosen)

    def progress(self, job_id: str, fraction: float, message: str, now: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == JobState.RUNNING.value)
                .values(progress=fraction, message=message, heartbeat_at=now)
            )

    def heartbeat(self, job_ids: Iterable[str], now: datetime) -> None:
        ids = list(job_ids)
        if not ids:
            return
        with self.engine.begin() as connection:
            connection.execute(
                update(jobs)
                .where(jobs.c.id.in_(ids), jobs.c.state == JobState.RUNNING.value)
                .values(heartbeat_at=now)
            )

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
    ) -> None:
        values: dict[str, Any] = {
            "state": state.value,
            "finished_at": now,
            "heartbeat_at": now,
            "message": message,
            "result": result,
            "artifact": artifact,
            "error": error,
        }
        if state is JobState.DONE:
            values["progress"] = 1.0
        with self.engine.begin() as connection:
            connection.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def interrupt_stale(self, *, silent_since: datetime, now: datetime) -> int:
        """Mark interrupted every running job whose worker has not been heard from since
        `silent_since` (it stopped: a restart, a crash); how many were."""
        with self.engine.begin() as connection:
            done = connection.execute(
                update(jobs)
                .where(
                    jobs.c.state == JobState.RUNNING.value,
                    jobs.c.heartbeat_at < silent_since,
                )
                .values(
                    state=JobState.INTERRUPTED.value,
                    finished_at=now,
                    message="interrupted: its worker stopped before it finished; run it again",
                )
            )
        return int(done.rowcount)
