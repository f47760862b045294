"""Read models of a ledger entry, with its changes as old and new values, and of a
verification's checkpoint."""

from __future__ import annotations

from typing import Any

from veinline.domain.ledger import Checkpoint, LedgerEntry
from veinline.services.unit_of_work import LedgerQuery


def entry_view(entry: LedgerEntry) -> dict[str, Any]:
    data = entry.hashed_content()
    data["hash"] = entry.hash
    data["changes"] = [{"field": n, "old": o, "new": v} for n, o, v in entry.changes()]
    return data


def checkpoint_view(checkpoint: Checkpoint) -> dict[str, Any]:
    """A verification's result: what was checked, up to which entry, by whom and when."""
    return {
        "number": checkpoint.number,
        "ok": checkpoint.ok,
        "full": checkpoint.full,
        "last_seq": checkpoint.last_seq,
        "tip_hash": checkpoint.tip_hash,
        "entries_checked": checkpoint.entries_checked,
        "records_checked": checkpoint.records_checked,
        "checked_at": checkpoint.checked_at,
        "checked_by": checkpoint.checked_by,
        "break": checkpoint.first_break,
        "hash": checkpoint.hash,
        "intact": checkpoint.intact,
    }


def ledger_page_view(entries: list[LedgerEntry], total: int, query: LedgerQuery) -> dict[str, Any]:
    """A page of ledger entries with the filters it was read with and where it stands."""
    page, size = query.bounded
    return {
        "entries": [entry_view(e) for e in entries],
        "total": total,
        "page": page,
        "pages": max(1, -(-total // size)),
        "page_size": size,
        "query": {
            "entity_type": query.entity_type,
            "entity_id": query.entity_id,
            "actor": query.actor,
            "action": query.action,
            "from": query.since,
            "to": query.until,
        },
    }
