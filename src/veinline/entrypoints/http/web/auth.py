"""Signing in and out of the web pages (a session cookie), and changing one's password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from veinline.bootstrap import App
from veinline.domain.errors import DomainError
from veinline.domain.sign_in import TokenKind
from veinline.entrypoints.http.deps import SESSION_COOKIE, AppDep, WebUser
from veinline.entrypoints.http.security import (
    LOGIN_CSRF_COOKIE,
    LOGIN_PATH,
    new_login_csrf,
    set_cookie,
)
from veinline.entrypoints.http.templates import render, see_other
from veinline.services import auth, commands

DEMO_HINT = "Demo users: admin, coordinator, nurse, qa, ... — password veinline-demo"

router = APIRouter(include_in_schema=False)


def demo_hint(application: App) -> str | None:
    """The demo password is shown only while demo data is loaded (a demo site exists)."""
    with application.uow() as uow:
        return DEMO_HINT if any(site.demo for site in uow.sites.list()) else None


def _login_form(
    request: Request,
    application: App,
    *,
    next: str,
    status: int = 200,
    error: str | None = None,
    username: str = "",
) -> Response:
    # The login form's CSRF token: a fresh random value, in a cookie and in the form.
    token = new_login_csrf()
    response = render(
        request,
        "login.html",
        status=status,
        next=next,
        hint=demo_hint(application),
        error=error,
        username=username,
        login_csrf=token,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, path=LOGIN_PATH)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, application: AppDep, next: str = "/") -> Response:
    return _login_form(request, application, next=next)


@router.post("/login")
def login(
    request: Request,
    application: AppDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        user = auth.authenticate(
            application.uow(),
            username,
            password,
            hasher=application.hasher,
            clock=application.clock,
        )
    except DomainError as exc:
        # The form again, with what was typed and why it was refused.
        return _login_form(
            request, application, next=next, status=401, error=exc.message, username=username
        )
    token = auth.issue_token(
        application.uow(), user, kind=TokenKind.SESSION, clock=application.clock
    )
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/logout")
def logout(request: Request, application: AppDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.revoke_token(application.uow(), token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, user: WebUser) -> Response:
    return render(request, "password.html", user=user)


@router.post("/account/password")
def change_password(
    request: Request,
    user: WebUser,
    application: AppDep,
    old_password: Annotated[str, Form()],
    new_password: Annotated[str, Form()],
    repeat_password: Annotated[str, Form()],
) -> Response:
    if new_password != repeat_password:
        return see_other(
            request, "/account/password", error="the new password and its repeat differ"
        )
    try:
        application.bus.handle(
            commands.ChangePassword(
                username=user.username, old_password=old_password, new_password=new_password
            ),
            actor=user,
        )
    except DomainError as exc:
        return see_other(request, "/account/password", error=exc.message)
    # Changing the password ends every session and token of the user, this one too.
    response = see_other(request, LOGIN_PATH, next="/")
    response.delete_cookie(SESSION_COOKIE)
    return response
