"""Authority: who may do what, where, and see what, decided in one table (21 CFR 11.10(g)).

Every command has a rule here, and so does every read (a case, a batch, a shipment, the
ledger, a report, a label, a plan). The message bus checks a command's rule once, before
its handler runs, against the sites of the record it acts on (`Where`, resolved by
services/places.py); reads ask `require_read` with the record's `Where` and lists keep
what `visible` admits; pages and the CLI ask `may` what to offer. State tables in the
domain say only which states an action may be fired from: they carry no role lists. See
docs/architecture.md, "Authority", and docs/security.md, "Site scope".

A rule names the roles that may act and its scope: `Scope.RECORD` (the default) admits a
role only at the record's sites where that role works (`WORKS_AT`: a treatment centre's
coordinators at their centre, a facility's operators, QC and QA at their facility);
`Scope.ANY_SITE` is for what belongs to no site (the catalogue, users, a market's
specification). Planners work across the network (`NETWORK_ROLES`). A read's rule also
says which roles see the patient's full data; everyone else who may read sees
identifiers only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from veinline.domain.assessment import AssessmentKind, parse_kind
from veinline.domain.case import TRANSITIONS, Action, Case, CaseState
from veinline.domain.custody import CustodyPoint, open_points
from veinline.domain.errors import NotAllowed
from veinline.domain.job import JobKind
from veinline.domain.release import ReleaseAction, ReleaseRecord
from veinline.domain.user import Role, User
from veinline.services import commands
from veinline.services.unit_of_work import Reach

R = Role
EVERYONE = frozenset(Role)


class Scope(StrEnum):
    """Where a rule lets a user act."""

    # At the record's sites only, each role at the places it works (WORKS_AT).
    RECORD = "the record's sites"
    # Wherever the user works: the rule concerns no site's record.
    ANY_SITE = "any site"


class Place(StrEnum):
    """The part a site plays for one record (a case, its batch, its shipments)."""

    TREATMENT = "treatment centre"
    APHERESIS = "apheresis unit"
    FACILITY = "manufacturing facility"
    # Where an allogeneic product's vials are stored and shipped from (docs/architecture.md,
    # "Allogeneic MSC"); a facility may be its own depot. A depot's staff are its
    # operators, QC and QA, as at a facility: a depot's record names its site as both
    # (`Where.at_depot`); couriers work at every place.
    DEPOT = "storage depot"


# Where each role works on a record. A treatment centre's coordinators and physicians
# follow their patients through the centre's apheresis unit too; nurses collect at the
# unit and check at the bedside; couriers carry between all three; a facility's
# operators, QC and QA see the batches bound to it. Planners and administrators are not
# bound to a site (NETWORK_ROLES); administrators are admitted to no patient's record.
_CARE = frozenset({Place.TREATMENT, Place.APHERESIS})
WORKS_AT: dict[Role, frozenset[Place]] = {
    Role.COORDINATOR: _CARE,
    Role.PHYSICIAN: _CARE,
    Role.APHERESIS_NURSE: _CARE,
    Role.COURIER: frozenset(Place),
    Role.MANUFACTURING_OPERATOR: frozenset({Place.FACILITY}),
    Role.QC_ANALYST: frozenset({Place.FACILITY}),
    Role.QA_REVIEWER: frozenset({Place.FACILITY}),
}
NETWORK_ROLES = frozenset({Role.PLANNER, Role.ADMIN})


@dataclass(frozen=True)
class Where:
    """The sites one record is bound to, by the part each plays; a record that is not
    yet bound to a place (a case before its booking has no facility) leaves it None."""

    record: str
    treatment: str | None = None
    apheresis: str | None = None
    facility: str | None = None
    depot: str | None = None

    def site(self, place: Place) -> str | None:
        return {
            Place.TREATMENT: self.treatment,
            Place.APHERESIS: self.apheresis,
            Place.FACILITY: self.facility,
            Place.DEPOT: self.depot,
        }[place]

    def sites_for(self, role: Role) -> frozenset[str]:
        """The record's sites where someone in this role works on it."""
        found = (self.site(place) for place in WORKS_AT.get(role, frozenset()))
        return frozenset(site for site in found if site)

    @classmethod
    def of_case(cls, case: Case) -> Where:
        return cls(
            f"case {case.id}",
            treatment=case.treatment_site,
            apheresis=case.apheresis_site,
            facility=case.manufacturing_site,
        )

    @classmethod
    def at_depot(cls, record: str, site: str) -> Where:
        """A record kept at a depot (a storage unit, its vials): its staff work there as
        at a facility, and couriers pick up there."""
        return cls(record, facility=site, depot=site)

    @classmethod
    def at(cls, record: str, place: Place, site: str) -> Where:
        """A record bound to one site (a new case at its centre, a process at a facility)."""
        return cls(record, **{_FIELD[place]: site})

    def described(self) -> str:
        parts = [f"{place.value} {self.site(place)}" for place in Place if self.site(place)]
        return f"{self.record} ({', '.join(parts)})" if parts else self.record


_FIELD = {
    Place.TREATMENT: "treatment",
    Place.APHERESIS: "apheresis",
    Place.FACILITY: "facility",
    Place.DEPOT: "depot",
}


class DataClass(StrEnum):
    """How much of a patient a reader sees."""

    FULL = "full patient data"
    IDENTIFIERS = "identifiers only"


class Read(StrEnum):
    """Something a user may look at, as opposed to change."""

    CASE = "case"
    BATCH = "batch"
    SHIPMENT = "shipment"
    LEDGER = "ledger"
    REPORT = "report"
    LABEL = "label"
    PLAN = "plan"
    CATALOGUE = "catalogue"
    USERS = "users"
    INVENTORY = "inventory"
    ORDER = "order"


class Privilege(StrEnum):
    """A power within a command that not everyone who may give the command has."""

    OVERRIDE_INFUSION_CHECKS = "override the infusion checks"


@dataclass(frozen=True)
class Rule:
    """Who may do one thing, where, and (for reads) who sees the patient's full data."""

    roles: frozenset[Role]
    doing: str
    scope: Scope = Scope.RECORD
    full_data: frozenset[Role] = frozenset()
    # The refusal in other words than "<role> may not <doing>" ({who} is the role).
    refusal: str = ""

    def admits(self, user: User, where: Where | None = None) -> bool:
        """Whether the user, in a role this rule names, may act on the record `where`
        describes (None: whether they may at all, somewhere: what a menu offers)."""
        return user.active and bool(self.roles_admitted(user, where))

    def roles_admitted(self, user: User, where: Where | None = None) -> frozenset[Role]:
        """The user's roles this rule admits on that record."""
        admitted: set[Role] = set()
        for site, role in _held(user):
            if role not in self.roles:
                continue
            if self._admits_at(site, role, where):
                admitted.add(role)
        return frozenset(admitted)

    def _admits_at(self, site: str | None, role: Role, where: Where | None) -> bool:
        if where is None or self.scope is Scope.ANY_SITE or role in NETWORK_ROLES:
            return True
        return site is not None and site in where.sites_for(role)

    def refuse(self, user: User, context: str = "", where: Where | None = None) -> NotAllowed:
        """The refusal in words a coordinator understands; `context` names the record."""
        if not user.active:
            message = f"{user.username} is deactivated and may not {self.doing}"
        elif where is not None and self.admits(user):
            # The role would do; the site does not, or the record is not there yet.
            roles = [role for _, role in _held(user) if role in self.roles]
            if not any(where.sites_for(role) for role in roles):
                places = sorted({p.value for role in roles for p in WORKS_AT.get(role, ())})
                return NotAllowed(
                    f"{where.record} is not at a {' or '.join(places) or 'site'} yet: "
                    f"nobody there may {self.doing} on it now"
                )
            held = ", ".join(
                f"{role.a_label} at {site}" if site else f"{role.a_label} of no site"
                for site, role in _held(user)
                if role in self.roles
            )
            return NotAllowed(
                f"{user.username} works as {held}, not at the sites of {where.described()}: "
                f"they may not {self.doing} there"
            )
        elif self.refusal:
            message = self.refusal.format(who=user.role.a_label)
        else:
            message = f"{user.role.a_label} may not {self.doing}"
        return NotAllowed(f"{message} ({context})" if context else message)


def _held(user: User) -> tuple[tuple[str | None, Role], ...]:
    """(site, role) for every role the user holds; a user with no site holds the role
    nowhere in particular (a planner, an administrator)."""
    memberships = user.memberships
    if not memberships:
        return ((None, user.role),)
    return tuple((m.site_code, m.role) for m in memberships)


def _rule(doing: str, *roles: Role, refusal: str = "", scope: Scope = Scope.RECORD) -> Rule:
    return Rule(frozenset(roles), doing, scope=scope, refusal=refusal)


def _network(doing: str, *roles: Role) -> Rule:
    """A rule about no site's record: the catalogue, users, a market's documents, plans."""
    return _rule(doing, *roles, scope=Scope.ANY_SITE)


# Operators make the batch; a second person verifies (another operator, or QA on the floor).
_OPERATORS = (R.MANUFACTURING_OPERATOR,)
_VERIFIERS = (R.MANUFACTURING_OPERATOR, R.QA_REVIEWER)
_DEVIATION_REPORTERS = (R.MANUFACTURING_OPERATOR, R.QC_ANALYST, R.QA_REVIEWER)
_PROCESS_AUTHORS = (R.QA_REVIEWER, R.MANUFACTURING_OPERATOR)
_DEPOT_STAFF = (R.MANUFACTURING_OPERATOR, R.QA_REVIEWER)

# Administrators manage users, sites and the catalogue; they act on no patient's record.
COMMANDS: dict[type[commands.Command], Rule] = {
    # users and the catalogue
    commands.CreateUser: _network("manage users", R.ADMIN),
    commands.SetPassword: _network("manage users", R.ADMIN),
    commands.GrantSite: _network("manage users", R.ADMIN),
    commands.RevokeSite: _network("manage users", R.ADMIN),
    # Only one's own (a person-level rule the handler keeps), proving the old password.
    commands.ChangePassword: _network("change a password", *EVERYONE),
    commands.DeactivateUser: _network("manage users", R.ADMIN),
    commands.LoadCatalogue: _network("change the catalogue", R.ADMIN),
    commands.SetProductField: _network("change the catalogue", R.ADMIN),
    # Under a FIN of a site the user works at.
    commands.IssueIdentifier: _rule("issue identifiers", R.COORDINATOR, R.APHERESIS_NURSE),
    commands.SignRecord: _network("sign catalogue records", R.QA_REVIEWER),
    # the journey
    commands.EnrolPatient: _rule("enrol patients", R.COORDINATOR, R.PHYSICIAN),
    commands.ConfirmEligibility: _rule("confirm eligibility", R.PHYSICIAN),
    commands.BookApheresis: _rule("book apheresis", R.COORDINATOR),
    commands.SetPlannedDates: _rule("plan cases", R.PLANNER, R.COORDINATOR),
    commands.Collect: _rule("collect", R.APHERESIS_NURSE),
    commands.ImportLoggerData: _rule(
        "import logger data",
        *(EVERYONE - {R.PLANNER, R.PHYSICIAN, R.ADMIN}),
        refusal="{who} does not import logger data",
    ),
    commands.DisposeExcursion: _rule(
        "dispose of temperature excursions",
        R.QA_REVIEWER,
        refusal="only QA disposes of temperature excursions",
    ),
    commands.StartManufacturing: _rule("start manufacturing", *_OPERATORS),
    commands.CompleteManufacturing: _rule("complete manufacturing", *_OPERATORS),
    commands.Recollect: _rule("recollect", R.COORDINATOR, R.PHYSICIAN),
    # The infusion is the bedside check: its rule is the bedside point's.
    commands.Infuse: _rule(
        "infuse",
        R.PHYSICIAN,
        R.APHERESIS_NURSE,
        refusal="{who} does not scan at 'Bedside check before thaw'",
    ),
    commands.StartFollowUp: _rule("start follow-up", R.PHYSICIAN),
    commands.CancelCase: _rule("cancel", R.COORDINATOR, R.PHYSICIAN),
    commands.CorrectPatientName: _rule("correct patient names", R.COORDINATOR, R.PHYSICIAN),
    # Whoever prints and applies labels accounts for them; QA reviews the count.
    commands.ReconcileLabels: _rule(
        "reconcile labels",
        R.APHERESIS_NURSE,
        R.MANUFACTURING_OPERATOR,
        R.COORDINATOR,
        R.QA_REVIEWER,
    ),
    # trials and planning: a trial and a plan span the network's sites
    commands.CreateTrial: _network("set up trials", R.PHYSICIAN),
    commands.EnrolInCohort: _rule("enrol patients in trials", R.PHYSICIAN, R.COORDINATOR),
    commands.ImportTrialOutcomes: _network("import trial outcomes", R.PHYSICIAN),
    commands.SetTriageWeights: _network("change the triage weights", R.PLANNER),
    commands.MakePlan: _network("make plans", R.PLANNER),
    commands.ApplyPlan: _network("apply plans to cases", R.PLANNER),
    # controlled documents: a process belongs to its facility, a specification to a market
    commands.DraftProcess: _rule("write a process template", *_PROCESS_AUTHORS),
    commands.ApproveProcess: _rule("approve a process template", R.QA_REVIEWER),
    commands.TransferProcess: _rule("transfer a process template", *_PROCESS_AUTHORS),
    commands.RetireProcess: _rule("retire a process template", R.QA_REVIEWER),
    commands.DraftSpecification: _network("write a specification", R.QA_REVIEWER, R.QC_ANALYST),
    commands.ApproveSpecification: _network("approve a specification", R.QA_REVIEWER),
    commands.RetireSpecification: _network("retire a specification", R.QA_REVIEWER),
    # the batch record
    commands.StartStep: _rule("start a manufacturing step", *_OPERATORS),
    commands.RecordValue: _rule("record a process value", *_OPERATORS),
    commands.CorrectValue: _rule("correct a batch record", *_VERIFIERS),
    commands.CompleteStep: _rule("sign a manufacturing step", *_OPERATORS),
    commands.VerifyStep: _rule("verify a manufacturing step", *_VERIFIERS),
    commands.VerifyCorrection: _rule("verify a correction", *_VERIFIERS),
    commands.RaiseDeviation: _rule("report a deviation", *_DEVIATION_REPORTERS),
    commands.InvestigateDeviation: _rule("investigate a deviation", R.QA_REVIEWER),
    commands.ClassifyDeviation: _rule("classify a deviation", R.QA_REVIEWER),
    commands.CloseDeviation: _rule("close a deviation", R.QA_REVIEWER),
    commands.AbortBatch: _rule("abort a batch", R.QA_REVIEWER),
    # QC and the release decision
    commands.EnterResult: _rule("enter a QC result", R.QC_ANALYST),
    commands.CorrectResult: _rule("correct a QC result", R.QC_ANALYST),
    commands.OpenInvestigation: _rule("open an OOS investigation", R.QC_ANALYST, R.QA_REVIEWER),
    commands.AcknowledgeResults: _rule("acknowledge OOS results", R.PHYSICIAN),
    commands.ReleaseBatch: _rule("release batches", R.QA_REVIEWER),
    commands.ReleaseBatchConditionally: _rule("release batches conditionally", R.QA_REVIEWER),
    commands.RejectBatch: _rule("reject batches", R.QA_REVIEWER),
    commands.ReleaseProduct: _rule("release a product", R.QA_REVIEWER),
    commands.ConditionalRelease: _rule("release a product conditionally", R.QA_REVIEWER),
    # allogeneic MSC (docs/architecture.md, "Allogeneic MSC"): donors at the collection
    # facility, lots and vials at the facility, storage at the depot, orders at the
    # treatment centre; allocation (from any depot) and recall are QA's.
    commands.RegisterDonor: _rule("register donors", R.QA_REVIEWER, R.QC_ANALYST),
    commands.ScreenDonor: _rule("review donor screening", R.QA_REVIEWER),
    commands.StartLot: _rule("start a lot", *_OPERATORS),
    commands.FillVials: _rule("fill vials", *_OPERATORS, R.QC_ANALYST, R.QA_REVIEWER),
    commands.CreateStorageUnit: _rule("set up storage", *_DEPOT_STAFF),
    commands.StoreVial: _rule("put vials away", *_DEPOT_STAFF),
    commands.ImportUnitReadings: _rule("import storage temperatures", *_DEPOT_STAFF),
    commands.DisposeVials: _rule(
        "dispose of quarantined vials", R.QA_REVIEWER, refusal="only QA disposes of quarantine"
    ),
    commands.PlaceOrder: _rule("order MSC products", R.PHYSICIAN),
    commands.CancelOrder: _rule("cancel MSC orders", R.PHYSICIAN),
    commands.AllocateOrder: _network("allocate vials", R.QA_REVIEWER),
    commands.ShipOrder: _rule("ship vials", R.COURIER),
    commands.ReceiveOrder: _rule("receive vials", R.COORDINATOR, R.APHERESIS_NURSE),
    commands.InfuseVial: _rule("infuse vials", R.PHYSICIAN, R.APHERESIS_NURSE),
    commands.ReturnVial: _rule("return vials to stock", *_DEPOT_STAFF),
    commands.RecallLot: _rule("recall a lot", R.QA_REVIEWER, refusal="only QA recalls a lot"),
}

_SCAN = "{who} does not scan at '%s'"
SCANS: dict[CustodyPoint, Rule] = {
    point: _rule(f"scan at '{point.label}'", *roles, refusal=_SCAN % point.label)
    for point, roles in {
        CustodyPoint.COLLECTION: (R.APHERESIS_NURSE,),
        CustodyPoint.APHERESIS_PICKUP: (R.COURIER,),
        CustodyPoint.MANUFACTURING_RECEIPT: (R.MANUFACTURING_OPERATOR,),
        CustodyPoint.PRODUCT_PICKUP: (R.COURIER,),
        CustodyPoint.SITE_RECEIPT: (R.COORDINATOR, R.APHERESIS_NURSE),
        CustodyPoint.BEDSIDE: (R.PHYSICIAN, R.APHERESIS_NURSE),
    }.items()
}

# Nurses record the daily toxicity checks; response, GVHD, events and survival are the
# physician's judgement.
_BEDSIDE_CHECKS = {AssessmentKind.CRS, AssessmentKind.ICANS}
ASSESSMENTS: dict[AssessmentKind, Rule] = {
    kind: _rule(
        f"record {kind.label.lower()}",
        R.PHYSICIAN,
        *((R.APHERESIS_NURSE,) if kind in _BEDSIDE_CHECKS else ()),
    )
    for kind in AssessmentKind
}

PRIVILEGES: dict[Privilege, Rule] = {
    Privilege.OVERRIDE_INFUSION_CHECKS: _rule(
        "override the infusion checks", R.PHYSICIAN, refusal="only a physician may override"
    ),
}

# A treatment centre's staff see their patients; everyone else who may read a record
# (a facility's operators, QC and QA, couriers, planners) sees identifiers only.
CARE_TEAM = frozenset({R.COORDINATOR, R.APHERESIS_NURSE, R.PHYSICIAN})
_RECORD_READ = Rule(EVERYONE - {R.ADMIN}, "read patients' records", full_data=CARE_TEAM)
READS: dict[Read, Rule] = {
    Read.CASE: _RECORD_READ,
    Read.BATCH: _RECORD_READ,
    Read.SHIPMENT: _RECORD_READ,
    Read.LABEL: _RECORD_READ,
    Read.REPORT: Rule(
        frozenset({R.PHYSICIAN, R.COORDINATOR, R.QA_REVIEWER, R.PLANNER}),
        "read reports",
        scope=Scope.ANY_SITE,
    ),
    Read.CATALOGUE: Rule(EVERYONE, "read the catalogue", scope=Scope.ANY_SITE),
    # The ledger is the auditors' record of every change; the patient's personal data in
    # it is a keyed digest, never the data (docs/security.md, "Patient data at rest").
    Read.LEDGER: Rule(
        frozenset({R.ADMIN, R.QA_REVIEWER, R.COORDINATOR, R.PHYSICIAN}),
        "read the ledger",
        scope=Scope.ANY_SITE,
    ),
    Read.PLAN: Rule(
        frozenset({R.PLANNER, R.COORDINATOR}),
        "see the manufacturing plan",
        scope=Scope.ANY_SITE,
        refusal="{who} does not plan manufacturing slots",
    ),
    Read.USERS: Rule(EVERYONE, "list users", scope=Scope.ANY_SITE),
    # MSC stock holds no patient data: everyone at work may see it (planners forecast).
    Read.INVENTORY: Rule(EVERYONE - {R.ADMIN}, "see MSC stock", scope=Scope.ANY_SITE),
    # An order names its patient: the care team at its centre sees them, the depot,
    # QA and planners see the order's identifiers only.
    Read.ORDER: Rule(EVERYONE - {R.ADMIN}, "read MSC orders", full_data=CARE_TEAM),
}

Subject = (
    type[commands.Command] | commands.Command | CustodyPoint | AssessmentKind | Read | Privilege
)


@dataclass(frozen=True)
class JobRule:
    """What submitting a kind of job needs (what its work needs), and what reading it
    needs (the read of its result)."""

    submit: Subject
    read: Read


JOBS: dict[JobKind, JobRule] = {
    # A sweep changes nothing: whoever may see plans may run one.
    JobKind.SWEEP: JobRule(submit=Read.PLAN, read=Read.PLAN),
    # A plan job makes a plan through MakePlan, which the bus checks again as it runs.
    JobKind.PLAN: JobRule(submit=commands.MakePlan, read=Read.PLAN),
    # A verification records a checkpoint signed by its submitter: the ledger's readers.
    JobKind.LEDGER_VERIFY: JobRule(submit=Read.LEDGER, read=Read.LEDGER),
    # A trial report is read, not changed: whoever may read reports may have it made.
    JobKind.TRIAL_REPORT: JobRule(submit=Read.REPORT, read=Read.REPORT),
}


def rule_for(subject: Subject) -> Rule:
    """The rule for a command (its class or an instance), a scan point, an assessment kind,
    a read or a privilege. A scan's rule is its point's; an assessment's is its kind's."""
    if isinstance(subject, commands.ScanCustody):
        return SCANS[CustodyPoint.parse(subject.point)]
    if isinstance(subject, commands.RecordAssessment):
        return ASSESSMENTS[parse_kind(subject.kind)]
    if isinstance(subject, CustodyPoint):
        return SCANS[subject]
    if isinstance(subject, AssessmentKind):
        return ASSESSMENTS[subject]
    if isinstance(subject, Read):
        return READS[subject]
    if isinstance(subject, Privilege):
        return PRIVILEGES[subject]
    kind = subject if isinstance(subject, type) else type(subject)
    try:
        return COMMANDS[kind]
    except KeyError:
        raise LookupError(f"the authority table has no rule for {kind.__name__}") from None


def may(user: User, subject: Subject, where: Where | None = None) -> bool:
    """Whether `user` may do or see this (on the record `where` describes; without one,
    whether they may anywhere): what pages and the CLI offer."""
    return rule_for(subject).admits(user, where)


def check(user: User, subject: Subject, where: Where | None = None) -> None:
    """Refuse, in words a coordinator understands, what `user` may not do (there)."""
    if may(user, subject, where):
        return
    context = ""
    if isinstance(subject, commands.Command):
        for key, noun in (("case_id", "case"), ("batch_id", "batch")):
            value = getattr(subject, key, None)
            if isinstance(value, str) and value:
                context = f"{noun} {value}"
                break
    raise rule_for(subject).refuse(user, context, where)


def require_read(user: User, read: Read, where: Where | None = None) -> DataClass:
    """Refuse a read the user may not make (of this record); otherwise say which data
    class they see."""
    check(user, read, where)
    return sees(user, read, where)


def sees(user: User, read: Read = Read.CASE, where: Where | None = None) -> DataClass:
    """Whether this user sees a patient's full data or identifiers only, in this read:
    full data only in a role of the care team at the record's own site."""
    rule = READS[read]
    admitted = rule.roles_admitted(user, where) if user.active else frozenset()
    return DataClass.FULL if admitted & rule.full_data else DataClass.IDENTIFIERS


def visible(user: User, read: Read, where: Where) -> bool:
    """Whether a list shows this record to the user (the board, queues, worklists)."""
    return may(user, read, where)


def reach(user: User, read: Read) -> tuple[Reach, Reach]:
    """Which records a list shows this user (as `visible` decides one by one), and among
    them whose patient they see in full (as `sees` decides): what a search asks the
    database for, so that a page of 50 is not read from every case."""
    rule = READS[read]
    shown: list[tuple[str, str]] = []
    full: list[tuple[str, str]] = []
    everywhere = full_everywhere = False
    for site, role in _held(user) if user.active else ():
        if role not in rule.roles:
            continue
        anywhere = rule.scope is Scope.ANY_SITE or role in NETWORK_ROLES
        pairs = [] if site is None else [(_FIELD[p], site) for p in WORKS_AT.get(role, ())]
        everywhere = everywhere or anywhere
        shown += pairs
        if role in rule.full_data:
            full_everywhere = full_everywhere or anywhere
            full += pairs
    return (
        Reach(everywhere, frozenset(shown)),
        Reach(full_everywhere, frozenset(full)),
    )


def offered(user: User, subjects: Iterable[Subject]) -> list[Subject]:
    """The subjects this user may act on, in the order given."""
    return [s for s in subjects if may(user, s)]


# What each arrow of a state table is, as something a user does: pages and the CLI offer
# an arrow to whoever may do one of these.
CASE_ACTIONS: dict[Action, tuple[Subject, ...]] = {
    Action.CONFIRM_ELIGIBILITY: (commands.ConfirmEligibility,),
    Action.BOOK_APHERESIS: (commands.BookApheresis,),
    Action.COLLECT: (commands.Collect,),
    Action.RECEIVE_AT_MANUFACTURING: (CustodyPoint.MANUFACTURING_RECEIPT,),
    Action.START_MANUFACTURING: (commands.StartManufacturing,),
    Action.COMPLETE_MANUFACTURING: (commands.CompleteManufacturing,),
    Action.RELEASE: (commands.ReleaseProduct,),
    # Results entered out of specification, or QA's rejection, move the case there.
    Action.FAIL_SPECIFICATION: (commands.EnterResult, commands.RejectBatch),
    Action.CONDITIONAL_RELEASE: (commands.ConditionalRelease,),
    Action.RECOLLECT: (commands.Recollect,),
    Action.SHIP: (CustodyPoint.PRODUCT_PICKUP,),
    Action.RECEIVE_AT_SITE: (CustodyPoint.SITE_RECEIPT,),
    Action.INFUSE: (commands.Infuse,),
    Action.START_FOLLOW_UP: (commands.StartFollowUp,),
    Action.CANCEL: (commands.CancelCase,),
}

RELEASE_ACTIONS: dict[ReleaseAction, Subject] = {
    ReleaseAction.OPEN_INVESTIGATION: commands.OpenInvestigation,
    ReleaseAction.ACKNOWLEDGE: commands.AcknowledgeResults,
    ReleaseAction.RELEASE: commands.ReleaseBatch,
    ReleaseAction.RELEASE_CONDITIONALLY: commands.ReleaseBatchConditionally,
    ReleaseAction.REJECT: commands.RejectBatch,
}


def case_actions(user: User, case: Case) -> list[Action]:
    """The case's arrows open now that this user may take: what the case page offers."""
    return arrows(user, case.state, Where.of_case(case))


def arrows(user: User, state: CaseState, where: Where | None = None) -> list[Action]:
    """The arrows open from `state` that this user may take on a case bound to `where`
    (None: at some site): what a case in that state offers them, which depends on the
    state and the sites only (a work queue asks once per state and sites)."""
    return [
        action
        for action in TRANSITIONS.available(state)
        if any(may(user, subject, where) for subject in CASE_ACTIONS[action])
    ]


def release_actions(
    user: User, record: ReleaseRecord, where: Where | None = None
) -> list[ReleaseAction]:
    """The release record's arrows open now that this user may take."""
    return [a for a in record.available_actions() if may(user, RELEASE_ACTIONS[a], where)]


def scan_points(user: User, state: CaseState, where: Where | None = None) -> list[CustodyPoint]:
    """The custody points where this user may scan a case in `state` (the bedside check is
    part of the infusion and is not offered as a scan)."""
    return [
        point
        for point in open_points(state)
        if point is not CustodyPoint.BEDSIDE and may(user, point, where)
    ]


def uncovered_commands(known: Iterable[type[commands.Command]]) -> list[str]:
    """Commands with a handler but no rule (checked by the tests and on bus start)."""
    special = {commands.ScanCustody, commands.RecordAssessment}
    return sorted(c.__name__ for c in known if c not in COMMANDS and c not in special)
