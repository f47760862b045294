"""Benchmark: custody scans under load, through a PostgreSQL-backed server on loopback,
next to the same load on a trivial endpoint measured in the same run.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, as for the tests):

    .venv/bin/python benchmarks/scan_load.py
    .venv/bin/python benchmarks/scan_load.py --requests 400 --concurrency 8 --workers 1
    VEINLINE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/scan_load.py

A scratch database is created next to the one the URL names (and dropped at the end),
migrated and loaded with the demo catalogue, sites and users. Two cases wait for the
courier at collection (state "collected"): a fresh one, and one that already has
`--prior` custody events (1,000 by default, each a real scan through the message bus).
The apheresis nurse's API token signs every request.

For each worker count (`--workers`, default 1 and 2) the server is started as
`veinline serve --workers N --no-demo --no-access-log` in a process of its own; this
process is the load generator: `--concurrency` threads, each with its own keep-alive
connection, send `--requests` requests in all and time each one. It prints, per
endpoint, requests/s, p50 and p99 latency and the errors (any answer but the expected
status):

- anchor: `GET /api/v1/me`, the same token lookup and server path with no handler;
- `POST /api/v1/custody/scans` at collection on one fresh case from every thread (each
  scan holds the case's row lock, so these queue on one another: the worst case);
- the same on the case with `--prior` events;
- scans spread over `--concurrency` cases, one a thread, as a hospital's scanners work on
  different patients' bags (no scan waits on another's lock).

The machine's cores are shared by the server, PostgreSQL and this generator, so the
figures are what this machine gives, not what a server with cores of its own would.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _scratch import DEFAULT_POSTGRES, demo_app, scratch_keys, scratch_postgres, server

from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver, barcode
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.sign_in import TokenKind
from veinline.services import auth, commands

SCANNER = "nurse"  # the demo's apheresis nurse scans at collection


@dataclass(frozen=True)
class Result:
    """One bounded run against one endpoint."""

    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self, label: str) -> str:
        return (
            f"  {label:<44} {self.per_second:7.1f} req/s   p50 {self.percentile(0.5):6.1f} ms"
            f"   p99 {self.percentile(0.99):6.1f} ms   errors {self.errors}"
        )


def load(
    port: int,
    method: str,
    path: str,
    *,
    body: dict[str, object] | list[dict[str, object]] | None,
    token: str,
    requests: int,
    concurrency: int,
    expect: int,
) -> Result:
    """`requests` requests from `concurrency` threads, each on its own keep-alive
    connection; each request's latency is from its first byte sent to its answer read.
    A list of bodies: thread i sends body i (modulo their number), one case per scanner."""
    bodies = body if isinstance(body, list) else [body]
    payloads = [None if b is None else json.dumps(b).encode() for b in bodies]
    headers = {"Authorization": f"Bearer {token}"}
    if payloads[0] is not None:
        headers["Content-Type"] = "application/json"
    latencies: list[float] = []
    errors = 0
    left = requests
    guard = threading.Lock()

    def worker(payload: bytes | None) -> None:
        nonlocal left, errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        failed = 0
        while True:
            with guard:
                if left == 0:
                    break
                left -= 1
            started = time.perf_counter()
            try:
                connection.request(method, path, body=payload, headers=headers)
                answer = connection.getresponse()
                answer.read()
                ok = answer.status == expect
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine.append((time.perf_counter() - started) * 1000)
            failed += 0 if ok else 1
        connection.close()
        with guard:
            latencies.extend(mine)
            errors += failed

    threads = [
        threading.Thread(target=worker, args=(payloads[i % len(payloads)],))
        for i in range(concurrency)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(requests, time.perf_counter() - started, latencies, errors)


def collected_case(driver: Driver, name: str) -> Case:
    """A case whose material waits at collection, where the nurse scans the bag."""
    case = driver.enrol(EQUE_CEL_HK, patient_name=f"Load {name}", wristband=f"WB-LOAD-{name}")
    return driver.advance(case, EQUE_CEL_HK, CaseState.COLLECTED)


def scan_body(case: Case) -> dict[str, object]:
    return {"case_id": case.id, "point": "collection", "data": barcode(case)}


def prepare(app: App, prior: int) -> tuple[Driver, Case, str]:
    """Demo catalogue and users, the case with `prior` events, and the nurse's token."""
    app.bus.handle(demo_command(), actor=app.system_user())
    driver = Driver(app.bus, app.user, app.clock)
    busy = collected_case(driver, "busy")
    nurse = app.user(SCANNER)
    scan = commands.ScanCustody(busy.id, "collection", barcode(busy))
    started = time.perf_counter()
    for _ in range(prior):
        app.bus.handle(scan, actor=nurse)
    if prior:
        took = time.perf_counter() - started
        print(f"  ({prior} prior events recorded through the bus in {took:.1f} s)")
    token = auth.issue_token(app.uow(), nurse, kind=TokenKind.API, clock=app.clock)
    return driver, busy, token


def measure(
    port: int, token: str, args: argparse.Namespace, fresh: Case, busy: Case, spread: list[Case]
) -> None:
    """The anchor and the scan runs against one server, after a warm-up."""
    me: tuple[str, str, Any, int] = ("GET", "/api/v1/me", None, 200)
    scans = "POST", "/api/v1/custody/scans"
    runs: list[tuple[str, tuple[str, str, Any, int]]] = [
        ("anchor: GET /api/v1/me", me),
        ("scan, one case from every thread", (*scans, scan_body(fresh), 201)),
        (f"scan, case with {args.prior:,}+ prior events", (*scans, scan_body(busy), 201)),
        (
            f"scan, {len(spread)} cases (one a thread)",
            (*scans, [scan_body(c) for c in spread], 201),
        ),
    ]
    # Warm up: every worker's connections, caches and first imports.
    for (method, path, body, expect), count in ((me, 100), (runs[1][1], 50)):
        load(port, method, path, body=body, token=token, requests=count,
             concurrency=args.concurrency, expect=expect)  # fmt: skip
    for label, (method, path, body, expect) in runs:
        result = load(
            port,
            method,
            path,
            body=body,
            token=token,
            requests=args.requests,
            concurrency=args.concurrency,
            expect=expect,
        )
        print(result.line(label))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--workers", default="1,2", help="server worker counts, e.g. 1,2")
    parser.add_argument("--prior", type=int, default=1000, help="events before the load")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("VEINLINE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a PostgreSQL URL (default: $VEINLINE_BENCH_POSTGRES_URL, else the local one)",
    )
    args = parser.parse_args()
    scratch_keys()
    env = dict(os.environ)
    print(
        f"custody scan load ({os.cpu_count()} CPUs shared by server, PostgreSQL and client; "
        f"{args.requests} requests per line, {args.concurrency} client threads)"
    )
    with tempfile.TemporaryDirectory() as workdir, scratch_postgres(args.postgres) as url:
        app = demo_app(url, Path(workdir), demo=False)
        try:
            driver, busy, token = prepare(app, args.prior)
            env.update(VEINLINE_DATABASE_URL=url, VEINLINE_DATA_DIR=workdir)
            for workers in (int(w) for w in args.workers.split(",")):
                fresh = collected_case(driver, f"fresh{workers}")
                spread = [
                    collected_case(driver, f"w{workers}t{i}") for i in range(args.concurrency)
                ]
                with server(env, workers, token) as port:
                    print(f"PostgreSQL, {workers} worker(s):")
                    measure(port, token, args, fresh, busy, spread)
        finally:
            app.engine.dispose()


if __name__ == "__main__":
    main()
