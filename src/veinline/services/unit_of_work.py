"""The unit of work: one transaction, its repositories, and the ledger that goes with it."""

from __future__ import annotations

import abc
import builtins
from collections.abc import Callable, Collection, Generator, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from veinline.domain.assessment import Assessment, AssessmentKind
from veinline.domain.batch import Batch, BatchStatus
from veinline.domain.case import Case, CaseState
from veinline.domain.catalog import Authorisation, Product, Site
from veinline.domain.custody import CustodyEvent, IdentityIncident
from veinline.domain.errors import Conflict, NotFound
from veinline.domain.events import Event
from veinline.domain.identifiers import IssuedIdentifier
from veinline.domain.ledger import (
    Checkpoint,
    JsonObject,
    LedgerDraft,
    LedgerEntry,
    Regulated,
    Signature,
    StoredRow,
)
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.msc import Donor, Lot, Order, StorageUnit, Vial
from veinline.domain.personal import Mac, protect
from veinline.domain.planning_records import PlanRecord, TriageSettings
from veinline.domain.process import ProcessTemplate
from veinline.domain.release import FINAL_DISPOSITIONS, ReleaseRecord
from veinline.domain.shipment import Shipment, ShipmentStatus
from veinline.domain.sign_in import IssuedToken, SignInGuard
from veinline.domain.specification import Specification
from veinline.domain.trial_records import TrialPatient, TrialRecord
from veinline.domain.user import User

T = TypeVar("T")


class Repository(Protocol, Generic[T]):
    """Records of one kind, by their key."""

    def get(self, key: str, *, for_update: bool = False) -> T | None: ...

    def add(self, record: T) -> None: ...

    def find(self, **criteria: object) -> list[T]:
        """Records whose attributes equal the given values, in the repository's order."""
        ...

    def list(self) -> list[T]: ...

    def page(self, limit: int, offset: int = 0, **criteria: object) -> builtins.list[T]:
        """Records whose attributes equal the given values, newest first (the
        repository's order reversed): `limit` of them after the first `offset`."""
        ...


class VialRepository(Repository[Vial], Protocol):
    """MSC vials, with the queries allocation and the storage map need."""

    def stock(self, product_code: str | None = None) -> list[Vial]:
        """Vials in storage with no order and no quarantine (of one product)."""
        ...

    def candidates(
        self,
        product_code: str,
        *,
        lots: set[str],
        usable_after: dict[str, datetime],
        per_site: int,
        exclude: set[str] | None = None,
    ) -> list[Vial]:
        """What allocation may choose from: per site in `usable_after` (a depot, and the
        time its vials must outlast: their arrival), the first `per_site` stored, free,
        unquarantined vials of the `lots`, first expiry first."""
        ...

    def lock_free(self, vial_ids: list[str]) -> list[Vial]:
        """Lock these vials for this transaction if they are still free; vials another
        transaction holds or has reserved are skipped, not waited for (PostgreSQL
        `FOR UPDATE SKIP LOCKED`; SQLite serialises writers)."""
        ...

    def of_lots(self, lot_ids: list[str]) -> list[Vial]: ...

    def of_order(self, order_id: str) -> list[Vial]: ...

    def in_unit(self, unit_id: str) -> list[Vial]: ...


class SequenceAllocator(Protocol):
    """Hands out the next number of a (kind, facility, year) sequence, never the same twice."""

    def next(self, kind: str, fin: str, year: int) -> int: ...

    def next_in(self, scope: str, kind: str) -> int:
        """The next number of one record's own series (a case's assessments: scope the
        case id, kind "A"), never the same twice even when asked at once."""
        ...


class Ledger(Protocol):
    """The append-only ledger as seen from inside a transaction."""

    def append(self, draft: LedgerDraft) -> LedgerEntry: ...

    def entries(self) -> Generator[LedgerEntry, None, None]: ...

    def rows(self, after_seq: int = 0) -> Generator[StoredRow, None, None]:
        """The entries after `after_seq` as stored (domain/ledger.py, STORED_COLUMNS),
        in sequence order, streamed."""
        ...

    def count(self, after_seq: int = 0) -> int:
        """How many entries there are after `after_seq`."""
        ...

    def stored_hash(self, seq: int) -> str | None:
        """The hash stored with entry `seq`, None when there is no such entry."""
        ...

    def latest_snapshots(
        self, up_to_seq: int
    ) -> Generator[tuple[str, str, int, str | None], None, None]:
        """(entity type, entity id, seq, snapshot JSON) of each record's last entry up to
        `up_to_seq`."""
        ...

    def for_entity(self, entity_id: str, entity_type: str | None = None) -> list[LedgerEntry]: ...

    def of_case(
        self, case_id: str, identifiers: list[str], *, limit: int, offset: int = 0
    ) -> list[LedgerEntry]:
        """The entries of a case, its identifiers (CoI, DINs) and its own records
        (custody events, shipments, incidents, assessments), newest first: `limit` of
        them after the first `offset`."""
        ...

    def last(self) -> LedgerEntry | None: ...

    def last_seq(self) -> int:
        """The newest entry's number, 0 for an empty ledger (reads no entry)."""
        ...

    def recent(self, limit: int) -> list[LedgerEntry]: ...

    def search(self, query: LedgerQuery) -> tuple[list[LedgerEntry], int]:
        """The page of entries `query` asks for, newest first, and how many match."""
        ...


class CheckpointStore(Protocol):
    """The ledger's checkpoints: the result of each verification, append-only."""

    def last(self, *, good: bool = False) -> Checkpoint | None:
        """The newest checkpoint (`good`: the newest that found the ledger intact)."""
        ...

    def add(self, checkpoint: Checkpoint) -> None: ...

    def with_ledger_hashes(self) -> Generator[tuple[Checkpoint, str | None], None, None]:
        """Every checkpoint, oldest first, with the hash the ledger holds for the entry
        it ends at (None when there is no such entry)."""
        ...

    def lock(self) -> None:
        """Serialise checkpoint appends until the transaction ends."""
        ...


class TokenStore(Protocol):
    """Hashes of API and session tokens, with their user, kind, scope and times."""

    def add(self, token: IssuedToken) -> None: ...

    def find(self, token_hash: str) -> IssuedToken | None: ...

    def of_user(self, username: str) -> list[IssuedToken]: ...

    def touch(self, token_hash: str, at: datetime) -> None:
        """Note that the token was used at `at` (a session's idle time starts again)."""
        ...

    def remove(self, token_hash: str) -> None: ...

    def remove_of_user(self, username: str) -> int:
        """Revoke every token of the user; how many there were."""
        ...


@dataclass(frozen=True)
class Claim:
    """An Idempotency-Key this request claims in the transaction of its change: the
    user's key, a hash of the request, and this attempt's own mark."""

    username: str
    key: str
    request_hash: str
    attempt: str


@dataclass(frozen=True)
class StoredKey:
    """A claimed Idempotency-Key; its answer (status and JSON) once it was given."""

    request_hash: str
    attempt: str
    status: int | None
    response: object


class KeyTaken(Conflict):
    """Another request claimed this Idempotency-Key first; its change stands, not ours."""

    code = "idempotency_key_in_use"


class IdempotencyStore(Protocol):
    """Idempotency-Keys per user: claimed with a change, answered once it is answered."""

    def find(self, username: str, key: str) -> StoredKey | None: ...

    def claim(self, claim: Claim) -> None:
        """Claim the key in this transaction, or raise KeyTaken (waiting, on PostgreSQL,
        for a transaction claiming it at the same moment to end)."""
        ...

    def answer(self, claim: Claim, status: int, response: object) -> None: ...


# A list page shows at most this many records; a caller may ask for fewer, never more.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def bounded_page(page: int, page_size: int) -> tuple[int, int]:
    """The page number (from 1) and page size a list is read with: within bounds."""
    return max(1, page), min(max(1, page_size), MAX_PAGE_SIZE)


@dataclass(frozen=True)
class Reach:
    """The cases one read reaches: every case, or those bound to one of these sites in
    that part (`part`: "treatment", "apheresis" or "facility", as `authority.Where`
    names them). Built by `authority.reach`; repositories translate it to a query."""

    everywhere: bool = False
    sites: frozenset[tuple[str, str]] = frozenset()

    def covers(self, case: Case) -> bool:
        return self.covers_sites(case.treatment_site, case.apheresis_site, case.manufacturing_site)

    def covers_sites(
        self, treatment: str | None, apheresis: str | None, facility: str | None
    ) -> bool:
        """Whether a record bound to these sites is reached (a batch: its case's centre
        and unit, its own facility)."""
        if self.everywhere:
            return True
        bound = {("treatment", treatment), ("apheresis", apheresis), ("facility", facility)}
        return bool(self.sites & bound)

    @property
    def nowhere(self) -> bool:
        return not self.everywhere and not self.sites

    def of(self, part: str) -> list[str]:
        return sorted(site for p, site in self.sites if p == part)


@dataclass(frozen=True)
class CaseQuery:
    """What a case list asks for (docs/architecture.md, "Search and lists"): a search
    text (an identifier: case, chain of identity, DIN, batch, shipment; for a reader who
    sees the patient, a wristband or part of a name), filters, and a page."""

    text: str = ""
    product: str = ""
    state: str = ""
    site: str = ""
    page: int = 1
    page_size: int = PAGE_SIZE

    @property
    def bounded(self) -> tuple[int, int]:
        return bounded_page(self.page, self.page_size)


@dataclass(frozen=True)
class CasePage:
    """One page of cases, in journey order (state, then id), with how many match in all
    and per state."""

    cases: list[Case]
    total: int
    by_state: dict[str, int]
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True)
class CaseHead:
    """The columns of a case a work queue sorts and words an early item by (a case to
    confirm, book, collect or plan): no patient data and none of the case's parts, so
    that the thousands waiting at a busy centre are read in one light query."""

    id: str
    product_code: str
    state: CaseState
    treatment_site: str
    apheresis_site: str | None
    manufacturing_site: str | None
    enrolled_at: datetime
    apheresis_date: str | None
    planned: bool

    @classmethod
    def of(cls, case: Case) -> CaseHead:
        return cls(
            id=case.id,
            product_code=case.product_code,
            state=case.state,
            treatment_site=case.treatment_site,
            apheresis_site=case.apheresis_site,
            manufacturing_site=case.manufacturing_site,
            enrolled_at=case.enrolled_at,
            apheresis_date=case.apheresis_date,
            planned=bool(case.planned),
        )


# Batches a work queue reads: those whose record is still written, whose QC results or
# QA's decision are still to come, or with a deviation still open (docs/architecture.md,
# "Work queues").
UNFINISHED_BATCHES = frozenset({BatchStatus.IN_PROGRESS, BatchStatus.COMPLETED})


@dataclass(frozen=True)
class LedgerQuery:
    """Which ledger entries a ledger list shows: one record (type and id), an actor, an
    action, a date range (UTC dates, both ends included), newest first, one page."""

    entity_type: str = ""
    entity_id: str = ""
    actor: str = ""
    action: str = ""
    since: str = ""
    until: str = ""
    page: int = 1
    page_size: int = PAGE_SIZE

    @property
    def bounded(self) -> tuple[int, int]:
        return bounded_page(self.page, self.page_size)

    def admits(self, entry: LedgerEntry) -> bool:
        day = entry.recorded_at[:10]
        return (
            (not self.entity_type or entry.entity_type == self.entity_type)
            and (not self.entity_id or entry.entity_id == self.entity_id)
            and (not self.actor or entry.actor == self.actor)
            and (not self.action or entry.action == self.action)
            and (not self.since or day >= self.since)
            and (not self.until or day <= self.until)
        )


def name_matches(name: str, text: str) -> bool:
    """Whether a patient's name contains the searched words, in order, ignoring case
    and spacing."""
    return " ".join(text.split()).casefold() in " ".join(name.split()).casefold()


def searched_name(text: str) -> bool:
    """Whether a search text may be part of a name (names are searched only then)."""
    return len(text.strip()) >= 2 and any(c.isalpha() for c in text)


class AbstractUnitOfWork(abc.ABC):
    """One transaction: repositories read and write in it, the ledger records in it."""

    users: Repository[User]
    sites: Repository[Site]
    products: Repository[Product]
    authorisations: Repository[Authorisation]
    identifiers: Repository[IssuedIdentifier]
    cases: Repository[Case]
    custody_events: Repository[CustodyEvent]
    incidents: Repository[IdentityIncident]
    shipments: Repository[Shipment]
    assessments: Repository[Assessment]
    trials: Repository[TrialRecord]
    trial_patients: Repository[TrialPatient]
    triage: Repository[TriageSettings]
    plans: Repository[PlanRecord]
    process_templates: Repository[ProcessTemplate]
    specifications: Repository[Specification]
    batches: Repository[Batch]
    release_records: Repository[ReleaseRecord]
    msc_donors: Repository[Donor]
    msc_lots: Repository[Lot]
    storage_units: Repository[StorageUnit]
    msc_orders: Repository[Order]
    msc_vials: VialRepository
    sequences: SequenceAllocator
    ledger: Ledger
    checkpoints: CheckpointStore
    tokens: TokenStore
    sign_in_guards: Repository[SignInGuard]
    # The time the transaction's records are stamped with (the app's injectable clock).
    clock: Callable[[], datetime]
    idempotency: IdempotencyStore
    # Set by the message bus for a request with an Idempotency-Key: the next commit
    # claims the key with the change (services/idempotency.py).
    claim: Claim | None = None
    # Set by the message bus: hands an event to the handlers of the records that follow.
    publish: Callable[[Event, AbstractUnitOfWork], None] | None = None
    # The keyed digest of personal data in ledger snapshots (domain/personal.py), under
    # the database's digest key; set by the concrete unit of work.
    mac: Mac

    def protected(
        self, entity_type: str, entity_id: str, snapshot: JsonObject | None
    ) -> JsonObject | None:
        """A snapshot as the ledger holds it: personal fields replaced by their digests."""
        return protect(entity_type, entity_id, snapshot, self.mac)

    def snapshot_of(self, entity: Regulated) -> JsonObject:
        """The record's snapshot as the ledger holds it (and as a signature binds it)."""
        return protect(entity.ENTITY_TYPE, entity.entity_id, entity.snapshot(), self.mac) or {}

    def assessment_dates(self, case_id: str) -> set[str]:
        """The days (ISO dates) on which the case has an assessment."""
        return {a.assessed_on for a in self.assessments.find(case_id=case_id)}

    def cases_with_wristband(self, wristband_id: str) -> list[Case]:
        """The cases of the patient wearing this wristband (the SQL unit of work searches
        the keyed hash column, never the sealed value)."""
        wanted = wristband_id.strip()
        return [case for case in self.cases.list() if case.wristband_id == wanted]

    def find_cases(self, query: CaseQuery, reach: Reach, full: Reach) -> CasePage:
        """One page of the cases `reach` covers that match `query`; a wristband or a
        name is matched only among the cases `full` covers (whose reader sees the
        patient). Here by reading every case; the SQL unit of work asks the database in
        a fixed number of queries."""
        page, size = query.bounded
        text = query.text.strip()
        found = []
        for case in self.cases.list():
            if not reach.covers(case):
                continue
            if query.product and case.product_code != query.product:
                continue
            if query.state and case.state.value != query.state:
                continue
            sites = (case.treatment_site, case.apheresis_site, case.manufacturing_site)
            if query.site and query.site not in sites:
                continue
            if text and not self._case_matches(case, text, full):
                continue
            found.append(case)
        order = {state: n for n, state in enumerate(type(found[0].state))} if found else {}
        found.sort(key=lambda c: (order[c.state], c.id))
        by_state: dict[str, int] = {}
        for case in found:
            by_state[case.state.value] = by_state.get(case.state.value, 0) + 1
        pages = max(1, -(-len(found) // size))
        page = min(page, pages)
        return CasePage(found[(page - 1) * size : page * size], len(found), by_state, page, size)

    def _case_matches(self, case: Case, text: str, full: Reach) -> bool:
        wanted = text.upper()
        if case.id.upper().startswith(wanted) or case.coi.upper() == wanted:
            return True
        if any(c.din.upper() == wanted for c in case.collections):
            return True
        if any(
            b.id.upper() == wanted or (b.din or "").upper() == wanted
            for b in self.batches.find(case_id=case.id)
        ):
            return True
        if any(s.id.upper() == wanted for s in self.shipments.find(case_id=case.id)):
            return True
        if not full.covers(case):
            return False
        if case.wristband_id == text:
            return True
        return searched_name(text) and name_matches(case.patient_name, text)

    # ------------------------------------------------------------ work queues
    # What a work queue reads (docs/architecture.md, "Work queues"): only the records
    # that can be waiting on someone. Here by reading every record; the SQL unit of
    # work asks the database for them, each in one statement.

    def case_heads(
        self, states: Collection[CaseState], reach: Reach, *, booked_by: str = ""
    ) -> list[CaseHead]:
        """The heads of the cases `reach` covers in these states, by id; a booked case
        only if its apheresis day is on or before `booked_by` (an ISO date; "": any)."""
        return [
            CaseHead.of(case)
            for case in self.cases_in(states, reach)
            if not booked_by
            or case.state is not CaseState.APHERESIS_BOOKED
            or (case.apheresis_date or "") <= booked_by
        ]

    def cases_in(self, states: Collection[CaseState], reach: Reach) -> list[Case]:
        """The cases `reach` covers in these states, by id."""
        return [c for c in self.cases.list() if c.state in states and reach.covers(c)]

    def cases_of(self, case_ids: Iterable[str]) -> list[Case]:
        """These cases (those that exist), by id."""
        wanted = set(case_ids)
        return [c for c in self.cases.list() if c.id in wanted]

    def shipments_of(self, case_ids: Iterable[str]) -> list[Shipment]:
        """Every shipment of these cases, by id (the repository's order)."""
        wanted = set(case_ids)
        return [s for s in self.shipments.list() if s.case_id in wanted]

    def shipments_in_transit(self, reach: Reach) -> list[Shipment]:
        """The shipments in transit of the cases `reach` covers, by id."""
        cases = {c.id: c for c in self.cases.list() if reach.covers(c)}
        return [
            s
            for s in self.shipments.list()
            if s.status is ShipmentStatus.IN_TRANSIT and s.case_id in cases
        ]

    def assessments_of(self, case_ids: Iterable[str]) -> list[Assessment]:
        """Every assessment of these cases, by day then id (the repository's order)."""
        wanted = set(case_ids)
        return [a for a in self.assessments.list() if a.case_id in wanted]

    def toxicities(
        self, reach: Reach, kinds: Collection[AssessmentKind], grade: int
    ) -> list[Assessment]:
        """The assessments of these kinds graded `grade` or higher, of the cases `reach`
        covers, by day then id."""
        cases = {c.id for c in self.cases.list() if reach.covers(c)}
        return [
            a
            for a in self.assessments.list()
            if a.case_id in cases
            and a.kind in kinds
            and isinstance(a.result.get("grade"), int)
            and a.result["grade"] >= grade
        ]

    def unfinished_batches(self, reach: Reach) -> list[Batch]:
        """The batches `reach` covers (by their case's centre and unit, their own
        facility) still being made or awaiting QC and QA (UNFINISHED_BATCHES), with a
        release record not decided yet, or with a deviation still open; by id."""
        undecided = {
            r.batch_id
            for r in self.release_records.list()
            if r.disposition not in FINAL_DISPOSITIONS
        }
        found = []
        for batch in self.batches.list():
            if not (
                batch.status in UNFINISHED_BATCHES
                or batch.id in undecided
                or batch.open_deviations()
            ):
                continue
            case = self.cases.get(batch.case_id) if batch.case_id else None
            treatment = case.treatment_site if case else None
            apheresis = case.apheresis_site if case else None
            if reach.covers_sites(treatment, apheresis, batch.site):
                found.append(batch)
        return found

    def release_records_of(self, batch_ids: Iterable[str]) -> list[ReleaseRecord]:
        """The release records of these batches."""
        wanted = set(batch_ids)
        return [r for r in self.release_records.list() if r.batch_id in wanted]

    def token_holder(self, token_hash: str) -> tuple[IssuedToken, User | None] | None:
        """The token with this hash and the user it was issued to (the SQL unit of work
        reads both in one query: signing a request in is one round trip)."""
        token = self.tokens.find(token_hash)
        return None if token is None else (token, self.users.get(token.username))

    def __enter__(self) -> AbstractUnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Nothing is kept unless a handler commits: bad input changes nothing.
        self.rollback()

    def emit(self, event: Event) -> None:
        """Note an event for the records that follow this change (handled before commit)."""
        self._pending().append(event)

    def commit(self) -> None:
        """Hand every event of this transaction to its handlers, in order (they may emit
        more), then commit it all at once: a change and what follows from it land together."""
        pending = self._pending()
        while pending:
            event = pending.pop(0)
            if self.publish is None:
                raise LookupError(f"nothing handles {type(event).__name__} in this unit of work")
            self.publish(event, self)
        if self.claim is not None:
            # The key lands with the change or not at all: a retry finds it claimed.
            self.idempotency.claim(self.claim)
        self._commit()
        self.claim = None

    def _pending(self) -> list[Event]:
        events: list[Event] = self.__dict__.setdefault("_events", [])
        return events

    def read_consistently(self) -> None:
        """Read the rest of this transaction from one snapshot of the database (a
        verification sees the ledger and the records as of one moment); call first.
        A store that is read by one transaction at a time has nothing to do."""
        return None

    @abc.abstractmethod
    def _commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None: ...

    @abc.abstractmethod
    def regulated_snapshots(self) -> Generator[tuple[str, str, JsonObject], None, None]:
        """(entity type, entity id, snapshot) of every regulated record stored."""

    def record(
        self,
        entity: Regulated,
        *,
        actor: User,
        action: LedgerAction,
        before: JsonObject | None,
        reason: str = "",
        signature: Signature | None = None,
        deleted: bool = False,
    ) -> LedgerEntry:
        """Write the ledger entry for a change to `entity`, in this transaction; personal
        data in its snapshots is written as digests (domain/personal.py)."""
        return self.ledger.append(
            LedgerDraft(
                actor=actor.username,
                actor_name=actor.printed_name,
                action=action,
                entity_type=entity.ENTITY_TYPE,
                entity_id=entity.entity_id,
                before=self.protected(entity.ENTITY_TYPE, entity.entity_id, before),
                after=None if deleted else self.snapshot_of(entity),
                reason=reason,
                signature=signature,
            )
        )


def missing_from_catalogue(uow: AbstractUnitOfWork, kind: str, code: str) -> NotFound:
    """The refusal for a product or site the catalogue does not hold; on a database
    whose catalogue is empty it says how to load one."""
    message = f"there is no {kind} {code} in the catalogue"
    if not uow.products.list():
        message += (
            ": the catalogue is empty; load it with `veinline catalog load` "
            "(or `veinline demo load` for the demo sites, users and cases too)"
        )
    return NotFound(message)
