"""The ledger's hash chain, walked in memory."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from veinline.domain.ledger import (
    GENESIS_HASH,
    ChainVerifier,
    LedgerDraft,
    LedgerEntry,
    Signature,
    StoredRow,
    VerificationReport,
    canonical_json,
    content_hash,
    entry_of_row,
    hashed_text,
    seal,
    seal_checkpoint,
    stored_row,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _chain(n: int) -> list[LedgerEntry]:
    entries: list[LedgerEntry] = []
    prev = GENESIS_HASH
    for i in range(1, n + 1):
        entry = seal(
            LedgerDraft(
                actor="qa",
                actor_name="Demo QA",
                action="product.changed",
                entity_type="product",
                entity_id=f"p{i % 3}",
                before={"version": i - 1},
                after={"version": i, "name": f"name {i}"},
                reason="test",
            ),
            seq=i,
            prev_hash=prev,
            recorded_at=T0 + timedelta(minutes=i),
        )
        entries.append(entry)
        prev = entry.hash
    return entries


def _walk(entries: list[LedgerEntry]) -> ChainVerifier:
    verifier = ChainVerifier()
    verifier.walk(entries)
    return verifier


def test_an_untouched_chain_verifies_every_entry() -> None:
    verifier = _walk(_chain(6))
    assert verifier.report.ok
    assert verifier.report.entries_checked == 6


def test_an_edited_entry_is_named_as_the_first_break() -> None:
    entries = _chain(6)
    entries[3] = replace(entries[3], reason="changed afterwards")
    report = _walk(entries).report
    assert not report.ok
    assert report.breaks[0].seq == 4
    assert "edited" in report.breaks[0].message
    assert report.entries_checked == 3


def test_an_edited_entry_with_a_recomputed_hash_breaks_the_next_link() -> None:
    entries = _chain(6)
    forged = replace(entries[2], after={"version": 99})
    entries[2] = replace(forged, hash=forged.computed_hash())
    report = _walk(entries).report
    assert report.breaks[0].seq == 4
    assert "does not follow" in report.breaks[0].message


def test_a_deleted_entry_is_found_where_the_sequence_jumps() -> None:
    entries = _chain(6)
    del entries[2]
    report = _walk(entries).report
    assert report.breaks[0].seq == 4
    assert "should be" in report.breaks[0].message


def test_reordered_entries_are_found() -> None:
    entries = _chain(6)
    a, b = entries[1], entries[2]
    entries[1] = replace(b, seq=2)
    entries[2] = replace(a, seq=3)
    assert not _walk(entries).report.ok


def test_an_inserted_entry_is_found() -> None:
    entries = _chain(4)
    intruder = seal(
        LedgerDraft("qa", "Demo QA", "x", "product", "p9", None, {"a": 1}),
        seq=5,
        prev_hash="f" * 64,
        recorded_at=T0,
    )
    entries.append(intruder)
    report = _walk(entries).report
    assert report.breaks[0].seq == 5


def test_records_matching_their_last_snapshot_pass() -> None:
    verifier = _walk(_chain(6))
    current = [
        ("product", f"p{k}", verifier.last_snapshot("product", f"p{k}") or {}) for k in range(3)
    ]
    assert verifier.compare_records(current)
    assert verifier.report.records_checked == 3


def test_a_record_edited_in_the_table_is_named_with_its_field() -> None:
    verifier = _walk(_chain(6))
    current = []
    for k in range(3):
        snap = dict(verifier.last_snapshot("product", f"p{k}") or {})
        if k == 1:
            snap["name"] = "tampered"
        current.append(("product", f"p{k}", snap))
    assert not verifier.compare_records(current)
    message = verifier.report.breaks[0].message
    assert "product p1" in message and "name" in message and "tampered" in message


def test_a_record_missing_from_the_database_is_found() -> None:
    verifier = _walk(_chain(6))
    current = [("product", "p0", verifier.last_snapshot("product", "p0") or {})]
    assert not verifier.compare_records(current)
    assert "missing" in verifier.report.breaks[0].message


def test_a_record_never_written_to_the_ledger_is_found() -> None:
    verifier = _walk(_chain(3))
    snapshots = [("product", k[1], verifier.last_snapshot(*k) or {}) for k in verifier.last_after]
    snapshots.append(("product", "smuggled", {"name": "x"}))
    assert not verifier.compare_records(snapshots)
    assert "not in the ledger" in verifier.report.breaks[0].message


def test_a_signature_is_part_of_what_the_hash_covers() -> None:
    draft = LedgerDraft(
        "qa",
        "Demo QA",
        "batch.released",
        "batch",
        "b1",
        {"s": "in_qc"},
        {"s": "released"},
        "release",
        Signature(meaning="released", signed_hash=content_hash({"b": 1})),
    )
    entry = seal(draft, seq=1, prev_hash=GENESIS_HASH, recorded_at=T0)
    assert entry.signature_meaning == "released"
    moved = replace(entry, signed_hash=content_hash({"b": 2}))
    assert moved.computed_hash() != entry.hash


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        seal(
            LedgerDraft("qa", "QA", "x", "t", "i", None, {}),
            seq=1,
            prev_hash=GENESIS_HASH,
            recorded_at=datetime(2026, 1, 1),
        )


def test_changes_list_old_and_new_values() -> None:
    entry = _chain(2)[1]
    assert ("version", 1, 2) in entry.changes()
    assert ("name", None, "name 2") in entry.changes()


def test_a_signature_moved_to_other_content_breaks_verification() -> None:
    snapshot = {"code": "eque-cel", "version": 1}
    entry = seal(
        LedgerDraft(
            "qa",
            "Demo QA",
            "signature.approved",
            "product",
            "eque-cel",
            snapshot,
            {"code": "eque-cel", "version": 2},
            "",
            Signature(meaning="approved", signed_hash=content_hash(snapshot)),
        ),
        seq=1,
        prev_hash=GENESIS_HASH,
        recorded_at=T0,
    )
    report = _walk([entry]).report
    assert not report.ok
    assert "11.70" in report.breaks[0].message


@pytest.mark.parametrize(
    "after",
    [
        None,
        {},
        {"name": 'quote " and \\ back', "ünïcödé": "日本 \u2028 \x00 \t", "n": 1.5e-7},
        {"nested": {"b": [1, 2.0, None, True], "a": {"z": "", "y": -3}}, "big": 10**20},
        {"keys": {"10": 1, "2": 2}},
    ],
)
def test_the_text_put_together_from_columns_is_the_canonical_json_hashed(
    after: dict[str, object] | None,
) -> None:
    entry = seal(
        LedgerDraft(
            actor="qa",
            actor_name='Q. "A" Ünal',
            action="product.changed",
            entity_type="product",
            entity_id="p/1",
            before={"name": "old"},
            after=after,
            reason="line\nbreak",
            signature=Signature(meaning="approved", signed_hash=content_hash(after)),
        ),
        seq=7,
        prev_hash="a" * 64,
        recorded_at=T0,
    )
    row = stored_row(entry)
    assert hashed_text(*row[:13]) == canonical_json(entry.hashed_content())
    assert entry.hash == entry.computed_hash()
    verifier = ChainVerifier(after_seq=6, tip_hash="a" * 64)
    assert verifier.walk_rows([row])
    assert verifier.report.entries_checked == 1 and verifier.tip == (7, entry.hash)


def test_a_snapshot_whose_keys_are_not_text_is_hashed_as_it_reads_back() -> None:
    entry = seal(
        LedgerDraft("qa", "QA", "x.y", "product", "p", None, {"steps": {2: "b", 10: "a"}}),
        seq=1,
        prev_hash=GENESIS_HASH,
        recorded_at=T0,
    )
    assert entry.after == {"steps": {"10": "a", "2": "b"}}
    assert ChainVerifier().walk_rows([stored_row(entry)])
    assert ChainVerifier().walk([entry])


def _rows(n: int) -> list[StoredRow]:
    return [stored_row(e) for e in _chain(n)]


def test_walking_stored_rows_finds_what_walking_entries_finds() -> None:
    rows = _rows(8)
    edited = list(rows[4])
    edited[9] = "a different reason"
    cases = {
        "edited": [*rows[:4], tuple(edited), *rows[5:]],
        "deleted": [*rows[:3], *rows[4:]],
        "swapped": [*rows[:2], rows[3], rows[2], *rows[4:]],
    }
    for name, tampered in cases.items():
        fast = ChainVerifier()
        slow = ChainVerifier()
        assert not fast.walk_rows(tampered), name
        assert not slow.walk([entry_of_row(r) for r in tampered]), name
        assert fast.report == slow.report, name


def test_a_stored_snapshot_in_other_spacing_still_verifies_the_slow_way() -> None:
    rows = _rows(3)
    spaced = list(rows[1])
    spaced[8] = json.dumps(json.loads(spaced[8]), indent=2)
    verifier = ChainVerifier()
    assert verifier.walk_rows([rows[0], tuple(spaced), rows[2]])
    assert verifier.report.entries_checked == 3


def test_a_walk_from_a_checkpoint_starts_after_it() -> None:
    rows = _rows(6)
    verifier = ChainVerifier(after_seq=3, tip_hash=rows[2][13])
    assert verifier.walk_rows(rows[3:])
    assert verifier.report.entries_checked == 3
    wrong_start = ChainVerifier(after_seq=3, tip_hash=rows[1][13])
    assert not wrong_start.walk_rows(rows[3:])
    assert "does not follow entry #3" in wrong_start.report.breaks[0].message


def test_a_checkpoint_is_chained_and_sealed() -> None:
    report = VerificationReport(entries_checked=5, records_checked=2)
    first = seal_checkpoint(
        report, tip=(5, "b" * 64), full=True, checked_by="qa", checked_at=T0, previous=None
    )
    second = seal_checkpoint(
        report, tip=(5, "b" * 64), full=False, checked_by="qa", checked_at=T0, previous=first
    )
    assert first.intact and second.intact
    assert (first.number, second.number) == (1, 2)
    assert second.prev_hash == first.hash and first.prev_hash == GENESIS_HASH
    assert not replace(second, ok=False).intact
