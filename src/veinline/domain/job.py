"""Jobs: long work (a capacity sweep, a plan, a ledger verification) run off the request
path, with its progress and its result, cached by its inputs (docs/architecture.md,
"Jobs").

A job is not a regulated record: it keeps no patient data and changes nothing that the
ledger guards. The work it runs does (a plan job makes its plan through the planning
handler, which writes the ledger entry). A job's inputs are bounded here, before it is
queued, so bad input is refused in words at once and never reaches a worker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject, canonical_json


class JobKind(StrEnum):
    """What a job runs."""

    SWEEP = "capacity-sweep"
    PLAN = "plan"
    # A ledger verification too long for a request: a full one, or a routine one with
    # more new entries than services/ledger.py ROUTINE_INLINE_ENTRIES.
    LEDGER_VERIFY = "ledger-verify"
    # A trial's report (survival fits, curves, the PDF) at a data cut-off.
    TRIAL_REPORT = "trial-report"


class JobState(StrEnum):
    """Where a job is: waiting, running, or finished one of three ways."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # Its worker stopped (a restart, a crash) before it finished: submit it again.
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.INTERRUPTED)


def answers_again(job: Job, *, again: bool) -> bool:
    """Whether this job answers a new submission of its inputs: done, queued or running,
    yes (its result, or the job that will give it); failed, yes unless asked to run again
    (the same inputs would most likely fail the same way); interrupted, no."""
    if job.state in (JobState.QUEUED, JobState.RUNNING, JobState.DONE):
        return True
    return job.state is JobState.FAILED and not again


@dataclass(eq=False)
class Job:
    """One piece of long work: what it runs, who asked, how far it is, what it gave."""

    id: str
    kind: JobKind
    key: str
    inputs: JsonObject
    submitted_by: str
    submitted_at: datetime
    state: JobState = JobState.QUEUED
    progress: float = 0.0
    message: str = "waiting for a worker"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker: str | None = None
    result: JsonObject | None = None
    has_artifact: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The job as the API and `veinline job show --json` give it (inputs included:
        they hold no patient data)."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "state": self.state.value,
            "progress": round(self.progress, 4),
            "message": self.message,
            "inputs": self.inputs,
            "submitted_by": self.submitted_by,
            "submitted_at": self.submitted_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "result": self.result,
            "has_artifact": self.has_artifact,
            "error": self.error,
        }


def job_key(kind: JobKind, inputs: JsonObject) -> str:
    """The cache key: the same kind and inputs give the same key, whatever their order."""
    text = canonical_json({"kind": kind.value, "inputs": inputs})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Bounds of the capacity sweep: a sweep of 21 suite counts of 1,000 replications takes
# minutes on one core; more is a study for `veinline sweep` on a cluster.
SWEEP_MAX_COUNTS = 21
SWEEP_REPLICATIONS = (10, 1000)
# Bounds of a plan: the demo generator's patients and a scenario's, and the solver's time.
PLAN_MAX_PATIENTS = 1000
PLAN_TIME_LIMIT_S = (0.5, 120.0)
PLAN_POLICIES = ("optimal", "fifo")


def sweep_inputs(low: int, high: int, replications: int) -> JsonObject:
    """A capacity sweep's inputs, refused in words when out of bounds."""
    if not 1 <= low <= high <= low + SWEEP_MAX_COUNTS - 1:
        raise InvalidInput(
            f"suites from {low} to {high}: choose 1 to {SWEEP_MAX_COUNTS} suite counts, "
            "the lowest first and at least 1"
        )
    least, most = SWEEP_REPLICATIONS
    if not least <= replications <= most:
        raise InvalidInput(f"replications: choose {least} to {most}, not {replications}")
    return {"low": low, "high": high, "replications": replications}


TRIAL_ID_MAX = 40  # adapters/orm.py: trials.id


def trial_report_inputs(trial_id: str, as_of: date) -> JsonObject:
    """A trial report's inputs: the trial and the day its data is read as of."""
    trial_id = trial_id.strip()
    if not trial_id or len(trial_id) > TRIAL_ID_MAX:
        raise InvalidInput(f"trial: give a trial's id (1 to {TRIAL_ID_MAX} characters)")
    return {"trial_id": trial_id, "as_of": as_of.isoformat()}


def check_plan(policy: str, time_limit_s: float, patients: int) -> None:
    """Refuse in words a plan out of bounds: its policy, its solver's time, its size."""
    if policy not in PLAN_POLICIES:
        raise InvalidInput(f"policy: choose optimal or fifo, not {policy!r}")
    least, most = PLAN_TIME_LIMIT_S
    if not least <= time_limit_s <= most:
        raise InvalidInput(
            f"time limit: choose {least:g} to {most:g} seconds, not {time_limit_s:g}"
        )
    if not 1 <= patients <= PLAN_MAX_PATIENTS:
        raise InvalidInput(
            f"patients: a plan here takes 1 to {PLAN_MAX_PATIENTS:,} patients, not "
            f"{patients:,} (plan a larger network in parts, or with `veinline plan` on a "
            "machine of its own)"
        )


def plan_inputs(
    *,
    policy: str,
    time_limit_s: float,
    patients: int | None = None,
    scenario: JsonObject | None = None,
) -> JsonObject:
    """A plan job's inputs: the demo generator's patient count or a scenario, refused in
    words when out of bounds (a scenario's patients are counted here; the planning
    handler parses it)."""
    if (patients is None) == (scenario is None):
        raise InvalidInput("give either a number of patients or a scenario, not both")
    if scenario is not None:
        listed = scenario.get("patients")
        if not isinstance(listed, list):
            raise InvalidInput("the scenario lists no patients")
        count = len(listed)
    else:
        assert patients is not None
        count = patients
    check_plan(policy, time_limit_s, count)
    found: JsonObject = {"policy": policy, "time_limit_s": float(time_limit_s)}
    if scenario is not None:
        found["scenario"] = scenario
    else:
        found["patients"] = count
    return found
