"""The typed parts of a case read and write the same stored form as the untyped records
they replaced, so rows and ledger snapshots written before still read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from veinline.domain.case_parts import (
    Collection,
    Infusion,
    Manufacturing,
    ReleaseKind,
    ReleaseOutcome,
)
from veinline.domain.infusion import Finding

HKT = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 9, 8, 0, tzinfo=HKT)

# The stored forms as the earlier untyped records wrote them (services built these dicts).
STORED_COLLECTION = {
    "din": "A999926000011",
    "check_character": "K",
    "collected_at": "2026-03-09T08:00:00+08:00",
    "site": "demo-hk-apheresis",
    "volume_ml": 180.0,
    "by": "nurse",
}
STORED_STARTED = {
    "batch_id": "B-C2026-00001",
    "started_at": "2026-03-10T01:00:00+00:00",
    "started_by": "operator",
}
STORED_COMPLETED = {
    **STORED_STARTED,
    "completed_at": "2026-03-20T01:00:00+00:00",
    "completed_by": "operator",
    "bag_count": 2,
    "expires_at": "2027-03-20T01:00:00+00:00",
    "total_cells": 4.6e8,
}
STORED_RELEASES = [
    {"kind": "full", "batch_id": "B-1", "at": "2026-03-25T02:00:00+00:00", "by": "qa"},
    {
        "kind": "conditional",
        "batch_id": "B-1",
        "at": "2026-03-25T02:00:00+00:00",
        "by": "qa",
        "justification": "no alternative therapy; risk discussed",
        "acknowledged_by": "physician",
    },
    {"kind": "out_of_specification", "batch_id": "B-1", "reason": "Viability 62%"},
    {"kind": "rejected", "batch_id": "B-1", "reason": "sterility failure"},
]
STORED_INFUSION = {
    "wristband_id": "WB-0001",
    "bag": {"din": "A999926000011", "coi": "CHA999026000001"},
    "thawed_at": "2026-04-01T09:00:00+08:00",
    "infusion_started_at": "2026-04-01T09:20:00+08:00",
    "minutes_after_thaw": 20.0,
    "weight_kg": 70.0,
    "dose_cells": 7.0e7,
    "flags": [{"check": "dose", "message": "no dose rule"}],
    "override_reason": "physician reviewed",
    "by": "nurse",
}


@pytest.mark.parametrize(
    ("part", "stored"),
    [
        (Collection, STORED_COLLECTION),
        (Manufacturing, STORED_STARTED),
        (Manufacturing, STORED_COMPLETED),
        *((ReleaseOutcome, s) for s in STORED_RELEASES),
        (Infusion, STORED_INFUSION),
    ],
)
def test_a_stored_part_reads_back_and_writes_the_same_json(
    part: type[Collection | Manufacturing | ReleaseOutcome | Infusion], stored: dict[str, object]
) -> None:
    value = part.from_dict(stored)
    assert json.dumps(value.to_dict()) == json.dumps(stored)
    assert part.from_dict(value.to_dict()) == value


def test_times_keep_the_offset_they_were_given_in() -> None:
    collection = Collection("A999926000011", "K", T0, "demo-hk-apheresis", "nurse")
    assert collection.to_dict()["collected_at"] == "2026-03-09T08:00:00+08:00"
    assert Collection.from_dict(collection.to_dict()).collected_at.utcoffset() == timedelta(hours=8)


def test_parts_are_typed_values() -> None:
    made = Manufacturing.from_dict(STORED_COMPLETED)
    assert made.completed and made.bag_count == 2
    assert made.expires_at == datetime(2027, 3, 20, 1, 0, tzinfo=UTC)
    assert not Manufacturing.from_dict(STORED_STARTED).completed
    released = [ReleaseOutcome.from_dict(s) for s in STORED_RELEASES]
    assert [r.released for r in released] == [True, True, False, False]
    assert released[1].kind is ReleaseKind.CONDITIONAL
    infusion = Infusion.from_dict(STORED_INFUSION)
    assert infusion.flags == (Finding("dose", "no dose rule"),)
    assert (infusion.bag_din, infusion.bag_coi) == ("A999926000011", "CHA999026000001")
