"""Personal data in ledger snapshots (domain/personal.py): digests bound to the record
and field, everything else as it was."""

from __future__ import annotations

import hashlib
import hmac

from veinline.domain.personal import PERSONAL, digest_of, is_digest, protect


def mac(data: bytes) -> str:
    return hmac.new(b"k", data, hashlib.sha256).hexdigest()


SNAPSHOT = {
    "id": "C1",
    "patient_name": "Zelda",
    "wristband_id": "WB-1",
    "patient_facts": {"birth_date": "1964-11-23"},
    "infusion": {"wristband_id": "WB-1", "bag_din": "A9999"},
    "state": "infused",
}


def test_personal_fields_become_digests_and_the_rest_stays() -> None:
    protected = protect("case", "C1", SNAPSHOT, mac)
    assert protected is not None
    for name in ("patient_name", "wristband_id", "patient_facts"):
        assert is_digest(protected[name])
    assert is_digest(protected["infusion"]["wristband_id"])
    assert protected["infusion"]["bag_din"] == "A9999"
    assert protected["state"] == "infused" and protected["id"] == "C1"
    assert "Zelda" not in str(protected) and "1964" not in str(protected)
    assert SNAPSHOT["patient_name"] == "Zelda"  # the record's own snapshot is untouched


def test_protecting_twice_changes_nothing_and_none_stays_none() -> None:
    once = protect("case", "C1", SNAPSHOT, mac)
    assert protect("case", "C1", once, mac) == once
    assert protect("case", "C1", None, mac) is None
    no_infusion = protect("case", "C1", {**SNAPSHOT, "infusion": {}}, mac)
    assert no_infusion is not None and no_infusion["infusion"] == {}
    assert protect("batch", "B1", {"steps": []}, mac) == {"steps": []}


def test_a_digest_is_bound_to_its_record_and_field() -> None:
    value = "WB-1"
    a = digest_of(mac, "case", "C1", "wristband_id", value)
    assert a == digest_of(mac, "case", "C1", "wristband_id", value)
    assert a != digest_of(mac, "case", "C2", "wristband_id", value)
    assert a != digest_of(mac, "case", "C1", "infusion.wristband_id", value)


def test_every_record_with_a_wristband_or_scan_is_covered() -> None:
    assert {"case", "custody_event", "identity_incident"} <= set(PERSONAL)
