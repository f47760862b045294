"""Patient eligibility for a product in a jurisdiction, criterion by criterion, with reasons.

The criteria are data on each authorisation (see `catalog.Criterion`); this module reads a
patient file into `PatientFacts` and weighs it against them. The answer is three-valued:
a fact the file does not give makes its criterion unknown, and an unknown criterion makes
the answer "undetermined", never "eligible".

Prior therapies may be given as classes or as drug names; `THERAPY_CLASSES` maps each
drug veinline knows to its class, citing the drug's US prescribing information. A term
veinline does not know never counts as "not given": if the classes it does know are not
enough, the criterion is undetermined and the reason names the term.

An indication that says "advanced" (a solid-tumour indication) is checked against the
disease stage; a missing or ambiguous stage leaves it undetermined. Where a jurisdiction
has several authorisations for the product, the answer names the one relied on and
explains each of the others. For a trial (IND or investigator-initiated), the answer says
that veinline checks the indication only: the protocol's criteria are the investigator's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from veinline.domain.catalog import (
    Authorisation,
    AuthorisationStatus,
    Criterion,
    CriterionOp,
    Product,
)
from veinline.domain.errors import InvalidInput
from veinline.domain.ledger import JsonObject

__all__ = [
    "THERAPY_CLASSES",
    "CriterionResult",
    "EligibilityResult",
    "PatientFacts",
    "evaluate",
    "parse_patient",
    "says_advanced",
    "therapy_class_of",
]

_FIELDS = (
    "age_years",
    "birth_date",
    "diagnosis",
    "disease_status",
    "prior_lines",
    "prior_therapy_classes",
    "prior_therapies",
    "disease_stage",
    "biomarkers",
    "conditions",
    "prior_allo_hsct",
    "weight_kg",
)
# Oldest documented human lifespan is 122 years; a larger age is a typing error.
_MAX_AGE = 130


class _Missing:
    """The patient file does not give this fact."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


@dataclass(frozen=True)
class PatientFacts:
    """What a patient file says about one patient, checked; None means not given."""

    age_years: int | None = None
    birth_date: date | None = None
    diagnosis: str | None = None
    disease_status: str | None = None
    prior_lines: int | None = None
    prior_therapy_classes: tuple[str, ...] | None = None
    # Drug names as written (bortezomib, lenalidomide ...), read through THERAPY_CLASSES.
    prior_therapies: tuple[str, ...] | None = None
    disease_stage: str | None = None
    # Keyed by the name as written; looked up through `biomarker_key`.
    biomarkers: Mapping[str, str | int | float] = field(default_factory=dict)
    conditions: tuple[str, ...] | None = None
    prior_allo_hsct: bool | None = None
    weight_kg: float | None = None

    def fact(self, path: str) -> object:
        """The value at a criterion's fact path, or MISSING.

        Only the first dot separates: in `biomarkers.CLDN18.2` the name is `CLDN18.2`.
        """
        head, dot, rest = path.partition(".")
        if head == "biomarkers" and dot:
            wanted = biomarker_key(rest)
            for name, result in self.biomarkers.items():
                if biomarker_key(name) == wanted:
                    return result
            return MISSING
        if dot or head not in _FIELDS or head == "biomarkers":
            raise _UnknownFact(path)
        if head == "prior_therapy_classes":
            known, _unknown = self.therapy_classes()
            given = self.prior_therapy_classes is not None or self.prior_therapies is not None
            return tuple(known) if given else MISSING
        value: object = getattr(self, head)
        return MISSING if value is None else value

    def therapy_classes(self) -> tuple[list[str], list[str]]:
        """The therapy classes the file shows, and the terms veinline cannot place.

        Both `prior_therapy_classes` and `prior_therapies` are read through the same
        vocabulary: a class name (or its usual abbreviation) or a drug name.
        """
        known: list[str] = []
        unknown: list[str] = []
        for term in (*(self.prior_therapy_classes or ()), *(self.prior_therapies or ())):
            therapy_class = therapy_class_of(term)
            if therapy_class is None:
                unknown.append(term)
            elif therapy_class not in known:
                known.append(therapy_class)
        return known, unknown


# --------------------------------------------------------------- prior-therapy vocabulary


@dataclass(frozen=True)
class TherapyClass:
    """A class of prior therapy an indication names, with the words that mean it."""

    code: str
    name: str
    aliases: tuple[str, ...]


# The classes named by the myeloma CAR-T labels: eque-cel's indication ("a proteasome
# inhibitor and an immunomodulatory agent", IASO Bio/Innovent announcement, 2 July 2023)
# and triple-class exposure ("an immunomodulatory agent, a proteasome inhibitor, and an
# anti-CD38 monoclonal antibody", ABECMA US prescribing information, indication).
THERAPY_CLASS_LIST: tuple[TherapyClass, ...] = (
    TherapyClass("proteasome_inhibitor", "proteasome inhibitor", ("pi",)),
    TherapyClass(
        "immunomodulatory_agent",
        "immunomodulatory agent",
        ("imid", "immunomodulatory_drug", "immunomodulator"),
    ),
    TherapyClass(
        "anti_cd38_antibody",
        "anti-CD38 monoclonal antibody",
        ("anti_cd38", "anti_cd38_monoclonal_antibody", "anti_cd38_mab", "cd38_antibody"),
    ),
)

# Drug name -> (class code, source). Each class is the one the drug's US prescribing
# information (Highlights, "Initial U.S. Approval" block and pharmacologic class) gives:
# bortezomib, carfilzomib and ixazomib are proteasome inhibitors; lenalidomide,
# pomalidomide and thalidomide are thalidomide analogues, which the myeloma CAR-T labels
# (ABECMA, CARVYKTI) count as immunomodulatory agents; daratumumab and isatuximab are
# CD38-directed cytolytic antibodies. Brand names are accepted as written on the carton.
THERAPY_CLASSES: dict[str, tuple[str, str]] = {
    "bortezomib": ("proteasome_inhibitor", "VELCADE (bortezomib) US prescribing information"),
    "velcade": ("proteasome_inhibitor", "VELCADE (bortezomib) US prescribing information"),
    "carfilzomib": ("proteasome_inhibitor", "KYPROLIS (carfilzomib) US prescribing information"),
    "kyprolis": ("proteasome_inhibitor", "KYPROLIS (carfilzomib) US prescribing information"),
    "ixazomib": ("proteasome_inhibitor", "NINLARO (ixazomib) US prescribing information"),
    "ninlaro": ("proteasome_inhibitor", "NINLARO (ixazomib) US prescribing information"),
    "lenalidomide": (
        "immunomodulatory_agent",
        "REVLIMID (lenalidomide) US prescribing information",
    ),
    "revlimid": ("immunomodulatory_agent", "REVLIMID (lenalidomide) US prescribing information"),
    "pomalidomide": (
        "immunomodulatory_agent",
        "POMALYST (pomalidomide) US prescribing information",
    ),
    "pomalyst": ("immunomodulatory_agent", "POMALYST (pomalidomide) US prescribing information"),
    "thalidomide": ("immunomodulatory_agent", "THALOMID (thalidomide) US prescribing information"),
    "thalomid": ("immunomodulatory_agent", "THALOMID (thalidomide) US prescribing information"),
    "daratumumab": ("anti_cd38_antibody", "DARZALEX (daratumumab) US prescribing information"),
    "darzalex": ("anti_cd38_antibody", "DARZALEX (daratumumab) US prescribing information"),
    "daratumumab_and_hyaluronidase": (
        "anti_cd38_antibody",
        "DARZALEX FASPRO (daratumumab and hyaluronidase) US prescribing information",
    ),
    "darzalex_faspro": (
        "anti_cd38_antibody",
        "DARZALEX FASPRO (daratumumab and hyaluronidase) US prescribing information",
    ),
    "isatuximab": ("anti_cd38_antibody", "SARCLISA (isatuximab) US prescribing information"),
    "sarclisa": ("anti_cd38_antibody", "SARCLISA (isatuximab) US prescribing information"),
}


def _term_key(term: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", term.strip().casefold()).strip("_")


_CLASS_BY_KEY: dict[str, str] = {}
for _therapy_class in THERAPY_CLASS_LIST:
    for _word in (_therapy_class.code, _therapy_class.name, *_therapy_class.aliases):
        _CLASS_BY_KEY[_term_key(_word)] = _therapy_class.code
_CLASS_NAMES = {c.code: c.name for c in THERAPY_CLASS_LIST}


def therapy_class_of(term: str) -> str | None:
    """The class code a prior-therapy term means (a class, its abbreviation or a drug)."""
    key = _term_key(term)
    if key in _CLASS_BY_KEY:
        return _CLASS_BY_KEY[key]
    drug = THERAPY_CLASSES.get(key)
    return drug[0] if drug else None


# --------------------------------------------------------------- disease stage

# What "advanced" covers for a solid tumour: locally advanced (unresectable) or metastatic
# disease, AJCC stage IV. Stage III may be resectable or not, so it alone does not say;
# early stages (0-II, localised, resectable) are not advanced.
_ADVANCED_STAGES = frozenset(
    {
        "advanced",
        "locally_advanced",
        "unresectable",
        "locally_advanced_unresectable",
        "metastatic",
        "stage_iv",
        "stage_4",
        "iv",
    }
)
_EARLY_STAGES = frozenset(
    {
        "early",
        "localised",
        "localized",
        "resectable",
        "stage_0",
        "stage_i",
        "stage_ii",
        "stage_1",
        "stage_2",
        "0",
        "i",
        "ii",
    }
)
_ADVANCED_WORD = re.compile(r"\badvanced\b", re.IGNORECASE)


def says_advanced(indication: str) -> bool:
    """Whether an indication limits itself to advanced disease."""
    return bool(_ADVANCED_WORD.search(indication))


def _weigh_stage(facts: PatientFacts) -> tuple[bool | None, str]:
    stage = facts.disease_stage
    if stage is None:
        return None, "disease stage not given; the indication is for advanced disease"
    key = _term_key(stage)
    if key in _ADVANCED_STAGES:
        return True, f"disease stage {stage} (advanced)"
    if key in _EARLY_STAGES:
        return False, f"disease stage {stage}, needs advanced (locally advanced or metastatic)"
    return None, (
        f"veinline cannot tell whether disease stage {stage!r} is advanced; give locally "
        "advanced, unresectable, metastatic or an early stage"
    )


class _UnknownFact(Exception):
    """A criterion names a fact no patient file can carry (a catalogue error)."""


# Gene symbols and protein names of the same target; a file may use either.
_BIOMARKER_PREFIXES = (("claudin", "cldn"),)
_BIOMARKER_ALIASES = {"cd326": "epcam", "tnfrsf17": "bcma", "cd269": "bcma"}


def biomarker_key(name: str) -> str:
    """A biomarker name without case or punctuation: "Claudin 18.2" and "CLDN18.2" agree."""
    key = re.sub(r"[^0-9a-z]", "", name.casefold())
    for long, short in _BIOMARKER_PREFIXES:
        if key.startswith(long):
            key = short + key[len(long) :]
    return _BIOMARKER_ALIASES.get(key, key)


def _text_key(value: str) -> str:
    # Coordinators type "Multiple myeloma" or "relapsed-refractory"; the catalogue
    # says multiple_myeloma and relapsed_refractory. Case, spaces, hyphens and
    # underscores are not meaningful differences in these codes.
    return re.sub(r"[\s_-]+", "_", value.strip().casefold())


# --------------------------------------------------------------- reading a patient file


def _describe(value: object) -> str:
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


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be a non-empty text, not {_describe(value)}")
    return value.strip()


def _whole(name: str, value: object, *, maximum: int) -> int:
    # 7.0 is read as 7 (JSON writers differ); 7.5 and true are refused, not rounded.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a whole number, not {_describe(value)}")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise InvalidInput(f"{name} must be a whole number, not {value}")
    number = int(value)
    if number < 0:
        raise InvalidInput(f"{name} cannot be negative ({number})")
    if number > maximum:
        raise InvalidInput(f"{name} must be at most {maximum}, not {number}")
    return number


def _texts(name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidInput(f"{name} must be a list of texts, not {_describe(value)}")
    return tuple(_text(f"{name}[{index}]", item) for index, item in enumerate(value))


def _biomarkers(value: object) -> dict[str, str | int | float]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"biomarkers must be an object, not {_describe(value)}")
    out: dict[str, str | int | float] = {}
    seen: dict[str, str] = {}
    for raw_name, raw in value.items():
        name = _text("a biomarker name", raw_name)
        where = f"biomarkers.{name}"
        item: str | int | float
        if isinstance(raw, str):
            item = _text(where, raw)
        elif isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            item = raw
        else:
            raise InvalidInput(f"{where} must be a text or a number, not {_describe(raw)}")
        key = biomarker_key(name)
        if key in seen and _same(out[seen[key]], item) is not True:
            # Two spellings of one marker with different results: which one is meant?
            raise InvalidInput(
                f"{where} and biomarkers.{seen[key]} name the same biomarker with different results"
            )
        seen[key] = name
        out[name] = item
    return out


def _age_on(birth: date, today: date) -> int:
    # Whole years completed; a 29 February birthday falls on 1 March in common years.
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def parse_patient(data: object, *, today: date) -> PatientFacts:
    """Check a patient file (a JSON object) and read its facts; `today` dates the age."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"the patient file must be an object, not {_describe(data)}")
    unknown = sorted(str(key) for key in data if key not in _FIELDS)
    if unknown:
        # A misspelt field would otherwise be ignored and its criterion left unknown.
        raise InvalidInput(
            f"{unknown[0]} is not a patient fact veinline reads (expected: {', '.join(_FIELDS)})"
        )
    given = {str(key): value for key, value in data.items() if value is not None}

    age: int | None = None
    if "age_years" in given:
        age = _whole("age_years", given["age_years"], maximum=_MAX_AGE)
    birth: date | None = None
    if "birth_date" in given:
        text = _text("birth_date", given["birth_date"])
        try:
            birth = date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"birth_date must be a date as YYYY-MM-DD, not {_describe(given['birth_date'])}"
            ) from None
        if birth > today:
            raise InvalidInput(f"birth_date {birth.isoformat()} is in the future")
        born_age = _age_on(birth, today)
        if born_age > _MAX_AGE:
            raise InvalidInput(f"birth_date {birth.isoformat()} gives an age of {born_age}")
        if age is not None and age != born_age:
            raise InvalidInput(
                f"age_years {age} disagrees with birth_date {birth.isoformat()} "
                f"(aged {born_age} on {today.isoformat()})"
            )
        age = born_age

    weight: float | None = None
    if "weight_kg" in given:
        raw = given["weight_kg"]
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise InvalidInput(f"weight_kg must be a number, not {_describe(raw)}")
        if raw <= 0:
            raise InvalidInput(f"weight_kg must be greater than 0, not {raw}")
        weight = float(raw)

    hsct: bool | None = None
    if "prior_allo_hsct" in given:
        if not isinstance(given["prior_allo_hsct"], bool):
            raise InvalidInput(
                f"prior_allo_hsct must be true or false, not {_describe(given['prior_allo_hsct'])}"
            )
        hsct = given["prior_allo_hsct"]

    def optional_text(name: str) -> str | None:
        return _text(name, given[name]) if name in given else None

    def optional_texts(name: str) -> tuple[str, ...] | None:
        return _texts(name, given[name]) if name in given else None

    return PatientFacts(
        age_years=age,
        birth_date=birth,
        diagnosis=optional_text("diagnosis"),
        disease_status=optional_text("disease_status"),
        prior_lines=(
            _whole("prior_lines", given["prior_lines"], maximum=100)
            if "prior_lines" in given
            else None
        ),
        prior_therapy_classes=optional_texts("prior_therapy_classes"),
        prior_therapies=optional_texts("prior_therapies"),
        disease_stage=optional_text("disease_stage"),
        biomarkers=_biomarkers(given["biomarkers"]) if "biomarkers" in given else {},
        conditions=optional_texts("conditions"),
        prior_allo_hsct=hsct,
        weight_kg=weight,
    )


# --------------------------------------------------------------- results


@dataclass(frozen=True)
class CriterionResult:
    """One criterion weighed against a patient: met, not met, or unknown (None)."""

    id: str
    description: str
    met: bool | None
    reason: str

    def to_dict(self) -> JsonObject:
        return {
            "id": self.id,
            "description": self.description,
            "met": self.met,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class EligibilityResult:
    """Whether a patient may be treated with a product in a jurisdiction, and why."""

    eligible: bool | None
    criteria: tuple[CriterionResult, ...]
    product: str
    jurisdiction: str
    authorisation: str | None
    # What the answer does not check (a trial's protocol criteria), in words.
    notes: tuple[str, ...] = ()
    # The other authorisations to treat in the jurisdiction, each weighed and explained.
    others: tuple[JsonObject, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 eligible, 1 not eligible, 3 undetermined (2 is taken by refused input)."""
        if self.eligible is None:
            return 3
        return 0 if self.eligible else 1

    def to_dict(self) -> JsonObject:
        return {
            "eligible": self.eligible,
            "criteria": [c.to_dict() for c in self.criteria],
            "product": self.product,
            "jurisdiction": self.jurisdiction,
            "authorisation": self.authorisation,
            "notes": list(self.notes),
            "others": [dict(o) for o in self.others],
        }


# --------------------------------------------------------------- weighing criteria


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return ", ".join(_show(v) for v in value) or "none"
    return str(value).replace("_", " ")


def _either(values: Sequence[object], word: str = "or") -> str:
    shown = [_show(v) for v in values]
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} {word} {shown[-1]}"


@dataclass(frozen=True)
class _Wording:
    """How reasons speak of one fact."""

    noun: str
    state: str  # "{v}" is the patient's value
    more: str = "or more"
    less: str = "or less"
    unit: str = ""


_WORDING = {
    "age_years": _Wording("age", "aged {v}", more="or over", less="or under"),
    "diagnosis": _Wording("diagnosis", "diagnosis {v}"),
    "disease_status": _Wording("disease status", "disease status {v}"),
    "prior_lines": _Wording("number of prior lines", "{v} prior lines"),
    "prior_therapy_classes": _Wording("prior therapy classes", "prior therapy classes {v}"),
    "disease_stage": _Wording("disease stage", "disease stage {v}"),
    "conditions": _Wording("conditions", "conditions {v}"),
    "prior_allo_hsct": _Wording("prior allogeneic HSCT", "prior allogeneic HSCT: {v}"),
    "weight_kg": _Wording("weight", "weighs {v} kg", unit=" kg"),
}


def _wording(path: str) -> _Wording:
    head, dot, rest = path.partition(".")
    if head == "biomarkers" and dot:
        return _Wording(f"{rest} status", f"{rest} {{v}}")
    return _WORDING.get(path, _Wording(path, f"{path} {{v}}"))


def _same(a: object, b: object) -> bool | None:
    """Equality across JSON kinds; None when the two cannot be compared."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b if isinstance(a, bool) and isinstance(b, bool) else None
    if isinstance(a, str) and isinstance(b, str):
        return _text_key(a) == _text_key(b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return None


def _weigh(criterion: Criterion, facts: PatientFacts) -> tuple[bool | None, str]:
    words = _wording(criterion.fact)
    try:
        value = facts.fact(criterion.fact)
    except _UnknownFact:
        return None, (
            f"the catalogue asks for {criterion.fact}, which a patient file cannot give; "
            "check this criterion by hand"
        )
    if value is MISSING:
        return None, f"{words.noun} not given"
    state = words.state.format(v=_show(value))
    want = criterion.value
    cannot = (
        None,
        f"{state}: cannot be compared with {criterion.op.value} {_show(want)}; "
        "check this criterion by hand",
    )
    op = criterion.op

    if op in (CriterionOp.AT_LEAST, CriterionOp.AT_MOST):
        numbers = (value, want)
        if any(isinstance(n, bool) or not isinstance(n, int | float) for n in numbers):
            return cannot
        assert isinstance(value, int | float) and isinstance(want, int | float)
        if op is CriterionOp.AT_LEAST:
            need = f"{_show(want)}{words.unit} {words.more}"
            met = value >= want
        else:
            need = f"{_show(want)}{words.unit} {words.less}"
            met = value <= want
        return (True, f"{state} ({need})") if met else (False, f"{state}, needs {need}")

    if op is CriterionOp.EQUALS:
        same = _same(value, want)
        if same is None:
            return cannot
        return (True, state) if same else (False, f"{state}, needs {_show(want)}")

    if op is CriterionOp.ONE_OF:
        assert isinstance(want, list)
        results = [_same(value, w) for w in want]
        if any(results):
            return True, state
        if all(r is None for r in results):
            return cannot
        return False, f"{state}, needs {_either(want)}"

    if op is CriterionOp.INCLUDES_ALL:
        assert isinstance(want, list)
        if not isinstance(value, tuple):
            return cannot
        # A list the file gives is taken as complete: what it leaves out, the patient lacks.
        lacking = [w for w in want if not any(_same(v, w) for v in value)]
        if lacking and criterion.fact == "prior_therapy_classes":
            _known, unknown = facts.therapy_classes()
            names = [_CLASS_NAMES.get(str(w), _show(w)) for w in lacking]
            if unknown:
                # An unknown drug may be the missing class: say so, never "not met".
                terms = ", ".join(repr(t) for t in unknown)
                return None, (
                    f"veinline does not know the prior therapy {terms}; it may be the "
                    f"{_either(names)} the indication needs: check by hand"
                )
            return False, f"no {_either(names)} among the prior therapies"
        if lacking:
            return False, f"no {_either(lacking)} among {words.noun}"
        return True, f"{words.noun} include {_either(want, 'and')}"

    # IS_TRUE / IS_FALSE
    if not isinstance(value, bool):
        return cannot
    wanted = op is CriterionOp.IS_TRUE
    if value is wanted:
        return True, state
    return False, f"{state}, needs {_show(wanted)}"


def _combine(results: Sequence[CriterionResult]) -> bool | None:
    # One failed criterion settles it; otherwise any unknown leaves it open.
    if any(r.met is False for r in results):
        return False
    if any(r.met is None for r in results):
        return None
    return True


def _authorisation_line(auth: Authorisation) -> CriterionResult:
    regulator = f" ({auth.regulator})" if auth.regulator else ""
    reference = f", {auth.reference}" if auth.reference else ""
    return CriterionResult(
        id="authorisation",
        description=f"Authorised to treat in {auth.jurisdiction.upper()}",
        met=True,
        reason=f"{auth.status.label}{regulator}{reference}: {auth.indication}",
    )


def _evaluate_one(product: Product, auth: Authorisation, facts: PatientFacts) -> EligibilityResult:
    criteria = auth.criteria_list()
    lines = [_authorisation_line(auth)]
    if not criteria:
        # No criteria recorded is not "no conditions": the indication still applies.
        lines.append(
            CriterionResult(
                id="criteria",
                description="Eligibility criteria recorded",
                met=None,
                reason=f"{auth.id} records no criteria; check the indication by hand",
            )
        )
    for criterion in criteria:
        met, reason = _weigh(criterion, facts)
        lines.append(CriterionResult(criterion.id, criterion.description, met, reason))
    if says_advanced(auth.indication) and not any(c.fact == "disease_stage" for c in criteria):
        met, reason = _weigh_stage(facts)
        lines.append(
            CriterionResult(
                "advanced-stage", "Advanced disease (locally advanced or metastatic)", met, reason
            )
        )
    notes: list[str] = []
    if auth.status.is_trial:
        notes.append(
            f"{auth.id} is a clinical trial ({auth.status.label}): veinline checks the "
            "indication only; the protocol's inclusion and exclusion criteria are for the "
            "investigator to assess"
        )
    return EligibilityResult(
        eligible=_combine(lines),
        criteria=tuple(lines),
        product=product.code,
        jurisdiction=auth.jurisdiction.upper(),
        authorisation=auth.id,
        notes=tuple(notes),
    )


def _summary(result: EligibilityResult) -> JsonObject:
    word = {True: "eligible", False: "not eligible", None: "undetermined"}[result.eligible]
    open_lines = [c for c in result.criteria if c.met is not True]
    because = "; ".join(f"{c.id}: {c.reason}" for c in open_lines) or "every criterion met"
    head = result.criteria[0].reason if result.criteria else ""
    return {
        "authorisation": result.authorisation,
        "eligible": result.eligible,
        "explanation": f"{result.authorisation} ({head}): {word}, {because}",
        "notes": list(result.notes),
    }


def _what_exists(here: list[Authorisation], mine: list[Authorisation]) -> str:
    if here:
        parts = []
        for auth in here:
            if auth.designations and auth.status is AuthorisationStatus.DESIGNATION_ONLY:
                parts.append(f"{', '.join(auth.designations)} designation only")
            else:
                parts.append(auth.status.label.lower())
        return "; ".join(parts)
    elsewhere = sorted({a.jurisdiction.upper() for a in mine if a.status.permits_treatment})
    if elsewhere:
        return f"authorised to treat in {', '.join(elsewhere)}"
    return "none recorded"


def _rank(result: EligibilityResult) -> tuple[int, int, int]:
    order = {True: 0, None: 1, False: 2}[result.eligible]
    failed = sum(1 for c in result.criteria if c.met is False)
    unknown = sum(1 for c in result.criteria if c.met is None)
    return order, failed, unknown


def evaluate(
    product: Product,
    authorisations: Sequence[Authorisation],
    jurisdiction: str,
    facts: PatientFacts,
) -> EligibilityResult:
    """Weigh a patient against the product's authorisations to treat in a jurisdiction.

    Where several authorisations apply (two trials in one country), the best answer
    wins (eligible, then undetermined, then not eligible; among equals, the one with
    fewest failed then fewest unknown criteria, then the first given) and is named;
    each of the others is weighed too and explained in `others`.
    """
    place = jurisdiction.strip().upper()
    if not place:
        raise InvalidInput("jurisdiction must be given (a country or region code such as CN)")
    mine = [a for a in authorisations if a.product_code == product.code]
    here = [a for a in mine if a.jurisdiction.upper() == place]
    usable = [a for a in here if a.status.permits_treatment]
    if not usable:
        refused = CriterionResult(
            id="authorisation",
            description=f"Authorised to treat in {place}",
            met=False,
            reason=(
                f"{product.code} has no authorisation to treat in {place} "
                f"({_what_exists(here, mine)})"
            ),
        )
        return EligibilityResult(False, (refused,), product.code, place, None)
    results = [_evaluate_one(product, auth, facts) for auth in usable]
    best = min(results, key=_rank)
    if len(results) == 1:
        return best
    others = tuple(_summary(r) for r in results if r is not best)
    return replace(best, others=others)


# --------------------------------------------------------------- the facts a form asks for

# The unit a number fact is given in (the form shows it beside the field).
_UNITS = {"age_years": "years", "prior_lines": "lines", "weight_kg": "kg"}


@dataclass(frozen=True)
class FactField:
    """One patient fact a form asks for: its name in the patient file, its label, how it
    is given (a number in its unit, one of `choices`, several of them, yes or no, or a
    word), and why (the criteria that read it)."""

    name: str
    label: str
    kind: str  # number, choice, choices, yes_no, text
    unit: str = ""
    choices: tuple[str, ...] = ()
    why: tuple[str, ...] = ()


def _field_for(criteria: Sequence[Criterion]) -> FactField:
    path = criteria[0].fact
    choices: list[str] = []
    kinds = set()
    for criterion in criteria:
        values = criterion.value if isinstance(criterion.value, list | tuple) else [criterion.value]
        if criterion.op in (CriterionOp.AT_LEAST, CriterionOp.AT_MOST):
            kinds.add("number")
        elif criterion.op in (CriterionOp.IS_TRUE, CriterionOp.IS_FALSE):
            kinds.add("yes_no")
        elif criterion.op is CriterionOp.INCLUDES_ALL:
            kinds.add("choices")
            choices += [str(v) for v in values if str(v) not in choices]
        else:
            kinds.add("choice" if path != "conditions" else "choices")
            choices += [str(v) for v in values if v is not None and str(v) not in choices]
    # The first of these the criteria need decides how the fact is given.
    kind = next((k for k in ("number", "yes_no", "choices", "choice") if k in kinds), "text")
    if path.startswith("biomarkers."):
        kind = "text"
    return FactField(
        name=path,
        label=_wording(path).noun,
        kind=kind,
        unit=_UNITS.get(path, ""),
        choices=tuple(choices) if kind in ("choice", "choices") else (),
        why=tuple(c.description for c in criteria),
    )


def fact_fields(authorisations: Sequence[Authorisation]) -> list[FactField]:
    """The facts the criteria of these authorisations read, each once, in the order the
    criteria ask for them; the weight always (the dose is per kg)."""
    by_fact: dict[str, list[Criterion]] = {}
    for auth in authorisations:
        for criterion in auth.criteria_list():
            by_fact.setdefault(criterion.fact, []).append(criterion)
    fields = [_field_for(criteria) for criteria in by_fact.values()]
    if "weight_kg" not in by_fact:
        fields.append(FactField("weight_kg", "weight", "number", "kg", why=("the dose per kg",)))
    return fields


def missing_facts(authorisation: Authorisation, facts: PatientFacts) -> list[FactField]:
    """The facts this authorisation's criteria read that the patient file does not give
    (an unknown drug name is given, and weighed as such: not missing)."""
    read = {c.fact for c in authorisation.criteria_list()}
    return [
        f for f in fact_fields([authorisation]) if f.name in read and _given(facts, f.name) is False
    ]


def _given(facts: PatientFacts, path: str) -> bool | None:
    try:
        return facts.fact(path) is not MISSING
    except _UnknownFact:
        return None  # a fact no patient file can give: checked by hand, not asked for
