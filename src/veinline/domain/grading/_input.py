"""Reading grading input field by field, so that every refusal names the field to fix.

Numbers are read as `Decimal` (from the shortest repr of a float) so that thresholds such
as "down ≥ 30%" are compared exactly: 70 mm against a 100 mm baseline is a PR, not a
floating-point near miss.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from decimal import ROUND_HALF_UP, Decimal

from veinline.domain.errors import InvalidInput

Number = Decimal | int


class Fields:
    """One object of grading input (a JSON object) whose fields are checked as they are read."""

    def __init__(self, data: object, *, path: str, allowed: Collection[str]) -> None:
        if not isinstance(data, Mapping):
            where = path or "the input"
            raise InvalidInput(f"{where} must be an object with named fields, not {describe(data)}")
        # A misspelt field would otherwise be ignored and its value never graded.
        unknown = sorted(str(key) for key in data if key not in allowed)
        if unknown:
            raise InvalidInput(
                f"{self._join(path, unknown[0])} is not a field this scale reads "
                f"(expected: {', '.join(allowed)})"
            )
        self._data: Mapping[object, object] = data
        self._path = path

    @staticmethod
    def _join(path: str, key: str) -> str:
        return f"{path}.{key}" if path else key

    def name(self, key: str) -> str:
        """The field's full path as the user wrote it, e.g. `oxygen.flow_l_min`."""
        return self._join(self._path, key)

    def present(self, key: str) -> bool:
        """Whether the field was given; JSON null counts as not given."""
        return self._data.get(key) is not None

    def _get(self, key: str, when: str) -> object:
        value = self._data.get(key)
        if value is None:
            raise InvalidInput(f"{self.name(key)} is required{' ' + when if when else ''}")
        return value

    def number(
        self,
        key: str,
        *,
        when: str = "",
        minimum: Number | None = None,
        above: Number | None = None,
        maximum: Number | None = None,
        hint: str = "",
    ) -> Decimal:
        """A finite number within the given bounds."""
        value = self._get(key, when)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{self.name(key)} must be a number, not {describe(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{self.name(key)} must be a finite number, not {value}")
        number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
        suffix = f" ({hint})" if hint else ""
        if minimum is not None and number < minimum:
            raise InvalidInput(f"{self.name(key)} must be at least {minimum}, not {value}{suffix}")
        if above is not None and number <= above:
            raise InvalidInput(
                f"{self.name(key)} must be greater than {above}, not {value}{suffix}"
            )
        if maximum is not None and number > maximum:
            raise InvalidInput(f"{self.name(key)} must be at most {maximum}, not {value}{suffix}")
        return number

    def integer(self, key: str, *, when: str = "", minimum: int, maximum: int) -> int:
        """A whole number from `minimum` to `maximum` (7.0 is read as 7)."""
        number = self.number(key, when=when, minimum=minimum, maximum=maximum)
        if number != number.to_integral_value():
            raise InvalidInput(f"{self.name(key)} must be a whole number, not {fmt(number)}")
        return int(number)

    def boolean(self, key: str, *, when: str = "") -> bool:
        """true or false; 0, 1 and "yes" are refused rather than guessed."""
        value = self._get(key, when)
        if not isinstance(value, bool):
            raise InvalidInput(f"{self.name(key)} must be true or false, not {describe(value)}")
        return value

    def choice(self, key: str, choices: Collection[str], *, when: str = "") -> str:
        """One of the named choices, spelt exactly."""
        value = self._get(key, when)
        if not isinstance(value, str) or value not in choices:
            raise InvalidInput(
                f"{self.name(key)} must be one of {', '.join(choices)}, not {describe(value)}"
            )
        return value

    def strings(self, key: str, *, when: str = "") -> list[str]:
        """A list of non-empty texts (an empty list is allowed)."""
        value = self._get(key, when)
        if not isinstance(value, list):
            raise InvalidInput(f"{self.name(key)} must be a list, not {describe(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise InvalidInput(
                    f"{self.name(key)}[{index}] must be a non-empty text, not {describe(item)}"
                )
        return [str(item) for item in value]

    def record(self, key: str, allowed: Collection[str], *, when: str = "") -> Fields:
        """A nested object, itself read field by field."""
        return Fields(self._get(key, when), path=self.name(key), allowed=allowed)

    def records(self, key: str, allowed: Collection[str], *, at_least: int) -> list[Fields]:
        """A list of nested objects, each named by its index (`assessments[2]`)."""
        value = self._get(key, "")
        if not isinstance(value, list):
            raise InvalidInput(f"{self.name(key)} must be a list, not {describe(value)}")
        if len(value) < at_least:
            raise InvalidInput(f"{self.name(key)} must list at least {at_least}, not {len(value)}")
        return [
            Fields(item, path=f"{self.name(key)}[{index}]", allowed=allowed)
            for index, item in enumerate(value)
        ]


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
