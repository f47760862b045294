"""What every page and answer carries against cross-site abuse (OWASP Cross-Site Request
Forgery Prevention and HTTP Headers cheat sheets; docs/security.md):

- security headers on every response (`SecurityHeaders`, an ASGI middleware): a
  Content-Security-Policy with scripts only from this origin and no framing, `nosniff`,
  `Referrer-Policy: same-origin`;
- `csrf_guard`, on every page route: a non-GET request must come from this origin
  (Origin, else Referer) and carry the form's CSRF token (the session's, or the login
  form's own cookie before there is a session);
- `set_cookie`: HttpOnly, SameSite=Lax, and Secure over HTTPS or when the settings say so.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veinline.domain.errors import NotAllowed
from veinline.entrypoints.http.deps import READ_METHODS, SESSION_COOKIE, application_of
from veinline.services import auth

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_CSRF_COOKIE = "veinline_login_csrf"
LOGIN_PATH = "/login"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Inline style attributes carry each state's colour; no inline script is allowed.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}

_REFUSED = "the form was refused: it has expired or came from another site; reload the page"
_FOREIGN = "the form was refused: it was sent from another site"


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every HTTP response (pages, API, static files, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode("latin-1") not in present:
                        headers.append((name.encode("latin-1"), value.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or application_of(request).settings.secure_cookies


def set_cookie(
    request: Request, response: Response, name: str, value: str, path: str = "/"
) -> None:
    """A cookie scripts cannot read, not sent on cross-site requests, Secure over HTTPS."""
    response.set_cookie(
        name, value, httponly=True, samesite="lax", secure=is_https(request), path=path
    )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def check_origin(request: Request) -> None:
    """A state-changing page request must come from this origin: its Origin header, or
    failing that its Referer, names this host and port (another port is another site)."""
    own = request.url.netloc.lower()
    origin = request.headers.get("origin")
    if origin is not None:
        if origin == "null" or urlsplit(origin).netloc.lower() != own:
            raise NotAllowed(_FOREIGN)
        return
    referer = request.headers.get("referer")
    if referer and urlsplit(referer).netloc.lower() != own:
        raise NotAllowed(_FOREIGN)


async def form_of(request: Request) -> dict[str, str]:
    """A page form's text fields, without its CSRF token (checked already by the guard)."""
    form = await request.form()
    return {k: str(v) for k, v in form.items() if k != CSRF_FIELD}


async def csrf_guard(request: Request) -> None:
    """Every non-GET page request: from this origin, with the form's CSRF token."""
    if request.method.upper() in READ_METHODS:
        return
    check_origin(request)
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if request.url.path == LOGIN_PATH:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    else:
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            # No session rides on this request: nothing to forge; the page itself
            # sends the browser to sign in.
            return
        expected = auth.csrf_token(session)
    # Bytes, not str: compare_digest raises TypeError on non-ASCII str (a 500).
    if (
        not expected
        or not isinstance(sent, str)
        or not hmac.compare_digest(
            sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
        )
    ):
        raise NotAllowed(_REFUSED)
