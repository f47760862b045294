"""SQLAlchemy repositories, the ledger store, sequence allocation and the unit of work."""

from __future__ import annotations

import builtins
import threading
import weakref
from collections.abc import Callable, Collection, Generator, Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Engine,
    LargeBinary,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from veinline.adapters import orm
from veinline.adapters.crypto import keyring_of
from veinline.adapters.database import LEDGER_LOCK_KEY, READ_ONLY
from veinline.domain.assessment import Assessment, AssessmentKind
from veinline.domain.batch import Batch, DeviationState
from veinline.domain.case import Case, CaseState
from veinline.domain.catalog import Authorisation, Product, Site
from veinline.domain.custody import CustodyEvent, IdentityIncident
from veinline.domain.errors import Conflict
from veinline.domain.identifiers import IssuedIdentifier
from veinline.domain.ledger import (
    GENESIS_HASH,
    STORED_COLUMNS,
    Checkpoint,
    JsonObject,
    LedgerDraft,
    LedgerEntry,
    StoredRow,
    entry_of_row,
    sealed_row,
)
from veinline.domain.msc import Donor, Lot, Order, StorageUnit, Vial, VialStatus
from veinline.domain.planning_records import PlanRecord, TriageSettings
from veinline.domain.process import ProcessTemplate
from veinline.domain.release import FINAL_DISPOSITIONS, ReleaseRecord
from veinline.domain.shipment import Shipment, ShipmentStatus
from veinline.domain.sign_in import IssuedToken, SignInGuard, TokenKind, TokenScope
from veinline.domain.specification import Specification
from veinline.domain.trial_records import TrialPatient, TrialRecord
from veinline.domain.user import User
from veinline.services.unit_of_work import (
    UNFINISHED_BATCHES,
    AbstractUnitOfWork,
    CaseHead,
    CasePage,
    CaseQuery,
    Claim,
    KeyTaken,
    LedgerQuery,
    Reach,
    StoredKey,
    name_matches,
    searched_name,
)

T = TypeVar("T")

# The session's record of the rows its transaction holds locked, with the records read
# then (SqlRepository.get).
_LOCKED = "veinline_locked_rows"


class SqlRepository(Generic[T]):
    """Records of one mapped class, by primary key."""

    def __init__(self, session: Session, cls: type[T], order_by: Any) -> None:
        self.session = session
        self.cls = cls
        self.order_by = order_by if isinstance(order_by, tuple) else (order_by,)

    def get(self, key: str, *, for_update: bool = False) -> T | None:
        return self._get(key, for_update)

    def _get(self, identity: object, for_update: bool) -> T | None:
        # for_update takes the row lock (PostgreSQL): two requests changing one record
        # at once are serialised instead of one overwriting the other's change. A row
        # this transaction has locked already is the one loaded then: no second query.
        if not for_update:
            return self.session.get(self.cls, identity)
        locked: dict[tuple[type[Any], object], T] = self.session.info.setdefault(_LOCKED, {})
        found = locked.get((self.cls, identity))
        if found is None:
            found = self.session.get(self.cls, identity, with_for_update=True)
            if found is not None:
                # Held here too: the session's identity map keeps records only while
                # someone refers to them.
                locked[self.cls, identity] = found
        return found

    def add(self, record: T) -> None:
        self.session.add(record)

    def find(self, **criteria: object) -> list[T]:
        query = select(self.cls).filter_by(**criteria).order_by(*self.order_by)
        return list(self.session.scalars(query))

    def list(self) -> list[T]:
        return list(self.session.scalars(select(self.cls).order_by(*self.order_by)))

    def page(self, limit: int, offset: int = 0, **criteria: object) -> builtins.list[T]:
        newest = [column.desc() for column in self.order_by]
        query = select(self.cls).filter_by(**criteria).order_by(*newest)
        return list(self.session.scalars(query.limit(limit).offset(offset)))


class SqlVialRepository(SqlRepository[Vial]):
    """MSC vials: stock, the allocation lock, and vials by lot, order and unit."""

    def __init__(self, session: Session) -> None:
        t = orm.msc_vials.c
        super().__init__(session, Vial, (t.lot_id, t.division))

    def stock(self, product_code: str | None = None) -> list[Vial]:
        t = orm.msc_vials.c
        query = select(Vial).where(
            t.status == VialStatus.STORED, t.order_id.is_(None), t.quarantine.is_(None)
        )
        if product_code is not None:
            query = query.where(t.product_code == product_code)
        return list(self.session.scalars(query.order_by(t.expires_at, t.lot_id, t.division)))

    def candidates(
        self,
        product_code: str,
        *,
        lots: set[str],
        usable_after: dict[str, datetime],
        per_site: int,
        exclude: set[str] | None = None,
    ) -> list[Vial]:
        # One query: the filters of domain.msc.available, each depot's own expiry bound,
        # and a window keeping each depot's first `per_site` (FEFO): allocation reads a
        # course's worth per depot, not the whole stock.
        if not lots or not usable_after:
            return []
        t = orm.msc_vials.c
        order = (t.expires_at, t.lot_id, t.division)
        rank = func.row_number().over(partition_by=t.site, order_by=order).label("fefo_rank")
        inner = select(t.id, rank).where(
            t.product_code == product_code,
            t.status == VialStatus.STORED,
            t.order_id.is_(None),
            t.quarantine.is_(None),
            t.lot_id.in_(sorted(lots)),
            or_(*(and_(t.site == s, t.expires_at > at) for s, at in usable_after.items())),
        )
        if exclude:
            inner = inner.where(t.id.not_in(sorted(exclude)))
        ranked = inner.subquery()
        query = (
            select(Vial)
            .join(ranked, ranked.c.id == t.id)
            .where(ranked.c.fefo_rank <= per_site)
            .order_by(*order)
        )
        return list(self.session.scalars(query))

    def lock_free(self, vial_ids: list[str]) -> list[Vial]:
        if not vial_ids:
            return []
        t = orm.msc_vials.c
        query = (
            select(Vial)
            .where(t.id.in_(vial_ids), t.status == VialStatus.STORED, t.order_id.is_(None))
            .execution_options(populate_existing=True)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            # Rows another transaction is reserving are skipped, not waited for: that
            # order gets them, this one looks again (docs/architecture.md, "Allogeneic MSC").
            query = query.with_for_update(skip_locked=True)
        return list(self.session.scalars(query))

    def of_lots(self, lot_ids: list[str]) -> list[Vial]:
        t = orm.msc_vials.c
        query = select(Vial).where(t.lot_id.in_(lot_ids)).order_by(t.lot_id, t.division)
        return list(self.session.scalars(query))

    def of_order(self, order_id: str) -> list[Vial]:
        return self.find(order_id=order_id)

    def in_unit(self, unit_id: str) -> list[Vial]:
        t = orm.msc_vials.c
        query = select(Vial).where(t.position.like(f"{unit_id}/%")).order_by(t.position)
        return list(self.session.scalars(query))


class SqlVersionRepository(SqlRepository[T]):
    """Versioned controlled documents, found by their id `owner/scope/vN`."""

    def get(self, key: str, *, for_update: bool = False) -> T | None:
        parts = key.split("/")
        if len(parts) != 3 or not parts[2].startswith("v") or not parts[2][1:].isdigit():
            return None
        return self._get((parts[0], parts[1], int(parts[2][1:])), for_update)


class SqlSequenceAllocator:
    """Sequence numbers from a counter row, incremented in the database itself.

    `INSERT … ON CONFLICT DO UPDATE … RETURNING` (one statement) takes the row lock, so
    two transactions asking at once get consecutive numbers; the unique constraint on
    issued identifiers backs it up.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def next(self, kind: str, fin: str, year: int) -> int:
        return self._increment(orm.identifier_sequences, {"kind": kind, "fin": fin, "year": year})

    def next_in(self, scope: str, kind: str) -> int:
        return self._increment(orm.record_sequences, {"scope": scope, "kind": kind})

    def _increment(self, table: Any, key: dict[str, object]) -> int:
        # One statement: insert the counter at 1, or (the row exists) increment it in
        # place. Either way the row is locked until this transaction ends, so a
        # concurrent caller waits and reads the number after ours; two callers creating
        # the same counter at once are resolved by the upsert itself (the loser updates).
        stmt = _upsert(self.session, table).values(**key, last_value=1)
        value = self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=list(key), set_={"last_value": table.c.last_value + 1}
            ).returning(table.c.last_value)
        ).scalar_one()
        return int(value)


_LEDGER = orm.ledger_entries
_STORED = [_LEDGER.c[name] for name in STORED_COLUMNS]
# One statement appends an entry whose place in the chain this process already knows
# (the tip it last wrote or read): the row goes in only if that tip is still the last
# entry, checked by the same statement under the append lock. When another process
# appended meanwhile nothing is inserted and the tip is read again.
_APPEND_AFTER_TIP = (
    insert(_LEDGER)
    .from_select(
        list(STORED_COLUMNS),
        select(*[bindparam(c.name, type_=c.type) for c in _STORED]).where(
            ~exists().where(_LEDGER.c.seq >= bindparam("seq")),
            or_(
                bindparam("seq") == 1,
                exists().where(
                    _LEDGER.c.seq == bindparam("seq") - 1,
                    _LEDGER.c.hash == bindparam("prev_hash"),
                ),
            ),
        ),
    )
    .returning(_LEDGER.c.seq)
)
_APPEND = insert(_LEDGER)
# PostgreSQL: the same, with the lock taken in the same round trip (migration 0012).
_LOCK_AND_APPEND_AFTER_TIP = select(
    func.veinline_ledger_append(
        bindparam("lock_key", type_=BigInteger),
        *[bindparam(c.name, type_=c.type) for c in _STORED],
        type_=Boolean,
    )
)


class _Tips:
    """The ledger tip each database was last seen at by this process, a guess that
    `_APPEND_AFTER_TIP` checks, never trusts."""

    def __init__(self) -> None:
        self._tips: weakref.WeakKeyDictionary[Engine, tuple[int, str]] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    def get(self, engine: Engine) -> tuple[int, str] | None:
        with self._guard:
            return self._tips.get(engine)

    def set(self, engine: Engine, tip: tuple[int, str]) -> None:
        with self._guard:
            self._tips[engine] = tip


_TIPS = _Tips()


class SqlLedger:
    """The ledger table: appends under a lock, reads in sequence order.

    An append takes the lock once per transaction (PostgreSQL's advisory lock; SQLite
    holds its write lock from BEGIN IMMEDIATE), then writes the entry in one statement:
    the tip is known from this transaction's previous append, or guessed from this
    process's last one and checked by the INSERT itself (docs/architecture.md, "The
    ledger").
    """

    def __init__(self, session: Session, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock
        # The tip this transaction wrote or read under the lock; None until it holds it.
        self._tip: tuple[int, str] | None = None

    def transaction_ended(self) -> None:
        """Forget the lock and the tip: the next append takes them again."""
        self._tip = None

    def append(self, draft: LedgerDraft) -> LedgerEntry:
        bind = self.session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        postgresql = engine.dialect.name == "postgresql"
        known = self._tip
        guess = None if known is not None else _TIPS.get(engine)
        if known is None and guess is None and postgresql:
            # One appender at a time, until this transaction ends (SQLite gets the same
            # from BEGIN IMMEDIATE).
            self.session.execute(select(func.pg_advisory_xact_lock(LEDGER_LOCK_KEY)))
        # Flush first so the rows this entry describes are written before it.
        self.session.flush()
        if guess is None:
            entry, values = self._seal(draft, known or self._read_tip())
            self.session.execute(_APPEND, values)
        else:
            entry, values = self._seal(draft, guess)
            if postgresql:
                appended = self.session.execute(
                    _LOCK_AND_APPEND_AFTER_TIP, {**values, "lock_key": LEDGER_LOCK_KEY}
                ).scalar_one()
            else:
                appended = self.session.execute(_APPEND_AFTER_TIP, values).first() is not None
            if not appended:
                # Another process appended since this one last did (the lock is held
                # now either way): read the tip and seal again.
                entry, values = self._seal(draft, self._read_tip())
                self.session.execute(_APPEND, values)
        self._tip = (entry.seq, entry.hash)
        _TIPS.set(engine, self._tip)
        return entry

    def _seal(
        self, draft: LedgerDraft, tip: tuple[int, str]
    ) -> tuple[LedgerEntry, dict[str, object]]:
        entry, row = sealed_row(draft, seq=tip[0] + 1, prev_hash=tip[1], recorded_at=self.clock())
        return entry, dict(zip(STORED_COLUMNS, row, strict=True))

    def _read_tip(self) -> tuple[int, str]:
        t = _LEDGER
        row = self.session.execute(select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1))
        found = row.first()
        return (found.seq, found.hash) if found else (0, GENESIS_HASH)

    def last(self) -> LedgerEntry | None:
        t = _LEDGER
        row = self.session.execute(select(*_STORED).order_by(t.c.seq.desc()).limit(1)).first()
        return entry_of_row(tuple(row)) if row else None

    def last_seq(self) -> int:
        found = self.session.execute(select(func.max(_LEDGER.c.seq))).scalar_one_or_none()
        return int(found or 0)

    def recent(self, limit: int) -> list[LedgerEntry]:
        t = _LEDGER
        rows = self.session.execute(select(*_STORED).order_by(t.c.seq.desc()).limit(limit))
        return [entry_of_row(tuple(row)) for row in rows]

    def search(self, query: LedgerQuery) -> tuple[list[LedgerEntry], int]:
        """A page of the entries the query asks for, newest first, and how many match:
        two statements (the page, the count)."""
        t = _LEDGER
        where: list[Any] = []
        for column, value in (
            (t.c.entity_type, query.entity_type),
            (t.c.entity_id, query.entity_id),
            (t.c.actor, query.actor),
            (t.c.action, query.action),
        ):
            if value:
                where.append(column == value)
        # recorded_at is ISO 8601 in UTC, so its text sorts as its time does.
        if query.since:
            where.append(t.c.recorded_at >= query.since)
        if query.until:
            where.append(t.c.recorded_at < _day_after(query.until))
        page, size = query.bounded
        total = int(
            self.session.execute(select(func.count()).select_from(t).where(*where)).scalar_one()
        )
        rows = self.session.execute(
            select(*_STORED)
            .where(*where)
            .order_by(t.c.seq.desc())
            .offset((page - 1) * size)
            .limit(size)
        )
        return [entry_of_row(tuple(row)) for row in rows], total

    def entries(self) -> Generator[LedgerEntry, None, None]:
        for row in self.rows():
            yield entry_of_row(row)

    def rows(self, after_seq: int = 0) -> Generator[StoredRow, None, None]:
        """The stored rows after `after_seq`, in order, streamed (PostgreSQL: a
        server-side cursor) as plain tuples, not ORM objects. On SQLite the snapshots
        come as their UTF-8 bytes, which is what is hashed (no decoding and encoding
        again); PostgreSQL sends bytea in hex, so text is quicker there."""
        t = _LEDGER
        columns: list[Any] = list(_STORED)
        if self.session.get_bind().dialect.name != "postgresql":
            columns[7:9] = [cast(t.c.before, LargeBinary), cast(t.c.after, LargeBinary)]
        query = select(*columns).where(t.c.seq > after_seq).order_by(t.c.seq)
        result = self.session.execute(query.execution_options(yield_per=5000))
        try:
            for partition in result.partitions():
                yield from map(tuple, partition)
        finally:
            # A reader may stop at the first break; close the server-side cursor then.
            result.close()

    def count(self, after_seq: int = 0) -> int:
        t = _LEDGER
        query = select(func.count()).select_from(t).where(t.c.seq > after_seq)
        return int(self.session.execute(query).scalar_one())

    def stored_hash(self, seq: int) -> str | None:
        t = _LEDGER
        return self.session.execute(select(t.c.hash).where(t.c.seq == seq)).scalar_one_or_none()

    def latest_snapshots(
        self, up_to_seq: int
    ) -> Generator[tuple[str, str, int, str | None], None, None]:
        """(entity type, entity id, seq, snapshot JSON) of each record's last entry up to
        `up_to_seq`: what a routine check compares the records with."""
        t = _LEDGER
        last = (
            select(func.max(t.c.seq).label("seq"))
            .where(t.c.seq <= up_to_seq)
            .group_by(t.c.entity_type, t.c.entity_id)
            .subquery()
        )
        query = select(t.c.entity_type, t.c.entity_id, t.c.seq, t.c.after).join(
            last, t.c.seq == last.c.seq
        )
        result = self.session.execute(query.execution_options(yield_per=5000))
        try:
            for row in result:
                yield row.entity_type, row.entity_id, row.seq, row.after
        finally:
            result.close()

    def of_case(
        self, case_id: str, identifiers: list[str], *, limit: int, offset: int = 0
    ) -> list[LedgerEntry]:
        # One statement: the (entity type, id) of the case, its identifiers and its
        # records, joined to the ledger on its (entity_type, entity_id) index; only the
        # page asked for leaves the database.
        t = _LEDGER
        keys = union_all(
            select(literal("case").label("kind"), literal(case_id).label("id")),
            *(select(literal("identifier"), literal(value)) for value in identifiers),
            *(
                select(literal(kind), table.c.id).where(table.c.case_id == case_id)
                for kind, table in (
                    ("custody_event", orm.custody_events),
                    ("shipment", orm.shipments),
                    ("identity_incident", orm.identity_incidents),
                    ("assessment", orm.assessments),
                )
            ),
        ).subquery()
        query = (
            select(*_STORED)
            .join(keys, and_(t.c.entity_type == keys.c.kind, t.c.entity_id == keys.c.id))
            .order_by(t.c.seq.desc())
            .limit(limit)
            .offset(offset)
        )
        return [entry_of_row(tuple(row)) for row in self.session.execute(query)]

    def for_entity(self, entity_id: str, entity_type: str | None = None) -> list[LedgerEntry]:
        t = _LEDGER
        query = select(*_STORED).where(t.c.entity_id == entity_id)
        if entity_type is not None:
            query = query.where(t.c.entity_type == entity_type)
        return [entry_of_row(tuple(row)) for row in self.session.execute(query.order_by(t.c.seq))]


class SqlCheckpoints:
    """The ledger's checkpoints (verification results), appended under the ledger lock."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def last(self, *, good: bool = False) -> Checkpoint | None:
        t = orm.ledger_checkpoints
        query = select(t)
        if good:
            query = query.where(t.c.ok.is_(True))
        row = self.session.execute(query.order_by(t.c.number.desc()).limit(1)).first()
        return _checkpoint(row) if row else None

    def with_ledger_hashes(self) -> Generator[tuple[Checkpoint, str | None], None, None]:
        c, e = orm.ledger_checkpoints, _LEDGER
        query = (
            select(c, e.c.hash.label("entry_hash"))
            .outerjoin(e, e.c.seq == c.c.last_seq)
            .order_by(c.c.number)
        )
        result = self.session.execute(query.execution_options(yield_per=1000))
        try:
            for row in result:
                yield _checkpoint(row), row.entry_hash
        finally:
            result.close()

    def add(self, checkpoint: Checkpoint) -> None:
        self.session.execute(
            insert(orm.ledger_checkpoints).values(
                **checkpoint.hashed_content(), hash=checkpoint.hash
            )
        )

    def lock(self) -> None:
        """Hold the ledger's append lock until the transaction ends (PostgreSQL), so two
        verifiers do not both chain a checkpoint to the same one."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(select(func.pg_advisory_xact_lock(LEDGER_LOCK_KEY)))


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(
        number=row.number,
        last_seq=row.last_seq,
        tip_hash=row.tip_hash,
        checked_at=row.checked_at,
        checked_by=row.checked_by,
        full=bool(row.full),
        ok=bool(row.ok),
        entries_checked=row.entries_checked,
        records_checked=row.records_checked,
        first_break=row.first_break,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class SqlTokenStore:
    """API and session tokens, kept as SHA-256 hashes (a stolen table grants nothing)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: IssuedToken) -> None:
        self.session.execute(
            insert(orm.api_tokens).values(
                token_hash=token.token_hash,
                username=token.username,
                kind=token.kind.value,
                scope=None if token.scope is None else token.scope.value,
                created_at=token.created_at,
                last_used_at=token.last_used_at,
                expires_at=token.expires_at,
            )
        )

    @staticmethod
    def _token(row: Any, prefix: str = "") -> IssuedToken:
        values = row._mapping
        scope = values[prefix + "scope"]
        return IssuedToken(
            token_hash=values[prefix + "token_hash"],
            username=values[prefix + "username"],
            kind=TokenKind(values[prefix + "kind"]),
            scope=None if scope is None else TokenScope(scope),
            created_at=values[prefix + "created_at"],
            last_used_at=values[prefix + "last_used_at"],
            expires_at=values[prefix + "expires_at"],
        )

    def with_holder(self, token_hash: str) -> tuple[IssuedToken, User] | None:
        """The token and its user, in one query (a token always names a user: FK)."""
        t = orm.api_tokens
        query = (
            select(User, *[c.label("token_" + c.name) for c in t.c])
            .join(t, t.c.username == orm.users.c.username)
            .where(t.c.token_hash == token_hash)
        )
        row = self.session.execute(query).first()
        return None if row is None else (self._token(row, "token_"), row[0])

    def find(self, token_hash: str) -> IssuedToken | None:
        t = orm.api_tokens
        row = self.session.execute(select(t).where(t.c.token_hash == token_hash)).first()
        return self._token(row) if row else None

    def of_user(self, username: str) -> list[IssuedToken]:
        t = orm.api_tokens
        rows = self.session.execute(
            select(t).where(t.c.username == username).order_by(t.c.created_at, t.c.token_hash)
        )
        return [self._token(row) for row in rows]

    def touch(self, token_hash: str, at: datetime) -> None:
        t = orm.api_tokens
        self.session.execute(update(t).where(t.c.token_hash == token_hash).values(last_used_at=at))

    def remove(self, token_hash: str) -> None:
        t = orm.api_tokens
        self.session.execute(delete(t).where(t.c.token_hash == token_hash))

    def remove_of_user(self, username: str) -> int:
        t = orm.api_tokens
        result = self.session.execute(delete(t).where(t.c.username == username))
        return int(getattr(result, "rowcount", 0) or 0)


class SqlIdempotencyStore:
    """Idempotency-Keys and their answers, one row per user and key."""

    def __init__(self, session: Session, clock: Callable[[], datetime]) -> None:
        self.session = session
        self.clock = clock

    def find(self, username: str, key: str) -> StoredKey | None:
        t = orm.idempotency_keys
        row = self.session.execute(
            select(t.c.request_hash, t.c.attempt, t.c.status, t.c.response).where(
                t.c.username == username, t.c.key == key
            )
        ).first()
        if row is None:
            return None
        return StoredKey(row.request_hash, row.attempt, row.status, row.response)

    def claim(self, claim: Claim) -> None:
        values = {
            "username": claim.username,
            "key": claim.key,
            "request_hash": claim.request_hash,
            "attempt": claim.attempt,
            "created_at": self.clock(),
        }
        table = orm.idempotency_keys
        stmt = _insert_ignoring_conflict(self.session, table, values)
        # On PostgreSQL a concurrent claim of the same key waits here for the other
        # transaction; once it commits, nothing is inserted and this change is refused.
        if self.session.execute(stmt.returning(table.c.attempt)).first() is None:
            raise KeyTaken(f"Idempotency-Key {claim.key!r} was claimed by another request")

    def answer(self, claim: Claim, status: int, response: object) -> None:
        t = orm.idempotency_keys
        self.session.execute(
            update(t)
            .where(
                t.c.username == claim.username,
                t.c.key == claim.key,
                t.c.attempt == claim.attempt,
            )
            .values(status=status, response=response)
        )


def _is_unique_violation(exc: IntegrityError) -> bool:
    # PostgreSQL's SQLSTATE for unique_violation; SQLite names the constraint kind.
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(
        exc.orig
    )


class SqlAlchemyUnitOfWork(AbstractUnitOfWork):
    """A unit of work on one SQLAlchemy session."""

    ledger: SqlLedger
    tokens: SqlTokenStore

    def __init__(self, factory: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.factory = factory
        self.clock = clock
        # How many `with` blocks are open: the message bus opens the transaction and
        # reads the command's record in it; the handler's own `with uow:` joins it.
        self._depth = 0

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        self._depth += 1
        if self._depth > 1:
            return self
        self.session = self.factory()
        self.users = SqlRepository(self.session, User, orm.users.c.username)
        self.sites = SqlRepository(self.session, Site, orm.sites.c.code)
        self.products = SqlRepository(self.session, Product, orm.products.c.code)
        self.authorisations = SqlRepository(self.session, Authorisation, orm.authorisations.c.id)
        self.identifiers = SqlRepository(
            self.session, IssuedIdentifier, orm.issued_identifiers.c.value
        )
        self.cases = SqlRepository(self.session, Case, orm.cases.c.id)
        self.custody_events = SqlRepository(
            self.session, CustodyEvent, (orm.custody_events.c.at, orm.custody_events.c.id)
        )
        self.incidents = SqlRepository(self.session, IdentityIncident, orm.identity_incidents.c.at)
        self.shipments = SqlRepository(self.session, Shipment, orm.shipments.c.id)
        self.assessments = SqlRepository(
            self.session, Assessment, (orm.assessments.c.assessed_on, orm.assessments.c.id)
        )
        self.trials = SqlRepository(self.session, TrialRecord, orm.trials.c.id)
        self.trial_patients = SqlRepository(self.session, TrialPatient, orm.trial_patients.c.id)
        self.triage = SqlRepository(self.session, TriageSettings, orm.triage_settings.c.id)
        self.plans = SqlRepository(self.session, PlanRecord, orm.plans.c.id)
        templates = orm.process_templates.c
        self.process_templates = SqlVersionRepository(
            self.session,
            ProcessTemplate,
            (templates.product_code, templates.site, templates.number),
        )
        specs = orm.specifications.c
        self.specifications = SqlVersionRepository(
            self.session, Specification, (specs.product_code, specs.market, specs.number)
        )
        self.batches = SqlRepository(self.session, Batch, orm.batches.c.id)
        self.release_records = SqlRepository(
            self.session, ReleaseRecord, orm.release_records.c.batch_id
        )
        self.msc_donors = SqlRepository(self.session, Donor, orm.msc_donors.c.id)
        self.msc_lots = SqlRepository(self.session, Lot, orm.msc_lots.c.id)
        self.storage_units = SqlRepository(self.session, StorageUnit, orm.storage_units.c.id)
        self.msc_orders = SqlRepository(self.session, Order, orm.msc_orders.c.id)
        self.msc_vials = SqlVialRepository(self.session)
        self.sequences = SqlSequenceAllocator(self.session)
        self.ledger = SqlLedger(self.session, self.clock)
        self.checkpoints = SqlCheckpoints(self.session)
        self.tokens = SqlTokenStore(self.session)
        self.sign_in_guards = SqlRepository(
            self.session, SignInGuard, orm.sign_in_guards.c.username
        )
        self.idempotency = SqlIdempotencyStore(self.session, self.clock)
        self.dialect = self.session.get_bind().dialect
        self.mac = keyring_of(self.dialect).digest
        super().__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        # close() ends the transaction (a rollback unless a handler committed) and
        # detaches the records with their values loaded, so callers can still read them.
        # Events of a transaction that did not commit are forgotten with it.
        self._depth -= 1
        self._pending().clear()
        if self._depth > 0:
            # A handler's block inside the bus's: a refusal rolls its changes back now
            # (a handler may then record the refusal in a transaction of its own); the
            # outer block closes the session.
            if exc is not None:
                self.rollback()
        else:
            self.session.close()
            self.transaction_ended()
        if isinstance(exc, IntegrityError) and _is_unique_violation(exc):
            # Two requests made the same key at once (a document's next version
            # number): the second is refused, never half-saved.
            raise Conflict(
                "another request recorded the same record at the same time: nothing was "
                "saved; reload and try again"
            ) from exc
        if isinstance(exc, StaleDataError):
            # The optimistic check (orm.VERSIONED): another transaction changed the
            # record after this one read it; nothing of this one is kept.
            raise Conflict(
                "the record was changed by someone else at the same time: nothing was "
                "saved; reload it and try again"
            ) from exc

    def read_consistently(self) -> None:
        # PostgreSQL reads one snapshot for the whole transaction in REPEATABLE READ;
        # SQLite in WAL mode does in a deferred transaction, which does not take the
        # write lock (database.READ_ONLY), so appends go on while it reads.
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        else:
            self.session.connection(execution_options={READ_ONLY: True})

    def _commit(self) -> None:
        try:
            self.session.commit()
        finally:
            self.transaction_ended()

    def rollback(self) -> None:
        self._pending().clear()
        self.session.rollback()
        self.transaction_ended()

    def transaction_ended(self) -> None:
        # The transaction's locks are gone with it, the ledger's and the rows', and so
        # is the ledger tip it vouched for.
        self.ledger.transaction_ended()
        self.session.info.pop(_LOCKED, None)

    def token_holder(self, token_hash: str) -> tuple[IssuedToken, User | None] | None:
        return self.tokens.with_holder(token_hash)

    def assessment_dates(self, case_id: str) -> set[str]:
        t = orm.assessments
        query = select(t.c.assessed_on).where(t.c.case_id == case_id).distinct()
        return set(self.session.scalars(query))

    def cases_with_wristband(self, wristband_id: str) -> list[Case]:
        digest = orm.wristband_hash(self.dialect, wristband_id)
        query = select(Case).where(orm.cases.c.wristband_hash == digest).order_by(orm.cases.c.id)
        return list(self.session.scalars(query))

    def find_cases(self, query: CaseQuery, reach: Reach, full: Reach) -> CasePage:
        """One page of cases in a fixed number of statements: the ids of names that
        match (only when the text may be a name: the names of the cases `full` reaches
        are opened and compared here, since sealed names cannot be compared in SQL),
        the counts per state, the page."""
        c = orm.cases.c
        where: list[Any] = [_reached(reach)]
        if query.product:
            where.append(c.product_code == query.product)
        if query.state:
            where.append(c.state == CaseState(query.state))
        if query.site:
            where.append(
                or_(
                    c.treatment_site == query.site,
                    c.apheresis_site == query.site,
                    c.manufacturing_site == query.site,
                )
            )
        text = query.text.strip()
        if text:
            where.append(self._text_matches(text, full))
        counts = self.session.execute(
            select(c.state, func.count()).where(*where).group_by(c.state)
        ).all()
        by_state = {CaseState(state).value: int(n) for state, n in counts}
        total = sum(by_state.values())
        page, size = query.bounded
        page = min(page, max(1, -(-total // size)))
        order = case(
            {state.value: n for n, state in enumerate(CaseState)}, value=cast(c.state, String)
        )
        found = self.session.scalars(
            select(Case).where(*where).order_by(order, c.id).offset((page - 1) * size).limit(size)
        )
        return CasePage(list(found), total, by_state, page, size)

    def _text_matches(self, text: str, full: Reach) -> Any:
        """A case whose identifier is the text (a case id also by its beginning), or,
        among the cases whose patient the reader sees, whose wristband is the text
        (by its keyed hash) or whose name contains it."""
        c = orm.cases.c
        wanted = text.upper()
        matches: list[Any] = [
            func.upper(c.id).startswith(wanted, autoescape=True),
            func.upper(c.coi) == wanted,
            # A DIN is in the case's collections (JSON text) and on its batch.
            cast(c.collections, String).contains(f'"{text}"', autoescape=True),
            c.id.in_(
                select(orm.batches.c.case_id).where(
                    or_(
                        func.upper(orm.batches.c.id) == wanted,
                        func.upper(orm.batches.c.din) == wanted,
                    )
                )
            ),
            c.id.in_(
                select(orm.shipments.c.case_id).where(func.upper(orm.shipments.c.id) == wanted)
            ),
        ]
        if not full.nowhere:
            digest = orm.wristband_hash(self.dialect, text)
            named: list[Any] = [c.wristband_hash == digest]
            if searched_name(text):
                rows = self.session.execute(select(c.id, c.patient_name).where(_reached(full)))
                ids = [case_id for case_id, name in rows if name_matches(name, text)]
                if ids:
                    named.append(c.id.in_(ids))
            matches.append(and_(_reached(full), or_(*named)))
        return or_(*matches)

    # ------------------------------------------------------------ work queues
    # One statement each (docs/architecture.md, "Work queues").

    def case_heads(
        self, states: Collection[CaseState], reach: Reach, *, booked_by: str = ""
    ) -> list[CaseHead]:
        c = orm.cases.c
        where: list[Any] = [c.state.in_(list(states)), _reached(reach)]
        if booked_by:
            where.append(or_(c.state != CaseState.APHERESIS_BOOKED, c.apheresis_date <= booked_by))
        rows = self.session.execute(
            select(
                c.id,
                c.product_code,
                c.state,
                c.treatment_site,
                c.apheresis_site,
                c.manufacturing_site,
                c.enrolled_at,
                c.apheresis_date,
                c.planned,
            )
            .where(*where)
            .order_by(c.id)
        )
        return [
            CaseHead(
                id=row.id,
                product_code=row.product_code,
                state=CaseState(row.state),
                treatment_site=row.treatment_site,
                apheresis_site=row.apheresis_site,
                manufacturing_site=row.manufacturing_site,
                enrolled_at=row.enrolled_at,
                apheresis_date=row.apheresis_date,
                planned=bool(row.planned),
            )
            for row in rows
        ]

    def cases_in(self, states: Collection[CaseState], reach: Reach) -> list[Case]:
        c = orm.cases.c
        query = select(Case).where(c.state.in_(list(states)), _reached(reach)).order_by(c.id)
        return list(self.session.scalars(query))

    def cases_of(self, case_ids: Iterable[str]) -> list[Case]:
        wanted = sorted(set(case_ids))
        if not wanted:
            return []
        c = orm.cases.c
        return list(self.session.scalars(select(Case).where(c.id.in_(wanted)).order_by(c.id)))

    def shipments_of(self, case_ids: Iterable[str]) -> list[Shipment]:
        wanted = sorted(set(case_ids))
        if not wanted:
            return []
        s = orm.shipments.c
        query = select(Shipment).where(s.case_id.in_(wanted)).order_by(s.id)
        return list(self.session.scalars(query))

    def shipments_in_transit(self, reach: Reach) -> list[Shipment]:
        s = orm.shipments.c
        query = (
            select(Shipment)
            .join(orm.cases, orm.cases.c.id == s.case_id)
            .where(s.status == ShipmentStatus.IN_TRANSIT, _reached(reach))
            .order_by(s.id)
        )
        return list(self.session.scalars(query))

    def assessments_of(self, case_ids: Iterable[str]) -> list[Assessment]:
        wanted = sorted(set(case_ids))
        if not wanted:
            return []
        a = orm.assessments.c
        query = select(Assessment).where(a.case_id.in_(wanted)).order_by(a.assessed_on, a.id)
        return list(self.session.scalars(query))

    def toxicities(
        self, reach: Reach, kinds: Collection[AssessmentKind], grade: int
    ) -> list[Assessment]:
        a = orm.assessments.c
        query = (
            select(Assessment)
            .join(orm.cases, orm.cases.c.id == a.case_id)
            .where(
                a.kind.in_(list(kinds)),
                a.result["grade"].as_integer() >= grade,
                _reached(reach),
            )
            .order_by(a.assessed_on, a.id)
        )
        # The grade is checked again on the record: only a whole number counts.
        return [
            found
            for found in self.session.scalars(query)
            if isinstance(found.result.get("grade"), int)
        ]

    def unfinished_batches(self, reach: Reach) -> list[Batch]:
        b, r, c = orm.batches.c, orm.release_records.c, orm.cases.c
        undecided = select(r.batch_id).where(r.disposition.not_in(list(FINAL_DISPOSITIONS)))
        # A deviation's state is a value in the batch's JSON: a batch whose text names
        # an open state is read (a few more than needed: each queue item checks its
        # own condition on the record, `Batch.open_deviations` for a deviation).
        stored = cast(b.deviations, String)
        deviating = or_(
            *(
                stored.contains(f'"{state.value}"', autoescape=True)
                for state in DeviationState
                if state is not DeviationState.CLOSED
            )
        )
        query = (
            select(Batch)
            .outerjoin(orm.cases, c.id == b.case_id)
            .where(
                or_(b.status.in_(list(UNFINISHED_BATCHES)), b.id.in_(undecided), deviating),
                _reached(reach, facility=b.site),
            )
            .order_by(b.id)
        )
        return list(self.session.scalars(query))

    def release_records_of(self, batch_ids: Iterable[str]) -> list[ReleaseRecord]:
        wanted = sorted(set(batch_ids))
        if not wanted:
            return []
        r = orm.release_records.c
        query = select(ReleaseRecord).where(r.batch_id.in_(wanted)).order_by(r.batch_id)
        return list(self.session.scalars(query))

    def regulated_snapshots(self) -> Generator[tuple[str, str, JsonObject], None, None]:
        for cls in orm.REGULATED:
            result = self.session.scalars(select(cls).execution_options(yield_per=1000))
            try:
                for record in result:
                    yield cls.ENTITY_TYPE, record.entity_id, record.snapshot()
            finally:
                result.close()
            self.session.expunge_all()


def _reached(reach: Reach, *, facility: Any = None) -> Any:
    """The cases a reach covers, as a condition on the cases table (`facility`: the
    column naming the facility instead of the case's, a batch's own site)."""
    c = orm.cases.c
    if reach.everywhere:
        return true()
    parts = {
        "treatment": c.treatment_site,
        "apheresis": c.apheresis_site,
        "facility": c.manufacturing_site if facility is None else facility,
    }
    conditions = [parts[part].in_(reach.of(part)) for part in parts if reach.of(part)]
    return or_(*conditions) if conditions else false()


def _day_after(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _upsert(session: Session, table: Any) -> Any:
    """INSERT … ON CONFLICT in the session's dialect; each dialect's module is imported
    when a database of its kind is used (PostgreSQL's loads its async drivers too), not
    on every start."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _insert_ignoring_conflict(session: Session, table: Any, values: dict[str, object]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the session's dialect."""
    return _upsert(session, table).values(**values).on_conflict_do_nothing()
