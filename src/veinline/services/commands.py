"""Commands: what a user asks veinline to change. One handler serves each.

Every field is bounded (`services/bounds.py`): text by its `Annotated` metadata (the
aliases below, matching the column lengths in `adapters/orm.py`) or the default of 200
characters on one line; dicts and lists by `Nested`. The bus checks them first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from veinline.domain.catalog import Authorisation, Product, Site
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.signature import Meaning
from veinline.domain.user import Role
from veinline.services.bounds import (
    CATALOGUE,
    LARGE,
    LOGGER_CSV_MAX,
    Code,
    Date,
    FreeText,
    Id,
    LongId,
    Name,
    Nested,
    Scan,
    Secret,
    Text,
    Username,
)


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of every command.

    `expected_version` is the version of the record being changed as the client last
    read it: the commands that change an existing case or batch record refuse the change
    (Conflict, 409) when the stored version differs, instead of overwriting a change the
    client has not seen (docs/architecture.md, "Concurrency").
    """

    expected_version: int | None = None


@dataclass(frozen=True)
class CreateUser(Command):
    username: Username
    printed_name: Name
    role: Role
    site_code: Annotated[str | None, Text(max=40)] = None
    password: Annotated[str | None, Text(max=256)] = None
    reason: FreeText = "new user"
    # Other sites the user works at: "SITE" (the same role) or "SITE:ROLE".
    also_at: Annotated[list[str], Nested(max_items=50, text=Text(max=80))] = field(
        default_factory=list
    )


@dataclass(frozen=True)
class GrantSite(Command):
    """An administrator lets a user work at one more site, in a role (the user's own by
    default): they then see and act on that site's records (docs/security.md)."""

    username: Username
    site_code: Annotated[str, Text(max=40)]
    role: Role | None = None
    reason: FreeText = "works at one more site"


@dataclass(frozen=True)
class RevokeSite(Command):
    """An administrator withdraws a user's work at one site (not the home site)."""

    username: Username
    site_code: Annotated[str, Text(max=40)]
    reason: FreeText = "no longer works at this site"


@dataclass(frozen=True)
class SetPassword(Command):
    username: Username
    password: Secret
    reason: FreeText = "password changed"


@dataclass(frozen=True)
class ChangePassword(Command):
    """A user changes their own password, proving the old one (21 CFR 11.300(b))."""

    username: str
    old_password: str
    new_password: str
    reason: str = "password changed by its user"


@dataclass(frozen=True)
class DeactivateUser(Command):
    """An administrator ends a user's access: they sign in and sign no more, and every
    token of theirs is revoked (11.300(b): identification codes withdrawn)."""

    username: str
    reason: str


@dataclass(frozen=True)
class LoadCatalogue(Command):
    """Create every record of a seed catalogue that is not stored yet."""

    products: Annotated[list[Product], CATALOGUE] = field(default_factory=list)
    authorisations: Annotated[list[Authorisation], CATALOGUE] = field(default_factory=list)
    sites: Annotated[list[Site], CATALOGUE] = field(default_factory=list)
    users: Annotated[list[CreateUser], CATALOGUE] = field(default_factory=list)
    reason: FreeText = "seed catalogue"


@dataclass(frozen=True)
class SetProductField(Command):
    code: Id
    field: Name
    value: Name
    reason: FreeText


@dataclass(frozen=True)
class IssueIdentifier(Command):
    kind: IdentifierKind
    fin: Annotated[str, Text(max=5)]
    purpose: Name


@dataclass(frozen=True)
class SignRecord(Command):
    """Sign a catalogue record as it stands (e.g. QA approves a product's version)."""

    entity_type: Annotated[str, Text(max=40)]
    entity_id: LongId
    meaning: Meaning
    username: Username
    password: Secret
    reason: FreeText = ""


# ---------------------------------------------------------------- the autologous journey


@dataclass(frozen=True)
class EnrolPatient(Command):
    product_code: Id
    jurisdiction: Annotated[str, Text(max=8)]
    treatment_site: Id
    patient_name: Name
    wristband_id: Code
    treating_physician: Username
    consent_given: bool
    consent_date: Date
    patient_facts: dict[str, object]
    consent_form: FreeText = ""
    case_id: Annotated[str | None, Text(max=40)] = None


@dataclass(frozen=True)
class ConfirmEligibility(Command):
    case_id: Id
    patient_facts: dict[str, object] | None = None


@dataclass(frozen=True)
class BookApheresis(Command):
    """Book a case's apheresis (and the facility that will make its product); a booked
    case is rescheduled the same way, with a coded reason (`RescheduleReason`)."""

    case_id: Id
    apheresis_site: Id
    apheresis_date: Date
    manufacturing_site: Id
    reschedule_reason: Annotated[str | None, Text(max=40)] = None
    note: FreeText = ""


@dataclass(frozen=True)
class SetPlannedDates(Command):
    """The seam for planning: a case takes its promised dates from the current plan."""

    case_id: Id
    planned: dict[str, str]
    reason: FreeText = "planned dates"


@dataclass(frozen=True)
class Collect(Command):
    case_id: Id
    collected_at: Date
    volume_ml: float | None = None
    # The anticoagulant the collection went into (e.g. ACD-A); printed on its label.
    anticoagulant: str | None = None


@dataclass(frozen=True)
class ReconcileLabels(Command):
    """Labels issued, used and destroyed for one item of a case (FACT-JACIE reconciliation)."""

    case_id: str
    item: str
    issued: int
    used: int
    destroyed: int
    reason: str


@dataclass(frozen=True)
class ScanCustody(Command):
    case_id: Id
    point: Id
    data: Scan
    site_code: Annotated[str | None, Text(max=40)] = None


@dataclass(frozen=True)
class ImportLoggerData(Command):
    shipment_id: Annotated[str, Text(max=60)]
    csv_text: Annotated[str, Text(max=LOGGER_CSV_MAX, multiline=True)]
    timezone: Code = "UTC"


@dataclass(frozen=True)
class DisposeExcursion(Command):
    """QA accepts or rejects a shipment's temperature excursions by e-signature."""

    shipment_id: Annotated[str, Text(max=60)]
    decision: Id
    reason: FreeText
    username: Username = ""
    password: Secret = ""


@dataclass(frozen=True)
class StartManufacturing(Command):
    """Open the case's batch record; a blank batch id is named after the case."""

    case_id: Id
    batch_id: Id = ""


@dataclass(frozen=True)
class CompleteManufacturing(Command):
    case_id: Id
    bag_count: int
    expires_at: Date
    total_cells: float | None = None


@dataclass(frozen=True)
class ReleaseProduct(Command):
    case_id: Id
    username: Username
    password: Secret
    reason: FreeText = "released for infusion"


@dataclass(frozen=True)
class ConditionalRelease(Command):
    """QA releases an out-of-specification product the treating physician acknowledged."""

    case_id: Id
    justification: FreeText
    username: Username
    password: Secret


@dataclass(frozen=True)
class Recollect(Command):
    case_id: Id
    reason: FreeText


@dataclass(frozen=True)
class Infuse(Command):
    case_id: Id
    wristband_id: Code
    bag_scan: Scan
    thawed_at: Date
    infusion_started_at: Date
    weight_kg: float
    dose_cells: float
    override_reason: FreeText = ""


@dataclass(frozen=True)
class StartFollowUp(Command):
    case_id: Id


@dataclass(frozen=True)
class CancelCase(Command):
    case_id: Id
    reason: FreeText


@dataclass(frozen=True)
class CorrectPatientName(Command):
    """A misspelt patient name put right. The ledger keeps the digests of the old and the
    new name with the reason (docs/security.md, "Patient data at rest"): history is
    added to, never rewritten."""

    case_id: Id
    patient_name: Name
    reason: FreeText


# ---------------------------------------------------------------- follow-up


@dataclass(frozen=True)
class RecordAssessment(Command):
    case_id: Id
    kind: Id
    assessed_on: Date
    inputs: dict[str, object]


@dataclass(frozen=True)
class CreateTrial(Command):
    id: Id
    title: Annotated[str, Text(max=300)]
    product_code: Id
    criteria: Annotated[str, Text(max=20)]
    cohorts: list[dict[str, object]]


@dataclass(frozen=True)
class EnrolInCohort(Command):
    trial_id: Id
    case_id: Id
    cohort_id: Id


@dataclass(frozen=True)
class ImportTrialOutcomes(Command):
    """A sponsor's outcome records: [{subject, cohort_id, best_response, infused_on, ...}]."""

    trial_id: Id
    outcomes: Annotated[list[dict[str, object]], LARGE]
    reason: FreeText = "outcomes imported"


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class SetTriageWeights(Command):
    weights: dict[str, object]
    reason: FreeText


@dataclass(frozen=True)
class MakePlan(Command):
    scenario: Annotated[dict[str, object], LARGE]
    policy: Id = "optimal"
    time_limit_s: float = 10.0


@dataclass(frozen=True)
class ApplyPlan(Command):
    """Give every case the plan names its planned dates."""

    plan_id: Id
    reason: FreeText = "planned dates from the current plan"


# ---------------------------------------------------------------- manufacturing and release
# Every command that signs carries the signer's user name and password, re-entered
# (21 CFR 11.200); the handler checks them before the domain records the signature.


@dataclass(frozen=True)
class DraftProcess(Command):
    """A new draft version of a product's process at a site (no steps: the demo default)."""

    product_code: Id
    site: Id
    steps: list[dict[str, object]] | None = None
    notes: FreeText = ""


@dataclass(frozen=True)
class ApproveProcess(Command):
    template_id: LongId
    username: Username
    password: Secret


@dataclass(frozen=True)
class TransferProcess(Command):
    """Technology transfer: the version in force becomes a draft at another site."""

    template_id: LongId
    to_site: Id


@dataclass(frozen=True)
class RetireProcess(Command):
    template_id: LongId
    reason: FreeText


@dataclass(frozen=True)
class DraftSpecification(Command):
    """A new draft release specification for a market (no tests: the demo default panel)."""

    product_code: Id
    market: Annotated[str, Text(max=12)]
    tests: list[dict[str, object]] | None = None
    notes: FreeText = ""


@dataclass(frozen=True)
class ApproveSpecification(Command):
    specification_id: LongId
    username: Username
    password: Secret


@dataclass(frozen=True)
class RetireSpecification(Command):
    specification_id: LongId
    reason: FreeText


@dataclass(frozen=True)
class StartStep(Command):
    batch_id: Id
    step: Name
    suite: Id
    equipment: Annotated[list[str], Nested(max_items=100, text=Text(max=64))] = field(
        default_factory=list
    )


@dataclass(frozen=True)
class RecordValue(Command):
    batch_id: Id
    step: Name
    parameter: Name
    value: float | str


@dataclass(frozen=True)
class CorrectValue(Command):
    """A correction is a new entry; after the step was signed it is signed too."""

    batch_id: Id
    seq: int
    value: float | str
    reason: FreeText
    username: Username = ""
    password: Secret = ""


@dataclass(frozen=True)
class CompleteStep(Command):
    """The operator signs the step "performed"."""

    batch_id: Id
    step: Name
    username: Username
    password: Secret


@dataclass(frozen=True)
class VerifyStep(Command):
    """A second person signs a critical step "verified"."""

    batch_id: Id
    step: Name
    username: Username
    password: Secret


@dataclass(frozen=True)
class VerifyCorrection(Command):
    batch_id: Id
    seq: int
    username: Username
    password: Secret


@dataclass(frozen=True)
class RaiseDeviation(Command):
    batch_id: Id
    description: FreeText
    severity: Id
    step: Annotated[str | None, Text(max=200)] = None


@dataclass(frozen=True)
class InvestigateDeviation(Command):
    batch_id: Id
    deviation_id: Id


@dataclass(frozen=True)
class ClassifyDeviation(Command):
    batch_id: Id
    deviation_id: Id
    severity: Id
    reason: FreeText


@dataclass(frozen=True)
class CloseDeviation(Command):
    """QA closes an investigated deviation with root cause and CAPA, and signs."""

    batch_id: Id
    deviation_id: Id
    root_cause: FreeText
    capa: FreeText
    username: Username
    password: Secret


@dataclass(frozen=True)
class AbortBatch(Command):
    batch_id: Id
    reason: FreeText


@dataclass(frozen=True)
class EnterResult(Command):
    """A QC result; the first one opens the batch's QC record on the specification in force."""

    batch_id: Id
    test: Name
    value: float | str


@dataclass(frozen=True)
class CorrectResult(Command):
    batch_id: Id
    test: Name
    value: float | str
    reason: FreeText


@dataclass(frozen=True)
class OpenInvestigation(Command):
    """Open the out-of-specification investigation."""

    batch_id: Id
    reference: Name
    summary: FreeText


@dataclass(frozen=True)
class AcknowledgeResults(Command):
    """The treating physician acknowledges the out-of-specification results, and signs."""

    batch_id: Id
    username: Username
    password: Secret
    statement: FreeText = ""


@dataclass(frozen=True)
class ReleaseBatch(Command):
    batch_id: Id
    username: Username
    password: Secret


@dataclass(frozen=True)
class ReleaseBatchConditionally(Command):
    batch_id: Id
    justification: FreeText
    username: Username
    password: Secret


@dataclass(frozen=True)
class RejectBatch(Command):
    batch_id: Id
    reason: FreeText
    username: Username
    password: Secret


# ---------------------------------------------------------------- allogeneic MSC
# docs/architecture.md, "Allogeneic MSC": donors, lots, vials, storage, orders.


@dataclass(frozen=True)
class RegisterDonor(Command):
    """The collection facility's QA or QC registers a donor under a pseudonymous id; its
    own reference stays visible to that site only."""

    donor_id: Id
    site: Id
    site_reference: Name
    consent_given: bool
    consent_date: Date


@dataclass(frozen=True)
class ScreenDonor(Command):
    """QA reviews the screening and infectious-disease results and signs (reviewed)."""

    donor_id: Id
    results: Annotated[dict[str, str], Nested(max_items=50, text=Text(max=40))]
    questionnaire_passed: bool
    username: Username
    password: Secret


@dataclass(frozen=True)
class StartLot(Command):
    """An operator starts a lot from one eligible donor's tissue: a batch record on the
    process in force at the facility, under the lot's own DIN."""

    lot_id: Id
    donor_id: Id
    product_code: Id
    site: Id
    market: Annotated[str, Text(max=12)]


@dataclass(frozen=True)
class FillVials(Command):
    """Vials of a released lot: each with the lot's DIN and its own division."""

    lot_id: Id
    count: int
    cells_per_vial: float
    volume_ml: float
    expires_at: Date


@dataclass(frozen=True)
class CreateStorageUnit(Command):
    unit_id: Id
    site: Id
    kind: Id
    racks: int
    boxes_per_rack: int
    rows: int
    columns: int
    max_c: float = -150.0


@dataclass(frozen=True)
class StoreVial(Command):
    """Put a vial away, or move it, into a position of a unit (the first free one if
    no position is given)."""

    vial_id: Id
    unit_id: Id
    position: Annotated[str, Text(max=60)] = ""


@dataclass(frozen=True)
class ImportUnitReadings(Command):
    """A storage unit's temperature readings (like logger data): a reading above the
    unit's limit is an alarm that quarantines every vial it holds."""

    unit_id: Id
    readings: Annotated[list[dict[str, object]], Nested(max_items=50_000, max_chars=2_000_000)] = (
        field(default_factory=list)
    )
    # Or the unit's logger export (timestamp, °C), read as a shipper's logger file is.
    csv_text: Annotated[str, Text(max=LOGGER_CSV_MAX, multiline=True)] = ""
    timezone: Code = "UTC"


@dataclass(frozen=True)
class DisposeVials(Command):
    """QA's signed decision on quarantined vials: back to stock, or discarded."""

    vial_ids: Annotated[list[str], Nested(max_items=2_000, text=Text(max=40))]
    release: bool
    reason: FreeText
    username: Username
    password: Secret


@dataclass(frozen=True)
class PlaceOrder(Command):
    order_id: Id
    product_code: Id
    jurisdiction: Annotated[str, Text(max=8)]
    treatment_site: Id
    patient_name: Name
    wristband_id: Code
    patient_facts: dict[str, object]
    weight_kg: float
    cells_per_vial: float = 0.0


@dataclass(frozen=True)
class AllocateOrder(Command):
    order_id: Id


@dataclass(frozen=True)
class CancelOrder(Command):
    order_id: Id
    reason: FreeText


@dataclass(frozen=True)
class ShipOrder(Command):
    """The courier's pickup at the depot: every vial of the order scanned."""

    order_id: Id
    scans: Annotated[list[str], Nested(max_items=2_000, text=Text(max=60))] = field(
        default_factory=list
    )


@dataclass(frozen=True)
class ReceiveOrder(Command):
    """Receipt at the treatment centre through the order's shipment: every vial scanned;
    the shipment's logger readings (imported before, or given here) are checked against
    the product's limit as the journey checks a shipment's."""

    order_id: Id
    scans: Annotated[list[str], Nested(max_items=2_000, text=Text(max=60))] = field(
        default_factory=list
    )
    # The shipper logger's CSV export (timestamp, °C), imported into the shipment first.
    logger_csv: Annotated[str, Text(max=LOGGER_CSV_MAX, multiline=True)] = ""
    timezone: Code = "UTC"


@dataclass(frozen=True)
class InfuseVial(Command):
    """The bedside check (two identifiers: the wristband and the vial's DIN and division)
    and the infusion of one vial, within the product's post-thaw window."""

    order_id: Id
    wristband_id: Code
    vial_scan: Scan
    thawed_at: Date
    infusion_started_at: Date


@dataclass(frozen=True)
class ReturnVial(Command):
    """An unused vial back to stock, when the cold-chain record allows it."""

    order_id: Id
    vial_id: Id
    unit_id: Id
    position: Annotated[str, Text(max=60)] = ""


@dataclass(frozen=True)
class RecallLot(Command):
    lot_id: Id
    reason: FreeText
    username: Username
    password: Secret
