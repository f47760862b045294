"""The bookings report: first bookings, reschedules by coded reason, back-entries, per
apheresis unit, read from the case ledger (docs/architecture.md, "The case's booking")."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from veinline.domain.case import RescheduleReason, rescheduled_for
from veinline.domain.user import User
from veinline.services import authority
from veinline.services.unit_of_work import AbstractUnitOfWork

_BOOKED = "case.book_apheresis"


def booking_report(uow: AbstractUnitOfWork, viewer: User) -> dict[str, Any]:
    """Counts only (no patient data): who may read reports sees the whole network's."""
    authority.require_read(viewer, authority.Read.REPORT)
    reasons: Counter[RescheduleReason] = Counter()
    units: dict[str, Counter[str]] = defaultdict(Counter)
    first = back_entries = 0
    cases: set[str] = set()
    with uow:
        for entry in uow.ledger.entries():
            if entry.action != _BOOKED:
                continue
            unit = str((entry.after or {}).get("apheresis_site") or "unknown")
            code = rescheduled_for(entry.reason)
            cases.add(entry.entity_id)
            if code is None:
                first += 1
                units[unit]["booked"] += 1
            else:
                reasons[code] += 1
                units[unit]["rescheduled"] += 1
            if "after the fact" in entry.reason:
                back_entries += 1
    rescheduled = sum(reasons.values())
    return {
        "bookings": first,
        "cases": len(cases),
        "reschedules": rescheduled,
        "reschedule_rate": round(rescheduled / first, 3) if first else 0.0,
        "by_reason": [
            {"reason": r.value, "label": r.label, "count": reasons[r]}
            for r in RescheduleReason
            if reasons[r]
        ],
        "back_entries": back_entries,
        "by_apheresis_site": [
            {"site": site, "booked": c["booked"], "rescheduled": c["rescheduled"]}
            for site, c in sorted(units.items())
        ],
    }
