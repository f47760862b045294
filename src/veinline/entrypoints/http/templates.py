"""The Jinja environment of the web pages and the one way a page is rendered."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from veinline.entrypoints.http.deps import signed_in

templates = Jinja2Templates(
    directory=str(resources.files("veinline.entrypoints.http") / "templates")
)


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """Render a page; `user` is the signed-in user unless the route gives it."""
    context.setdefault("user", signed_in(request))
    return templates.TemplateResponse(request, name, context, status_code=status)
