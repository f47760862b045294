"""The authority table: one place says who may do and see what, the bus asks it once
before any handler runs, and pages ask it what to offer."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.fakes import FakeUnitOfWork
from veinline.domain.assessment import AssessmentKind
from veinline.domain.custody import CustodyPoint
from veinline.domain.errors import NotAllowed
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.user import Role, User
from veinline.services import authority, commands
from veinline.services.messagebus import HANDLERS, MessageBus

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SRC = Path(__file__).resolve().parents[2] / "src" / "veinline"


def _user(role: Role, name: str | None = None) -> User:
    return User(name or role.value, f"A {role.label}", role, None, T0)


@pytest.mark.parametrize(
    ("role", "command", "message"),
    [
        (Role.QC_ANALYST, commands.StartManufacturing("C1"), "a QC analyst may not start"),
        (
            Role.QC_ANALYST,
            commands.CompleteStep("B-1", "selection", "qc", "pw"),
            "a QC analyst may not sign a manufacturing step",
        ),
        (
            Role.MANUFACTURING_OPERATOR,
            commands.InvestigateDeviation("B-1", "D1"),
            "a manufacturing operator may not investigate",
        ),
        (
            Role.MANUFACTURING_OPERATOR,
            commands.CloseDeviation("B-1", "D1", "cause", "capa", "op", "pw"),
            "a manufacturing operator may not close",
        ),
        (
            Role.MANUFACTURING_OPERATOR,
            commands.ApproveProcess("p/s/v1", "op", "pw"),
            "a manufacturing operator may not approve",
        ),
        (
            Role.PHYSICIAN,
            commands.TransferProcess("p/s/v1", "site"),
            "a physician may not transfer",
        ),
        (
            Role.MANUFACTURING_OPERATOR,
            commands.EnterResult("B-1", "viability", 80),
            "a manufacturing operator may not enter a QC result",
        ),
        (
            Role.QA_REVIEWER,
            commands.AcknowledgeResults("B-1", "qa", "pw"),
            "a QA reviewer may not acknowledge",
        ),
        (Role.QC_ANALYST, commands.ReleaseBatch("B-1", "qc", "pw"), "a QC analyst may not release"),
        (
            Role.COORDINATOR,
            commands.MakePlan(scenario={}),
            "a treatment-centre coordinator may not make plans",
        ),
        (
            Role.COURIER,
            commands.IssueIdentifier(IdentifierKind.DIN, "A9995", "x"),
            "a courier may not issue identifiers",
        ),
    ],
    ids=lambda v: v.__class__.__name__ if isinstance(v, commands.Command) else None,
)
def test_the_table_refuses_in_words_a_coordinator_understands(
    role: Role, command: commands.Command, message: str
) -> None:
    with pytest.raises(NotAllowed, match=message):
        authority.check(_user(role), command)


def test_a_refusal_names_the_record_it_was_about() -> None:
    with pytest.raises(NotAllowed, match=r"\(batch B-7\)$"):
        authority.check(_user(Role.COURIER), commands.AbortBatch("B-7", "why"))
    with pytest.raises(NotAllowed, match=r"\(case C-9\)$"):
        authority.check(_user(Role.COURIER), commands.CancelCase("C-9", "why"))


def test_a_deactivated_user_may_do_nothing() -> None:
    qa = _user(Role.QA_REVIEWER)
    qa.active = False
    with pytest.raises(NotAllowed, match="qa_reviewer is deactivated and may not release"):
        authority.check(qa, commands.ReleaseBatch("B-1", "qa", "pw"))
    assert not authority.may(qa, authority.Read.CASE)


def test_every_command_the_bus_handles_has_a_rule() -> None:
    assert authority.uncovered_commands(HANDLERS) == []
    for command in HANDLERS:
        if command not in (commands.ScanCustody, commands.RecordAssessment):
            assert authority.rule_for(command).roles, command.__name__


def test_a_bus_without_a_rule_for_a_command_does_not_start() -> None:
    class Unruled(commands.Command):
        pass

    with pytest.raises(LookupError, match="no rule for Unruled"):
        MessageBus(lambda: FakeUnitOfWork(lambda: T0), {}, {Unruled: lambda *a, **k: None})


def test_the_bus_refuses_before_the_handler_runs() -> None:
    calls: list[str] = []
    bus = MessageBus(
        lambda: FakeUnitOfWork(lambda: T0),
        {},
        {commands.CancelCase: lambda cmd, uow, *, actor: calls.append(actor.username)},
    )
    with pytest.raises(NotAllowed, match="a courier may not cancel"):
        bus.handle(commands.CancelCase("C-1", "why"), actor=_user(Role.COURIER))
    assert calls == []
    bus.handle(commands.CancelCase("C-1", "why"), actor=_user(Role.COORDINATOR))
    assert calls == ["coordinator"]


def test_a_scan_is_ruled_by_its_point_and_an_assessment_by_its_kind() -> None:
    courier, nurse = _user(Role.COURIER), _user(Role.APHERESIS_NURSE)
    pickup = commands.ScanCustody("C-1", "apheresis_pickup", "=A...")
    assert authority.may(courier, pickup) and not authority.may(nurse, pickup)
    with pytest.raises(NotAllowed, match="an apheresis nurse does not scan at 'Courier picks up"):
        authority.check(nurse, pickup)
    crs = commands.RecordAssessment("C-1", "crs", "2026-03-03", {})
    response = commands.RecordAssessment("C-1", "recist", "2026-03-03", {})
    assert authority.may(nurse, crs)
    with pytest.raises(NotAllowed, match="an apheresis nurse may not record"):
        authority.check(nurse, response)
    assert authority.may(_user(Role.PHYSICIAN), AssessmentKind.RECIST)


def test_only_an_admin_sets_a_password_and_anyone_changes_their_own_with_the_old() -> None:
    nurse = _user(Role.APHERESIS_NURSE)
    # Setting a password without the old one is an administrator's reset, even one's own:
    # a stolen session must not be enough to take the account (21 CFR 11.300(b)).
    assert not authority.may(nurse, commands.SetPassword("apheresis_nurse", "long enough"))
    assert not authority.may(nurse, commands.SetPassword("qa", "long enough"))
    assert authority.may(_user(Role.ADMIN), commands.SetPassword("qa", "long enough"))
    change = commands.ChangePassword("apheresis_nurse", "old password", "new password")
    assert all(authority.may(_user(role), change) for role in Role)


def test_only_an_admin_deactivates_a_user() -> None:
    deactivate = commands.DeactivateUser("qa", "left the company")
    assert authority.may(_user(Role.ADMIN), deactivate)
    with pytest.raises(NotAllowed, match="a QA reviewer may not manage users"):
        authority.check(_user(Role.QA_REVIEWER), deactivate)


def test_only_a_physician_may_override_the_infusion_checks() -> None:
    privilege = authority.Privilege.OVERRIDE_INFUSION_CHECKS
    assert authority.may(_user(Role.PHYSICIAN), privilege)
    assert not authority.may(_user(Role.APHERESIS_NURSE), privilege)
    assert not authority.may(_user(Role.ADMIN), privilege)


def test_the_planning_page_and_making_a_plan_agree() -> None:
    coordinator, planner = _user(Role.COORDINATOR), _user(Role.PLANNER)
    # A coordinator sees plans; only planners make them and apply them across the network.
    assert authority.may(coordinator, authority.Read.PLAN)
    assert not authority.may(coordinator, commands.ApplyPlan)
    assert authority.may(planner, commands.ApplyPlan)
    assert not authority.may(coordinator, commands.MakePlan)
    assert authority.may(planner, commands.MakePlan)
    assert not authority.may(_user(Role.COURIER), authority.Read.PLAN)


def test_only_the_care_team_reads_patient_data() -> None:
    # Manufacturing, QC, QA, couriers and planners see identifiers; administrators no case.
    care_team = (Role.COORDINATOR, Role.APHERESIS_NURSE, Role.PHYSICIAN)
    for role in Role:
        expected = (
            authority.DataClass.FULL if role in care_team else authority.DataClass.IDENTIFIERS
        )
        assert authority.sees(_user(role)) is expected, role
    assert not authority.may(_user(Role.ADMIN), authority.Read.CASE)
    with pytest.raises(NotAllowed, match="a courier may not read the ledger"):
        authority.require_read(_user(Role.COURIER), authority.Read.LEDGER)


def test_every_custody_point_has_a_rule() -> None:
    assert set(authority.SCANS) == set(CustodyPoint)


def _names_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.attr if isinstance(node, ast.Attribute) else node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute | ast.Name)
    }


def test_no_other_module_decides_authority_by_role() -> None:
    """Services and state tables carry no role lists: only the authority table names the
    roles that may act (the user module defines them; pages name roles only to show)."""
    allowed = {SRC / "services" / "authority.py", SRC / "domain" / "user.py"}
    offenders = []
    for path in [*SRC.glob("domain/**/*.py"), *SRC.glob("services/**/*.py")]:
        if path in allowed:
            continue
        names = _names_used(path)
        if "require_role" in names or any(
            role in names for role in ("QA_REVIEWER", "QC_ANALYST", "COURIER", "PLANNER")
        ):
            offenders.append(str(path.relative_to(SRC)))
    assert offenders == []
