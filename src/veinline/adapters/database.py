"""Engines for the embedded SQLite default and for PostgreSQL, and schema migration."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported only where the migrations themselves are read or run: checking
# that the schema is current, on every start, reads one row and needs none of it.

# The newest migration's revision (migrations/versions/); `is_current` compares the
# database with it. tests/unit/test_database.py checks that it is Alembic's head, so a
# new migration that does not move it fails there.
SCHEMA_HEAD = "0016_wristband_once"
VERSION_TABLE = "alembic_version"

# A fixed key for PostgreSQL's transaction-level advisory lock that serialises ledger
# appends (and so sequence numbers and the hash chain).
LEDGER_LOCK_KEY = 727_270_128


# The execution option that makes a SQLite transaction a deferred, read-only one.
READ_ONLY = "veinline_read_only"


def make_engine(url: str) -> Engine:
    """An engine for a database URL; SQLite gets WAL, foreign keys and serial writes.

    `hide_parameters`: an error from the database never prints the values of a
    statement (a patient's data) into a message or a log (docs/security.md)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _make_sqlite_transactions_serial(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # Plain postgresql:// means psycopg 3 here (the driver we install).
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _make_sqlite_transactions_serial(engine: Engine) -> None:
    # pysqlite's own transaction handling starts transactions lazily and as DEFERRED,
    # so two writers could both read the ledger head before either writes. BEGIN
    # IMMEDIATE takes the write lock at the start (SQLAlchemy's documented recipe).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Overwrite deleted content with zeros, so a value re-sealed or replaced does not
        # linger in the file's free pages (docs/security.md, "Patient data at rest").
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A reader that asked for it (READ_ONLY, a ledger verification) starts a
        # deferred transaction instead: in WAL mode it reads one snapshot from its first
        # read on and does not hold writers back while it reads.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("veinline.adapters") / "migrations")
    )
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str | None:
    """Alembic's head, read from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (Alembic's version table), or None before the
    first migration. The migrations are one line, so the table holds at most one row."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        revisions = list(rows.scalars())
    if len(revisions) > 1:
        raise RuntimeError(f"the database is at several revisions: {', '.join(revisions)}")
    return revisions[0] if revisions else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def checkpoint(engine: Engine) -> None:
    """SQLite: copy the write-ahead log into the database file and empty it (a no-op
    elsewhere); outside any transaction, so it completes."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    finally:
        raw.close()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == SCHEMA_HEAD
