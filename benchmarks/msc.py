"""Benchmark: allocating an MSC course with 10,000 vials in stock, and a look-back over a
year of orders, on SQLite (and on PostgreSQL when VEINLINE_BENCH_POSTGRES_URL or
VEINLINE_TEST_POSTGRES_URL names a server: a scratch database is made and dropped).

Run from the repository root:

    .venv/bin/python benchmarks/msc.py                  # SQLite, then PostgreSQL if set
    .venv/bin/python benchmarks/msc.py --orders 365 --vials 10000

Setup: twelve lots are made and released through the real handlers (donor, batch
record, QC, QA); their 10,000 vials are then inserted in bulk straight into the table
(no ledger entries: this database is thrown away), across two depots. Timed:

- allocation: `AllocateOrder` through the message bus (authority, the stock query, FEFO
  over every candidate vial, SKIP LOCKED on PostgreSQL, the reservation and its ledger
  entries), one course of 6 vials, repeated; median and worst.
- look-back: a year of orders (one a day, placed and allocated through the bus, their
  vials then marked infused in bulk), then `lookback` from one lot and from one donor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from veinline.adapters import orm
from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import Driver
from veinline.adapters.seed.msc import MscDriver
from veinline.bootstrap import App, bootstrap
from veinline.config import Settings
from veinline.domain.msc import OrderStatus, VialStatus, division
from veinline.services import commands
from veinline.services import msc as msc_service

LOTS = 12
DEPOTS = (("SH-TANK-1", "demo-sh-depot"), ("SZ-TANK-1", "demo-suzhou-manufacturing"))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _app(url: str, data_dir: Path, clock: Clock) -> App:
    return bootstrap(
        Settings(database_url=url, data_dir=data_dir),
        clock=clock,
        hasher=Argon2Hasher(fast_for_tests=True),
        migrate="always",
    )


def _stock(app: App, clock: Clock, vials: int) -> MscDriver:
    app.bus.handle(demo_command(), actor=app.system_user())
    msc = MscDriver(Driver(app.bus, app.user, clock))
    for unit, site in DEPOTS:
        msc.unit(unit, site, racks=10, boxes=10)
    per_lot = -(-vials // LOTS)
    rows: list[dict[str, object]] = []
    for n in range(1, LOTS + 1):
        msc.donor(f"DNR-B{n:02d}")
        lot = msc.lot(f"LOT-B{n:02d}", f"DNR-B{n:02d}", "vum02")
        unit, site = DEPOTS[n % 2]
        for i in range(1, min(per_lot, vials - len(rows)) + 1):
            slot = (n // 2) * per_lot + i - 1
            rack, rest = divmod(slot, 10 * 81)
            box, cell = divmod(rest, 81)
            row, col = divmod(cell, 9)
            rows.append(
                {
                    "id": f"{lot.id}-{i:03d}",
                    "lot_id": lot.id,
                    "product_code": "vum02",
                    "din": lot.din,
                    "division": division(i),
                    "cells": 5e7,
                    "volume_ml": 10.0,
                    "expires_at": clock() + timedelta(days=400 + (slot % 200)),
                    "site": site,
                    "status": VialStatus.STORED,
                    "position": f"{unit}/R{rack + 1}/B{box + 1}/{'ABCDEFGHI'[row]}{col + 1}",
                    "order_id": None,
                    "quarantine": None,
                    "history": [],
                    "version": 1,
                }
            )
    with app.engine.begin() as conn:
        conn.execute(orm.msc_vials.insert(), rows)
    return msc


def _allocations(app: App, msc: MscDriver, clock: Clock, repeats: int) -> list[float]:
    qa = app.user("qa")
    times = []
    for n in range(repeats):
        order = msc.order(f"ORD-A{n:03d}", "vum02", age=50, wristband=f"WB-A{n:03d}")
        started = time.perf_counter()
        result = app.bus.handle(commands.AllocateOrder(order.id), actor=qa)
        times.append(time.perf_counter() - started)
        assert result.status is OrderStatus.ALLOCATED, result.shortage
    return times


def _year_of_orders(app: App, msc: MscDriver, clock: Clock, orders: int) -> None:
    qa = app.user("qa")
    for n in range(orders):
        clock.now += timedelta(days=365 / orders)
        order = msc.order(f"ORD-Y{n:04d}", "vum02", age=50, wristband=f"WB-Y{n:04d}")
        app.bus.handle(commands.AllocateOrder(order.id), actor=qa)
    with app.engine.begin() as conn:
        t = orm.msc_vials.c
        conn.execute(
            update(orm.msc_vials)
            .where(t.order_id.is_not(None))
            .values(status=VialStatus.INFUSED, position=None)
        )


def _lookback(app: App, **where: str) -> tuple[float, int, int]:
    qa = app.user("physician")
    started = time.perf_counter()
    with app.uow() as uow:
        trace = msc_service.lookback(uow, qa, **where)
    return time.perf_counter() - started, len(trace.vials), len(trace.recipients)


def bench(name: str, url: str, vials: int, orders: int, repeats: int) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        app = _app(url, Path(folder), clock)
        try:
            started = time.perf_counter()
            msc = _stock(app, clock, vials)
            setup = time.perf_counter() - started
            times = _allocations(app, msc, clock, repeats)
            print(f"\n== {name}: {vials:,} vials in stock (setup {setup:.1f} s)")
            print(
                f"   allocate a course (6 vials)   median {1000 * statistics.median(times):.0f} ms,"
                f" worst {1000 * max(times):.0f} ms over {repeats} orders"
            )
            started = time.perf_counter()
            _year_of_orders(app, msc, clock, orders)
            print(
                f"   a year of orders              {orders} placed and allocated in "
                f"{time.perf_counter() - started:.1f} s"
            )
            for label, where in (
                ("lot", {"lot_id": "LOT-B01"}),
                ("donor", {"donor_id": "DNR-B02"}),
            ):
                seconds, traced, recipients = _lookback(app, **where)
                print(
                    f"   look-back from a {label:<6}       {1000 * seconds:.0f} ms "
                    f"({traced} vials, {recipients} recipients)"
                )
        finally:
            app.engine.dispose()


def _pg_url() -> str | None:
    return os.environ.get("VEINLINE_BENCH_POSTGRES_URL") or os.environ.get(
        "VEINLINE_TEST_POSTGRES_URL"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vials", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=365, help="orders in the year")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bench("SQLite", f"sqlite:///{folder}/bench.db", args.vials, args.orders, args.repeats)
    admin_url = _pg_url()
    if admin_url is None:
        print("\n(PostgreSQL: set VEINLINE_BENCH_POSTGRES_URL to run it there too)")
        return
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"veinline_bench_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        bench("PostgreSQL", url, args.vials, args.orders, args.repeats)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
