"""Signing in and out of the web pages (a session cookie)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from veinline.domain.errors import DomainError
from veinline.entrypoints.http.deps import SESSION_COOKIE, AppDep
from veinline.entrypoints.http.templates import render
from veinline.services import auth

DEMO_HINT = "Demo users: admin, coordinator, nurse, qa, ... — password veinline-demo"

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=next, hint=DEMO_HINT, error=None, username="")


@router.post("/login")
def login(
    request: Request,
    application: AppDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        user = auth.authenticate(application.uow(), username, password, hasher=application.hasher)
    except DomainError as exc:
        # The form again, with what was typed and why it was refused.
        return render(
            request,
            "login.html",
            status=401,
            next=next,
            hint=DEMO_HINT,
            error=exc.message,
            username=username,
        )
    token = auth.issue_token(application.uow(), user, kind="session", clock=application.clock)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax")
    return response


@router.post("/logout")
def logout(request: Request, application: AppDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth.revoke_token(application.uow(), token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
