"""The Jinja environment of the web pages, the one way a page is rendered, and the
redirect a form answers with."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from veinline.domain.case import local_text
from veinline.entrypoints.http.deps import SESSION_COOKIE, signed_in
from veinline.services import auth

templates = Jinja2Templates(
    directory=str(resources.files("veinline.entrypoints.http") / "templates")
)


def local(value: object, zone: str | None = None) -> Markup | object:
    """`{{ e.at|local(zone) }}`: a stored moment in the zone of the site where it happened,
    the zone named, UTC on hover (docs/architecture.md, "Local time"). Accepts a datetime,
    an ISO text or the record's 'YYYY-MM-DD HH:MM:SS UTC'; anything else is shown as is."""
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        for parse in (
            datetime.fromisoformat,
            lambda t: datetime.strptime(t, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC),
        ):
            try:
                moment = parse(value)
                break
            except ValueError:
                continue
    if moment is None or moment.tzinfo is None:
        return value if value is not None else "—"
    utc = moment.astimezone(UTC)
    shown = local_text(moment, zone or "UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        utc.isoformat(), f"{utc:%Y-%m-%d %H:%M:%S} UTC · {zone or 'UTC'}", escape(shown)
    )


templates.env.filters["local"] = local


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
