"""Case actions as the API and the pages receive them: a name and a JSON object of fields."""

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
}


def field_names(action: str) -> list[str]:
    cls = COMMAND_FOR_ACTION[action]
    return [f.name for f in dataclasses.fields(cls) if f.name != "case_id"]  # type: ignore[arg-type]


def build(action: str, case_id: str, body: dict[str, Any]) -> commands.Command:
    """The command for an action, with fields checked and named when wrong."""
    cls = COMMAND_FOR_ACTION.get(action)
    if cls is None:
        raise InvalidInput(
            f"unknown action {action!r}; use one of: {', '.join(COMMAND_FOR_ACTION)}"
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(body) - set(fields) - {"case_id"})
    if unknown:
        raise InvalidInput(f"{action} does not take {', '.join(unknown)}")
    required = [
        name
        for name, f in fields.items()
        if name != "case_id"
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and name not in body
    ]
    if required:
        raise InvalidInput(f"{action} needs {', '.join(required)}")
    values = {k: _coerce(fields[k], v) for k, v in body.items()}
    values["case_id"] = case_id
    return cls(**values)


def _coerce(field: dataclasses.Field[Any], value: Any) -> Any:
    # Web forms send text; the API may too. Numbers are parsed here, named when wrong.
    kind = str(field.type)
    if isinstance(value, str):
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
        raise InvalidInput(f"{name} needs a number, not {text!r}") from None
