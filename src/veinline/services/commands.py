"""Commands: what a user asks veinline to change. One handler serves each."""

from __future__ import annotations

from dataclasses import dataclass, field

from veinline.domain.catalog import Authorisation, Product, Site
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.signature import Meaning
from veinline.domain.user import Role


class Command:
    """Base of every command."""


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
    shipment_id: str
    decision: str
    reason: str


@dataclass(frozen=True)
class StartManufacturing(Command):
    case_id: str
    batch_id: str


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
class FailSpecification(Command):
    case_id: str
    reason: str


@dataclass(frozen=True)
class ConditionalRelease(Command):
    case_id: str
    justification: str
    physician_acknowledgement: str
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
