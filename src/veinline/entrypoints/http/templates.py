"""The Jinja environment of the web pages, the one way a page is rendered, and the
redirect a form answers with.

What a form did (or why it was refused) reaches the next page in the session, never in
the address: `see_other` puts it in a short-lived cookie signed under the session token
(an HMAC, so no other session and no crafted link can set it), and `render` shows it
once and clears it (docs/security.md, "Messages").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from veinline.domain.case import local_text
from veinline.domain.user import Role, User
from veinline.entrypoints.http.deps import SESSION_COOKIE, signed_in
from veinline.entrypoints.http.security import set_cookie
from veinline.services import auth, authority, commands
from veinline.services.authority import Read

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


FLASH_COOKIE = "veinline_flash"
_FLASH_LABEL = b"veinline-flash:"
# A message is a sentence or two; anything longer is cut (a cookie holds about 4 kB).
_FLASH_LIMIT = 1500


def _flash_mac(session: str, payload: str) -> str:
    return hmac.new(
        session.encode("utf-8"), _FLASH_LABEL + payload.encode("ascii"), hashlib.sha256
    ).hexdigest()


def flash_value(session: str, done: str | None = None, error: str | None = None) -> str:
    """The cookie's value: the message, and its HMAC under the session token."""
    message = {k: v[:_FLASH_LIMIT] for k, v in (("done", done), ("error", error)) if v}
    payload = base64.urlsafe_b64encode(json.dumps(message).encode("utf-8")).decode("ascii")
    return f"{payload}.{_flash_mac(session, payload)}"


def read_flash(request: Request) -> dict[str, str]:
    """The message the last form left for this session, if its signature holds."""
    value = request.cookies.get(FLASH_COOKIE, "")
    session = request.cookies.get(SESSION_COOKIE)
    payload, _, mac = value.partition(".")
    if not (session and payload and mac):
        return {}
    try:
        if not hmac.compare_digest(mac.encode("ascii"), _flash_mac(session, payload).encode()):
            return {}
        message = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return {}
    if not isinstance(message, dict):
        return {}
    return {k: str(v) for k, v in message.items() if k in ("done", "error") and v}


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """Render a page; `user` is the signed-in user unless the route gives it. A message
    left by the last form (`see_other`) is shown once as `done` or `error`."""
    user = context.setdefault("user", signed_in(request))
    # Every page form carries the session's CSRF token (entrypoints/http/security.py).
    session = request.cookies.get(SESSION_COOKIE)
    context.setdefault("csrf_token", auth.csrf_token(session) if session else "")
    flash = read_flash(request)
    for key in ("done", "error"):
        if not context.get(key) and flash.get(key):
            context[key] = flash[key]
    context.setdefault("nav", navigation(user))
    response = templates.TemplateResponse(request, name, context, status_code=status)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def see_other(
    request: Request,
    path: str,
    *,
    done: str | None = None,
    error: str | None = None,
    **query: str,
) -> Response:
    """After a form: 303 to `path`; what was done or refused goes in the session's
    signed message cookie, never the address (`query` is for real parameters only)."""
    target = f"{path}?{urlencode(query)}" if query else path
    response = RedirectResponse(target, status_code=303)
    session = request.cookies.get(SESSION_COOKIE)
    if session and (done or error):
        set_cookie(request, response, FLASH_COOKIE, flash_value(session, done, error))
    return response


# The menu: each link with what its page needs (services/authority.py), so a user sees
# only the pages they may use.
def navigation(user: User | None) -> list[tuple[str, str]]:
    """The links this user's role may use, in menu order."""
    if user is None:
        return [("/catalog", "Catalogue"), ("/sites", "Sites")]
    rules: list[tuple[str, str, bool]] = [
        ("/cases", "Cases", authority.may(user, Read.CASE)),
        (
            "/manufacturing",
            "Manufacturing",
            authority.may(user, Read.BATCH)
            and (
                any(
                    authority.may(user, c)
                    for c in (commands.StartStep, commands.EnterResult, commands.ReleaseBatch)
                )
                or user.role is Role.PLANNER
            ),
        ),
        ("/qc", "QC", authority.may(user, commands.EnterResult)),
        ("/release", "Release", authority.may(user, commands.ReleaseBatch)),
        ("/planning", "Planning", authority.may(user, Read.PLAN)),
        ("/capacity", "Capacity", authority.may(user, Read.PLAN)),
        ("/trials", "Trials", authority.may(user, Read.REPORT)),
        ("/inventory", "Inventory", authority.may(user, Read.INVENTORY)),
        ("/catalog", "Catalogue", authority.may(user, Read.CATALOGUE)),
        ("/sites", "Sites", authority.may(user, Read.CATALOGUE)),
        ("/ledger", "Ledger", authority.may(user, Read.LEDGER)),
    ]
    return [(href, text) for href, text, allowed in rules if allowed]


def pager(path: str, query: dict[str, Any], page: int, pages: int) -> dict[str, Any]:
    """A list's "page N of M" with the links to the pages before and after, each keeping
    the list's search and filters (empty ones left out of the address)."""

    def link(number: int) -> str:
        kept = {k: v for k, v in query.items() if v not in ("", None)}
        return f"{path}?{urlencode({**kept, 'page': number})}"

    return {
        "page": page,
        "pages": pages,
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
    }
