"""Acute graft-versus-host disease stage and grade, MAGIC (Harris et al., BBMT 2016;22:4)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from veinline.domain.errors import InvalidInput
from veinline.domain.grading._input import Fields, fmt

FIELDS = (
    "skin_bsa_percent",
    "skin_bullae_desquamation",
    "bilirubin_mg_dl",
    "upper_gi_persistent",
    "stool_ml_per_day",
    "stool_episodes_per_day",
    "weight_kg",
    "severe_pain_or_ileus",
    "bloody_stool",
)
GRADE_LABELS = ("0", "I", "II", "III", "IV")
# MAGIC: children (≤ 50 kg) are staged by stool volume per kg.
CHILD_MAX_KG = Decimal(50)


def grade(data: Mapping[str, object]) -> dict[str, object]:
    """MAGIC organ stages and overall grade (0, I–IV) with their reasons."""
    fields = Fields(data, path="", allowed=FIELDS)
    skin, skin_reason = _skin(fields)
    liver, liver_reason = _liver(fields)
    upper, upper_reason = _upper_gi(fields)
    lower, lower_reasons = _lower_gi(fields)
    overall, overall_reason = _overall(skin=skin, liver=liver, upper=upper, lower=lower)
    return {
        "stages": {"skin": skin, "liver": liver, "upper_gi": upper, "lower_gi": lower},
        "grade": overall,
        "grade_label": GRADE_LABELS[overall],
        "reasons": [skin_reason, liver_reason, upper_reason, *lower_reasons, overall_reason],
    }


def _skin(fields: Fields) -> tuple[int, str]:
    bsa = fields.number("skin_bsa_percent", minimum=0, maximum=100)
    area = f"skin erythema over {fmt(bsa)}% of body surface"
    if bsa == 0:
        return 0, "MAGIC: no active skin erythema → skin stage 0"
    if bsa < 25:
        return 1, f"MAGIC: {area} (< 25%) → skin stage 1"
    if bsa <= 50:
        return 2, f"MAGIC: {area} (25–50%) → skin stage 2"
    # MAGIC skin stage 4 is generalised erythroderma (> 50%) with bullae and desquamation.
    if fields.boolean(
        "skin_bullae_desquamation", when="when skin_bsa_percent is over 50 (MAGIC skin stage 4)"
    ):
        return 4, (
            f"MAGIC: generalised erythroderma ({fmt(bsa)}% > 50%) with bullae and desquamation "
            "> 5% → skin stage 4"
        )
    return 3, f"MAGIC: {area} (> 50%) → skin stage 3"


def _liver(fields: Fields) -> tuple[int, str]:
    bilirubin = fields.number("bilirubin_mg_dl", minimum=0)
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
    # MAGIC lower GI stage 4: severe abdominal pain with or without ileus, or grossly
    # bloody stool, regardless of stool volume.
    pain = (
        fields.boolean("severe_pain_or_ileus") if fields.present("severe_pain_or_ileus") else None
    )
    blood = fields.boolean("bloody_stool") if fields.present("bloody_stool") else None
    if pain:
        return 4, ["MAGIC: severe abdominal pain with or without ileus → lower GI stage 4"]
    if blood:
        return 4, ["MAGIC: grossly bloody stool → lower GI stage 4"]
    for field, value in (("severe_pain_or_ileus", pain), ("bloody_stool", blood)):
        if value is None:
            raise InvalidInput(f"{field} is required (MAGIC lower GI stage 4 criterion)")

    weight = fields.number(
        "weight_kg",
        above=0,
        maximum=400,
        when="to stage lower GI (MAGIC stages patients ≤ 50 kg by stool mL/kg/day)",
    )
    if weight <= CHILD_MAX_KG:
        return _lower_gi_child(fields, weight)
    return _lower_gi_adult(fields)


def _lower_gi_child(fields: Fields, weight: Decimal) -> tuple[int, list[str]]:
    volume = fields.number(
        "stool_ml_per_day",
        minimum=0,
        when="for a patient ≤ 50 kg (MAGIC stages children by stool mL/kg/day)",
    )
    per_kg = volume / weight
    text = (
        f"MAGIC: stool {fmt(volume)} mL/day at {fmt(weight)} kg (≤ 50 kg, staged per kg) is "
        f"{fmt(per_kg.quantize(Decimal('0.1')))} mL/kg/day"
    )
    reasons: list[str] = []
    if fields.present("stool_episodes_per_day"):
        # The criteria give episode counts for adults only; children are staged by volume.
        reasons.append("MAGIC: stool episodes are not used to stage patients ≤ 50 kg")
    if per_kg < 10:
        stage, band = 0, "< 10 mL/kg"
    elif per_kg < 20:
        stage, band = 1, "10–19.9 mL/kg"
    elif per_kg <= 30:
        stage, band = 2, "20–30 mL/kg"
    else:
        stage, band = 3, "> 30 mL/kg"
    return stage, [f"{text} ({band}) → lower GI stage {stage}", *reasons]


def _lower_gi_adult(fields: Fields) -> tuple[int, list[str]]:
    # MAGIC gives adult stool output as mL/day or episodes/day; when both are given the
    # more severe stage is taken, since either meets the stage's criterion.
    if not (fields.present("stool_ml_per_day") or fields.present("stool_episodes_per_day")):
        raise InvalidInput(
            "stool_ml_per_day or stool_episodes_per_day is required to stage lower GI"
        )
    staged: list[tuple[int, str]] = []
    if fields.present("stool_ml_per_day"):
        volume = fields.number("stool_ml_per_day", minimum=0)
        if volume < 500:
            stage, band = 0, "< 500 mL"
        elif volume < 1000:
            stage, band = 1, "500–999 mL"
        elif volume <= 1500:
            stage, band = 2, "1000–1500 mL"
        else:
            stage, band = 3, "> 1500 mL"
        staged.append(
            (stage, f"MAGIC: stool {fmt(volume)} mL/day ({band}) → lower GI stage {stage}")
        )
    if fields.present("stool_episodes_per_day"):
        episodes = fields.number("stool_episodes_per_day", minimum=0)
        if episodes < 3:
            stage, band = 0, "< 3"
        elif episodes < 5:
            stage, band = 1, "3–4"
        elif episodes <= 7:
            stage, band = 2, "5–7"
        else:
            stage, band = 3, "> 7"
        staged.append(
            (
                stage,
                f"MAGIC: {fmt(episodes)} stool episodes/day ({band}) → lower GI stage {stage}",
            )
        )
    return max(stage for stage, _ in staged), [reason for _, reason in staged]


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
