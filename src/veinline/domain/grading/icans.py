"""Immune effector cell-associated neurotoxicity grade, ASTCT consensus (Lee et al., BBMT
2019;25:625).

For adults and children aged 12 or more (younger children use CAPD, not ICE). Findings are
those not attributable to another cause; sedation-caused drowsiness, tremor and myoclonus
do not count and must not be entered.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from veinline.domain.grading._input import Field, Fields, Unusable, run

TITLE = (
    "Immune effector cell-associated neurotoxicity (ICANS), ASTCT 2019, adults and children "
    "≥ 12 (Lee et al., BBMT 2019;25:625)"
)

# ASTCT 2019 depressed level of consciousness column.
CONSCIOUSNESS: dict[str, tuple[int, str]] = {
    "alert": (0, "alert"),
    "awakens_spontaneously": (1, "depressed consciousness, awakens spontaneously"),
    "awakens_to_voice": (2, "depressed consciousness, awakens to voice"),
    "awakens_to_touch": (3, "depressed consciousness, awakens only to tactile stimulus"),
    "vigorous_stimuli": (4, "needs vigorous or repeated tactile stimuli to arouse"),
    "unarousable": (4, "unarousable (stupor or coma)"),
}
UNAROUSABLE = "unarousable"
# Levels at which the patient is awake or wakes on their own or to voice or touch.
AWAKE = ("alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_touch")

# ASTCT 2019 seizure column.
SEIZURE: dict[str, tuple[int, str]] = {
    "none": (0, "no seizure"),
    "rapidly_resolving": (3, "clinical seizure resolving rapidly"),
    "nonconvulsive_resolved_with_intervention": (
        3,
        "non-convulsive seizure on EEG resolving with intervention",
    ),
    "prolonged": (4, "prolonged seizure (> 5 min)"),
    "repetitive": (4, "repetitive seizures without return to baseline"),
}

# ASTCT 2019 motor findings column.
MOTOR: dict[str, tuple[int, str]] = {
    "none": (0, "no motor weakness"),
    "deep_focal": (4, "deep focal motor weakness (hemiparesis or paraparesis)"),
}

# ASTCT 2019 raised intracranial pressure / cerebral oedema column (imaging).
EDEMA: dict[str, tuple[int, str]] = {
    "none": (0, "no cerebral oedema"),
    "focal": (3, "focal or local oedema on imaging"),
    "diffuse": (4, "diffuse cerebral oedema on imaging"),
}

CHOICE_DOMAINS: dict[str, dict[str, tuple[int, str]]] = {
    "consciousness": CONSCIOUSNESS,
    "seizure": SEIZURE,
    "motor_weakness": MOTOR,
    "cerebral_edema": EDEMA,
}
WORST = 4

# Every domain may be left out once another gives grade 4, which it cannot change.
UNLESS_GRADE_4 = "unless another finding already gives grade 4"

FIELDS: tuple[Field, ...] = (
    Field(
        "ice_score",
        "integer",
        "Immune effector cell encephalopathy (ICE) score: 10 is normal.",
        unit="points",
        required=False,
        required_when=f"{UNLESS_GRADE_4} or the patient is unarousable and cannot be assessed",
        minimum=0,
        maximum=10,
    ),
    Field(
        "consciousness",
        "choice",
        "Level of consciousness not attributable to another cause (sedation excluded).",
        required=False,
        required_when=UNLESS_GRADE_4,
        choices=tuple(CONSCIOUSNESS),
    ),
    Field(
        "seizure",
        "choice",
        "Seizure activity: none, rapidly resolving, or prolonged or repetitive.",
        required=False,
        required_when=UNLESS_GRADE_4,
        choices=tuple(SEIZURE),
    ),
    Field(
        "motor_weakness",
        "choice",
        "Deep focal motor weakness such as hemiparesis or paraparesis.",
        required=False,
        required_when=UNLESS_GRADE_4,
        choices=tuple(MOTOR),
    ),
    Field(
        "cerebral_edema",
        "choice",
        "Cerebral oedema on neuroimaging: none, focal or local, or diffuse.",
        required=False,
        required_when=UNLESS_GRADE_4,
        choices=tuple(EDEMA),
    ),
    Field(
        "raised_icp_signs",
        "boolean",
        "Decerebrate or decorticate posturing, cranial nerve VI palsy, papilloedema or "
        "Cushing's triad.",
        required=False,
        required_when=UNLESS_GRADE_4,
    ),
)
FIELD_NAMES = tuple(field.name for field in FIELDS)


def grade(data: Mapping[str, object]) -> dict[str, object]:
    """The ASTCT 2019 ICANS grade (0 = no ICANS) with its reasons."""
    return run(data, FIELDS, _grade)


def _grade(fields: Fields) -> dict[str, object]:
    grades: dict[str, int] = {}
    reasons: dict[str, str] = {}
    unreadable = False

    consciousness = None
    for field, table in CHOICE_DOMAINS.items():
        if not fields.present(field):
            continue
        value = fields.attempt(partial(fields.choice, field))
        if value is None:
            unreadable = True
            continue
        grades[field], text = table[value]
        if field == "consciousness":
            consciousness = value
        if grades[field]:
            reasons[field] = f"ASTCT 2019: {text} → grade {grades[field]}"

    raised_icp = fields.attempt(lambda: fields.optional_boolean("raised_icp_signs"))
    if raised_icp:
        grades["raised_icp_signs"] = WORST
        reasons["raised_icp_signs"] = (
            "ASTCT 2019: signs of raised intracranial pressure (posturing, cranial nerve VI "
            "palsy, papilloedema or Cushing's triad) → grade 4"
        )
    elif raised_icp is False:
        grades["raised_icp_signs"] = 0
    elif fields.present("raised_icp_signs"):
        unreadable = True

    if fields.present("ice_score"):
        ice = fields.attempt(lambda: _ice_score(fields, consciousness))
        if ice is None:
            unreadable = True
        else:
            grades["ice_score"], reasons["ice_score"] = ice

    worst = max(grades.values(), default=0)
    # A domain may be left out only when another already gives the highest grade: the
    # grade is the most severe domain, so the missing one cannot change it.
    if worst < WORST:
        for field in FIELD_NAMES:
            if field not in grades and not fields.present(field):
                fields.problem(field, _missing_message(field))
                unreadable = True
    if unreadable and worst < WORST:
        raise Unusable("icans")

    ordered = [reasons[field] for field in FIELD_NAMES if field in reasons]
    if worst == 0:
        ordered.append("ASTCT 2019: ICE score 10 with no other finding → no ICANS (grade 0)")
    else:
        ordered.append(f"ASTCT 2019: the grade is the most severe domain → grade {worst}")
    return {"grade": worst, "reasons": ordered}


def _ice_score(fields: Fields, consciousness: str | None) -> tuple[int, str]:
    ice = fields.integer("ice_score")
    if consciousness == UNAROUSABLE and ice > 0:
        raise fields.refuse(
            "ice_score",
            f"ice_score {ice} is impossible for an unarousable patient; leave ice_score "
            "out or give 0",
        )
    return _ice(ice, consciousness)


def _ice(ice: int, consciousness: str | None) -> tuple[int, str]:
    """The ICE score column's grade, and why."""
    if ice == 10:
        return 0, "ASTCT 2019: ICE score 10 (normal)"
    if ice >= 7:
        return 1, f"ASTCT 2019: ICE score {ice} (7–9) → grade 1"
    if ice >= 3:
        return 2, f"ASTCT 2019: ICE score {ice} (3–6) → grade 2"
    if ice == 0 and consciousness == UNAROUSABLE:
        return WORST, "ASTCT 2019: ICE score 0 and unarousable → grade 4"
    if ice == 0 and consciousness in AWAKE:
        # ASTCT 2019: ICE 0 in an awake patient (e.g. global aphasia) is grade 3; only
        # an unarousable patient is grade 4.
        return 3, "ASTCT 2019: ICE score 0 in a patient who is awake → grade 3"
    return 3, f"ASTCT 2019: ICE score {ice} (0–2) → grade 3"


def _missing_message(field: str) -> str:
    if field == "ice_score":
        return (
            "ice_score is required unless the patient cannot be assessed because they are "
            "unarousable, or another finding already gives grade 4"
        )
    return f"{field} is required unless another finding already gives grade 4"
