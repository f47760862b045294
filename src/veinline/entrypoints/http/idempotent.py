"""The Idempotency-Key header of the API's non-idempotent POSTs: read it, fingerprint the
request, and let services/idempotency.py answer once; without the header the command
simply runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

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


# A create form carries a one-time token (a hidden field): sent twice (a double click, a
# reload that posts again), it makes one record, and the second submission lands on the
# first one's page. The token is an Idempotency-Key like the API's, under its own prefix.
FORM_TOKEN = "form_token"  # noqa: S105 - a form field name, not a secret
_NOT_FINGERPRINTED = frozenset({"csrf_token", "password", FORM_TOKEN})


def new_form_token() -> str:
    """A fresh token for a create form as it is rendered."""
    return uuid.uuid4().hex


def form_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    sent: dict[str, str] | None = None,
    refused: DomainError | None = None,
) -> Response:
    """A page whose create forms carry a fresh one-time token; after a refusal, with the
    form as it was sent (never its password or tokens), the refusal's message and its
    status (http/errors.py): what was typed is not typed again."""
    from veinline.entrypoints.http.templates import render

    kept = {k: v for k, v in (sent or {}).items() if k not in _NOT_FINGERPRINTED}
    return render(
        request,
        template,
        status=errors.status_for(refused) if refused else 200,
        error=refused.message if refused else None,
        form=kept,
        form_token=new_form_token(),
        **context,
    )


@dataclass(frozen=True)
class Made:
    """What a create form made: the record's address, and the record itself when this
    submission made it (None when an earlier one with the same token did)."""

    location: str
    result: Any = None

    @property
    def repeated(self) -> bool:
        return self.result is None


def once_from_form(
    request: Request,
    application: App,
    actor: User,
    form: dict[str, str],
    cmd: commands.Command,
    *,
    location: Callable[[Any], str],
) -> Made:
    """Run a create form's command once per its token: the address of the record made
    (by this submission, or by the first with the same token). A refusal is raised as it
    is; nothing was made, so the same form may be sent again once corrected. A form
    without a token simply runs."""
    token = form.get(FORM_TOKEN, "").strip()
    if not token:
        result = application.bus.handle(cmd, actor=actor)
        return Made(location(result), result)
    made: list[Any] = []

    def answer(result: Any) -> idempotency.Answer:
        made.append(result)
        return idempotency.Answer(303, {"location": location(result)})

    sent = {k: v for k, v in form.items() if k not in _NOT_FINGERPRINTED}
    given = idempotency.answer_once(
        application.bus,
        application.uow,
        cmd,
        actor=actor,
        key=f"form {token}",
        fingerprint=idempotency.request_hash(f"{request.method} {request.url.path}", sent),
        answer=answer,
        refusal=_refusal,
    )
    body = given.body if isinstance(given.body, dict) else {}
    if "location" not in body:
        raise DomainError(str(body.get("message", "the form was refused")))
    return Made(str(body["location"]), made[0] if made and not given.replayed else None)
