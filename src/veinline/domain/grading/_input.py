"""Each scale's declared input fields, and reading input against them.

Every scale declares its fields once (`Field`): the declaration is what users are shown
(`grading.fields(kind)`, `grading.json_schema(kind)`) and what input is checked against, so
the two cannot drift apart. Reading collects every problem before refusing, so one answer
names all the fields to fix rather than the first.

Numbers are read as `Decimal` (from the shortest repr of a float) so that thresholds such
as "down ≥ 30%" are compared exactly: 70 mm against a 100 mm baseline is a PR, not a
floating-point near miss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, TypeVar

from veinline.domain.errors import InvalidInput

Number = Decimal | int
FieldType = Literal["number", "integer", "boolean", "choice", "texts", "object", "objects"]
T = TypeVar("T")

# How each field type reads in a help line and in a refusal.
_TYPE_WORDS: dict[str, str] = {
    "number": "number",
    "integer": "whole number",
    "boolean": "true or false",
    "choice": "one of the listed values",
    "texts": "list of texts",
    "object": "object",
    "objects": "list of objects",
}


@dataclass(frozen=True, slots=True)
class Field:
    """One input field of a grading scale: its name, type, unit, bounds and meaning."""

    name: str
    type: FieldType
    description: str
    unit: str = ""
    required: bool = True
    # For an optional field that some answers need: when, in words ("when the device is
    # nasal_cannula"). Used in the help and in the refusal when it is missing.
    required_when: str = ""
    choices: tuple[str, ...] = ()
    minimum: Number | None = None
    above: Number | None = None
    maximum: Number | None = None
    # Added to an out-of-range refusal, e.g. "degrees Celsius" for 101.3.
    hint: str = ""
    # The fields of an object, or of each object in a list of objects.
    fields: tuple[Field, ...] = ()
    min_items: int = 0

    def __post_init__(self) -> None:
        # A declaration error is a programming error: fail on import, not on a patient.
        if self.required and self.required_when:
            raise ValueError(f"{self.name}: a required field has no required_when")
        if (self.type == "choice" and not self.choices) or (
            self.choices and self.type not in ("choice", "texts")
        ):
            raise ValueError(f"{self.name}: a choice field lists its choices, no other does")
        if bool(self.fields) != (self.type in ("object", "objects")):
            raise ValueError(f"{self.name}: nested fields belong to object fields")
        if not self.description or "\n" in self.description:
            raise ValueError(f"{self.name}: the description is one line")

    def range_text(self) -> str:
        """The allowed range in words, e.g. "0–100", "> 0", "≥ 0"; empty when unbounded."""
        low = (
            f"> {fmt(Decimal(self.above))}"
            if self.above is not None
            else f"≥ {fmt(Decimal(self.minimum))}"
            if self.minimum is not None
            else ""
        )
        if self.maximum is None:
            return low
        high = fmt(Decimal(self.maximum))
        if self.minimum is not None and self.above is None:
            return f"{fmt(Decimal(self.minimum))}–{high}"
        return f"{low}, ≤ {high}" if low else f"≤ {high}"

    def requirement(self) -> str:
        """Whether the field is required, or when an optional one is needed, in words."""
        if self.required:
            return "required"
        return f"optional; needed {self.required_when}" if self.required_when else "optional"

    def summary(self) -> str:
        """One line for a help screen: name, type, unit, range, requirement, meaning."""
        kind = _TYPE_WORDS[self.type]
        if self.type == "choice":
            kind = f"one of: {', '.join(self.choices)}"
        elif self.type == "texts" and self.choices:
            kind = f"list of: {', '.join(self.choices)}"
        details = [kind]
        if self.unit:
            details.append(self.unit)
        if self.range_text():
            details.append(self.range_text())
        if self.min_items:
            details.append(f"at least {self.min_items}")
        return f"{self.name} ({'; '.join(details)}; {self.requirement()}): {self.description}"

    def as_json(self) -> dict[str, object]:
        """The declaration as JSON-ready data (for a help endpoint or a form)."""
        data: dict[str, object] = {
            "name": self.name,
            "type": self.type,
            "unit": self.unit or None,
            "required": self.required,
            "required_when": self.required_when or None,
            "choices": list(self.choices) or None,
            "minimum": _json_bound(self.minimum),
            "exclusive_minimum": _json_bound(self.above),
            "maximum": _json_bound(self.maximum),
            "description": self.description,
        }
        if self.fields:
            data["fields"] = [field.as_json() for field in self.fields]
        if self.min_items:
            data["min_items"] = self.min_items
        return data


def _json_bound(bound: Number | None) -> int | float | None:
    return None if bound is None else json_number(Decimal(bound))


def json_schema(title: str, fields: Sequence[Field]) -> dict[str, object]:
    """A JSON Schema (2020-12) of an input object with these fields."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        **_object_schema(fields),
    }


def _object_schema(fields: Sequence[Field]) -> dict[str, object]:
    return {
        "type": "object",
        "properties": {field.name: _property_schema(field) for field in fields},
        "required": [field.name for field in fields if field.required],
        "additionalProperties": False,
    }


def _property_schema(field: Field) -> dict[str, object]:
    words = [field.description]
    if field.unit:
        words.append(f"Unit: {field.unit}.")
    if not field.required and field.required_when:
        words.append(f"Needed {field.required_when}.")
    schema: dict[str, object] = {"description": " ".join(words)}
    if field.type in ("number", "integer"):
        schema["type"] = field.type
        if field.minimum is not None:
            schema["minimum"] = _json_bound(field.minimum)
        if field.above is not None:
            schema["exclusiveMinimum"] = _json_bound(field.above)
        if field.maximum is not None:
            schema["maximum"] = _json_bound(field.maximum)
    elif field.type == "boolean":
        schema["type"] = "boolean"
    elif field.type == "choice":
        schema["type"] = "string"
        schema["enum"] = list(field.choices)
    elif field.type == "texts":
        schema["type"] = "array"
        # Names are matched loosely (case, spaces, hyphens), so the list is not an enum.
        schema["items"] = {"type": "string", "minLength": 1}
        if field.choices:
            schema["examples"] = [list(field.choices)]
    elif field.type == "object":
        schema.update(_object_schema(field.fields))
    else:
        schema["type"] = "array"
        schema["items"] = _object_schema(field.fields)
        if field.min_items:
            schema["minItems"] = field.min_items
    return schema


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with grading input, and the field it concerns ("" for the whole)."""

    field: str
    message: str


class InvalidFields(InvalidInput):
    """Grading input refused for one or more problems, each naming its field."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            message = self.problems[0].message
        else:
            listed = "; ".join(problem.message for problem in self.problems)
            message = f"{len(self.problems)} problems with the input: {listed}"
        super().__init__(message)


class FieldProblem(InvalidInput):
    """A problem with one named field, found while grading."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Unusable(Exception):
    """A field whose problem is already recorded was needed; the grading cannot go on."""


class Problems:
    """The problems found in one input, gathered so that all are named in one refusal."""

    def __init__(self) -> None:
        self._found: list[Problem] = []

    def add(self, field: str, message: str) -> None:
        """Record a problem; one reached twice (two criteria need the field) is named once."""
        if not any(problem.message == message for problem in self._found):
            self._found.append(Problem(field, message))

    def attempt(self, read: Callable[[], T]) -> T | None:
        """The value `read` gives, or None once its problem is recorded (and the rest read)."""
        try:
            return read()
        except FieldProblem as problem:
            self.add(problem.field, problem.message)
        except InvalidInput as problem:
            self.add("", problem.message)
        except Unusable:
            pass
        return None

    def raise_if_any(self) -> None:
        if self._found:
            raise InvalidFields(self._found)


def run(data: object, fields: Sequence[Field], grader: Callable[[Fields], T]) -> T:
    """Grade `data` with `grader`, refusing with every problem found if there is any."""
    problems = Problems()
    result = problems.attempt(lambda: grader(Fields(data, fields, path="", problems=problems)))
    problems.raise_if_any()
    if result is None:
        raise AssertionError("a grader stopped without recording why")
    return result


class Fields:
    """One object of grading input, checked against its declared fields when read in.

    Problems with the values given (type, range, unknown names, missing required fields)
    are all recorded at once; the grader then asks for values, and asking for one with a
    recorded problem stops that part of the grading (`Unusable`) without a second message.
    """

    def __init__(
        self, data: object, fields: Sequence[Field], *, path: str, problems: Problems
    ) -> None:
        self._specs = {field.name: field for field in fields}
        self._path = path
        self._problems = problems
        self._values: dict[str, object] = {}
        self._bad: set[str] = set()
        self._usable = isinstance(data, Mapping)
        if not isinstance(data, Mapping):
            where = path or "the input"
            problems.add(path, f"{where} must be an object with named fields, not {describe(data)}")
            return
        # A misspelt field would otherwise be ignored and its value never graded.
        for key in sorted(str(key) for key in data if key not in self._specs):
            problems.add(
                self.name(key),
                f"{self.name(key)} is not a field this scale reads "
                f"(expected: {', '.join(self._specs)})",
            )
        for field in fields:
            value = data.get(field.name)
            if value is None:
                if field.required:
                    self._refuse(field.name, f"{self.name(field.name)} is required")
                continue
            checked = self._check(field, value)
            if checked is not None:
                self._values[field.name] = checked

    @property
    def path(self) -> str:
        """Where this object is in the input, e.g. `assessments[2]`; "" for the whole."""
        return self._path

    def name(self, key: str) -> str:
        """The field's full path as the user wrote it, e.g. `oxygen.flow_l_min`."""
        return f"{self._path}.{key}" if self._path else key

    def present(self, key: str) -> bool:
        """Whether the field was given; JSON null counts as not given."""
        return key in self._values or key in self._bad

    def attempt(self, read: Callable[[], T]) -> T | None:
        """The value `read` gives, or None once its problem is recorded (see `Problems`)."""
        return self._problems.attempt(read)

    def refuse(self, key: str, message: str) -> FieldProblem:
        """A problem with this field found while grading, to raise."""
        return FieldProblem(self.name(key), message)

    def problem(self, key: str, message: str) -> None:
        """Record a problem with this field found while grading, and go on."""
        self._problems.add(self.name(key), message)

    def _refuse(self, key: str, message: str) -> None:
        self._bad.add(key)
        self._problems.add(self.name(key), message)

    def _check(self, field: Field, value: object) -> object | None:
        """The value read as its declared type, or None once its problem is recorded."""
        name = self.name(field.name)
        if field.type in ("number", "integer"):
            return self._check_number(field, value)
        if field.type == "boolean":
            if isinstance(value, bool):
                return value
            self._refuse(field.name, f"{name} must be true or false, not {describe(value)}")
            return None
        if field.type == "choice":
            if isinstance(value, str) and value in field.choices:
                return value
            self._refuse(
                field.name,
                f"{name} must be one of {', '.join(field.choices)}, not {describe(value)}",
            )
            return None
        if field.type == "texts":
            return self._check_texts(field, value)
        if field.type == "object":
            return Fields(value, field.fields, path=name, problems=self._problems)
        return self._check_objects(field, value)

    def _check_number(self, field: Field, value: object) -> Decimal | int | None:
        name = self.name(field.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._refuse(field.name, f"{name} must be a number, not {describe(value)}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self._refuse(field.name, f"{name} must be a finite number, not {value}")
            return None
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        suffix = f" ({field.hint})" if field.hint else ""
        if field.minimum is not None and number < field.minimum:
            limit = fmt(Decimal(field.minimum))
            self._refuse(field.name, f"{name} must be at least {limit}, not {value}{suffix}")
            return None
        if field.above is not None and number <= field.above:
            limit = fmt(Decimal(field.above))
            self._refuse(field.name, f"{name} must be greater than {limit}, not {value}{suffix}")
            return None
        if field.maximum is not None and number > field.maximum:
            limit = fmt(Decimal(field.maximum))
            self._refuse(field.name, f"{name} must be at most {limit}, not {value}{suffix}")
            return None
        if field.type == "integer":
            if number != number.to_integral_value():
                self._refuse(field.name, f"{name} must be a whole number, not {fmt(number)}")
                return None
            return int(number)
        return number

    def _check_texts(self, field: Field, value: object) -> list[str] | None:
        name = self.name(field.name)
        if not isinstance(value, list):
            self._refuse(field.name, f"{name} must be a list, not {describe(value)}")
            return None
        good = True
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                good = False
                self._refuse(
                    field.name, f"{name}[{index}] must be a non-empty text, not {describe(item)}"
                )
        return [str(item) for item in value] if good else None

    def _check_objects(self, field: Field, value: object) -> list[Fields] | None:
        name = self.name(field.name)
        if not isinstance(value, list):
            self._refuse(field.name, f"{name} must be a list, not {describe(value)}")
            return None
        if len(value) < field.min_items:
            self._refuse(
                field.name, f"{name} must list at least {field.min_items}, not {len(value)}"
            )
            return None
        return [
            Fields(item, field.fields, path=f"{name}[{index}]", problems=self._problems)
            for index, item in enumerate(value)
        ]

    def _get(self, key: str, when: str | None) -> object:
        if not self._usable or key in self._bad:
            raise Unusable(self.name(key))
        if key not in self._values:
            spec = self._specs[key]
            condition = spec.required_when if when is None else when
            raise FieldProblem(
                self.name(key),
                f"{self.name(key)} is required{' ' + condition if condition else ''}",
            )
        return self._values[key]

    def number(self, key: str, *, when: str | None = None) -> Decimal:
        """A number within its declared bounds."""
        value = self._get(key, when)
        assert isinstance(value, Decimal | int)
        return Decimal(value)

    def integer(self, key: str, *, when: str | None = None) -> int:
        """A whole number within its declared bounds (7.0 is read as 7)."""
        value = self._get(key, when)
        assert isinstance(value, int)
        return value

    def boolean(self, key: str, *, when: str | None = None) -> bool:
        """true or false; 0, 1 and "yes" are refused rather than guessed."""
        value = self._get(key, when)
        assert isinstance(value, bool)
        return value

    def choice(self, key: str, *, when: str | None = None) -> str:
        """One of the declared choices, spelt exactly."""
        value = self._get(key, when)
        assert isinstance(value, str)
        return value

    def strings(self, key: str, *, when: str | None = None) -> list[str]:
        """A list of non-empty texts (an empty list is allowed)."""
        value = self._get(key, when)
        assert isinstance(value, list)
        return [str(item) for item in value]

    def record(self, key: str, *, when: str | None = None) -> Fields:
        """A nested object, itself read field by field."""
        value = self._get(key, when)
        assert isinstance(value, Fields)
        return value

    def records(self, key: str, *, when: str | None = None) -> list[Fields]:
        """A list of nested objects, each named by its index (`assessments[2]`)."""
        value = self._get(key, when)
        assert isinstance(value, list)
        return [item for item in value if isinstance(item, Fields)]

    def optional_number(self, key: str) -> Decimal | None:
        """The value when given, None when not (a given but ill-typed value stops grading)."""
        return self.number(key) if self.present(key) else None

    def optional_boolean(self, key: str) -> bool | None:
        """The value when given, None when not (a given but ill-typed value stops grading)."""
        return self.boolean(key) if self.present(key) else None


def describe(value: object) -> str:
    """A short description of a value for an error message, in JSON terms."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def fmt(number: Decimal) -> str:
    """A number for a sentence: 38.0 reads as 38, 6.5 as 6.5, never in exponent form."""
    text = format(number.normalize(), "f")
    return "0" if text == "-0" else text


def percent(number: Decimal) -> Decimal:
    """A percentage rounded to one decimal, as reported (decisions use the exact value)."""
    return number.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def change_percent(current: Decimal, reference: Decimal) -> Decimal | None:
    """Percent change from `reference`, or None when the reference is 0 (undefined)."""
    if reference == 0:
        return None
    return (current - reference) / reference * 100


def json_number(number: Decimal) -> int | float:
    """A Decimal as a JSON number: whole values as int, others as float."""
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def json_percent(number: Decimal | None) -> float | None:
    """A percentage for output, rounded to one decimal; None stays None (undefined)."""
    return None if number is None else float(percent(number))
