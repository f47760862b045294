"""FHIR export of one case: a pseudonymous Bundle of type "collection".

FHIR version: fhir.resources 8 ships R5 as its top-level package and R4B (4.3.0) and
STU3 as subpackages; it has no R4 (4.0.1) package. This module builds and validates
with `fhir.resources.R4B`, the R4-compatible models. Every element used here has the
same name, type and meaning in R4 4.0.1; nothing R4B-only is used.

The patient is pseudonymous: no name, wristband id, birth date, address or staff name
leaves veinline. The only patient identifier is the chain-of-identity (CoI) identifier
(ISBT 128 data structure 040, ST-028), labelled PSEUDED (pseudonymized) in meta.security.

Identifier systems and code systems:

- DIN: `https://www.isbt128.org/uri/DonationIdentificationNumber`, the URI the FHIR
  specification's own ISBT 128 example uses (SupplyDelivery/ISBT128). The check
  character K (ISO/IEC 7064 MOD 37-2) rides on the identifier as an extension.
- CoI identifier (ISBT 128 ST-001 §2.4.40, ST-028): its data element is named
  ChainOfIdentityIdentifier, but no ICCBBA URI for it is confirmed, so the system is
  veinline's own, `{BASE}/sid/isbt128-coi`; the value is the 15-character data content
  string 'CH…' without the '&/' data identifier, which the system makes redundant
  (ST-001 §6.4). On the product it carries its check character K like the DIN (ST-001
  Table 30: required).
  How IG-050 transmits the CoI electronically (with or without K, with or without 'CH')
  is unconfirmed.
- Batch, site, product, procedure, toxicity and response codes are veinline's own systems
  under `BASE`, a placeholder namespace (`.example`, RFC 2606) until a deployment owns a
  real one.
- HL7 terminology where it exists: adverse-event seriousness, severity and outcome
  (terminology.hl7.org), PSEUDED (v3-ObservationValue), UCUM for mL.

Where R4 has no element for a link veinline needs, an extension carries it: the R5
cross-version extensions for elements R5 added (BiologicallyDerivedProduct
expirationDate and biologicalSourceEvent, Specimen.collection.procedure), and
veinline's own for the rest (the product's source specimen, the product an infusion
used, the CTCAE grade of an adverse event, the therapy identifier).

The therapy identifier stands for R6's BiologicallyDerivedProduct.therapyIdentifier, a
grouping identifier for products arising from the same therapy (R6 ballot, FHIR-54999).
R6 is not published, so no cross-version extension URL exists yet and veinline uses its
own, `{BASE}/StructureDefinition/therapy-identifier`, with an Identifier value (the
ballot's datatype; unconfirmed until R6 is final). It holds the CoI identifier and sits
on the product and on the Specimen of every collection, so every DIN collected for the
therapy event is linked by the one CoI while each keeps its own DIN identifier.

Resources: Patient; per collection a Procedure (apheresis) and a Specimen; once
manufacturing has started, the BiologicallyDerivedProduct; once infused, a Procedure
(infusion); an Observation per toxicity grade and per response; an AdverseEvent per
event; an Organization per site a procedure was performed at. Every fullUrl is a
`urn:uuid:` derived with uuid5 from the case id and the resource's role, so exporting
the same case twice gives the same addresses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from fhir.resources.R4B.bundle import Bundle

from veinline.domain import isbt128
from veinline.domain.case import parse_date, parse_moment
from veinline.domain.errors import InvalidInput

__all__ = [
    "BASE",
    "COI_SYSTEM",
    "DIN_SYSTEM",
    "FHIR_VERSION",
    "THERAPY_IDENTIFIER_URL",
    "CaseExport",
    "case_bundle",
    "validate_bundle",
]

JsonDict = dict[str, Any]

FHIR_VERSION: Final = "4.3.0"  # R4B: fhir.resources 8 has no 4.0.1 models

BASE: Final = "https://veinline.example/fhir"
DIN_SYSTEM: Final = "https://www.isbt128.org/uri/DonationIdentificationNumber"
COI_SYSTEM: Final = f"{BASE}/sid/isbt128-coi"
BATCH_SYSTEM: Final = f"{BASE}/sid/batch"
SITE_SYSTEM: Final = f"{BASE}/sid/site"
PRODUCT_SYSTEM: Final = f"{BASE}/CodeSystem/product"
PROCEDURE_SYSTEM: Final = f"{BASE}/CodeSystem/procedure"
SPECIMEN_TYPE_SYSTEM: Final = f"{BASE}/CodeSystem/specimen-type"
OBSERVATION_SYSTEM: Final = f"{BASE}/CodeSystem/observation"

CHECK_CHARACTER_URL: Final = f"{BASE}/StructureDefinition/isbt128-check-character"
SOURCE_SPECIMEN_URL: Final = f"{BASE}/StructureDefinition/source-specimen"
INFUSED_PRODUCT_URL: Final = f"{BASE}/StructureDefinition/infused-product"
CTCAE_GRADE_URL: Final = f"{BASE}/StructureDefinition/ctcae-grade"
THERAPY_IDENTIFIER_URL: Final = f"{BASE}/StructureDefinition/therapy-identifier"
_R5: Final = "http://hl7.org/fhir/5.0/StructureDefinition/extension-"
EXPIRATION_URL: Final = _R5 + "BiologicallyDerivedProduct.expirationDate"
SOURCE_EVENT_URL: Final = _R5 + "BiologicallyDerivedProduct.biologicalSourceEvent"
COLLECTION_PROCEDURE_URL: Final = _R5 + "Specimen.collection.procedure"

_HL7: Final = "http://terminology.hl7.org/CodeSystem/"
_PSEUDONYMIZED: Final = {
    "system": _HL7 + "v3-ObservationValue",
    "code": "PSEUDED",
    "display": "pseudonymized",
}
_UCUM: Final = "http://unitsofmeasure.org"

_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, BASE)

# ASTCT 2019: CRS grade 5 is death from CRS; veinline grades ICANS 0-4
# (ASTCT consensus grading, Lee et al. 2019).
_TOXICITY: Final[dict[str, tuple[str, int]]] = {
    "crs": ("Cytokine release syndrome grade (ASTCT 2019)", 5),
    "icans": ("Immune effector cell-associated neurotoxicity syndrome grade (ASTCT 2019)", 4),
}
_RESPONSE_SCALES: Final[dict[str, tuple[str, str, dict[str, str]]]] = {
    "recist": (
        "recist-1.1",
        "Solid tumour response (RECIST 1.1)",
        {
            "CR": "Complete response",
            "PR": "Partial response",
            "SD": "Stable disease",
            "PD": "Progressive disease",
            "NE": "Not evaluable",
        },
    ),
    "imwg": (
        "imwg-2016",
        "Multiple myeloma response (IMWG 2016)",
        {
            "sCR": "Stringent complete response",
            "CR": "Complete response",
            "VGPR": "Very good partial response",
            "PR": "Partial response",
            "MR": "Minimal response",
            "SD": "Stable disease",
            "PD": "Progressive disease",
        },
    ),
}
# FHIR R4 AdverseEvent.outcome is bound (required) to these codes.
_OUTCOMES: Final = {
    "resolved": "Resolved",
    "recovering": "Recovering",
    "ongoing": "Ongoing",
    "resolvedWithSequelae": "Resolved with Sequelae",
    "fatal": "Fatal",
    "unknown": "Unknown",
}
# CTCAE v5 grade → FHIR R4 AdverseEvent.severity (mild | moderate | severe). Grades 4 and 5
# have no stronger code, hence the exact grade in an extension as well.
_SEVERITY: Final = {1: "mild", 2: "moderate", 3: "severe", 4: "severe", 5: "severe"}
# BiologicallyDerivedProduct.status (R4: available | unavailable) by case state; states
# not listed (in manufacturing or QC) leave it out.
_PRODUCT_STATUS: Final = {
    "released": "available",
    "shipped": "available",
    "received_at_site": "available",
    "infused": "unavailable",
    "follow_up": "unavailable",
    "out_of_specification": "unavailable",
    "cancelled": "unavailable",
}
_AUTOLOGOUS: Final = frozenset({"autologous_car_t"})


@dataclass(frozen=True)
class CaseExport:
    """Everything one case's FHIR export says, as JSON-like data (no database access).

    `case` is `Case.snapshot()`; `product` has code, name, modality and optionally
    storage_max_c; `treatment_site` has code, name and country. `toxicity` items are
    {kind: crs|icans, date, grade, reasons}; `responses` {scale: recist|imwg, date,
    response}; `adverse_events` {term (CTCAE), grade 1-5, serious, onset, outcome}.
    `exported_at` (ISO 8601 with zone) becomes Bundle.timestamp when given.
    """

    case: Mapping[str, Any]
    product: Mapping[str, Any]
    treatment_site: Mapping[str, Any]
    toxicity: Sequence[Mapping[str, Any]] = ()
    responses: Sequence[Mapping[str, Any]] = ()
    adverse_events: Sequence[Mapping[str, Any]] = ()
    exported_at: str | None = None


def case_bundle(export: CaseExport) -> dict[str, Any]:
    """The case as a FHIR R4 (R4B models) collection Bundle, as JSON-ready data.

    Raises InvalidInput when the export data is malformed or inconsistent.
    """
    builder = _Builder(export)
    data: JsonDict = {"resourceType": "Bundle", "id": builder.uuid("bundle"), "type": "collection"}
    if export.exported_at is not None:
        data["timestamp"] = _moment(export.exported_at, "exported_at")
    data["meta"] = {"security": [dict(_PSEUDONYMIZED)]}
    data["entry"] = [{"fullUrl": url, "resource": resource} for url, resource in builder.build()]
    try:
        bundle = Bundle.model_validate(data)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"case {builder.case_id} cannot be exported as FHIR: {exc}") from None
    result: dict[str, Any] = bundle.model_dump(mode="json")
    _check_references(result)
    return result


def validate_bundle(data: object) -> None:
    """Raise InvalidInput unless `data` is a FHIR R4B Bundle whose urn:uuid links resolve."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"a FHIR Bundle is a JSON object, not {type(data).__name__}")
    if data.get("resourceType") != "Bundle":
        raise InvalidInput(f"resourceType must be 'Bundle', not {data.get('resourceType')!r}")
    try:
        Bundle.model_validate(dict(data))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a valid FHIR R4B Bundle: {exc}") from None
    _check_references(data)


# ---------------------------------------------------------------- building


class _Builder:
    """Turns one CaseExport into (fullUrl, resource) pairs, patient first."""

    def __init__(self, export: CaseExport) -> None:
        self.export = export
        self.case = export.case
        self.case_id = _text(self.case, "id", "case")
        # Refuses a CoI identifier with a wrong layout before any resource is built.
        self.coi = isbt128.Coi.parse(_text(self.case, "coi", f"case {self.case_id}"))
        self.entries: list[tuple[str, JsonDict]] = []
        self.organizations: dict[str, str] = {}
        self._check_consistent()

    def uuid(self, *role: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, "/".join(("case", self.case_id, *role))))

    def urn(self, *role: str) -> str:
        return f"urn:uuid:{self.uuid(*role)}"

    def add(self, role: tuple[str, ...], resource: JsonDict) -> str:
        url = self.urn(*role)
        self.entries.append((url, {**resource, "id": self.uuid(*role)}))
        return url

    def build(self) -> list[tuple[str, JsonDict]]:
        patient = self._patient()
        specimen: str | None = None
        collections = self.case.get("collections") or []
        if not isinstance(collections, list):
            raise InvalidInput(f"case {self.case_id}: collections must be a list")
        for index, collection in enumerate(collections):
            specimen = self._collection(index, collection, patient)
        manufacturing = self.case.get("manufacturing") or {}
        product: str | None = None
        if collections and manufacturing.get("batch_id"):
            assert specimen is not None
            product = self._product(collections[-1], manufacturing, patient, specimen)
        infusion = self.case.get("infusion") or {}
        procedure: str | None = None
        if infusion.get("infusion_started_at"):
            procedure = self._infusion(infusion, patient, product)
        for index, item in enumerate(self.export.toxicity):
            self._toxicity(index, item, patient)
        for index, item in enumerate(self.export.responses):
            self._response(index, item, patient)
        for index, item in enumerate(self.export.adverse_events):
            self._adverse_event(index, item, patient, procedure)
        return self.entries

    def _check_consistent(self) -> None:
        code = _text(self.export.product, "code", "product")
        if code != self.case.get("product_code"):
            raise InvalidInput(
                f"product {code} is not the product of case {self.case_id} "
                f"({self.case.get('product_code')})"
            )
        site = _text(self.export.treatment_site, "code", "treatment_site")
        if site != self.case.get("treatment_site"):
            raise InvalidInput(
                f"site {site} is not the treatment site of case {self.case_id} "
                f"({self.case.get('treatment_site')})"
            )

    # ------------------------------------------------------------ resources

    def _patient(self) -> str:
        # Pseudonymous by construction: only the CoI identifier, never name, wristband
        # id, birth date, sex or address (HIPAA Safe Harbor identifiers, 45 CFR
        # 164.514(b)(2), stay out of an export).
        return self.add(
            ("patient",),
            {
                "resourceType": "Patient",
                "meta": {"security": [dict(_PSEUDONYMIZED)]},
                "identifier": [{"system": COI_SYSTEM, "value": self.coi.text}],
            },
        )

    def _therapy(self) -> JsonDict:
        return {
            "url": THERAPY_IDENTIFIER_URL,
            "valueIdentifier": {"system": COI_SYSTEM, "value": self.coi.text},
        }

    def _organization(self, code: str) -> str:
        if code in self.organizations:
            return self.organizations[code]
        resource: JsonDict = {
            "resourceType": "Organization",
            "identifier": [{"system": SITE_SYSTEM, "value": code}],
        }
        site = self.export.treatment_site
        if code == site.get("code"):
            resource["name"] = _text(site, "name", "treatment_site")
            if site.get("country"):
                resource["address"] = [{"country": str(site["country"])}]
        # Of an apheresis site only the code is known here; FHIR org-1 asks for a name
        # or an identifier, and the identifier suffices.
        url = self.add(("organization", code), resource)
        self.organizations[code] = url
        return url

    def _collection(self, index: int, collection: Mapping[str, Any], patient: str) -> str:
        where = f"case {self.case_id} collection {index + 1}"
        din = _text(collection, "din", where)
        collected_at = _moment(collection.get("collected_at"), f"{where}: collected_at")
        procedure = self.add(
            ("apheresis", str(index)),
            {
                "resourceType": "Procedure",
                "status": "completed",
                "code": _concept(PROCEDURE_SYSTEM, "apheresis", "Apheresis collection"),
                "subject": _ref(patient, "Patient"),
                "performedDateTime": collected_at,
                **self._performer(collection.get("site")),
            },
        )
        specimen_collection: JsonDict = {
            "extension": [
                {"url": COLLECTION_PROCEDURE_URL, "valueReference": _ref(procedure, "Procedure")}
            ],
            "collectedDateTime": collected_at,
        }
        volume = collection.get("volume_ml")
        if volume is not None:
            specimen_collection["quantity"] = {
                "value": _number(volume, f"{where}: volume_ml"),
                "unit": "mL",
                "system": _UCUM,
                "code": "mL",
            }
        return self.add(
            ("specimen", str(index)),
            {
                "resourceType": "Specimen",
                "extension": [self._therapy()],
                "identifier": [_din_identifier(din, collection.get("check_character"), where)],
                "type": _concept(SPECIMEN_TYPE_SYSTEM, "apheresis", "Apheresis collection"),
                "subject": _ref(patient, "Patient"),
                "collection": specimen_collection,
            },
        )

    def _product(
        self,
        collection: Mapping[str, Any],
        manufacturing: Mapping[str, Any],
        patient: str,
        specimen: str,
    ) -> str:
        where = f"case {self.case_id} product"
        product = self.export.product
        din = _din_identifier(
            _text(collection, "din", where), collection.get("check_character"), where
        )
        extensions: list[JsonDict] = [
            {"url": SOURCE_SPECIMEN_URL, "valueReference": _ref(specimen, "Specimen")},
            {
                "url": SOURCE_EVENT_URL,
                "valueIdentifier": {"system": DIN_SYSTEM, "value": din["value"]},
            },
            self._therapy(),
        ]
        if manufacturing.get("expires_at"):
            expires = _moment(manufacturing["expires_at"], f"{where}: expires_at")
            extensions.append({"url": EXPIRATION_URL, "valueDateTime": expires})
        name = _text(product, "name", "product")
        collected: JsonDict = {"collectedDateTime": _moment(collection.get("collected_at"), where)}
        if product.get("modality") in _AUTOLOGOUS:
            collected["source"] = _ref(patient, "Patient")
        resource: JsonDict = {
            "resourceType": "BiologicallyDerivedProduct",
            "extension": extensions,
            "identifier": [
                din,
                {
                    "extension": [{"url": CHECK_CHARACTER_URL, "valueString": self.coi.check}],
                    "system": COI_SYSTEM,
                    "value": self.coi.text,
                },
                {"system": BATCH_SYSTEM, "value": _text(manufacturing, "batch_id", where)},
            ],
            "productCategory": "cells",
            "productCode": _concept(PRODUCT_SYSTEM, _text(product, "code", "product"), name),
            "collection": collected,
        }
        status = _PRODUCT_STATUS.get(str(self.case.get("state")))
        if status is not None:
            resource["status"] = status
        if manufacturing.get("bag_count") is not None:
            resource["quantity"] = _integer(manufacturing["bag_count"], f"{where}: bag_count", 1)
        if product.get("storage_max_c") is not None:
            limit = _number(product["storage_max_c"], "product storage_max_c")
            resource["storage"] = [
                {
                    "description": f"store at or below {limit:g} °C",
                    "temperature": limit,
                    "scale": "celsius",
                }
            ]
        return self.add(("product",), resource)

    def _infusion(self, infusion: Mapping[str, Any], patient: str, product: str | None) -> str:
        where = f"case {self.case_id} infusion"
        started = _moment(infusion.get("infusion_started_at"), f"{where}: infusion_started_at")
        notes: list[str] = []
        if infusion.get("thawed_at"):
            notes.append(f"thawed at {_moment(infusion['thawed_at'], f'{where}: thawed_at')}")
        if infusion.get("dose_cells") is not None:
            dose = _number(infusion["dose_cells"], f"{where}: dose_cells")
            text = f"dose {dose:.3g} cells"
            if infusion.get("weight_kg"):
                weight = _number(infusion["weight_kg"], f"{where}: weight_kg")
                text += f" ({dose / weight:.3g} cells/kg at {weight:g} kg)"
            notes.append(text)
        resource: JsonDict = {
            "resourceType": "Procedure",
            "status": "completed",
            "code": _concept(PROCEDURE_SYSTEM, "infusion", "Cell therapy infusion"),
            "subject": _ref(patient, "Patient"),
            "performedDateTime": started,
            **self._performer(self.case.get("treatment_site")),
        }
        # R4 Procedure.usedReference admits Device, Medication and Substance only (R5's
        # Procedure.used adds BiologicallyDerivedProduct), hence the extension.
        if product is not None:
            resource["extension"] = [
                {
                    "url": INFUSED_PRODUCT_URL,
                    "valueReference": _ref(product, "BiologicallyDerivedProduct"),
                }
            ]
        if notes:
            resource["note"] = [{"text": "; ".join(notes)}]
        return self.add(("infusion",), resource)

    def _performer(self, site: object) -> JsonDict:
        if not isinstance(site, str) or not site:
            return {}
        return {"performer": [{"actor": _ref(self._organization(site), "Organization")}]}

    def _toxicity(self, index: int, item: Mapping[str, Any], patient: str) -> None:
        where = f"toxicity {index + 1}"
        kind = item.get("kind")
        if kind not in _TOXICITY:
            raise InvalidInput(f"{where}: kind must be crs or icans, not {kind!r}")
        label, highest = _TOXICITY[kind]
        grade = _integer(item.get("grade"), f"{where}: grade", 0, highest)
        reasons = item.get("reasons") or []
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise InvalidInput(f"{where}: reasons must be a list of texts")
        resource: JsonDict = {
            "resourceType": "Observation",
            "status": "final",
            "code": _concept(OBSERVATION_SYSTEM, f"{kind}-grade", label),
            "subject": _ref(patient, "Patient"),
            "effectiveDateTime": _day_or_moment(item.get("date"), f"{where}: date"),
            "valueInteger": grade,
        }
        if reasons:
            resource["note"] = [{"text": reason} for reason in reasons]
        self.add(("toxicity", str(index)), resource)

    def _response(self, index: int, item: Mapping[str, Any], patient: str) -> None:
        where = f"response {index + 1}"
        scale = item.get("scale")
        if scale not in _RESPONSE_SCALES:
            raise InvalidInput(f"{where}: scale must be recist or imwg, not {scale!r}")
        code, label, categories = _RESPONSE_SCALES[scale]
        response = item.get("response")
        if response not in categories:
            raise InvalidInput(
                f"{where}: a {label} category is one of {', '.join(categories)}, not {response!r}"
            )
        self.add(
            ("response", str(index)),
            {
                "resourceType": "Observation",
                "status": "final",
                "code": _concept(OBSERVATION_SYSTEM, code, label),
                "subject": _ref(patient, "Patient"),
                "effectiveDateTime": _day_or_moment(item.get("date"), f"{where}: date"),
                "valueCodeableConcept": _concept(
                    f"{BASE}/CodeSystem/{code}-response", response, categories[response]
                ),
            },
        )

    def _adverse_event(
        self, index: int, item: Mapping[str, Any], patient: str, infusion: str | None
    ) -> None:
        where = f"adverse event {index + 1}"
        term = _text(item, "term", where)
        grade = _integer(item.get("grade"), f"{where}: grade", 1, 5)
        serious = item.get("serious")
        if not isinstance(serious, bool):
            raise InvalidInput(f"{where}: serious must be true or false, not {serious!r}")
        outcome = item.get("outcome")
        if outcome not in _OUTCOMES:
            raise InvalidInput(
                f"{where}: outcome must be one of {', '.join(_OUTCOMES)}, not {outcome!r}"
            )
        seriousness = "serious" if serious else "non-serious"
        severity = _SEVERITY[grade]
        resource: JsonDict = {
            "resourceType": "AdverseEvent",
            "extension": [{"url": CTCAE_GRADE_URL, "valueInteger": grade}],
            "actuality": "actual",
            # The CTCAE term as text: veinline holds no MedDRA or NCIt code for it.
            "event": {"text": term},
            "subject": _ref(patient, "Patient"),
            "date": _day_or_moment(item.get("onset"), f"{where}: onset"),
            "seriousness": _concept(
                _HL7 + "adverse-event-seriousness", seriousness, seriousness.capitalize()
            ),
            "severity": _concept(_HL7 + "adverse-event-severity", severity, f"CTCAE grade {grade}"),
            "outcome": _concept(_HL7 + "adverse-event-outcome", outcome, _OUTCOMES[outcome]),
        }
        if infusion is not None:
            resource["suspectEntity"] = [{"instance": _ref(infusion, "Procedure")}]
        self.add(("adverse-event", str(index)), resource)


# ---------------------------------------------------------------- small parts


def _ref(url: str, resource_type: str) -> JsonDict:
    # Reference.type (R4) says what a urn:uuid points at without resolving it.
    return {"reference": url, "type": resource_type}


def _concept(system: str, code: str, display: str) -> JsonDict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _din_identifier(din: str, given_check: object, where: str) -> JsonDict:
    check = isbt128.check_character(din)  # also refuses a malformed DIN
    if given_check is not None and given_check != check:
        raise InvalidInput(f"{where}: DIN {din} has check character {check}, not {given_check!r}")
    return {
        "extension": [{"url": CHECK_CHARACTER_URL, "valueString": check}],
        "system": DIN_SYSTEM,
        "value": din,
    }


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: {key} is required (a non-empty text)")
    return value.strip()


def _moment(value: object, field_name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field_name} must be a date and time text, not {value!r}")
    return parse_moment(value, field_name).isoformat()


def _day_or_moment(value: object, field_name: str) -> str:
    # FHIR dateTime admits a bare date; a time needs its zone.
    if isinstance(value, str) and len(value) == len("2026-03-14"):
        return parse_date(value, field_name).isoformat()
    return _moment(value, field_name)


def _number(value: object, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field_name} must be a number, not {value!r}")
    return float(value)


def _integer(value: object, field_name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field_name} must be a whole number, not {value!r}")
    if value < low or (high is not None and value > high):
        span = f"{low} to {high}" if high is not None else f"at least {low}"
        raise InvalidInput(f"{field_name} must be {span}, not {value}")
    return value


def _references(node: object) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _check_references(bundle: Mapping[str, Any]) -> None:
    """Every urn:uuid reference must name an entry of this bundle (FHIR: resolving in bundles)."""
    entries = bundle.get("entry") or []
    urls = [entry.get("fullUrl") for entry in entries if isinstance(entry, Mapping)]
    seen: set[object] = set()
    for url in urls:
        if url is not None and url in seen:
            raise InvalidInput(f"the bundle has two entries with fullUrl {url}")
        seen.add(url)
    for reference in _references(entries):
        if reference.startswith("urn:uuid:") and reference not in seen:
            raise InvalidInput(f"reference {reference} names no entry of the bundle")
