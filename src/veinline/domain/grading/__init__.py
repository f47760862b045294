"""Clinical grading of cell-therapy toxicities and responses (standard library only).

`grade(kind, data)` grades one input of a named scale and returns JSON-ready output whose
`reasons` cite the criterion behind every step, for the physician who reads it.

- `crs`: cytokine release syndrome, ASTCT 2019 → `{"grade", "reasons"}`
- `icans`: neurotoxicity, ASTCT 2019 (adults, children ≥ 12) → `{"grade", "reasons"}`
- `agvhd`: acute GVHD, MAGIC → `{"stages", "grade", "grade_label", "reasons"}`
- `recist`: solid tumour response, RECIST 1.1 → `{"assessments", "reasons"}`
- `imwg`: myeloma response, IMWG 2016 → `{"measured_by", "assessments", "reasons"}`

Each kind declares its input: `fields(kind)` lists them (name, type, unit, required or
when needed, allowed values, a one-line description; `Field.summary()` is a help line) and
`json_schema(kind)` gives the same as a JSON Schema. Input that the answer cannot rest on
raises `InvalidFields` (an `InvalidInput`) naming every problem found, each with its
field; nothing is defaulted silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from veinline.domain.errors import InvalidInput
from veinline.domain.grading import agvhd, crs, icans, imwg, recist
from veinline.domain.grading._input import Field, InvalidFields, Problem
from veinline.domain.grading._input import json_schema as _json_schema

Grader = Callable[[Mapping[str, object]], dict[str, object]]


@dataclass(frozen=True, slots=True)
class Scale:
    """One grading scale: its title with the source, its input fields and its grader."""

    title: str
    fields: tuple[Field, ...]
    grade: Grader


_SCALES: dict[str, Scale] = {
    "crs": Scale(crs.TITLE, crs.FIELDS, crs.grade),
    "icans": Scale(icans.TITLE, icans.FIELDS, icans.grade),
    "agvhd": Scale(agvhd.TITLE, agvhd.FIELDS, agvhd.grade),
    "recist": Scale(recist.TITLE, recist.FIELDS, recist.grade),
    "imwg": Scale(imwg.TITLE, imwg.FIELDS, imwg.grade),
}

KINDS: tuple[str, ...] = tuple(_SCALES)

__all__ = [
    "KINDS",
    "Field",
    "InvalidFields",
    "Problem",
    "fields",
    "grade",
    "json_schema",
    "title",
]


def _scale(kind: str) -> Scale:
    scale = _SCALES.get(kind) if isinstance(kind, str) else None
    if scale is None:
        raise InvalidInput(f"unknown grading kind {kind!r}; expected one of: {', '.join(KINDS)}")
    return scale


def grade(kind: str, data: Mapping[str, object]) -> dict[str, object]:
    """Grade `data` on the scale named `kind` (one of `KINDS`)."""
    return _scale(kind).grade(data)


def fields(kind: str) -> tuple[Field, ...]:
    """The input fields of `kind`, in the order a form or a help screen shows them."""
    return _scale(kind).fields


def title(kind: str) -> str:
    """What `kind` grades, with the publication its criteria come from."""
    return _scale(kind).title


def json_schema(kind: str) -> dict[str, object]:
    """The input of `kind` as a JSON Schema (2020-12), for an API's request body."""
    scale = _scale(kind)
    return _json_schema(scale.title, scale.fields)
