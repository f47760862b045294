"""Signing in: the rules that guard a user name against guessing, and how long a sign-in
lasts (21 CFR 11.300(d): safeguards that prevent, detect and report attempts at
unauthorised use of identification codes and passwords).

One guard per user name typed, whether or not such a user exists, so the answer to a
guess does not tell which names are real. Every wrong password (at sign-in, at a
signature's re-entry, at a password change) counts; `MAX_FAILURES` in a row lock the
name for `FIRST_LOCKOUT`, and each further lockout before a success doubles it, up to
`MAX_LOCKOUT`. A success clears the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject, snapshot_time

MAX_FAILURES = 5
FIRST_LOCKOUT = timedelta(minutes=15)
MAX_LOCKOUT = timedelta(hours=24)

# Browser sessions end after this long without a request, and in any case this long
# after sign-in (OWASP Session Management: idle and absolute timeouts).
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
API_TOKEN_LIFETIME = timedelta(days=30)

# The longest user name stored in a guard (the users table's limit).
_NAME_LENGTH = 64


class TokenKind(StrEnum):
    """A browser session (the cookie) or an API token (the bearer header); never both."""

    SESSION = "session"
    API = "api"


class TokenScope(StrEnum):
    """What an API token may do: `read` answers GET only; `write` may change records."""

    READ = "read"
    WRITE = "write"

    @classmethod
    def parse(cls, text: str) -> TokenScope:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InvalidInput(f"unknown token scope {text!r}; choose read or write") from None


def guard_key(username: str) -> str:
    """The name a guard is kept under: what was typed, tidied as sign-in tidies it."""
    return username.strip().lower()[:_NAME_LENGTH]


def lockout_length(lockouts: int) -> timedelta:
    """How long the `lockouts`-th lockout in a row lasts: 15 min, 30, 60, ... up to a day."""
    if lockouts < 1:
        return timedelta(0)
    doubled: timedelta = FIRST_LOCKOUT * (1 << min(lockouts - 1, 16))
    return min(doubled, MAX_LOCKOUT)


@dataclass(eq=False)
class SignInGuard:
    """The failed attempts against one user name, and the lockout they earned."""

    ENTITY_TYPE = "sign_in"

    username: str
    failures: int = 0
    lockouts: int = 0
    locked_until: datetime | None = None

    @property
    def entity_id(self) -> str:
        return self.username

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def fail(self, now: datetime) -> bool:
        """Count a wrong password; True when this failure locks the name."""
        self.failures += 1
        if self.failures < MAX_FAILURES:
            return False
        self.lockouts += 1
        self.failures = 0
        self.locked_until = now + lockout_length(self.lockouts)
        return True

    def succeed(self) -> None:
        """The right password, outside a lockout: the count starts again."""
        self.failures = 0
        self.lockouts = 0
        self.locked_until = None

    def refusal(self) -> str:
        until = self.locked_until.strftime("%Y-%m-%d %H:%M UTC") if self.locked_until else ""
        return (
            f"too many wrong passwords: this user name is locked until {until}; "
            "an administrator can tell you more"
        )

    def snapshot(self) -> JsonObject:
        return {
            "username": self.username,
            "failures": self.failures,
            "lockouts": self.lockouts,
            "locked_until": snapshot_time(self.locked_until),
        }


@dataclass(frozen=True)
class SessionTimes:
    """When a token was issued, last used, and when it expires at the latest."""

    kind: TokenKind
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime


def is_live(times: SessionTimes, now: datetime) -> bool:
    """A token answers while before its absolute expiry and, for a browser session, while
    it has been used within `SESSION_IDLE`."""
    if now >= times.expires_at:
        return False
    if times.kind is TokenKind.SESSION:
        last = times.last_used_at or times.created_at
        if now - last >= SESSION_IDLE:
            return False
    return True


def expires_at(kind: TokenKind, issued: datetime) -> datetime:
    return issued + (SESSION_ABSOLUTE if kind is TokenKind.SESSION else API_TOKEN_LIFETIME)


@dataclass(frozen=True)
class IssuedToken:
    """A token as stored: its hash (never the token), whose it is, what it may do, and
    its times. `id` is a short public name for listing and revoking it."""

    token_hash: str
    username: str
    kind: TokenKind
    scope: TokenScope | None
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime

    @property
    def id(self) -> str:
        return self.token_hash[:TOKEN_ID_LENGTH]

    @property
    def times(self) -> SessionTimes:
        return SessionTimes(self.kind, self.created_at, self.last_used_at, self.expires_at)

    def to_dict(self) -> JsonObject:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "scope": None if self.scope is None else self.scope.value,
            "created_at": snapshot_time(self.created_at),
            "last_used_at": snapshot_time(self.last_used_at),
            "expires_at": snapshot_time(self.expires_at),
        }


TOKEN_ID_LENGTH = 16
