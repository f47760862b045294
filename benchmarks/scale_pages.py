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
DIN, a filtered page further on, the ledger's first page, a filtered ledger page, and
the home page (the work queue).
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


def run(database: Path, cases: int, repeat: int) -> None:
    app = bootstrap(
        Settings(database_url=f"sqlite:///{database}", data_dir=database.parent),
        hasher=Argon2Hasher(fast_for_tests=True),
    )
    prepare(app, cases)
    with app.uow() as uow:
        total = len(uow.cases.list())
        entries = uow.ledger.count()
        din = next(c.current_din for c in uow.cases.list() if c.current_din)
    print(f"{total} cases, {entries} ledger entries; signed in as coordinator; {repeat} runs each")
    client = signed_in(app, "coordinator")
    pages = [
        ("board, first page", "/cases"),
        ("board, search by name", "/cases?q=Ada+Arden"),
        ("board, search by DIN", f"/cases?q={din}"),
        ("board, filtered, page 3", "/cases?product=eque-cel&state=eligible&page=3"),
        ("ledger, first page", "/ledger"),
        ("ledger, filtered", "/ledger?entity_type=case&action=case.enrolled&page=2"),
        ("work queue (home)", "/"),
    ]
    print(f"{'page':<28} {'min':>8} {'median':>8} {'max':>8}  (ms)")
    for name, path in pages:
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            answer = client.get(path)
            timings.append((time.perf_counter() - started) * 1e3)
            assert answer.status_code == 200, (path, answer.status_code)
        print(
            f"{name:<28} {min(timings):8.1f} {statistics.median(timings):8.1f} {max(timings):8.1f}"
        )
    app.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases in all (default 10000)")
    parser.add_argument("--repeat", type=int, default=7, help="fetches per page")
    parser.add_argument("--database", type=Path, help="an SQLite file to make or reuse")
    arguments = parser.parse_args()
    if arguments.database:
        run(arguments.database.resolve(), arguments.cases, arguments.repeat)
        return
    with tempfile.TemporaryDirectory() as folder:
        run(Path(folder) / "veinline.db", arguments.cases, arguments.repeat)


if __name__ == "__main__":
    main()
