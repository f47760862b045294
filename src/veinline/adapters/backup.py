"""Backup and restore of the whole database (docs/operations.md, "Backup and restore").

Three forms, told apart by the file's first bytes when restoring:

- SQLite: a copy made with SQLite's online backup API (`sqlite3.Connection.backup`),
  consistent while veinline keeps running; the file is itself a SQLite database.
- PostgreSQL with `pg_dump` on PATH: `pg_dump -Fc` (one consistent snapshot), restored
  by `pg_restore` in a single transaction.
- PostgreSQL without it (or when asked): a logical export, every table in dependency
  order as gzip-compressed JSON with the schema revision; restore migrates an empty
  database to that revision and loads the rows in the same order.

The ledger is verified by the caller before a backup and after a restore; here are the
copy, the emptiness check and a `Snapshot` (row counts and ledger tip) to compare.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, MetaData, Table, Text, func, inspect, select, text
from sqlalchemy.engine import Engine, make_url

from veinline.adapters import database, orm

# (done, total): how far a long copy has come, for a progress bar.
Progress = Callable[[int, int], None]

SQLITE = "sqlite"
PG_DUMP = "pg_dump"
LOGICAL = "logical"

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PG_DUMP_MAGIC = b"PGDMP"
_GZIP_MAGIC = b"\x1f\x8b"
_LOGICAL_FORMAT = "veinline-logical-backup"
_BATCH = 500


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


@dataclass(frozen=True)
class Snapshot:
    """What a database holds: rows per table and the ledger's tip (to compare copies)."""

    counts: dict[str, int]
    ledger_seq: int | None
    ledger_hash: str | None

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Done:
    """A finished backup or restore: the method, the file, and what the database holds."""

    method: str
    path: Path
    snapshot: Snapshot


def snapshot(engine: Engine) -> Snapshot:
    """Row counts of veinline's tables and the ledger tip, as stored now."""
    present = set(inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    tip: tuple[int, str] | None = None
    with engine.connect() as conn:
        for table in orm.metadata.sorted_tables:
            if table.name in present:
                counts[table.name] = conn.execute(
                    select(func.count()).select_from(table)
                ).scalar_one()
        if "ledger_entries" in present:
            ledger = orm.ledger_entries
            row = conn.execute(
                select(ledger.c.seq, ledger.c.hash).order_by(ledger.c.seq.desc()).limit(1)
            ).first()
            tip = (row[0], row[1]) if row is not None else None
    return Snapshot(counts, tip[0] if tip else None, tip[1] if tip else None)


def is_empty(engine: Engine) -> bool:
    """True when the database holds no tables at all (a new file or `createdb`)."""
    return not inspect(engine).get_table_names()


def method_for(engine: Engine, *, logical: bool = False) -> str:
    """How this database is backed up: SQLite's API, pg_dump when on PATH, else logical."""
    if engine.dialect.name == "sqlite":
        return SQLITE
    if not logical and shutil.which("pg_dump") and shutil.which("pg_restore"):
        return PG_DUMP
    return LOGICAL


def backup(
    engine: Engine, out: Path, *, logical: bool = False, progress: Progress | None = None
) -> Done:
    """Copy the database to `out` (refused if it exists); written beside it, then moved."""
    if out.exists():
        raise BackupError(f"{out} exists already: choose a new file")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    method = method_for(engine, logical=logical)
    held = snapshot(engine)
    try:
        if method == SQLITE:
            _sqlite_copy(engine, partial, progress)
        elif method == PG_DUMP:
            _run([_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(partial)], engine)
        else:
            _export(engine, partial, progress)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return Done(method, out, held)


def restore(
    engine: Engine, source: Path, *, replace: bool = False, progress: Progress | None = None
) -> Done:
    """Load a backup into this database: refused unless it is empty or `replace`."""
    if not source.is_file():
        raise BackupError(f"there is no backup file {source}")
    if not is_empty(engine) and not replace:
        raise BackupError(
            "the database is not empty: restore into an empty database, "
            "or pass --replace to overwrite it"
        )
    method = _method_of(source)
    if method == SQLITE:
        if engine.dialect.name != "sqlite":
            raise BackupError("this is a SQLite backup: restore it into a SQLite database")
        _sqlite_load(source, engine, progress)
    elif method == PG_DUMP:
        if engine.dialect.name != "postgresql":
            raise BackupError("this is a pg_dump backup: restore it into PostgreSQL")
        command = [_tool("pg_restore"), "--no-owner", "--single-transaction", "--exit-on-error"]
        if replace:
            command += ["--clean", "--if-exists"]
        _run([*command, str(source)], engine)
    else:
        _import(engine, source, replace=replace, progress=progress)
    engine.dispose()
    return Done(method, source, snapshot(engine))


def _method_of(source: Path) -> str:
    with source.open("rb") as f:
        head = f.read(16)
    if head.startswith(_SQLITE_MAGIC):
        return SQLITE
    if head.startswith(_PG_DUMP_MAGIC):
        return PG_DUMP
    if head.startswith(_GZIP_MAGIC):
        return LOGICAL
    raise BackupError(f"{source} is not a veinline backup (SQLite, pg_dump or logical)")


# ---------------------------------------------------------------- SQLite


def _sqlite_copy(engine: Engine, out: Path, progress: Progress | None) -> None:
    raw = engine.raw_connection()
    try:
        source: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
        with closing(sqlite3.connect(str(out))) as target:
            source.backup(target, pages=256, progress=_pages(progress))
    finally:
        raw.close()


def _sqlite_load(source_path: Path, engine: Engine, progress: Progress | None) -> None:
    engine.dispose()
    with closing(sqlite3.connect(str(source_path))) as source:
        check = source.execute("PRAGMA integrity_check").fetchone()
        if not check or check[0] != "ok":
            raise BackupError(f"{source_path} is damaged: SQLite's integrity check fails")
        raw = engine.raw_connection()
        try:
            target: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
            source.backup(target, pages=256, progress=_pages(progress))
        finally:
            raw.close()
    engine.dispose()


def _pages(progress: Progress | None) -> Callable[[int, int, int], object] | None:
    if progress is None:
        return None

    def report(_status: int, remaining: int, total: int) -> None:
        progress(total - remaining, total)

    return report


# ---------------------------------------------------------------- PostgreSQL tools


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH")
    return found


def _run(command: list[str], engine: Engine) -> None:
    """Run pg_dump or pg_restore on the engine's database; the password goes by the
    environment (PGPASSWORD), never on the command line."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None).render_as_string()
    args = [command[0], "--dbname", conninfo, *command[1:]]
    engine.dispose()
    # The tool is found on PATH and every argument is ours (no shell).
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise BackupError(f"{Path(command[0]).name} failed: {' / '.join(tail)}")


# ---------------------------------------------------------------- logical export


def _plain(table: Table) -> Table:
    """The table with its stored-object columns as plain JSON, to copy rows as data, and
    its sealed columns as the sealed text: a backup never holds patient data in clear."""
    return Table(table.name, MetaData(), *(Column(c.name, _plain_type(c)) for c in table.columns))


def _plain_type(column: Column[Any]) -> Any:
    if isinstance(column.type, orm.Sealed):
        return Text()
    if isinstance(column.type, orm.Stored):
        return JSON()
    return column.type


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    raise TypeError(f"cannot export {type(value).__name__}")


def _decode(value: Any, column: Column[Any]) -> Any:
    if isinstance(value, dict) and len(value) == 1 and not isinstance(column.type, JSON):
        ((tag, raw),) = value.items()
        if tag == "$datetime":
            return datetime.fromisoformat(raw)
        if tag == "$date":
            return date.fromisoformat(raw)
        if tag == "$decimal":
            return Decimal(raw)
        if tag == "$bytes":
            return base64.b64decode(raw)
    return value


def _export(engine: Engine, out: Path, progress: Progress | None) -> None:
    held = snapshot(engine)
    total, done = held.rows, 0
    tables: dict[str, Any] = {}
    with engine.connect() as conn:
        revision = database.current_revision(engine)
        for table in orm.metadata.sorted_tables:
            if table.name not in held.counts:
                continue
            plain = _plain(table)
            key = [plain.c[c.name] for c in table.primary_key.columns]
            rows = []
            for row in conn.execute(select(plain).order_by(*key)):
                rows.append(list(row))
                done += 1
                if progress and done % _BATCH == 0:
                    progress(done, total)
            tables[table.name] = {"columns": [c.name for c in plain.columns], "rows": rows}
    document = {"format": _LOGICAL_FORMAT, "version": 1, "revision": revision, "tables": tables}
    with gzip.open(out, "wt", encoding="utf-8") as f:
        json.dump(document, f, default=_encode, ensure_ascii=False)
    if progress:
        progress(total, total)


def _import(engine: Engine, source: Path, *, replace: bool, progress: Progress | None) -> None:
    try:
        with gzip.open(source, "rt", encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a readable logical backup: {exc}") from exc
    if document.get("format") != _LOGICAL_FORMAT:
        raise BackupError(f"{source} is not a veinline logical backup")
    if replace and not is_empty(engine):
        _drop_everything(engine)
    database.upgrade(engine, document["revision"] or "head")
    tables: dict[str, Any] = document["tables"]
    total = sum(len(t["rows"]) for t in tables.values())
    done = 0
    with engine.begin() as conn:
        for table in orm.metadata.sorted_tables:
            if table.name not in tables:
                continue
            plain = _plain(table)
            names = tables[table.name]["columns"]
            for chunk in _chunks(tables[table.name]["rows"], _BATCH):
                conn.execute(
                    plain.insert(),
                    [
                        {n: _decode(v, plain.c[n]) for n, v in zip(names, row, strict=True)}
                        for row in chunk
                    ],
                )
                done += len(chunk)
                if progress:
                    progress(done, total)


def _chunks(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _drop_everything(engine: Engine) -> None:
    """Empty the database for --replace: every table (and the ledger's trigger function)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            conn.execute(text("DROP FUNCTION IF EXISTS veinline_ledger_append_only() CASCADE"))
        else:
            reflected = MetaData()
            reflected.reflect(bind=conn)
            reflected.drop_all(bind=conn)
