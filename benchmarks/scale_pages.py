"""Benchmark: the pages people page through, with many cases (docs/architecture.md,
"Search and lists").

Run from the repository root:

    .venv/bin/python benchmarks/scale_pages.py                  # 10,000 cases: minutes
    .venv/bin/python benchmarks/scale_pages.py --cases 1000 --database /tmp/scale.db

On an SQLite database (a temporary one, or `--database`, kept and reused: cases already
there count towards `--cases`): the demo data plus generated cases
(`veinline demo load --cases N` makes the same ones, through the normal handlers). Then,
signed in as the demo coordinator (who sees both demo centres' patients) through the
web app in process, each page is fetched `--repeat` times and its time printed as
min / median / max in ms: the case board's first page, a search by name, a search by
DIN, a filtered page further on, the ledger's first page and a filtered ledger page.
Then the work queue (docs/architecture.md, "Work queues") of five roles: the home page
and `GET /api/v1/me/work` (its first page and page 2), signed in as the demo
coordinator (3 in 10 generated cases wait on their booking), physician (4 in 10 on
their confirmation), QA reviewer, apheresis nurse and courier; `--queue-only` times
these alone.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import Driver, load_demo_cases, load_many_cases
from veinline.bootstrap import App, bootstrap
from veinline.config import Settings
from veinline.entrypoints.http.app import create_app

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def prepare(app: App, cases: int) -> None:
    with app.uow() as uow:
        have = len(uow.cases.list())
    if have == 0:
        app.bus.handle(demo_command(), actor=app.system_user())
        load_demo_cases(Driver(app.bus, app.user, app.clock))
        with app.uow() as uow:
            have = len(uow.cases.list())
    wanted = max(0, cases - have)
    if wanted:
        started = time.perf_counter()
        load_many_cases(
            Driver(app.bus, app.user, app.clock),
            wanted,
            tell=lambda n: print(f"  {n} of {wanted} cases generated", flush=True),
        )
        took = time.perf_counter() - started
        print(f"generated {wanted} cases in {took:.0f} s ({took / wanted * 1e3:.1f} ms a case)")


def signed_in(app: App, username: str) -> TestClient:
    client = TestClient(create_app(app), base_url="https://testserver")
    token = _CSRF.search(client.get("/login").text)
    assert token is not None
    answer = client.post(
        "/login",
        data={
            "username": username,
            "password": "veinline-demo",
            "next": "/",
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


# Whose work queue is timed: the demo users of the roles with the most to read.
QUEUE_USERS = ("coordinator", "physician", "qa", "nurse", "courier")


def timed(client: TestClient, name: str, path: str, repeat: int, **options: object) -> None:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path, **options)  # type: ignore[arg-type]
        timings.append((time.perf_counter() - started) * 1e3)
        assert answer.status_code == 200, (path, answer.status_code)
    print(f"{name:<34} {min(timings):8.1f} {statistics.median(timings):8.1f} {max(timings):8.1f}")


def token(client: TestClient, username: str) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/token", data={"username": username, "password": "veinline-demo"}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def run(database: Path, cases: int, repeat: int, queue_only: bool = False) -> None:
    app = bootstrap(
        Settings(database_url=f"sqlite:///{database}", data_dir=database.parent),
        hasher=Argon2Hasher(fast_for_tests=True),
    )
    prepare(app, cases)
    with app.uow() as uow:
        total = len(uow.cases.list())
        entries = uow.ledger.count()
        din = next(c.current_din for c in uow.cases.list() if c.current_din)
    print(
        f"{total} cases, {entries} ledger entries; {repeat} runs each; "
        "the board and the ledger as the coordinator"
    )
    client = signed_in(app, "coordinator")
    pages = [
        ("board, first page", "/cases"),
        ("board, search by name", "/cases?q=Ada+Arden"),
        ("board, search by DIN", f"/cases?q={din}"),
        ("board, filtered, page 3", "/cases?product=eque-cel&state=eligible&page=3"),
        ("ledger, first page", "/ledger"),
        ("ledger, filtered", "/ledger?entity_type=case&action=case.enrolled&page=2"),
    ]
    print(f"{'page':<34} {'min':>8} {'median':>8} {'max':>8}  (ms)")
    for name, path in [] if queue_only else pages:
        timed(client, name, path, repeat)
    for username in QUEUE_USERS:
        client = signed_in(app, username)
        timed(client, f"home (queue), {username}", "/", repeat)
        headers = token(client, username)
        total = client.get("/api/v1/me/work", headers=headers).json()
        shown = len(total["items"])
        timed(client, f"API me/work, {username}", "/api/v1/me/work", repeat, headers=headers)
        timed(client, "  page 2", "/api/v1/me/work?page=2", repeat, headers=headers)
        print(f"  ({username}: {total.get('total', shown)} items, {shown} on a page)")
    app.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases in all (default 10000)")
    parser.add_argument("--repeat", type=int, default=7, help="fetches per page")
    parser.add_argument("--database", type=Path, help="an SQLite file to make or reuse")
    parser.add_argument(
        "--queue-only", action="store_true", help="time the work queues only (home and API)"
    )
    arguments = parser.parse_args()
    if arguments.database:
        run(arguments.database.resolve(), arguments.cases, arguments.repeat, arguments.queue_only)
        return
    with tempfile.TemporaryDirectory() as folder:
        run(Path(folder) / "veinline.db", arguments.cases, arguments.repeat, arguments.queue_only)


if __name__ == "__main__":
    main()
