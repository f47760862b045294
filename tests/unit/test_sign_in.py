"""Sign-in safeguards (21 CFR 11.300; docs/security.md, "Sign-in and signatures"): the
lockout rule and session times in the pure domain, and the services that apply them on
the fake unit of work (every failure and lockout ledgered; unknown names cost a hash)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import FakeUnitOfWork
from veinline.domain.errors import Conflict, InvalidInput, NotAllowed
from veinline.domain.sign_in import (
    FIRST_LOCKOUT,
    MAX_FAILURES,
    MAX_LOCKOUT,
    SESSION_ABSOLUTE,
    SESSION_IDLE,
    SessionTimes,
    SignInGuard,
    TokenKind,
    TokenScope,
    expires_at,
    guard_key,
    is_live,
    lockout_length,
)
from veinline.domain.user import Role, User
from veinline.services import auth, commands, handlers
from veinline.services.messagebus import MessageBus

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PASSWORD = "right password"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class CountingHasher:
    """A plain hasher that remembers every hash it was asked to check against."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def hash(self, password: str) -> str:
        return "plain$" + password

    def verify(self, password_hash: str, password: str) -> bool:
        self.checked.append(password_hash)
        return password_hash == "plain$" + password


# ------------------------------------------------------------------ the domain's rules


def test_a_lockout_lasts_15_minutes_and_doubles_up_to_a_day() -> None:
    assert lockout_length(1) == FIRST_LOCKOUT == timedelta(minutes=15)
    assert lockout_length(2) == timedelta(minutes=30)
    assert lockout_length(3) == timedelta(hours=1)
    assert lockout_length(8) == MAX_LOCKOUT == timedelta(hours=24)
    assert lockout_length(1000) == MAX_LOCKOUT


def test_five_failures_in_a_row_lock_the_name_and_a_success_clears_the_count() -> None:
    guard = SignInGuard("qa")
    assert [guard.fail(T0) for _ in range(MAX_FAILURES)] == [False] * 4 + [True]
    assert guard.is_locked(T0 + timedelta(minutes=14))
    assert not guard.is_locked(T0 + FIRST_LOCKOUT)
    later = T0 + FIRST_LOCKOUT
    assert [guard.fail(later) for _ in range(MAX_FAILURES)][-1]
    assert guard.locked_until == later + timedelta(minutes=30)
    guard.succeed()
    assert (guard.failures, guard.lockouts) == (0, 0)
    assert guard.locked_until is None
    assert "locked until" in SignInGuard("x", locked_until=T0).refusal()


def test_a_guard_is_kept_under_the_name_as_sign_in_reads_it() -> None:
    assert guard_key("  QA ") == "qa"
    assert len(guard_key("x" * 500)) == 64


def test_a_session_ends_after_30_idle_minutes_and_12_hours_in_any_case() -> None:
    issued = expires_at(TokenKind.SESSION, T0)
    assert issued == T0 + SESSION_ABSOLUTE
    fresh = SessionTimes(TokenKind.SESSION, T0, T0, issued)
    assert is_live(fresh, T0 + SESSION_IDLE - timedelta(seconds=1))
    assert not is_live(fresh, T0 + SESSION_IDLE)
    busy = SessionTimes(TokenKind.SESSION, T0, issued - timedelta(minutes=1), issued)
    assert not is_live(busy, issued)


def test_an_api_token_has_no_idle_limit_but_expires() -> None:
    end = expires_at(TokenKind.API, T0)
    token = SessionTimes(TokenKind.API, T0, T0, end)
    assert is_live(token, T0 + timedelta(days=7))
    assert not is_live(token, end)


def test_a_token_scope_is_read_or_write() -> None:
    assert TokenScope.parse(" Read ") is TokenScope.READ
    with pytest.raises(InvalidInput, match="read or write"):
        TokenScope.parse("admin")


# ------------------------------------------------------------------ the services


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def uow(clock: Clock, hasher: CountingHasher) -> FakeUnitOfWork:
    fake = FakeUnitOfWork(clock)
    handlers.ensure_system_user(fake, clock=clock)
    system = fake.users.get("system")
    assert system is not None
    for name, role in (("nurse", Role.APHERESIS_NURSE), ("admin", Role.ADMIN)):
        handlers.create_user(
            commands.CreateUser(name, f"A {role.label}", role, password=PASSWORD),
            fake,
            actor=system,
            hasher=hasher,
            clock=clock,
        )
    hasher.checked.clear()
    return fake


def _user(uow: FakeUnitOfWork, name: str) -> User:
    user = uow.users.get(name)
    assert user is not None
    return user


def test_an_unknown_name_is_checked_against_a_dummy_hash(
    uow: FakeUnitOfWork, hasher: CountingHasher, clock: Clock
) -> None:
    with pytest.raises(NotAllowed, match="user name or password is wrong"):
        auth.authenticate(uow, "nobody", PASSWORD, hasher=hasher, clock=clock)
    assert hasher.checked == [auth.dummy_hash(hasher)]


def test_an_inactive_user_is_checked_against_the_dummy_hash_too(
    uow: FakeUnitOfWork, hasher: CountingHasher, clock: Clock
) -> None:
    _user(uow, "nurse").deactivate()
    with pytest.raises(NotAllowed, match="user name or password is wrong"):
        auth.authenticate(uow, "nurse", PASSWORD, hasher=hasher, clock=clock)
    assert hasher.checked == [auth.dummy_hash(hasher)]


def test_the_fifth_wrong_password_locks_even_the_right_one_out_and_is_ledgered(
    uow: FakeUnitOfWork, hasher: CountingHasher, clock: Clock
) -> None:
    start = len(uow.ledger.committed)
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(NotAllowed, match="user name or password is wrong"):
            auth.authenticate(uow, "nurse", "wrong", hasher=hasher, clock=clock)
    with pytest.raises(NotAllowed, match="locked until 2026-03-02 09:45 UTC"):
        auth.authenticate(uow, "nurse", "wrong", hasher=hasher, clock=clock)
    with pytest.raises(NotAllowed, match="locked until"):
        auth.authenticate(uow, "nurse", PASSWORD, hasher=hasher, clock=clock)
    actions = [e.action for e in uow.ledger.committed[start:]]
    assert actions == ["sign_in.failed"] * MAX_FAILURES + ["sign_in.locked"]
    assert {e.entity_id for e in uow.ledger.committed[start:]} == {"nurse"}
    clock.now += FIRST_LOCKOUT
    assert auth.authenticate(uow, "nurse", PASSWORD, hasher=hasher, clock=clock).username == "nurse"
    assert uow.ledger.committed[-1].action == "sign_in.cleared"


def test_an_unknown_name_is_locked_out_the_same_way(
    uow: FakeUnitOfWork, hasher: CountingHasher, clock: Clock
) -> None:
    for _ in range(MAX_FAILURES):
        with pytest.raises(NotAllowed):
            auth.authenticate(uow, "nobody", "guess", hasher=hasher, clock=clock)
    with pytest.raises(NotAllowed, match="locked until"):
        auth.authenticate(uow, "nobody", "guess", hasher=hasher, clock=clock)
    assert uow.ledger.committed[-1].actor == "system"


def _bus(uow: FakeUnitOfWork, hasher: CountingHasher, clock: Clock) -> MessageBus:
    return MessageBus(lambda: uow, {"clock": clock, "hasher": hasher})


def test_a_wrong_password_at_a_password_change_counts_and_changes_nothing(
    uow: FakeUnitOfWork, hasher: CountingHasher, clock: Clock
) -> None:
    bus = _bus(uow, hasher, clock)
    nurse = _user(uow, "nurse")
    version = nurse.credential_version
    with pytest.raises(NotAllowed, match="current password is wrong"):
        bus.handle(commands.ChangePassword("nurse", "wrong", "a new password"), actor=nurse)
    assert _user(uow, "nurse").credential_version == version
    assert uow.ledger.committed[-1].action == "sign_in.failed"
    guard = uow.sign_in_guards.get("nurse")
    assert guard is not None and guard.failures == 1


def test_a_password_change_needs_the_old_one_and_revokes_every_token(
    uow: FakeUnitOfWork, hasher: CountingHasher, clock: Clock
) -> None:
    bus = _bus(uow, hasher, clock)
    nurse = _user(uow, "nurse")
    auth.issue_token(uow, nurse, kind=TokenKind.API, clock=clock)
    auth.issue_token(uow, nurse, kind=TokenKind.SESSION, clock=clock)
    with pytest.raises(InvalidInput, match="at least 10"):
        bus.handle(commands.ChangePassword("nurse", PASSWORD, "short"), actor=nurse)
    with pytest.raises(NotAllowed, match="only by its own user"):
        bus.handle(commands.ChangePassword("admin", PASSWORD, "a new password"), actor=nurse)
    bus.handle(commands.ChangePassword("nurse", PASSWORD, "a new password"), actor=nurse)
    assert uow.ledger.committed[-1].action == "user.password_changed"
    assert uow.tokens.of_user("nurse") == []
    assert auth.authenticate(uow, "nurse", "a new password", hasher=hasher, clock=clock)


def test_an_admin_deactivates_a_user_whose_tokens_are_revoked(
    uow: FakeUnitOfWork, hasher: CountingHasher, clock: Clock
) -> None:
    bus = _bus(uow, hasher, clock)
    admin, nurse = _user(uow, "admin"), _user(uow, "nurse")
    token = auth.issue_token(uow, nurse, kind=TokenKind.API, clock=clock)
    with pytest.raises(NotAllowed, match="may not manage users"):
        bus.handle(commands.DeactivateUser("admin", "no"), actor=nurse)
    with pytest.raises(InvalidInput, match="reason"):
        bus.handle(commands.DeactivateUser("nurse", " "), actor=admin)
    with pytest.raises(NotAllowed, match="themselves"):
        bus.handle(commands.DeactivateUser("admin", "leaving"), actor=admin)
    bus.handle(commands.DeactivateUser("nurse", "left the unit"), actor=admin)
    entry = uow.ledger.committed[-1]
    assert (entry.action, entry.actor, entry.reason) == (
        "user.deactivated",
        "admin",
        "left the unit",
    )
    assert entry.after is not None and entry.after["active"] is False
    assert auth.user_for_token(uow, token, kind=TokenKind.API, clock=clock) is None
    with pytest.raises(Conflict, match="deactivated already"):
        bus.handle(commands.DeactivateUser("nurse", "again"), actor=admin)
    with pytest.raises(NotAllowed, match="user name or password is wrong"):
        auth.authenticate(uow, "nurse", PASSWORD, hasher=hasher, clock=clock)


def test_a_token_of_one_kind_does_not_stand_in_for_the_other(
    uow: FakeUnitOfWork, clock: Clock
) -> None:
    nurse = _user(uow, "nurse")
    api = auth.issue_token(uow, nurse, kind=TokenKind.API, clock=clock)
    session = auth.issue_token(uow, nurse, kind=TokenKind.SESSION, clock=clock)
    assert auth.user_for_token(uow, api, kind=TokenKind.SESSION, clock=clock) is None
    assert auth.user_for_token(uow, session, kind=TokenKind.API, clock=clock) is None
    assert auth.user_for_token(uow, api, kind=TokenKind.API, clock=clock) is not None
    assert auth.user_for_token(uow, session, kind=TokenKind.SESSION, clock=clock) is not None
