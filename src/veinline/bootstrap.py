"""Wiring: adapters into services. Nothing is built at import time; entrypoints and
tests call `bootstrap()` (tests with their own clock, hasher or database)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from veinline.adapters import crypto, database, orm
from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.repository import SqlAlchemyUnitOfWork
from veinline.config import Settings
from veinline.domain.errors import DomainError, NotFound
from veinline.domain.user import SYSTEM_USERNAME, User

if TYPE_CHECKING:
    from veinline.domain.ledger import JsonObject
    from veinline.domain.trial import TrialData
    from veinline.services.handlers import Clock, PasswordHasher
    from veinline.services.jobs import JobRunner, Outcome, Progress
    from veinline.services.messagebus import MessageBus

# The message bus (every handler, every command) and the job runner are built on first
# use: a command that only reads (`veinline catalog list`) never imports them
# (docs/architecture.md, "Entrypoints"; tests/unit/test_cli_start.py).


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

    @cached_property
    def bus(self) -> MessageBus:
        """The message bus: every command through its handler, its ledger entry in the
        same transaction."""
        from veinline.adapters.seed.release_panels import default_tests
        from veinline.services.messagebus import MessageBus

        return MessageBus(
            self.uow,
            {"clock": self.clock, "hasher": self.hasher, "release_panels": default_tests},
        )

    @cached_property
    def jobs(self) -> JobRunner:
        """Long work off the request path (services/jobs.py); its threads start on the
        first job submitted, or with the server."""
        from veinline.adapters.jobs import SqlJobStore
        from veinline.domain.job import JobKind
        from veinline.domain.planning_records import TRIAGE_SETTINGS_ID
        from veinline.services import jobs

        def weights_version(inputs: JsonObject) -> JsonObject:
            # A plan depends on the triage weights in force: new weights, a new plan.
            with self.uow() as uow:
                settings = uow.triage.get(TRIAGE_SETTINGS_ID)
            return {"weights_version": settings.version if settings else 0}

        def trial_report(data: TrialData, progress: Progress) -> Outcome:
            # matplotlib, reportlab and the statistics are imported by the job only.
            from veinline.adapters.trial_report import made_by_job

            return made_by_job(data, progress)

        def ledger_state(inputs: JsonObject) -> JsonObject:
            # A verification asked again while one waits or runs is that one; once it
            # has recorded its checkpoint (or the ledger has grown), a new one runs.
            with self.uow() as uow:
                newest = uow.checkpoints.last()
                return {
                    "tip": uow.ledger.last_seq(),
                    "checkpoint": newest.number if newest else 0,
                }

        return jobs.JobRunner(
            SqlJobStore(self.engine),
            {
                JobKind.SWEEP: jobs.run_sweep,
                JobKind.PLAN: jobs.plan_work(
                    lambda cmd, actor: self.bus.handle(cmd, actor=actor), self.user
                ),
                JobKind.LEDGER_VERIFY: jobs.verify_work(self.uow, self.user),
                JobKind.TRIAL_REPORT: jobs.trial_report_work(self.uow, trial_report),
            },
            clock=self.clock,
            cache_context={
                JobKind.PLAN: weights_version,
                JobKind.LEDGER_VERIFY: ledger_state,
                JobKind.TRIAL_REPORT: jobs.trial_report_context(self.uow),
            },
            threads=self.settings.job_threads,
        )

    def close(self) -> None:
        """Stop the job runner's threads (if they ever started) and close connections."""
        if "jobs" in self.__dict__:
            self.jobs.stop()
        self.engine.dispose()

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
        from veinline.services import handlers

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
    app = App(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        hasher=hasher or Argon2Hasher(),
    )
    if migrate == "always" or (migrate == "auto" and settings.is_embedded):
        if not database.is_current(engine):
            app.migrate()
    elif migrate == "auto" and not database.is_current(engine):
        raise SchemaNotCurrent(
            "the database schema is not current: run `veinline db upgrade` first"
        )
    return app
