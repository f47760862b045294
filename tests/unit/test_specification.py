"""Release specifications, QC results evaluated with reasons, corrections that keep the first
value, the disposition table (ready, OOS, investigation, conditional release, rejection),
the content QA signs, and the certificate-of-analysis read model."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from veinline.adapters.seed.release_panels import default_specification
from veinline.domain.batch import Batch, BatchStatus, Severity, start_batch
from veinline.domain.catalog import Modality
from veinline.domain.coa import certificate_of_analysis
from veinline.domain.errors import DomainError, InvalidInput, NotAllowed
from veinline.domain.ledger import content_hash
from veinline.domain.process import DocumentStatus, ParameterSpec, StepSpec, draft_template
from veinline.domain.release import (
    DISPOSITION_STYLE,
    RELEASE_TRANSITIONS,
    Disposition,
    QcResult,
    ReleaseAction,
    ReleaseRecord,
    open_release_record,
    release_content,
)
from veinline.domain.signature import Meaning
from veinline.domain.specification import (
    Comparator,
    Qualitative,
    ReleaseTest,
    Specification,
    draft_specification,
    specification_in_force,
)
from veinline.domain.user import Role, User

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
COI = "CHA999026000001"
DIN = "A999126000001"


def user(username: str, role: Role) -> User:
    return User(username, f"{username.title()} Printed", role, None, T0)


OP = user("op.li", Role.MANUFACTURING_OPERATOR)
QC = user("qc.chen", Role.QC_ANALYST)
QC2 = user("qc.patel", Role.QC_ANALYST)
QA = user("qa.wang", Role.QA_REVIEWER)
QA2 = user("qa.smith", Role.QA_REVIEWER)
DOCTOR = user("dr.lam", Role.PHYSICIAN)
OTHER_DOCTOR = user("dr.ho", Role.PHYSICIAN)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def spec_test(code: str) -> ReleaseTest:
    return default_specification("eque-cel", Modality.AUTOLOGOUS_CAR_T, "CN", at=T0).test(code)


PASSING: dict[str, float | str] = {
    "viability": "91.4",
    "cd3": 95,
    "car_expression": 45,
    "vcn": 2.1,
    "endotoxin": "0.5",
    "sterility": "no growth",
    "mycoplasma": "not detected",
    "rcl": "not detected",
    "identity": "positive",
    "potency": 1800,
}


def approved_spec() -> Specification:
    spec = default_specification("eque-cel", Modality.AUTOLOGOUS_CAR_T, "CN", at=T0)
    spec.approve(by=QA, at=T0)
    return spec


def finished_batch() -> Batch:
    step = StepSpec("fill", "Fill", 2, (ParameterSpec("Bag count", low=1, high=4),))
    template = draft_template("eque-cel", "carsgen-rtp", [step], by=OP, at=T0)
    template.approve(by=QA, at=T0)
    batch = start_batch(
        "B-26-0001", template, by=OP, at=at(1), case_id="C2026-00001", coi=COI, din=DIN
    )
    batch.start_step("fill", by=OP, at=at(2), suite="Suite 1", equipment=["BSC-1"])
    batch.record_value("fill", "Bag count", 2, by=OP, at=at(3))
    batch.complete_step("fill", by=OP, at=at(4))
    return batch


def opened(batch: Batch | None = None) -> ReleaseRecord:
    return open_release_record(
        batch or finished_batch(), approved_spec(), market="CN", by=QC, at=at(5)
    )


def with_results(record: ReleaseRecord, **overrides: float | str) -> ReleaseRecord:
    for code, value in {**PASSING, **overrides}.items():
        record.enter_result(code, value, by=QC, at=at(10))
    return record


def under_investigation(batch: Batch) -> ReleaseRecord:
    record = with_results(opened(batch), viability=62)
    record.open_investigation(
        reference="OOS-2026-007", summary="viability below limit", by=QC, at=at(11)
    )
    return record


def refused(
    record: ReleaseRecord, error: type[DomainError], match: str, act: Callable[[], object]
) -> None:
    """The act is refused with this message and the record is left exactly as it was."""
    before = json.dumps(record.snapshot(), sort_keys=True)
    with pytest.raises(error, match=match):
        act()
    assert json.dumps(record.snapshot(), sort_keys=True) == before


# ------------------------------------------------------------------ the default panel


def test_default_car_t_panel_is_the_products_md_panel() -> None:
    spec = default_specification("eque-cel", Modality.AUTOLOGOUS_CAR_T, "CN", at=T0)
    assert {t.code: t.limit_text for t in spec.tests} == {
        "viability": "≥ 70%",
        "cd3": "≥ 80%",
        "car_expression": "≥ 20%",
        "vcn": "≤ 5 copies/cell",
        "endotoxin": "< 5 EU/mL",
        "sterility": "no growth",
        "mycoplasma": "not detected",
        "rcl": "not detected",
        "identity": "positive",
        "potency": "≥ 500 pg/mL",
    }
    assert spec.demo and spec.status is DocumentStatus.DRAFT


def test_default_msc_panel_uses_the_isct_marker_criteria() -> None:
    spec = default_specification("vum02", Modality.ALLOGENEIC_MSC, "CN", at=T0)
    assert spec.test("positive_markers").limit_text == "≥ 95%"
    assert spec.test("negative_markers").limit_text == "≤ 2%"


def test_product_specific_floors_are_configurable() -> None:
    spec = default_specification(
        "eque-cel", Modality.AUTOLOGOUS_CAR_T, "HK", at=T0, car_floor=30, potency_floor=1000
    )
    assert spec.test("car_expression").limit_text == "≥ 30%"
    assert spec.test("potency").limit_text == "≥ 1000 pg/mL"


def test_specification_snapshot_is_json_ready() -> None:
    spec = approved_spec()
    snapshot = spec.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert spec.ENTITY_TYPE == "release_specification" and spec.entity_id == "eque-cel/CN/v1"


def test_release_test_round_trips_through_a_dict() -> None:
    for test in approved_spec().tests:
        assert ReleaseTest.from_dict(test.to_dict()) == test


# ------------------------------------------------------------------ limits and reasons


def test_viability_below_the_limit_fails_with_a_reason() -> None:
    verdict = spec_test("viability").evaluate(62.0)
    assert not verdict.passes
    assert verdict.reason == "viability 62% is below the limit ≥ 70%"


def test_exactly_70_percent_viability_passes_at_least_70() -> None:
    verdict = spec_test("viability").evaluate(70.0)
    assert verdict.passes
    assert verdict.reason == "viability 70% meets the limit ≥ 70%"


def test_exactly_5_eu_per_ml_fails_less_than_5() -> None:
    verdict = spec_test("endotoxin").evaluate(5.0)
    assert not verdict.passes
    assert verdict.reason == "endotoxin 5 EU/mL is not below the limit < 5 EU/mL"


def test_endotoxin_just_under_5_passes() -> None:
    assert spec_test("endotoxin").evaluate(4.99).passes


def test_exactly_5_copies_per_cell_passes_at_most_5_and_more_fails() -> None:
    vcn = spec_test("vcn")
    assert vcn.evaluate(5.0).passes
    assert (
        vcn.evaluate(5.1).reason
        == "vector copy number 5.1 copies/cell is above the limit ≤ 5 copies/cell"
    )


def test_range_limits_are_inclusive() -> None:
    test = ReleaseTest("ph", "pH", Comparator.RANGE, low=6.8, high=7.6)
    assert test.evaluate(6.8).passes and test.evaluate(7.6).passes
    assert test.evaluate(7.7).reason == "pH 7.7 is above the range 6.8 to 7.6"


def test_more_than_is_strict_too() -> None:
    test = ReleaseTest("dose", "Dose", Comparator.MORE_THAN, 1, unit="mL")
    assert test.evaluate(1.0).reason == "dose 1 mL is not above the limit > 1 mL"
    assert test.evaluate(1.5).passes


def test_capitalised_names_keep_their_capitals_in_the_reason() -> None:
    assert spec_test("cd3").evaluate(60.0).reason == "CD3+ T cells 60% is below the limit ≥ 80%"


def test_qualitative_results_match_their_expected_value() -> None:
    sterility = spec_test("sterility")
    assert sterility.evaluate("no growth").passes
    verdict = sterility.evaluate("growth")
    assert not verdict.passes
    assert verdict.reason == "sterility: growth, where the specification is no growth"


def test_qualitative_result_outside_the_tests_vocabulary_is_refused() -> None:
    with pytest.raises(InvalidInput, match="reported as no growth or growth"):
        spec_test("sterility").parse("positive")


def test_qualitative_result_is_read_in_any_case_and_spacing() -> None:
    assert spec_test("mycoplasma").parse(" Not-Detected ") == ("not detected", "not detected")
    assert Qualitative.parse("NO_GROWTH") is Qualitative.NO_GROWTH


def test_a_numeric_result_keeps_the_text_as_entered() -> None:
    assert spec_test("viability").parse("81.20") == (81.2, "81.20")


def test_a_test_needs_the_limits_its_comparator_uses() -> None:
    with pytest.raises(InvalidInput, match="low and a high"):
        ReleaseTest("ph", "pH", Comparator.RANGE, low=7)
    with pytest.raises(InvalidInput, match="expected result only"):
        ReleaseTest("xx", "X", Comparator.QUALITATIVE, limit=5)
    with pytest.raises(InvalidInput, match="give one limit"):
        ReleaseTest("xx", "X", Comparator.AT_LEAST)


# ------------------------------------------------------------------ versions and approval


def test_specification_author_cannot_approve_it() -> None:
    spec = draft_specification("eque-cel", "CN", approved_spec().tests, by=QA2, at=T0)
    with pytest.raises(NotAllowed, match=r"wrote specification .* cannot approve"):
        spec.approve(by=QA2, at=T0)
    assert spec.status is DocumentStatus.DRAFT


def test_a_new_specification_version_supersedes_the_one_in_force_for_its_market() -> None:
    first = approved_spec()
    hk = default_specification("eque-cel", Modality.AUTOLOGOUS_CAR_T, "HK", at=T0)
    hk.approve(by=QA, at=T0)
    second = draft_specification("eque-cel", "CN", first.tests, by=QC, at=T0, existing=[first])
    assert second.number == 2
    second.approve(by=QA, at=at(1), siblings=[first, hk])
    assert first.status is DocumentStatus.SUPERSEDED
    assert hk.status is DocumentStatus.APPROVED
    assert specification_in_force([first, second, hk], "eque-cel", "CN") is second


def test_qc_cannot_test_against_a_draft_specification() -> None:
    draft = default_specification("eque-cel", Modality.AUTOLOGOUS_CAR_T, "CN", at=T0)
    with pytest.raises(NotAllowed, match="draft"):
        open_release_record(finished_batch(), draft, market="CN", by=QC, at=at(5))


def test_a_release_record_binds_the_specification_version() -> None:
    spec = approved_spec()
    record = open_release_record(finished_batch(), spec, market="CN", by=QC, at=at(5))
    assert record.specification_id == "eque-cel/CN/v1"
    assert record.specification_hash == content_hash(spec.content())
    assert record.disposition is Disposition.AWAITING_RESULTS


def test_a_specification_for_another_product_is_refused() -> None:
    other = default_specification("zevor-cel", Modality.AUTOLOGOUS_CAR_T, "CN", at=T0)
    other.approve(by=QA, at=T0)
    with pytest.raises(InvalidInput, match="is for zevor-cel"):
        open_release_record(finished_batch(), other, market="CN", by=QC, at=at(5))


# ------------------------------------------------------------------ results and corrections


def test_results_are_evaluated_as_they_are_entered() -> None:
    record = opened()
    result = record.enter_result("viability", 62, by=QC, at=at(6))
    assert not result.passes
    assert result.current.reason == "viability 62% is below the limit ≥ 70%"
    assert result.current.entered_by_name == "Qc.Chen Printed"


def test_entering_a_second_result_for_a_test_is_refused() -> None:
    record = opened()
    record.enter_result("viability", 80, by=QC, at=at(6))
    refused(
        record,
        NotAllowed,
        "already has a result",
        lambda: record.enter_result("viability", 85, by=QC, at=at(7)),
    )


def test_a_corrected_result_keeps_its_first_value() -> None:
    record = opened()
    record.enter_result("viability", "19.4", by=QC, at=at(6))
    result = record.correct_result(
        "viability", "91.4", reason="transcription error", by=QC2, at=at(7)
    )
    assert result.current.text == "91.4" and result.current.passes
    assert [e.text for e in result.history] == ["19.4"]
    assert result.first.reason == "viability 19.4% is below the limit ≥ 70%"
    assert result.changed_after_first_entry
    assert result.current.correction_reason == "transcription error"


def test_a_correction_needs_a_reason() -> None:
    record = opened()
    record.enter_result("viability", 80, by=QC, at=at(6))
    refused(
        record,
        InvalidInput,
        "reason",
        lambda: record.correct_result("viability", 81, reason="", by=QC, at=at(7)),
    )


# ------------------------------------------------------------------ the disposition table


def test_every_disposition_has_a_label_and_colour() -> None:
    assert set(DISPOSITION_STYLE) == set(Disposition)
    assert Disposition.READY_FOR_RELEASE.label == "Ready for QA release"
    assert all(t.lands(s) in Disposition for t in RELEASE_TRANSITIONS.values() for s in t.sources)


def test_all_passing_results_make_the_batch_ready_for_qa_release() -> None:
    record = opened()
    for code, value in list(PASSING.items())[:-1]:
        record.enter_result(code, value, by=QC, at=at(10))
        assert record.disposition is Disposition.AWAITING_RESULTS
    record.enter_result("potency", PASSING["potency"], by=QC, at=at(10))
    assert record.disposition is Disposition.READY_FOR_RELEASE
    assert record.available_actions() == [ReleaseAction.RELEASE, ReleaseAction.REJECT]


def test_one_result_out_of_specification_makes_the_batch_oos() -> None:
    record = opened()
    record.enter_result("endotoxin", 5, by=QC, at=at(6))
    assert record.disposition is Disposition.OUT_OF_SPECIFICATION
    assert [r.test_code for r in record.out_of_specification()] == ["endotoxin"]


def test_correcting_an_oos_result_to_a_pass_does_not_erase_the_oos() -> None:
    record = with_results(opened(), viability=62)
    record.correct_result("viability", 72, reason="re-read", by=QC, at=at(11))
    assert record.out_of_specification() == []
    assert record.disposition is Disposition.OUT_OF_SPECIFICATION


def test_an_oos_batch_cannot_be_released_before_an_investigation_is_opened() -> None:
    batch = finished_batch()
    record = with_results(opened(batch), viability=62)
    refused(
        record,
        NotAllowed,
        "open an OOS investigation first",
        lambda: record.release(batch, by=QA2, at=at(12)),
    )
    refused(
        record,
        NotAllowed,
        "open an OOS investigation first",
        lambda: record.reject(batch, reason="low viability", by=QA2, at=at(12)),
    )


def test_a_batch_with_missing_results_cannot_be_released() -> None:
    batch = finished_batch()
    record = opened(batch)
    record.enter_result("viability", 80, by=QC, at=at(6))
    refused(
        record,
        NotAllowed,
        "results are missing for CD3\\+ T cells",
        lambda: record.release(batch, by=QA2, at=at(12)),
    )


def test_opening_the_investigation_moves_the_batch_under_investigation() -> None:
    record = under_investigation(finished_batch())
    assert record.disposition is Disposition.UNDER_INVESTIGATION
    assert record.investigation is not None
    assert record.investigation["results"] == ["viability"]


def test_full_release_is_refused_for_an_oos_batch_under_investigation() -> None:
    batch = finished_batch()
    record = under_investigation(batch)
    refused(
        record, NotAllowed, "cannot release now", lambda: record.release(batch, by=QA2, at=at(12))
    )


def test_conditional_release_needs_the_treating_physicians_acknowledgement() -> None:
    batch = finished_batch()
    record = under_investigation(batch)
    refused(
        record,
        NotAllowed,
        "treating physician must acknowledge",
        lambda: record.release_conditionally(
            batch, justification="no alternative therapy", by=QA2, at=at(13)
        ),
    )


def test_only_the_treating_physician_may_acknowledge() -> None:
    record = under_investigation(finished_batch())
    refused(
        record,
        NotAllowed,
        r"only the treating physician \(dr.lam\)",
        lambda: record.acknowledge(OTHER_DOCTOR, treating_physician="dr.lam", at=at(12)),
    )


def test_conditional_release_needs_a_documented_justification() -> None:
    batch = finished_batch()
    record = under_investigation(batch)
    record.acknowledge(DOCTOR, treating_physician="dr.lam", at=at(12))
    refused(
        record,
        InvalidInput,
        "justification",
        lambda: record.release_conditionally(batch, justification=" ", by=QA2, at=at(13)),
    )


def test_results_changed_after_acknowledgement_need_a_new_acknowledgement() -> None:
    batch = finished_batch()
    record = under_investigation(batch)
    record.acknowledge(DOCTOR, treating_physician="dr.lam", at=at(12))
    record.correct_result("viability", 64, reason="recount", by=QC, at=at(12.5))
    refused(
        record,
        NotAllowed,
        "acknowledge them again",
        lambda: record.release_conditionally(
            batch, justification="no alternative therapy", by=QA2, at=at(13)
        ),
    )


def test_conditional_release_with_justification_and_acknowledgement() -> None:
    batch = finished_batch()
    record = under_investigation(batch)
    ack = record.acknowledge(
        DOCTOR, treating_physician="dr.lam", at=at(12), statement="benefit outweighs risk"
    )
    assert ack.meaning is Meaning.ACKNOWLEDGED
    signature = record.release_conditionally(
        batch, justification="no alternative therapy; viability 62%", by=QA2, at=at(13)
    )
    assert signature.meaning is Meaning.RELEASED
    assert record.disposition is Disposition.CONDITIONALLY_RELEASED
    assert batch.status is BatchStatus.CONDITIONALLY_RELEASED


def test_qa_may_reject_an_oos_batch_under_investigation() -> None:
    batch = finished_batch()
    record = under_investigation(batch)
    signature = record.reject(batch, reason="viability 62%; re-collect", by=QA2, at=at(13))
    assert signature.meaning is Meaning.REJECTED
    assert record.disposition is Disposition.REJECTED
    assert batch.status is BatchStatus.REJECTED


# ------------------------------------------------------------------ release


def test_qa_releases_a_batch_that_meets_every_test() -> None:
    batch = finished_batch()
    record = with_results(opened(batch))
    signature = record.release(batch, by=QA2, at=at(12))
    assert record.disposition is Disposition.RELEASED
    assert batch.status is BatchStatus.RELEASED
    assert signature.meaning is Meaning.RELEASED
    assert signature.printed_name == "Qa.Smith Printed"
    assert signature.content_hash == content_hash(
        release_content(batch, record, decision=Disposition.RELEASED)
    )
    assert record.decision_is_intact(batch)


def test_releasing_with_an_open_critical_deviation_is_refused() -> None:
    batch = finished_batch()
    record = with_results(opened(batch))
    batch.raise_deviation("bag leak at fill", Severity.CRITICAL, by=QA, at=at(11))
    refused(
        record,
        NotAllowed,
        "deviation.* are open: B-26-0001-D01 \\(critical",
        lambda: record.release(batch, by=QA2, at=at(12)),
    )
    assert batch.status is BatchStatus.COMPLETED


def test_conditional_release_is_refused_with_an_open_deviation_too() -> None:
    batch = finished_batch()
    record = under_investigation(batch)
    record.acknowledge(DOCTOR, treating_physician="dr.lam", at=at(12))
    batch.raise_deviation("bag leak", Severity.CRITICAL, by=QA, at=at(12))
    refused(
        record,
        NotAllowed,
        "are open",
        lambda: record.release_conditionally(batch, justification="needed", by=QA2, at=at(13)),
    )


def test_whoever_made_the_batch_cannot_release_it() -> None:
    batch = finished_batch()
    record = with_results(opened(batch))
    batch.correct_value(1, 3, reason="recount", by=QA2, at=at(11))
    batch.verify_correction(2, by=QA, at=at(11.5))
    refused(
        record,
        NotAllowed,
        "qa.smith performed, verified or tested",
        lambda: record.release(batch, by=QA2, at=at(12)),
    )


def test_results_are_locked_after_release() -> None:
    batch = finished_batch()
    record = with_results(opened(batch))
    record.release(batch, by=QA2, at=at(12))
    refused(
        record,
        NotAllowed,
        "released: its QC results are locked",
        lambda: record.correct_result("viability", 90, reason="late", by=QC, at=at(13)),
    )


def test_a_batch_record_changed_after_release_no_longer_matches_the_release_signature() -> None:
    batch = finished_batch()
    record = with_results(opened(batch))
    record.release(batch, by=QA2, at=at(12))
    batch.step("fill").entries[0].value = 4.0  # an edit outside veinline
    assert not record.decision_is_intact(batch)


def test_release_record_snapshot_is_json_ready() -> None:
    batch = finished_batch()
    record = with_results(opened(batch))
    record.release(batch, by=QA2, at=at(12))
    snapshot = record.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["decision"]["at"] == "2026-03-02T21:30:00.000000Z"
    assert record.ENTITY_TYPE == "release_record" and record.entity_id == "B-26-0001"


# ------------------------------------------------------------------ certificate of analysis


def _coa_dict(batch: Batch, record: ReleaseRecord, **details: Any) -> dict[str, Any]:
    """The certificate's JSON read model, as the CoA endpoints hand it to the renderer."""
    return certificate_of_analysis(batch, record, **details).to_dict()


def test_coa_shows_every_test_with_spec_result_verdict_and_first_value() -> None:
    batch = finished_batch()
    record = opened(batch)
    with_results(record, viability="19.4")
    record.correct_result("viability", "91.4", reason="transcription error", by=QC2, at=at(11))
    record.open_investigation(reference="OOS-1", summary="typo suspected", by=QC2, at=at(12))
    record.acknowledge(DOCTOR, treating_physician="dr.lam", at=at(13), statement="informed")
    record.release_conditionally(batch, justification="lab error confirmed", by=QA2, at=at(14))
    coa = _coa_dict(batch, record, product_name="equecabtagene autoleucel", expiry=date(2026, 9, 2))
    viability, cd3 = coa["tests"][0], coa["tests"][1]
    assert viability == {
        "name": "Viability",
        "method": "Flow cytometry, 7-AAD",
        "specification": "≥ 70%",
        "result": "91.4",
        "unit": "%",
        "verdict": "pass",
        "changed_after_first_entry": True,
        "first_value": "19.4",
        "correction_reason": "transcription error",
        "corrected_by": "Qc.Patel Printed",
        "corrected_at": "2026-03-02T20:30:00.000000Z",
    }
    assert cd3["changed_after_first_entry"] is False and "first_value" not in cd3
    assert len(coa["tests"]) == len(PASSING)
    sterility = next(t for t in coa["tests"] if t["name"] == "Sterility")
    assert sterility["result"] == "no growth" and "unit" not in sterility
    assert coa["identifiers"] == {
        "coi": COI,
        "din": DIN,
        "din_check": coa["identifiers"]["din_check"],
        "batch_id": "B-26-0001",
        "manufacturing_site": "carsgen-rtp",
        "expiry": "2026-09-02",
    }
    assert coa["disposition"] == {
        "decision": "conditionally_released",
        "justification": "lab error confirmed",
        "physician_acknowledgement": {
            "printed_name": "Dr.Lam Printed",
            "acknowledged_at": "2026-03-02T22:30:00.000000Z",
            "statement": "informed",
        },
    }
    assert [(s["printed_name"], s["meaning"], s["signed"]) for s in coa["signatures"]] == [
        ("Op.Li Printed", "performed", "step 1 (Fill)"),
        ("Dr.Lam Printed", "acknowledged", "acknowledgement of the out-of-specification results"),
        ("Qa.Smith Printed", "released", "QA decision on batch B-26-0001"),
    ]
    assert json.loads(json.dumps(coa)) == coa


def test_coa_of_a_released_batch_carries_the_release_signature() -> None:
    batch = finished_batch()
    record = with_results(opened(batch))
    record.release(batch, by=QA2, at=at(12))
    coa = _coa_dict(batch, record, product_name="eque-cel", expiry="2026-09-02")
    assert coa["disposition"] == {"decision": "released"}
    performed, signature = coa["signatures"]
    assert (performed["meaning"], performed["signed"]) == ("performed", "step 1 (Fill)")
    assert signature["meaning"] == "released"
    assert signature["signed_at"] == "2026-03-02T21:30:00.000000Z"
    assert record.decision is not None
    assert signature["content_hash"] == record.decision.content_hash


def test_no_coa_before_qa_decides() -> None:
    batch = finished_batch()
    record = with_results(opened(batch))
    with pytest.raises(NotAllowed, match="after QA's decision"):
        _coa_dict(batch, record, product_name="eque-cel", expiry="2026-09-02")


def test_coa_content_is_drawn_by_the_coa_renderer() -> None:
    coa_pdf = pytest.importorskip("veinline.adapters.coa_pdf")
    batch = finished_batch()
    record = with_results(opened(batch), viability="19.4")
    record.correct_result("viability", "91.4", reason="transcription error", by=QC2, at=at(11))
    record.open_investigation(reference="OOS-1", summary="typo suspected", by=QC2, at=at(12))
    record.acknowledge(DOCTOR, treating_physician="dr.lam", at=at(13))
    record.release_conditionally(batch, justification="lab error confirmed", by=QA2, at=at(14))
    content = _coa_dict(batch, record, product_name="equecabtagene autoleucel", expiry="2026-09-02")
    pdf = coa_pdf.render_coa(content)
    assert pdf.startswith(b"%PDF")


def test_a_release_record_read_back_from_its_stored_form_keeps_its_results_and_hashes() -> None:
    batch = finished_batch()
    record = under_investigation(batch)
    record.correct_result("viability", 64, reason="recount", by=QC, at=at(12))
    stored = json.loads(json.dumps([r.to_dict() for r in record.results]))
    tests = json.loads(json.dumps([t.to_dict() for t in record.tests]))
    results = [QcResult.from_dict(r) for r in stored]
    assert [r.to_dict() for r in results] == [r.to_dict() for r in record.results]
    assert tuple(ReleaseTest.from_dict(t) for t in tests) == record.tests
    assert results[0].first.value == 62.0 and results[0].changed_after_first_entry


def test_whole_number_limits_hash_the_same_as_their_float_form() -> None:
    typed = ReleaseTest("viability", "Viability", Comparator.AT_LEAST, 70, unit="%")
    assert typed.limit == 70.0 and isinstance(typed.limit, float)
    assert content_hash(typed.to_dict()) == content_hash(
        ReleaseTest.from_dict(typed.to_dict()).to_dict()
    )
