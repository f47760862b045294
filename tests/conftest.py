"""Shared fixtures: a fixed clock, and a migrated database on SQLite and PostgreSQL.

Repository and end-to-end tests take the `app` fixture, which runs each test once on
SQLite and once on PostgreSQL. PostgreSQL comes from VEINLINE_TEST_POSTGRES_URL (default:
the local server on 127.0.0.1:5432, user postgres). When it cannot be reached those
tests are skipped, unless VEINLINE_REQUIRE_POSTGRES=1 (as in CI), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from veinline.adapters.passwords import Argon2Hasher
from veinline.bootstrap import App, bootstrap
from veinline.config import Settings

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# The suite's data keys (docs/security.md, "Patient data at rest"): fixed test keys, so
# every database, SQLite or PostgreSQL, is sealed without a key file. Tests of the key
# file and of rotation set their own.
TEST_DATA_KEY = "test-1:" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
TEST_DIGEST_KEY = "ZGlnZXN0LWtleS1mb3ItdGhlLXRlc3Qtc3VpdGUtMzI="
os.environ["VEINLINE_DATA_KEY"] = TEST_DATA_KEY
os.environ["VEINLINE_DIGEST_KEY"] = TEST_DIGEST_KEY
os.environ.pop("VEINLINE_DATA_KEY_OLD", None)


class FixedClock:
    """A clock tests move by hand; starts at a known instant."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def _pg_admin_url() -> str:
    return os.environ.get("VEINLINE_TEST_POSTGRES_URL", DEFAULT_PG)


@contextmanager
def scratch_pg_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of its own, created now and dropped (its connections ended)
    on leaving; skipped when the server cannot be reached, failed when CI requires it."""
    admin_url = _pg_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("VEINLINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but not reachable at {admin_url}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {admin_url}")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test process, dropped at the end."""
    with scratch_pg_database("veinline_test") as url:
        yield url


def _reset_pg(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
        conn.execute(text("DROP FUNCTION IF EXISTS veinline_ledger_append_only() CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'veinline.db'}"
    url: str = request.getfixturevalue("pg_database")
    _reset_pg(url)
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[App]:
    """A bootstrapped veinline on a migrated, empty database (only the system user)."""
    application = bootstrap(
        Settings(database_url=database_url, data_dir=tmp_path),
        clock=clock,
        hasher=Argon2Hasher(fast_for_tests=True),
        migrate="always",
    )
    yield application
    application.close()


@pytest.fixture
def demo_app(app: App) -> App:
    """The app with the seed catalogue, demo sites and demo users loaded."""
    from veinline.adapters.seed import demo_command

    app.bus.handle(demo_command(), actor=app.system_user())
    return app
