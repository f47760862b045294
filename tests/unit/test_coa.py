"""The typed certificate of analysis: built from a release, and its JSON read model round-trips."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest

from tests.unit.test_specification import (
    DIN,
    DOCTOR,
    QA2,
    QC2,
    at,
    finished_batch,
    opened,
    with_results,
)
from veinline.domain.coa import (
    CertificateOfAnalysis,
    CoaResult,
    Correction,
    Decision,
    certificate_of_analysis,
)
from veinline.domain.errors import InvalidInput
from veinline.domain.signature import Meaning


def released() -> CertificateOfAnalysis:
    batch = finished_batch()
    record = with_results(opened(batch))
    record.release(batch, by=QA2, at=at(12))
    return certificate_of_analysis(batch, record, product_name="eque-cel", expiry="2026-09-02")


def conditional() -> CertificateOfAnalysis:
    batch = finished_batch()
    record = with_results(opened(batch), viability="19.4")
    record.correct_result("viability", "91.4", reason="transcription error", by=QC2, at=at(11))
    record.open_investigation(reference="OOS-1", summary="typo suspected", by=QC2, at=at(12))
    record.acknowledge(DOCTOR, treating_physician="dr.lam", at=at(13), statement="informed")
    record.release_conditionally(batch, justification="lab error confirmed", by=QA2, at=at(14))
    return certificate_of_analysis(
        batch, record, product_name="equecabtagene autoleucel", expiry=date(2026, 9, 2)
    )


@pytest.mark.parametrize("build", [released, conditional])
def test_the_read_model_round_trips(build: Callable[[], CertificateOfAnalysis]) -> None:
    coa = build()
    stored = json.loads(json.dumps(coa.to_dict()))
    assert CertificateOfAnalysis.from_dict(stored) == coa
    assert CertificateOfAnalysis.from_dict(stored).to_dict() == stored


def test_a_conditional_release_is_built_from_the_record() -> None:
    coa = conditional()
    assert coa.identifiers.batch_id == "B-26-0001" and coa.identifiers.din == DIN
    assert coa.identifiers.expiry == date(2026, 9, 2)
    assert coa.disposition.decision is Decision.CONDITIONALLY_RELEASED
    assert coa.disposition.justification == "lab error confirmed"
    ack = coa.disposition.acknowledgement
    assert ack is not None and ack.printed_name == "Dr.Lam Printed"
    assert ack.statement == "informed" and ack.at == at(13)
    viability = coa.tests[0]
    assert viability == CoaResult(
        name="Viability",
        specification="≥ 70%",
        result="91.4",
        passed=True,
        method="Flow cytometry, 7-AAD",
        unit="%",
        correction=Correction("19.4", "transcription error", "Qc.Patel Printed", at(11)),
    )
    assert not coa.tests[1].changed_after_first_entry
    assert [s.meaning for s in coa.signatures] == [
        Meaning.PERFORMED,
        Meaning.ACKNOWLEDGED,
        Meaning.RELEASED,
    ]


def test_a_released_certificate_cannot_carry_a_failed_test() -> None:
    coa = released()
    failed = replace(coa.tests[0], passed=False)
    with pytest.raises(InvalidInput, match="decision is released, but Viability failed"):
        replace(coa, tests=(failed, *coa.tests[1:]))


def test_a_certificate_without_an_expiry_date_is_refused() -> None:
    batch = finished_batch()
    record = with_results(opened(batch))
    record.release(batch, by=QA2, at=at(12))
    with pytest.raises(InvalidInput, match=r"identifiers\.expiry 'not recorded'"):
        certificate_of_analysis(batch, record, product_name="eque-cel", expiry="not recorded")
