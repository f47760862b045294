"""The database schema, and the imperative mapping of the domain's plain classes onto it.

The domain never imports SQLAlchemy; this module teaches SQLAlchemy about the domain
(cosmicpython's shape with SQLAlchemy 2's `registry.map_imperatively`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Session, registry
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.types import TypeDecorator

from veinline.adapters.crypto import keyring_of
from veinline.domain.assessment import Assessment, AssessmentKind
from veinline.domain.batch import Batch, BatchStatus, Deviation, StepRecord
from veinline.domain.case import Case, CaseState
from veinline.domain.case_parts import Collection, Infusion, Manufacturing, ReleaseOutcome
from veinline.domain.catalog import (
    Authorisation,
    AuthorisationStatus,
    Modality,
    Product,
    Site,
    SiteKind,
)
from veinline.domain.coldchain import ShipperType
from veinline.domain.custody import CustodyEvent, CustodyPoint, IdentityIncident
from veinline.domain.identifiers import IdentifierKind, IssuedIdentifier
from veinline.domain.msc import (
    Donor,
    DonorStatus,
    Lot,
    Order,
    OrderStatus,
    StorageUnit,
    UnitKind,
    Vial,
    VialStatus,
)
from veinline.domain.planning_records import PlanRecord, TriageSettings
from veinline.domain.process import DocumentStatus, ProcessTemplate, StepSpec
from veinline.domain.release import Disposition, QcResult, ReleaseRecord
from veinline.domain.shipment import Leg, Shipment, ShipmentStatus
from veinline.domain.sign_in import SignInGuard
from veinline.domain.signature import SignatureRecord, signature_from
from veinline.domain.specification import ReleaseTest, Specification
from veinline.domain.trial_records import OutcomeSource, TrialPatient, TrialRecord
from veinline.domain.user import Membership, Role, User

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
mapper_registry = registry(metadata=metadata)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Stored(TypeDecorator[Any]):
    """A JSON column holding domain objects: written with their stored form, read back
    as the same objects (a batch's steps, a specification's tests, a signature)."""

    impl = JSON
    cache_ok = True

    def __init__(self, dump: Any, load: Any) -> None:
        super().__init__()
        self.dump = dump
        self.load = load

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self.dump(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self.load(value)


class StoredPart(Stored):
    """A JSON column holding an optional part of a record (a case's manufacturing, release
    or infusion): absent is stored as `{}`, as the earlier untyped records were."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return {} if value is None else self.dump(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return self.load(value) if value else None


def _same(value: Any) -> Any:
    return value


class Sealed(TypeDecorator[Any]):
    """A column of personal data, sealed at rest with the engine's keyring
    (adapters/crypto.py; docs/security.md, "Patient data at rest").

    Text is sealed as it is; anything else as its JSON (after `dump`, read back through
    `load`). The column's `context` ("table.column") is the associated data, so a value
    does not open in another column. `keep_none`: None is stored as NULL (else `dump`
    says what None is stored as, as StoredPart's {}).
    """

    impl = Text
    cache_ok = True

    def __init__(
        self,
        context: str,
        *,
        json_value: bool = False,
        dump: Any = _same,
        load: Any = _same,
        keep_none: bool = True,
    ) -> None:
        super().__init__()
        self.context = context
        self.json_value = json_value
        self.dump = dump
        self.load = load
        self.keep_none = keep_none

    def plain(self, value: Any) -> str | None:
        """The text that is sealed for `value` (None: stored as NULL)."""
        if value is None and self.keep_none:
            return None
        if not self.json_value:
            return str(value)
        return json.dumps(self.dump(value), ensure_ascii=False, separators=(",", ":"))

    def from_plain(self, text: str | None) -> Any:
        if text is None:
            return None
        return self.load(json.loads(text)) if self.json_value else text

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        text = self.plain(value)
        return None if text is None else keyring_of(dialect).seal(text, self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self.from_plain(keyring_of(dialect).open(value, self.context))


def _sealed_json(context: str, nullable: bool = False) -> Sealed:
    return Sealed(context, json_value=True, keep_none=nullable)


def _sealed_part(context: str, part: StoredPart) -> Sealed:
    """An optional part of a record, sealed: absent is sealed as `{}`, as StoredPart."""
    return Sealed(
        context,
        json_value=True,
        dump=lambda value: {} if value is None else part.dump(value),
        load=lambda data: part.load(data) if data else None,
        keep_none=False,
    )


def _stored_list(dump: Any, load: Any) -> Stored:
    return Stored(lambda items: [dump(i) for i in items], lambda rows: [load(r) for r in rows])


def _stored_tuple(dump: Any, load: Any) -> Stored:
    return Stored(lambda items: [dump(i) for i in items], lambda rows: tuple(load(r) for r in rows))


def _dump_signature(signature: SignatureRecord) -> Any:
    return signature.to_dict()


SIGNATURE = Stored(_dump_signature, signature_from)
STEP_SPECS = _stored_tuple(StepSpec.to_dict, StepSpec.from_dict)
STEP_RECORDS = _stored_list(StepRecord.stored, StepRecord.from_stored)
DEVIATIONS = _stored_list(Deviation.to_dict, Deviation.from_dict)
RELEASE_TESTS = _stored_tuple(ReleaseTest.to_dict, ReleaseTest.from_dict)
QC_RESULTS = _stored_list(QcResult.to_dict, QcResult.from_dict)
COLLECTIONS = _stored_list(Collection.to_dict, Collection.from_dict)
MANUFACTURING = StoredPart(Manufacturing.to_dict, Manufacturing.from_dict)
RELEASE_OUTCOME = StoredPart(ReleaseOutcome.to_dict, ReleaseOutcome.from_dict)
INFUSION = StoredPart(Infusion.to_dict, Infusion.from_dict)
MEMBERSHIPS = _stored_tuple(Membership.to_dict, Membership.from_dict)


def _enum(enum_cls: Any, name: str) -> Enum:
    # Stored as plain strings with a CHECK-free VARCHAR: adding a state later needs no
    # ALTER TYPE on PostgreSQL, and values are validated by the domain.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=40,
        values_callable=lambda e: [m.value for m in e],
    )


users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("printed_name", String(200), nullable=False),
    Column("role", _enum(Role, "role"), nullable=False),
    Column("site_code", String(40), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("credential_version", Integer, nullable=False, default=0),
    Column("password_hash", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The other sites the user works at, each with its role (domain.user.Membership).
    Column("also_at", MEMBERSHIPS, nullable=False, default=list),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    # What an API token may do (read or write); none for a browser session.
    Column("scope", String(16), nullable=True),
    # A browser session ends after SESSION_IDLE without use (domain/sign_in.py).
    Column("last_used_at", UTCDateTime, nullable=True),
    Index("ix_api_tokens_username", "username"),
)

# The failed-password count and lockout of each user name typed (no foreign key: names
# that are no user are guarded the same, so a guess does not tell which exist).
sign_in_guards = Table(
    "sign_in_guards",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("lockouts", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime, nullable=True),
)

sites = Table(
    "sites",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", _enum(SiteKind, "site_kind"), nullable=False),
    Column("country", String(2), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("fin", String(5), nullable=True, unique=True),
    Column("region", String(100), nullable=True),
    Column("demo", Boolean, nullable=False, default=False),
    Column("details", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("brand_name", String(200), nullable=True),
    Column("development_code", String(40), nullable=True),
    Column("sponsor", String(200), nullable=False),
    Column("modality", _enum(Modality, "modality"), nullable=False),
    Column("target", String(100), nullable=True),
    Column("platform", String(200), nullable=True),
    Column("cell_source", String(200), nullable=True),
    Column("isbt128_class", String(40), nullable=True),
    Column("collection_type", String(1), nullable=False),
    Column("storage_max_c", Float, nullable=True),
    Column("post_thaw_window_minutes", Integer, nullable=True),
    Column("isbt128_collection_code", String(5), nullable=True),
    Column("isbt128_product_code", String(5), nullable=True),
    Column("dose_rule", JSON, nullable=True),
    Column("facts", JSON, nullable=False),
    Column("sources", JSON, nullable=False),
    Column("unconfirmed", JSON, nullable=False),
    Column("provenance", JSON, nullable=False, default=dict),
    Column("version", Integer, nullable=False),
)

authorisations = Table(
    "authorisations",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("jurisdiction", String(8), nullable=False),
    Column("regulator", String(100), nullable=False),
    Column("status", _enum(AuthorisationStatus, "authorisation_status"), nullable=False),
    Column("indication", Text, nullable=False),
    Column("date", String(10), nullable=True),
    Column("pathway", String(200), nullable=True),
    Column("designations", JSON, nullable=False),
    Column("reference", String(100), nullable=True),
    Column("criteria", JSON, nullable=False),
    Column("source", String(200), nullable=True),
    Column("notes", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_authorisations_product_jurisdiction", "product_code", "jurisdiction"),
)

identifier_sequences = Table(
    "identifier_sequences",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("fin", String(5), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

# Per-record counters (a case's assessments, custody events, incidents, shipments and
# batches): `SqlSequenceAllocator.next_in` increments one with UPDATE ... RETURNING, so
# two transactions never read the same number (docs/security.md, "Concurrency").
record_sequences = Table(
    "record_sequences",
    metadata,
    Column("scope", String(60), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("last_value", Integer, nullable=False),
)

# Idempotency-Key answers: the key is claimed in the transaction of the change it
# guards, and the answer (status and JSON) kept for a retry (services/idempotency.py).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("username", String(64), ForeignKey("users.username"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("attempt", String(32), nullable=False),
    Column("status", Integer, nullable=True),
    # The kept answer may hold a case with its patient's name: sealed.
    Column("response", _sealed_json("idempotency_keys.response", nullable=True), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

issued_identifiers = Table(
    "issued_identifiers",
    metadata,
    Column("value", String(20), primary_key=True),
    Column("kind", _enum(IdentifierKind, "identifier_kind"), nullable=False),
    Column("fin", String(5), nullable=False),
    Column("year", Integer, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("check_character", String(1), nullable=True),
    Column("purpose", String(200), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("issued_by", String(64), ForeignKey("users.username"), nullable=False),
    UniqueConstraint("kind", "fin", "year", "sequence", name="uq_issued_identifiers_sequence"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    # The sequence is assigned by the ledger under a lock, not by the database, so a
    # gap can only come from a deletion.
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("recorded_at", String(32), nullable=False),
    Column("actor", String(64), ForeignKey("users.username"), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("action", String(80), nullable=False),
    Column("entity_type", String(40), nullable=False),
    Column("entity_id", String(120), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("signature_meaning", String(40), nullable=True),
    Column("signed_hash", String(64), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_ledger_entries_entity", "entity_type", "entity_id"),
    Index("ix_ledger_entries_actor", "actor"),
    Index("ix_ledger_entries_action", "action"),
)

# The result of each verification (domain/ledger.py, Checkpoint): a routine check walks
# only the entries after the last good one. Append-only like the ledger (triggers).
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", Integer, nullable=False),
    Column("tip_hash", String(64), nullable=False),
    Column("checked_at", String(32), nullable=False),
    Column("checked_by", String(64), ForeignKey("users.username"), nullable=False),
    Column("full", Boolean, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("entries_checked", Integer, nullable=False),
    Column("records_checked", Integer, nullable=False),
    Column("first_break", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("jurisdiction", String(8), nullable=False),
    Column("treatment_site", String(40), ForeignKey("sites.code"), nullable=False),
    # Personal data, sealed (Sealed); the wristband is found by its keyed hash.
    Column("patient_name", Sealed("cases.patient_name"), nullable=False),
    Column("wristband_id", Sealed("cases.wristband_id"), nullable=False),
    Column("wristband_hash", String(64), nullable=False, index=True),
    Column("treating_physician", String(64), ForeignKey("users.username"), nullable=False),
    Column("coi", String(20), ForeignKey("issued_identifiers.value"), nullable=False, unique=True),
    Column("enrolled_at", UTCDateTime, nullable=False),
    Column("enrolled_by", String(64), ForeignKey("users.username"), nullable=False),
    Column("consent", JSON, nullable=False),
    Column("eligibility", JSON, nullable=False),
    Column("patient_facts", _sealed_json("cases.patient_facts"), nullable=False),
    Column("state", _enum(CaseState, "case_state"), nullable=False, index=True),
    Column("weight_kg", Float, nullable=True),
    Column("apheresis_site", String(40), nullable=True),
    Column("apheresis_date", String(10), nullable=True),
    Column("manufacturing_site", String(40), nullable=True),
    Column("planned", JSON, nullable=False),
    Column("collections", COLLECTIONS, nullable=False),
    Column("manufacturing", MANUFACTURING, nullable=False),
    Column("release", RELEASE_OUTCOME, nullable=False),
    Column("infusion", _sealed_part("cases.infusion", INFUSION), nullable=False),
    Column("cancellation", JSON, nullable=True),
    Column("labels", JSON, nullable=False, default=dict),
    Column("version", Integer, nullable=False),
    # One open case per wristband at a centre (migration 0016; domain/case.py,
    # WRISTBAND_FREED names the states that free it).
    Index(
        "uq_cases_open_wristband",
        "treatment_site",
        "wristband_hash",
        unique=True,
        sqlite_where=text("state NOT IN ('cancelled', 'follow_up')"),
        postgresql_where=text("state NOT IN ('cancelled', 'follow_up')"),
    ),
)

custody_events = Table(
    "custody_events",
    metadata,
    Column("id", String(60), primary_key=True),
    # A case's hand-off, or an MSC order's (then `order_id`, and no case).
    Column("case_id", String(40), ForeignKey("cases.id"), nullable=True, index=True),
    Column("point", _enum(CustodyPoint, "custody_point"), nullable=False),
    Column("actor", String(64), ForeignKey("users.username"), nullable=False),
    Column("site_code", String(40), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("scan_data", Sealed("custody_events.scan_data"), nullable=False),
    Column("identifiers", _sealed_json("custody_events.identifiers"), nullable=False),
    Column("shipment_id", String(60), nullable=True),
    Column("order_id", String(40), ForeignKey("msc_orders.id"), nullable=True, index=True),
)

identity_incidents = Table(
    "identity_incidents",
    metadata,
    Column("id", String(60), primary_key=True),
    Column("case_id", String(40), nullable=False, index=True),
    Column("point", String(40), nullable=False),
    Column("actor", String(64), ForeignKey("users.username"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # What was scanned, and the refusal that may quote it: sealed.
    Column("scan_data", Sealed("identity_incidents.scan_data"), nullable=False),
    Column("message", Sealed("identity_incidents.message"), nullable=False),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", String(60), primary_key=True),
    # A case's material, or an MSC order's vials (then `order_id`, and no case).
    Column("case_id", String(40), ForeignKey("cases.id"), nullable=True, index=True),
    Column("leg", _enum(Leg, "shipment_leg"), nullable=False),
    Column("shipper_type", _enum(ShipperType, "shipper_type"), nullable=False),
    Column("from_site", String(40), ForeignKey("sites.code"), nullable=False),
    Column("to_site", String(40), ForeignKey("sites.code"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("low_c", Float, nullable=True),
    Column("high_c", Float, nullable=True),
    Column("status", _enum(ShipmentStatus, "shipment_status"), nullable=False),
    Column("dispatched_at", UTCDateTime, nullable=True),
    Column("received_at", UTCDateTime, nullable=True),
    Column("readings", JSON, nullable=False),
    Column("excursions", JSON, nullable=False),
    Column("gaps", JSON, nullable=False),
    Column("disposition", JSON, nullable=True),
    Column("version", Integer, nullable=False),
    Column("order_id", String(40), ForeignKey("msc_orders.id"), nullable=True, index=True),
    Column("carried", JSON(none_as_null=True), nullable=True),
)

assessments = Table(
    "assessments",
    metadata,
    Column("id", String(60), primary_key=True),
    Column("case_id", String(40), ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", _enum(AssessmentKind, "assessment_kind"), nullable=False),
    Column("assessed_on", String(10), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("result", JSON, nullable=False),
    Column("recorded_by", String(64), ForeignKey("users.username"), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

trials = Table(
    "trials",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("criteria", String(20), nullable=False),
    Column("cohorts", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)

trial_patients = Table(
    "trial_patients",
    metadata,
    Column("id", String(90), primary_key=True),
    Column("trial_id", String(40), ForeignKey("trials.id"), nullable=False, index=True),
    Column("subject", String(40), nullable=False),
    Column("cohort_id", String(40), nullable=False),
    Column("source", _enum(OutcomeSource, "outcome_source"), nullable=False),
    Column("data", JSON, nullable=False),
)

triage_settings = Table(
    "triage_settings",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("weights", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)

plans = Table(
    "plans",
    metadata,
    Column("id", String(20), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), ForeignKey("users.username"), nullable=False),
    Column("policy", String(20), nullable=False),
    Column("scenario", JSON, nullable=False),
    Column("plan", JSON, nullable=False),
    Column("applied_at", UTCDateTime, nullable=True),
    Column("applied_cases", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)


# Jobs (domain/job.py): long work run off the request path. Not a regulated record (no
# ledger, no patient data); kept so a result is served from cache and a job cut short by
# a restart reads "interrupted". Read and written with SQLAlchemy Core (adapters/jobs.py).
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("key", String(64), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("progress", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("submitted_by", String(64), ForeignKey("users.username"), nullable=False),
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    Column("worker", String(120), nullable=True),
    Column("result", JSON, nullable=True),
    Column("artifact", LargeBinary, nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_jobs_key", "key"),
    Index("ix_jobs_state_submitted", "state", "submitted_at"),
)


def _controlled_document_columns() -> list[Column[Any]]:
    """Authorship and life cycle, the same for every controlled document."""
    return [
        Column("author", String(64), ForeignKey("users.username"), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("status", _enum(DocumentStatus, "document_status"), nullable=False),
        Column("notes", Text, nullable=False),
        Column("demo", Boolean, nullable=False),
        Column("approval", SIGNATURE, nullable=True),
        Column("superseded_at", UTCDateTime, nullable=True),
        Column("superseded_by", String(120), nullable=True),
        Column("retirement", JSON, nullable=True),
        Column("version", Integer, nullable=False),
    ]


process_templates = Table(
    "process_templates",
    metadata,
    Column("product_code", String(40), ForeignKey("products.code"), primary_key=True),
    Column("site", String(40), ForeignKey("sites.code"), primary_key=True),
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("steps", STEP_SPECS, nullable=False),
    Column("transferred_from", String(120), nullable=True),
    *_controlled_document_columns(),
)

specifications = Table(
    "specifications",
    metadata,
    Column("product_code", String(40), ForeignKey("products.code"), primary_key=True),
    Column("market", String(12), primary_key=True),
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("tests", RELEASE_TESTS, nullable=False),
    *_controlled_document_columns(),
)

batches = Table(
    "batches",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("site", String(40), ForeignKey("sites.code"), nullable=False),
    Column("template_id", String(120), nullable=False),
    Column("template_number", Integer, nullable=False),
    Column("template_hash", String(64), nullable=False),
    Column("steps", STEP_RECORDS, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("started_by", String(64), ForeignKey("users.username"), nullable=False),
    Column("case_id", String(40), ForeignKey("cases.id"), nullable=True, index=True),
    Column("lot_id", String(40), nullable=True, unique=True),
    Column("coi", String(20), nullable=True),
    Column("din", String(20), nullable=True),
    Column("status", _enum(BatchStatus, "batch_status"), nullable=False, index=True),
    Column("deviations", DEVIATIONS, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("abort", JSON, nullable=True),
    Column("entry_count", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

release_records = Table(
    "release_records",
    metadata,
    Column("batch_id", String(40), ForeignKey("batches.id"), primary_key=True),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("market", String(12), nullable=False),
    Column("specification_id", String(120), nullable=False),
    Column("specification_number", Integer, nullable=False),
    Column("specification_hash", String(64), nullable=False),
    Column("tests", RELEASE_TESTS, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("opened_by", String(64), ForeignKey("users.username"), nullable=False),
    Column("results", QC_RESULTS, nullable=False),
    Column("disposition", _enum(Disposition, "disposition"), nullable=False, index=True),
    Column("investigation", JSON, nullable=True),
    Column("acknowledgement", SIGNATURE, nullable=True),
    Column("acknowledgement_statement", Text, nullable=False),
    Column("justification", Text, nullable=True),
    Column("decision", SIGNATURE, nullable=True),
    Column("version", Integer, nullable=False),
)

# ---------------------------------------------------------------- allogeneic MSC
# docs/architecture.md, "Allogeneic MSC". A lot is a batch (batches.lot_id); a vial has
# at most one position (UNIQUE, so two vials never share one) and at most one order (one
# column): the database, not only the code, keeps both.

msc_donors = Table(
    "msc_donors",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("site", String(40), ForeignKey("sites.code"), nullable=False),
    Column("site_reference", String(200), nullable=False),
    Column("consent", JSON, nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("registered_by", String(64), ForeignKey("users.username"), nullable=False),
    Column("status", _enum(DonorStatus, "donor_status"), nullable=False),
    Column("screening", JSON, nullable=False),
    Column("review", SIGNATURE, nullable=True),
    Column("version", Integer, nullable=False),
)

msc_lots = Table(
    "msc_lots",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("donor_id", String(40), ForeignKey("msc_donors.id"), nullable=False, index=True),
    Column("batch_id", String(40), ForeignKey("batches.id"), nullable=False, unique=True),
    Column("site", String(40), ForeignKey("sites.code"), nullable=False),
    Column("market", String(12), nullable=False),
    Column("din", String(20), nullable=False, unique=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("filled", Integer, nullable=False),
    Column("recall", JSON(none_as_null=True), nullable=True),
    Column("version", Integer, nullable=False),
)

storage_units = Table(
    "storage_units",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("site", String(40), ForeignKey("sites.code"), nullable=False, index=True),
    Column("kind", _enum(UnitKind, "storage_unit_kind"), nullable=False),
    Column("racks", Integer, nullable=False),
    Column("boxes_per_rack", Integer, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("columns", Integer, nullable=False),
    Column("max_c", Float, nullable=False),
    Column("alarm", JSON(none_as_null=True), nullable=True),
    Column("version", Integer, nullable=False),
)

msc_orders = Table(
    "msc_orders",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("jurisdiction", String(8), nullable=False),
    Column("treatment_site", String(40), ForeignKey("sites.code"), nullable=False),
    Column("physician", String(64), ForeignKey("users.username"), nullable=False),
    # Patient data: sealed at rest with the cases' columns (docs/security.md).
    Column("patient_name", Sealed("msc_orders.patient_name"), nullable=False),
    Column("wristband_id", Sealed("msc_orders.wristband_id"), nullable=False),
    Column("patient_facts", _sealed_json("msc_orders.patient_facts"), nullable=False),
    Column("weight_kg", Float, nullable=False),
    Column("placed_at", UTCDateTime, nullable=False, index=True),
    Column("eligibility", JSON, nullable=False),
    Column("status", _enum(OrderStatus, "msc_order_status"), nullable=False, index=True),
    Column("course", JSON, nullable=False),
    Column("depot", String(40), ForeignKey("sites.code"), nullable=True),
    Column("vial_ids", JSON, nullable=False),
    Column("shortage", JSON(none_as_null=True), nullable=True),
    Column("events", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)

msc_vials = Table(
    "msc_vials",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("lot_id", String(40), ForeignKey("msc_lots.id"), nullable=False, index=True),
    Column("product_code", String(40), ForeignKey("products.code"), nullable=False),
    Column("din", String(20), nullable=False),
    Column("division", String(2), nullable=False),
    Column("cells", Float, nullable=False),
    Column("volume_ml", Float, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("site", String(40), ForeignKey("sites.code"), nullable=False),
    Column("status", _enum(VialStatus, "msc_vial_status"), nullable=False),
    Column("position", String(60), nullable=True, unique=True),
    Column("order_id", String(40), ForeignKey("msc_orders.id"), nullable=True, index=True),
    Column("quarantine", JSON(none_as_null=True), nullable=True),
    Column("history", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("din", "division", name="uq_msc_vials_din_division"),
    Index("ix_msc_vials_stock", "product_code", "status", "site", "expires_at"),
)

# Columns that hold lists or records the domain changes in place: SQLAlchemy sees only
# reassignments, so a changed record (its version moved) writes them all again.
_IN_PLACE: dict[type[Any], tuple[str, ...]] = {
    ProcessTemplate: ("retirement",),
    Specification: ("retirement",),
    Batch: ("steps", "deviations", "abort"),
    ReleaseRecord: ("results", "investigation"),
}


def _flag_in_place_changes(session: Session, flush_context: Any, instances: Any) -> None:
    for record in session.dirty:
        for name in _IN_PLACE.get(type(record), ()):
            flag_modified(record, name)


# The regulated tables and the classes they hold: `ledger verify` compares every row
# of these with its last ledger snapshot.
REGULATED: list[type[Any]] = [
    User,
    Site,
    Product,
    Authorisation,
    IssuedIdentifier,
    Case,
    CustodyEvent,
    IdentityIncident,
    Shipment,
    Assessment,
    TrialRecord,
    TrialPatient,
    TriageSettings,
    PlanRecord,
    ProcessTemplate,
    Specification,
    Batch,
    ReleaseRecord,
    SignInGuard,
    Donor,
    Lot,
    StorageUnit,
    Order,
    Vial,
]

# The aggregates that carry a version, and their tables (see start_mappers).
VERSIONED: list[tuple[type[Any], Table]] = [
    (Site, sites),
    (Product, products),
    (Authorisation, authorisations),
    (Case, cases),
    (Shipment, shipments),
    (TrialRecord, trials),
    (TriageSettings, triage_settings),
    (PlanRecord, plans),
    (ProcessTemplate, process_templates),
    (Specification, specifications),
    (Batch, batches),
    (ReleaseRecord, release_records),
    (Donor, msc_donors),
    (Lot, msc_lots),
    (StorageUnit, storage_units),
    (Order, msc_orders),
    (Vial, msc_vials),
]


def _hash_wristband(mapper: Any, connection: Any, case: Case) -> None:
    # The wristband is sealed; its keyed hash is what a lookup searches (wristband_hash).
    # (setattr: a mapped column the domain class does not declare.)
    setattr(case, "wristband_hash", wristband_hash(connection.dialect, case.wristband_id))  # noqa: B010


def wristband_hash(dialect: Dialect, wristband_id: str) -> str:
    return keyring_of(dialect).lookup("wristband", wristband_id.strip())


# Every sealed column, as (table, column): what `veinline db rotate-key` re-seals.
def sealed_columns() -> list[tuple[Table, Column[Any]]]:
    return [
        (table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, Sealed)
    ]


_mapped = False


def start_mappers() -> None:
    """Map the domain classes; idempotent, called by bootstrap, never at import."""
    global _mapped
    if _mapped:
        return
    mapper_registry.map_imperatively(User, users)
    mapper_registry.map_imperatively(IssuedIdentifier, issued_identifiers)
    mapper_registry.map_imperatively(CustodyEvent, custody_events)
    mapper_registry.map_imperatively(IdentityIncident, identity_incidents)
    mapper_registry.map_imperatively(Assessment, assessments)
    mapper_registry.map_imperatively(TrialPatient, trial_patients)
    for cls, table in VERSIONED:
        # Optimistic check on every versioned aggregate: the domain moves `version`,
        # and every UPDATE says `WHERE version = <the version read>`; a row changed by
        # another transaction meanwhile updates nothing, SQLAlchemy raises
        # StaleDataError and the unit of work refuses it as a Conflict (409).
        mapper_registry.map_imperatively(
            cls, table, version_id_col=table.c.version, version_id_generator=False
        )
    mapper_registry.map_imperatively(SignInGuard, sign_in_guards)
    event.listen(Session, "before_flush", _flag_in_place_changes)
    event.listen(Case, "before_insert", _hash_wristband)
    event.listen(Case, "before_update", _hash_wristband)
    _mapped = True
