"""API sign-in, the caller, their tokens and password, and users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from pydantic import BaseModel

from veinline.domain.ledger import JsonObject
from veinline.domain.sign_in import TokenKind, TokenScope
from veinline.domain.user import Role
from veinline.entrypoints.http.deps import Actor, AppDep, Caller
from veinline.entrypoints.http.errors import refusals
from veinline.services import auth, commands

router = APIRouter()


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    username: str
    role: str
    scope: str


class UserIn(BaseModel):
    username: str
    printed_name: str
    role: Role
    site_code: str | None = None
    password: str


class PasswordChangeIn(BaseModel):
    old_password: str
    new_password: str


class DeactivationIn(BaseModel):
    reason: str


@router.post(
    "/auth/token", response_model=TokenOut, tags=["auth"], responses=refusals(403, 413, 422)
)
def sign_in(
    application: AppDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    scope: Annotated[str, Form(description="read (GET only) or write")] = "write",
) -> TokenOut:
    """Exchange a user name and password for an API token (read or write)."""
    wanted = TokenScope.parse(scope)
    user = auth.authenticate(
        application.uow(), username, password, hasher=application.hasher, clock=application.clock
    )
    token = auth.issue_token(
        application.uow(), user, kind=TokenKind.API, clock=application.clock, scope=wanted
    )
    return TokenOut(
        access_token=token, username=user.username, role=user.role.value, scope=wanted.value
    )


@router.get("/me", tags=["auth"], responses=refusals(401, 403, 422))
def me(actor: Actor) -> dict[str, Any]:
    return actor.snapshot()


@router.get("/tokens", tags=["auth"], responses=refusals(401, 403, 422))
def list_tokens(found: Caller, application: AppDep) -> list[JsonObject]:
    """The caller's live sessions and API tokens (never the tokens themselves)."""
    user, current = found
    return [
        {**token.to_dict(), "current": token.token_hash == current.token_hash}
        for token in auth.tokens_of(application.uow(), user, clock=application.clock)
    ]


@router.delete("/tokens/{token_id}", tags=["auth"], responses=refusals(401, 403, 404, 409, 422))
def revoke_token(token_id: str, actor: Actor, application: AppDep) -> JsonObject:
    """Revoke one of the caller's own tokens (this one too, if named)."""
    revoked = auth.revoke_token_by_id(application.uow(), actor, token_id)
    return {"revoked": revoked.id}


@router.post("/me/password", tags=["auth"], responses=refusals(401, 403, 404, 409, 413, 422))
def change_password(body: PasswordChangeIn, actor: Actor, application: AppDep) -> JsonObject:
    """Change the caller's own password; every token of theirs (this one too) ends."""
    application.bus.handle(
        commands.ChangePassword(
            username=actor.username, old_password=body.old_password, new_password=body.new_password
        ),
        actor=actor,
    )
    return {"changed": actor.username, "tokens": "revoked: sign in again"}


@router.post(
    "/users", status_code=201, tags=["users"], responses=refusals(401, 403, 404, 409, 413, 422)
)
def create_user(body: UserIn, actor: Actor, application: AppDep) -> dict[str, Any]:
    user = application.bus.handle(
        commands.CreateUser(
            username=body.username,
            printed_name=body.printed_name,
            role=body.role,
            site_code=body.site_code,
            password=body.password,
        ),
        actor=actor,
    )
    return dict(user.snapshot())


@router.post(
    "/users/{username}/deactivate", tags=["users"], responses=refusals(401, 403, 404, 409, 413, 422)
)
def deactivate_user(
    username: str, body: DeactivationIn, actor: Actor, application: AppDep
) -> dict[str, Any]:
    """An administrator withdraws a user's access; their tokens are revoked."""
    user = application.bus.handle(
        commands.DeactivateUser(username=username, reason=body.reason), actor=actor
    )
    return dict(user.snapshot())
