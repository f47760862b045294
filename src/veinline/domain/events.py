"""Domain events: what one aggregate's change means for another.

A handler that changes one aggregate emits an event; the message bus hands it to the
handlers of the aggregates that follow, inside the same unit of work, before it commits,
so the change and everything that follows from it land together or not at all (see
docs/architecture.md, "Events").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from veinline.domain.release import Disposition


@dataclass(frozen=True)
class Event:
    """Something that happened to one record that others may have to follow."""


@dataclass(frozen=True)
class BatchDisposed(Event):
    """QA decided on a batch: released, released conditionally or rejected."""

    batch_id: str
    case_id: str | None
    disposition: Disposition
    reason: str
    acknowledged_by: str | None
    at: datetime


@dataclass(frozen=True)
class ResultsOutOfSpecification(Event):
    """A batch's QC results stand out of its specification."""

    batch_id: str
    case_id: str | None
    failed: str
