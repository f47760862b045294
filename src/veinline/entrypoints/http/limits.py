"""Requests are bounded before any route reads them (docs/security.md, "Bounded input"):
an address (path or query) with a control character or an unpaired surrogate is 422,
and a body over 1 MB (8 MB for a temperature logger's file) is 413.

A body announced too large by its Content-Length is answered at once; a body streamed
without one is counted as it arrives and refused when it passes the limit. Command
fields are bounded again, field by field, by the bus (`services/bounds.py`).
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_plus

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1_000_000
# A logger export (`services.bounds.LOGGER_CSV_MAX` characters) as a file or JSON string.
MAX_LOGGER_BODY = 8_000_000
_LOGGER_PATH = re.compile(r"^(/api/v1)?/shipments/[^/]+/logger$")
# C0 and C1 controls, DEL and unpaired surrogates: no identifier or search holds them.
_BAD_IN_ADDRESS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def limit_for(path: str) -> int:
    """The largest body a request to this path may carry."""
    return MAX_LOGGER_BODY if _LOGGER_PATH.match(path) else MAX_BODY


def bad_address(scope: Scope) -> bool:
    """True when the decoded path or query holds a control character or lone surrogate."""
    query = unquote_plus(scope.get("query_string", b"").decode("latin-1"), errors="surrogateescape")
    return bool(_BAD_IN_ADDRESS.search(scope["path"]) or _BAD_IN_ADDRESS.search(query))


def _message(limit: int) -> str:
    return f"the request body is too large (at most {limit:,} bytes)"


class BodyLimit:
    """ASGI middleware: an address with a control character is 422, a body over the
    path's limit 413, before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if bad_address(scope):
            await _answer(scope, send, 422, "invalid_input", _ADDRESS)
            return
        limit = limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False
            if too_large:
                await _answer(scope, send, 413, "too_large", _message(limit))
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, _message(limit))
            return message

        await self.app(scope, counted, send)


_ADDRESS = "the address contains a control character or an invalid character"


async def _answer(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    path: str = scope["path"]
    if path.startswith("/api/"):
        body = json.dumps({"error": code, "message": message}).encode()
        content_type = b"application/json"
    else:
        body = message.encode()
        content_type = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
