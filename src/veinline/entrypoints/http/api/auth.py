"""API sign-in, the caller, and users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from pydantic import BaseModel

from veinline.domain.user import Role
from veinline.entrypoints.http.deps import Actor, AppDep
from veinline.services import auth, commands

router = APIRouter()


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    username: str
    role: str


class UserIn(BaseModel):
    username: str
    printed_name: str
    role: Role
    site_code: str | None = None
    password: str


@router.post("/auth/token", response_model=TokenOut, tags=["auth"])
def sign_in(
    application: AppDep, username: Annotated[str, Form()], password: Annotated[str, Form()]
) -> TokenOut:
    """Exchange a user name and password for an API token."""
    user = auth.authenticate(application.uow(), username, password, hasher=application.hasher)
    token = auth.issue_token(application.uow(), user, kind="api", clock=application.clock)
    return TokenOut(access_token=token, username=user.username, role=user.role.value)


@router.get("/me", tags=["auth"])
def me(actor: Actor) -> dict[str, Any]:
    return actor.snapshot()


@router.post("/users", status_code=201, tags=["users"])
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
