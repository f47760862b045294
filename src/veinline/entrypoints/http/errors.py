"""One place where domain refusals become HTTP: a status code, then JSON for the API
({"error": code, "message": ...}, plus "problems" [{field, message}] when grading input
is refused) or the error page for the web pages.

Routes let a `DomainError` propagate when this is what they want; pages that answer
a refusal differently (a form shown again, a redirect with the message) catch it
themselves. A page that needs a signed-in user raises `LoginRequired`: a redirect to
the login page, back to where the browser was going.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from veinline.domain.custody import IdentityMismatch
from veinline.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAllowed,
    NotAuthenticated,
    NotFound,
)
from veinline.domain.grading import InvalidFields
from veinline.domain.infusion import InfusionRefused
from veinline.entrypoints.http.deps import LoginRequired
from veinline.entrypoints.http.templates import render

API_PREFIX = "/api/"

STATUS_FOR: dict[type[DomainError], int] = {
    IdentityMismatch: 409,
    InfusionRefused: 409,
    InvalidInput: 422,
    NotFound: 404,
    NotAuthenticated: 401,
    NotAllowed: 403,
    Conflict: 409,
}


class ApiError(BaseModel):
    """A refusal under /api/ (`api_content`)."""

    error: str = Field(description="What kind of refusal: the error's code.")
    message: str = Field(description="Why, in words for a person.")


class Problem(BaseModel):
    field: str
    message: str


class ApiInvalid(BaseModel):
    """422: a refusal of veinline's bounds or rules ({error, message}, plus problems
    for grading input), or a body or parameter of the wrong shape ({detail})."""

    error: str | None = None
    message: str | None = None
    problems: list[Problem] | None = None
    detail: list[dict[str, Any]] | None = None


# What each refusal of the API means; the routes list theirs with `refusals(...)`.
REFUSALS: dict[int, str] = {
    401: "Not signed in: no bearer API token, or one unknown, revoked or expired.",
    403: "Not allowed: this user's role may not do this, the token may only read, or a "
    "password was wrong.",
    404: "No such record.",
    409: "Conflict: the record changed since the expected_version read, a unique value "
    "is taken, an identity mismatch, a refused infusion, or an Idempotency-Key still "
    "being answered.",
    413: "The request body is over the limit (1 MB; 8 MB for a logger file).",
    422: "Invalid input: out of bounds, refused by a rule, or of the wrong shape.",
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route that may answer these refusal statuses."""
    return {
        status: {
            "model": ApiInvalid if status == 422 else ApiError,
            "description": REFUSALS[status],
        }
        for status in statuses
    }


def status_for(exc: DomainError) -> int:
    for cls, status in STATUS_FOR.items():
        if isinstance(exc, cls):
            return status
    return 400


def refused(request: Request, exc: DomainError) -> Response:
    """A refusal as the caller reads it: JSON under /api/, the error page elsewhere."""
    if request.url.path.startswith(API_PREFIX):
        return JSONResponse(status_code=status_for(exc), content=api_content(exc))
    status = status_for(exc)
    return render(
        request, "error.html", status=status, message=exc.message, title=PAGE_TITLES.get(status)
    )


def api_content(exc: DomainError) -> dict[str, object]:
    """A refusal's JSON body under /api/."""
    content: dict[str, object] = {"error": exc.code, "message": exc.message}
    if isinstance(exc, InvalidFields):
        # Grading input: every problem found, each with the field it concerns.
        content["problems"] = [
            {"field": problem.field, "message": problem.message} for problem in exc.problems
        ]
    return content


def malformed(request: Request, exc: RequestValidationError) -> Response:
    """A body or parameter of the wrong shape: 422 with where and what, never the value
    sent (it may be a patient's data, or text no JSON encoder takes, such as a lone
    surrogate), escaped to ASCII."""
    detail = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    body = json.dumps({"detail": detail}, ensure_ascii=True, default=str)
    return Response(body, status_code=422, media_type="application/json")


def login_first(request: Request, exc: LoginRequired) -> Response:
    return RedirectResponse(f"/login?next={exc.path}", status_code=303)


# The heading of an error page, by status (otherwise "That did not work").
PAGE_TITLES: dict[int, str] = {403: "Not allowed", 404: "Not found", 405: "Not allowed here"}

# What a page says for an HTTP error that is no refusal of veinline's (an unknown
# address, a method the page does not take).
_PAGE_ERRORS: dict[int, str] = {
    404: "There is no page at this address.",
    405: "This page does not take that kind of request.",
}


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Starlette's own errors (404 for an unknown path, 405, ...): JSON under /api/ as
    FastAPI answers them, an error page elsewhere."""
    if request.url.path.startswith(API_PREFIX) or request.url.path.startswith("/static/"):
        return await http_exception_handler(request, exc)
    message = _PAGE_ERRORS.get(exc.status_code, str(exc.detail))
    response = render(
        request,
        "error.html",
        status=exc.status_code,
        message=message,
        title=PAGE_TITLES.get(exc.status_code),
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def install(app: FastAPI) -> None:
    """Register the handlers on the application."""

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return await http_error(request, exc)

    @app.exception_handler(DomainError)
    async def _refused(request: Request, exc: DomainError) -> Response:
        return refused(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _malformed(request: Request, exc: RequestValidationError) -> Response:
        return malformed(request, exc)

    @app.exception_handler(LoginRequired)
    async def _login_first(request: Request, exc: LoginRequired) -> Response:
        return login_first(request, exc)
