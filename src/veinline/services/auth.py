"""Signing in: checking a password, and the tokens the API and the web pages act with."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from veinline.domain.errors import NotAllowed
from veinline.domain.user import User
from veinline.services.handlers import Clock, PasswordHasher
from veinline.services.unit_of_work import AbstractUnitOfWork

TOKEN_LIFETIME = {"api": timedelta(days=30), "session": timedelta(hours=12)}

# One message for every failure, so it does not tell which user names exist.
_WRONG = "user name or password is wrong"


def authenticate(
    uow: AbstractUnitOfWork, username: str, password: str, *, hasher: PasswordHasher
) -> User:
    with uow:
        user = uow.users.get(username.strip().lower())
        if user is None or user.password_hash is None or not user.active:
            raise NotAllowed(_WRONG)
        if not hasher.verify(user.password_hash, password):
            raise NotAllowed(_WRONG)
        return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(uow: AbstractUnitOfWork, user: User, *, kind: str, clock: Clock) -> str:
    token = secrets.token_urlsafe(32)
    now = clock()
    with uow:
        uow.tokens.add(_digest(token), user.username, kind, now, now + TOKEN_LIFETIME[kind])
        uow.commit()
    return token


def user_for_token(uow: AbstractUnitOfWork, token: str, *, clock: Clock) -> User | None:
    with uow:
        found = uow.tokens.find(_digest(token))
        if found is None:
            return None
        username, expires_at = found
        if expires_at <= clock():
            return None
        user = uow.users.get(username)
        return user if user is not None and user.active else None


def revoke_token(uow: AbstractUnitOfWork, token: str) -> None:
    with uow:
        uow.tokens.remove(_digest(token))
        uow.commit()
