"""Events that force a replan: a batch that failed, or a batch that runs late.

An event file is one JSON object, e.g.::

    {"type": "batch_failure", "patient": "P0123", "date": "2025-05-02"}
    {"type": "slip", "patient": "P0456", "date": "2025-05-02",
     "new_manufacturing_end": "2025-05-09"}

`date` is the day the event is known: work whose cells were collected on or before
that day is under way and stays as planned.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from veinline.domain.errors import InvalidInput
from veinline.planning.scenario import describe_validation_error


class BatchFailure(BaseModel):
    """The batch of `patient` failed on `date`; the patient must be collected again after it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["batch_failure"] = "batch_failure"
    patient: str = Field(min_length=1)
    date: dt.date


class Slip(BaseModel):
    """The batch of `patient` will end on `new_manufacturing_end`, later than planned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["slip"] = "slip"
    patient: str = Field(min_length=1)
    date: dt.date
    new_manufacturing_end: dt.date


Event = Annotated[BatchFailure | Slip, Field(discriminator="type")]
_EVENT = TypeAdapter(Event)


def parse_event(data: Mapping[str, Any] | str | bytes) -> BatchFailure | Slip:
    """Validate an event given as parsed JSON or JSON text; raise `InvalidInput` if wrong."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"event is not valid JSON: {error}") from error
    if not isinstance(data, Mapping):
        raise InvalidInput("event must be a JSON object")
    try:
        return _EVENT.validate_python(data)
    except ValidationError as error:
        raise InvalidInput(
            "event is invalid:\n" + describe_validation_error(error, root="")
        ) from error


def load_event(path: Path) -> BatchFailure | Slip:
    """Read and validate an event JSON file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"cannot read event file {path}: {error.strerror}") from error
    return parse_event(text)
