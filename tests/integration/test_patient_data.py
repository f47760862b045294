"""Patient data at rest (docs/security.md, "Patient data at rest"), on SQLite and
PostgreSQL: nothing personal readable in the stored bytes or the ledger without the key,
lookups by the wristband's keyed hash, a ledgered name correction, key rotation, and
database errors that print no patient data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import FixedClock
from veinline.adapters import crypto, database, orm, rekey
from veinline.adapters.seed.cases import EQUE_CEL_HK, Driver
from veinline.bootstrap import App
from veinline.domain.case import Case, CaseState
from veinline.domain.custody import IdentityMismatch
from veinline.domain.errors import InvalidInput, NotAllowed
from veinline.domain.ledger_actions import LedgerAction
from veinline.domain.personal import is_digest
from veinline.entrypoints.views import cases as views
from veinline.services import commands, ledger

NAME = "Zelda Quixote-Marchbanks"
WRISTBAND = "WB-ZQ-77123"
BIRTH = "1964-11-23"
ROUTE = dataclasses.replace(
    EQUE_CEL_HK,
    facts={**{k: v for k, v in EQUE_CEL_HK.facts.items() if k != "age_years"}, "birth_date": BIRTH},
)
SECRETS = (NAME, WRISTBAND, BIRTH)


def _infused_case(app: App, clock: FixedClock) -> Case:
    driver = Driver(app.bus, app.user, clock)
    case = driver.enrol(ROUTE, patient_name=NAME, wristband=WRISTBAND)
    case = driver.advance(case, ROUTE, CaseState.SHIPPED)
    # A wristband held to the scanner at a hand-off: an incident whose scan is personal.
    with pytest.raises(IdentityMismatch):
        driver.do(
            commands.ScanCustody(case.id, "site_receipt", WRISTBAND, site_code=case.treatment_site),
            "coordinator",
        )
    return driver.advance(case, ROUTE, CaseState.INFUSED)


def _stored_bytes(app: App) -> bytes:
    """Everything the database holds, as raw as it is stored: the SQLite files (after a
    checkpoint), or every row of every PostgreSQL table as text."""
    if app.engine.dialect.name == "sqlite":
        database.checkpoint(app.engine)
        path = Path(str(app.engine.url.database))
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    chunks: list[bytes] = []
    with app.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            rows = conn.execute(text(f'SELECT t::text FROM "{table}" t'))
            chunks.extend(row[0].encode() for row in rows)
    return b"\n".join(chunks)


def _ledger_text(app: App) -> bytes:
    with app.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, entity_id, before, after, reason FROM ledger_entries")
        )
        return "\n".join(str(tuple(row)) for row in rows).encode()


def test_no_patient_data_is_readable_in_the_database_or_the_ledger_without_the_key(
    demo_app: App, clock: FixedClock
) -> None:
    case = _infused_case(demo_app, clock)
    stored = _stored_bytes(demo_app)
    ledgered = _ledger_text(demo_app)
    for secret in SECRETS:
        assert secret.encode() not in stored, f"{secret} is stored in clear"
        assert secret.encode() not in ledgered, f"{secret} is in the ledger in clear"
    # With the key, veinline reads it all back, and the ledger still proves it.
    with demo_app.uow() as uow:
        stored_case = uow.cases.get(case.id)
        incidents = uow.incidents.find(case_id=case.id)
        events = uow.custody_events.find(case_id=case.id)
    assert stored_case is not None
    assert (stored_case.patient_name, stored_case.wristband_id) == (NAME, WRISTBAND)
    assert stored_case.patient_facts["birth_date"] == BIRTH
    assert stored_case.infusion is not None and stored_case.infusion.wristband_id == WRISTBAND
    assert [i.scan_data for i in incidents] == [WRISTBAND]
    assert any(e.identifiers.get("wristband_id") == WRISTBAND for e in events)
    assert ledger.verify(demo_app.uow()).ok
    with demo_app.uow() as uow:
        last = uow.ledger.for_entity(case.id, "case")[-1]
    assert last.after is not None and is_digest(last.after["patient_name"])


def test_readers_who_see_identifiers_only_do_not_see_the_bedside_wristband(
    demo_app: App, clock: FixedClock
) -> None:
    case = _infused_case(demo_app, clock)
    operator, coordinator = demo_app.user("operator"), demo_app.user("coordinator")
    with demo_app.uow() as uow:
        hidden = views.case_detail(uow, case.id, operator, now=clock())
        shown = views.case_detail(uow, case.id, coordinator, now=clock())
    assert WRISTBAND not in str(hidden) and NAME not in str(hidden)
    assert any(e["identifiers"].get("wristband_id") == WRISTBAND for e in shown["custody"])
    assert [i["scan_data"] for i in shown["incidents"]] == [WRISTBAND]


def test_a_personal_value_edited_in_the_table_breaks_the_ledger(
    demo_app: App, clock: FixedClock
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, clock)
    first = driver.enrol(ROUTE, patient_name=NAME, wristband=WRISTBAND)
    second = driver.enrol(ROUTE, patient_name="Other Patient", wristband="WB-OTHER-1")
    # Swapping two sealed names behind veinline's back: each still opens (same column),
    # but the digests in the ledger are bound to their record.
    with demo_app.engine.begin() as conn:
        rows: dict[str, str] = dict(conn.execute(text("SELECT id, patient_name FROM cases")).all())
        for a, b in ((first.id, second.id), (second.id, first.id)):
            conn.execute(
                text("UPDATE cases SET patient_name = :v WHERE id = :id"), {"v": rows[b], "id": a}
            )
    report = ledger.verify(demo_app.uow())
    assert not report.ok
    assert "patient_name" in report.breaks[0].message


def test_a_case_is_found_by_its_wristband_through_the_keyed_hash(
    demo_app: App, clock: FixedClock
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, clock)
    case = driver.enrol(ROUTE, patient_name=NAME, wristband=WRISTBAND)
    driver.enrol(ROUTE, patient_name="Other Patient", wristband="WB-OTHER-1")
    with demo_app.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT wristband_hash FROM cases WHERE id = :id"), {"id": case.id}
        ).scalar_one()
    assert len(stored) == 64 and WRISTBAND not in stored
    coordinator, courier = demo_app.user("coordinator"), demo_app.user("courier")
    with demo_app.uow() as uow:
        assert [c.id for c in uow.cases_with_wristband(f" {WRISTBAND} ")] == [case.id]
        assert uow.cases_with_wristband("WB-NOBODY") == []
        seen = views.cases_with_wristband(uow, WRISTBAND, coordinator)
        hidden = views.cases_with_wristband(uow, WRISTBAND, courier)
    assert [c["id"] for c in seen] == [case.id]
    assert hidden == []


def test_a_misspelt_name_is_corrected_with_a_reason_and_both_digests_ledgered(
    demo_app: App, clock: FixedClock
) -> None:
    driver = Driver(demo_app.bus, demo_app.user, clock)
    case = driver.enrol(ROUTE, patient_name="Zelda Quixote-Marchbank", wristband=WRISTBAND)
    with pytest.raises(InvalidInput, match="needs a reason"):
        driver.do(commands.CorrectPatientName(case.id, NAME, " "), "coordinator")
    with pytest.raises(NotAllowed, match="correct patient names"):
        driver.do(commands.CorrectPatientName(case.id, NAME, "typo"), "qa")
    corrected = driver.do(
        commands.CorrectPatientName(case.id, NAME, "misspelt at enrolment"), "coordinator"
    )
    assert corrected.patient_name == NAME
    with demo_app.uow() as uow:
        history = uow.ledger.for_entity(case.id, "case")
    entry = history[-1]
    assert entry.action == LedgerAction.CASE_PATIENT_NAME_CORRECTED
    assert entry.reason == "misspelt at enrolment"
    assert entry.before is not None and entry.after is not None
    old, new = entry.before["patient_name"], entry.after["patient_name"]
    assert is_digest(old) and is_digest(new) and old != new
    # History is added to, not rewritten: the enrolment entry keeps the old digest.
    assert history[0].after is not None and history[0].after["patient_name"] == old
    assert [name for name, _, _ in entry.changes()] == ["patient_name", "version"]
    assert ledger.verify(demo_app.uow()).ok
    assert NAME.encode() not in _ledger_text(demo_app)
    with pytest.raises(InvalidInput, match="has this name already"):
        driver.do(commands.CorrectPatientName(case.id, NAME, "again"), "coordinator")


def test_rotation_reseals_everything_under_the_new_key_once_and_ledgers_it(
    demo_app: App, clock: FixedClock
) -> None:
    case = _infused_case(demo_app, clock)
    first = crypto.keyring_of(demo_app.engine.dialect)
    digest_key = first._digest_key
    new_key = crypto.new_data_key("rotated-2")
    crypto.attach(demo_app.engine, crypto.Keyring(new_key, digest_key, (first.current,)))
    before = rekey.stale(demo_app.engine)
    assert before["cases.patient_name"] >= 1
    system = demo_app.system_user()
    seen: list[tuple[int, int]] = []
    done = rekey.rotate(
        demo_app.engine,
        actor=system,
        clock=demo_app.clock,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert done.total == sum(before.values()) and done.from_keys == (first.current.key_id,)
    assert seen[-1] == (done.total, done.total)
    assert done.entry_seq is not None
    # Only the new key from now on: everything opens, the ledger verifies.
    crypto.attach(demo_app.engine, crypto.Keyring(new_key, digest_key))
    with demo_app.uow() as uow:
        stored = uow.cases.get(case.id)
        entry = uow.ledger.last()
    assert stored is not None and stored.patient_name == NAME
    assert stored.patient_facts["birth_date"] == BIRTH
    assert entry is not None and entry.action == LedgerAction.DATA_KEY_ROTATED
    assert entry.entity_id == "rotated-2" and str(done.total) in entry.reason
    assert set(rekey.stale(demo_app.engine).values()) == {0}
    assert ledger.verify(demo_app.uow()).ok
    # Again: nothing to do, nothing ledgered.
    again = rekey.rotate(demo_app.engine, actor=system, clock=demo_app.clock)
    assert again.entry_seq is None and again.total == 0
    with demo_app.uow() as uow:
        assert uow.ledger.last() == entry
    # The old key alone no longer opens anything.
    crypto.attach(demo_app.engine, first)
    with pytest.raises(crypto.KeyProblem, match="rotated-2"), demo_app.uow() as uow:
        uow.cases.get(case.id)


def test_a_database_error_prints_no_patient_data(demo_app: App) -> None:
    statement = text(
        "INSERT INTO sites (code, name, kind, country, timezone, demo, details, version) "
        "VALUES (:code, :name, 'treatment_centre', 'HK', 'Asia/Hong_Kong', false, '{}', 1)"
    )
    with pytest.raises(IntegrityError) as error, demo_app.engine.begin() as conn:
        conn.execute(statement, {"code": "demo-hk-treatment", "name": NAME})
    assert NAME not in str(error.value)
    assert "hide_parameters=True" in str(error.value)


def test_sealed_columns_are_every_personal_column(demo_app: App) -> None:
    sealed = {f"{t.name}.{c.name}" for t, c in orm.sealed_columns()}
    assert {
        "cases.patient_name",
        "cases.wristband_id",
        "cases.patient_facts",
        "cases.infusion",
        "custody_events.scan_data",
        "custody_events.identifiers",
        "identity_incidents.scan_data",
        "identity_incidents.message",
        "idempotency_keys.response",
        "msc_orders.patient_name",
        "msc_orders.wristband_id",
        "msc_orders.patient_facts",
    } == sealed
