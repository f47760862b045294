"""Idempotency-Keys: a retried request is answered once (docs/security.md, "Concurrency").

A client that may retry a request (a scanner on a poor network) sends a key of its own
choosing with it. The first request with the key runs its command; the commit of that
change also claims the key (user, key, a hash of the request), so the change and the
claim land together or not at all. Its answer (status and JSON) is then kept with the
key. A retry with the same key and the same request gets that answer again and changes
nothing; the same key with a different request is refused.

A refusal is kept as the answer only when its request wrote something (a mismatched
scan's identity incident, in a transaction of its own that claims the key too);
otherwise nothing was recorded and a retry runs the command again.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from veinline.domain.errors import Conflict, DomainError, InvalidInput
from veinline.domain.ledger import canonical_json
from veinline.domain.user import User
from veinline.services import commands
from veinline.services.messagebus import MessageBus
from veinline.services.unit_of_work import AbstractUnitOfWork, Claim, KeyTaken, StoredKey

MAX_KEY_LENGTH = 200
# How long a retry waits for the first request with its key to be answered.
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05


class KeyReused(InvalidInput):
    """The key was used before for a different request."""

    code = "idempotency_key_reused"


class KeyInProgress(Conflict):
    """The first request with this key has not been answered yet."""

    code = "idempotency_key_in_use"


@dataclass(frozen=True)
class Answer:
    """What the client was told: an HTTP status and a JSON body; `replayed` when it is
    the kept answer of an earlier request with the same key."""

    status: int
    body: Any
    replayed: bool = False


def request_hash(route: str, body: object) -> str:
    """A fingerprint of a request: its route (method and path) and its JSON body."""
    text = canonical_json({"route": route, "body": body})
    return hashlib.sha256(text.encode()).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(f"an Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable characters")
    return key


def answer_once(
    bus: MessageBus,
    uow_factory: Callable[[], AbstractUnitOfWork],
    cmd: commands.Command,
    *,
    actor: User,
    key: str,
    fingerprint: str,
    answer: Callable[[Any], Answer],
    refusal: Callable[[DomainError], Answer],
) -> Answer:
    """Run `cmd` once for this user's `key`: the first time, its answer (from `answer`
    of the handler's result, or `refusal` of a refusal that wrote something); a retry,
    the same answer again."""
    key = check_key(key)
    stored = _find(uow_factory, actor.username, key)
    if stored is not None:
        return _replay(uow_factory, actor.username, key, fingerprint, stored)
    claim = Claim(actor.username, key, fingerprint, uuid.uuid4().hex)
    try:
        result = bus.handle(cmd, actor=actor, claim=claim)
    except KeyTaken:
        # The same request at the same moment: the other one's change stands.
        return _replay(uow_factory, actor.username, key, fingerprint, None)
    except DomainError as exc:
        stored = _find(uow_factory, actor.username, key)
        if stored is None:
            raise  # nothing was recorded: a retry runs the command again
        if stored.attempt != claim.attempt:
            # A twin claimed the key first; this one was refused because of its change.
            return _replay(uow_factory, actor.username, key, fingerprint, stored)
        given = refusal(exc)
        _remember(uow_factory, claim, given)
        return given
    given = answer(result)
    _remember(uow_factory, claim, given)
    return given


def _find(
    uow_factory: Callable[[], AbstractUnitOfWork], username: str, key: str
) -> StoredKey | None:
    with uow_factory() as uow:
        return uow.idempotency.find(username, key)


def _remember(uow_factory: Callable[[], AbstractUnitOfWork], claim: Claim, given: Answer) -> None:
    with uow_factory() as uow:
        uow.idempotency.answer(claim, given.status, given.body)
        uow.commit()


def _replay(
    uow_factory: Callable[[], AbstractUnitOfWork],
    username: str,
    key: str,
    fingerprint: str,
    stored: StoredKey | None,
) -> Answer:
    """The kept answer of the key's first request, waiting a little for it if need be."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        if stored is not None:
            if stored.request_hash != fingerprint:
                raise KeyReused(
                    f"Idempotency-Key {key!r} was used for a different request: "
                    "use a new key for a new request"
                )
            if stored.status is not None:
                return Answer(stored.status, stored.response, replayed=True)
        if time.monotonic() >= deadline:
            raise KeyInProgress(
                f"the first request with Idempotency-Key {key!r} is still being answered: "
                "retry in a moment"
            )
        time.sleep(POLL_SECONDS)
        stored = _find(uow_factory, username, key)
