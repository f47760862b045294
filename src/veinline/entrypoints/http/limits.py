"""Request bodies are bounded before any route reads them (docs/security.md, "Bounded
input"): 1 MB, or 8 MB for a temperature logger's file; over the limit is 413.

A body announced too large by its Content-Length is answered at once; a body streamed
without one is counted as it arrives and refused when it passes the limit.
"""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1_000_000
# A logger export (`services.bounds.LOGGER_CSV_MAX` characters) as a file or JSON string.
MAX_LOGGER_BODY = 8_000_000
_LOGGER_PATH = re.compile(r"^(/api/v1)?/shipments/[^/]+/logger$")


def limit_for(path: str) -> int:
    """The largest body a request to this path may carry."""
    return MAX_LOGGER_BODY if _LOGGER_PATH.match(path) else MAX_BODY


def _message(limit: int) -> str:
    return f"the request body is too large (at most {limit:,} bytes)"


class BodyLimit:
    """ASGI middleware refusing request bodies over the path's limit with 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False
            if too_large:
                await _refuse(scope, send, limit)
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


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    path: str = scope["path"]
    if path.startswith("/api/"):
        body = json.dumps({"error": "too_large", "message": _message(limit)}).encode()
        content_type = b"application/json"
    else:
        body = _message(limit).encode()
        content_type = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
