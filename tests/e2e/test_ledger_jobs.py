"""No request verifies the whole ledger (SQLite and PostgreSQL): a full verification, or
a routine one with more than ROUTINE_INLINE_ENTRIES to walk, is a job; the API answers
202 with it and the ledger page shows its progress, then its checkpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.e2e.pages import DEMO_PASSWORD, sign_in_page
from veinline.adapters import orm
from veinline.bootstrap import App
from veinline.domain.job import Job, JobKind
from veinline.entrypoints.http.app import create_app
from veinline.services import ledger
from veinline.services.jobs import THREAD_PREFIX, Outcome, Progress


@pytest.fixture
def client(demo_app: App) -> Iterator[TestClient]:
    with TestClient(create_app(demo_app)) as test_client:
        yield test_client


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, str]]:
    """Every ledger check made: (full, the thread it ran in). A full one refuses to run
    anywhere but in a job runner's thread."""
    made: list[tuple[bool, str]] = []
    real = ledger.check

    def guarded(*args: Any, full: bool = False, **kwargs: Any) -> Any:
        thread = threading.current_thread().name
        if full and not thread.startswith(THREAD_PREFIX):
            raise AssertionError(f"a full verification ran in {thread}, not in a job")
        made.append((full, thread))
        return real(*args, full=full, **kwargs)

    monkeypatch.setattr(ledger, "check", guarded)
    return made


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _checkpoints(app: App) -> int:
    with app.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(orm.ledger_checkpoints)).scalar_one()
        )


def _finished(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    job = read()
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = read()
    return job


def test_the_api_queues_a_full_verification_and_its_job_gives_the_checkpoint(
    client: TestClient, demo_app: App, checks: list[tuple[bool, str]]
) -> None:
    qa = _token(client, "qa")
    answer = client.post("/api/v1/ledger/verify?full=true", headers=qa)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["kind"] == "ledger-verify" and job["inputs"] == {"full": True}
    assert answer.headers["location"] == f"/api/v1/jobs/{job['id']}"
    done = _finished(lambda: client.get(answer.headers["location"], headers=qa).json())
    assert done["state"] == "done" and done["progress"] == 1.0, done
    result = done["result"]
    assert result["ok"] and result["full"] and result["entries_checked"] == 55
    assert result["first_break"] is None and result["checkpoint"] == 1
    assert "55 entries and" in done["message"]
    kept = client.get("/api/v1/ledger/checkpoint", headers=qa).json()
    assert kept["number"] == 1 and kept["checked_by"] == "qa" and kept["full"]
    assert checks == [(True, checks[0][1])] and checks[0][1].startswith(THREAD_PREFIX)
    # Asked again once it has recorded its checkpoint: a new verification, a new job.
    again = client.post("/api/v1/ledger/verify?full=true", headers=qa)
    assert again.status_code == 202 and again.json()["id"] != job["id"]
    _finished(lambda: client.get(again.headers["location"], headers=qa).json())
    assert _checkpoints(demo_app) == 2
    # Who may not read the ledger may neither queue its verification nor read the job.
    courier = _token(client, "courier")
    assert client.post("/api/v1/ledger/verify?full=true", headers=courier).status_code == 403
    assert client.get(answer.headers["location"], headers=courier).status_code == 403


def test_a_routine_check_with_too_much_to_walk_is_a_job_too(
    client: TestClient,
    demo_app: App,
    checks: list[tuple[bool, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    qa = _token(client, "qa")
    # Within the bound: at once, in the request.
    inline = client.post("/api/v1/ledger/verify", headers=qa)
    assert inline.status_code == 200 and inline.json()["entries_checked"] == 55
    assert not checks[0][1].startswith(THREAD_PREFIX)
    issued = client.post(
        "/api/v1/identifiers",
        json={"kind": "coi", "fin": "A9993", "purpose": "routine check"},
        headers=_token(client, "nurse"),
    )
    assert issued.status_code == 201, issued.text
    monkeypatch.setattr(ledger, "ROUTINE_INLINE_ENTRIES", 0)
    queued = client.post("/api/v1/ledger/verify", headers=qa)
    assert queued.status_code == 202 and queued.json()["inputs"] == {"full": False}
    done = _finished(lambda: client.get(queued.headers["location"], headers=qa).json())
    assert done["result"]["entries_checked"] == 1 and not done["result"]["full"]
    assert checks[1] == (False, checks[1][1]) and checks[1][1].startswith(THREAD_PREFIX)


def test_a_broken_ledger_is_the_jobs_result(client: TestClient, demo_app: App) -> None:
    from sqlalchemy import text

    with demo_app.engine.begin() as conn:
        conn.execute(text("UPDATE users SET printed_name = 'Someone Else' WHERE username = 'qa'"))
    admin = _token(client, "admin")
    queued = client.post("/api/v1/ledger/verify?full=true", headers=admin)
    done = _finished(lambda: client.get(queued.headers["location"], headers=admin).json())
    assert done["state"] == "done" and not done["result"]["ok"]
    assert done["result"]["first_break"]["entity"] == "user qa"
    assert "broken" in done["message"]


def test_the_page_shows_a_full_verifications_progress_then_its_checkpoint(
    client: TestClient, demo_app: App, checks: list[tuple[bool, str]]
) -> None:
    # The job waits for the test's word, so its progress is on the page meanwhile.
    release = threading.Event()
    real = demo_app.jobs.work[JobKind.LEDGER_VERIFY]

    def held(job: Job, progress: Progress) -> Outcome:
        progress(0.0, "walking the whole chain")
        assert release.wait(30)
        return real(job, progress)

    demo_app.jobs.work[JobKind.LEDGER_VERIFY] = held
    assert sign_in_page(client, "qa").status_code == 303
    asked = client.post("/ledger/verify", data={"full": "true"}, follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"].startswith("/ledger?job=J")
    job_id = asked.headers["location"].split("=", 1)[1]
    page = client.get(asked.headers["location"])
    assert page.status_code == 200 and 'data-testid="job-status"' in page.text
    assert f'data-job-status="/jobs/{job_id}/status.json"' in page.text
    assert "Verifying the ledger (the whole chain)" in page.text
    assert "Not verified yet" in page.text and _checkpoints(demo_app) == 0
    # Asked again while it waits: the same job.
    twice = client.post("/ledger/verify", data={"full": "true"}, follow_redirects=False)
    assert twice.headers["location"] == asked.headers["location"]
    release.set()
    assert _finished(lambda: client.get(f"/jobs/{job_id}/status.json").json())["state"] == "done"
    page = client.get(asked.headers["location"])
    assert 'data-testid="job-status"' not in page.text
    assert "Verified: 55 entries checked from the first entry" in page.text
    assert "Checkpoint #1, full verification by qa" in page.text
    # The job's own page leads to the ledger page.
    seen = client.get(f"/jobs/{job_id}", follow_redirects=False)
    assert seen.status_code == 303 and seen.headers["location"] == f"/ledger?job={job_id}"
    assert len(checks) == 1 and checks[0][1].startswith(THREAD_PREFIX)
    # A routine check with little to walk is still done at once.
    routine = client.post("/ledger/verify", data={}, follow_redirects=False)
    assert routine.headers["location"] == "/ledger" and _checkpoints(demo_app) == 2
    assert "routine verification by qa" in client.get("/ledger").text
