"""Authority: who may do what, and see what, decided in one table (21 CFR 11.10(g)).

Every command has a rule here, and so does every read (a case, a batch, a shipment, the
ledger, a report, a label, a plan). The message bus checks a command's rule once, before
its handler runs; reads ask `require_read`; pages and the CLI ask `may` what to offer.
State tables in the domain say only which states an action may be fired from: they carry
no role lists. See docs/architecture.md, "Authority".

A rule names the roles that may act and the sites it is scoped to (the seam the trust
work fills: every rule is `Scope.ANY_SITE` today), and a read's rule says which roles see
the patient's full data; everyone else who may read sees identifiers only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from veinline.domain.assessment import AssessmentKind, parse_kind
from veinline.domain.case import Action, Case, CaseState
from veinline.domain.custody import CustodyPoint, open_points
from veinline.domain.errors import NotAllowed
from veinline.domain.release import ReleaseAction, ReleaseRecord
from veinline.domain.user import Role, User
from veinline.services import commands

R = Role
EVERYONE = frozenset(Role)


class Scope(StrEnum):
    """Where a rule lets a user act; narrowed by the trust work (site scoping)."""

    ANY_SITE = "any site"


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


class Privilege(StrEnum):
    """A power within a command that not everyone who may give the command has."""

    OVERRIDE_INFUSION_CHECKS = "override the infusion checks"


@dataclass(frozen=True)
class Rule:
    """Who may do one thing, where, and (for reads) who sees the patient's full data."""

    roles: frozenset[Role]
    doing: str
    scope: Scope = Scope.ANY_SITE
    full_data: frozenset[Role] = frozenset()
    # The refusal in other words than "<role> may not <doing>" ({who} is the role).
    refusal: str = ""

    def admits(self, user: User) -> bool:
        return user.active and user.role in self.roles

    def refuse(self, user: User, context: str = "") -> NotAllowed:
        """The refusal in words a coordinator understands; `context` names the record."""
        if not user.active:
            message = f"{user.username} is deactivated and may not {self.doing}"
        elif self.refusal:
            message = self.refusal.format(who=user.role.a_label)
        else:
            message = f"{user.role.a_label} may not {self.doing}"
        return NotAllowed(f"{message} ({context})" if context else message)


def _rule(doing: str, *roles: Role, refusal: str = "") -> Rule:
    return Rule(frozenset(roles), doing, refusal=refusal)


def _with_admin(doing: str, *roles: Role, refusal: str = "") -> Rule:
    return _rule(doing, *roles, R.ADMIN, refusal=refusal)


# Operators make the batch; a second person verifies (another operator, or QA on the floor).
_OPERATORS = (R.MANUFACTURING_OPERATOR,)
_VERIFIERS = (R.MANUFACTURING_OPERATOR, R.QA_REVIEWER)
_DEVIATION_REPORTERS = (R.MANUFACTURING_OPERATOR, R.QC_ANALYST, R.QA_REVIEWER)
_PROCESS_AUTHORS = (R.QA_REVIEWER, R.MANUFACTURING_OPERATOR)

COMMANDS: dict[type[commands.Command], Rule] = {
    # users and the catalogue
    commands.CreateUser: _rule("manage users", R.ADMIN),
    commands.SetPassword: _rule("manage users", R.ADMIN),
    # Only one's own (a person-level rule the handler keeps), proving the old password.
    commands.ChangePassword: _rule("change a password", *EVERYONE),
    commands.DeactivateUser: _rule("manage users", R.ADMIN),
    commands.LoadCatalogue: _rule("change the catalogue", R.ADMIN),
    commands.SetProductField: _rule("change the catalogue", R.ADMIN),
    commands.IssueIdentifier: _with_admin("issue identifiers", R.COORDINATOR, R.APHERESIS_NURSE),
    commands.SignRecord: _with_admin("sign catalogue records", R.QA_REVIEWER),
    # the journey
    commands.EnrolPatient: _with_admin("enrol patients", R.COORDINATOR, R.PHYSICIAN),
    commands.ConfirmEligibility: _with_admin("confirm eligibility", R.PHYSICIAN),
    commands.BookApheresis: _with_admin("book apheresis", R.COORDINATOR),
    commands.SetPlannedDates: _with_admin("plan cases", R.PLANNER, R.COORDINATOR),
    commands.Collect: _with_admin("collect", R.APHERESIS_NURSE),
    commands.ImportLoggerData: _rule(
        "import logger data",
        *(EVERYONE - {R.PLANNER, R.PHYSICIAN}),
        refusal="{who} does not import logger data",
    ),
    commands.DisposeExcursion: _with_admin(
        "dispose of temperature excursions",
        R.QA_REVIEWER,
        refusal="only QA disposes of temperature excursions",
    ),
    commands.StartManufacturing: _rule("start manufacturing", *_OPERATORS),
    commands.CompleteManufacturing: _with_admin("complete manufacturing", *_OPERATORS),
    commands.Recollect: _with_admin("recollect", R.COORDINATOR, R.PHYSICIAN),
    # The infusion is the bedside check: its rule is the bedside point's.
    commands.Infuse: _with_admin(
        "infuse",
        R.PHYSICIAN,
        R.APHERESIS_NURSE,
        refusal="{who} does not scan at 'Bedside check before thaw'",
    ),
    commands.StartFollowUp: _with_admin("start follow-up", R.PHYSICIAN),
    commands.CancelCase: _with_admin("cancel", R.COORDINATOR, R.PHYSICIAN),
    # Whoever prints and applies labels accounts for them; QA reviews the count.
    commands.ReconcileLabels: _with_admin(
        "reconcile labels",
        R.APHERESIS_NURSE,
        R.MANUFACTURING_OPERATOR,
        R.COORDINATOR,
        R.QA_REVIEWER,
    ),
    # trials and planning
    commands.CreateTrial: _with_admin("set up trials", R.PHYSICIAN),
    commands.EnrolInCohort: _with_admin("enrol patients in trials", R.PHYSICIAN, R.COORDINATOR),
    commands.ImportTrialOutcomes: _with_admin("import trial outcomes", R.PHYSICIAN),
    commands.SetTriageWeights: _with_admin("change the triage weights", R.PLANNER),
    commands.MakePlan: _with_admin("make plans", R.PLANNER),
    commands.ApplyPlan: _with_admin("apply plans to cases", R.PLANNER, R.COORDINATOR),
    # controlled documents
    commands.DraftProcess: _with_admin("write a process template", *_PROCESS_AUTHORS),
    commands.ApproveProcess: _rule("approve a process template", R.QA_REVIEWER),
    commands.TransferProcess: _with_admin("transfer a process template", *_PROCESS_AUTHORS),
    commands.RetireProcess: _rule("retire a process template", R.QA_REVIEWER),
    commands.DraftSpecification: _with_admin("write a specification", R.QA_REVIEWER, R.QC_ANALYST),
    commands.ApproveSpecification: _rule("approve a specification", R.QA_REVIEWER),
    commands.RetireSpecification: _rule("retire a specification", R.QA_REVIEWER),
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
}

_SCAN = "{who} does not scan at '%s'"
SCANS: dict[CustodyPoint, Rule] = {
    point: _with_admin(f"scan at '{point.label}'", *roles, refusal=_SCAN % point.label)
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
    kind: _with_admin(
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

# Treatment-centre staff see the patient; manufacturing, QC and couriers see identifiers.
_CARE_TEAM = frozenset({R.COORDINATOR, R.APHERESIS_NURSE, R.PHYSICIAN, R.ADMIN})
_EVERYONE_READS = Rule(
    EVERYONE,
    "read this",
    full_data=EVERYONE
    - {
        R.MANUFACTURING_OPERATOR,
        R.QC_ANALYST,
        R.COURIER,
    },
)
READS: dict[Read, Rule] = {
    Read.CASE: _EVERYONE_READS,
    Read.BATCH: _EVERYONE_READS,
    Read.SHIPMENT: _EVERYONE_READS,
    Read.LABEL: _EVERYONE_READS,
    Read.REPORT: _EVERYONE_READS,
    Read.CATALOGUE: _EVERYONE_READS,
    Read.LEDGER: Rule(
        frozenset({R.ADMIN, R.QA_REVIEWER, R.COORDINATOR, R.PHYSICIAN}),
        "read the ledger",
        full_data=_CARE_TEAM | {R.QA_REVIEWER},
    ),
    Read.PLAN: Rule(
        frozenset({R.PLANNER, R.COORDINATOR, R.ADMIN}),
        "see the manufacturing plan",
        full_data=frozenset({R.PLANNER, R.COORDINATOR, R.ADMIN}),
        refusal="{who} does not plan manufacturing slots",
    ),
    Read.USERS: Rule(EVERYONE, "list users", full_data=EVERYONE),
}

Subject = (
    type[commands.Command] | commands.Command | CustodyPoint | AssessmentKind | Read | Privilege
)


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


def may(user: User, subject: Subject) -> bool:
    """Whether `user` may do or see this: what pages and the CLI offer."""
    return rule_for(subject).admits(user)


def check(user: User, subject: Subject) -> None:
    """Refuse, in words a coordinator understands, what `user` may not do."""
    if may(user, subject):
        return
    context = ""
    if isinstance(subject, commands.Command):
        for key, noun in (("case_id", "case"), ("batch_id", "batch")):
            value = getattr(subject, key, None)
            if isinstance(value, str) and value:
                context = f"{noun} {value}"
                break
    raise rule_for(subject).refuse(user, context)


def require_read(user: User, read: Read) -> DataClass:
    """Refuse a read the user may not make; otherwise say which data class they see."""
    check(user, read)
    return sees(user, read)


def sees(user: User, read: Read = Read.CASE) -> DataClass:
    """Whether this user sees a patient's full data or identifiers only, in this read."""
    return DataClass.FULL if user.role in READS[read].full_data else DataClass.IDENTIFIERS


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
    return [
        action
        for action in case.available_actions()
        if any(may(user, subject) for subject in CASE_ACTIONS[action])
    ]


def release_actions(user: User, record: ReleaseRecord) -> list[ReleaseAction]:
    """The release record's arrows open now that this user may take."""
    return [a for a in record.available_actions() if may(user, RELEASE_ACTIONS[a])]


def scan_points(user: User, state: CaseState) -> list[CustodyPoint]:
    """The custody points where this user may scan a case in `state` (the bedside check is
    part of the infusion and is not offered as a scan)."""
    return [
        point
        for point in open_points(state)
        if point is not CustodyPoint.BEDSIDE and may(user, point)
    ]


def uncovered_commands(known: Iterable[type[commands.Command]]) -> list[str]:
    """Commands with a handler but no rule (checked by the tests and on bus start)."""
    special = {commands.ScanCustody, commands.RecordAssessment}
    return sorted(c.__name__ for c in known if c not in COMMANDS and c not in special)
