"""Benchmark: reading a case (`GET /api/v1/cases/{id}`) through a PostgreSQL-backed
server on loopback, a small case and one with ~460 assessments, next to a trivial
endpoint measured in the same run.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, as for the tests):

    .venv/bin/python benchmarks/case_read.py
    .venv/bin/python benchmarks/case_read.py --assessments 460 --requests 300

A scratch database is created next to the one `--postgres` names (default: the local
server, or $VEINLINE_BENCH_POSTGRES_URL) and dropped at the end. Two cases are taken to
follow-up through the real handlers: a small one (the first day's CRS and ICANS checks)
and one with `--assessments` graded assessments (CRS, recorded through the message bus).
The coordinator of their treatment centre reads them (full patient data and the ledger).
`veinline serve --no-demo --no-access-log` runs in a process of its own; this process
sends `--requests` reads one after another (`--concurrency` 1 by default, so the figures
are each request's own latency) and prints p50, p99, requests/s and the answer's size,
next to `GET /api/v1/me` (the same token lookup and server path with no read model).
"""

from __future__ import annotations

import argparse
import http.client
import os
import tempfile
import time
from pathlib import Path

from _scratch import DEFAULT_POSTGRES, demo_app, scratch_keys, scratch_postgres, server
from scan_load import load

from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.sign_in import TokenKind
from veinline.services import auth, commands

READER = "coordinator"  # the care team: full data, the ledger
CRS = {
    "temperature_c": 38.4,
    "fever_masked_by_treatment": False,
    "hypotension": False,
    "vasopressors": [],
    "oxygen": {"device": "none"},
    "death_from_crs": False,
}


def followed_up(driver: Driver, name: str) -> Case:
    case = driver.enrol(EQUE_CEL_HK, patient_name=f"Read {name}", wristband=f"WB-READ-{name}")
    case = driver.advance(case, EQUE_CEL_HK, CaseState.FOLLOW_UP)
    driver.follow_up(case)
    return case


def prepare(app: App, assessments: int) -> tuple[Case, Case, str]:
    app.bus.handle(demo_command(), actor=app.system_user())
    driver = Driver(app.bus, app.user, app.clock)
    small = followed_up(driver, "small")
    big = followed_up(driver, "big")
    nurse = app.user("nurse")
    with app.uow() as uow:
        dates = sorted(uow.assessment_dates(big.id))
    started = time.perf_counter()
    for _ in range(assessments - 2):
        app.bus.handle(commands.RecordAssessment(big.id, "crs", dates[-1], CRS), actor=nurse)
    took = time.perf_counter() - started
    print(f"  ({assessments} assessments on the big case, recorded in {took:.1f} s)")
    token = auth.issue_token(app.uow(), app.user(READER), kind=TokenKind.API, clock=app.clock)
    return small, big, token


def size_of(port: int, path: str, token: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    assert answer.status == 200, body[:300]
    return len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--assessments", type=int, default=460, help="on the big case")
    parser.add_argument("--requests", type=int, default=300, help="reads per line")
    parser.add_argument("--concurrency", type=int, default=1, help="client threads")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("VEINLINE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL URL (default: $VEINLINE_BENCH_POSTGRES_URL, else the local one)",
    )
    args = parser.parse_args()
    scratch_keys()
    env = dict(os.environ)
    print(
        f"case read ({os.cpu_count()} CPUs shared by server, PostgreSQL and client; "
        f"{args.requests} requests per line, {args.concurrency} client thread(s))"
    )
    with tempfile.TemporaryDirectory() as workdir, scratch_postgres(args.postgres) as url:
        app = demo_app(url, Path(workdir), demo=False)
        try:
            small, big, token = prepare(app, args.assessments)
            env.update(VEINLINE_DATABASE_URL=url, VEINLINE_DATA_DIR=workdir)
            with server(env, 1, token) as port:
                print("PostgreSQL, 1 worker:")
                lines = [
                    ("anchor: GET /api/v1/me", "/api/v1/me"),
                    ("GET /api/v1/cases/{id}, small case", f"/api/v1/cases/{small.id}"),
                    (
                        f"GET /api/v1/cases/{{id}}, {args.assessments} assessments",
                        f"/api/v1/cases/{big.id}",
                    ),
                ]
                for _, path in lines:  # warm up
                    load(port, "GET", path, body=None, token=token, requests=20,
                         concurrency=args.concurrency, expect=200)  # fmt: skip
                for label, path in lines:
                    result = load(
                        port,
                        "GET",
                        path,
                        body=None,
                        token=token,
                        requests=args.requests,
                        concurrency=args.concurrency,
                        expect=200,
                    )
                    size = size_of(port, path, token)
                    print(f"{result.line(label)}   {size / 1024:,.1f} KiB")
        finally:
            app.engine.dispose()


if __name__ == "__main__":
    main()
