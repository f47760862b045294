"""Repositories, ledger and identifier allocation on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from veinline.adapters import database
from veinline.adapters.database import alembic_config
from veinline.bootstrap import App
from veinline.domain.identifiers import IdentifierKind
from veinline.services import commands, ledger


def _sql(app: App, *statements: str) -> None:
    with app.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _unlock_ledger(app: App) -> None:
    """Play the part of someone with database access who removes the protection."""
    if app.engine.dialect.name == "postgresql":
        _sql(app, "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
    else:
        _sql(app, "DROP TRIGGER ledger_entries_no_update", "DROP TRIGGER ledger_entries_no_delete")


def test_models_and_migrations_agree(app: App) -> None:
    command.check(alembic_config(app.engine))


def test_the_schema_check_reads_the_revision_alembic_reads(app: App) -> None:
    with app.engine.connect() as connection:
        alembic_reads = MigrationContext.configure(connection).get_current_revision()
    assert database.current_revision(app.engine) == alembic_reads == database.SCHEMA_HEAD
    assert database.is_current(app.engine)


def test_a_database_before_its_first_migration_is_not_current(tmp_path: Path) -> None:
    engine = database.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert database.current_revision(engine) is None
    assert not database.is_current(engine)
    engine.dispose()


def test_a_loaded_demo_verifies_end_to_end(demo_app: App) -> None:
    report = ledger.verify(demo_app.uow())
    assert report.ok, report.breaks
    # system user + 10 sites (one an MSC depot) + 8 products + 18 authorisations + 18 users
    assert report.entries_checked == 55
    assert report.records_checked == 55


def test_the_database_refuses_to_update_or_delete_ledger_entries(demo_app: App) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        _sql(demo_app, "UPDATE ledger_entries SET reason = 'x' WHERE seq = 3")
    with pytest.raises(DBAPIError, match="append-only"):
        _sql(demo_app, "DELETE FROM ledger_entries WHERE seq = 3")


def test_an_edited_ledger_entry_is_the_first_break(demo_app: App) -> None:
    _unlock_ledger(demo_app)
    _sql(demo_app, "UPDATE ledger_entries SET reason = 'rewritten' WHERE seq = 7")
    report = ledger.verify(demo_app.uow())
    assert not report.ok
    assert report.breaks[0].seq == 7
    assert report.entries_checked == 6


def test_a_deleted_ledger_entry_is_found(demo_app: App) -> None:
    _unlock_ledger(demo_app)
    _sql(demo_app, "DELETE FROM ledger_entries WHERE seq = 12")
    report = ledger.verify(demo_app.uow())
    assert report.breaks[0].seq == 13


def test_reordered_ledger_entries_are_found(demo_app: App) -> None:
    _unlock_ledger(demo_app)
    _sql(
        demo_app,
        "UPDATE ledger_entries SET seq = -1 WHERE seq = 20",
        "UPDATE ledger_entries SET seq = 20 WHERE seq = 21",
        "UPDATE ledger_entries SET seq = 21 WHERE seq = -1",
    )
    report = ledger.verify(demo_app.uow())
    assert report.breaks[0].seq == 20


def test_a_row_edited_behind_veinlines_back_is_found(demo_app: App) -> None:
    _sql(demo_app, "UPDATE products SET storage_max_c = -80 WHERE code = 'eque-cel'")
    report = ledger.verify(demo_app.uow())
    assert not report.ok
    first = report.breaks[0]
    assert first.entity == "product eque-cel"
    assert "storage_max_c" in first.message and "-80" in first.message


def test_a_row_deleted_behind_veinlines_back_is_found(demo_app: App) -> None:
    _sql(demo_app, "DELETE FROM authorisations WHERE id = 'vum02.cn-ards'")
    report = ledger.verify(demo_app.uow())
    assert report.breaks[0].entity == "authorisation vum02.cn-ards"
    assert "missing" in report.breaks[0].message


def test_a_row_inserted_behind_veinlines_back_is_found(demo_app: App) -> None:
    _sql(demo_app, "UPDATE users SET role = 'admin' WHERE username = 'courier'")
    report = ledger.verify(demo_app.uow())
    assert report.breaks[0].entity == "user courier"


def test_a_change_through_a_handler_keeps_the_ledger_whole(demo_app: App) -> None:
    admin = demo_app.user("admin")
    demo_app.bus.handle(
        commands.SetProductField("eque-cel", "post_thaw_window_minutes", "60", "label check"),
        actor=admin,
    )
    history = ledger.history(demo_app.uow(), "eque-cel")
    assert [e.action for e in history] == ["product.created", "product.changed"]
    assert history[-1].actor == "admin" and history[-1].actor_name == "Demo Administrator"
    assert ("post_thaw_window_minutes", 90, 60) in history[-1].changes()
    assert ledger.verify(demo_app.uow()).ok


def test_a_refused_change_writes_nothing(demo_app: App) -> None:
    before = ledger.verify(demo_app.uow()).entries_checked
    with pytest.raises(Exception, match="needs a int"):
        demo_app.bus.handle(
            commands.SetProductField("eque-cel", "post_thaw_window_minutes", "soon", "why"),
            actor=demo_app.user("admin"),
        )
    assert ledger.verify(demo_app.uow()).entries_checked == before
    with demo_app.uow() as uow:
        product = uow.products.get("eque-cel")
        assert product is not None and product.version == 1


def test_concurrent_requests_never_get_the_same_identifier(demo_app: App) -> None:
    nurse = demo_app.user("nurse")
    barrier = threading.Barrier(8)

    def issue(kind: IdentifierKind) -> str:
        barrier.wait()
        issued = demo_app.bus.handle(
            commands.IssueIdentifier(kind=kind, fin="A9995", purpose="concurrency"),
            actor=nurse,
        )
        return str(issued.value)

    kinds = [IdentifierKind.DIN] * 5 + [IdentifierKind.COI] * 3
    with ThreadPoolExecutor(max_workers=8) as pool:
        values = list(pool.map(issue, kinds))
    dins = sorted(v for v in values if not v.startswith("CH"))
    cois = sorted(v for v in values if v.startswith("CH"))
    assert dins == [f"A999526{n:06d}" for n in range(1, 6)]
    assert cois == [f"CHA999526{n:06d}" for n in range(1, 4)]
    report = ledger.verify(demo_app.uow())
    assert report.ok, report.breaks


def test_the_ledger_history_follows_one_record(demo_app: App) -> None:
    entries = ledger.history(demo_app.uow(), "user/nurse")
    assert len(entries) == 1
    assert entries[0].after is not None and entries[0].after["role"] == "apheresis_nurse"
    assert ledger.history(demo_app.uow(), "no-such-thing") == []


def test_a_signature_is_a_ledger_entry_with_printed_name_and_meaning(demo_app: App) -> None:
    from veinline.domain.signature import Meaning

    entry = demo_app.bus.handle(
        commands.SignRecord(
            "product", "amimestrocel", Meaning.REVIEWED, "qa", "veinline-demo", "catalogue review"
        ),
        actor=demo_app.user("qa"),
    )
    history = ledger.history(demo_app.uow(), "product/amimestrocel")
    assert history[-1].seq == entry.seq
    assert (history[-1].signature_meaning, history[-1].actor_name) == (
        "reviewed",
        "Demo QA Reviewer",
    )
    assert ledger.verify(demo_app.uow()).ok
