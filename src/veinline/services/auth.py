"""Signing in: checking a password against its lockout guard, and the tokens the API and
the web pages act with (21 CFR 11.300; docs/security.md, "Sign-in and signatures")."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from veinline.domain.errors import NotAllowed, NotFound
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.sign_in import (
    MAX_FAILURES,
    IssuedToken,
    SignInGuard,
    TokenKind,
    TokenScope,
    expires_at,
    guard_key,
    is_live,
)
from veinline.domain.user import SYSTEM_USERNAME, User
from veinline.services import bounds
from veinline.services.bounds import Text
from veinline.services.passwords import PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork

Clock = Callable[[], datetime]

# One message for every failure, so it does not tell which user names exist.
_WRONG = "user name or password is wrong"

# A session's last use is written at most this often (not on every page).
_TOUCH_EVERY = timedelta(minutes=1)

# Each hasher's hash of a password nobody has: verified when the user is unknown, has
# no password or is inactive, so every answer costs one hash check (no timing oracle).
_DUMMY_HASHES: dict[int, str] = {}


def dummy_hash(hasher: PasswordHasher) -> str:
    key = id(hasher)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hasher.hash(secrets.token_urlsafe(24))
    return _DUMMY_HASHES[key]


class WrongPassword(NotAllowed):
    """A password re-entered inside a command (a signature, a password change) is wrong:
    the message bus counts it against the user name's guard and ledgers it under
    `action` once the command's transaction has rolled back (11.300(d))."""

    def __init__(self, message: str, *, username: str, action: LedgerAction) -> None:
        super().__init__(message)
        self.username = username
        self.action = action


def authenticate(
    uow: AbstractUnitOfWork,
    username: str,
    password: str,
    *,
    hasher: PasswordHasher,
    clock: Clock,
) -> User:
    """The user whose password this is; otherwise one refusal for every cause, the
    failure counted and ledgered, and the name locked after `MAX_FAILURES` in a row.

    A name or password no user could have (too long, a control character, an unpaired
    surrogate) is refused before any lookup, as every command's text is (services.bounds):
    the database never sees it.
    """
    bounds.check_text(username, "username", Text(max=64))
    bounds.check_text(password, "password", Text(max=256))
    key = guard_key(username)
    now = clock()
    with uow:
        guard = uow.sign_in_guards.get(key)
        if guard is not None and guard.is_locked(now):
            hasher.verify(dummy_hash(hasher), password)
            raise NotAllowed(guard.refusal())
        user = uow.users.get(key)
        usable = (
            user is not None
            and user.password_hash is not None
            and user.active
            and not user.is_service_account
        )
        stored = user.password_hash if usable and user and user.password_hash else None
        matches = hasher.verify(stored or dummy_hash(hasher), password)
        if matches and usable and user is not None:
            if clear_failures(uow, key, actor=user):
                uow.commit()
            return user
    guard = record_failure(
        uow, key, LedgerAction.SIGN_IN_FAILED, clock=clock, reason="wrong password at sign-in"
    )
    if guard.is_locked(now):
        raise NotAllowed(guard.refusal())
    raise NotAllowed(_WRONG)


def record_failure(
    uow: AbstractUnitOfWork,
    username: str,
    action: LedgerAction,
    *,
    clock: Clock,
    reason: str,
    actor: User | None = None,
) -> SignInGuard:
    """Count one wrong password against `username` in a transaction of its own (the
    refused request changes nothing else), with its ledger entry, and the lockout's
    entry when this failure earns one (11.300(d): attempts detected and reported)."""
    key = guard_key(username)
    now = clock()
    with uow:
        guard = uow.sign_in_guards.get(key, for_update=True)
        before = None if guard is None else guard.snapshot()
        if guard is None:
            guard = SignInGuard(username=key)
            uow.sign_in_guards.add(guard)
        locked = guard.fail(now)
        by = actor or uow.users.get(SYSTEM_USERNAME)
        if by is None:
            raise NotFound("the system account is missing: run `veinline db upgrade`")
        uow.record(guard, actor=by, action=action, before=before, reason=reason)
        if locked:
            uow.record(
                guard,
                actor=by,
                action=LedgerAction.SIGN_IN_LOCKED,
                before=guard.snapshot(),
                reason=f"{MAX_FAILURES} wrong passwords in a row",
            )
        uow.commit()
        return guard


def check_not_locked(uow: AbstractUnitOfWork, username: str, *, clock: Clock) -> None:
    """Refuse, inside the caller's transaction, a user name that is locked now."""
    guard = uow.sign_in_guards.get(guard_key(username))
    if guard is not None and guard.is_locked(clock()):
        raise NotAllowed(guard.refusal())


def clear_failures(
    uow: AbstractUnitOfWork, username: str, *, actor: User, reason: str = "right password"
) -> bool:
    """The right password (or an administrator's new one): the count starts again, in the
    caller's transaction and ledgered, so the guard's row always matches its last entry.
    True when there was a count to clear."""
    guard = uow.sign_in_guards.get(guard_key(username))
    if guard is None or not (guard.failures or guard.lockouts):
        return False
    before = guard.snapshot()
    guard.succeed()
    uow.record(
        guard, actor=actor, action=LedgerAction.SIGN_IN_CLEARED, before=before, reason=reason
    )
    return True


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    uow: AbstractUnitOfWork,
    user: User,
    *,
    kind: TokenKind,
    clock: Clock,
    scope: TokenScope | None = None,
) -> str:
    """A new token; only its hash is stored. An API token has a scope (write unless
    asked otherwise); a browser session has none."""
    token = secrets.token_urlsafe(32)
    now = clock()
    scope = (scope or TokenScope.WRITE) if kind is TokenKind.API else None
    with uow:
        uow.tokens.add(
            IssuedToken(
                token_hash=digest(token),
                username=user.username,
                kind=kind,
                scope=scope,
                created_at=now,
                last_used_at=now,
                expires_at=expires_at(kind, now),
            )
        )
        uow.commit()
    return token


def token_for(
    uow: AbstractUnitOfWork, token: str, *, kind: TokenKind, clock: Clock
) -> tuple[User, IssuedToken] | None:
    """The active user of a live token of this kind, and the token; None otherwise. A
    token of the other kind is refused: a session is no bearer token, nor an API token a
    session cookie. An expired or idle session is removed."""
    now = clock()
    with uow:
        held = uow.token_holder(digest(token))
        if held is None or held[0].kind is not kind:
            return None
        found, user = held
        if not is_live(found.times, now):
            uow.tokens.remove(found.token_hash)
            uow.commit()
            return None
        if user is None or not user.active:
            return None
        if found.last_used_at is None or now - found.last_used_at >= _TOUCH_EVERY:
            uow.tokens.touch(found.token_hash, now)
            uow.commit()
        return user, found


def user_for_token(
    uow: AbstractUnitOfWork, token: str, *, kind: TokenKind, clock: Clock
) -> User | None:
    found = token_for(uow, token, kind=kind, clock=clock)
    return None if found is None else found[0]


def revoke_token(uow: AbstractUnitOfWork, token: str) -> None:
    with uow:
        uow.tokens.remove(digest(token))
        uow.commit()


def tokens_of(uow: AbstractUnitOfWork, user: User, *, clock: Clock) -> list[IssuedToken]:
    """The user's live tokens (sessions and API tokens), oldest first."""
    now = clock()
    with uow:
        return [t for t in uow.tokens.of_user(user.username) if is_live(t.times, now)]


def revoke_token_by_id(uow: AbstractUnitOfWork, user: User, token_id: str) -> IssuedToken:
    """Revoke one of the user's own tokens by its listed id."""
    # compare_digest refuses str with non-ASCII characters (a TypeError, a 500 before
    # this was found by the API fuzz test): compare the UTF-8 bytes, so any id sent is
    # simply not found.
    wanted = token_id.strip().encode("utf-8", "surrogatepass")
    with uow:
        mine = [
            t
            for t in uow.tokens.of_user(user.username)
            if hmac.compare_digest(t.id.encode("utf-8"), wanted)
        ]
        if not mine:
            raise NotFound(f"you have no token {token_id}")
        uow.tokens.remove(mine[0].token_hash)
        uow.commit()
        return mine[0]


def csrf_token(session_token: str) -> str:
    """The session's CSRF token for its page forms: an HMAC of a fixed label under the
    session token, so it needs no storage and no other session's is the same."""
    return hmac.new(session_token.encode("utf-8"), b"veinline-csrf", hashlib.sha256).hexdigest()
