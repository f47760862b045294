"""Batch record actions as the pages receive them: an action name and a form's text fields.

Each action is one manufacturing command; the form's fields are its fields, typed as
text. Values (process values, QC results) stay text: the domain parses them against
their parameter or test, so a typo is refused with a message that names the limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from veinline.domain.errors import InvalidInput
from veinline.services import commands

COMMAND_FOR_ACTION: dict[str, type[commands.Command]] = {
    "start_step": commands.StartStep,
    "record_value": commands.RecordValue,
    "correct_value": commands.CorrectValue,
    "complete_step": commands.CompleteStep,
    "verify_step": commands.VerifyStep,
    "verify_correction": commands.VerifyCorrection,
    "raise_deviation": commands.RaiseDeviation,
    "investigate_deviation": commands.InvestigateDeviation,
    "classify_deviation": commands.ClassifyDeviation,
    "close_deviation": commands.CloseDeviation,
    "abort": commands.AbortBatch,
    "enter_result": commands.EnterResult,
    "correct_result": commands.CorrectResult,
    "open_investigation": commands.OpenInvestigation,
    "acknowledge": commands.AcknowledgeResults,
    "release": commands.ReleaseBatch,
    "release_conditionally": commands.ReleaseBatchConditionally,
    "reject": commands.RejectBatch,
}

# What the page says was done, once the command went through.
DONE: dict[str, str] = {
    "start_step": "step started",
    "record_value": "value recorded",
    "correct_value": "correction entered",
    "complete_step": "step signed as performed",
    "verify_step": "step signed as verified",
    "verify_correction": "correction signed as verified",
    "raise_deviation": "deviation raised",
    "investigate_deviation": "investigation started",
    "classify_deviation": "deviation reclassified",
    "close_deviation": "deviation closed and signed",
    "abort": "batch aborted",
    "enter_result": "result entered",
    "correct_result": "result corrected",
    "open_investigation": "OOS investigation opened",
    "acknowledge": "results acknowledged and signed",
    "release": "batch released and signed",
    "release_conditionally": "batch released conditionally and signed",
    "reject": "batch rejected and signed",
}


def build(action: str, batch_id: str, form: Mapping[str, str]) -> commands.Command:
    """The command for an action on a batch, its fields taken from the form."""
    cls = COMMAND_FOR_ACTION.get(action)
    if cls is None:
        raise InvalidInput(
            f"unknown batch action {action!r}; use one of: {', '.join(COMMAND_FOR_ACTION)}"
        )
    values: dict[str, Any] = {"batch_id": batch_id}
    missing = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name == "batch_id":
            continue
        raw = form.get(f.name)
        optional = (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        if raw is None:
            if not optional:
                missing.append(f.name)
            continue
        values[f.name] = _coerce(f.name, str(f.type), raw)
    if missing:
        raise InvalidInput(f"{action.replace('_', ' ')} needs {', '.join(missing)}")
    return cls(**values)


def _coerce(name: str, kind: str, raw: str) -> Any:
    if kind == "int":
        try:
            return int(raw.strip().lstrip("#"))
        except ValueError:
            raise InvalidInput(f"{name} must be a whole number, not {raw!r}") from None
    if kind.startswith("list"):
        # Equipment ids typed one per line or separated by commas.
        return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]
    if kind.endswith("| None"):
        return raw.strip() or None
    return raw
