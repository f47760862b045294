"""The certificate of analysis a released or rejected batch is issued with."""

from __future__ import annotations

from datetime import date, datetime

from veinline.domain import isbt128
from veinline.domain.batch import Batch
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.ledger import JsonObject, aware, snapshot_time
from veinline.domain.release import Disposition, ReleaseRecord
from veinline.domain.signature import SignatureRecord


def coa_content(
    batch: Batch,
    record: ReleaseRecord,
    *,
    product_name: str,
    expiry: date | datetime | str,
    manufacturing_site: str | None = None,
) -> JsonObject:
    """The read model a Certificate of Analysis is drawn from (`adapters.coa_pdf.render_coa`).

    Every test with its limit, result, verdict and whether it changed after first entry
    (with the first value and the reason), QA's decision, the physician's acknowledgement
    of a conditional release, and every signature with printed name, date-time and
    meaning and what it signed: the batch record's steps, verifications, corrections and
    deviation closures as well as the decision (11.50; Annex 11 §8.2).
    """
    if batch.id != record.batch_id:
        raise InvalidInput(f"release record {record.batch_id} is not for batch {batch.id}")
    if not record.disposition.final or record.decision is None:
        raise NotAllowed(
            f"batch {batch.id} is {record.disposition.label.lower()}: a certificate of "
            "analysis is issued after QA's decision"
        )
    if not batch.coi or not batch.din:
        raise InvalidInput(f"batch {batch.id} has no chain-of-identity id and DIN to certify")
    tests: list[JsonObject] = []
    for test in record.tests:
        result = record.result(test.code)
        if result is None:
            continue
        row: JsonObject = {
            "name": test.name,
            "specification": test.limit_text,
            "result": result.current.text,
            "verdict": "pass" if result.passes else "fail",
            "changed_after_first_entry": result.changed_after_first_entry,
        }
        if test.method:
            row["method"] = test.method
        if test.numeric and test.unit:
            row["unit"] = test.unit
        if result.changed_after_first_entry:
            row["first_value"] = result.first.text
            row["correction_reason"] = result.current.correction_reason or ""
            row["corrected_by"] = result.current.entered_by_name
            row["corrected_at"] = snapshot_time(result.current.entered_at)
        tests.append(row)
    disposition: JsonObject = {"decision": record.disposition.value}
    if record.justification:
        disposition["justification"] = record.justification
    signatures: list[tuple[str, SignatureRecord]] = [
        *batch.signatures(),
        (f"QA decision on batch {batch.id}", record.decision),
    ]
    if record.disposition is Disposition.CONDITIONALLY_RELEASED:
        ack = record.acknowledgement
        assert ack is not None
        acknowledgement: JsonObject = {
            "printed_name": ack.printed_name,
            "acknowledged_at": snapshot_time(ack.at),
        }
        if record.acknowledgement_statement:
            acknowledgement["statement"] = record.acknowledgement_statement
        disposition["physician_acknowledgement"] = acknowledgement
        signatures.append(("acknowledgement of the out-of-specification results", ack))
    if isinstance(expiry, datetime):
        expiry_text = snapshot_time(aware(expiry, "the expiry"))
    elif isinstance(expiry, date):
        expiry_text = expiry.isoformat()
    else:
        expiry_text = expiry
    return {
        "product": {"code": batch.product_code, "name": product_name},
        "identifiers": {
            "coi": batch.coi,
            "din": batch.din,
            "din_check": isbt128.check_character(batch.din),
            "batch_id": batch.id,
            "manufacturing_site": manufacturing_site or batch.site,
            "expiry": expiry_text,
        },
        "specification": {
            "id": record.specification_id,
            "version": record.specification_number,
            "market": record.market,
        },
        "tests": tests,
        "disposition": disposition,
        "signatures": [
            {
                "printed_name": s.printed_name,
                "username": s.username,
                "meaning": s.meaning.value,
                "signed_at": snapshot_time(s.at),
                "content_hash": s.content_hash,
                "signed": what,
            }
            for what, s in sorted(signatures, key=lambda pair: pair[1].at)
        ],
    }
