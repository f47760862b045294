"""In-memory fakes of the unit of work, for fast handler tests (no database)."""

from __future__ import annotations

import builtins
import copy
import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any, Generic, TypeVar

from veinline.adapters.seed.release_panels import default_tests
from veinline.domain.catalog import Modality
from veinline.domain.ledger import (
    GENESIS_HASH,
    Checkpoint,
    JsonObject,
    LedgerDraft,
    LedgerEntry,
    StoredRow,
    seal,
    stored_json,
    stored_row,
)
from veinline.domain.sign_in import IssuedToken
from veinline.domain.specification import ReleaseTest
from veinline.services.unit_of_work import (
    AbstractUnitOfWork,
    Claim,
    KeyTaken,
    LedgerQuery,
    StoredKey,
)

T = TypeVar("T")


def release_panels(modality: Modality) -> tuple[ReleaseTest, ...]:
    """The `release_panels` dependency of a hand-built bus: the demo panels, as wired."""
    return default_tests(modality)


class FakeRepository(Generic[T]):
    def __init__(self, key: Callable[[T], str]) -> None:
        self.key = key
        self.rows: dict[str, T] = {}
        self.pending: dict[str, T] = {}

    def get(self, key: str, *, for_update: bool = False) -> T | None:
        return self.pending.get(key) or self.rows.get(key)

    def add(self, record: T) -> None:
        self.pending[self.key(record)] = record

    def list(self) -> builtins.list[T]:
        return [v for _, v in sorted({**self.rows, **self.pending}.items())]

    def find(self, **criteria: object) -> builtins.list[T]:
        return [r for r in self.list() if all(getattr(r, k) == v for k, v in criteria.items())]

    def page(self, limit: int, offset: int = 0, **criteria: object) -> builtins.list[T]:
        return builtins.list(reversed(self.find(**criteria)))[offset : offset + limit]


class FakeLedger:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.committed: list[LedgerEntry] = []
        self.pending: list[LedgerEntry] = []

    def append(self, draft: LedgerDraft) -> LedgerEntry:
        last = self.last()
        entry = seal(
            draft,
            seq=(last.seq + 1) if last else 1,
            prev_hash=last.hash if last else GENESIS_HASH,
            recorded_at=self.clock(),
        )
        self.pending.append(entry)
        return entry

    def last(self) -> LedgerEntry | None:
        all_entries = self.committed + self.pending
        return all_entries[-1] if all_entries else None

    def last_seq(self) -> int:
        return self.committed[-1].seq if self.committed else 0

    def recent(self, limit: int) -> list[LedgerEntry]:
        return list(reversed(self.committed))[:limit]

    def search(self, query: LedgerQuery) -> tuple[list[LedgerEntry], int]:
        page, size = query.bounded
        found = [e for e in reversed(self.committed) if query.admits(e)]
        return found[(page - 1) * size : page * size], len(found)

    def entries(self) -> Generator[LedgerEntry, None, None]:
        yield from list(self.committed)

    def rows(self, after_seq: int = 0) -> Generator[StoredRow, None, None]:
        for entry in list(self.committed):
            if entry.seq > after_seq:
                yield stored_row(entry)

    def count(self, after_seq: int = 0) -> int:
        return sum(1 for e in self.committed if e.seq > after_seq)

    def stored_hash(self, seq: int) -> str | None:
        return next((e.hash for e in self.committed if e.seq == seq), None)

    def latest_snapshots(
        self, up_to_seq: int
    ) -> Generator[tuple[str, str, int, str | None], None, None]:
        latest: dict[tuple[str, str], LedgerEntry] = {}
        for entry in self.committed:
            if entry.seq <= up_to_seq:
                latest[(entry.entity_type, entry.entity_id)] = entry
        for (entity_type, entity_id), entry in latest.items():
            yield entity_type, entity_id, entry.seq, stored_json(entry.after)

    def for_entity(self, entity_id: str, entity_type: str | None = None) -> list[LedgerEntry]:
        return [
            e
            for e in self.committed
            if e.entity_id == entity_id and (entity_type is None or e.entity_type == entity_type)
        ]

    def of_case(
        self, case_id: str, identifiers: list[str], *, limit: int, offset: int = 0
    ) -> list[LedgerEntry]:
        # A case's own records are numbered after it (handlers.case_record_id).
        records = ("custody_event", "shipment", "identity_incident", "assessment")
        found = [
            e
            for e in self.committed
            if (e.entity_type == "case" and e.entity_id == case_id)
            or (e.entity_type == "identifier" and e.entity_id in identifiers)
            or (e.entity_type in records and e.entity_id.startswith(case_id + "-"))
        ]
        return list(reversed(found))[offset : offset + limit]


class FakeCheckpoints:
    def __init__(self, ledger: FakeLedger) -> None:
        self.ledger = ledger
        self.committed: list[Checkpoint] = []
        self.pending: list[Checkpoint] = []

    def with_ledger_hashes(self) -> Generator[tuple[Checkpoint, str | None], None, None]:
        for checkpoint in list(self.committed):
            yield checkpoint, self.ledger.stored_hash(checkpoint.last_seq)

    def last(self, *, good: bool = False) -> Checkpoint | None:
        found = [c for c in self.committed + self.pending if c.ok or not good]
        return found[-1] if found else None

    def add(self, checkpoint: Checkpoint) -> None:
        self.pending.append(checkpoint)

    def lock(self) -> None:
        return None


class FakeSequences:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str, int], int] = {}
        # A case's own record counters, apart from the identifier sequences.
        self.records: dict[tuple[str, str], int] = {}

    def next(self, kind: str, fin: str, year: int) -> int:
        key = (kind, fin, year)
        self.values[key] = self.values.get(key, 0) + 1
        return self.values[key]

    def next_in(self, scope: str, kind: str) -> int:
        self.records[scope, kind] = self.records.get((scope, kind), 0) + 1
        return self.records[scope, kind]


class FakeTokens:
    def __init__(self) -> None:
        self.rows: dict[str, IssuedToken] = {}

    def add(self, token: IssuedToken) -> None:
        self.rows[token.token_hash] = token

    def find(self, token_hash: str) -> IssuedToken | None:
        return self.rows.get(token_hash)

    def of_user(self, username: str) -> list[IssuedToken]:
        return [t for t in self.rows.values() if t.username == username]

    def touch(self, token_hash: str, at: datetime) -> None:
        token = self.rows.get(token_hash)
        if token is not None:
            self.rows[token_hash] = dataclasses.replace(token, last_used_at=at)

    def remove(self, token_hash: str) -> None:
        self.rows.pop(token_hash, None)

    def remove_of_user(self, username: str) -> int:
        mine = [h for h, t in self.rows.items() if t.username == username]
        for token_hash in mine:
            del self.rows[token_hash]
        return len(mine)


class FakeIdempotency:
    """Idempotency-Keys in a dict; a claim is kept only when its transaction commits."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], StoredKey] = {}
        self.pending: dict[tuple[str, str], StoredKey] = {}

    def find(self, username: str, key: str) -> StoredKey | None:
        return self.rows.get((username, key))

    def claim(self, claim: Claim) -> None:
        if (claim.username, claim.key) in self.rows:
            raise KeyTaken(f"Idempotency-Key {claim.key!r} was claimed by another request")
        self.pending[claim.username, claim.key] = StoredKey(
            claim.request_hash, claim.attempt, None, None
        )

    def answer(self, claim: Claim, status: int, response: object) -> None:
        stored = self.rows.get((claim.username, claim.key))
        if stored is not None and stored.attempt == claim.attempt:
            self.rows[claim.username, claim.key] = StoredKey(
                stored.request_hash, stored.attempt, status, response
            )


class FakeUnitOfWork(AbstractUnitOfWork):
    """Keeps everything in dicts; a rollback forgets what was not committed."""

    sequences: FakeSequences
    ledger: FakeLedger
    checkpoints: FakeCheckpoints
    idempotency: FakeIdempotency

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.users = FakeRepository(lambda u: u.username)
        self.sites = FakeRepository(lambda s: s.code)
        self.products = FakeRepository(lambda p: p.code)
        self.authorisations = FakeRepository(lambda a: a.id)
        self.identifiers = FakeRepository(lambda i: i.value)
        self.cases = FakeRepository(lambda c: c.id)
        self.custody_events = FakeRepository(lambda e: e.id)
        self.incidents = FakeRepository(lambda i: i.id)
        self.shipments = FakeRepository(lambda s: s.id)
        self.assessments = FakeRepository(lambda a: a.id)
        self.trials = FakeRepository(lambda t: t.id)
        self.trial_patients = FakeRepository(lambda p: p.id)
        self.triage = FakeRepository(lambda t: t.id)
        self.plans = FakeRepository(lambda p: p.id)
        self.process_templates = FakeRepository(lambda t: t.id)
        self.specifications = FakeRepository(lambda s: s.id)
        self.batches = FakeRepository(lambda b: b.id)
        self.release_records = FakeRepository(lambda r: r.batch_id)
        self.sequences = FakeSequences()
        self.ledger = FakeLedger(clock)
        self.checkpoints = FakeCheckpoints(self.ledger)
        self.tokens = FakeTokens()
        self.clock = clock
        self.sign_in_guards = FakeRepository(lambda g: g.username)
        self.idempotency = FakeIdempotency()
        # The ledger's digests of personal data, under a fixed test key.
        self.mac = lambda data: hmac.new(b"fake-digest-key", data, hashlib.sha256).hexdigest()
        self.commits = 0
        self._saved: dict[str, Any] = {}

    REPOSITORIES = (
        "users",
        "sites",
        "products",
        "authorisations",
        "identifiers",
        "cases",
        "custody_events",
        "incidents",
        "shipments",
        "assessments",
        "trials",
        "trial_patients",
        "triage",
        "plans",
        "process_templates",
        "specifications",
        "batches",
        "release_records",
        "sign_in_guards",
    )

    def _repos(self) -> list[FakeRepository[Any]]:
        # Every repository, so a rollback undoes a refused handler's changes everywhere.
        return [getattr(self, name) for name in self.REPOSITORIES]

    def __enter__(self) -> FakeUnitOfWork:
        # Snapshot committed objects so a rollback restores mutated records too.
        self._saved = {str(id(r)): copy.deepcopy(r.rows) for r in self._repos()}
        self._saved["sequences"] = dict(self.sequences.values)
        self._saved["records"] = dict(self.sequences.records)
        return self

    def _commit(self) -> None:
        for repo in self._repos():
            repo.rows.update(repo.pending)
            repo.pending.clear()
        self.ledger.committed.extend(self.ledger.pending)
        self.ledger.pending.clear()
        self.checkpoints.committed.extend(self.checkpoints.pending)
        self.checkpoints.pending.clear()
        self.idempotency.rows.update(self.idempotency.pending)
        self.idempotency.pending.clear()
        self._saved = {str(id(r)): copy.deepcopy(r.rows) for r in self._repos()}
        self._saved["sequences"] = dict(self.sequences.values)
        self._saved["records"] = dict(self.sequences.records)
        self.commits += 1

    def rollback(self) -> None:
        self._pending().clear()
        for repo in self._repos():
            repo.pending.clear()
            if str(id(repo)) in self._saved:
                repo.rows = self._saved[str(id(repo))]
        if "sequences" in self._saved:
            self.sequences.values = self._saved["sequences"]
            self.sequences.records = self._saved["records"]
        self.ledger.pending.clear()
        self.checkpoints.pending.clear()
        self.idempotency.pending.clear()

    def regulated_snapshots(self) -> Generator[tuple[str, str, JsonObject], None, None]:
        for repo in self._repos():
            for record in repo.rows.values():
                yield record.ENTITY_TYPE, record.entity_id, record.snapshot()


def present(value: T | None) -> T:
    """The value a test expects to be there: fails the test (and narrows the type) when
    it is not, e.g. a case's release decision once QA has decided."""
    assert value is not None, "expected a value, found none"
    return value
