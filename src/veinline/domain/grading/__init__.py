"""Clinical grading of cell-therapy toxicities and responses (standard library only).

`grade(kind, data)` grades one input of a named scale and returns JSON-ready output whose
`reasons` cite the criterion behind every step, for the physician who reads it. Criteria:
shared/domain/clinical-scales.md.

- `crs`: cytokine release syndrome, ASTCT 2019 → `{"grade", "reasons"}`
- `icans`: neurotoxicity, ASTCT 2019 (adults, children ≥ 12) → `{"grade", "reasons"}`
- `agvhd`: acute GVHD, MAGIC → `{"stages", "grade", "grade_label", "reasons"}`
- `recist`: solid tumour response, RECIST 1.1 → `{"assessments", "reasons"}`
- `imwg`: myeloma response, IMWG 2016 → `{"assessments", "reasons"}`

Missing or ill-typed input that the answer depends on raises `InvalidInput` naming the
field; nothing is defaulted silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from veinline.domain.errors import InvalidInput
from veinline.domain.grading import agvhd, crs, icans, imwg, recist

Grader = Callable[[Mapping[str, object]], dict[str, object]]

_GRADERS: dict[str, Grader] = {
    "crs": crs.grade,
    "icans": icans.grade,
    "agvhd": agvhd.grade,
    "recist": recist.grade,
    "imwg": imwg.grade,
}

KINDS: tuple[str, ...] = tuple(_GRADERS)

__all__ = ["KINDS", "grade"]


def grade(kind: str, data: Mapping[str, object]) -> dict[str, object]:
    """Grade `data` on the scale named `kind` (one of `KINDS`)."""
    grader = _GRADERS.get(kind) if isinstance(kind, str) else None
    if grader is None:
        raise InvalidInput(f"unknown grading kind {kind!r}; expected one of: {', '.join(KINDS)}")
    return grader(data)
