"""Acute graft-versus-host disease organ stages and overall grade, MAGIC.

Harris et al., Biol Blood Marrow Transplant 2016;22:4, Table 1 (organ stages) and the
overall grade built from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from veinline.domain.grading._input import Field, Fields, Unusable, fmt, run

TITLE = "Acute GVHD organ stages and overall grade, MAGIC (Harris et al., BBMT 2016;22:4)"

GRADE_LABELS = ("0", "I", "II", "III", "IV")
# Harris 2016, Table 1: patients ≤ 50 kg are staged with the paediatric stool criteria.
CHILD_MAX_KG = Decimal(50)

# Harris 2016, Table 1, lower GI by stool output per day: where stages 1 and 2 begin and
# above what stage 3 begins. A band's printed upper value ("999", "19.9") only marks where
# the next begins, so 999.5 mL/day is still stage 1 and 19.95 mL/kg/day still stage 1.
ADULT_ML = (Decimal(500), Decimal(1000), Decimal(1500))
CHILD_ML_PER_KG = (Decimal(10), Decimal(20), Decimal(30))
ADULT_EPISODES = (Decimal(3), Decimal(5), Decimal(7))
CHILD_EPISODES = (Decimal(4), Decimal(7), Decimal(10))

FIELDS: tuple[Field, ...] = (
    Field(
        "skin_bsa_percent",
        "number",
        "Body surface area with active GVHD erythema (rash).",
        unit="% of body surface",
        minimum=0,
        maximum=100,
    ),
    Field(
        "skin_bullae_desquamation",
        "boolean",
        "Generalised erythroderma with bullae and desquamation over > 5% of body surface.",
        required=False,
        required_when="when skin_bsa_percent is over 50 (MAGIC skin stage 4)",
    ),
    Field("bilirubin_mg_dl", "number", "Total serum bilirubin.", unit="mg/dL", minimum=0),
    Field(
        "upper_gi_persistent",
        "boolean",
        "Persistent nausea, vomiting or anorexia (upper GI stage 1).",
    ),
    Field(
        "stool_ml_per_day",
        "number",
        "Diarrhoea volume per day (3-day average); ≤ 50 kg it is staged per kg of weight.",
        unit="mL/day",
        required=False,
        required_when="unless stool_episodes_per_day is given (lower GI stages 0–3)",
        minimum=0,
    ),
    Field(
        "stool_episodes_per_day",
        "number",
        "Diarrhoea episodes per day; with a volume too, the worse stage is taken.",
        unit="episodes/day",
        required=False,
        required_when="unless stool_ml_per_day is given (lower GI stages 0–3)",
        minimum=0,
    ),
    Field(
        "weight_kg",
        "number",
        "Body weight: ≤ 50 kg is staged with the paediatric lower GI criteria.",
        unit="kg",
        required=False,
        required_when="to stage lower GI unless it is stage 4",
        above=0,
        maximum=400,
    ),
    Field(
        "severe_pain_or_ileus",
        "boolean",
        "Severe abdominal pain (needing opioids) with or without ileus: lower GI stage 4.",
        required=False,
        required_when="unless bloody_stool is true",
    ),
    Field(
        "bloody_stool",
        "boolean",
        "Grossly bloody stool, whatever the volume: lower GI stage 4.",
        required=False,
        required_when="unless severe_pain_or_ileus is true",
    ),
)


def grade(data: Mapping[str, object]) -> dict[str, object]:
    """MAGIC organ stages and overall grade (0, I–IV) with their reasons."""
    return run(data, FIELDS, _grade)


def _grade(fields: Fields) -> dict[str, object]:
    skin = fields.attempt(lambda: _skin(fields))
    liver = fields.attempt(lambda: _liver(fields))
    upper = fields.attempt(lambda: _upper_gi(fields))
    lower = fields.attempt(lambda: _lower_gi(fields))
    if skin is None or liver is None or upper is None or lower is None:
        raise Unusable("agvhd")
    (skin_stage, skin_reason), (liver_stage, liver_reason) = skin, liver
    (upper_stage, upper_reason), (lower_stage, lower_reasons) = upper, lower
    overall, overall_reason = _overall(
        skin=skin_stage, liver=liver_stage, upper=upper_stage, lower=lower_stage
    )
    return {
        "stages": {
            "skin": skin_stage,
            "liver": liver_stage,
            "upper_gi": upper_stage,
            "lower_gi": lower_stage,
        },
        "grade": overall,
        "grade_label": GRADE_LABELS[overall],
        "reasons": [skin_reason, liver_reason, upper_reason, *lower_reasons, overall_reason],
    }


def _skin(fields: Fields) -> tuple[int, str]:
    bsa = fields.number("skin_bsa_percent")
    area = f"skin erythema over {fmt(bsa)}% of body surface"
    if bsa == 0:
        return 0, "MAGIC: no active skin erythema → skin stage 0"
    if bsa < 25:
        return 1, f"MAGIC: {area} (< 25%) → skin stage 1"
    if bsa <= 50:
        return 2, f"MAGIC: {area} (25–50%) → skin stage 2"
    # MAGIC skin stage 4 is generalised erythroderma (> 50%) with bullae and desquamation.
    if fields.boolean("skin_bullae_desquamation"):
        return 4, (
            f"MAGIC: generalised erythroderma ({fmt(bsa)}% > 50%) with bullae and desquamation "
            "> 5% → skin stage 4"
        )
    return 3, f"MAGIC: {area} (> 50%) → skin stage 3"


def _liver(fields: Fields) -> tuple[int, str]:
    bilirubin = fields.number("bilirubin_mg_dl")
    text = f"MAGIC: bilirubin {fmt(bilirubin)} mg/dL"
    # MAGIC bands are 2–3, 3.1–6, 6.1–15 and > 15; a value between bands (3.05) belongs to
    # the higher one, read as "> 3", "> 6", "> 15".
    if bilirubin < 2:
        return 0, f"{text} (< 2) → liver stage 0"
    if bilirubin <= 3:
        return 1, f"{text} (2–3) → liver stage 1"
    if bilirubin <= 6:
        return 2, f"{text} (3.1–6) → liver stage 2"
    if bilirubin <= 15:
        return 3, f"{text} (6.1–15) → liver stage 3"
    return 4, f"{text} (> 15) → liver stage 4"


def _upper_gi(fields: Fields) -> tuple[int, str]:
    if fields.boolean("upper_gi_persistent"):
        return 1, "MAGIC: persistent nausea, vomiting or anorexia → upper GI stage 1"
    return 0, "MAGIC: no persistent nausea, vomiting or anorexia → upper GI stage 0"


def _lower_gi(fields: Fields) -> tuple[int, list[str]]:
    # Harris 2016, Table 1: lower GI stage 4 is severe abdominal pain with or without
    # ileus, or grossly bloody stool regardless of stool volume, for adults and children.
    pain = fields.attempt(lambda: fields.optional_boolean("severe_pain_or_ileus"))
    blood = fields.attempt(lambda: fields.optional_boolean("bloody_stool"))
    if pain:
        return 4, ["MAGIC: severe abdominal pain with or without ileus → lower GI stage 4"]
    if blood:
        return 4, ["MAGIC: grossly bloody stool → lower GI stage 4"]
    for field, value in (("severe_pain_or_ileus", pain), ("bloody_stool", blood)):
        if value is None and not fields.present(field):
            fields.problem(field, f"{field} is required (MAGIC lower GI stage 4 criterion)")

    weight = fields.attempt(
        lambda: fields.number(
            "weight_kg",
            when="to stage lower GI (MAGIC stages patients ≤ 50 kg by the paediatric criteria)",
        )
    )
    if not (fields.present("stool_ml_per_day") or fields.present("stool_episodes_per_day")):
        fields.problem(
            "stool_ml_per_day",
            "stool_ml_per_day or stool_episodes_per_day is required to stage lower GI",
        )
        raise Unusable("stool output")
    if weight is None or pain is None or blood is None:
        raise Unusable("lower GI")
    return _lower_gi_by_output(fields, weight)


def _lower_gi_by_output(fields: Fields, weight: Decimal) -> tuple[int, list[str]]:
    """Stages 0–3 by stool volume or episodes, whichever gives the worse stage.

    Harris 2016, Table 1 gives each stage as a volume "or" an episode count, for adults
    (> 50 kg, mL/day) and for children (≤ 50 kg, mL/kg/day): either meets the stage, so
    the worse of the two is taken, and episodes alone stage a patient whose volume is not
    measured.
    """
    child = weight <= CHILD_MAX_KG
    criteria = (
        f"MAGIC, paediatric criteria ({fmt(weight)} kg ≤ 50 kg)"
        if child
        else f"MAGIC, adult criteria ({fmt(weight)} kg > 50 kg)"
    )
    staged: list[tuple[int, str]] = []
    if fields.present("stool_ml_per_day"):
        volume = fields.number("stool_ml_per_day")
        if child:
            per_kg = volume / weight
            stage, band = _band(per_kg, CHILD_ML_PER_KG, "mL/kg/day", ("10–19.9", "20–30"))
            measured = (
                f"stool {fmt(volume)} mL/day = {fmt(per_kg.quantize(Decimal('0.1')))} "
                f"mL/kg/day ({band})"
            )
        else:
            stage, band = _band(volume, ADULT_ML, "mL/day", ("500–999", "1000–1500"))
            measured = f"stool {fmt(volume)} mL/day ({band})"
        staged.append((stage, f"{criteria}: {measured} → lower GI stage {stage}"))
    if fields.present("stool_episodes_per_day"):
        episodes = fields.number("stool_episodes_per_day")
        if child:
            stage, band = _band(episodes, CHILD_EPISODES, "episodes/day", ("4–6", "7–10"))
        else:
            stage, band = _band(episodes, ADULT_EPISODES, "episodes/day", ("3–4", "5–7"))
        staged.append(
            (
                stage,
                f"{criteria}: {fmt(episodes)} stool episodes/day ({band}) → lower GI stage {stage}",
            )
        )
    worst = max(stage for stage, _ in staged)
    reasons = [reason for _, reason in staged]
    if len(staged) == 2:
        reasons.append(
            f"MAGIC: stool volume or episodes, whichever is worse → lower GI stage {worst}"
        )
    return worst, reasons


def _band(
    value: Decimal, bounds: tuple[Decimal, Decimal, Decimal], unit: str, middle: tuple[str, str]
) -> tuple[int, str]:
    """The stage 0–3 of a stool measure, and its Table 1 band in words."""
    stage_1, stage_2, stage_3 = bounds
    if value < stage_1:
        return 0, f"< {fmt(stage_1)} {unit}"
    if value < stage_2:
        return 1, f"{middle[0]} {unit}"
    if value <= stage_3:
        return 2, f"{middle[1]} {unit}"
    return 3, f"> {fmt(stage_3)} {unit}"


def _overall(*, skin: int, liver: int, upper: int, lower: int) -> tuple[int, str]:
    """MAGIC overall grade from the organ stages; it is not the highest organ stage."""
    if 4 in (skin, liver, lower):
        organs = _named({"skin": skin, "liver": liver, "lower GI": lower}, {4})
        return 4, f"MAGIC: {organs} (skin, liver or lower GI stage 4) → grade IV"
    if liver in (2, 3) or lower in (2, 3):
        organs = _named({"liver": liver, "lower GI": lower}, {2, 3})
        return 3, f"MAGIC: {organs} (liver or lower GI stage 2–3) → grade III"
    if skin == 3 or 1 in (liver, upper, lower):
        findings = ["skin stage 3"] if skin == 3 else []
        findings += [
            f"{organ} stage 1"
            for organ, stage in (("liver", liver), ("upper GI", upper), ("lower GI", lower))
            if stage == 1
        ]
        return 2, f"MAGIC: {' and '.join(findings)} → grade II"
    if skin in (1, 2):
        return 1, f"MAGIC: skin stage {skin} only → grade I"
    return 0, "MAGIC: no organ involved → grade 0"


def _named(stages: dict[str, int], wanted: set[int]) -> str:
    return " and ".join(
        f"{organ} stage {stage}" for organ, stage in stages.items() if stage in wanted
    )
