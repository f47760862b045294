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


# json's own string encoder for ensure_ascii=False (the C one where it is built), so a
# string encoded here is byte for byte what canonical_json writes for it.
_string: Callable[[str], str] = json.encoder.encode_basestring


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _json_or_null(value: str | None) -> str:
    return "null" if value is None else value


def hashed_text(
    seq: int,
    recorded_at: str,
    actor: str,
    actor_name: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before_json: str | None,
    after_json: str | None,
    reason: str,
    signature_meaning: str | None,
    signed_hash: str | None,
    prev_hash: str,
) -> str:
    """The canonical JSON of an entry's hashed content, put together from the entry's
    stored columns: the snapshots are stored as their canonical JSON, so they are placed
    as they are instead of being parsed and written again. The keys are in sorted order
    and the text equals `canonical_json(entry.hashed_content())` (a unit test holds the
    two to each other), so the hashed form is the one the ledger has always had."""
    return (
        f'{{"action":{_string(action)},"actor":{_string(actor)},'
        f'"actor_name":{_string(actor_name)},"after":{_json_or_null(after_json)},'
        f'"before":{_json_or_null(before_json)},"entity_id":{_string(entity_id)},'
        f'"entity_type":{_string(entity_type)},"prev_hash":{_string(prev_hash)},'
        f'"reason":{_string(reason)},"recorded_at":{_string(recorded_at)},"seq":{seq},'
        f'"signature_meaning":{_text_or_null(signature_meaning)},'
        f'"signed_hash":{_text_or_null(signed_hash)}}}'
    )


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


def _utf8(value: str | bytes | None) -> bytes:
    if value is None:
        return b"null"
    return value.encode() if isinstance(value, str) else value


def stored_hash(
    seq: int,
    recorded_at: str,
    actor: str,
    actor_name: str,
    action: str,
    entity_type: str,
    entity_id: str,
    before_json: str | bytes | None,
    after_json: str | bytes | None,
    reason: str,
    signature_meaning: str | None,
    signed_hash: str | None,
    prev_hash: str,
) -> str:
    """The SHA-256 of `hashed_text`, fed in parts: the snapshots go in as the bytes the
    database gave (a verification reads them as bytes, neither decoded nor encoded)."""
    digest = hashlib.sha256(
        f'{{"action":{_string(action)},"actor":{_string(actor)},'
        f'"actor_name":{_string(actor_name)},"after":'.encode()
    )
    digest.update(_utf8(after_json))
    digest.update(b',"before":')
    digest.update(_utf8(before_json))
    digest.update(
        f',"entity_id":{_string(entity_id)},"entity_type":{_string(entity_type)},'
        f'"prev_hash":{_string(prev_hash)},"reason":{_string(reason)},'
        f'"recorded_at":{_string(recorded_at)},"seq":{seq},'
        f'"signature_meaning":{_text_or_null(signature_meaning)},'
        f'"signed_hash":{_text_or_null(signed_hash)}}}'.encode()
    )
    return digest.hexdigest()


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
    return sealed_row(draft, seq=seq, prev_hash=prev_hash, recorded_at=recorded_at)[0]


def sealed_row(
    draft: LedgerDraft, *, seq: int, prev_hash: str, recorded_at: datetime
) -> tuple[LedgerEntry, StoredRow]:
    """`seal`, with the entry as the ledger stores it (STORED_COLUMNS).

    The snapshots are read back from their JSON first, so what is hashed now equals what
    is read back later; the row holds their canonical JSON, which is what the hash
    covers, written once."""
    if not draft.actor:
        raise ValueError("every ledger entry names the user who acted")
    before, before_json = _stored(draft.before)
    after, after_json = _stored(draft.after)
    when = utc_text(recorded_at)
    meaning = draft.signature.meaning if draft.signature else None
    signed = draft.signature.signed_hash if draft.signature else None
    text = hashed_text(
        seq,
        when,
        draft.actor,
        draft.actor_name,
        draft.action,
        draft.entity_type,
        draft.entity_id,
        before_json,
        after_json,
        draft.reason,
        meaning,
        signed,
        prev_hash,
    )
    entry_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    entry = LedgerEntry(
        seq=seq,
        recorded_at=when,
        actor=draft.actor,
        actor_name=draft.actor_name,
        action=draft.action,
        entity_type=draft.entity_type,
        entity_id=draft.entity_id,
        before=before,
        after=after,
        reason=draft.reason,
        signature_meaning=meaning,
        signed_hash=signed,
        prev_hash=prev_hash,
        hash=entry_hash,
    )
    row = (
        seq,
        when,
        draft.actor,
        draft.actor_name,
        draft.action,
        draft.entity_type,
        draft.entity_id,
        before_json,
        after_json,
        draft.reason,
        meaning,
        signed,
        prev_hash,
        entry_hash,
    )
    return entry, row


def _stored(snapshot: JsonObject | None) -> tuple[JsonObject | None, str | None]:
    # The snapshot as it reads back from JSON (a key that is not text comes back as
    # text, and sorts as text), and its canonical JSON.
    if snapshot is None:
        return None, None
    plain: JsonObject = json.loads(canonical_json(snapshot))
    return plain, canonical_json(plain)


def stored_json(snapshot: JsonObject | None) -> str | None:
    """A snapshot's canonical JSON as the ledger stores it."""
    return _stored(snapshot)[1]


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


# A stored entry as the ledger table holds it, the snapshots as their canonical JSON
# text, in this column order: what `ChainVerifier.walk_rows` reads.
STORED_COLUMNS = (
    "seq",
    "recorded_at",
    "actor",
    "actor_name",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "reason",
    "signature_meaning",
    "signed_hash",
    "prev_hash",
    "hash",
)
StoredRow = tuple[Any, ...]


def stored_row(entry: LedgerEntry) -> StoredRow:
    """An entry as the ledger table stores it (STORED_COLUMNS)."""
    return (
        entry.seq,
        entry.recorded_at,
        entry.actor,
        entry.actor_name,
        entry.action,
        entry.entity_type,
        entry.entity_id,
        stored_json(entry.before),
        stored_json(entry.after),
        entry.reason,
        entry.signature_meaning,
        entry.signed_hash,
        entry.prev_hash,
        entry.hash,
    )


def entry_of_row(row: StoredRow) -> LedgerEntry:
    """A stored row read back as an entry (its snapshots parsed)."""
    before, after = row[7], row[8]
    return LedgerEntry(
        seq=row[0],
        recorded_at=row[1],
        actor=row[2],
        actor_name=row[3],
        action=row[4],
        entity_type=row[5],
        entity_id=row[6],
        before=None if before is None else json.loads(before),
        after=None if after is None else json.loads(after),
        reason=row[9],
        signature_meaning=row[10],
        signed_hash=row[11],
        prev_hash=row[12],
        hash=row[13],
    )


class ChainVerifier:
    """Walks entries in sequence order and finds the first that breaks the chain.

    `protect` turns a snapshot into the form the ledger keeps (domain/personal.py): the
    stored record and its last snapshot are compared in that form, so a snapshot of
    personal data recorded before it was kept as digests still compares equal.

    A walk starts at the beginning (a full verification) or just after a checkpoint
    already verified (`after_seq` and the hash of that entry, `tip_hash`): the next entry
    must then be `after_seq + 1` and follow `tip_hash`.
    """

    def __init__(
        self, *, after_seq: int = 0, tip_hash: str = GENESIS_HASH, protect: Protect = _as_is
    ) -> None:
        self.protect = protect
        self.report = VerificationReport()
        # The last snapshot of each record as the ledger stores it (canonical JSON, or
        # None once deleted), with the entry it is in; parsed only when compared.
        self.last_after: dict[tuple[str, str], tuple[int, str | bytes | None]] = {}
        self._expected_seq = after_seq + 1
        self._prev_hash = tip_hash

    @property
    def tip(self) -> tuple[int, str]:
        """The sequence and hash of the last entry found good (0 and the genesis hash
        before the first)."""
        return self._expected_seq - 1, self._prev_hash

    def last_snapshot(self, entity_type: str, entity_id: str) -> JsonObject | None:
        """A record's last snapshot in the entries walked so far."""
        text = self.last_after.get((entity_type, entity_id), (0, None))[1]
        return None if text is None else _object(text)

    def walk(self, entries: Iterable[LedgerEntry]) -> bool:
        return all(self._check(entry) for entry in entries)

    def walk_rows(
        self, rows: Iterable[StoredRow], progress: Callable[[int], None] | None = None
    ) -> bool:
        """Walk stored rows: the hash of each is taken over the text put together from its
        columns (`stored_hash`) without parsing its snapshots (text or UTF-8 bytes). A
        row that does not match is checked again the slow way (`walk`) before it is
        called a break, so this finds exactly what `walk` finds. `progress` is told every
        10,000 entries how many were checked so far."""
        sha256 = hashlib.sha256
        last_after = self.last_after
        expected = self._expected_seq
        prev = self._prev_hash
        start = expected
        try:
            for row in rows:
                (
                    seq,
                    recorded_at,
                    actor,
                    actor_name,
                    action,
                    entity_type,
                    entity_id,
                    before,
                    after,
                    reason,
                    meaning,
                    signed,
                    prev_hash,
                    entry_hash,
                ) = row
                if (
                    seq != expected
                    or prev_hash != prev
                    or stored_hash(
                        seq,
                        recorded_at,
                        actor,
                        actor_name,
                        action,
                        entity_type,
                        entity_id,
                        before,
                        after,
                        reason,
                        meaning,
                        signed,
                        prev_hash,
                    )
                    != entry_hash
                    or (signed is not None and signed != sha256(_utf8(after)).hexdigest())
                ):
                    self.report.entries_checked += expected - start
                    self._expected_seq, self._prev_hash = expected, prev
                    if not self._check(entry_of_row(row)):
                        start = expected
                        return False
                    expected, prev = self._expected_seq, self._prev_hash
                    start = expected
                    continue
                expected += 1
                prev = entry_hash
                last_after[(entity_type, entity_id)] = (seq, after)
                if progress is not None and not (expected - start) % 10_000:
                    progress(self.report.entries_checked + expected - start)
        finally:
            self.report.entries_checked += expected - start
            self._expected_seq, self._prev_hash = expected, prev
        return True

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
        self.last_after[(entry.entity_type, entry.entity_id)] = (
            entry.seq,
            stored_json(entry.after),
        )
        return True

    def compare_records(self, records: Iterable[tuple[str, str, JsonObject]]) -> bool:
        """Check that every regulated row still equals its last ledger snapshot."""
        seen: set[tuple[str, str]] = set()
        for entity_type, entity_id, snapshot in records:
            key = (entity_type, entity_id)
            seen.add(key)
            self.report.records_checked += 1
            seq, after_text = self.last_after.get(key, (0, None))
            label = f"{entity_type} {entity_id}"
            if after_text is None:
                self._break(None, label, f"{label} is in the database but not in the ledger")
                return False
            current = _plain(self.protect(entity_type, entity_id, snapshot)) or {}
            after = _plain(self.protect(entity_type, entity_id, _object(after_text))) or {}
            if current != after:
                field_name, old, new = next(_differences(after, current))
                self._break(
                    seq,
                    label,
                    f"{label} no longer matches its last ledger snapshot (entry #{seq}): "
                    f"{field_name} is {new!r} in the database but {old!r} in the ledger "
                    "(the table was edited outside veinline)",
                )
                return False
        for (entity_type, entity_id), (seq, after_text) in self.last_after.items():
            if after_text is not None and (entity_type, entity_id) not in seen:
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


def _object(text: str | bytes) -> JsonObject:
    loaded: JsonObject = json.loads(text)
    return loaded


def _differences(
    recorded: Mapping[str, Any], current: Mapping[str, Any]
) -> Iterator[tuple[str, Any, Any]]:
    for name in dict.fromkeys([*recorded.keys(), *current.keys()]):
        if recorded.get(name) != current.get(name):
            yield name, recorded.get(name), current.get(name)


@dataclass(frozen=True)
class Checkpoint:
    """The result of one verification, kept so that the next routine check verifies only
    the entries after it (docs/architecture.md, "The ledger").

    It names the last entry found good (`last_seq`, and that entry's hash, `tip_hash`),
    who verified, when, whether the whole chain was walked (`full`), the result and the
    first break. Checkpoints are hash-chained to each other as entries are: each is
    sealed with the hash of the one before, so an edited checkpoint shows.
    """

    number: int
    last_seq: int
    tip_hash: str
    checked_at: str
    checked_by: str
    full: bool
    ok: bool
    entries_checked: int
    records_checked: int
    first_break: str | None
    prev_hash: str
    hash: str

    def hashed_content(self) -> JsonObject:
        """Every field but the checkpoint's own hash: what that hash covers."""
        return {
            "number": self.number,
            "last_seq": self.last_seq,
            "tip_hash": self.tip_hash,
            "checked_at": self.checked_at,
            "checked_by": self.checked_by,
            "full": self.full,
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "records_checked": self.records_checked,
            "first_break": self.first_break,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        return content_hash(self.hashed_content())

    @property
    def intact(self) -> bool:
        return self.computed_hash() == self.hash


def seal_checkpoint(
    report: VerificationReport,
    *,
    tip: tuple[int, str],
    full: bool,
    checked_by: str,
    checked_at: datetime,
    previous: Checkpoint | None,
) -> Checkpoint:
    """The checkpoint of a verification, chained to the checkpoint before it."""
    unsealed = Checkpoint(
        number=previous.number + 1 if previous else 1,
        last_seq=tip[0],
        tip_hash=tip[1],
        checked_at=utc_text(checked_at),
        checked_by=checked_by,
        full=full,
        ok=report.ok,
        entries_checked=report.entries_checked,
        records_checked=report.records_checked,
        first_break=report.breaks[0].message if report.breaks else None,
        prev_hash=previous.hash if previous else GENESIS_HASH,
        hash="",
    )
    return replace(unsealed, hash=unsealed.computed_hash())
