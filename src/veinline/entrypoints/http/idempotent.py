"""The Idempotency-Key header of the API's non-idempotent POSTs: read it, fingerprint the
request, and let services/idempotency.py answer once; without the header the command
simply runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from veinline.bootstrap import App
from veinline.domain.errors import DomainError
from veinline.domain.user import User
from veinline.entrypoints.http import errors
from veinline.services import commands, idempotency

REPLAYED_HEADER = "Idempotent-Replayed"


def run(
    request: Request,
    application: App,
    actor: User,
    key: str | None,
    cmd: commands.Command,
    *,
    body: object,
    render: Callable[[Any], Any],
    status: int,
) -> Any:
    """The route's answer: `render` of the command's result, at most once per key."""
    if key is None:
        return render(application.bus.handle(cmd, actor=actor))
    given = idempotency.answer_once(
        application.bus,
        application.uow,
        cmd,
        actor=actor,
        key=key,
        fingerprint=idempotency.request_hash(
            f"{request.method} {request.url.path}", jsonable_encoder(body)
        ),
        answer=lambda result: idempotency.Answer(status, jsonable_encoder(render(result))),
        refusal=_refusal,
    )
    headers = {REPLAYED_HEADER: "true"} if given.replayed else {}
    return JSONResponse(given.body, status_code=given.status, headers=headers)


def _refusal(exc: DomainError) -> idempotency.Answer:
    return idempotency.Answer(errors.status_for(exc), errors.api_content(exc))
