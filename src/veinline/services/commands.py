"""Commands: what a user asks veinline to change. One handler serves each."""

from __future__ import annotations

from dataclasses import dataclass, field

from veinline.domain.catalog import Authorisation, Product, Site
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.signature import Meaning
from veinline.domain.user import Role


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
    username: str
    printed_name: str
    role: Role
    site_code: str | None = None
    password: str | None = None
    reason: str = "new user"


@dataclass(frozen=True)
class SetPassword(Command):
    username: str
    password: str
    reason: str = "password changed"


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

    products: list[Product] = field(default_factory=list)
    authorisations: list[Authorisation] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    users: list[CreateUser] = field(default_factory=list)
    reason: str = "seed catalogue"


@dataclass(frozen=True)
class SetProductField(Command):
    code: str
    field: str
    value: str
    reason: str


@dataclass(frozen=True)
class IssueIdentifier(Command):
    kind: IdentifierKind
    fin: str
    purpose: str


@dataclass(frozen=True)
class SignRecord(Command):
    """Sign a catalogue record as it stands (e.g. QA approves a product's version)."""

    entity_type: str
    entity_id: str
    meaning: Meaning
    username: str
    password: str
    reason: str = ""


# ---------------------------------------------------------------- the autologous journey


@dataclass(frozen=True)
class EnrolPatient(Command):
    product_code: str
    jurisdiction: str
    treatment_site: str
    patient_name: str
    wristband_id: str
    treating_physician: str
    consent_given: bool
    consent_date: str
    patient_facts: dict[str, object]
    consent_form: str = ""
    case_id: str | None = None


@dataclass(frozen=True)
class ConfirmEligibility(Command):
    case_id: str
    patient_facts: dict[str, object] | None = None


@dataclass(frozen=True)
class BookApheresis(Command):
    case_id: str
    apheresis_site: str
    apheresis_date: str
    manufacturing_site: str


@dataclass(frozen=True)
class SetPlannedDates(Command):
    """The seam for planning: a case takes its promised dates from the current plan."""

    case_id: str
    planned: dict[str, str]
    reason: str = "planned dates"


@dataclass(frozen=True)
class Collect(Command):
    case_id: str
    collected_at: str
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
    case_id: str
    point: str
    data: str
    site_code: str | None = None


@dataclass(frozen=True)
class ImportLoggerData(Command):
    shipment_id: str
    csv_text: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class DisposeExcursion(Command):
    """QA accepts or rejects a shipment's temperature excursions by e-signature."""

    shipment_id: str
    decision: str
    reason: str
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class StartManufacturing(Command):
    """Open the case's batch record; a blank batch id is named after the case."""

    case_id: str
    batch_id: str = ""


@dataclass(frozen=True)
class CompleteManufacturing(Command):
    case_id: str
    bag_count: int
    expires_at: str
    total_cells: float | None = None


@dataclass(frozen=True)
class ReleaseProduct(Command):
    case_id: str
    username: str
    password: str
    reason: str = "released for infusion"


@dataclass(frozen=True)
class ConditionalRelease(Command):
    """QA releases an out-of-specification product the treating physician acknowledged."""

    case_id: str
    justification: str
    username: str
    password: str


@dataclass(frozen=True)
class Recollect(Command):
    case_id: str
    reason: str


@dataclass(frozen=True)
class Infuse(Command):
    case_id: str
    wristband_id: str
    bag_scan: str
    thawed_at: str
    infusion_started_at: str
    weight_kg: float
    dose_cells: float
    override_reason: str = ""


@dataclass(frozen=True)
class StartFollowUp(Command):
    case_id: str


@dataclass(frozen=True)
class CancelCase(Command):
    case_id: str
    reason: str


# ---------------------------------------------------------------- follow-up


@dataclass(frozen=True)
class RecordAssessment(Command):
    case_id: str
    kind: str
    assessed_on: str
    inputs: dict[str, object]


@dataclass(frozen=True)
class CreateTrial(Command):
    id: str
    title: str
    product_code: str
    criteria: str
    cohorts: list[dict[str, object]]


@dataclass(frozen=True)
class EnrolInCohort(Command):
    trial_id: str
    case_id: str
    cohort_id: str


@dataclass(frozen=True)
class ImportTrialOutcomes(Command):
    """A sponsor's outcome records: [{subject, cohort_id, best_response, infused_on, ...}]."""

    trial_id: str
    outcomes: list[dict[str, object]]
    reason: str = "outcomes imported"


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class SetTriageWeights(Command):
    weights: dict[str, object]
    reason: str


@dataclass(frozen=True)
class MakePlan(Command):
    scenario: dict[str, object]
    policy: str = "optimal"
    time_limit_s: float = 10.0


@dataclass(frozen=True)
class ApplyPlan(Command):
    """Give every case the plan names its planned dates."""

    plan_id: str
    reason: str = "planned dates from the current plan"


# ---------------------------------------------------------------- manufacturing and release
# Every command that signs carries the signer's user name and password, re-entered
# (21 CFR 11.200); the handler checks them before the domain records the signature.


@dataclass(frozen=True)
class DraftProcess(Command):
    """A new draft version of a product's process at a site (no steps: the demo default)."""

    product_code: str
    site: str
    steps: list[dict[str, object]] | None = None
    notes: str = ""


@dataclass(frozen=True)
class ApproveProcess(Command):
    template_id: str
    username: str
    password: str


@dataclass(frozen=True)
class TransferProcess(Command):
    """Technology transfer: the version in force becomes a draft at another site."""

    template_id: str
    to_site: str


@dataclass(frozen=True)
class RetireProcess(Command):
    template_id: str
    reason: str


@dataclass(frozen=True)
class DraftSpecification(Command):
    """A new draft release specification for a market (no tests: the demo default panel)."""

    product_code: str
    market: str
    tests: list[dict[str, object]] | None = None
    notes: str = ""


@dataclass(frozen=True)
class ApproveSpecification(Command):
    specification_id: str
    username: str
    password: str


@dataclass(frozen=True)
class RetireSpecification(Command):
    specification_id: str
    reason: str


@dataclass(frozen=True)
class StartStep(Command):
    batch_id: str
    step: str
    suite: str
    equipment: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecordValue(Command):
    batch_id: str
    step: str
    parameter: str
    value: float | str


@dataclass(frozen=True)
class CorrectValue(Command):
    """A correction is a new entry; after the step was signed it is signed too."""

    batch_id: str
    seq: int
    value: float | str
    reason: str
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class CompleteStep(Command):
    """The operator signs the step "performed"."""

    batch_id: str
    step: str
    username: str
    password: str


@dataclass(frozen=True)
class VerifyStep(Command):
    """A second person signs a critical step "verified"."""

    batch_id: str
    step: str
    username: str
    password: str


@dataclass(frozen=True)
class VerifyCorrection(Command):
    batch_id: str
    seq: int
    username: str
    password: str


@dataclass(frozen=True)
class RaiseDeviation(Command):
    batch_id: str
    description: str
    severity: str
    step: str | None = None


@dataclass(frozen=True)
class InvestigateDeviation(Command):
    batch_id: str
    deviation_id: str


@dataclass(frozen=True)
class ClassifyDeviation(Command):
    batch_id: str
    deviation_id: str
    severity: str
    reason: str


@dataclass(frozen=True)
class CloseDeviation(Command):
    """QA closes an investigated deviation with root cause and CAPA, and signs."""

    batch_id: str
    deviation_id: str
    root_cause: str
    capa: str
    username: str
    password: str


@dataclass(frozen=True)
class AbortBatch(Command):
    batch_id: str
    reason: str


@dataclass(frozen=True)
class EnterResult(Command):
    """A QC result; the first one opens the batch's QC record on the specification in force."""

    batch_id: str
    test: str
    value: float | str


@dataclass(frozen=True)
class CorrectResult(Command):
    batch_id: str
    test: str
    value: float | str
    reason: str


@dataclass(frozen=True)
class OpenInvestigation(Command):
    """Open the out-of-specification investigation."""

    batch_id: str
    reference: str
    summary: str


@dataclass(frozen=True)
class AcknowledgeResults(Command):
    """The treating physician acknowledges the out-of-specification results, and signs."""

    batch_id: str
    username: str
    password: str
    statement: str = ""


@dataclass(frozen=True)
class ReleaseBatch(Command):
    batch_id: str
    username: str
    password: str


@dataclass(frozen=True)
class ReleaseBatchConditionally(Command):
    batch_id: str
    justification: str
    username: str
    password: str


@dataclass(frozen=True)
class RejectBatch(Command):
    batch_id: str
    reason: str
    username: str
    password: str
