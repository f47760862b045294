"""Domain events are handled inside the unit of work that emitted them, before it commits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fakes import FakeUnitOfWork
from veinline.domain.events import Event, ResultsOutOfSpecification
from veinline.services.unit_of_work import AbstractUnitOfWork

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _event(batch: str = "B-1") -> ResultsOutOfSpecification:
    return ResultsOutOfSpecification(batch_id=batch, case_id="C-1", failed="viability 62%")


def test_events_reach_their_handlers_before_the_commit_and_may_emit_more() -> None:
    uow = FakeUnitOfWork(lambda: T0)
    seen: list[str] = []

    def publish(event: Event, in_uow: AbstractUnitOfWork) -> None:
        assert isinstance(event, ResultsOutOfSpecification)
        seen.append(event.batch_id)
        if event.batch_id == "B-1":
            in_uow.emit(_event("B-2"))

    uow.publish = publish
    with uow:
        uow.emit(_event())
        uow.commit()
    assert seen == ["B-1", "B-2"]


def test_an_event_nobody_handles_stops_the_commit() -> None:
    uow = FakeUnitOfWork(lambda: T0)
    with uow, pytest.raises(LookupError, match="nothing handles ResultsOutOfSpecification"):
        uow.emit(_event())
        uow.commit()


def test_events_of_a_transaction_rolled_back_are_forgotten() -> None:
    uow = FakeUnitOfWork(lambda: T0)
    seen: list[Event] = []
    uow.publish = lambda event, _: seen.append(event)
    with uow:
        uow.emit(_event())
    with uow:
        uow.commit()
    assert seen == []
