"""The ledger: an append-only, hash-chained record of every change to a regulated record.

21 CFR 11.10(e) and EU GMP Annex 11 §9 ask for a secure, computer-generated,
time-stamped audit trail that never obscures a previous value. Each entry holds the
before and after snapshot of one regulated record, who acted and why, and the hash of
the entry before it, so that an edit, deletion, insertion or reordering anywhere in
the chain shows up when the chain is walked again. Electronic signatures (11.50,
11.70) are entries too: they carry the meaning of the signature and the hash of the
content signed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from veinline.domain.errors import InvalidInput

JsonObject = dict[str, Any]

GENESIS_HASH = "0" * 64


def canonical_json(value: object) -> str:
    """One text for one value: sorted keys, no spaces, so a hash is reproducible."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: object) -> str:
    """The SHA-256 of a value's canonical JSON: what a signature is bound to (11.70)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def utc_text(moment: datetime) -> str:
    """A UTC timestamp as ISO 8601 text with microseconds, the form the ledger stores."""
    if moment.tzinfo is None:
        raise ValueError("ledger timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def aware(moment: datetime, what: str = "the time") -> datetime:
    """A GMP record's times are unambiguous (Part 11 audit trail): they carry a zone."""
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} needs a time zone")
    return moment


def snapshot_time(moment: datetime | None) -> str | None:
    """A timestamp as a snapshot holds it: UTC, so it reads back the same from any database
    (which keeps the instant, not the zone it was given in)."""
    if moment is None:
        return None
    return utc_text(moment)


class Regulated(Protocol):
    """A record whose every change is written to the ledger."""

    ENTITY_TYPE: str

    @property
    def entity_id(self) -> str: ...

    def snapshot(self) -> JsonObject: ...


@dataclass(frozen=True)
class Signature:
    """The parts of an electronic signature that 11.50 asks to be shown with the record."""

    meaning: str
    signed_hash: str


@dataclass(frozen=True)
class LedgerDraft:
    """What a handler asks the ledger to record; the ledger adds sequence, time and hashes."""

    actor: str
    actor_name: str
    action: str
    entity_type: str
    entity_id: str
    before: JsonObject | None
    after: JsonObject | None
    reason: str = ""
    signature: Signature | None = None


@dataclass(frozen=True)
class LedgerEntry:
    """One sealed entry of the ledger."""

    seq: int
    recorded_at: str
    actor: str
    actor_name: str
    action: str
    entity_type: str
    entity_id: str
    before: JsonObject | None
    after: JsonObject | None
    reason: str
    signature_meaning: str | None
    signed_hash: str | None
    prev_hash: str
    hash: str

    def hashed_content(self) -> JsonObject:
        """Every field but the entry's own hash: what that hash covers."""
        return {
            "seq": self.seq,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            "actor_name": self.actor_name,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "signature_meaning": self.signature_meaning,
            "signed_hash": self.signed_hash,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        return content_hash(self.hashed_content())

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field, old, new) for every field the entry changed, in field order."""
        before = self.before or {}
        after = self.after or {}
        names = list(dict.fromkeys([*before.keys(), *after.keys()]))
        return [(n, before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n)]


def seal(draft: LedgerDraft, *, seq: int, prev_hash: str, recorded_at: datetime) -> LedgerEntry:
    """Turn a draft into an entry chained to the one before it."""
    if not draft.actor:
        raise ValueError("every ledger entry names the user who acted")
    unsealed = LedgerEntry(
        seq=seq,
        recorded_at=utc_text(recorded_at),
        actor=draft.actor,
        actor_name=draft.actor_name,
        action=draft.action,
        entity_type=draft.entity_type,
        entity_id=draft.entity_id,
        before=_plain(draft.before),
        after=_plain(draft.after),
        reason=draft.reason,
        signature_meaning=draft.signature.meaning if draft.signature else None,
        signed_hash=draft.signature.signed_hash if draft.signature else None,
        prev_hash=prev_hash,
        hash="",
    )
    return replace(unsealed, hash=unsealed.computed_hash())


def _plain(snapshot: JsonObject | None) -> JsonObject | None:
    # Round-trip through JSON so what is hashed now equals what is read back later.
    if snapshot is None:
        return None
    result: JsonObject = json.loads(canonical_json(snapshot))
    return result


@dataclass(frozen=True)
class Break:
    """The first place where the ledger or the data no longer tells the truth."""

    seq: int | None
    entity: str | None
    message: str


@dataclass
class VerificationReport:
    """What walking the ledger found."""

    entries_checked: int = 0
    records_checked: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


# (record type, record id, snapshot) → the snapshot with personal data as digests.
Protect = Callable[[str, str, "JsonObject | None"], "JsonObject | None"]


def _as_is(entity_type: str, entity_id: str, snapshot: JsonObject | None) -> JsonObject | None:
    return snapshot


class ChainVerifier:
    """Walks entries in sequence order and finds the first that breaks the chain.

    `protect` turns a snapshot into the form the ledger keeps (domain/personal.py): the
    stored record and its last snapshot are compared in that form, so a snapshot of
    personal data recorded before it was kept as digests still compares equal.
    """

    def __init__(self, protect: Protect = _as_is) -> None:
        self.protect = protect
        self.report = VerificationReport()
        self.last_after: dict[tuple[str, str], tuple[int, JsonObject | None]] = {}
        self._expected_seq = 1
        self._prev_hash = GENESIS_HASH

    def walk(self, entries: Iterable[LedgerEntry]) -> bool:
        return all(self._check(entry) for entry in entries)

    def _check(self, entry: LedgerEntry) -> bool:
        problem = None
        if entry.seq != self._expected_seq:
            problem = (
                f"entry #{entry.seq} stands where entry #{self._expected_seq} should be "
                "(an entry was deleted, inserted or renumbered)"
            )
        elif entry.computed_hash() != entry.hash:
            problem = f"entry #{entry.seq} does not match its own hash (its content was edited)"
        elif entry.signed_hash is not None and entry.signed_hash != content_hash(entry.after):
            problem = (
                f"entry #{entry.seq} is a signature whose hash does not match the record "
                "it signs (11.70: a signature cannot be moved to other content)"
            )
        elif entry.prev_hash != self._prev_hash:
            problem = (
                f"entry #{entry.seq} does not follow entry #{entry.seq - 1} "
                "(entries were inserted, deleted or reordered)"
            )
        if problem is not None:
            self.report.breaks.append(Break(seq=entry.seq, entity=None, message=problem))
            return False
        self.report.entries_checked += 1
        self._expected_seq += 1
        self._prev_hash = entry.hash
        self.last_after[(entry.entity_type, entry.entity_id)] = (entry.seq, entry.after)
        return True

    def compare_records(self, records: Iterable[tuple[str, str, JsonObject]]) -> bool:
        """Check that every regulated row still equals its last ledger snapshot."""
        seen: set[tuple[str, str]] = set()
        for entity_type, entity_id, snapshot in records:
            key = (entity_type, entity_id)
            seen.add(key)
            self.report.records_checked += 1
            seq, after = self.last_after.get(key, (0, None))
            label = f"{entity_type} {entity_id}"
            if after is None:
                self._break(None, label, f"{label} is in the database but not in the ledger")
                return False
            current = _plain(self.protect(entity_type, entity_id, snapshot)) or {}
            recorded = _plain(self.protect(entity_type, entity_id, after)) or {}
            if current != recorded:
                field_name, old, new = next(_differences(recorded, current))
                self._break(
                    seq,
                    label,
                    f"{label} no longer matches its last ledger snapshot (entry #{seq}): "
                    f"{field_name} is {new!r} in the database but {old!r} in the ledger "
                    "(the table was edited outside veinline)",
                )
                return False
        for (entity_type, entity_id), (seq, after) in self.last_after.items():
            if after is not None and (entity_type, entity_id) not in seen:
                label = f"{entity_type} {entity_id}"
                self._break(
                    seq,
                    label,
                    f"{label} is missing from the database but the ledger (entry #{seq}) "
                    "says it exists",
                )
                return False
        return True

    def _break(self, seq: int | None, entity: str, message: str) -> None:
        self.report.breaks.append(Break(seq=seq, entity=entity, message=message))


def _differences(
    recorded: Mapping[str, Any], current: Mapping[str, Any]
) -> Iterator[tuple[str, Any, Any]]:
    for name in dict.fromkeys([*recorded.keys(), *current.keys()]):
        if recorded.get(name) != current.get(name):
            yield name, recorded.get(name), current.get(name)
