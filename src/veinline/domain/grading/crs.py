"""Cytokine release syndrome grade, ASTCT consensus (Lee et al., BBMT 2019;25:625).

The input describes findings already judged attributable to CRS: ASTCT grades hypotension
and hypoxia "not attributable to another cause", and organ toxicities are graded with
CTCAE, never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from veinline.domain.grading._input import Field, Fields, Unusable, fmt, run

TITLE = "Cytokine release syndrome, ASTCT 2019 (Lee et al., BBMT 2019;25:625)"

FEVER_C = Decimal("38.0")
# ASTCT 2019: low-flow nasal cannula is ≤ 6 L/min, high-flow is > 6 L/min.
LOW_FLOW_MAX_L_MIN = Decimal(6)
# Outside this range the value is almost surely not Celsius (101.3 is a Fahrenheit fever);
# grading it as "no fever" would hide CRS.
TEMPERATURE_RANGE_C = (25, 45)

# ASTCT 2019 hypoxia column: the grade each device implies. Nasal cannula is graded by its
# flow (see _hypoxia), so its grade here is only the low-flow one.
DEVICE_GRADES: dict[str, tuple[int, str]] = {
    "none": (0, "no supplemental oxygen"),
    "blow_by": (2, "blow-by (low flow)"),
    "nasal_cannula": (2, "nasal cannula"),
    "high_flow_nasal_cannula": (3, "high-flow nasal cannula (> 6 L/min)"),
    "facemask": (3, "facemask"),
    "non_rebreather": (3, "non-rebreather mask"),
    "venturi_mask": (3, "Venturi mask"),
    "cpap": (4, "positive pressure (CPAP)"),
    "bipap": (4, "positive pressure (BiPAP)"),
    "mechanical_ventilation": (4, "positive pressure (intubation and mechanical ventilation)"),
}

# Agents recognised as vasopressors, with common synonyms. An unknown name is refused: a
# misspelt "vasopresin" would otherwise count as a second vasopressor and give grade 4.
VASOPRESSORS: dict[str, str] = {
    "norepinephrine": "norepinephrine",
    "noradrenaline": "norepinephrine",
    "epinephrine": "epinephrine",
    "adrenaline": "epinephrine",
    "phenylephrine": "phenylephrine",
    "dopamine": "dopamine",
    "vasopressin": "vasopressin",
    "angiotensin_ii": "angiotensin_ii",
}
VASOPRESSIN = "vasopressin"

MASKING = "antipyretics, tocilizumab or steroids"

FIELDS: tuple[Field, ...] = (
    Field(
        "temperature_c",
        "number",
        "Highest body temperature in the period graded; fever is ≥ 38.0 °C.",
        unit="°C",
        required=False,
        required_when="unless fever_masked_by_treatment is true",
        minimum=TEMPERATURE_RANGE_C[0],
        maximum=TEMPERATURE_RANGE_C[1],
        hint="degrees Celsius",
    ),
    Field(
        "fever_masked_by_treatment",
        "boolean",
        f"CRS was already present and {MASKING} have since been given, so fever is "
        "no longer required to grade it.",
        required=False,
        required_when="when temperature_c is below 38.0 °C or not given",
    ),
    Field(
        "hypotension",
        "boolean",
        "Hypotension attributable to CRS (needing fluids or vasopressors).",
        required=False,
        required_when="when there is fever (measured or masked) and death_from_crs is false",
    ),
    Field(
        "vasopressors",
        "texts",
        "Vasopressors given for that hypotension, each named once; an empty list means none.",
        required=False,
        required_when="when hypotension is true",
        choices=tuple(VASOPRESSORS),
    ),
    Field(
        "oxygen",
        "object",
        "Supplemental oxygen needed for hypoxia attributable to CRS.",
        required=False,
        required_when="when there is fever (measured or masked) and death_from_crs is false",
        fields=(
            Field(
                "device",
                "choice",
                "How the oxygen is given; none when no supplemental oxygen is needed.",
                choices=tuple(DEVICE_GRADES),
            ),
            Field(
                "flow_l_min",
                "number",
                "Oxygen flow; nasal cannula ≤ 6 L/min is low flow, > 6 L/min high flow.",
                unit="L/min",
                required=False,
                required_when="when the device is nasal_cannula",
                above=0,
            ),
        ),
    ),
    Field("death_from_crs", "boolean", "Death attributable to CRS (grade 5)."),
)


@dataclass(frozen=True, slots=True)
class _Fever:
    """Whether the fever criterion is met, whether by a masked fever, and why."""

    met: bool
    masked: bool
    reason: str


def grade(data: Mapping[str, object]) -> dict[str, object]:
    """The ASTCT 2019 CRS grade (0 = no CRS, 5 = death from CRS) with its reasons."""
    return run(data, FIELDS, _grade)


def _grade(fields: Fields) -> dict[str, object]:
    if fields.attempt(lambda: fields.boolean("death_from_crs")):
        return {"grade": 5, "reasons": ["ASTCT 2019: death from CRS → grade 5"]}

    fever = fields.attempt(lambda: _fever(fields))
    if fever is not None and not fever.met:
        return {"grade": 0, "reasons": [fever.reason]}
    # Read even when the fever is in doubt, so that one answer names every missing field.
    hypotension = fields.attempt(lambda: _hypotension(fields))
    hypoxia = fields.attempt(lambda: _hypoxia(fields))
    if fever is None or hypotension is None or hypoxia is None:
        raise Unusable("crs")

    hypotension_grade, hypotension_reason = hypotension
    hypoxia_grade, hypoxia_reason = hypoxia
    reasons = [fever.reason, hypotension_reason, hypoxia_reason]
    if hypotension_grade == hypoxia_grade == 0:
        if fever.masked:
            reasons.append(
                f"ASTCT 2019: fever masked by {MASKING}, without hypotension or hypoxia → grade 1"
            )
        else:
            reasons.append("ASTCT 2019: fever without hypotension or hypoxia → grade 1")
        return {"grade": 1, "reasons": reasons}
    # ASTCT 2019: the grade is the more severe of hypotension and hypoxia.
    worst = max(hypotension_grade, hypoxia_grade)
    basis = (
        f"fever masked by {MASKING}, so hypotension and hypoxia drive the grade: the"
        if fever.masked
        else "the grade is the"
    )
    reasons.append(
        f"ASTCT 2019: {basis} more severe of hypotension (grade {hypotension_grade}) and "
        f"hypoxia (grade {hypoxia_grade}) → grade {worst}"
    )
    return {"grade": worst, "reasons": reasons}


def _fever(fields: Fields) -> _Fever:
    """Whether the fever criterion is met, and why."""
    temperature: Decimal | None = None
    if fields.present("temperature_c"):
        temperature = fields.number("temperature_c")
        if temperature >= FEVER_C:
            return _Fever(True, False, f"ASTCT 2019: fever {fmt(temperature)} °C (≥ 38.0 °C)")
    if not fields.present("fever_masked_by_treatment"):
        if temperature is None:
            raise fields.refuse(
                "temperature_c",
                "temperature_c is required (or fever_masked_by_treatment: true once "
                f"{MASKING} have been given)",
            )
        raise fields.refuse(
            "fever_masked_by_treatment",
            "fever_masked_by_treatment is required when temperature_c is below 38.0 °C "
            f"(ASTCT 2019: fever is not required once {MASKING} have been given)",
        )
    if fields.boolean("fever_masked_by_treatment"):
        # ASTCT 2019: once CRS has been treated with antipyretics or anticytokine therapy
        # (tocilizumab, steroids), fever is no longer required; hypotension and hypoxia
        # drive the grade.
        reading = "" if temperature is None else f" (temperature {fmt(temperature)} °C)"
        return _Fever(
            True,
            True,
            f"ASTCT 2019: fever masked by treatment{reading}: fever not required after "
            f"{MASKING}; hypotension and hypoxia drive the grade",
        )
    if temperature is None:
        raise fields.refuse(
            "temperature_c", "temperature_c is required unless fever_masked_by_treatment is true"
        )
    return _Fever(
        False,
        False,
        f"ASTCT 2019: no fever ({fmt(temperature)} °C is below 38.0 °C) and none masked by "
        "treatment → no CRS (grade 0)",
    )


def _hypotension(fields: Fields) -> tuple[int, str]:
    """The hypotension column's grade, and why."""
    if not fields.boolean("hypotension"):
        if fields.present("vasopressors") and fields.strings("vasopressors"):
            raise fields.refuse(
                "vasopressors",
                "vasopressors lists agents but hypotension is false; record the hypotension "
                "they treat, or remove them",
            )
        return 0, "ASTCT 2019: no hypotension"
    agents = _vasopressor_agents(fields)
    # ASTCT 2019: vasopressin does not count as a second vasopressor; grade 4 needs
    # several vasopressors other than vasopressin.
    counted = sorted(agent for agent in agents if agent != VASOPRESSIN)
    if len(counted) >= 2:
        note = ", vasopressin not counted" if VASOPRESSIN in agents else ""
        return 4, (
            f"ASTCT 2019: hypotension needing several vasopressors "
            f"({', '.join(counted)}{note}) → grade 4"
        )
    if counted and VASOPRESSIN in agents:
        return 3, (
            f"ASTCT 2019: hypotension needing one vasopressor ({counted[0]}) with vasopressin, "
            "which does not count as a second → grade 3"
        )
    if agents:
        return 3, f"ASTCT 2019: hypotension needing one vasopressor ({agents[0]}) → grade 3"
    return 2, "ASTCT 2019: hypotension not needing vasopressors → grade 2"


def _vasopressor_agents(fields: Fields) -> list[str]:
    """The distinct vasopressors given, by canonical name."""
    names = fields.strings(
        "vasopressors", when="when hypotension is true (an empty list means none given)"
    )
    agents: list[str] = []
    unknown = False
    for index, name in enumerate(names):
        key = name.strip().lower().replace(" ", "_").replace("-", "_")
        agent = VASOPRESSORS.get(key)
        if agent is None:
            unknown = True
            fields.problem(
                "vasopressors",
                f"vasopressors[{index}] {name!r} is not a vasopressor this scale knows "
                f"(expected one of: {', '.join(VASOPRESSORS)})",
            )
        elif agent not in agents:
            agents.append(agent)
    if unknown:
        raise Unusable("vasopressors")
    return agents


def _hypoxia(fields: Fields) -> tuple[int, str]:
    """The hypoxia column's grade, and why."""
    oxygen = fields.record("oxygen")
    device = oxygen.choice("device")
    by_flow = device == "nasal_cannula" or (
        device == "high_flow_nasal_cannula" and oxygen.present("flow_l_min")
    )
    if by_flow:
        # ASTCT 2019 defines low and high flow by the flow itself (≤ 6 vs > 6 L/min).
        flow = oxygen.number("flow_l_min", when=f"when the device is {device}")
        if flow <= LOW_FLOW_MAX_L_MIN:
            return 2, (
                f"ASTCT 2019: oxygen by nasal cannula at {fmt(flow)} L/min "
                "(low flow, ≤ 6 L/min) → grade 2"
            )
        return 3, (
            f"ASTCT 2019: oxygen by nasal cannula at {fmt(flow)} L/min "
            "(high flow, > 6 L/min) → grade 3"
        )
    device_grade, label = DEVICE_GRADES[device]
    if device_grade == 0:
        return 0, f"ASTCT 2019: {label}"
    return device_grade, f"ASTCT 2019: oxygen by {label} → grade {device_grade}"
