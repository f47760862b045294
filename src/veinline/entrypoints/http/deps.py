"""FastAPI dependencies: the bootstrapped application and who is asking.

Pages take `WebUser` (not signed in: `LoginRequired`, which `errors` turns into a
redirect to the login page); API routes take `Actor` (an API bearer token; without one,
`NotAuthenticated`, 401). The two never stand in for each other: a browser session is
no bearer token and an API token is no session cookie (docs/security.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from veinline.bootstrap import App
from veinline.domain.errors import NotAllowed, NotAuthenticated
from veinline.domain.sign_in import IssuedToken, TokenKind, TokenScope
from veinline.domain.user import User
from veinline.services import auth, authority

SESSION_COOKIE = "veinline_session"

# Methods that only read: a read-scoped API token may use these and no others.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """A page needs a signed-in user; the handler sends the browser to the login page."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def application_of(request: Request) -> App:
    """The application `create_app` was given."""
    application: App = request.app.state.veinline
    return application


AppDep = Annotated[App, Depends(application_of)]

# The client's own key for a request it may retry (http/idempotent.py).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Your key for this request: a retry with the same key and body gets "
        "the first answer and records nothing new.",
    ),
]


def signed_in(request: Request) -> User | None:
    """The user of the session cookie, if it is a live browser session (an API token
    in the cookie signs nobody in)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if "veinline_session_user" in request.scope:
        cached: User | None = request.scope["veinline_session_user"]
        return cached
    application = application_of(request)
    user = auth.user_for_token(
        application.uow(), token, kind=TokenKind.SESSION, clock=application.clock
    )
    request.scope["veinline_session_user"] = user
    return user


OptionalUser = Annotated[User | None, Depends(signed_in)]


def web_user(request: Request, user: OptionalUser) -> User:
    """The signed-in user of a page; otherwise to the login page and back."""
    if user is None:
        raise LoginRequired(request.url.path)
    return user


WebUser = Annotated[User, Depends(web_user)]


def planner(user: WebUser) -> User:
    """A signed-in user who may read plans (the planning and capacity pages)."""
    authority.require_read(user, authority.Read.PLAN)
    return user


Planner = Annotated[User, Depends(planner)]


def bearer_caller(
    application: App, authorization: str | None, method: str
) -> tuple[User, IssuedToken]:
    """The user and live API token of `Authorization: Bearer TOKEN`, allowed this method."""
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    if not token:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer TOKEN'")
    found = auth.token_for(application.uow(), token, kind=TokenKind.API, clock=application.clock)
    if found is None:
        raise NotAuthenticated("the token is unknown, revoked or expired: sign in again")
    if found[1].scope is not TokenScope.WRITE and method.upper() not in READ_METHODS:
        raise NotAllowed("this API token may only read: ask for a token with scope 'write'")
    return found


def caller(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> tuple[User, IssuedToken]:
    """The API caller and its token (a bearer token; the session cookie is not accepted)."""
    return bearer_caller(application_of(request), authorization, request.method)


Caller = Annotated[tuple[User, IssuedToken], Depends(caller)]


def current_user(found: Caller) -> User:
    """The API caller: the active user of a live `Authorization: Bearer TOKEN`."""
    return found[0]


Actor = Annotated[User, Depends(current_user)]
