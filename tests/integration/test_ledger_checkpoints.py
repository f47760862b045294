"""Checkpoints, routine and full verification, and appends by concurrent writers, on
SQLite and PostgreSQL (docs/architecture.md, "The ledger")."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from veinline.adapters.repository import SqlAlchemyUnitOfWork
from veinline.bootstrap import App
from veinline.domain.errors import Conflict
from veinline.domain.ledger import GENESIS_HASH, ChainVerifier, LedgerDraft, entry_of_row
from veinline.services import commands, ledger


def _sql(app: App, *statements: str) -> None:
    with app.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _unlock(app: App, table: str) -> None:
    """Play the part of someone with database access who removes the protection."""
    if app.engine.dialect.name == "postgresql":
        _sql(app, f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
    else:
        _sql(app, f"DROP TRIGGER {table}_no_update", f"DROP TRIGGER {table}_no_delete")


def _change_product(app: App, times: int, by: str = "") -> None:
    admin = app.user("admin")
    for i in range(times):
        app.bus.handle(
            commands.SetProductField("eque-cel", "target", f"CD19 {by}{i}", "checkpoint test"),
            actor=admin,
        )


def test_the_first_check_is_full_and_a_routine_one_walks_only_what_is_new(
    demo_app: App,
) -> None:
    qa = demo_app.user("qa")
    first, report = ledger.check(demo_app.uow(), actor=qa)
    assert report.ok and first.full and first.ok
    assert (first.number, first.entries_checked, first.last_seq) == (1, 55, 55)
    assert first.records_checked == 55 and first.checked_by == "qa" and first.intact
    _change_product(demo_app, 3)
    routine, report = ledger.check(demo_app.uow(), actor=qa)
    assert report.ok and not routine.full
    assert (routine.number, routine.entries_checked, routine.last_seq) == (2, 3, 58)
    # Every record is still compared, those changed before the checkpoint included.
    assert routine.records_checked == 55
    assert routine.prev_hash == first.hash
    with demo_app.uow() as uow:
        assert routine.tip_hash == uow.ledger.stored_hash(58)
    full, report = ledger.check(demo_app.uow(), actor=qa, full=True)
    assert full.full and full.entries_checked == 58 and report.ok
    assert ledger.last_checkpoint(demo_app.uow()) == full


def test_an_entry_edited_after_the_checkpoint_is_found_by_the_routine_check(
    demo_app: App,
) -> None:
    qa = demo_app.user("qa")
    ledger.check(demo_app.uow(), actor=qa)
    _change_product(demo_app, 4)
    _unlock(demo_app, "ledger_entries")
    _sql(demo_app, "UPDATE ledger_entries SET reason = 'rewritten' WHERE seq = 57")
    broken, report = ledger.check(demo_app.uow(), actor=qa)
    assert not report.ok and not broken.ok
    assert report.breaks[0].seq == 57 and "its own hash" in report.breaks[0].message
    # The good entries before the break are what this check vouches for.
    assert (broken.last_seq, broken.entries_checked) == (56, 1)
    assert broken.first_break == report.breaks[0].message
    # The next routine check starts again from the last good checkpoint, not the broken one.
    again, report = ledger.check(demo_app.uow(), actor=qa)
    assert not again.ok and report.breaks[0].seq == 57


def test_an_entry_edited_before_the_checkpoint_is_found_by_a_full_check(demo_app: App) -> None:
    qa = demo_app.user("qa")
    ledger.check(demo_app.uow(), actor=qa)
    _change_product(demo_app, 2)
    _unlock(demo_app, "ledger_entries")
    _sql(demo_app, "UPDATE ledger_entries SET reason = 'rewritten' WHERE seq = 10")
    # A routine check trusts the checkpoint for what it covers ...
    routine, report = ledger.check(demo_app.uow(), actor=qa)
    assert report.ok and routine.entries_checked == 2
    # ... a full one walks the whole chain again.
    full, report = ledger.check(demo_app.uow(), actor=qa, full=True)
    assert not full.ok and report.breaks[0].seq == 10
    assert (full.last_seq, full.entries_checked) == (9, 9)


def test_a_routine_check_refuses_a_checkpoint_whose_tip_was_rewritten(demo_app: App) -> None:
    qa = demo_app.user("qa")
    ledger.check(demo_app.uow(), actor=qa)
    _unlock(demo_app, "ledger_entries")
    _sql(demo_app, f"UPDATE ledger_entries SET hash = '{'f' * 64}' WHERE seq = 55")
    checked, report = ledger.check(demo_app.uow(), actor=qa)
    assert not checked.ok
    assert "entry #55 no longer has the hash checkpoint #1 recorded" in report.breaks[0].message


def test_an_edited_checkpoint_is_not_trusted(demo_app: App) -> None:
    qa = demo_app.user("qa")
    ledger.check(demo_app.uow(), actor=qa)
    _unlock(demo_app, "ledger_checkpoints")
    _sql(demo_app, "UPDATE ledger_checkpoints SET last_seq = 60 WHERE number = 1")
    checked, report = ledger.check(demo_app.uow(), actor=qa)
    assert not checked.ok
    assert "checkpoint #1 does not match its own hash" in report.breaks[0].message


def test_the_database_refuses_to_update_or_delete_checkpoints(demo_app: App) -> None:
    ledger.check(demo_app.uow(), actor=demo_app.user("qa"))
    with pytest.raises(DBAPIError, match="append-only"):
        _sql(demo_app, "UPDATE ledger_checkpoints SET ok = false WHERE number = 1")
    with pytest.raises(DBAPIError, match="append-only"):
        _sql(demo_app, "DELETE FROM ledger_checkpoints WHERE number = 1")


def test_a_record_edited_outside_veinline_is_found_by_a_routine_check(demo_app: App) -> None:
    qa = demo_app.user("qa")
    ledger.check(demo_app.uow(), actor=qa)
    _sql(demo_app, "UPDATE sites SET fin = 'A9998' WHERE code = 'demo-rtp-qc'")
    checked, report = ledger.check(demo_app.uow(), actor=qa)
    assert not checked.ok and report.breaks[0].entity == "site demo-rtp-qc"


def test_progress_is_reported_up_to_the_entries_checked(demo_app: App) -> None:
    seen: list[tuple[int, int]] = []
    ledger.check(
        demo_app.uow(),
        actor=demo_app.user("qa"),
        full=True,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[0] == (0, 55) and seen[-1] == (55, 55)


def test_an_append_after_another_process_appended_reads_the_tip_again(demo_app: App) -> None:
    # Two applications on one database stand for two processes: each remembers the tip
    # it last wrote, and the other's appends make that guess stale.
    from veinline.bootstrap import bootstrap

    other = bootstrap(demo_app.settings, clock=demo_app.clock, hasher=demo_app.hasher)
    try:
        _change_product(demo_app, 1, "a")
        _change_product(other, 2, "b")
        _change_product(demo_app, 1, "c")
        _change_product(other, 1, "d")
    finally:
        other.engine.dispose()
    report = ledger.verify(demo_app.uow())
    assert report.ok, report.breaks
    assert report.entries_checked == 55 + 5


def test_an_append_whose_transaction_rolled_back_leaves_no_stale_tip(demo_app: App) -> None:
    admin = demo_app.user("admin")
    with SqlAlchemyUnitOfWork(demo_app.sessions, demo_app.clock) as uow:
        uow.ledger.append(
            LedgerDraft(admin.username, admin.printed_name, "x.y", "product", "eque-cel", None, {})
        )
        uow.rollback()
    _change_product(demo_app, 2)
    report = ledger.verify(demo_app.uow())
    assert report.ok, report.breaks
    assert report.entries_checked == 57


def test_concurrent_writers_never_fork_the_chain(demo_app: App) -> None:
    admin = demo_app.user("admin")
    writers, each = 8, 15

    def write_retrying(worker: int) -> None:
        # Two writers of one product at once: the later is refused (409) and retries;
        # what is tested here is the chain, not the optimistic check.
        for i in range(each):
            while True:
                try:
                    demo_app.bus.handle(
                        commands.SetProductField("eque-cel", "target", f"w{worker} {i}", "race"),
                        actor=admin,
                    )
                    break
                except Conflict:
                    continue

    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(write_retrying, range(writers)))
    with demo_app.uow() as uow:
        rows = list(uow.ledger.rows())
    assert [row[0] for row in rows] == list(range(1, 55 + writers * each + 1))
    assert len({row[12] for row in rows}) == len(rows)  # no two entries follow one entry
    verifier = ChainVerifier()
    assert verifier.walk_rows(rows) and verifier.tip[0] == len(rows)
    assert rows[0][12] == GENESIS_HASH


def test_a_chain_rewritten_with_its_hashes_recomputed_disagrees_with_its_checkpoints(
    demo_app: App,
) -> None:
    qa = demo_app.user("qa")
    ledger.check(demo_app.uow(), actor=qa)
    _unlock(demo_app, "ledger_entries")
    with demo_app.uow() as uow:
        entries = [entry_of_row(row) for row in uow.ledger.rows()]
    prev = entries[8].hash
    with demo_app.engine.begin() as conn:
        for entry in entries[9:]:
            reason = "rewritten" if entry.seq == 10 else entry.reason
            forged = replace(entry, reason=reason, prev_hash=prev)
            forged = replace(forged, hash=forged.computed_hash())
            conn.execute(
                text(
                    "UPDATE ledger_entries SET reason = :r, prev_hash = :p, hash = :h "
                    "WHERE seq = :s"
                ),
                {"r": reason, "p": prev, "h": forged.hash, "s": entry.seq},
            )
            prev = forged.hash
    # The chain itself walks clean ...
    assert ledger.verify(demo_app.uow()).ok
    # ... but the checkpoint recorded before the rewrite names another tip hash.
    full, report = ledger.check(demo_app.uow(), actor=qa, full=True)
    assert not full.ok
    assert report.breaks[0].entity == "checkpoint #1"
    assert "recorded entry #55 with another hash" in report.breaks[0].message


def test_a_full_check_walks_the_checkpoints_too(demo_app: App) -> None:
    qa = demo_app.user("qa")
    ledger.check(demo_app.uow(), actor=qa)
    ledger.check(demo_app.uow(), actor=qa)
    _unlock(demo_app, "ledger_checkpoints")
    _sql(demo_app, "UPDATE ledger_checkpoints SET entries_checked = 0 WHERE number = 1")
    full, report = ledger.check(demo_app.uow(), actor=qa, full=True)
    assert not full.ok and report.breaks[0].entity == "checkpoint #1"
    assert "does not match its own hash" in report.breaks[0].message


def test_a_verification_reads_one_snapshot_and_holds_no_writer_back(demo_app: App) -> None:
    uow = demo_app.uow()
    with uow:
        uow.read_consistently()
        rows = uow.ledger.rows()
        assert next(rows)[0] == 1
        # Writers go on while the verification reads (SQLite: a deferred transaction,
        # not BEGIN IMMEDIATE; PostgreSQL: REPEATABLE READ) ...
        _change_product(demo_app, 2)
        # ... and the verification still sees the ledger as it was when it began.
        assert uow.ledger.count() == 55
        assert sum(1 for _ in rows) == 54
    assert ledger.verify(demo_app.uow()).entries_checked == 57
