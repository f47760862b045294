"""Personal data: which fields of which records identify a patient, and the digest the
ledger keeps of them instead (docs/security.md, "Patient data at rest").

The database seals these fields (`adapters/crypto.py`); a ledger snapshot holds, for
each, `{"digest": <HMAC-SHA256>}` of the value as recorded, bound to the record and the
field, so the chain still proves what was recorded without holding it. The entry's own
record type and id are the reference to the row that holds the sealed value. The same
function digests a record as it is stored now, so `ledger verify` compares the two.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from veinline.domain.ledger import JsonObject, canonical_json

# Record type → the personal fields of its snapshot; "a.b" is field b inside object a.
PERSONAL: dict[str, tuple[str, ...]] = {
    # name, wristband id (the medical record number), the patient file (date of birth,
    # diagnosis), and the wristband scanned at the bedside
    "case": ("patient_name", "wristband_id", "patient_facts", "infusion.wristband_id"),
    # what was scanned (a wristband at the bedside, or anything held to the scanner)
    "custody_event": ("scan_data", "identifiers.wristband_id"),
    "identity_incident": ("scan_data", "message"),
    # an MSC order names its patient as a case does
    "msc_order": ("patient_name", "wristband_id", "patient_facts"),
}

DIGEST = "digest"

# The keyed digest of some bytes (HMAC-SHA256 under the digest key, as hex).
Mac = Callable[[bytes], str]


def digest_of(mac: Mac, entity_type: str, entity_id: str, name: str, value: object) -> JsonObject:
    """The ledger's stand-in for one personal value: bound to its record and field, so
    equal values in two records do not give equal digests."""
    material = canonical_json([entity_type, entity_id, name, value])
    return {DIGEST: mac(material.encode("utf-8"))}


def is_digest(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {DIGEST} and isinstance(value[DIGEST], str)


def protect(
    entity_type: str, entity_id: str, snapshot: JsonObject | None, mac: Mac
) -> JsonObject | None:
    """The snapshot with each personal field replaced by its digest; a field that holds a
    digest already (a snapshot protected before) is left as it is."""
    fields = PERSONAL.get(entity_type)
    if snapshot is None or not fields:
        return snapshot
    protected: JsonObject = copy.deepcopy(snapshot)
    for path in fields:
        *parents, leaf = path.split(".")
        holder: Any = protected
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or leaf not in holder:
            continue
        value = holder[leaf]
        if value is None or is_digest(value):
            continue
        holder[leaf] = digest_of(mac, entity_type, entity_id, path, value)
    return protected


def personal_fields(entity_type: str) -> tuple[str, ...]:
    return PERSONAL.get(entity_type, ())
