"""Handlers on the fake unit of work: permissions, ledger entries, nothing half-written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fakes import FakeUnitOfWork, release_panels
from veinline.adapters.seed import catalogue_command, demo_command
from veinline.domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.ledger import content_hash
from veinline.domain.signature import Meaning
from veinline.domain.user import Role, User
from veinline.services import commands, handlers, ledger
from veinline.services.messagebus import MessageBus

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def clock() -> datetime:
    return NOW


class PlainHasher:
    def hash(self, password: str) -> str:
        return "plain$" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "plain$" + password


@pytest.fixture
def uow() -> FakeUnitOfWork:
    fake = FakeUnitOfWork(clock)
    handlers.ensure_system_user(fake, clock=clock)
    return fake


def _system(uow: FakeUnitOfWork) -> User:
    user = uow.users.get("system")
    assert user is not None
    return user


def _user(uow: FakeUnitOfWork, role: Role) -> User:
    cmd = commands.CreateUser(
        username=f"u-{role.value.replace('_', '-')}",
        printed_name=f"A {role.label}",
        role=role,
        password="long enough pw",
    )
    return handlers.create_user(cmd, uow, actor=_system(uow), hasher=PlainHasher(), clock=clock)


def test_every_change_is_a_ledger_entry_naming_the_actor(uow: FakeUnitOfWork) -> None:
    admin = _user(uow, Role.ADMIN)
    entry = uow.ledger.committed[-1]
    assert entry.actor == "system" and entry.entity_id == admin.username
    assert entry.action == "user.created" and entry.before is None


def test_the_ledger_snapshot_never_holds_the_password_hash(uow: FakeUnitOfWork) -> None:
    _user(uow, Role.QA_REVIEWER)
    assert all("password" not in str(e.after) for e in uow.ledger.committed)


def _bus(uow: FakeUnitOfWork) -> MessageBus:
    """The bus the entrypoints use, on the fake unit of work: authority is checked there."""
    return MessageBus(
        lambda: uow, {"hasher": PlainHasher(), "clock": clock, "release_panels": release_panels}
    )


def test_a_coordinator_may_not_create_users(uow: FakeUnitOfWork) -> None:
    coordinator = _user(uow, Role.COORDINATOR)
    before = len(uow.ledger.committed)
    with pytest.raises(NotAllowed, match="coordinator may not manage users"):
        _bus(uow).handle(
            commands.CreateUser(username="someone", printed_name="S", role=Role.ADMIN),
            actor=coordinator,
        )
    assert len(uow.ledger.committed) == before
    assert uow.users.get("someone") is None


def test_a_duplicate_user_is_refused(uow: FakeUnitOfWork) -> None:
    _user(uow, Role.QC_ANALYST)
    with pytest.raises(Conflict):
        _user(uow, Role.QC_ANALYST)


def test_a_short_password_is_refused(uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput, match="10 characters"):
        handlers.create_user(
            commands.CreateUser(
                username="shorty", printed_name="S", role=Role.COURIER, password="short"
            ),
            uow,
            actor=_system(uow),
            hasher=PlainHasher(),
            clock=clock,
        )


def test_loading_the_catalogue_twice_creates_nothing_the_second_time(
    uow: FakeUnitOfWork,
) -> None:
    first = handlers.load_catalogue(
        catalogue_command(), uow, actor=_system(uow), hasher=PlainHasher(), clock=clock
    )
    assert first.created["product"] == 8
    entries = len(uow.ledger.committed)
    second = handlers.load_catalogue(
        catalogue_command(), uow, actor=_system(uow), hasher=PlainHasher(), clock=clock
    )
    assert second.total_created() == 0
    assert second.kept["product"] == 8
    assert len(uow.ledger.committed) == entries


def test_the_catalogue_holds_the_eight_seed_products_by_their_codes(
    uow: FakeUnitOfWork,
) -> None:
    handlers.load_catalogue(
        catalogue_command(), uow, actor=_system(uow), hasher=PlainHasher(), clock=clock
    )
    codes = {p.code for p in uow.products.list()}
    assert codes == {
        "eque-cel",
        "zevor-cel",
        "satri-cel",
        "imc001",
        "imc002",
        "imc008",
        "amimestrocel",
        "vum02",
    }
    hk = uow.authorisations.get("eque-cel.hk")
    assert hk is not None and hk.status.value == "approved"
    amimestrocel = uow.authorisations.get("amimestrocel.cn")
    assert amimestrocel is not None and amimestrocel.date == "2025-01-02"
    age = next(c for c in amimestrocel.criteria_list() if c.fact == "age_years")
    assert age.value == 14


def test_a_catalogue_load_with_a_bad_record_changes_nothing(uow: FakeUnitOfWork) -> None:
    cmd = catalogue_command()
    broken = commands.LoadCatalogue(
        products=cmd.products,
        authorisations=cmd.authorisations,
        sites=cmd.sites,
        users=[commands.CreateUser(username="x", printed_name="X", role=Role.COURIER)],
    )
    with pytest.raises(InvalidInput):
        handlers.load_catalogue(broken, uow, actor=_system(uow), hasher=PlainHasher(), clock=clock)
    assert uow.products.list() == []
    assert len(uow.ledger.committed) == 1


def test_changing_a_product_needs_a_reason_and_bumps_its_version(uow: FakeUnitOfWork) -> None:
    handlers.load_catalogue(
        catalogue_command(), uow, actor=_system(uow), hasher=PlainHasher(), clock=clock
    )
    with pytest.raises(InvalidInput, match="reason"):
        handlers.set_product_field(
            commands.SetProductField("eque-cel", "storage_max_c", "-120", " "),
            uow,
            actor=_system(uow),
        )
    product = handlers.set_product_field(
        commands.SetProductField("eque-cel", "storage_max_c", "-120", "label says -120"),
        uow,
        actor=_system(uow),
    )
    assert product.storage_max_c == -120.0 and product.version == 2
    assert "storage_max_c" not in product.unconfirmed
    history = ledger.history(uow, "product/eque-cel")
    assert ("storage_max_c", -150.0, -120.0) in history[-1].changes()


def test_an_unknown_field_is_refused_with_the_editable_list(uow: FakeUnitOfWork) -> None:
    handlers.load_catalogue(
        catalogue_command(), uow, actor=_system(uow), hasher=PlainHasher(), clock=clock
    )
    with pytest.raises(InvalidInput, match="editable fields"):
        handlers.set_product_field(
            commands.SetProductField("eque-cel", "modality", "x", "why"), uow, actor=_system(uow)
        )


def test_dins_are_issued_in_sequence_per_facility_and_year(uow: FakeUnitOfWork) -> None:
    handlers.load_catalogue(
        demo_command(), uow, actor=_system(uow), hasher=PlainHasher(), clock=clock
    )
    nurse = uow.users.get("nurse")
    assert nurse is not None
    first = handlers.issue_identifier(
        commands.IssueIdentifier(IdentifierKind.DIN, "A9995", "apheresis"),
        uow,
        actor=nurse,
        clock=clock,
    )
    second = handlers.issue_identifier(
        commands.IssueIdentifier(IdentifierKind.DIN, "A9995", "apheresis"),
        uow,
        actor=nurse,
        clock=clock,
    )
    assert (first.value, second.value) == ("A999526000001", "A999526000002")
    assert first.check_character is not None
    coi = handlers.issue_identifier(
        commands.IssueIdentifier(IdentifierKind.COI, "A9995", "case"), uow, actor=nurse, clock=clock
    )
    assert coi.value == "CHA999526000001"
    assert coi.barcode_data == "&/CHA999526000001"


def test_an_identifier_for_an_unknown_facility_is_refused(uow: FakeUnitOfWork) -> None:
    with pytest.raises(NotFound, match="A9990"):
        handlers.issue_identifier(
            commands.IssueIdentifier(IdentifierKind.DIN, "A9990", "x"),
            uow,
            actor=_system(uow),
            clock=clock,
        )
    assert uow.identifiers.list() == []


def test_a_courier_may_not_issue_identifiers(uow: FakeUnitOfWork) -> None:
    courier = _user(uow, Role.COURIER)
    with pytest.raises(NotAllowed, match="a courier may not issue identifiers"):
        _bus(uow).handle(
            commands.IssueIdentifier(IdentifierKind.DIN, "A9995", "x"),
            actor=courier,
        )


def test_a_fresh_ledger_verifies(uow: FakeUnitOfWork) -> None:
    handlers.load_catalogue(
        demo_command(), uow, actor=_system(uow), hasher=PlainHasher(), clock=clock
    )
    report = ledger.verify(uow)
    assert report.ok
    assert report.entries_checked == report.records_checked == len(uow.ledger.committed)


def _qa_with_password(uow: FakeUnitOfWork) -> User:
    handlers.load_catalogue(
        catalogue_command(), uow, actor=_system(uow), hasher=PlainHasher(), clock=clock
    )
    return _user(uow, Role.QA_REVIEWER)


def test_a_signature_binds_meaning_and_content_hash_to_the_record(uow: FakeUnitOfWork) -> None:
    qa = _qa_with_password(uow)
    entry = handlers.sign_record(
        commands.SignRecord(
            "product",
            "eque-cel",
            Meaning.APPROVED,
            qa.username,
            "long enough pw",
            "catalogue review",
        ),
        uow,
        actor=qa,
        hasher=PlainHasher(),
    )
    product = uow.products.get("eque-cel")
    assert product is not None
    assert entry.signature_meaning == "approved"
    assert entry.signed_hash == content_hash(product.snapshot())
    assert entry.actor_name == "A QA reviewer"
    assert ledger.verify(uow).ok


def test_a_wrong_password_signs_nothing(uow: FakeUnitOfWork) -> None:
    qa = _qa_with_password(uow)
    before = len(uow.ledger.committed)
    with pytest.raises(NotAllowed, match="password is wrong"):
        handlers.sign_record(
            commands.SignRecord("product", "eque-cel", Meaning.APPROVED, qa.username, "guess"),
            uow,
            actor=qa,
            hasher=PlainHasher(),
        )
    assert len(uow.ledger.committed) == before


def test_nobody_signs_with_someone_elses_user_name(uow: FakeUnitOfWork) -> None:
    qa = _qa_with_password(uow)
    with pytest.raises(NotAllowed, match="own user name"):
        handlers.sign_record(
            commands.SignRecord("product", "eque-cel", Meaning.APPROVED, "admin", "long enough pw"),
            uow,
            actor=qa,
            hasher=PlainHasher(),
        )


def test_a_coordinator_may_not_sign_catalogue_records(uow: FakeUnitOfWork) -> None:
    handlers.load_catalogue(
        catalogue_command(), uow, actor=_system(uow), hasher=PlainHasher(), clock=clock
    )
    coordinator = _user(uow, Role.COORDINATOR)
    with pytest.raises(NotAllowed, match="coordinator may not sign catalogue records"):
        _bus(uow).handle(
            commands.SignRecord(
                "product", "eque-cel", Meaning.APPROVED, coordinator.username, "long enough pw"
            ),
            actor=coordinator,
        )
