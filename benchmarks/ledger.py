"""Benchmark: ledger append and verification, each next to its anchor measured in the same run.

Run from the repository root:

    .venv/bin/python benchmarks/ledger.py                   # SQLite (a file in a temp dir)
    VEINLINE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/ledger.py               # SQLite, then PostgreSQL
    .venv/bin/python benchmarks/ledger.py --entries 20000 --appends 500   # a quicker run

On PostgreSQL a scratch database is created next to the one the URL names and dropped at
the end. For each database it prints:

- ledger append through a handler (`SetProductField`, one committed transaction each,
  its ledger entry included), next to raw fsync-bound inserts: one row and one COMMIT
  at a time into a bare table on the same database (the ceiling any durable write has);
- a full verification (`ledger verify --full`: the whole chain, every regulated record,
  a checkpoint recorded) in entries/s, next to a bare SHA-256 chain in Python over the
  same texts, as many as there are entries (hashing and nothing else);
- a routine check (`ledger verify`) after 1,000 new entries on that ledger: it walks
  only what is new since the checkpoint.

The ledger is grown to `--entries` by sealing entries that restate the stored records'
snapshots (the demo's mix of entry sizes; the records still match) and inserting them in
batches; the chain is the real one, hashed as the ledger hashes it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _scratch import demo_app, scratch_postgres
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

from veinline.adapters import orm
from veinline.bootstrap import App
from veinline.domain.ledger import (
    STORED_COLUMNS,
    LedgerDraft,
    StoredRow,
    hashed_text,
    seal,
    stored_row,
)
from veinline.domain.user import User
from veinline.services import commands, ledger

PRODUCT = "eque-cel"  # the product whose field the timed handler sets


def handler_appends(app: App, admin: User, count: int) -> float:
    """Appends per second through `SetProductField`, each its own transaction."""
    started = time.perf_counter()
    for i in range(count):
        app.bus.handle(
            commands.SetProductField(
                code=PRODUCT, field="target", value=f"CD19 {i}", reason="benchmark"
            ),
            actor=admin,
        )
    return count / (time.perf_counter() - started)


def raw_inserts(app: App, count: int) -> float:
    """Single-row INSERT + COMMIT per second into a bare table on the same database."""
    bare = Table(
        "bench_raw_inserts",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("payload", Text, nullable=False),
    )
    bare.create(app.engine)
    try:
        payload = "x" * 600
        started = time.perf_counter()
        with app.engine.connect() as connection:
            for i in range(count):
                connection.execute(insert(bare).values(id=i, payload=payload))
                connection.commit()
        return count / (time.perf_counter() - started)
    finally:
        bare.drop(app.engine)


def grow(app: App, admin: User, entries: int) -> None:
    """Grow the ledger to `entries`, cycling over the stored records (the demo's users,
    sites, products, authorisations) with entries that restate each one's snapshot as
    it is stored (so the records still match their last snapshot): the demo's mix of
    entry sizes."""
    with app.uow() as uow:
        records = list(uow.regulated_snapshots())
        last = uow.ledger.last()
        assert last is not None
        seq, prev = last.seq, last.hash
        batch: list[dict[str, object]] = []
        moment = datetime.now(UTC)
        while seq < entries:
            entity_type, entity_id, snapshot = records[seq % len(records)]
            seq += 1
            entry = seal(
                LedgerDraft(
                    actor=admin.username,
                    actor_name=admin.printed_name,
                    action="benchmark.restated",
                    entity_type=entity_type,
                    entity_id=entity_id,
                    before=None,
                    after=snapshot,
                    reason="benchmark",
                ),
                seq=seq,
                prev_hash=prev,
                recorded_at=moment,
            )
            prev = entry.hash
            batch.append(dict(zip(STORED_COLUMNS, stored_row(entry), strict=True)))
            if len(batch) == 5000:
                uow.session.execute(insert(orm.ledger_entries), batch)
                batch.clear()
        if batch:
            uow.session.execute(insert(orm.ledger_entries), batch)
        uow.commit()


def _hashed_bytes(row: StoredRow) -> bytes:
    values: list[Any] = [v.decode() if isinstance(v, bytes) else v for v in row[:13]]
    return hashed_text(*values).encode()


def bare_chain(app: App) -> tuple[int, float, float]:
    """A bare SHA-256 chain in Python over the entries' hashed texts (read beforehand):
    (how many, per second, their mean size in bytes)."""
    with app.uow() as uow:
        texts = [_hashed_bytes(row) for row in uow.ledger.rows()]
    started = time.perf_counter()
    prev = b"0" * 64
    for data in texts:
        prev = hashlib.sha256(prev + data).hexdigest().encode()
    per_second = len(texts) / (time.perf_counter() - started)
    return len(texts), per_second, sum(map(len, texts)) / len(texts)


def run(name: str, url: str, data_dir: Path, args: argparse.Namespace) -> None:
    app = demo_app(url, data_dir)
    try:
        admin = app.user("admin")
        handler_appends(app, admin, 50)  # warm up: caches, prepared statements
        raw = raw_inserts(app, args.appends)
        appended = handler_appends(app, admin, args.appends)
        print(f"{name}: ledger append through a handler {appended:,.0f}/s")
        print(f"{name}:   anchor, raw fsync-bound single-row insert + commit {raw:,.0f}/s")

        grow(app, admin, args.entries)
        started = time.perf_counter()
        checkpoint, report = ledger.check(app.uow(), actor=admin, full=True)
        full_seconds = time.perf_counter() - started
        assert report.ok, report.breaks
        count, chained, size = bare_chain(app)
        print(
            f"{name}: full verify {report.entries_checked:,} entries (mean {size:,.0f} bytes "
            f"hashed) and {report.records_checked} records in {full_seconds:.2f} s = "
            f"{report.entries_checked / full_seconds:,.0f} entries/s"
        )
        print(f"{name}:   anchor, bare SHA-256 chain in Python over {count:,}: {chained:,.0f}/s")

        handler_appends(app, admin, 1000)
        started = time.perf_counter()
        routine, report = ledger.check(app.uow(), actor=admin)
        routine_seconds = time.perf_counter() - started
        assert report.ok, report.breaks
        print(
            f"{name}: routine check after 1,000 new entries on {checkpoint.last_seq:,}: "
            f"{routine_seconds:.3f} s ({report.entries_checked:,} entries walked, "
            f"{report.records_checked} records compared; checkpoint #{routine.number})"
        )
    finally:
        app.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=100_000, help="ledger size to verify")
    parser.add_argument("--appends", type=int, default=2000, help="appends timed")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("VEINLINE_BENCH_POSTGRES_URL"),
        help="a PostgreSQL URL (default: $VEINLINE_BENCH_POSTGRES_URL; none: SQLite only)",
    )
    args = parser.parse_args()
    print(f"ledger benchmark ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as workdir:
        run("SQLite", f"sqlite:///{Path(workdir) / 'v.db'}", Path(workdir), args)
        if args.postgres:
            with scratch_postgres(args.postgres) as url:
                run("PostgreSQL", url, Path(workdir), args)


if __name__ == "__main__":
    main()
