"""FHIR export: a case becomes a pseudonymous R4 (R4B models) Bundle that validates again."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from veinline.adapters.fhir import (
    BASE,
    CHECK_CHARACTER_URL,
    COI_SYSTEM,
    CTCAE_GRADE_URL,
    DIN_SYSTEM,
    EXPIRATION_URL,
    INFUSED_PRODUCT_URL,
    SOURCE_SPECIMEN_URL,
    THERAPY_IDENTIFIER_URL,
    CaseExport,
    case_bundle,
    validate_bundle,
)
from veinline.domain import isbt128
from veinline.domain.errors import InvalidInput

PATIENT_NAME = "Chan Tai Man"
WRISTBAND = "WB-778899"
COI = "CHA999926000001"
DIN = "A999926000001"  # FIN A9999 is reserved for validation (ST-001)


def snapshot(**changes: Any) -> dict[str, Any]:
    """A Case.snapshot() of a case in follow-up, written out by hand."""
    case: dict[str, Any] = {
        "id": "C-0001",
        "product_code": "eque-cel",
        "jurisdiction": "HK",
        "treatment_site": "hk-demo",
        "patient_name": PATIENT_NAME,
        "wristband_id": WRISTBAND,
        "treating_physician": "dr.ho",
        "coi": COI,
        "enrolled_at": "2026-02-20T09:00:00+08:00",
        "enrolled_by": "coord.lam",
        "consent": {"signed": True},
        "eligibility": {},
        "patient_facts": {"birth_year": 1961},
        "state": "follow_up",
        "weight_kg": 70.0,
        "apheresis_site": "hk-apheresis",
        "apheresis_date": "2026-03-02",
        "manufacturing_site": "sh-plant",
        "planned": {},
        "collections": [
            {
                "din": DIN,
                "check_character": isbt128.check_character(DIN),
                "collected_at": "2026-03-02T09:30:00+08:00",
                "site": "hk-apheresis",
                "volume_ml": 210.0,
                "by": "nurse.lee",
            }
        ],
        "manufacturing": {
            "batch_id": "B-2026-001",
            "started_at": "2026-03-04T08:00:00+08:00",
            "started_by": "op.wong",
            "completed_at": "2026-03-14T08:00:00+08:00",
            "completed_by": "op.wong",
            "bag_count": 2,
            "expires_at": "2026-09-14T17:00:00+08:00",
            "total_cells": 4.0e8,
        },
        "release": {"released_by": "qa.yip"},
        "infusion": {
            "wristband_id": WRISTBAND,
            "bag": {"din": DIN, "coi": COI},
            "thawed_at": "2026-03-30T10:00:00+08:00",
            "infusion_started_at": "2026-03-30T10:20:00+08:00",
            "minutes_after_thaw": 20.0,
            "weight_kg": 70.0,
            "dose_cells": 2.0e8,
            "flags": [],
            "override_reason": None,
            "by": "dr.ho",
        },
        "cancellation": None,
        "version": 14,
    }
    case.update(changes)
    return case


def export(case: dict[str, Any] | None = None, **changes: Any) -> CaseExport:
    values: dict[str, Any] = {
        "case": case if case is not None else snapshot(),
        "product": {
            "code": "eque-cel",
            "name": "equecabtagene autoleucel",
            "modality": "autologous_car_t",
            "storage_max_c": -150.0,
        },
        "treatment_site": {"code": "hk-demo", "name": "Demo Hospital Hong Kong", "country": "HK"},
        "toxicity": [
            {
                "kind": "crs",
                "date": "2026-04-01",
                "grade": 2,
                "reasons": ["ASTCT 2019: low-flow nasal cannula → grade 2"],
            },
            {"kind": "icans", "date": "2026-04-02", "grade": 1, "reasons": []},
        ],
        "responses": [{"scale": "imwg", "date": "2026-06-30", "response": "VGPR"}],
        "adverse_events": [
            {
                "term": "Neutrophil count decreased",
                "grade": 4,
                "serious": True,
                "onset": "2026-04-03",
                "outcome": "resolved",
            }
        ],
        "exported_at": "2026-07-01T00:00:00+00:00",
    }
    values.update(changes)
    return CaseExport(**values)


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def only(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = resources(bundle, resource_type)
    assert len(found) == 1, f"{len(found)} {resource_type} resources"
    return found[0]


def references(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference":
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def url_of(bundle: dict[str, Any], resource: dict[str, Any]) -> str:
    return str(next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is resource))


def test_infused_case_round_trips_through_the_fhir_bundle_model() -> None:
    data = case_bundle(export())

    again = Bundle.model_validate(json.loads(json.dumps(data)))

    assert again.model_dump(mode="json") == data
    assert data["type"] == "collection"
    kinds = sorted(e["resource"]["resourceType"] for e in data["entry"])
    assert kinds == [
        "AdverseEvent",
        "BiologicallyDerivedProduct",
        "Observation",
        "Observation",
        "Observation",
        "Organization",
        "Organization",
        "Patient",
        "Procedure",
        "Procedure",
        "Specimen",
    ]
    validate_bundle(data)


def test_patient_is_pseudonymous_with_the_coi_identifier_only() -> None:
    data = case_bundle(export())
    text = json.dumps(data, ensure_ascii=False)

    patient = only(data, "Patient")

    assert "name" not in patient
    assert "birthDate" not in patient
    assert patient["identifier"] == [{"system": COI_SYSTEM, "value": COI}]
    assert patient["meta"]["security"][0]["code"] == "PSEUDED"
    for secret in (PATIENT_NAME, "Chan", WRISTBAND, "1961", "nurse.lee", "dr.ho", "op.wong"):
        assert secret not in text, secret


def test_every_reference_resolves_to_an_entry_of_the_bundle() -> None:
    data = case_bundle(export())
    full_urls = [e["fullUrl"] for e in data["entry"]]

    found = list(references(data))

    assert len(found) >= 12
    assert len(set(full_urls)) == len(full_urls)
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    assert set(found) <= set(full_urls)


def test_full_urls_are_derived_from_the_case_and_stable() -> None:
    first = case_bundle(export())
    second = case_bundle(export())
    other = case_bundle(export(snapshot(id="C-0002")))

    assert first == second
    urls = {e["fullUrl"] for e in first["entry"]}
    assert urls.isdisjoint(e["fullUrl"] for e in other["entry"])


def test_case_not_yet_collected_exports_the_patient_only() -> None:
    case = snapshot(state="apheresis_booked", collections=[], manufacturing={}, infusion={})

    data = case_bundle(export(case, toxicity=[], responses=[], adverse_events=[]))

    assert [e["resource"]["resourceType"] for e in data["entry"]] == ["Patient"]
    validate_bundle(data)


def test_collected_case_in_manufacturing_has_a_specimen_but_no_product_yet() -> None:
    case = snapshot(state="at_manufacturing", manufacturing={}, infusion={})

    data = case_bundle(export(case, toxicity=[], responses=[], adverse_events=[]))

    assert resources(data, "BiologicallyDerivedProduct") == []
    assert len(resources(data, "Specimen")) == 1
    procedure = only(data, "Procedure")
    assert procedure["code"]["coding"][0]["code"] == "apheresis"


def test_specimen_carries_the_din_with_its_check_character() -> None:
    data = case_bundle(export())

    specimen = only(data, "Specimen")

    identifier = specimen["identifier"][0]
    assert identifier["system"] == DIN_SYSTEM
    assert identifier["value"] == DIN
    assert identifier["extension"][0]["valueString"] == isbt128.check_character(DIN)
    assert specimen["collection"]["collectedDateTime"] == "2026-03-02T09:30:00+08:00"
    assert specimen["collection"]["quantity"]["value"] == 210.0


def test_product_has_din_coi_batch_expiry_storage_and_links_to_its_collection() -> None:
    data = case_bundle(export())
    product = only(data, "BiologicallyDerivedProduct")
    specimen = only(data, "Specimen")
    extensions = {x["url"]: x for x in product["extension"]}

    values = {i["system"]: i["value"] for i in product["identifier"]}

    assert product["productCategory"] == "cells"
    assert product["productCode"]["coding"][0]["code"] == "eque-cel"
    assert values[DIN_SYSTEM] == DIN
    assert values[COI_SYSTEM] == COI
    assert "B-2026-001" in values.values()
    assert extensions[EXPIRATION_URL]["valueDateTime"] == "2026-09-14T17:00:00+08:00"
    assert extensions[SOURCE_SPECIMEN_URL]["valueReference"]["reference"] == url_of(data, specimen)
    assert product["storage"][0] == {
        "description": "store at or below -150 °C",
        "temperature": -150.0,
        "scale": "celsius",
    }
    assert product["quantity"] == 2
    assert product["status"] == "unavailable"  # infused


def test_procedures_are_the_apheresis_and_the_infusion_of_this_patient() -> None:
    data = case_bundle(export())
    patient_url = url_of(data, only(data, "Patient"))
    product_url = url_of(data, only(data, "BiologicallyDerivedProduct"))

    by_code = {p["code"]["coding"][0]["code"]: p for p in resources(data, "Procedure")}

    assert by_code["apheresis"]["performedDateTime"] == "2026-03-02T09:30:00+08:00"
    assert by_code["infusion"]["performedDateTime"] == "2026-03-30T10:20:00+08:00"
    assert {p["subject"]["reference"] for p in by_code.values()} == {patient_url}
    used = by_code["infusion"]["extension"][0]
    assert used["url"] == INFUSED_PRODUCT_URL
    assert used["valueReference"]["reference"] == product_url
    assert "usedReference" not in by_code["infusion"]  # R4 admits no product there


def test_toxicity_grades_and_responses_become_observations() -> None:
    data = case_bundle(export())

    by_code = {o["code"]["coding"][0]["code"]: o for o in resources(data, "Observation")}

    assert by_code["crs-grade"]["valueInteger"] == 2
    assert by_code["crs-grade"]["effectiveDateTime"] == "2026-04-01"
    assert by_code["crs-grade"]["note"][0]["text"].startswith("ASTCT 2019")
    assert by_code["icans-grade"]["valueInteger"] == 1
    assert by_code["imwg-2016"]["valueCodeableConcept"]["coding"][0]["code"] == "VGPR"


def test_serious_adverse_event_is_coded_and_suspects_the_infusion() -> None:
    data = case_bundle(export())
    infusion = next(
        p for p in resources(data, "Procedure") if p["code"]["coding"][0]["code"] == "infusion"
    )

    event = only(data, "AdverseEvent")

    assert event["actuality"] == "actual"
    assert event["event"]["text"] == "Neutrophil count decreased"
    assert event["seriousness"]["coding"][0]["code"] == "serious"
    assert event["severity"]["coding"][0]["code"] == "severe"
    assert event["extension"] == [{"url": CTCAE_GRADE_URL, "valueInteger": 4}]
    assert event["outcome"]["coding"][0]["code"] == "resolved"
    assert event["date"] == "2026-04-03"
    assert event["suspectEntity"][0]["instance"]["reference"] == url_of(data, infusion)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"toxicity": [{"kind": "gvhd", "date": "2026-04-01", "grade": 1}]}, "crs or icans"),
        ({"toxicity": [{"kind": "icans", "date": "2026-04-01", "grade": 5}]}, "0 to 4"),
        ({"responses": [{"scale": "recist", "date": "2026-06-30", "response": "VGPR"}]}, "VGPR"),
        (
            {
                "adverse_events": [
                    {
                        "term": "Fever",
                        "grade": 6,
                        "serious": False,
                        "onset": "2026-04-01",
                        "outcome": "resolved",
                    }
                ]
            },
            "1 to 5",
        ),
        ({"product": {"code": "other-cel", "name": "x", "modality": "x"}}, "not the product"),
        ({"exported_at": "2026-07-01T00:00:00"}, "time zone"),
    ],
)
def test_malformed_export_input_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        case_bundle(export(**changes))


def test_din_with_the_wrong_check_character_is_refused() -> None:
    case = snapshot()
    case["collections"][0]["check_character"] = "Z"

    with pytest.raises(InvalidInput, match="check character"):
        case_bundle(export(case))


def test_malformed_bundle_is_refused_by_validate_bundle() -> None:
    good = case_bundle(export())
    without_type = {k: v for k, v in good.items() if k != "type"}
    observation_without_status = copy.deepcopy(good)
    for entry in observation_without_status["entry"]:
        entry["resource"].pop("status", None)
    dangling = copy.deepcopy(good)
    dangling["entry"] = [e for e in dangling["entry"] if e["resource"]["resourceType"] != "Patient"]

    with pytest.raises(InvalidInput, match="type"):
        validate_bundle(without_type)
    with pytest.raises(InvalidInput, match="status"):
        validate_bundle(observation_without_status)
    with pytest.raises(InvalidInput, match="names no entry"):
        validate_bundle(dangling)
    with pytest.raises(InvalidInput, match="resourceType"):
        validate_bundle({"resourceType": "Patient"})
    with pytest.raises(InvalidInput, match="JSON object"):
        validate_bundle([good])


def test_recollected_case_links_the_product_to_the_latest_collection() -> None:
    second_din = "A999926000002"
    case = snapshot()
    case["collections"].append(
        {
            "din": second_din,
            "check_character": isbt128.check_character(second_din),
            "collected_at": "2026-03-20T09:30:00+08:00",
            "site": "hk-apheresis",
            "volume_ml": None,
        }
    )

    data = case_bundle(export(case))

    specimens = resources(data, "Specimen")
    product = only(data, "BiologicallyDerivedProduct")
    link = next(x for x in product["extension"] if x["url"] == SOURCE_SPECIMEN_URL)
    assert [s["identifier"][0]["value"] for s in specimens] == [DIN, second_din]
    assert link["valueReference"]["reference"] == url_of(data, specimens[1])
    assert {"system": DIN_SYSTEM, "value": second_din} in [
        {k: v for k, v in i.items() if k != "extension"} for i in product["identifier"]
    ]
    assert len(resources(data, "Organization")) == 2  # one per site, however many visits


def test_r5_only_element_is_refused_by_the_r4_models() -> None:
    data = case_bundle(export())
    product = only(data, "BiologicallyDerivedProduct")
    product["expirationDate"] = "2026-09-14T17:00:00+08:00"  # R5 name; R4 needs the extension

    with pytest.raises(InvalidInput, match="expirationDate"):
        validate_bundle(data)


# ---------------------------------------------------------------- the CoI identifier


def _recollected() -> dict[str, Any]:
    second_din = "A999926000002"
    case = snapshot()
    case["collections"].append(
        {
            "din": second_din,
            "check_character": isbt128.check_character(second_din),
            "collected_at": "2026-03-20T09:30:00+08:00",
            "site": "hk-apheresis",
        }
    )
    return case


def _therapy_identifiers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        x["valueIdentifier"]
        for x in resource.get("extension", [])
        if x["url"] == THERAPY_IDENTIFIER_URL
    ]


def test_product_carries_the_coi_as_an_isbt_128_coi_identifier_with_its_check_character() -> None:
    product = only(case_bundle(export()), "BiologicallyDerivedProduct")

    (coi,) = [i for i in product["identifier"] if i["system"] == COI_SYSTEM]

    assert "isbt128-coi" in COI_SYSTEM
    assert coi["value"] == COI  # the DS040 data content string, without '&/'
    assert coi["extension"] == [
        {"url": CHECK_CHARACTER_URL, "valueString": isbt128.coi_check_character(COI)}
    ]


def test_product_has_one_therapy_identifier_and_it_is_the_coi() -> None:
    product = only(case_bundle(export()), "BiologicallyDerivedProduct")

    assert _therapy_identifiers(product) == [{"system": COI_SYSTEM, "value": COI}]
    # R6 is not published: the extension is veinline's own, not an hl7.org one.
    assert THERAPY_IDENTIFIER_URL.startswith(BASE)
    assert "therapy-identifier" in THERAPY_IDENTIFIER_URL


def test_the_coi_links_every_din_collected_for_the_therapy_event() -> None:
    data = case_bundle(export(_recollected()))

    linked = {
        i["value"]: _therapy_identifiers(r)
        for r in [*resources(data, "Specimen"), only(data, "BiologicallyDerivedProduct")]
        for i in r["identifier"]
        if i["system"] == DIN_SYSTEM
    }

    assert set(linked) == {DIN, "A999926000002"}
    assert all(t == [{"system": COI_SYSTEM, "value": COI}] for t in linked.values())
    validate_bundle(data)


def test_the_coi_never_stands_in_for_a_din() -> None:
    data = case_bundle(export(_recollected()))

    identifiers = [
        i
        for kind in ("Specimen", "BiologicallyDerivedProduct")
        for r in resources(data, kind)
        for i in r["identifier"]
    ]

    dins = [i["value"] for i in identifiers if i["system"] == DIN_SYSTEM]
    assert sorted(dins) == [DIN, "A999926000002", "A999926000002"]  # specimens + product
    assert COI not in dins
    assert {i["value"] for i in identifiers if i["system"] == COI_SYSTEM} == {COI}
    for specimen in resources(data, "Specimen"):
        assert [i["system"] for i in specimen["identifier"]] == [DIN_SYSTEM]


@pytest.mark.parametrize(
    ("coi", "message"),
    [
        ("HCA999926000001", "position 1 .* must be 'C'"),
        ("CHA99992600001", "15 characters"),
        ("CHO999926000001", "first FIN character"),
        ("CHA999926000001Z", "check character 'Z' does not match"),
    ],
)
def test_a_case_whose_coi_has_a_wrong_layout_or_check_character_is_refused(
    coi: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        case_bundle(export(snapshot(coi=coi)))
