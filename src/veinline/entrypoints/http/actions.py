"""Case and batch actions as the API and the pages receive them: a name and a JSON object
of fields, turned into the command that does it (fields checked and named when wrong)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from veinline.domain.errors import InvalidInput
from veinline.services import commands

COMMAND_FOR_ACTION: dict[str, type[commands.Command]] = {
    "confirm_eligibility": commands.ConfirmEligibility,
    "book_apheresis": commands.BookApheresis,
    "plan": commands.SetPlannedDates,
    "collect": commands.Collect,
    "start_manufacturing": commands.StartManufacturing,
    "complete_manufacturing": commands.CompleteManufacturing,
    "release": commands.ReleaseProduct,
    "conditional_release": commands.ConditionalRelease,
    "recollect": commands.Recollect,
    "infuse": commands.Infuse,
    "start_follow_up": commands.StartFollowUp,
    "cancel": commands.CancelCase,
    "correct_name": commands.CorrectPatientName,
}


# What can be done to one batch record, by name (the batch id comes from the address).
BATCH_COMMANDS: dict[str, type[commands.Command]] = {
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


def field_names(action: str, table: dict[str, type[commands.Command]] | None = None) -> list[str]:
    cls = (table or COMMAND_FOR_ACTION)[action]
    key = "case_id" if table is None else "batch_id"
    # A page's form is read and posted at once; its expected version is the API's.
    return [f.name for f in dataclasses.fields(cls) if f.name not in (key, "expected_version")]


def build(action: str, case_id: str, body: dict[str, Any]) -> commands.Command:
    """The command for a case action, with fields checked and named when wrong."""
    return _build(COMMAND_FOR_ACTION, "case_id", action, case_id, body)


def build_batch(action: str, batch_id: str, body: dict[str, Any]) -> commands.Command:
    """The command for a batch action, with fields checked and named when wrong."""
    return _build(BATCH_COMMANDS, "batch_id", action, batch_id, body)


def _build(
    table: dict[str, type[commands.Command]],
    key_field: str,
    action: str,
    key: str,
    body: dict[str, Any],
) -> commands.Command:
    cls = table.get(action)
    if cls is None:
        raise InvalidInput(f"unknown action {action!r}; use one of: {', '.join(table)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(body) - set(fields) - {key_field})
    if unknown:
        raise InvalidInput(f"{action} does not take {', '.join(unknown)}")
    required = [
        name
        for name, f in fields.items()
        if name != key_field
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and name not in body
    ]
    if required:
        raise InvalidInput(
            f"{action} needs {', '.join(required)}",
            fields={name: f"{name.replace('_', ' ')} is required" for name in required},
        )
    values = {k: _coerce(fields[k], v) for k, v in body.items()}
    values[key_field] = key
    return cls(**values)


def _coerce(field: dataclasses.Field[Any], value: Any) -> Any:
    # Web forms send text; the API may too. Numbers are parsed here, named when wrong.
    kind = str(field.type)
    if kind.startswith("Annotated["):
        # A bounded field (services/bounds.py): the type it wraps comes first.
        kind = kind.removeprefix("Annotated[")
    if isinstance(value, str):
        if kind == "float | str":
            # A measured value stays as typed: the domain reads the number and keeps the
            # text, so "81.20" is shown with its significant figures.
            return value
        if kind.startswith("list"):
            return [item.strip() for item in value.split(",") if item.strip()]
        if kind.startswith("float"):
            return _number(field.name, value, float)
        if kind.startswith("int"):
            return _number(field.name, value, int)
        if kind.startswith("dict"):
            return json_object(value, field.name) if value.strip() else None
    return value


def json_object(text: str, what: str) -> dict[str, Any]:
    """A JSON object typed into a form; anything else is refused, naming the field."""
    try:
        parsed = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what} must be a JSON object: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return parsed


def _number(name: str, text: str, kind: type[float] | type[int]) -> float | int | None:
    if text.strip() == "":
        return None
    try:
        return kind(text)
    except ValueError:
        message = f"{name} needs a number, not {text!r}"
        raise InvalidInput(message, fields={name: message}) from None
