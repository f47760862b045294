"""Migration 0011 on a database that holds patient data in clear (SQLite and
PostgreSQL): every personal value sealed, wristbands hashed, one entry ledgered, and the
ledger, whose earlier snapshots hold the clear values, still verifies."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Engine, MetaData, Table, Text, insert, select, text

from tests.conftest import FixedClock
from veinline.adapters import crypto, database, orm
from veinline.adapters.passwords import Argon2Hasher
from veinline.adapters.seed import demo_command
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App, bootstrap
from veinline.config import Settings
from veinline.domain.case import Case, CaseState
from veinline.domain.ledger import (
    GENESIS_HASH,
    ChainVerifier,
    LedgerDraft,
    canonical_json,
    seal,
)
from veinline.domain.ledger_actions import LedgerAction

NAME = "Ottilie Vandersloot"
WRISTBAND = "WB-OV-55120"


def _as_at_0010(table: Table) -> Table:
    """The table as revision 0010 typed it: sealed columns were text or JSON in clear."""
    columns = []
    for c in table.columns:
        if c.name == "wristband_hash":
            continue
        kind: Any = c.type
        if isinstance(kind, orm.Sealed):
            kind = JSON() if kind.json_value else Text()
        elif isinstance(kind, orm.Stored):
            kind = JSON()
        columns.append(Column(c.name, kind))
    return Table(table.name, MetaData(), *columns)


def _clear_row(case: Case, engine: Engine) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for c in orm.cases.columns:
        if c.name == "wristband_hash":
            continue
        value = getattr(case, c.name)
        if isinstance(c.type, orm.Sealed):
            plain = c.type.plain(value)
            value = json.loads(plain) if c.type.json_value and plain is not None else plain
        elif isinstance(c.type, orm.Stored):
            value = c.type.process_bind_param(value, engine.dialect)
        row[c.name] = value
    return row


@pytest.fixture
def source(tmp_path: Path, clock: FixedClock) -> tuple[App, Case]:
    """A demo database with one enrolled case, to copy into an 0010 database in clear."""
    app = bootstrap(
        Settings(database_url=f"sqlite:///{tmp_path / 'source.db'}", data_dir=tmp_path),
        clock=clock,
        hasher=Argon2Hasher(fast_for_tests=True),
        migrate="always",
    )
    app.bus.handle(demo_command(), actor=app.system_user())
    driver = Driver(app.bus, app.user, clock)
    case = driver.enrol(EQUE_CEL_HK, patient_name=NAME, wristband=WRISTBAND)
    case = driver.advance(case, EQUE_CEL_HK, CaseState.ELIGIBLE)
    return app, case


def test_migration_0011_seals_clear_patient_data_and_the_ledger_still_verifies(
    database_url: str, source: tuple[App, Case], clock: FixedClock, tmp_path: Path
) -> None:
    app, case = source
    engine = database.make_engine(database_url)
    crypto.attach(engine, crypto.Keyring.from_env(os.environ))
    database.upgrade(engine, "0010")
    with app.engine.connect() as conn, engine.begin() as target:
        for table in (orm.users, orm.sites, orm.products, orm.issued_identifiers):
            rows = [dict(r._mapping) for r in conn.execute(select(_as_at_0010(table)))]
            target.execute(insert(_as_at_0010(table)), rows)
        target.execute(insert(_as_at_0010(orm.cases)), [_clear_row(case, engine)])
        entry = seal(
            LedgerDraft(
                actor="system",
                actor_name="veinline system",
                action=LedgerAction.CASE_ENROLLED,
                entity_type="case",
                entity_id=case.id,
                before=None,
                after=case.snapshot(),
            ),
            seq=1,
            prev_hash=GENESIS_HASH,
            recorded_at=clock(),
        )
        values = entry.hashed_content()
        values.update(after=canonical_json(entry.after), hash=entry.hash)
        target.execute(insert(orm.ledger_entries), [values])
    app.engine.dispose()
    with engine.connect() as conn:
        clear = conn.execute(text("SELECT patient_name FROM cases")).scalar_one()
    assert clear == NAME

    migrated = bootstrap(
        Settings(database_url=database_url, data_dir=tmp_path),
        clock=clock,
        hasher=Argon2Hasher(fast_for_tests=True),
        migrate="always",
    )
    try:
        with migrated.engine.connect() as conn:
            raw = conn.execute(
                text("SELECT patient_name, wristband_id, patient_facts, wristband_hash FROM cases")
            ).one()
        assert all(crypto.is_sealed(v) for v in raw[:3]), raw
        assert NAME not in str(raw) and WRISTBAND not in str(raw)
        with migrated.uow() as uow:
            stored = uow.cases.get(case.id)
            found = [c.id for c in uow.cases_with_wristband(WRISTBAND)]
            last = uow.ledger.last()
        assert stored is not None
        assert (stored.patient_name, stored.wristband_id) == (NAME, WRISTBAND)
        assert stored.patient_facts == case.patient_facts
        assert found == [case.id]
        assert last is not None and last.action == LedgerAction.PERSONAL_DATA_PROTECTED
        assert "4 personal value(s)" in last.reason and last.actor == "system"
        # The chain still holds, and the enrolment entry's clear snapshot and the sealed
        # row compare equal as digests (as `ledger verify` compares them; the users and
        # catalogue copied in here have no entries of their own, so only the case).
        uow = migrated.uow()
        verifier = ChainVerifier(protect=uow.protected)
        with uow:
            assert verifier.walk(uow.ledger.entries())
            current = uow.cases.get(case.id)
            assert current is not None
            assert verifier.compare_records([("case", case.id, current.snapshot())])
            tampered = current.snapshot() | {"patient_name": "Someone Else"}
            again = ChainVerifier(protect=uow.protected)
            assert again.walk(uow.ledger.entries())
            assert not again.compare_records([("case", case.id, tampered)])
    finally:
        migrated.engine.dispose()
        engine.dispose()


def test_migration_0011_refuses_to_go_back(app: App) -> None:
    from alembic import command

    with pytest.raises(RuntimeError, match="cannot be undone"):
        command.downgrade(database.alembic_config(app.engine), "0010")
