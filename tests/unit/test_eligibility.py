"""Eligibility against the seed labels: criteria as data, three-valued answers, reasons."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from veinline.adapters.seed import catalogue_command
from veinline.domain.catalog import Authorisation, AuthorisationStatus, Product
from veinline.domain.eligibility import (
    EligibilityResult,
    PatientFacts,
    biomarker_key,
    evaluate,
    parse_patient,
)
from veinline.domain.errors import InvalidInput

TODAY = date(2026, 3, 2)
SEED = catalogue_command()
PRODUCTS = {p.code: p for p in SEED.products}
AUTHORISATIONS: list[Authorisation] = list(SEED.authorisations)

MYELOMA: dict[str, Any] = {
    "age_years": 62,
    "diagnosis": "multiple_myeloma",
    "disease_status": "relapsed_refractory",
    "prior_lines": 4,
    "prior_therapy_classes": ["proteasome_inhibitor", "immunomodulatory_agent", "anti_cd38"],
}
GVHD: dict[str, Any] = {
    "age_years": 30,
    "diagnosis": "acute_gvhd",
    "conditions": ["steroid_refractory_acute_gvhd"],
    "prior_allo_hsct": True,
}


def check(code: str, jurisdiction: str, patient: dict[str, Any]) -> EligibilityResult:
    facts = parse_patient(patient, today=TODAY)
    return evaluate(PRODUCTS[code], AUTHORISATIONS, jurisdiction, facts)


def with_(base: dict[str, Any], **changes: object) -> dict[str, Any]:
    """`base` changed by `changes`; a change to None drops the field."""
    out = {**base, **changes}
    return {k: v for k, v in out.items() if v is not None}


def met(result: EligibilityResult) -> dict[str, bool | None]:
    return {c.id: c.met for c in result.criteria}


def reason(result: EligibilityResult, criterion: str) -> str:
    return next(c.reason for c in result.criteria if c.id == criterion)


# --- eque-cel (CN NDA approval 30 June 2023, HK approval) ------------------------------------


@pytest.mark.parametrize("jurisdiction", ["CN", "HK"])
def test_eque_cel_patient_meeting_the_label_is_eligible(jurisdiction: str) -> None:
    result = check("eque-cel", jurisdiction, MYELOMA)
    assert result.eligible is True
    assert result.exit_code == 0
    assert result.authorisation == f"eque-cel.{jurisdiction.lower()}"
    assert all(c.met is True for c in result.criteria)


def test_result_dict_has_exactly_the_documented_shape() -> None:
    out = check("eque-cel", "cn", MYELOMA).to_dict()
    assert set(out) == {"eligible", "criteria", "product", "jurisdiction", "authorisation"}
    assert out["product"] == "eque-cel"
    assert out["jurisdiction"] == "CN"
    assert out["authorisation"] == "eque-cel.cn"
    for line in out["criteria"]:
        assert set(line) == {"id", "description", "met", "reason"}
    # The authorisation relied on comes first, so the coordinator sees trial or label.
    assert out["criteria"][0]["id"] == "authorisation"
    assert "Approved (NMPA)" in out["criteria"][0]["reason"]


def test_eque_cel_minor_is_not_eligible_and_the_reason_gives_the_age() -> None:
    result = check("eque-cel", "CN", with_(MYELOMA, age_years=17))
    assert result.eligible is False
    assert result.exit_code == 1
    assert reason(result, "adult") == "aged 17, needs 18 or over"


def test_eque_cel_two_prior_lines_are_not_enough() -> None:
    result = check("eque-cel", "HK", with_(MYELOMA, prior_lines=2))
    assert result.eligible is False
    assert met(result)["prior-lines"] is False
    assert reason(result, "prior-lines") == "2 prior lines, needs 3 or more"


def test_eque_cel_without_a_proteasome_inhibitor_is_not_eligible() -> None:
    result = check(
        "eque-cel", "CN", with_(MYELOMA, prior_therapy_classes=["immunomodulatory_agent"])
    )
    assert result.eligible is False
    assert reason(result, "prior-pi-imid") == "no proteasome inhibitor among prior therapy classes"


def test_eque_cel_wrong_diagnosis_is_not_eligible() -> None:
    result = check("eque-cel", "CN", with_(MYELOMA, diagnosis="gastric_cancer"))
    assert result.eligible is False
    assert reason(result, "diagnosis") == "diagnosis gastric cancer, needs multiple myeloma"


def test_missing_prior_therapy_classes_leaves_the_answer_undetermined() -> None:
    result = check("eque-cel", "CN", with_(MYELOMA, prior_therapy_classes=None))
    assert result.eligible is None
    assert result.exit_code == 3
    assert met(result)["prior-pi-imid"] is None
    assert reason(result, "prior-pi-imid") == "prior therapy classes not given"


def test_a_failed_criterion_decides_even_when_others_are_unknown() -> None:
    patient = {"age_years": 17, "diagnosis": "multiple_myeloma"}
    result = check("eque-cel", "CN", patient)
    assert result.eligible is False
    assert met(result)["prior-lines"] is None


def test_an_empty_patient_file_is_undetermined_never_eligible() -> None:
    result = check("eque-cel", "CN", {})
    assert result.eligible is None
    assert {c.reason for c in result.criteria[1:]} >= {"age not given", "diagnosis not given"}


def test_strings_compare_without_regard_to_case_spaces_or_hyphens() -> None:
    patient = with_(
        MYELOMA,
        diagnosis="Multiple Myeloma",
        disease_status="Relapsed-Refractory",
        prior_therapy_classes=["Proteasome inhibitor", "IMMUNOMODULATORY_AGENT"],
    )
    assert check("eque-cel", "CN", patient).eligible is True


def test_disease_status_outside_the_list_names_the_accepted_ones() -> None:
    result = check("eque-cel", "CN", with_(MYELOMA, disease_status="newly_diagnosed"))
    assert reason(result, "relapsed-refractory") == (
        "disease status newly diagnosed, needs relapsed refractory, relapsed or refractory"
    )


def test_age_is_computed_from_birth_date_on_the_given_day() -> None:
    day_before_18th = with_(MYELOMA, age_years=None, birth_date="2008-03-03")
    on_18th = with_(MYELOMA, age_years=None, birth_date="2008-03-02")
    assert check("eque-cel", "CN", day_before_18th).eligible is False
    assert reason(check("eque-cel", "CN", day_before_18th), "adult").startswith("aged 17,")
    assert check("eque-cel", "CN", on_18th).eligible is True


def test_leap_day_birthday_counts_from_first_of_march_in_common_years() -> None:
    facts = parse_patient({"birth_date": "2008-02-29"}, today=date(2026, 2, 28))
    assert facts.age_years == 17
    assert parse_patient({"birth_date": "2008-02-29"}, today=date(2026, 3, 1)).age_years == 18


def test_agreeing_age_and_birth_date_are_accepted() -> None:
    facts = parse_patient({"age_years": 17, "birth_date": "2008-03-03"}, today=TODAY)
    assert facts.age_years == 17
    assert facts.birth_date == date(2008, 3, 3)


# --- amimestrocel (CN conditional approval, aged 14 and over) ------------------------------


def test_amimestrocel_age_boundary_is_14_inclusive() -> None:
    assert check("amimestrocel", "CN", with_(GVHD, age_years=14)).eligible is True
    thirteen = check("amimestrocel", "CN", with_(GVHD, age_years=13))
    assert thirteen.eligible is False
    assert reason(thirteen, "age") == "aged 13, needs 14 or over"


def test_amimestrocel_without_steroid_refractoriness_given_is_undetermined() -> None:
    result = check("amimestrocel", "CN", with_(GVHD, conditions=None))
    assert result.eligible is None
    assert reason(result, "steroid-refractory") == "conditions not given"


def test_amimestrocel_conditions_given_without_steroid_refractoriness_is_not_eligible() -> None:
    # A list the file gives is taken as complete.
    result = check("amimestrocel", "CN", with_(GVHD, conditions=[]))
    assert result.eligible is False
    assert met(result)["steroid-refractory"] is False


def test_amimestrocel_without_a_transplant_is_not_eligible() -> None:
    result = check("amimestrocel", "CN", with_(GVHD, prior_allo_hsct=False))
    assert result.eligible is False
    assert reason(result, "prior-allo-hsct") == "prior allogeneic HSCT: no, needs yes"


# --- imc001 (two CN INDs), imc002, zevor-cel --------------------------------------------


def test_imc001_epcam_negative_is_not_eligible() -> None:
    patient = {"diagnosis": "gastric_cancer", "biomarkers": {"EpCAM": "negative"}}
    result = check("imc001", "CN", patient)
    assert result.eligible is False
    assert reason(result, "epcam") == "EpCAM negative, needs positive"


def test_imc001_epcam_not_given_is_undetermined() -> None:
    result = check("imc001", "CN", {"diagnosis": "gastric_cancer"})
    assert result.eligible is None
    assert reason(result, "epcam") == "EpCAM status not given"


def test_imc001_picks_the_china_trial_whose_indication_fits_and_names_it() -> None:
    # Ovarian cancer is outside the GI-tumour IND but inside the solid-tumour IND.
    patient = {"diagnosis": "ovarian_cancer", "biomarkers": {"epcam": "Positive"}}
    result = check("imc001", "CN", patient)
    assert result.eligible is True
    assert result.authorisation == "imc001.cn-solid"


def test_imc001_prefers_undetermined_to_not_eligible_across_trials() -> None:
    result = check("imc001", "CN", {"diagnosis": "ovarian_cancer"})
    assert result.eligible is None
    assert result.authorisation == "imc001.cn-solid"


def test_imc001_first_trial_named_when_both_fit_equally() -> None:
    patient = {"diagnosis": "gastric_cancer", "biomarkers": {"EpCAM": "positive"}}
    assert check("imc001", "CN", patient).authorisation == "imc001.cn-gi"


@pytest.mark.parametrize("spelling", ["CLDN18.2", "Claudin 18.2", "claudin18_2", "cldn 18-2"])
def test_imc002_reads_claudin_18_2_however_it_is_spelt(spelling: str) -> None:
    # IMC002 is a CLDN18.2 CAR-T (Immunofoco release, 21 March 2025).
    patient = {"diagnosis": "gastric_cancer", "biomarkers": {spelling: "positive"}}
    result = check("imc002", "US", patient)
    assert result.eligible is True
    assert result.authorisation == "imc002.us"


def test_biomarker_names_match_without_case_or_punctuation_but_stay_distinct() -> None:
    assert biomarker_key("Claudin 18.2") == biomarker_key("CLDN18.2")
    assert biomarker_key("CLDN18.2") != biomarker_key("CLDN6")
    assert biomarker_key("EpCAM") == biomarker_key("EPCAM") == biomarker_key("CD326")


def test_zevor_cel_in_the_eu_has_a_designation_only_and_is_not_eligible() -> None:
    result = check("zevor-cel", "EU", MYELOMA)
    assert result.eligible is False
    assert result.authorisation is None
    assert [c.id for c in result.criteria] == ["authorisation"]
    assert result.criteria[0].met is False
    assert result.criteria[0].reason == (
        "zevor-cel has no authorisation to treat in EU (PRIME designation only)"
    )


def test_unknown_jurisdiction_is_not_eligible_and_says_where_the_product_is_authorised() -> None:
    result = check("eque-cel", "xx", MYELOMA)
    assert result.eligible is False
    assert result.jurisdiction == "XX"
    assert result.criteria[0].reason == (
        "eque-cel has no authorisation to treat in XX (authorised to treat in CN, HK)"
    )


def test_withdrawn_authorisation_does_not_permit_treatment() -> None:
    product = PRODUCTS["eque-cel"]
    withdrawn = Authorisation(
        id="eque-cel.sg",
        product_code="eque-cel",
        jurisdiction="SG",
        regulator="HSA",
        status=AuthorisationStatus.WITHDRAWN,
        indication="test",
    )
    result = evaluate(product, [withdrawn], "SG", PatientFacts())
    assert result.eligible is False
    assert result.criteria[0].reason == "eque-cel has no authorisation to treat in SG (withdrawn)"


def test_authorisations_of_other_products_are_ignored() -> None:
    # zevor-cel is under IND in the US; that says nothing about eque-cel there.
    result = check("eque-cel", "US", MYELOMA)
    assert result.eligible is False
    assert result.authorisation is None


def test_authorisation_without_criteria_is_undetermined_not_eligible() -> None:
    product = PRODUCTS["vum02"]
    bare = Authorisation(
        id="vum02.xx",
        product_code="vum02",
        jurisdiction="XX",
        regulator="test",
        status=AuthorisationStatus.IND_CLEARED,
        indication="ARDS",
    )
    result = evaluate(product, [bare], "XX", PatientFacts())
    assert result.eligible is None
    assert met(result)["criteria"] is None


def test_criterion_on_a_fact_no_patient_file_carries_is_undetermined() -> None:
    product = PRODUCTS["vum02"]
    auth = Authorisation(
        id="vum02.xx",
        product_code="vum02",
        jurisdiction="XX",
        regulator="test",
        status=AuthorisationStatus.IND_CLEARED,
        indication="ARDS",
        criteria=[
            {"id": "ecog", "description": "ECOG 0-1", "fact": "ecog", "op": "<=", "value": 1}
        ],
    )
    result = evaluate(product, [auth], "XX", PatientFacts(diagnosis="ards"))
    assert result.eligible is None
    assert "ecog" in reason(result, "ecog")


def test_weight_criterion_speaks_in_kilograms() -> None:
    product = PRODUCTS["vum02"]
    auth = Authorisation(
        id="vum02.xx",
        product_code="vum02",
        jurisdiction="XX",
        regulator="test",
        status=AuthorisationStatus.IND_CLEARED,
        indication="ARDS",
        criteria=[
            {"id": "w", "description": "≥ 40 kg", "fact": "weight_kg", "op": ">=", "value": 40}
        ],
    )
    result = evaluate(product, [auth], "XX", parse_patient({"weight_kg": 38.5}, today=TODAY))
    assert reason(result, "w") == "weighs 38.5 kg, needs 40 kg or more"


# --- refused patient files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patient", "field"),
    [
        ({"age": 40}, "age"),
        ({"age_years": -1}, "age_years"),
        ({"age_years": 40.5}, "age_years"),
        ({"age_years": "40"}, "age_years"),
        ({"age_years": True}, "age_years"),
        ({"birth_date": "2030-01-01"}, "birth_date"),
        ({"birth_date": "01/02/2000"}, "birth_date"),
        ({"age_years": 40, "birth_date": "2000-01-01"}, "birth_date"),
        ({"diagnosis": 3}, "diagnosis"),
        ({"diagnosis": "  "}, "diagnosis"),
        ({"prior_lines": -2}, "prior_lines"),
        ({"prior_therapy_classes": "proteasome_inhibitor"}, "prior_therapy_classes"),
        ({"prior_therapy_classes": ["ok", 4]}, "prior_therapy_classes[1]"),
        ({"biomarkers": ["EpCAM"]}, "biomarkers"),
        ({"biomarkers": {"EpCAM": True}}, "biomarkers.EpCAM"),
        ({"biomarkers": {"CLDN18.2": "positive", "Claudin 18.2": "negative"}}, "Claudin 18.2"),
        ({"conditions": [None]}, "conditions[0]"),
        ({"prior_allo_hsct": "yes"}, "prior_allo_hsct"),
        ({"weight_kg": 0}, "weight_kg"),
    ],
)
def test_bad_patient_files_are_refused_naming_the_field(
    patient: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput, match=field.replace(".", r"\.").replace("[", r"\[")):
        parse_patient(patient, today=TODAY)


def test_a_patient_file_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidInput, match="must be an object"):
        parse_patient(["age_years", 40], today=TODAY)


def test_null_fields_count_as_not_given() -> None:
    facts = parse_patient({"age_years": None, "diagnosis": None}, today=TODAY)
    assert facts == PatientFacts()


def test_blank_jurisdiction_is_refused() -> None:
    with pytest.raises(InvalidInput, match="jurisdiction"):
        evaluate(PRODUCTS["eque-cel"], AUTHORISATIONS, " ", PatientFacts())


def test_products_in_the_seed_are_the_ones_these_tests_name() -> None:
    # Guards the fixtures: a renamed seed product should fail here, not silently.
    assert isinstance(PRODUCTS["imc001"], Product)
    assert {"eque-cel", "zevor-cel", "satri-cel", "imc001", "amimestrocel"} <= set(PRODUCTS)
