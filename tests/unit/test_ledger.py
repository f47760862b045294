"""The ledger's hash chain, walked in memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from veinline.domain.ledger import (
    GENESIS_HASH,
    ChainVerifier,
    LedgerDraft,
    LedgerEntry,
    Signature,
    content_hash,
    seal,
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
        ("product", f"p{k}", verifier.last_after[("product", f"p{k}")][1] or {}) for k in range(3)
    ]
    assert verifier.compare_records(current)
    assert verifier.report.records_checked == 3


def test_a_record_edited_in_the_table_is_named_with_its_field() -> None:
    verifier = _walk(_chain(6))
    current = []
    for k in range(3):
        snap = dict(verifier.last_after[("product", f"p{k}")][1] or {})
        if k == 1:
            snap["name"] = "tampered"
        current.append(("product", f"p{k}", snap))
    assert not verifier.compare_records(current)
    message = verifier.report.breaks[0].message
    assert "product p1" in message and "name" in message and "tampered" in message


def test_a_record_missing_from_the_database_is_found() -> None:
    verifier = _walk(_chain(6))
    current = [("product", "p0", verifier.last_after[("product", "p0")][1] or {})]
    assert not verifier.compare_records(current)
    assert "missing" in verifier.report.breaks[0].message


def test_a_record_never_written_to_the_ledger_is_found() -> None:
    verifier = _walk(_chain(3))
    snapshots = [("product", k[1], v[1] or {}) for k, v in verifier.last_after.items()]
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
