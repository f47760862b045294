"""Read model of a ledger entry, with its changes as old and new values."""

from __future__ import annotations

from typing import Any

from veinline.domain.ledger import LedgerEntry


def entry_view(entry: LedgerEntry) -> dict[str, Any]:
    data = entry.hashed_content()
    data["hash"] = entry.hash
    data["changes"] = [{"field": n, "old": o, "new": v} for n, o, v in entry.changes()]
    return data
