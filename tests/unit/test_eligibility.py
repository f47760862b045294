"""Eligibility against the seed labels: criteria as data, three-valued answers, reasons."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from veinline.adapters.seed import catalogue_command
from veinline.domain.catalog import Authorisation, AuthorisationStatus, Product
from veinline.domain.eligibility import (
    THERAPY_CLASSES,
    EligibilityResult,
    PatientFacts,
    biomarker_key,
    evaluate,
    parse_patient,
    says_advanced,
    therapy_class_of,
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
    assert set(out) == {
        "eligible",
        "criteria",
        "product",
        "jurisdiction",
        "authorisation",
        "notes",
        "others",
    }
    # An approved product in a jurisdiction with one authorisation: nothing else to explain.
    assert out["notes"] == [] and out["others"] == []
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
    assert reason(result, "prior-pi-imid") == "no proteasome inhibitor among the prior therapies"


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
    patient = {
        "diagnosis": "ovarian_cancer",
        "disease_stage": "metastatic",
        "biomarkers": {"epcam": "Positive"},
    }
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
    patient = {
        "diagnosis": "gastric_cancer",
        "disease_stage": "locally advanced",
        "biomarkers": {spelling: "positive"},
    }
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


# --- prior therapies by drug name -------------------------------------------------------


@pytest.mark.parametrize(
    ("drug", "therapy_class"),
    [
        # Pharmacologic classes from each drug's US prescribing information.
        ("bortezomib", "proteasome_inhibitor"),
        ("Carfilzomib", "proteasome_inhibitor"),
        ("ixazomib", "proteasome_inhibitor"),
        ("lenalidomide", "immunomodulatory_agent"),
        ("pomalidomide", "immunomodulatory_agent"),
        ("thalidomide", "immunomodulatory_agent"),
        ("daratumumab", "anti_cd38_antibody"),
        ("isatuximab", "anti_cd38_antibody"),
        ("Darzalex Faspro", "anti_cd38_antibody"),
        ("IMiD", "immunomodulatory_agent"),
        ("anti-CD38", "anti_cd38_antibody"),
    ],
)
def test_a_prior_therapy_name_maps_to_its_class(drug: str, therapy_class: str) -> None:
    assert therapy_class_of(drug) == therapy_class


def test_every_drug_in_the_vocabulary_names_its_source_label() -> None:
    for drug, (therapy_class, source) in THERAPY_CLASSES.items():
        assert therapy_class in {
            "proteasome_inhibitor",
            "immunomodulatory_agent",
            "anti_cd38_antibody",
        }
        assert "prescribing information" in source, drug


def test_eque_cel_reads_prior_therapies_given_as_drug_names() -> None:
    # Indication: "including a proteasome inhibitor and an immunomodulatory agent"
    # (IASO Bio/Innovent announcement, 2 July 2023).
    patient = with_(
        MYELOMA,
        prior_therapy_classes=None,
        prior_therapies=["bortezomib", "lenalidomide", "daratumumab"],
    )
    result = check("eque-cel", "CN", patient)
    assert result.eligible is True
    assert met(result)["prior-pi-imid"] is True


def test_drug_names_without_an_immunomodulatory_agent_are_not_eligible() -> None:
    patient = with_(
        MYELOMA, prior_therapy_classes=None, prior_therapies=["carfilzomib", "daratumumab"]
    )
    result = check("eque-cel", "CN", patient)
    assert result.eligible is False
    assert reason(result, "prior-pi-imid") == (
        "no immunomodulatory agent among the prior therapies"
    )


def test_an_unknown_prior_therapy_makes_the_criterion_undetermined_and_names_it() -> None:
    patient = with_(
        MYELOMA, prior_therapy_classes=None, prior_therapies=["bortezomib", "iberdomide-x"]
    )
    result = check("eque-cel", "CN", patient)
    assert result.eligible is None
    assert met(result)["prior-pi-imid"] is None
    assert "'iberdomide-x'" in reason(result, "prior-pi-imid")
    assert "immunomodulatory agent" in reason(result, "prior-pi-imid")


def test_an_unknown_term_does_not_matter_when_the_known_ones_suffice() -> None:
    patient = with_(
        MYELOMA,
        prior_therapy_classes=None,
        prior_therapies=["bortezomib", "pomalidomide", "a regimen veinline does not know"],
    )
    assert check("eque-cel", "CN", patient).eligible is True


def test_an_unknown_class_name_is_undetermined_not_absent() -> None:
    patient = with_(MYELOMA, prior_therapy_classes=["proteasome_inhibitor", "cereblon_thing"])
    result = check("eque-cel", "HK", patient)
    assert result.eligible is None
    assert "'cereblon_thing'" in reason(result, "prior-pi-imid")


# --- advanced solid tumours: the stage -------------------------------------------------


def test_every_advanced_indication_checks_the_disease_stage() -> None:
    advanced = [
        a for a in AUTHORISATIONS if a.status.permits_treatment and says_advanced(a.indication)
    ]
    assert advanced, "the seed has advanced solid-tumour indications"
    for auth in advanced:
        product = PRODUCTS[auth.product_code]
        facts = parse_patient({}, today=TODAY)
        result = evaluate(product, [auth], auth.jurisdiction, facts)
        assert "advanced-stage" in met(result), auth.id


def test_a_missing_stage_is_undetermined_for_an_advanced_indication() -> None:
    patient = {"diagnosis": "gastric_cancer", "biomarkers": {"EpCAM": "positive"}}
    result = check("imc001", "US", patient)
    assert result.eligible is None
    assert met(result)["advanced-stage"] is None
    assert reason(result, "advanced-stage").startswith("disease stage not given")


@pytest.mark.parametrize("stage", ["metastatic", "Locally advanced", "unresectable", "stage IV"])
def test_an_advanced_stage_meets_it(stage: str) -> None:
    patient = {
        "diagnosis": "gastric_cancer",
        "disease_stage": stage,
        "biomarkers": {"EpCAM": "positive"},
    }
    assert met(check("imc001", "US", patient))["advanced-stage"] is True


@pytest.mark.parametrize("stage", ["stage I", "localised", "resectable"])
def test_an_early_stage_does_not_meet_it(stage: str) -> None:
    patient = {"diagnosis": "gastric_cancer", "disease_stage": stage}
    result = check("imc001", "US", patient)
    assert met(result)["advanced-stage"] is False
    assert result.eligible is False


def test_stage_iii_alone_is_undetermined() -> None:
    # Stage III may be resectable or locally advanced: the file must say which.
    patient = {"diagnosis": "gastric_cancer", "disease_stage": "stage III"}
    assert met(check("imc001", "US", patient))["advanced-stage"] is None


def test_a_myeloma_indication_has_no_stage_line() -> None:
    assert "advanced-stage" not in met(check("eque-cel", "CN", MYELOMA))


# --- several authorisations; trials -----------------------------------------------------


def test_several_authorisations_in_a_jurisdiction_are_each_explained() -> None:
    patient = {
        "diagnosis": "ovarian_cancer",
        "disease_stage": "metastatic",
        "biomarkers": {"EpCAM": "positive"},
    }
    result = check("imc001", "CN", patient)
    assert result.authorisation == "imc001.cn-solid"
    assert [o["authorisation"] for o in result.others] == ["imc001.cn-gi"]
    other = result.others[0]
    assert other["eligible"] is False
    assert "diagnosis" in str(other["explanation"])
    assert "not eligible" in str(other["explanation"])


def test_a_trial_answer_says_it_checks_the_indication_only() -> None:
    patient = {"diagnosis": "aclf"}
    result = check("vum02", "CN", patient)
    assert result.notes
    assert "indication only" in result.notes[0]
    assert "investigator" in result.notes[0]
    assert all("indication only" in str(n) for o in result.others for n in o["notes"])


def test_an_approved_product_answer_has_no_trial_note() -> None:
    assert check("eque-cel", "HK", MYELOMA).notes == ()


def test_the_facts_a_form_asks_for_come_from_the_criteria_with_units_and_choices() -> None:
    from veinline.domain import eligibility

    auth = Authorisation(
        id="x.hk",
        product_code="x",
        jurisdiction="HK",
        regulator="DoH",
        status=AuthorisationStatus.APPROVED,
        indication="multiple myeloma",
        criteria=[
                {"id": "age", "description": "Adult", "fact": "age_years", "op": ">=", "value": 18},
                {"id": "dx", "description": "Myeloma", "fact": "diagnosis", "op": "==",
                 "value": "multiple_myeloma"},
                {"id": "pi", "description": "Prior PI", "fact": "prior_therapy_classes",
                 "op": "includes_all", "value": ["proteasome_inhibitor"]},
                {"id": "hsct", "description": "No HSCT", "fact": "prior_allo_hsct",
                 "op": "is_false"},
        ],
    )  # fmt: skip
    fields = {f.name: f for f in eligibility.fact_fields([auth])}
    assert list(fields) == [
        "age_years", "diagnosis", "prior_therapy_classes", "prior_allo_hsct", "weight_kg",
    ]  # fmt: skip
    assert (fields["age_years"].kind, fields["age_years"].unit) == ("number", "years")
    assert (fields["diagnosis"].kind, fields["diagnosis"].choices) == (
        "choice",
        ("multiple_myeloma",),
    )
    assert fields["prior_therapy_classes"].kind == "choices"
    assert fields["prior_allo_hsct"].kind == "yes_no"
    missing = eligibility.missing_facts(
        auth, eligibility.parse_patient({"age_years": 40}, today=date(2026, 1, 1))
    )
    assert [f.name for f in missing] == ["diagnosis", "prior_therapy_classes", "prior_allo_hsct"]
    everything = eligibility.parse_patient(
        {
            "age_years": 40,
            "diagnosis": "multiple_myeloma",
            "prior_therapies": ["unheard-of-drug"],
            "prior_allo_hsct": False,
        },
        today=date(2026, 1, 1),
    )
    assert eligibility.missing_facts(auth, everything) == []
