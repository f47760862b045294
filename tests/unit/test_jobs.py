"""Job inputs are bounded in words before anything is queued (domain/job.py,
services/jobs.py), and which earlier job answers a submission again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veinline.domain.errors import InvalidInput
from veinline.domain.job import Job, JobKind, JobState, answers_again, job_key
from veinline.services.jobs import parse_inputs


@pytest.mark.parametrize(
    ("kind", "raw", "words"),
    [
        (JobKind.SWEEP, {"low": 30, "high": 20}, "the lowest first"),
        (JobKind.SWEEP, {"low": 1, "high": 40}, "choose 1 to 21 suite counts"),
        (JobKind.SWEEP, {"replications": 5}, "replications: choose 10 to 1000, not 5"),
        (JobKind.SWEEP, {"replications": 10**6}, "replications: choose 10 to 1000"),
        (JobKind.SWEEP, {"low": "many"}, "low: give a whole number, not 'many'"),
        (JobKind.SWEEP, {"seed": 3}, "takes high, low, replications, not seed"),
        (JobKind.PLAN, {"patients": 100000}, "takes 1 to 1,000 patients, not 100,000"),
        (JobKind.PLAN, {"patients": 0}, "takes 1 to 1,000 patients, not 0"),
        (JobKind.PLAN, {"time_limit_s": 600}, "time limit: choose 0.5 to 120 seconds"),
        (JobKind.PLAN, {"policy": "guess"}, "policy: choose optimal or fifo"),
        (JobKind.PLAN, {"scenario": {"patients": [{}] * 1001}}, "not 1,001"),
        (JobKind.PLAN, {"scenario": "plan it"}, "give the scenario as a JSON object"),
    ],
)
def test_inputs_out_of_bounds_are_refused_in_words(
    kind: JobKind, raw: dict[str, object], words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_inputs(kind, raw)


def test_inputs_in_bounds_are_normalised_so_equal_inputs_share_a_key() -> None:
    one = parse_inputs(JobKind.SWEEP, {"low": "26", "high": " 28 ", "replications": 20})
    other = parse_inputs(JobKind.SWEEP, {"replications": "20", "high": 28, "low": 26})
    assert one == other == {"low": 26, "high": 28, "replications": 20}
    assert job_key(JobKind.SWEEP, one) == job_key(JobKind.SWEEP, other)
    assert job_key(JobKind.SWEEP, one) != job_key(JobKind.PLAN, one)
    plan = parse_inputs(JobKind.PLAN, {"patients": "40"})
    assert plan == {"patients": 40, "policy": "optimal", "time_limit_s": 5.0}


@pytest.mark.parametrize(
    ("state", "again", "answers"),
    [
        (JobState.QUEUED, True, True),
        (JobState.RUNNING, True, True),
        (JobState.DONE, True, True),
        (JobState.FAILED, False, True),
        (JobState.FAILED, True, False),
        (JobState.INTERRUPTED, False, False),
    ],
)
def test_which_job_answers_its_inputs_again(state: JobState, again: bool, answers: bool) -> None:
    job = Job(
        id="J-1",
        kind=JobKind.SWEEP,
        key="k",
        inputs={},
        submitted_by="planner",
        submitted_at=datetime(2026, 3, 2, tzinfo=UTC),
        state=state,
    )
    assert answers_again(job, again=again) is answers
