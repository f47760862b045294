"""Idempotency-Keys answered once, on the in-memory unit of work (services/idempotency.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes import FakeUnitOfWork
from veinline.domain.errors import DomainError, NotAllowed
from veinline.domain.identifiers import IdentifierKind
from veinline.domain.user import Role, User
from veinline.services import commands, idempotency
from veinline.services.messagebus import MessageBus
from veinline.services.unit_of_work import AbstractUnitOfWork

NURSE = User("nurse", "A Nurse", Role.APHERESIS_NURSE, None, datetime(2026, 3, 2, tzinfo=UTC))


def _issue(cmd: commands.IssueIdentifier, uow: AbstractUnitOfWork, *, actor: User) -> int:
    """A stand-in handler: counts, or refuses as the purpose says."""
    with uow:
        if cmd.purpose == "refused":
            raise NotAllowed("refused, nothing written")
        if cmd.purpose == "kept":
            # Like a mismatched scan: refused, but its incident is written on its own.
            uow.rollback()
            uow.sequences.next_in("test", "X")
            uow.commit()
            raise NotAllowed("refused, incident kept")
        number = uow.sequences.next_in("test", "N")
        uow.commit()
        return number


@pytest.fixture
def fake() -> FakeUnitOfWork:
    return FakeUnitOfWork(lambda: datetime(2026, 3, 2, tzinfo=UTC))


def _once(fake: FakeUnitOfWork, purpose: str, key: str = "k1") -> idempotency.Answer:
    bus = MessageBus(lambda: fake, {}, {commands.IssueIdentifier: _issue})

    def refusal(exc: DomainError) -> idempotency.Answer:
        return idempotency.Answer(403, {"message": exc.message})

    return idempotency.answer_once(
        bus,
        lambda: fake,
        commands.IssueIdentifier(IdentifierKind.DIN, "A9995", purpose),
        actor=NURSE,
        key=key,
        fingerprint=idempotency.request_hash("POST /x", {"purpose": purpose}),
        answer=lambda number: idempotency.Answer(201, {"number": number}),
        refusal=refusal,
    )


def test_a_retry_gets_the_first_answer_and_runs_nothing(fake: FakeUnitOfWork) -> None:
    first = _once(fake, "counted")
    again = _once(fake, "counted")
    assert (first.status, first.body, first.replayed) == (201, {"number": 1}, False)
    assert (again.status, again.body, again.replayed) == (201, {"number": 1}, True)
    assert fake.sequences.records == {("test", "N"): 1}
    assert _once(fake, "counted", key="k2").body == {"number": 2}


def test_the_same_key_for_another_request_is_refused(fake: FakeUnitOfWork) -> None:
    _once(fake, "counted")
    with pytest.raises(idempotency.KeyReused, match="used for a different request"):
        _once(fake, "something else")


def test_a_refusal_that_wrote_nothing_is_not_kept(fake: FakeUnitOfWork) -> None:
    with pytest.raises(NotAllowed):
        _once(fake, "refused")
    assert fake.idempotency.rows == {}


def test_a_refusal_that_wrote_something_is_kept_and_replayed(fake: FakeUnitOfWork) -> None:
    first = _once(fake, "kept")
    again = _once(fake, "kept")
    assert (
        (first.status, first.body)
        == (again.status, again.body)
        == (
            403,
            {"message": "refused, incident kept"},
        )
    )
    assert again.replayed and fake.sequences.records == {("test", "X"): 1}


@pytest.mark.parametrize("key", ["", "   ", "x" * 201, "tab\there"])
def test_a_key_is_printable_and_not_too_long(fake: FakeUnitOfWork, key: str) -> None:
    with pytest.raises(DomainError, match="Idempotency-Key is 1 to 200 printable"):
        _once(fake, "counted", key=key)


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    a: dict[str, Any] = {"a": 1, "b": [1, 2]}
    assert idempotency.request_hash("POST /x", a) == idempotency.request_hash(
        "POST /x", {"b": [1, 2], "a": 1}
    )
    assert idempotency.request_hash("POST /x", a) != idempotency.request_hash("POST /y", a)
