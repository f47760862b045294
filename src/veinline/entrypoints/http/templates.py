"""The Jinja environment of the web pages, the one way a page is rendered, and the
redirect a form answers with."""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from veinline.entrypoints.http.deps import SESSION_COOKIE, signed_in
from veinline.services import auth

templates = Jinja2Templates(
    directory=str(resources.files("veinline.entrypoints.http") / "templates")
)


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """Render a page; `user` is the signed-in user unless the route gives it."""
    context.setdefault("user", signed_in(request))
    # Every page form carries the session's CSRF token (entrypoints/http/security.py).
    session = request.cookies.get(SESSION_COOKIE)
    context.setdefault("csrf_token", auth.csrf_token(session) if session else "")
    return templates.TemplateResponse(request, name, context, status_code=status)


def see_other(path: str, **message: str) -> Response:
    """After a form: 303 to `path`, with what was done (`done=`) or refused (`error=`)."""
    return RedirectResponse(f"{path}?{urlencode(message)}", status_code=303)
