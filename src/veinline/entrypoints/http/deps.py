"""FastAPI dependencies: the bootstrapped application and who is asking.

Pages take `WebUser` (not signed in: `LoginRequired`, which `errors` turns into a
redirect to the login page); API routes take `Actor` (a bearer token or the session
cookie; without one, `NotAuthenticated`, 401).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from veinline.bootstrap import App
from veinline.domain.errors import NotAuthenticated
from veinline.domain.user import User
from veinline.services import auth, authority

SESSION_COOKIE = "veinline_session"


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
    """The user of the session cookie, if any."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    application = application_of(request)
    return auth.user_for_token(application.uow(), token, clock=application.clock)


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


def current_user_from(application: App, authorization: str | None, cookie: str | None) -> User:
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    elif cookie:
        token = cookie
    if not token:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer TOKEN'")
    user = auth.user_for_token(application.uow(), token, clock=application.clock)
    if user is None:
        raise NotAuthenticated("the token is unknown or has expired: sign in again")
    return user


def current_user(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> User:
    """The API caller: `Authorization: Bearer TOKEN`, or the session cookie."""
    return current_user_from(
        application_of(request), authorization, request.cookies.get(SESSION_COOKIE)
    )


Actor = Annotated[User, Depends(current_user)]
