"""Wiring: adapters into services. Nothing is built at import time; entrypoints and
tests call `bootstrap()` (tests with their own clock, hasher or database)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from veinline.adapters import crypto, database, orm
from veinline.adapters.jobs import SqlJobStore
from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.repository import SqlAlchemyUnitOfWork
from veinline.adapters.seed.release_panels import default_tests
from veinline.config import Settings
from veinline.domain.errors import DomainError, NotFound
from veinline.domain.job import JobKind
from veinline.domain.ledger import JsonObject
from veinline.domain.planning_records import TRIAGE_SETTINGS_ID
from veinline.domain.user import SYSTEM_USERNAME, User
from veinline.services import handlers, jobs
from veinline.services.handlers import Clock, PasswordHasher
from veinline.services.messagebus import MessageBus


def utc_now() -> datetime:
    return datetime.now(UTC)


class SchemaNotCurrent(DomainError):
    """The database needs `veinline db upgrade` before use."""


@dataclass
class App:
    """Everything an entrypoint needs, built once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    hasher: PasswordHasher
    bus: MessageBus
    # Long work off the request path; its threads start on the first job submitted.
    jobs: jobs.JobRunner

    def uow(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.sessions, self.clock)

    def user(self, username: str) -> User:
        with self.uow() as uow:
            user = uow.users.get(username)
        if user is None:
            raise NotFound(f"there is no user {username}")
        return user

    def system_user(self) -> User:
        return self.user(SYSTEM_USERNAME)

    def migrate(self) -> None:
        database.upgrade(self.engine)
        # SQLite: fold the write-ahead log into the file, so a value the upgrade sealed
        # does not linger there in clear.
        database.checkpoint(self.engine)
        handlers.ensure_system_user(self.uow(), clock=self.clock)


def bootstrap(
    settings: Settings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    hasher: PasswordHasher | None = None,
    migrate: str = "auto",
    keyring: crypto.Keyring | None = None,
) -> App:
    """Build the app. `migrate`: "auto" upgrades the embedded SQLite database when it is
    behind (so one command works on a fresh machine), "always" upgrades any database,
    "never" leaves the schema alone (for `db upgrade` itself and for status checks).

    `keyring`: the data keys (adapters/crypto.py); by default from the environment, or
    for an SQLite file from `veinline.keys` beside it; PostgreSQL without keys in the
    environment is refused (KeysMissing) before anything is opened."""
    settings = settings or Settings.from_env()
    keyring = keyring or crypto.load_keyring(settings.database_url)
    orm.start_mappers()
    engine = database.make_engine(settings.database_url)
    crypto.attach(engine, keyring)
    sessions = database.session_factory(engine)
    hasher = hasher or Argon2Hasher()
    bus = MessageBus(
        lambda: SqlAlchemyUnitOfWork(sessions, clock),
        {"clock": clock, "hasher": hasher, "release_panels": default_tests},
    )

    def user(username: str) -> User:
        with SqlAlchemyUnitOfWork(sessions, clock) as uow:
            found = uow.users.get(username)
        if found is None:
            raise NotFound(f"there is no user {username}")
        return found

    def weights_version() -> JsonObject:
        # A plan depends on the triage weights in force: new weights, a new plan.
        with SqlAlchemyUnitOfWork(sessions, clock) as uow:
            settings = uow.triage.get(TRIAGE_SETTINGS_ID)
        return {"weights_version": settings.version if settings else 0}

    runner = jobs.JobRunner(
        SqlJobStore(engine),
        {
            JobKind.SWEEP: jobs.run_sweep,
            JobKind.PLAN: jobs.plan_work(lambda cmd, actor: bus.handle(cmd, actor=actor), user),
        },
        clock=clock,
        cache_context={JobKind.PLAN: weights_version},
        threads=settings.job_threads,
    )
    app = App(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        hasher=hasher,
        bus=bus,
        jobs=runner,
    )
    if migrate == "always" or (migrate == "auto" and settings.is_embedded):
        if not database.is_current(engine):
            app.migrate()
    elif migrate == "auto" and not database.is_current(engine):
        raise SchemaNotCurrent(
            "the database schema is not current: run `veinline db upgrade` first"
        )
    return app
